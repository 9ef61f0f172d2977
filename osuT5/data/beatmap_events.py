"""Beatmap -> events, per game mode: the MAP stream (objects, kiai, mania scroll speeds) and the
TIMING stream (redlines, measures, beats)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from osuT5.audio import TOKEN_STEP_MS
from osuT5.beatmap import (
    Beatmap,
    Circle,
    GameMode,
    HitObject,
    HoldNote,
    Slider,
    Spinner,
    TimingIndex,
    mania_column,
)
from osuT5.beatmap.slider_path import SliderPath, path_segments
from osuT5.events import (
    MAX_KEYCOUNT,
    MAX_TICK_OFFSET_MS,
    Event,
    EventType,
    encode_hitsound,
    encode_position,
    split_groups,
)

# A slider whose path has this many control points is noise, not a shape (the reference skips them).
MAX_SLIDER_CONTROL_POINTS = 100
SCROLL_SPEED_MIN, SCROLL_SPEED_MAX = 0.01, 10.0
ANCHOR_EVENT_OF_CURVE = {
    "B": EventType.BEZIER_ANCHOR,
    "P": EventType.PERFECT_ANCHOR,
    "C": EventType.CATMULL_ANCHOR,
    "L": EventType.RED_ANCHOR,
}


def event_time_ms(time: float) -> int:
    """Integer milliseconds of a (possibly fractional) beatmap time."""
    return math.floor(time + 1e-5)


def snap_events(timing: TimingIndex, time: float) -> tuple[int, int]:
    """(SNAPPING divisor, TICK_OFFSET ms) for a time. The tick is chosen exactly as the decoder will
    choose it, from the centre of the time's 10 ms step; a time the decoder could not recover
    exactly that way is left unsnapped (divisor 0)."""
    divisor = timing.snap_divisor(time)
    if divisor == 0:
        return 0, 0
    time_ms = event_time_ms(time)
    tick = timing.nearest_tick(step_centre_ms(time_ms), divisor)
    offset = time_ms - math.floor(tick)
    if abs(offset) > MAX_TICK_OFFSET_MS:
        return 0, 0
    return divisor, offset


def step_centre_ms(time_ms: int) -> int:
    """The time a decoder reads back for `time_ms`: the centre of its 10 ms step (window starts are
    multiples of 10 ms, so the step grid is global)."""
    return time_ms // TOKEN_STEP_MS * TOKEN_STEP_MS + TOKEN_STEP_MS // 2


def scroll_speed_value(sv: float) -> int:
    return round(min(max(sv, SCROLL_SPEED_MIN), SCROLL_SPEED_MAX) * 100)


@dataclass(frozen=True)
class ResolvedSample:
    """An object's (or slider edge's) hitsound as heard: bits, sets and volume after inheritance."""

    bits: int
    normal_set: int
    addition_set: int
    volume: int


def resolve_sample(
    timing: TimingIndex, time_ms: float, bits: int, normal: int, addition: int, volume: int
) -> ResolvedSample:
    """Apply osu!'s inheritance: 0 sets come from the sample point (0 there means normal), a 0
    addition set follows the normal set, a 0 volume comes from the sample point."""
    point = timing.sample_point_at(time_ms)
    point_set = point.sample_set if point is not None and 1 <= point.sample_set <= 3 else 1
    normal = normal if 1 <= normal <= 3 else point_set
    addition = addition if 1 <= addition <= 3 else normal
    if volume <= 0:
        volume = point.volume if point is not None else 100
    return ResolvedSample(bits & 14, normal, addition, int(min(max(volume, 0), 100)))


def object_samples(beatmap: Beatmap, timing: TimingIndex, obj: HitObject) -> list[ResolvedSample]:
    """The head sample of any object; for sliders one per edge (head, repeats, end) instead."""
    hs = obj.hit_sample
    if not isinstance(obj, Slider):
        return [resolve_sample(timing, obj.time, obj.hitsound, hs.normal_set, hs.addition_set, hs.volume)]
    out = []
    for i, (sound, (normal, addition)) in enumerate(zip(obj.edge_sounds, obj.edge_sets, strict=True)):
        t = obj.time + i * obj.span_duration
        # A slider's custom volume applies to every edge (osu! copies it to each node sample).
        out.append(resolve_sample(timing, t, sound, normal, addition, hs.volume))
    return out


def slider_body_sample(timing: TimingIndex, slider: Slider) -> ResolvedSample:
    """The slider-slide/whistle sound: the slider's own hitsound and sample sets, heard just after the head."""
    hs = slider.hit_sample
    return resolve_sample(timing, slider.time + 1, slider.hitsound, hs.normal_set, hs.addition_set, hs.volume)


