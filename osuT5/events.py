"""Beatmap events: the (type, value) vocabulary the model reads and writes, and how events group.

A beatmap becomes a flat, time-sorted list of `Event`s. Events come in *groups* that describe one
timed thing and end with a type event (`CIRCLE`, `SLIDER_HEAD`, `BEAT`, ...):

    [TIME_SHIFT SNAPPING [TICK_OFFSET | TIME_FINE]] [POS [POS_REFINE] | MANIA_COLUMN] [NEW_COMBO] [SCROLL_SPEED]
    [HITSOUND VOLUME]* TYPE

`SNAPPING` names the beat divisor whose tick the time sits on, and the rare `TICK_OFFSET` the
milliseconds between the object and that tick rounded down (mappers' off-by-one placements), so
snapped times decode exactly. An unsnapped time (divisor 0) carries `TIME_FINE`, its millisecond
inside the 10 ms step. BEAT and MEASURE markers carry a bare `TIME_SHIFT`; a TIMING_POINT marker adds
`TIME_FINE` so redline offsets decode to the millisecond. In an event list, `TIME_SHIFT` holds absolute milliseconds; the tokenizer turns it into 10 ms steps
relative to a window start. Slider anchors carry a position but no time.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from enum import Enum


class EventType(Enum):
    # Output events (the decoder predicts these).
    TIME_SHIFT = "t"
    SNAPPING = "snap"
    TICK_OFFSET = "tick_offset"
    TIME_FINE = "time_fine"
    POS = "pos"
    POS_REFINE = "pos_refine"
    MANIA_COLUMN = "column"
    SCROLL_SPEED = "scroll_speed"
    NEW_COMBO = "new_combo"
    HITSOUND = "hitsound"
    VOLUME = "volume"
    CIRCLE = "circle"
    SPINNER = "spinner"
    SPINNER_END = "spinner_end"
    SLIDER_HEAD = "slider_head"
    BEZIER_ANCHOR = "bezier_anchor"
    PERFECT_ANCHOR = "perfect_anchor"
    CATMULL_ANCHOR = "catmull_anchor"
    RED_ANCHOR = "red_anchor"
    LAST_ANCHOR = "last_anchor"
    SLIDER_END = "slider_end"
    BEAT = "beat"
    MEASURE = "measure"
    TIMING_POINT = "timing_point"
    KIAI = "kiai"
    HOLD_NOTE = "hold_note"
    HOLD_NOTE_END = "hold_note_end"
    SCROLL_SPEED_CHANGE = "scroll_speed_change"
    DRUMROLL = "drumroll"
    DRUMROLL_END = "drumroll_end"
    DENDEN = "denden"
    DENDEN_END = "denden_end"
    # Input-only conditioning events (never predicted).
    GAMEMODE = "gamemode"
    DIFFICULTY = "difficulty"
    MAPPER = "mapper"
    YEAR = "year"
    HITSOUNDED = "hitsounded"
    SONG_LENGTH = "song_length"
    SONG_POSITION = "song_position"
    GLOBAL_SV = "global_sv"
    CIRCLE_SIZE = "cs"
    KEYCOUNT = "keycount"
    HOLD_NOTE_RATIO = "hold_note_ratio"
    SCROLL_SPEED_RATIO = "scroll_speed_ratio"
    DESCRIPTOR = "descriptor"


@dataclass(frozen=True, slots=True)
class Event:
    type: EventType
    value: int = 0

    def __repr__(self) -> str:
        return f"{self.type.value}{self.value}"


class ContextType(Enum):
    """Blocks of events a sequence can hold: generated ("out") or given as input ("in")."""

    TIMING = "timing"
    MAP = "map"
    KIAI = "kiai"
    NO_HS = "no_hs"
    GD = "gd"


# Valueless events that end a group, in vocabulary order.
OBJECT_TYPE_EVENTS = (
    EventType.CIRCLE,
    EventType.SPINNER,
    EventType.SPINNER_END,
    EventType.SLIDER_HEAD,
    EventType.BEZIER_ANCHOR,
    EventType.PERFECT_ANCHOR,
    EventType.CATMULL_ANCHOR,
    EventType.RED_ANCHOR,
    EventType.LAST_ANCHOR,
    EventType.SLIDER_END,
    EventType.BEAT,
    EventType.MEASURE,
    EventType.TIMING_POINT,
    EventType.HOLD_NOTE,
    EventType.HOLD_NOTE_END,
    EventType.SCROLL_SPEED_CHANGE,
    EventType.DRUMROLL,
    EventType.DRUMROLL_END,
    EventType.DENDEN,
    EventType.DENDEN_END,
)
# Every group ends with exactly one of these (KIAI carries its on/off value).
TYPE_EVENTS = frozenset(OBJECT_TYPE_EVENTS) | {EventType.KIAI}
ANCHOR_EVENTS = frozenset(
    {
        EventType.BEZIER_ANCHOR,
        EventType.PERFECT_ANCHOR,
        EventType.CATMULL_ANCHOR,
        EventType.RED_ANCHOR,
    }
)
TIMING_MARKER_EVENTS = frozenset({EventType.BEAT, EventType.MEASURE, EventType.TIMING_POINT})

# Position grid: 32 px cells over a padded playfield, refined by 2 px steps inside a cell.
POS_CELL_PX = 32
POS_REFINE_PX = 2
POS_X_MIN, POS_X_MAX = -256, 768
POS_Y_MIN, POS_Y_MAX = -256, 640
POS_NX = (POS_X_MAX - POS_X_MIN) // POS_CELL_PX + 1
POS_NY = (POS_Y_MAX - POS_Y_MIN) // POS_CELL_PX + 1
REFINE_N = POS_CELL_PX // POS_REFINE_PX
PLAYFIELD_WIDTH, PLAYFIELD_HEIGHT = 512, 384
MAX_KEYCOUNT = 18
MAX_SNAP_DIVISOR = 16
MAX_TICK_OFFSET_MS = 3
# Hitsound value = whistle/finish/clap bits // 2 + 8 * (normal set - 1) + 24 * (addition set - 1).
N_HITSOUND_VALUES = 72


def encode_position(x: float, y: float) -> tuple[int, int]:
    """(POS, POS_REFINE) values for a playfield position. Uses floor for both parts, so negative
    coordinates quantise consistently (the reference truncated toward zero there)."""
    xs = min(max(x, POS_X_MIN), POS_X_MAX + POS_CELL_PX - 1) - POS_X_MIN
    ys = min(max(y, POS_Y_MIN), POS_Y_MAX + POS_CELL_PX - 1) - POS_Y_MIN
    xi, yi = min(int(xs // POS_CELL_PX), POS_NX - 1), min(int(ys // POS_CELL_PX), POS_NY - 1)
    rx = min(int((xs - xi * POS_CELL_PX) // POS_REFINE_PX), REFINE_N - 1)
    ry = min(int((ys - yi * POS_CELL_PX) // POS_REFINE_PX), REFINE_N - 1)
    return xi + yi * POS_NX, rx + ry * REFINE_N


def decode_position(pos: int, refine: int | None) -> tuple[int, int]:
    """Playfield position of a (POS, POS_REFINE) pair: the centre of the 2 px cell (error <= 1 px),
    except on the playfield's right and bottom edges, which stay exact so objects stay inside;
    the 32 px cell centre when no refinement is given."""
    xi, yi = pos % POS_NX, pos // POS_NX
    if refine is None:
        return (
            xi * POS_CELL_PX + POS_X_MIN + POS_CELL_PX // 2,
            yi * POS_CELL_PX + POS_Y_MIN + POS_CELL_PX // 2,
        )
    x = xi * POS_CELL_PX + POS_X_MIN + (refine % REFINE_N) * POS_REFINE_PX
    y = yi * POS_CELL_PX + POS_Y_MIN + (refine // REFINE_N) * POS_REFINE_PX
    half = POS_REFINE_PX // 2
    return (x if x == PLAYFIELD_WIDTH else x + half), (y if y == PLAYFIELD_HEIGHT else y + half)


def encode_hitsound(bits: int, normal_set: int, addition_set: int) -> int:
    normal_set = normal_set if 1 <= normal_set <= 3 else 1
    addition_set = addition_set if 1 <= addition_set <= 3 else normal_set
    return (bits & 14) // 2 + 8 * (normal_set - 1) + 24 * (addition_set - 1)


def decode_hitsound(value: int) -> tuple[int, int, int]:
    """(hitsound bits, normal set, addition set) of a HITSOUND value."""
    return (value % 8) * 2, (value // 8) % 3 + 1, (value // 24) % 3 + 1


def group_time_ms(events: list[Event]) -> list[int | None]:
    """For each event, the time of the group it belongs to (the most recent TIME_SHIFT)."""
    times: list[int | None] = []
    current: int | None = None
    for event in events:
        if event.type == EventType.TIME_SHIFT:
            current = event.value
        times.append(current)
    return times


def split_groups(events: list[Event]) -> list[list[Event]]:
    """Cut an event list into groups, each ending at its type event (a trailing partial group is kept)."""
    groups: list[list[Event]] = []
    current: list[Event] = []
    for event in events:
        current.append(event)
        if event.type in TYPE_EVENTS:
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    return groups


def slice_events(
    events: list[Event], start_ms: int, end_ms: int, times: list[int | None] | None = None
) -> list[Event]:
    """The events whose group time lies in [start_ms, end_ms); untimed groups (slider anchors)
    travel with the timed group before them. Pass `times` (from `group_time_ms`, events sorted
    by group time) to slice many windows of one list quickly."""
    lo, hi = event_span(events, start_ms, end_ms, times)
    return events[lo:hi]


def event_span(
    events: list[Event], start_ms: int, end_ms: int, times: list[int | None] | None = None
) -> tuple[int, int]:
    """[lo, hi) indices of `slice_events(events, start_ms, end_ms, times)` in `events`."""
    if times is None:
        times = group_time_ms(events)
    keyed = [-(2**62) if t is None else t for t in times]
    return bisect.bisect_left(keyed, start_ms), bisect.bisect_left(keyed, end_ms)
