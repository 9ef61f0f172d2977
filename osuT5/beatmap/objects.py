"""The in-memory beatmap: sections, timing points and hit objects as osu! loads them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

# Hit-object type bits of the .osu format.
TYPE_CIRCLE = 1
TYPE_SLIDER = 2
TYPE_NEW_COMBO = 4
TYPE_SPINNER = 8
TYPE_COMBO_SKIP_MASK = 0b0111_0000
TYPE_HOLD_NOTE = 128

# Hitsound bits (the "normal" bit 1 is always played and carries no information).
HITSOUND_WHISTLE = 2
HITSOUND_FINISH = 4
HITSOUND_CLAP = 8

PLAYFIELD_WIDTH = 512
PLAYFIELD_HEIGHT = 384


class GameMode(IntEnum):
    STD = 0
    TAIKO = 1
    CATCH = 2
    MANIA = 3


class SampleSet(IntEnum):
    AUTO = 0
    NORMAL = 1
    SOFT = 2
    DRUM = 3


@dataclass
class HitSample:
    """The `normal:addition:index:volume:filename` field; 0 means "inherit from the timing point"."""

    normal_set: int = 0
    addition_set: int = 0
    index: int = 0
    volume: int = 0
    filename: str = ""


@dataclass
class TimingPoint:
    time: float
    beat_length: float
    meter: int = 4
    sample_set: int = SampleSet.NORMAL
    sample_index: int = 0
    volume: int = 100
    uninherited: bool = True
    effects: int = 0

    @property
    def kiai(self) -> bool:
        return bool(self.effects & 1)

    @property
    def omit_first_barline(self) -> bool:
        return bool(self.effects & 8)

    @property
    def beats_per_measure(self) -> int:
        """The meter as osu! plays it: a zero or negative meter means 4/4."""
        return self.meter if self.meter > 0 else 4

    @property
    def ms_per_beat(self) -> float:
        """Beat length of an uninherited point as osu! uses it (clamped to 6..60000 ms)."""
        return min(60000.0, max(6.0, self.beat_length))

    @property
    def bpm(self) -> float:
        return 60000.0 / self.ms_per_beat

    @property
    def slider_velocity(self) -> float:
        """SV multiplier of an inherited point (1.0 for uninherited ones), clamped as osu! does."""
        if self.uninherited or not self.beat_length < 0:
            return 1.0
        return min(10.0, max(0.1, -100.0 / self.beat_length))


@dataclass
class HitObject:
    x: float
    y: float
    time: float
    new_combo: bool = False
    combo_skip: int = 0
    hitsound: int = 0
    hit_sample: HitSample = field(default_factory=HitSample)

    @property
    def end_time(self) -> float:
        return self.time


@dataclass
class Circle(HitObject):
    pass


@dataclass
class Slider(HitObject):
    """A slider as written: `curve_type|p1|p2...` plus repeats, pixel length and edge hitsounds.

    `point_types[i]` is a curve letter written right before `curve_points[i]` (osu!lazer's
    multi-segment sliders), `None` for plain stable-format points.
    """

    curve_type: str = "B"
    curve_points: list[tuple[float, float]] = field(default_factory=list)
    point_types: list[str | None] = field(default_factory=list)
    slides: int = 1
    length: float = 0.0
    edge_sounds: list[int] = field(default_factory=list)
    edge_sets: list[tuple[int, int]] = field(default_factory=list)
    # Filled by the parser from the timing (the format itself stores no end time).
    span_duration: float = 0.0

    @property
    def end_time(self) -> float:
        return self.time + self.span_duration * self.slides


@dataclass
class Spinner(HitObject):
    spinner_end: float = 0.0

    @property
    def end_time(self) -> float:
        return self.spinner_end


@dataclass
class HoldNote(HitObject):
    hold_end: float = 0.0

    @property
    def end_time(self) -> float:
        return self.hold_end


def mania_column(x: float, keycount: int) -> int:
    """The mania column an object's x falls in (osu!'s rule: the field split into `keycount` strips)."""
    return int(min(max(x * keycount / 512.0, 0), keycount - 1))


def column_clashes(objects: list[HitObject], keycount: int) -> list[bool]:
    """For time-ordered mania `objects`: does each start while its column is still held by an earlier
    object that does not clash itself? (Those are the notes a player could not hit.)"""
    busy_until: dict[int, float] = {}
    clashes = []
    for h in objects:
        column = mania_column(h.x, keycount)
        clash = h.time <= busy_until.get(column, float("-inf"))
        if not clash:
            busy_until[column] = h.end_time if isinstance(h, HoldNote) else h.time
        clashes.append(clash)
    return clashes


# Closer than this, two std / taiko / catch objects are one hit: 1/8 beat at 375 BPM. All but 18 of
# the corpus's 787 maps of those modes keep every object further apart (the rest are gimmick maps).
MIN_OBJECT_GAP_MS = 20.0
# Slider and spinner ends are computed in floating point: an object on the end's tick may read 1 ms early.
END_SLACK_MS = 1.0


def time_clashes(objects: list[HitObject], min_gap_ms: float = MIN_OBJECT_GAP_MS) -> list[bool]:
    """For time-ordered std, taiko or catch `objects`: does each start within `min_gap_ms` of the last
    object that does not clash itself, or while that object (a slider, spinner or drumroll) still runs?
    A player can follow only one object at a time in those modes."""
    clashes = []
    last: HitObject | None = None
    for h in objects:
        clash = last is not None and (
            h.time - last.time < min_gap_ms or h.time < last.end_time - END_SLACK_MS
        )
        if not clash:
            last = h
        clashes.append(clash)
    return clashes


@dataclass
class Beatmap:
    """One difficulty. Key/value sections keep every key (known or not) in file order."""

    format_version: int = 14
    general: dict[str, str] = field(default_factory=dict)
    editor: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    difficulty: dict[str, str] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    timing_points: list[TimingPoint] = field(default_factory=list)
    colours: dict[str, tuple[int, ...]] = field(default_factory=dict)
    hit_objects: list[HitObject] = field(default_factory=list)
    extra_sections: dict[str, list[str]] = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False)
    warnings: list[str] = field(default_factory=list, compare=False, repr=False)

    # -- typed views over the raw sections (osu!'s defaults and clamps) --
    def _float(self, section: dict[str, str], key: str, default: float) -> float:
        try:
            value = float(section[key])
        except (KeyError, ValueError):
            return default
        return value if value == value else default  # NaN -> default

    @property
    def mode(self) -> GameMode:
        try:
            return GameMode(int(self.general.get("Mode", "0")))
        except ValueError:
            return GameMode.STD

    @property
    def audio_filename(self) -> str:
        return self.general.get("AudioFilename", "").strip()

    @property
    def default_sample_set(self) -> int:
        names = {"normal": 1, "soft": 2, "drum": 3}
        return names.get(self.general.get("SampleSet", "Normal").strip().lower(), SampleSet.NORMAL)

    @property
    def stack_leniency(self) -> float:
        return self._float(self.general, "StackLeniency", 0.7)

    @property
    def hp_drain_rate(self) -> float:
        return min(10.0, max(0.0, self._float(self.difficulty, "HPDrainRate", 5.0)))

    @property
    def circle_size(self) -> float:
        return min(
            18.0 if self.mode == GameMode.MANIA else 10.0,
            max(0.0, self._float(self.difficulty, "CircleSize", 5.0)),
        )

    @property
    def overall_difficulty(self) -> float:
        return min(10.0, max(0.0, self._float(self.difficulty, "OverallDifficulty", 5.0)))

    @property
    def approach_rate(self) -> float:
        # Old maps have no ApproachRate: osu! uses the overall difficulty instead.
        return min(10.0, max(0.0, self._float(self.difficulty, "ApproachRate", self.overall_difficulty)))

    @property
    def slider_multiplier(self) -> float:
        return min(3.6, max(0.4, self._float(self.difficulty, "SliderMultiplier", 1.4)))

    @property
    def slider_tick_rate(self) -> float:
        return min(8.0, max(0.5, self._float(self.difficulty, "SliderTickRate", 1.0)))

    @property
    def keycount(self) -> int:
        """Mania column count (the CircleSize field), 1..18."""
        return int(min(18, max(1, round(self.circle_size))))

    @property
    def title(self) -> str:
        return self.metadata.get("Title", "")

    @property
    def artist(self) -> str:
        return self.metadata.get("Artist", "")

    @property
    def creator(self) -> str:
        return self.metadata.get("Creator", "")

    @property
    def version(self) -> str:
        return self.metadata.get("Version", "")

    @property
    def beatmap_id(self) -> int | None:
        try:
            value = int(self.metadata["BeatmapID"])
        except (KeyError, ValueError):
            return None
        return value if value > 0 else None

    @property
    def breaks(self) -> list[tuple[float, float]]:
        out = []
        for line in self.events:
            parts = line.split(",")
            if len(parts) >= 3 and parts[0].strip() in ("2", "Break"):
                try:
                    out.append((float(parts[1]), float(parts[2])))
                except ValueError:
                    continue
        return out

    @property
    def background(self) -> str | None:
        for line in self.events:
            parts = line.split(",")
            if len(parts) >= 3 and parts[0].strip() in ("0", "Background"):
                return parts[2].strip().strip('"')
        return None

    @property
    def uninherited_points(self) -> list[TimingPoint]:
        return [tp for tp in self.timing_points if tp.uninherited]

    def objects_end_time(self) -> float:
        return max((o.end_time for o in self.hit_objects), default=0.0)
