"""Redline offsets. One timing point's offset moves every beat of its section, so the evidence of the
whole section is pooled, from both passes:

- snapping: in the map pass the model reads each object's time and then its snap divisor (the timing
  is given). Objects a mapper placed on the music land off the ticks of a wrong offset, and the
  model finds their snapping surprising all through the section: the section's mean relative
  surprisal of the objects' snap tokens is the score. The correction shown is the offset shift that
  puts most of the section's objects on a tick.
- beats: in the timing pass the model's time distributions over the section's beat markers give the
  likelihood of the whole section shifted by d ms; a clearly more likely d != 0 is the correction.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

import numpy as np

from osuT5.audio import TOKEN_STEP_MS
from osuT5.beatmap import Beatmap, TimingIndex
from osuT5.events import TIMING_MARKER_EVENTS, ContextType, Event, EventType
from osuT5.inference.maimod.report import Suggestion
from osuT5.inference.maimod.scoring import TokenScore
from osuT5.inference.maimod.suggest import SV_GROUPS, Describer, group_infos

MAX_SHIFT_MS = 60  # offsets searched: -60..60 ms
SHIFTS_MS = np.arange(-MAX_SHIFT_MS, MAX_SHIFT_MS + 1)
SNAP_FIELDS = frozenset({EventType.SNAPPING, EventType.TICK_OFFSET, EventType.TIME_FINE})
MIN_OBJECTS = 4  # fewer objects in a section say nothing about its offset
FIT_DIVISORS = (1, 2, 3, 4, 6, 8)
ON_TICK_MS = 2.0


@dataclass
class SectionEvidence:
    redline_ms: int
    score: float
    shift_ms: int  # the correction: the offset should move this much (0: none found)
    n: int  # objects or beats that agree
    source: str  # "snapping" or "beats"


def _redline_of(redlines: list[int], time_ms: int) -> int:
    return max((r for r in redlines if r <= time_ms), default=redlines[0])


def snapping_evidence(
    beatmap: Beatmap, objects: list[Event], scores: list[TokenScore]
) -> list[SectionEvidence]:
    index = TimingIndex(beatmap.timing_points)
    redlines = [math.floor(p.time + 1e-5) for p in index.redlines]
    if not redlines:
        return []
    infos = group_infos(objects)
    per_group: dict[int, tuple[int, float]] = {}  # group start -> (time, its most surprising snap token)
    for score in scores:
        info = infos[score.index]
        if score.event.type in SNAP_FIELDS and info.kind not in SV_GROUPS and info.time_ms is not None:
            old = per_group.get(info.start, (info.time_ms, 0.0))[1]
            per_group[info.start] = (info.time_ms, max(old, score.relative))
    sections: dict[int, list[tuple[int, float]]] = {}
    for time_ms, relative in per_group.values():
        sections.setdefault(_redline_of(redlines, time_ms), []).append((time_ms, relative))
    out = []
    for redline_ms, members in sections.items():
        if len(members) < MIN_OBJECTS:
            continue
        score = statistics.fmean(r for _, r in members)
        redline = index.redline_at(redline_ms)
        shift = _best_fit_shift(redline.time, redline.ms_per_beat, [t for t, _ in members])
        out.append(SectionEvidence(redline_ms, score, shift, len(members), "snapping"))
    return out


def _best_fit_shift(offset_ms: float, ms_per_beat: float, times: list[int]) -> int:
    """The offset shift (ms) that puts the most objects within 2 ms of a tick; ties go to the smallest."""
    times_arr = np.asarray(times, dtype=float)

    def on_tick(shift: int) -> int:
        on = np.zeros(len(times_arr), dtype=bool)
        for divisor in FIT_DIVISORS:
            step = ms_per_beat / divisor
            phase = (times_arr - offset_ms - shift) % step
            on |= np.minimum(phase, step - phase) <= ON_TICK_MS
        return int(on.sum())

    counts = {int(s): on_tick(int(s)) for s in SHIFTS_MS}
    best = max(counts.values())
    return min((s for s, c in counts.items() if c == best), key=abs)


def beat_evidence(timing: list[Event], scores: list[TokenScore]) -> list[SectionEvidence]:
    infos = group_infos(timing)
    redlines = sorted({info.time_ms for info in infos if info.kind == EventType.TIMING_POINT})
    sections: dict[int, list[TokenScore]] = {}
    for score in scores:
        info = infos[score.index]
        if score.event.type == EventType.TIME_SHIFT and info.kind in TIMING_MARKER_EVENTS and redlines:
            sections.setdefault(_redline_of(redlines, score.event.value), []).append(score)
    out = []
    for redline_ms, beats in sections.items():
        likelihood = np.zeros(len(SHIFTS_MS))
        for beat in beats:
            log_probs = beat.time_log_probs
            steps = (beat.event.value + SHIFTS_MS - beat.window_start_ms) // TOKEN_STEP_MS
            likelihood += log_probs[np.clip(steps, 0, len(log_probs) - 1)]
        best = likelihood.max()
        plateau = SHIFTS_MS[likelihood >= best - 1e-6]
        if 0 in plateau:
            continue
        shift = int(plateau[np.argmin(np.abs(plateau))])
        same_side = plateau[np.sign(plateau) == np.sign(shift)]  # the middle of the best plateau
        # Bits of evidence per beat: noise that happens to favour a shift over many beats stays small.
        score = float(best - likelihood[MAX_SHIFT_MS]) / math.log(2) / len(beats)
        out.append(
            SectionEvidence(redline_ms, score, round(float(np.median(same_side))), len(beats), "beats")
        )
    return out


def offset_suggestions(
    evidence: list[SectionEvidence], beatmap: Beatmap, threshold: float
) -> list[Suggestion]:
    """One suggestion per redline: its strongest evidence over the threshold."""
    describer = Describer(beatmap)
    index = TimingIndex(beatmap.timing_points)
    strongest: dict[int, SectionEvidence] = {}
    for e in evidence:
        if e.score >= threshold and (
            e.redline_ms not in strongest or e.score > strongest[e.redline_ms].score
        ):
            strongest[e.redline_ms] = e
    out = []
    for e in strongest.values():
        redline = index.redline_at(e.redline_ms)
        bpm = f"{redline.bpm:g} BPM " if redline is not None else ""
        if e.source == "snapping":
            message = f"the {bpm}timing point's objects sit off its ticks ({e.n} object times): its offset looks wrong"
            expected = (
                f"expected its offset {describer.beats(e.shift_ms, e.redline_ms)}, where most objects snap"
                if e.shift_ms
                else "expected snapped objects"
            )
        else:
            message = f"the {bpm}timing point's offset does not match the beats it starts"
            expected = f"expected its offset {describer.beats(e.shift_ms, e.redline_ms)} ({e.n} beats agree)"
        out.append(
            Suggestion(
                "timing",
                e.redline_ms,
                e.score,
                message,
                expected,
                {
                    "context": ContextType.TIMING.value,
                    "kind": EventType.TIMING_POINT.value,
                    "time_ms": e.redline_ms,
                    "object_time_ms": e.redline_ms,
                    "token": f"offset ({e.source})",
                    "value": e.shift_ms,
                },
            )
        )
    return out


def fold_moved_beats(suggestions: list[Suggestion], beatmap: Beatmap) -> list[Suggestion]:
    """A wrong redline offset moves every beat of its section, and each beat the model expected
    earlier (or later) becomes a suggestion of its own; many of them would crowd the one that names
    the cause out of the category's top. Beat and measure suggestions of a section whose redline has
    an offset suggestion, off the same way as its correction, are folded into it: it takes their
    highest score and says how many it explains."""
    redline_times = sorted(p.time for p in TimingIndex(beatmap.timing_points).redlines)
    offsets = [s for s in suggestions if s.event.get("token", "").startswith("offset") and s.event["value"]]
    folded: set[int] = set()
    for offset in offsets:
        later = [t for t in redline_times if t > offset.time_ms + 1]
        end_ms = later[0] if later else math.inf
        direction = np.sign(offset.event["value"])
        moved = [
            i
            for i, s in enumerate(suggestions)
            if s.shift_ms is not None
            and s.event["context"] == ContextType.TIMING.value
            and s.event["kind"] in _MARKER_KINDS
            and offset.time_ms <= s.time_ms < end_ms
            and abs(s.shift_ms) > TOKEN_STEP_MS // 2  # not "about the same time"
            and np.sign(s.shift_ms) == direction
        ]
        if not moved:
            continue
        folded.update(moved)
        offset.score = max(offset.score, *(suggestions[i].score for i in moved))
        way = "earlier" if direction < 0 else "later"
        offset.expected += f"; it explains {len(moved)} beats the model expected {way}"
    return [s for i, s in enumerate(suggestions) if i not in folded]


_MARKER_KINDS = frozenset(e.value for e in TIMING_MARKER_EVENTS)
