"""Timing points (BPM, offset, meter) from TIMING-stream markers: a least-squares beat grid per
redline section, then "human" BPM rounding that keeps every marker within the leniency."""

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


def _fit_section(times: np.ndarray, offset: float, next_offset: float | None) -> float:
    """Beat length for markers that start at `offset` (a redline): least squares on beat numbers."""
    if len(times) < 2:
        return float(next_offset - offset) if next_offset is not None and next_offset > offset else 500.0
    gaps = np.diff(times)
    guess = float(np.median(gaps[gaps > 0])) if np.any(gaps > 0) else 500.0
    # Number beats gap by gap (a model may skip a marker), so a slightly wrong guess cannot drift.
    beats = np.concatenate([[0.0], np.cumsum(np.maximum(np.round(gaps / guess), 1.0))])
    # Refine: the guess from the median gap is off by the quantisation; fit through the offset.
    mask = beats > 0
    if not mask.any():
        return guess
    mpb = float(np.sum((times[mask] - offset) * beats[mask]) / np.sum(beats[mask] ** 2))
    return _human_round(mpb, times, offset, beats)


def _human_round(mpb: float, times: np.ndarray, offset: float, beats: np.ndarray) -> float:
    """The roundest BPM whose grid still passes within the leniency of every marker."""
    bpm = 60000.0 / mpb
    for precision in BPM_PRECISIONS:
        rounded = round(bpm * precision) / precision
        candidate = 60000.0 / rounded
        predicted = offset + beats * candidate
        if np.all(np.abs(np.floor(predicted) - times) <= TIMING_LENIENCY_MS):
            return candidate
    return mpb


def _meter(kinds: list[EventType]) -> int:
    """Most common number of beats between measure markers (4 when unclear)."""
    measure_beats = [i for i, k in enumerate(kinds) if k in (EventType.MEASURE, EventType.TIMING_POINT)]
    gaps = Counter(b - a for a, b in zip(measure_beats, measure_beats[1:], strict=False) if b > a)
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
        offset = float(times[0])
        next_offset = markers[end][0] if end < len(markers) else None
        mpb = _fit_section(times, offset, next_offset)
        points.append(
            TimingPoint(
                time=offset,
                beat_length=mpb,
                meter=_meter([k for _, k in section]),
                sample_set=template.sample_set,
                sample_index=template.sample_index,
                volume=template.volume,
                uninherited=True,
            )
        )
    return points