class MapEventWriter:
    """Turns one beatmap's objects into the MAP event stream."""

    def __init__(self, beatmap: Beatmap):
        self.beatmap = beatmap
        self.mode = beatmap.mode
        self.timing = TimingIndex(beatmap.timing_points)
        self.keycount = min(beatmap.keycount, MAX_KEYCOUNT)
        self.events: list[Event] = []

    # -- group pieces --
    def _time(self, time: float, snap: bool = True) -> None:
        time_ms = event_time_ms(time)
        self.events.append(Event(EventType.TIME_SHIFT, time_ms))
        if snap:
            divisor, offset = snap_events(self.timing, time)
            self.events.append(Event(EventType.SNAPPING, divisor))
            if divisor == 0:
                self.events.append(Event(EventType.TIME_FINE, time_ms % TOKEN_STEP_MS))
            elif offset:
                self.events.append(Event(EventType.TICK_OFFSET, offset))

    def _pos(self, x: float, y: float) -> None:
        if self.mode in (GameMode.STD, GameMode.CATCH):
            pos, refine = encode_position(x, y)
            self.events += [Event(EventType.POS, pos), Event(EventType.POS_REFINE, refine)]
        elif self.mode == GameMode.MANIA:
            self.events.append(Event(EventType.MANIA_COLUMN, mania_column(x, self.keycount)))

    def _new_combo(self, obj: HitObject) -> None:
        if obj.new_combo and self.mode in (GameMode.STD, GameMode.CATCH):
            self.events.append(Event(EventType.NEW_COMBO))

    def _scroll_speed(self, time: float) -> None:
        self.events.append(
            Event(EventType.SCROLL_SPEED, scroll_speed_value(self.timing.slider_velocity_at(time)))
        )

    def _sample(self, sample: ResolvedSample) -> None:
        value = encode_hitsound(sample.bits, sample.normal_set, sample.addition_set)
        self.events += [Event(EventType.HITSOUND, value), Event(EventType.VOLUME, sample.volume)]

    def _type(self, event_type: EventType) -> None:
        self.events.append(Event(event_type))

    # -- objects --
    def add(self, obj: HitObject) -> None:
        samples = object_samples(self.beatmap, self.timing, obj)
        if isinstance(obj, Circle):
            self._time(obj.time)
            self._pos(obj.x, obj.y)
            self._new_combo(obj)
            if self.mode == GameMode.TAIKO:
                self._scroll_speed(obj.time)
            self._sample(samples[0])
            self._type(EventType.CIRCLE)
        elif isinstance(obj, Slider):
            self._add_slider(obj, samples)
        elif isinstance(obj, Spinner):
            start, end = (
                (EventType.DENDEN, EventType.DENDEN_END)
                if self.mode == GameMode.TAIKO
                else (EventType.SPINNER, EventType.SPINNER_END)
            )
            self._time(obj.time)
            self._new_combo(obj)
            self._type(start)
            self._time(obj.end_time)
            self._sample(samples[0])
            self._type(end)
        elif isinstance(obj, HoldNote):
            self._time(obj.time)
            self._pos(obj.x, obj.y)
            self._sample(samples[0])
            self._type(EventType.HOLD_NOTE)
            self._time(obj.end_time)
            self._pos(obj.x, obj.y)
            self._type(EventType.HOLD_NOTE_END)

    def add_kiai(self, time: float, on: bool) -> None:
        self._time(time)
        self.events.append(Event(EventType.KIAI, int(on)))

    def add_scroll_speed_change(self, time: float, sv: float) -> None:
        self._time(time)
        self.events += [
            Event(EventType.SCROLL_SPEED, scroll_speed_value(sv)),
            Event(EventType.SCROLL_SPEED_CHANGE),
        ]

    def _add_slider(self, slider: Slider, samples: list[ResolvedSample]) -> None:
        if self.mode == GameMode.TAIKO:
            self._time(slider.time)
            self._scroll_speed(slider.time)
            self._sample(samples[0])
            self._type(EventType.DRUMROLL)
            self._time(slider.end_time)
            self._type(EventType.DRUMROLL_END)
            return
        if self.mode == GameMode.MANIA:  # converted-style sliders in mania maps act as hold notes
            self._time(slider.time)
            self._pos(slider.x, slider.y)
            self._sample(samples[0])
            self._type(EventType.HOLD_NOTE)
            self._time(slider.end_time)
            self._pos(slider.x, slider.y)
            self._type(EventType.HOLD_NOTE_END)
            return
        # Head: where and when it starts, its velocity and the head edge's hitsound.
        self._time(slider.time)
        self._pos(slider.x, slider.y)
        self._new_combo(slider)
        self._scroll_speed(slider.time)
        self._sample(samples[0])
        self._type(EventType.SLIDER_HEAD)
        # Shape: every control point after the head, typed by its segment; segment starts are red.
        segments = path_segments(
            (slider.x, slider.y), slider.curve_type, slider.curve_points, slider.point_types
        )
        anchors: list[tuple[float, float, EventType]] = []
        for index, (letter, points) in enumerate(segments):
            kind = ANCHOR_EVENT_OF_CURVE.get(letter, EventType.BEZIER_ANCHOR)
            for point in points[1:-1]:
                anchors.append((float(point[0]), float(point[1]), kind))
            last = points[-1]
            is_final = index == len(segments) - 1
            anchors.append(
                (float(last[0]), float(last[1]), EventType.LAST_ANCHOR if is_final else EventType.RED_ANCHOR)
            )
        for x, y, kind in anchors:
            self._pos(x, y)
            self._type(kind)
        # One span later: span length (with SV gives the pixel length), body and repeat hitsounds.
        self._time(slider.time + slider.span_duration)
        self._sample(slider_body_sample(self.timing, slider))
        for sample in samples[1:-1]:
            self._sample(sample)
        self._type(EventType.LAST_ANCHOR)
        end_x, end_y = slider_end_position(slider)
        self._time(slider.end_time)
        self._pos(end_x, end_y)
        self._sample(samples[-1])
        self._type(EventType.SLIDER_END)


