"""Snapping redlines to the song's onsets, on a song rendered from a held-out corpus map: its hits
start exactly at the map's object times, so the map's own timing is the truth."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from osuT5.audio import load_audio, onset_envelope
from osuT5.beatmap import TimingPoint, parse_beatmap_file
from osuT5.inference.beat_alignment import ONSET_LAG_MS, align_redlines


@pytest.fixture(scope="module")
def song(short_song: Path) -> tuple[np.ndarray, TimingPoint, list[float]]:
    """(onset envelope, the map's one redline, its object times)."""
    beatmap = parse_beatmap_file(short_song)
    [redline] = beatmap.uninherited_points
    envelope = onset_envelope(load_audio(short_song.parent / "audio.ogg"))
    return envelope, redline, [h.time for h in beatmap.hit_objects]


def _grid_error(found: TimingPoint, truth: TimingPoint) -> tuple[float, float]:
    """|BPM difference| and the found redline's distance to the nearest true beat, ms."""
    phase = (found.time - truth.time) % truth.ms_per_beat
    return abs(found.bpm - truth.bpm), min(phase, truth.ms_per_beat - phase)


def test_onset_envelope_peaks_where_hits_start(song) -> None:
    envelope, _, times = song
    assert envelope.dtype == np.float32 and envelope.max() == pytest.approx(1.0)
    assert len(envelope) == pytest.approx(20_000, abs=2)  # one value per ms of the 20 s excerpt
    # Each hit: the strongest value within 15 ms lies ONSET_LAG_MS from its start, give or take 2 ms.
    lags = []
    for t in times:
        lo = int(t + ONSET_LAG_MS) - 15
        if lo >= 0 and lo + 31 < len(envelope):
            lags.append(lo + int(np.argmax(envelope[lo : lo + 31])) - t)
    assert len(lags) >= 20
    assert np.median(np.abs(np.array(lags) - ONSET_LAG_MS)) <= 2.0


@pytest.mark.parametrize(
    ("tempo_error", "offset_error_beats"),
    [(0.015, 0.0), (-0.02, 0.0), (0.0, 0.2), (0.01, 0.5)],
    ids=["1.5% fast", "2% slow", "a fifth of a beat late", "half a beat late and 1% fast"],
)
def test_a_near_miss_grid_snaps_to_the_true_one(song, tempo_error: float, offset_error_beats: float) -> None:
    """A model's fit a little off in tempo or phase (even half a beat: beats carry stronger onsets than
    off-beats) comes back to the map's BPM and offset, as mappers round them."""
    envelope, truth, _ = song
    guess = copy.copy(truth)
    guess.beat_length = truth.ms_per_beat * (1 + tempo_error)
    guess.time = max(truth.time, 0.0) + offset_error_beats * truth.ms_per_beat + 7.0
    [found] = align_redlines([guess], envelope)
    d_bpm, d_offset = _grid_error(found, truth)
    print(
        f"guess {guess.bpm:.2f} BPM at {guess.time:.1f} ms -> {found.bpm:.3f} at {found.time:.1f}; truth {truth.bpm:.3f}"
    )
    assert d_bpm <= 0.01
    assert d_offset <= 2.0
    # The redline stays where the model started its section, on the aligned grid line nearest it.
    assert abs(found.time - guess.time) <= found.ms_per_beat / 2 + 1e-6


def test_short_sections_and_later_redlines_keep_their_order(song) -> None:
    """A section too short to judge keeps the model's grid, and every redline stays after the one
    before it."""
    envelope, truth, _ = song
    start = max(truth.time, 0.0)
    short = TimingPoint(start + 3 * truth.ms_per_beat, truth.ms_per_beat * 1.01, uninherited=True)
    rest = TimingPoint(short.time + 4 * truth.ms_per_beat, truth.ms_per_beat * 1.01, uninherited=True)
    first = TimingPoint(start, truth.ms_per_beat, uninherited=True)
    aligned = align_redlines([first, short, rest], envelope)
    assert aligned[1].beat_length == short.beat_length and aligned[1].time == short.time
    assert [p.time for p in aligned] == sorted(p.time for p in aligned)
    assert abs(aligned[2].bpm - truth.bpm) <= 0.01  # the long last section is snapped


def test_audio_without_a_beat_keeps_the_model_grid() -> None:
    """White noise has onsets everywhere and a beat nowhere: no grid stands out, so nothing moves."""
    noise = np.random.default_rng(0).standard_normal(16_000 * 30).astype(np.float32) * 0.3
    guess = TimingPoint(120.0, 60000.0 / 133.0, uninherited=True)
    [found] = align_redlines([guess], onset_envelope(noise))
    assert (found.time, found.beat_length) == (guess.time, guess.beat_length)
