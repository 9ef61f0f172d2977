"""Timing points (BPM, offset, meter) from TIMING-stream markers: per redline section, the beat
period that best explains the gaps between markers, a least-squares grid through the markers on it
(a model's extra half-beat or stray markers are left out), then "human" BPM rounding that keeps every
marker on the grid within the leniency."""

from __future__ import annotations

from collections import Counter

import numpy as np

from osuT5.beatmap import TimingPoint
from osuT5.events import Event, EventType, split_groups

# Decoded marker times are the centres of 10 ms steps: up to 5 ms from the truth, plus the
# beat-time flooring of the writer.
TIMING_LENIENCY_MS = 6.5
# BPM grids tried in order (multiples of 10, 5, 1, 1/2, ...): mappers pick round BPMs, and
# the roundest BPM that fits every marker is the most likely one.
BPM_PRECISIONS = (0.1, 0.2, 1.0, 2.0, 10.0, 100.0, 1000.0)


def timing_markers(events: list[Event]) -> list[tuple[float, EventType]]:
    """(time ms, BEAT / MEASURE / TIMING_POINT) for each timing marker group, time-sorted."""
    markers = []
    for group in split_groups(events):
        kind = group[-1].type
        if kind not in (EventType.BEAT, EventType.MEASURE, EventType.TIMING_POINT):
            continue
        time = None
        for event in group:
            if event.type == EventType.TIME_SHIFT:
                time = float(event.value)
            elif event.type == EventType.TIME_FINE and time is not None:
                time = time // 10 * 10 + event.value  # an exact redline offset
        if time is not None:
            markers.append((time, kind))
    markers.sort(key=lambda m: m[0])
    return markers


# The beat search: periods of 60-320 BPM in 0.25 ms steps. A gap between markers fits a period when
# it is a whole number of beats within the tolerance (10 ms time steps plus the model's own error).
MIN_BPM, MAX_BPM = 60.0, 320.0
PERIOD_STEP_MS = 0.25
GAP_TOLERANCE_MS = 12.0
# What a grid line with no marker costs, in fitting gaps: 2 keeps the true period ahead of its half
# while fewer than half of the beats carry an extra half-beat marker.
EMPTY_LINE_COST = 2.0


def _beat_period(gaps: np.ndarray) -> float:
    """The beat length that makes most gaps whole numbers of beats while implying few beats with no
    marker. A model that also marks some half beats makes the half period fit every gap; it then
    implies an empty line in every full-beat gap, each costing EMPTY_LINE_COST fitting gaps, so the
    true period wins. A double period fits only every other gap."""
    periods = np.arange(60000.0 / MAX_BPM, 60000.0 / MIN_BPM, PERIOD_STEP_MS)
    beats = np.round(gaps[None, :] / periods[:, None])
    fits = (beats >= 1) & (np.abs(gaps[None, :] - beats * periods[:, None]) <= GAP_TOLERANCE_MS)
    empty_lines = np.maximum(beats - 1, 0).sum(axis=1)  # grid lines inside gaps, with no marker
    score = fits.sum(axis=1) - EMPTY_LINE_COST * empty_lines
    return float(periods[int(np.argmax(score))])


def _inlier_beats(times: np.ndarray, period: float) -> tuple[np.ndarray, np.ndarray]:
    """(indices, beat numbers) of the markers on one grid of `period`, numbered from the first
    marker that starts a fitting gap; markers off that grid (half beats, strays) are left out."""
    gaps = np.diff(times)
    k = np.round(gaps / period)
    fitting = (k >= 1) & (np.abs(gaps - k * period) <= GAP_TOLERANCE_MS)
    anchor = int(np.argmax(fitting)) if fitting.any() else 0
    indices, numbers = [anchor], [0.0]
    for j in range(anchor + 1, len(times)):
        elapsed = times[j] - times[indices[-1]]
        n = round(elapsed / period)
        if n >= 1 and abs(elapsed - n * period) <= GAP_TOLERANCE_MS:
            indices.append(j)
            numbers.append(numbers[-1] + n)
    return np.array(indices), np.array(numbers)


REFIT_ROUNDS = 3


