"""Scored events -> suggestions: which category each belongs to, what looks wrong and what the model
expected instead, in words a mapper reads (times as osu! editor timestamps, beats as fractions)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from osuT5.beatmap import Beatmap, GameMode, Spinner, TimingIndex
from osuT5.data.beatmap_events import event_time_ms
from osuT5.events import (
    ANCHOR_EVENTS,
    TYPE_EVENTS,
    ContextType,
    Event,
    EventType,
    decode_hitsound,
    decode_position,
)
from osuT5.inference.maimod.report import Suggestion, editor_time
from osuT5.inference.maimod.scoring import NewComboScore, TokenScore

# Groups that end an object started by an earlier group (they belong to that object).
END_GROUPS = frozenset(
    {EventType.SPINNER_END, EventType.HOLD_NOTE_END, EventType.DRUMROLL_END, EventType.DENDEN_END}
)
# Slider parts after the head.
SHAPE_GROUPS = ANCHOR_EVENTS | {EventType.LAST_ANCHOR, EventType.SLIDER_END}
SV_GROUPS = frozenset({EventType.KIAI, EventType.SCROLL_SPEED_CHANGE})
TIME_FIELDS = frozenset(
    {EventType.TIME_SHIFT, EventType.SNAPPING, EventType.TICK_OFFSET, EventType.TIME_FINE}
)
POSITION_FIELDS = frozenset({EventType.POS, EventType.POS_REFINE, EventType.MANIA_COLUMN})
BEAT_DIVISORS = (1, 2, 3, 4, 6, 8, 12, 16)
# A time difference reads as a beat fraction when it is this close to one (time tokens are 10 ms).
FRACTION_LEEWAY_MS = 6.0
HITSOUND_NAMES = {2: "whistle", 4: "finish", 8: "clap"}
SET_NAMES = {1: "normal", 2: "soft", 3: "drum"}


@dataclass(frozen=True)
class GroupInfo:
    kind: EventType  # the group's type event
    time_ms: int | None  # the group's time (anchors: their slider's)
    owner_ms: int | None  # time of the object the group belongs to (slider parts: the head)
    start: int  # index of the group's first event


def group_infos(events: list[Event]) -> list[GroupInfo]:
    """For each event, the group it belongs to."""
    out: list[GroupInfo] = []
    time_ms = owner_ms = None
    start = 0
    pending: list[int | None] = []
    for i, event in enumerate(events):
        if event.type == EventType.TIME_SHIFT:
            time_ms = event.value
        pending.append(time_ms)
        if event.type in TYPE_EVENTS:
            if event.type not in SHAPE_GROUPS and event.type not in END_GROUPS:
                owner_ms = time_ms
            for t in pending:
                out.append(GroupInfo(event.type, t, owner_ms, start))
            pending, start = [], i + 1
    out += [GroupInfo(EventType.CIRCLE, t, owner_ms, start) for t in pending]  # a cut-off group
    return out


def selection(
    beatmap: Beatmap, events: list[Event], info: GroupInfo, numbers: dict[int, int]
) -> tuple[str, ...]:
    """The editor selection of a suggestion's object: its combo number, or in mania `time|column`."""
    if info.owner_ms is None:
        return ()
    if beatmap.mode == GameMode.MANIA:
        end = next((i for i in range(info.start, len(events)) if events[i].type in TYPE_EVENTS), len(events))
        columns = [e.value for e in events[info.start : end + 1] if e.type == EventType.MANIA_COLUMN]
        return (f"{info.owner_ms}|{columns[0]}",) if columns else ()
    return (str(numbers[info.owner_ms]),) if info.owner_ms in numbers else ()


def combo_numbers(beatmap: Beatmap) -> dict[int, int]:
    """Object start ms -> its number in its combo (std and catch; osu! restarts at new combos and
    around spinners)."""
    if beatmap.mode not in (GameMode.STD, GameMode.CATCH):
        return {}
    out, number, after_spinner = {}, 0, True
    for obj in beatmap.hit_objects:
        if obj.new_combo or after_spinner or isinstance(obj, Spinner):
            number = 0
        number += 1
        after_spinner = isinstance(obj, Spinner)
        out.setdefault(event_time_ms(obj.time), number)
    return out


