"""Timing from many passes: every pass proposes beat markers; markers that most passes agree on win.

Each pass decodes the song with its windows shifted by a different amount, so a marker that one pass
misplaces at a window edge or skips is outvoted by the others. The markers of all passes go into one
millisecond histogram, smoothed by a narrow Gaussian; its peaks that at least `min_agreement` of the
passes reached are the consensus markers (time: the mean of the votes near the peak; kind: the most
voted). The usual redline fit (`timing_fit`) then runs on the consensus markers.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from osuT5.audio import TOKEN_STEP_MS
from osuT5.beatmap import TimingPoint
from osuT5.events import Event, EventType
from osuT5.inference.timing_fit import timing_markers, timing_points_from_events

SMOOTHING_MS = 4.0
VOTE_RADIUS_MS = 12  # votes within this of a peak count for it
MIN_MARKER_GAP_MS = 60  # 1,000 BPM: closer peaks are one marker


def consensus_markers(passes: list[list[Event]], min_agreement: float = 0.5) -> list[Event]:
    """TIMING events of the markers that at least `min_agreement` of the passes put there."""
    votes = [m for events in passes for m in timing_markers(events)]
    if not votes or not passes:
        return []
    times = np.array([t for t, _ in votes])
    origin = int(times.min()) - 3 * VOTE_RADIUS_MS
    histogram = np.bincount(
        (times - origin).astype(int), minlength=int(times.max()) - origin + 4 * VOTE_RADIUS_MS
    )
    smoothed = gaussian_filter1d(histogram.astype(float), SMOOTHING_MS)
    # A vote's own smoothed peak height: the bar each consensus peak must clear, times the voters.
    one_vote = gaussian_filter1d(
        np.eye(1, 9 * int(SMOOTHING_MS), 4 * int(SMOOTHING_MS))[0], SMOOTHING_MS
    ).max()
    peaks, _ = find_peaks(smoothed, height=min_agreement * len(passes) * one_vote, distance=MIN_MARKER_GAP_MS)
    events: list[Event] = []
    order = np.argsort(times)
    sorted_times = times[order]
    for peak in peaks + origin:
        lo, hi = np.searchsorted(sorted_times, [peak - VOTE_RADIUS_MS, peak + VOTE_RADIUS_MS + 1e-9])
        near = [votes[i] for i in order[lo:hi]]
        time = int(round(float(np.mean([t for t, _ in near]))))
        kind = Counter(k for _, k in near).most_common(1)[0][0]
        events.append(Event(EventType.TIME_SHIFT, time))
        if kind == EventType.TIMING_POINT:
            events.append(Event(EventType.TIME_FINE, time % TOKEN_STEP_MS))
        events.append(Event(kind))
    return events


def merge_redundant_redlines(points: list[TimingPoint], tolerance_ms: float = 2.0) -> list[TimingPoint]:
    """Drop redlines that only restate the previous one: same BPM (within 0.05), same meter and on its
    beat grid. A window edge can make the model start a new redline where the music did not change."""
    kept: list[TimingPoint] = []
    for point in points:
        if kept:
            last = kept[-1]
            same_bpm = abs(60000 / point.ms_per_beat - 60000 / last.ms_per_beat) < 0.05
            beats = (point.time - last.time) / last.ms_per_beat
            on_grid = abs(beats - round(beats)) * last.ms_per_beat <= tolerance_ms
            if same_bpm and on_grid and point.meter == last.meter:
                continue
        kept.append(point)
    return kept


def timing_from_passes(passes: list[list[Event]], template: TimingPoint | None = None) -> list[TimingPoint]:
    """Redlines from one pass (its markers as they are) or many (their consensus)."""
    markers = passes[0] if len(passes) == 1 else consensus_markers(passes)
    return merge_redundant_redlines(timing_points_from_events(markers, template))
