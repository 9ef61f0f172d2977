"""The .osu/.osz format layer: pure Python and numpy, no torch."""

from .objects import (
    Beatmap,
    Circle,
    GameMode,
    HitObject,
    HitSample,
    HoldNote,
    SampleSet,
    Slider,
    Spinner,
    TimingPoint,
    column_clashes,
    mania_column,
    time_clashes,
)
from .osz import read_osz, write_osz
from .parse import parse_beatmap_bytes, parse_beatmap_file, parse_beatmap_text
from .timing import TimingIndex
from .write import beatmap_to_text, write_beatmap_file

__all__ = [
    "Beatmap",
    "Circle",
    "GameMode",
    "HitObject",
    "HitSample",
    "HoldNote",
    "SampleSet",
    "Slider",
    "Spinner",
    "TimingIndex",
    "column_clashes",
    "time_clashes",
    "mania_column",
    "TimingPoint",
    "beatmap_to_text",
    "parse_beatmap_bytes",
    "parse_beatmap_file",
    "parse_beatmap_text",
    "read_osz",
    "write_beatmap_file",
    "write_osz",
]