def category_of(context: ContextType, field: EventType, group: EventType) -> str | None:
    if context == ContextType.TIMING:
        return "timing"
    if field == EventType.HITSOUND:
        return "hitsounds"
    if field == EventType.VOLUME:
        return "volumes"
    if field in (EventType.SCROLL_SPEED, EventType.KIAI) or group in SV_GROUPS:
        return "sv"
    if group in SHAPE_GROUPS and (field in POSITION_FIELDS or field in SHAPE_GROUPS):
        return "slider_shapes"
    if group == EventType.LAST_ANCHOR:  # its time is the slider's length
        return "slider_shapes"
    if field == EventType.POS_REFINE:
        return None  # 2 px inside a 32 px cell: scored with the rest, too fine to suggest on its own
    if field in POSITION_FIELDS:
        return "positions"
    if field in TIME_FIELDS or field in TYPE_EVENTS:
        return "rhythm"
    return None


def kind_category(actual: EventType, expected: EventType) -> str:
    """An object-kind disagreement: slider or circle is a shape choice; other kinds are rhythm."""
    return "slider_shapes" if EventType.SLIDER_HEAD in (actual, expected) else "rhythm"


def group_label(info: GroupInfo) -> str:
    """What a mapper calls the group: slider parts by their role, not their token."""
    if info.kind == EventType.LAST_ANCHOR and info.time_ms != info.owner_ms:
        return "slider body"
    if info.kind in ANCHOR_EVENTS or info.kind == EventType.LAST_ANCHOR:
        return "slider anchor"
    return info.kind.value.replace("_", " ")


class Describer:
    """Words for one beatmap's events."""

    def __init__(self, beatmap: Beatmap):
        self.timing = TimingIndex(beatmap.timing_points)
        self.keycount = beatmap.keycount

    def beats(self, delta_ms: float, at_ms: float) -> str:
        """`1/4 beat later`, `1 beat earlier`, or `23 ms later`."""
        direction = "later" if delta_ms > 0 else "earlier"
        redline = self.timing.redline_at(at_ms)
        if redline is not None and redline.ms_per_beat > 0:
            for divisor in BEAT_DIVISORS:
                ticks = round(abs(delta_ms) / redline.ms_per_beat * divisor)
                if ticks and abs(abs(delta_ms) - ticks * redline.ms_per_beat / divisor) <= FRACTION_LEEWAY_MS:
                    fraction = Fraction(ticks, divisor)
                    unit = "beat" if fraction <= 1 else "beats"
                    return f"{fraction} {unit} {direction}"
        return f"{abs(round(delta_ms))} ms {direction}"

    def value(self, event: Event) -> str:
        t = event.type
        if t == EventType.TIME_SHIFT:
            return f"at {editor_time(event.value)}"
        if t == EventType.SNAPPING:
            return "unsnapped" if event.value == 0 else f"snapped to 1/{event.value}"
        if t == EventType.TICK_OFFSET:
            return f"{event.value:+d} ms off its tick"
        if t == EventType.TIME_FINE:
            return f"{event.value} ms into its 10 ms step"
        if t == EventType.POS:
            x, y = decode_position(event.value, None)
            return f"near x:{x} y:{y}"
        if t == EventType.POS_REFINE:
            return f"at {event.value % 16 * 2}:{event.value // 16 * 2} px inside its 32 px cell"
        if t == EventType.MANIA_COLUMN:
            return f"in column {event.value + 1}"
        if t == EventType.HITSOUND:
            bits, normal, addition = decode_hitsound(event.value)
            sounds = [name for bit, name in HITSOUND_NAMES.items() if bits & bit] or ["no addition"]
            return f"hitsound {'+'.join(sounds)} ({SET_NAMES[normal]}:{SET_NAMES[addition]})"
        if t == EventType.VOLUME:
            return f"volume {event.value} %"
        if t == EventType.SCROLL_SPEED:
            return f"SV x{event.value / 100:.2f}"
        if t == EventType.KIAI:
            return "kiai on" if event.value else "kiai off"
        return "a " + t.value.replace("_", " ")

    def message(self, score: TokenScore, info: GroupInfo) -> tuple[str, str]:
        actual, expected = score.event, score.expected
        kind = group_label(info)
        if actual.type == EventType.TIME_SHIFT:
            delta = expected.value - actual.value
            if info.kind == EventType.LAST_ANCHOR:
                what = f"slider length: one slide ends {editor_time(actual.value)}"
                return (
                    what,
                    f"expected it to end {self.beats(delta, actual.value)} ({editor_time(expected.value)})",
                )
            if abs(delta) <= 5:  # the same 10 ms step: the field was unsure, not wrong
                return f"{kind} {self.value(actual)}", "expected about the same time"
            return (
                f"unexpected {kind} {self.value(actual)}",
                f"expected it {self.beats(delta, actual.value)} ({editor_time(expected.value)})",
            )
        if actual.type in TYPE_EVENTS and actual.type != EventType.KIAI:
            return f"unexpected {kind}", f"expected {self.value(expected)} instead"
        return f"{kind} {self.value(actual)}", f"expected {self.value(expected)}"


