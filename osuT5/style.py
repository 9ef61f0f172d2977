"""Conditioning: what a user or a beatmap says about the map to make (mode, stars, mapper, year,
descriptors, ...) and the input-only events that carry it, in one fixed order."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from osuT5.beatmap import Beatmap, GameMode, HoldNote, Slider
from osuT5.events import Event, EventType
from osuT5.tokenizer import Tokenizer

# Descriptor tags a model may be conditioned on (osu! user-tag style names). A model's own list is
# saved with its tokenizer; this is the default for new models.
DEFAULT_DESCRIPTORS = (
    "style/clean",
    "style/messy",
    "style/geometric",
    "style/simple",
    "style/complex",
    "style/old-style",
    "style/modern",
    "style/symmetrical",
    "style/flowy",
    "style/linear",
    "style/technical",
    "style/gimmick",
    "skillset/aim",
    "skillset/jumps",
    "skillset/streams",
    "skillset/speed",
    "skillset/reading",
    "skillset/accuracy",
    "skillset/finger control",
    "skillset/stamina",
    "streams/bursts",
    "streams/deathstreams",
    "sliders/slider tech",
    "sliders/high sv",
    "sliders/low sv",
    "meta/hitsounded",
    "meta/storyboard",
    "expression/kiai",
    "expression/calm",
    "expression/intense",
)

# Modes that use each conditioning event (the rest are omitted, never sent as unknown).
_SV_AND_CS_MODES = (GameMode.STD, GameMode.CATCH)
_SCROLL_RATIO_MODES = (GameMode.TAIKO, GameMode.MANIA)


@dataclass(frozen=True)
class Conditions:
    """What the generated map should be like; `None` means unknown (let the model choose)."""

    gamemode: GameMode = GameMode.STD
    difficulty_stars: float | None = None
    mapper: int | None = None  # index into the model's mapper table
    year: int | None = None
    hitsounded: bool | None = None
    song_length_ms: float | None = None
    global_sv: float | None = None  # SliderMultiplier
    circle_size: float | None = None
    keycount: int | None = None
    hold_note_ratio: float | None = None
    scroll_speed_ratio: float | None = None
    descriptors: tuple[str, ...] = ()

    def without(self, *fields: str) -> Conditions:
        """A copy with the named conditions unknown (metadata dropout, CFG negatives)."""
        return replace(self, **{f: () if f == "descriptors" else None for f in fields})


def _ratio_value(ratio: float | None) -> int | None:
    return None if ratio is None else int(min(max(round(ratio * 10), 0), 10))


def condition_events(
    conditions: Conditions, tokenizer: Tokenizer, song_position: float | None
) -> list[Event]:
    """The conditioning events in their fixed order. `song_position` is the window start as a
    fraction of the song (0..1). Unknown descriptors are rejected here, once, for every face."""
    c = conditions
    t = tokenizer
    mode = c.gamemode
    events = [
        t.condition(EventType.GAMEMODE, int(mode)),
        t.condition(
            EventType.DIFFICULTY, None if c.difficulty_stars is None else min(int(c.difficulty_stars * 2), 23)
        ),
        t.condition(EventType.MAPPER, c.mapper),
        t.condition(EventType.YEAR, c.year),
        t.condition(EventType.HITSOUNDED, None if c.hitsounded is None else int(c.hitsounded)),
        t.condition(
            EventType.SONG_LENGTH,
            None if c.song_length_ms is None else min(int(c.song_length_ms // 10_000), 60),
        ),
    ]
    if mode in _SV_AND_CS_MODES:
        events.append(
            t.condition(
                EventType.GLOBAL_SV,
                None if c.global_sv is None else round(min(max(c.global_sv, 0.4), 3.6) * 100),
            )
        )
        events.append(
            t.condition(
                EventType.CIRCLE_SIZE, None if c.circle_size is None else min(int(c.circle_size * 2), 20)
            )
        )
    if mode == GameMode.MANIA:
        events.append(t.condition(EventType.KEYCOUNT, c.keycount))
        events.append(t.condition(EventType.HOLD_NOTE_RATIO, _ratio_value(c.hold_note_ratio)))
    if mode in _SCROLL_RATIO_MODES:
        events.append(t.condition(EventType.SCROLL_SPEED_RATIO, _ratio_value(c.scroll_speed_ratio)))
    if c.descriptors:
        for name in c.descriptors:
            if name not in t.descriptor_index:
                raise ValueError(f"unknown descriptor {name!r}")
            events.append(Event(EventType.DESCRIPTOR, t.descriptor_index[name]))
    else:
        events.append(t.unknown(EventType.DESCRIPTOR))
    position = None if song_position is None else round(min(max(song_position, 0.0), 1.0) * 100)
    events.append(t.condition(EventType.SONG_POSITION, position))
    return events


def conditions_from_beatmap(
    beatmap: Beatmap,
    stars: float | None,
    song_length_ms: float | None,
    mapper: int | None = None,
    year: int | None = None,
    descriptors: tuple[str, ...] = (),
) -> Conditions:
    """Everything a beatmap itself says about its style (stars come from rosu-pp-py)."""
    objects = beatmap.hit_objects
    mode = beatmap.mode
    hold_ratio = scroll_ratio = None
    if objects and mode == GameMode.MANIA:
        hold_ratio = sum(isinstance(o, HoldNote | Slider) for o in objects) / len(objects)
    if objects and mode in _SCROLL_RATIO_MODES:
        inherited = {p.time for p in beatmap.timing_points if not p.uninherited}
        starts = {math.floor(o.time) for o in objects}
        scroll_ratio = min(len(inherited) / max(len(starts), 1), 1.0)
    return Conditions(
        gamemode=mode,
        difficulty_stars=stars,
        mapper=mapper,
        year=year,
        hitsounded=any(o.hitsound & 14 for o in objects),
        song_length_ms=song_length_ms,
        global_sv=beatmap.slider_multiplier,
        circle_size=beatmap.circle_size,
        keycount=beatmap.keycount if mode == GameMode.MANIA else None,
        hold_note_ratio=hold_ratio,
        scroll_speed_ratio=scroll_ratio,
        descriptors=descriptors,
    )
