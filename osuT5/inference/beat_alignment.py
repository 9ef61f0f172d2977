"""Snap generated redlines to the song's onsets.

The model's beat markers come in 10 ms steps, with strays, so the beat fit (`timing_fit`) gets the tempo
to within a few percent and the offset to within a step. Over a whole song that is not enough: 0.1 BPM
off at 150 BPM drifts 30 ms a minute. Hits start on beats, so the song's onset envelope pins the grid
down: per redline section, the beat length (within TEMPO_SEARCH of the fit) and phase (within a quarter
beat of it) whose grid lines land on the strongest onsets, searched coarse then fine. The BPM is then
rounded the way mappers round it, as far as the onsets allow. The model still decides the tempo family
(a double or half tempo is out of reach) and where each redline starts.
"""

from __future__ import annotations

import copy

import numpy as np
from scipy.ndimage import gaussian_filter1d

from osuT5.beatmap import TimingPoint
from osuT5.inference.timing_fit import BPM_PRECISIONS

# The onset envelope peaks this long after a hit starts (negative: before, as its 16 ms window reaches
# the attack early). Measured by `benchmarks/onset_lag.py`: median over 40 songs rendered from training-side maps (p10 -3.0, p90 -1.5).
ONSET_LAG_MS = -2.25
TEMPO_SEARCH = 0.025  # +- share of the fitted beat length searched
COARSE_TEMPOS = 201
COARSE_SMOOTHING_MS = 3.0  # a coarse grid drifts a few ms over a song: widen the peaks it must hit
COARSE_PHASE_STEP_MS = 1.0
FINE_TEMPO_SPAN_MS, FINE_TEMPO_STEP_MS = 0.3, 0.005
FINE_PHASE_SPAN_MS, FINE_PHASE_STEP_MS = 4.0, 0.25
# Onsets on the off-beats must be this much stronger than on the model's beats to move the grid half a
# beat: in rendered maps the true beat was 1.2-2.5 times as strong as the half beat.
HALF_BEAT_MARGIN = 1.1
# A rounder BPM is taken while its grid keeps this share of the best grid's onset strength.
ROUNDING_KEEP = 0.97
MIN_BEATS = 8  # sections shorter than this have too few onsets to move the model's grid
# The aligned grid's onsets must be this many times the section's mean onset strength, or there is no
# beat to align to (noise, ambient music) and the model's grid stays. `benchmarks/alignment.py`: true
# grids of the held-out renders score 2.45-4.95; the strongest grid found in white noise 1.13.
MIN_ONSET_CONTRAST = 1.5


def beat_comb(
    envelope: np.ndarray, offsets: np.ndarray, beat_lengths: np.ndarray, start_ms: float, end_ms: float
) -> np.ndarray:
    """Mean onset strength on the grid lines in [start_ms, end_ms) of every (beat length, offset):
    shape (len(beat_lengths), len(offsets))."""
    end_ms = min(end_ms, len(envelope) - 1.0)
    scores = np.zeros((len(beat_lengths), len(offsets)))
    for i, length in enumerate(beat_lengths):
        first = np.ceil((start_ms - offsets.max()) / length)
        beats = np.arange(first, np.floor((end_ms - offsets.min()) / length) + 1)
        times = offsets[:, None] + beats[None, :] * length + ONSET_LAG_MS
        inside = (times >= start_ms) & (times < end_ms)
        # Linear interpolation between the 1 ms values (np.interp searches; the grid is regular).
        times = np.clip(times, 0.0, len(envelope) - 1.001)
        index = times.astype(np.int64)
        frac = times - index
        values = (envelope[index] * (1.0 - frac) + envelope[index + 1] * frac) * inside
        scores[i] = values.sum(axis=1) / np.maximum(inside.sum(axis=1), 1)
    return scores


def _best_grid(
    envelope: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, start: float, end: float
) -> tuple[float, float, float]:
    """(score, offset, beat length) of the strongest grid among offsets x lengths."""
    scores = beat_comb(envelope, offsets, lengths, start, end)
    i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return float(scores[i, j]), float(offsets[j]), float(lengths[i])


