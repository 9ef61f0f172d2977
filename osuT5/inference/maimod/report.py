"""What a MaiMod review returns: suggestions grouped by category, as text for people (times in the
osu! editor's `mm:ss:mmm (combo,numbers)` form, pasteable into osu!) or JSON for tools."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Category keys in the order a report shows them, with their titles.
CATEGORIES: dict[str, str] = {
    "timing": "Timing and offset",
    "rhythm": "Rhythm (snapping)",
    "positions": "Positions",
    "new_combos": "New combos",
    "slider_shapes": "Slider shapes",
    "hitsounds": "Hitsounds",
    "volumes": "Volumes",
    "sv": "Timing points and SV",
}


def editor_time(time_ms: float, selection: tuple[str, ...] = ()) -> str:
    """`01:02:345 (1,2)`: the osu! editor's timestamp, which selects those objects when pasted (combo
    numbers; mania names notes as `time|column`)."""
    ms = max(int(round(time_ms)), 0)
    minutes, rest = divmod(ms, 60_000)
    seconds, millis = divmod(rest, 1000)
    text = f"{minutes:02d}:{seconds:02d}:{millis:03d}"
    if selection:
        text += " (" + ",".join(selection) + ")"
    return text


@dataclass
class Suggestion:
    category: str  # a key of CATEGORIES
    time_ms: int
    score: float  # surprisal relative to the model's uncertainty there; higher is more surprising
    message: str  # what looks wrong, in words
    expected: str  # what the model expected instead, in words
    event: dict[str, Any]  # what it concerns: object kind, its time, the token type and value scored
    selection: tuple[str, ...] = ()  # what the editor selects: combo numbers, or mania `time|column`
    # For a time that the model expected elsewhere: expected minus actual, in ms. Not in the JSON; it
    # lets a redline's offset suggestion take in the beats that its wrong offset moved.
    shift_ms: int | None = None

    @property
    def time_text(self) -> str:
        return editor_time(self.time_ms, self.selection)

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "time_ms": self.time_ms,
            "time_text": self.time_text,
            "score": round(self.score, 2),
            "message": self.message,
            "expected": self.expected,
            "event": dict(self.event),
        }

    def line(self) -> str:
        return f"({self.score:5.1f}) {self.time_text} - {self.message}; {self.expected}"


@dataclass
class MaiModReport:
    beatmap_path: str
    audio_path: str
    suggestions: list[Suggestion] = field(default_factory=list)  # shown ones: time order per category
    candidates: int = 0  # suggestions over the threshold before the per-category cut
    scored_events: int = 0  # tokens the model scored
    unscored_events: int = 0  # tokens that did not fit a window's decoder positions
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def by_category(self) -> dict[str, list[Suggestion]]:
        """Category key -> its suggestions in time order (categories in CATEGORIES order, empty ones left out)."""
        out: dict[str, list[Suggestion]] = {}
        for key in CATEGORIES:
            chosen = sorted((s for s in self.suggestions if s.category == key), key=lambda s: s.time_ms)
            if chosen:
                out[key] = chosen
        return out

    def to_json(self) -> str:
        return json.dumps(
            {
                "beatmap_path": self.beatmap_path,
                "audio_path": self.audio_path,
                "candidates": self.candidates,
                "scored_events": self.scored_events,
                "unscored_events": self.unscored_events,
                "seconds": round(self.seconds, 2),
                "warnings": list(self.warnings),
                "suggestions": [s.to_dict() for s in self.suggestions],
            },
            indent=1,
        )

    def to_text(self) -> str:
        lines = [
            f"MaiMod review of {self.beatmap_path}",
            "score = surprisal / (the model's uncertainty there + 1 bit): above 1 the map disagrees with"
            " the model; the higher, the surer. Times paste into the osu! editor.",
            f"{len(self.suggestions)} suggestions shown ({self.candidates} over the threshold)",
        ]
        for key, suggestions in self.by_category().items():
            lines.append("")
            lines.append(f"{CATEGORIES[key]} ({len(suggestions)})")
            lines += ["  " + s.line() for s in suggestions]
        return "\n".join(lines)