def token_suggestions(
    beatmap: Beatmap, events: list[Event], scores: list[TokenScore], threshold: float
) -> list[Suggestion]:
    """One suggestion per (category, object): its most surprising token, if over `threshold`."""
    infos = group_infos(events)
    describer = Describer(beatmap)
    numbers = combo_numbers(beatmap)
    best: dict[tuple[str, int | None], tuple[TokenScore, GroupInfo, str]] = {}
    for score in scores:
        info = infos[score.index]
        category = category_of(score.context, score.event.type, info.kind)
        if category == "rhythm" and score.event.type in TYPE_EVENTS:
            category = kind_category(score.event.type, score.expected.type)
        if category is None or score.relative < threshold:
            continue
        key = (category, info.owner_ms if category == "slider_shapes" else info.start)
        if key not in best or score.relative > best[key][0].relative:
            best[key] = (score, info, category)
    out = []
    for score, info, category in best.values():
        message, expected = describer.message(score, info)
        time_ms = info.owner_ms if info.owner_ms is not None else (info.time_ms or 0)
        shift = None
        if score.event.type == EventType.TIME_SHIFT and score.expected.type == EventType.TIME_SHIFT:
            shift = score.expected.value - score.event.value
        out.append(
            Suggestion(
                category=category,
                time_ms=int(time_ms),
                score=score.relative,
                message=message,
                expected=expected,
                event=_event_dict(score.context, info, score.event),
                selection=selection(beatmap, events, info, numbers),
                shift_ms=shift,
            )
        )
    return out


def new_combo_suggestions(
    beatmap: Beatmap, events: list[Event], scores: list[NewComboScore], threshold: float
) -> list[Suggestion]:
    infos = group_infos(events)
    numbers = combo_numbers(beatmap)
    out = []
    for score in scores:
        if score.relative < threshold:
            continue
        info = infos[score.index]
        time_ms = int(info.time_ms or 0)
        kind = group_label(info)
        message = f"new combo on this {kind}" if score.present else f"no new combo on this {kind}"
        expected = (
            f"expected no new combo (p = {score.probability:.2f})"
            if score.present
            else f"expected a new combo (p = {score.probability:.2f})"
        )
        event = {**_event_dict(ContextType.MAP, info, Event(EventType.NEW_COMBO)), "present": score.present}
        out.append(
            Suggestion(
                "new_combos",
                time_ms,
                score.relative,
                message,
                expected,
                event,
                selection(beatmap, events, info, numbers),
            )
        )
    return out


def _event_dict(context: ContextType, info: GroupInfo, event: Event) -> dict:
    return {
        "context": context.value,
        "kind": info.kind.value,
        "time_ms": info.time_ms,
        "object_time_ms": info.owner_ms,
        "token": event.type.value,
        "value": event.value,
    }
