"""Redline offsets judged against the audio: one timing point's offset moves every beat of its
section, so the evidence of all those beats is pooled. For each section, the model's time
distributions over its beat markers (teacher-forced in the timing pass) give the log-likelihood of
the whole section shifted by d ms; when some d != 0 is clearly more likely than the map's own offset,
the timing point is suggested, with d as the expected correction."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from osuT5.audio import TOKEN_STEP_MS
from osuT5.beatmap import Beatmap, TimingIndex
from osuT5.events import TIMING_MARKER_EVENTS, ContextType, Event, EventType
from osuT5.inference.maimod.report import Suggestion
from osuT5.inference.maimod.scoring import TokenScore
from osuT5.inference.maimod.suggest import Describer, group_infos

MAX_SHIFT_MS = 60  # offsets searched: -60..60 ms
SHIFTS_MS = np.arange(-MAX_SHIFT_MS, MAX_SHIFT_MS + 1)


@dataclass
class SectionOffset:
    redline_ms: int
    shift_ms: int  # the most likely correction (0: the map's own offset is the most likely)
    gain_bits: float  # log2 likelihood ratio of that correction over the map's offset
    n_beats: int

    @property
    def score(self) -> float:
        """Bits per beat of evidence, scaled by the beats' count (more beats, stronger evidence)."""
        return self.gain_bits / math.sqrt(max(self.n_beats, 1))


def section_offsets(events: list[Event], scores: list[TokenScore]) -> list[SectionOffset]:
    infos = group_infos(events)
    redlines = sorted({info.time_ms for info in infos if info.kind == EventType.TIMING_POINT})
    sections: dict[int, list[TokenScore]] = {r: [] for r in redlines}
    for score in scores:
        info = infos[score.index]
        if (
            score.event.type != EventType.TIME_SHIFT
            or info.kind not in TIMING_MARKER_EVENTS
            or score.time_log_probs is None
            or not redlines
        ):
            continue
        owner = max((r for r in redlines if r <= score.event.value), default=redlines[0])
        sections[owner].append(score)
    out = []
    for redline_ms, beats in sections.items():
        if not beats:
            continue
        likelihood = np.zeros(len(SHIFTS_MS))
        for beat in beats:
            log_probs = beat.time_log_probs
            steps = (beat.event.value + SHIFTS_MS - beat.window_start_ms) // TOKEN_STEP_MS
            likelihood += log_probs[np.clip(steps, 0, len(log_probs) - 1)]
        at_zero = likelihood[MAX_SHIFT_MS]
        best = likelihood.max()
        plateau = SHIFTS_MS[likelihood >= best - 1e-6]
        shift = int(plateau[np.argmin(np.abs(plateau))]) if 0 not in plateau else 0
        if shift:  # the middle of the best plateau of the same side
            same_side = plateau[np.sign(plateau) == np.sign(shift)]
            shift = int(round(float(np.median(same_side))))
        out.append(SectionOffset(redline_ms, shift, float(best - at_zero) / math.log(2), len(beats)))
    return out


def offset_suggestions(
    beatmap: Beatmap, events: list[Event], scores: list[TokenScore], threshold: float
) -> list[Suggestion]:
    describer = Describer(beatmap)
    index = TimingIndex(beatmap.timing_points)
    out = []
    for section in section_offsets(events, scores):
        if section.shift_ms == 0 or section.score < threshold:
            continue
        redline = index.redline_at(section.redline_ms)
        bpm = f"{redline.bpm:g} BPM " if redline is not None else ""
        out.append(
            Suggestion(
                "timing",
                section.redline_ms,
                section.score,
                f"the {bpm}timing point's offset does not match the beats it starts",
                f"expected its offset {describer.beats(section.shift_ms, section.redline_ms)}"
                f" ({section.n_beats} beats agree)",
                {
                    "context": ContextType.TIMING.value,
                    "kind": EventType.TIMING_POINT.value,
                    "time_ms": section.redline_ms,
                    "object_time_ms": section.redline_ms,
                    "token": "offset",
                    "value": section.shift_ms,
                },
            )
        )
    return out