def _coarse(envelope: np.ndarray, offset: float, mpb: float, start: float, end: float) -> tuple[float, float]:
    """The best (offset, beat length) near the fit; the half-beat-shifted phase wins only by a margin."""
    smooth = gaussian_filter1d(envelope, COARSE_SMOOTHING_MS)
    lengths = mpb * (1.0 + np.linspace(-TEMPO_SEARCH, TEMPO_SEARCH, COARSE_TEMPOS))
    near = offset + np.arange(-mpb / 4, mpb / 4, COARSE_PHASE_STEP_MS)
    own_score, own_offset, own_length = _best_grid(smooth, near, lengths, start, end)
    half_score, half_offset, half_length = _best_grid(smooth, near + mpb / 2, lengths, start, end)
    if half_score > HALF_BEAT_MARGIN * own_score:
        return half_offset, half_length
    return own_offset, own_length


def _fine(
    envelope: np.ndarray, offset: float, mpb: float, start: float, end: float
) -> tuple[float, float, float]:
    lengths = mpb + np.arange(-FINE_TEMPO_SPAN_MS, FINE_TEMPO_SPAN_MS, FINE_TEMPO_STEP_MS)
    offsets = offset + np.arange(-FINE_PHASE_SPAN_MS, FINE_PHASE_SPAN_MS, FINE_PHASE_STEP_MS)
    return _best_grid(envelope, offsets, lengths, start, end)


def _rounded(
    envelope: np.ndarray, offset: float, mpb: float, best: float, start: float, end: float
) -> tuple[float, float]:
    """The roundest BPM (10, 5, 1, 0.5, ... as in `timing_fit`) whose best-phased grid keeps
    ROUNDING_KEEP of the onset strength; the exact fit when none does."""
    offsets = offset + np.arange(-FINE_PHASE_SPAN_MS, FINE_PHASE_SPAN_MS, FINE_PHASE_STEP_MS)
    for precision in BPM_PRECISIONS:
        length = 60000.0 / (round(60000.0 / mpb * precision) / precision)
        if abs(length - mpb) > FINE_TEMPO_SPAN_MS:
            continue
        scores = beat_comb(envelope, offsets, np.array([length]), start, end)[0]
        if scores.max() >= ROUNDING_KEEP * best:
            return float(offsets[int(np.argmax(scores))]), length
    return offset, mpb


def best_grid_near(
    envelope: np.ndarray, offset: float, mpb: float, start_ms: float, end_ms: float
) -> tuple[float, float, float]:
    """(mean onset strength on its lines, offset, beat length) of the strongest grid near (offset, mpb)
    in [start_ms, end_ms), before BPM rounding."""
    coarse_offset, coarse_mpb = _coarse(envelope, offset, mpb, start_ms, end_ms)
    return _fine(envelope, coarse_offset, coarse_mpb, start_ms, end_ms)


def align_section(
    envelope: np.ndarray, offset: float, mpb: float, start_ms: float, end_ms: float
) -> tuple[float, float]:
    """(offset, beat length) of the grid near (offset, mpb) that best fits the onsets in
    [start_ms, end_ms); the given grid when the section holds fewer than MIN_BEATS beats or its onsets
    show no beat (MIN_ONSET_CONTRAST)."""
    if mpb <= 0 or (end_ms - start_ms) / mpb < MIN_BEATS:
        return offset, mpb
    score, fine_offset, fine_mpb = best_grid_near(envelope, offset, mpb, start_ms, end_ms)
    section = envelope[max(int(start_ms), 0) : max(int(end_ms), 0)]
    if not len(section) or score <= MIN_ONSET_CONTRAST * float(section.mean()):
        return offset, mpb
    return _rounded(envelope, fine_offset, fine_mpb, score, start_ms, end_ms)


def align_redlines(points: list[TimingPoint], envelope: np.ndarray) -> list[TimingPoint]:
    """Copies of the redlines, each section's grid snapped to the onsets (`envelope`: 1 ms steps). A
    redline keeps its place: it moves onto the aligned grid line nearest to it, after the previous one."""
    aligned: list[TimingPoint] = []
    for n, point in enumerate(points):
        end = points[n + 1].time if n + 1 < len(points) else float(len(envelope))
        offset, mpb = align_section(envelope, point.time, point.ms_per_beat, point.time, end)
        offset += np.round((point.time - offset) / mpb) * mpb
        if aligned and offset <= aligned[-1].time:
            offset += np.ceil((aligned[-1].time - offset + 1.0) / mpb) * mpb
        new = copy.copy(point)
        new.time, new.beat_length = float(offset), float(mpb)
        aligned.append(new)
    return aligned