def _refit_on_grid(
    times: np.ndarray, offset: float, mpb: float
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Least squares again on every marker within the tolerance of the fitted grid, a few rounds: the
    gap-by-gap numbering can drop good markers after a stray, and the whole song's grid takes them
    back."""
    indices = np.arange(len(times))
    for _ in range(REFIT_ROUNDS):
        numbers = np.round((times - offset) / mpb)
        on = np.abs(times - offset - numbers * mpb) <= GAP_TOLERANCE_MS
        if on.sum() < 2:
            break
        indices = np.flatnonzero(on)
        slope, start = np.polyfit(numbers[on], times[on], 1)
        offset, mpb = float(start), float(slope)
    # The redline goes on the grid line nearest the section's first marker, even when that marker is
    # off the grid: the section starts where the model started it.
    offset = float(offset + np.round((times[0] - offset) / mpb) * mpb)
    return offset, float(mpb), indices, np.round((times[indices] - offset) / mpb)


def _fit_section(
    times: np.ndarray, exact_start: bool, next_offset: float | None
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """(offset, ms per beat, inlier indices, their beat numbers) for one redline section's markers.
    `exact_start`: the first marker is a TIMING_POINT with its exact ms; the grid then goes through it
    when it is on the grid. Otherwise the offset is fitted too, from every marker on the grid."""
    if len(times) < 3:
        fallback = next_offset - times[0] if next_offset is not None and next_offset > times[0] else 500.0
        return float(times[0]), float(fallback), np.arange(len(times)), np.arange(len(times), dtype=float)
    period = _beat_period(np.diff(times))
    indices, numbers = _inlier_beats(times, period)
    on_grid = times[indices]
    if exact_start and indices[0] == 0:
        offset = float(times[0])
        mask = numbers > 0
        mpb = float(np.sum((on_grid[mask] - offset) * numbers[mask]) / np.sum(numbers[mask] ** 2))
    elif len(indices) >= 2:
        offset, mpb, indices, numbers = _refit_on_grid(times, *np.polyfit(numbers, on_grid, 1)[::-1])
        on_grid = times[indices]
    else:
        offset, mpb = float(on_grid[0]), period
    mpb = _human_round(mpb, on_grid, offset, numbers)
    return offset, mpb, indices, numbers


def _human_round(mpb: float, times: np.ndarray, offset: float, beats: np.ndarray) -> float:
    """The roundest BPM whose grid still passes every marker within the leniency, or within 1 ms of
    the fitted grid's own worst miss: a model's markers stray further than a written map's."""
    fitted_miss = float(np.max(np.abs(offset + beats * mpb - times))) if len(times) else 0.0
    leniency = max(TIMING_LENIENCY_MS, fitted_miss + 1.0)
    bpm = 60000.0 / mpb
    for precision in BPM_PRECISIONS:
        rounded = round(bpm * precision) / precision
        candidate = 60000.0 / rounded
        predicted = offset + beats * candidate
        if np.all(np.abs(np.floor(predicted) - times) <= leniency):
            return candidate
    return mpb


def _meter(kinds: list[EventType], beat_numbers: np.ndarray) -> int:
    """Most common number of beats between measure markers on the grid (4 when unclear)."""
    measure_beats = [
        b
        for k, b in zip(kinds, beat_numbers, strict=True)
        if k in (EventType.MEASURE, EventType.TIMING_POINT)
    ]
    gaps = Counter(int(round(b - a)) for a, b in zip(measure_beats, measure_beats[1:], strict=False) if b > a)
    return gaps.most_common(1)[0][0] if gaps else 4


def timing_points_from_events(events: list[Event], template: TimingPoint | None = None) -> list[TimingPoint]:
    """Redlines described by the TIMING markers in `events` (the first marker starts a redline if
    no TIMING_POINT marker does). Sample set and volume come from `template`."""
    markers = timing_markers(events)
    if not markers:
        return []
    starts = [i for i, (_, kind) in enumerate(markers) if kind == EventType.TIMING_POINT] or [0]
    if starts[0] != 0:
        starts.insert(0, 0)
    template = template or TimingPoint(0.0, 500.0)
    points = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(markers)
        section = markers[start:end]
        times = np.array([t for t, _ in section], dtype=float)
        kinds = [k for _, k in section]
        next_offset = markers[end][0] if end < len(markers) else None
        offset, mpb, on_grid, numbers = _fit_section(times, kinds[0] == EventType.TIMING_POINT, next_offset)
        # A fitted offset may fall a little before the section's first marker; the redline stays
        # after the previous one.
        if points and offset <= points[-1].time:
            offset = float(times[0])
        points.append(
            TimingPoint(
                time=offset,
                beat_length=mpb,
                meter=_meter([kinds[i] for i in on_grid], numbers),
                sample_set=template.sample_set,
                sample_index=template.sample_index,
                volume=template.volume,
                uninherited=True,
            )
        )
    return points