def slider_end_position(slider: Slider) -> tuple[float, float]:
    """Where the ball ends: the path end after an odd number of slides, the head after an even one."""
    if slider.slides % 2 == 0:
        return slider.x, slider.y
    end = SliderPath.from_slider(slider).end_position
    return float(end[0]), float(end[1])


def map_events(beatmap: Beatmap) -> list[Event]:
    """The MAP stream of a beatmap: every object, kiai toggles and (mania) scroll speed changes."""
    writer = MapEventWriter(beatmap)
    for obj in beatmap.hit_objects:
        if (
            isinstance(obj, Slider)
            and len(obj.curve_points) + 1 >= MAX_SLIDER_CONTROL_POINTS
            and beatmap.mode in (GameMode.STD, GameMode.CATCH)
        ):
            # Keep the object, but as a straight slider to its end: its exact shape is noise.
            obj = _simplified_slider(obj)
        writer.add(obj)
    for time, on in kiai_toggles(beatmap):
        writer.add_kiai(time, on)
    if beatmap.mode == GameMode.MANIA:
        for time, sv in scroll_speed_changes(beatmap):
            writer.add_scroll_speed_change(time, sv)
    return sort_groups(writer.events)


def _simplified_slider(slider: Slider) -> Slider:
    end_x, end_y = slider_end_position(replace(slider, slides=1))
    return replace(slider, curve_type="L", curve_points=[(end_x, end_y)], point_types=[])


def kiai_toggles(beatmap: Beatmap) -> list[tuple[float, bool]]:
    toggles = []
    kiai = False
    for point in TimingIndex(beatmap.timing_points).points:
        if point.kiai != kiai:
            kiai = point.kiai
            toggles.append((point.time, kiai))
    return toggles


def scroll_speed_changes(beatmap: Beatmap) -> list[tuple[float, float]]:
    """Mania scroll speed changes: (time, SV) wherever the SV in effect changes by more than 0.5 %."""
    index = TimingIndex(beatmap.timing_points)
    changes = []
    current = 1.0
    for time in sorted({p.time for p in index.points}):
        sv = scroll_speed_value(index.slider_velocity_at(time)) / 100
        if abs(sv - current) > 0.005:
            changes.append((time, sv))
            current = sv
    return changes


def sort_groups(events: list[Event]) -> list[Event]:
    """Stable sort of groups by time; untimed groups (anchors) stay glued to the group before."""
    blocks: list[tuple[int, int, list[Event]]] = []
    for index, group in enumerate(split_groups(events)):
        times = [e.value for e in group if e.type == EventType.TIME_SHIFT]
        if times or not blocks:
            blocks.append((times[0] if times else 0, index, list(group)))
        else:
            blocks[-1][2].extend(group)
    blocks.sort(key=lambda b: (b[0], b[1]))
    return [event for _, _, group in blocks for event in group]


def timing_events(beatmap: Beatmap, end_ms: float | None = None) -> list[Event]:
    """The TIMING stream: a TIMING_POINT at each redline, then MEASURE/BEAT markers up to the next
    redline (or `end_ms`, default the end of the last object)."""
    redlines = TimingIndex(beatmap.timing_points).redlines
    if end_ms is None:
        end_ms = beatmap.objects_end_time()
    events: list[Event] = []
    for i, redline in enumerate(redlines):
        stop = redlines[i + 1].time - 10 if i + 1 < len(redlines) else end_ms
        meter = redline.beats_per_measure
        beat = 0
        while True:
            time = redline.time + beat * redline.ms_per_beat
            if beat > 0 and time > stop:
                break
            kind = (
                EventType.TIMING_POINT
                if beat == 0
                else EventType.MEASURE
                if beat % meter == 0
                else EventType.BEAT
            )
            time_ms = event_time_ms(time)
            events.append(Event(EventType.TIME_SHIFT, time_ms))
            if kind == EventType.TIMING_POINT:  # redline offsets are kept to the millisecond
                events.append(Event(EventType.TIME_FINE, time_ms % TOKEN_STEP_MS))
            events.append(Event(kind))
            beat += 1
    return events
