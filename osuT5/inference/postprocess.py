"""Events -> a playable beatmap: snap times to the timing, rebuild objects per mode, slider lengths
from SV and duration, mania columns, taiko rolls, and greenlines for SV, volume and kiai."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

from osuT5.audio import TOKEN_STEP_MS
from osuT5.beatmap import (
    Beatmap,
    Circle,
    GameMode,
    HitObject,
    HitSample,
    HoldNote,
    Slider,
    Spinner,
    TimingIndex,
    TimingPoint,
)
from osuT5.events import (
    ANCHOR_EVENTS,
    TYPE_EVENTS,
    Event,
    EventType,
    decode_hitsound,
    decode_position,
    split_groups,
)

PLAYFIELD_CENTRE = (256.0, 192.0)
ZERO_SLIDER_LENGTH_PX = 0.001  # the shortest length osu! takes as written (0 means "the path's length")


@dataclass
class Group:
    """One decoded group: its type event and the values that came with it."""

    type: EventType
    value: int = 0
    time: int | None = None  # integer ms as written to the file
    exact_time: float | None = None  # the unrounded tick time when snapped (for durations)
    pos: tuple[int, int] | None = None
    column: int | None = None
    new_combo: bool = False
    sv: float | None = None
    samples: list[tuple[int, int, int, int]] = field(default_factory=list)  # (bits, normal, addition, volume)


def read_groups(events: list[Event], timing: TimingIndex) -> list[Group]:
    """Decode each event group, snapping its time to the tick its SNAPPING (and TICK_OFFSET) names."""
    groups = []
    for raw in split_groups(events):
        if raw[-1].type not in TYPE_EVENTS:
            continue  # an unfinished group at the end of a sequence
        group = Group(type=raw[-1].type, value=raw[-1].value)
        pos = refine = None
        hitsound = None
        snap = offset = 0
        fine = None
        for event in raw[:-1]:
            kind = event.type
            if kind == EventType.TIME_SHIFT:
                group.time = event.value
            elif kind == EventType.SNAPPING:
                snap = event.value
            elif kind == EventType.TICK_OFFSET:
                offset = event.value
            elif kind == EventType.TIME_FINE:
                fine = event.value
            elif kind == EventType.POS:
                pos = event.value
            elif kind == EventType.POS_REFINE:
                refine = event.value
            elif kind == EventType.MANIA_COLUMN:
                group.column = event.value
            elif kind == EventType.NEW_COMBO:
                group.new_combo = True
            elif kind == EventType.SCROLL_SPEED:
                group.sv = event.value / 100.0
            elif kind == EventType.HITSOUND:
                hitsound = decode_hitsound(event.value)
            elif kind == EventType.VOLUME and hitsound is not None:
                group.samples.append((*hitsound, event.value))
                hitsound = None
        if pos is not None:
            group.pos = decode_position(pos, refine)
        if group.time is not None:
            if fine is not None:  # the exact millisecond inside the decoded 10 ms step
                group.time = group.time // TOKEN_STEP_MS * TOKEN_STEP_MS + fine
            group.exact_time = float(group.time)
            if snap and timing:
                tick = timing.nearest_tick(group.time, snap)
                group.time = math.floor(tick) + offset
                group.exact_time = tick  # durations run tick to tick, as the editor snaps them
        groups.append(group)
    return groups


@dataclass
class _PendingSlider:
    head: Group
    anchors: list[tuple[tuple[int, int], EventType]] = field(default_factory=list)
    span_end: Group | None = None


class ObjectBuilder:
    """Consumes decoded groups in order and emits hit objects of one game mode."""

    def __init__(self, mode: GameMode, keycount: int, timing: TimingIndex, slider_multiplier: float):
        self.mode = mode
        self.keycount = max(keycount, 1)
        self.timing = timing
        self.slider_multiplier = slider_multiplier
        self.objects: list[HitObject] = []
        self.kiai: list[tuple[int, bool]] = []
        self.mania_sv: list[tuple[int, float]] = []
        self.volume_needs: list[tuple[float, int]] = []  # slider edges whose volume comes from greenlines
        self.sv_needs: list[tuple[float, float]] = []
        self.dropped = 0
        # Open objects. Overlapping ones (2B maps) are matched to their ends first in, first out.
        self._sliders: list[_PendingSlider] = []
        self._spinners: list[Group] = []
        self._holds: dict[int, Group] = {}
        self._last_pos = PLAYFIELD_CENTRE

    def add(self, g: Group) -> None:
        t = g.type
        if t == EventType.KIAI and g.time is not None:
            self.kiai.append((g.time, bool(g.value)))
        elif t == EventType.SCROLL_SPEED_CHANGE and g.time is not None and g.sv is not None:
            self.mania_sv.append((g.time, g.sv))
        elif t == EventType.CIRCLE and g.time is not None:
            self._emit(Circle(*self._position(g), g.time, new_combo=g.new_combo), g)
        elif t in (EventType.SLIDER_HEAD, EventType.DRUMROLL) and g.time is not None:
            self._sliders.append(_PendingSlider(g))
        elif t in ANCHOR_EVENTS and self._sliders and g.pos is not None:
            self._sliders[-1].anchors.append((g.pos, t))  # anchors follow their head directly
        elif t == EventType.LAST_ANCHOR and self._sliders:
            if g.time is None and g.pos is not None:
                self._sliders[-1].anchors.append((g.pos, t))
            elif g.time is not None:
                waiting = [p for p in self._sliders if p.span_end is None and p.head.time <= g.time]
                if waiting:
                    waiting[0].span_end = g
        elif t in (EventType.SLIDER_END, EventType.DRUMROLL_END) and g.time is not None:
            pending = self._pick_slider_for_end(g)
            if pending is None:
                self.dropped += 1
            else:
                self._sliders.remove(pending)
                self._finish_slider(pending, g)
        elif t in (EventType.SPINNER, EventType.DENDEN) and g.time is not None:
            self._spinners.append(g)
        elif t in (EventType.SPINNER_END, EventType.DENDEN_END) and self._spinners and g.time is not None:
            start = self._spinners.pop(0)
            end_time = max(g.time, start.time)
            self._emit(Spinner(256, 192, start.time, new_combo=start.new_combo, spinner_end=end_time), g)
        elif t == EventType.HOLD_NOTE and g.time is not None:
            self._holds[self._column(g)] = g
        elif t == EventType.HOLD_NOTE_END and g.time is not None:
            start = self._holds.pop(self._column(g), None)
            if start is not None and g.time > start.time:
                x, y = self._position(start)
                self._emit(HoldNote(x, y, start.time, hold_end=g.time), start)
        elif t in TYPE_EVENTS and t not in (EventType.BEAT, EventType.MEASURE, EventType.TIMING_POINT):
            self.dropped += 1  # a piece of an object whose start never came

    # -- helpers --
    def _column(self, g: Group) -> int:
        return min(g.column if g.column is not None else 0, self.keycount - 1)

    def _position(self, g: Group) -> tuple[float, float]:
        if self.mode == GameMode.TAIKO:
            return PLAYFIELD_CENTRE
        if self.mode == GameMode.MANIA:
            return float(int((self._column(g) + 0.5) * 512 / self.keycount)), 192.0
        if g.pos is not None:
            self._last_pos = (float(g.pos[0]), float(g.pos[1]))
        return self._last_pos

    def _emit(self, obj: HitObject, sample_group: Group) -> None:
        if sample_group.samples:
            bits, normal, addition, volume = sample_group.samples[0]
            obj.hitsound = bits
            obj.hit_sample = HitSample(normal, addition, 0, volume)
        if self.mode == GameMode.TAIKO and sample_group.sv is not None:
            self.sv_needs.append((obj.time, sample_group.sv))
        self.objects.append(obj)

    def _pick_slider_for_end(self, end: Group) -> _PendingSlider | None:
        """The open slider this end belongs to: the first whose span divides its duration into a
        whole number of slides (sliders overlap only in 2B maps; usually one is open)."""
        best, best_err = None, float("inf")
        for pending in self._sliders:
            if pending.head.time > end.time:
                continue
            if pending.span_end is None:
                err = 1.0  # usable, but a slider with a matching span is a better guess
            else:
                span = pending.span_end.exact_time - pending.head.exact_time
                slides = (end.exact_time - pending.head.exact_time) / span if span > 0 else 1.0
                err = abs(slides - max(round(slides), 1)) / max(slides, 1.0)
            if err < best_err - 1e-9:
                best, best_err = pending, err
        return best

    def _finish_slider(self, pending: _PendingSlider, end: Group) -> None:
        head = pending.head
        span_end = pending.span_end
        total = end.exact_time - head.exact_time
        span = (span_end.exact_time - head.exact_time) if span_end is not None else total
        if total <= 0 or span <= 0:  # a slider of no duration: one slide
            total = span = 0.0
        slides = max(round(total / span), 1) if span > 0 else 1
        span = total / slides
        sv = head.sv if head.sv is not None else 1.0
        redline = self.timing.redline_at(head.time)
        mpb = redline.ms_per_beat if redline is not None else 500.0
        # Written as 0, a length means "the control path's own length" to osu!, and the slider would
        # run over the objects after it; mappers write no-duration sliders with a token length.
        length = max(sv * span * 100.0 * self.slider_multiplier / mpb, ZERO_SLIDER_LENGTH_PX)
        x, y = self._position(head)
        if head.type == EventType.DRUMROLL or self.mode == GameMode.TAIKO:
            curve_type, points, types = "L", [(x + length, y)], []
        else:
            curve_type, points, types = curve_from_anchors(pending.anchors, (x, y))
        edge_groups = [head, *([span_end] * (slides - 1)), end]
        repeat_samples = span_end.samples[1:] if span_end is not None else []
        edge_samples = [head.samples[:1], *[[s] for s in repeat_samples[: slides - 1]], end.samples[:1]]
        slider = Slider(
            x,
            y,
            head.time,
            new_combo=head.new_combo,
            curve_type=curve_type,
            curve_points=points,
            point_types=types,
            slides=slides,
            length=length,
        )
        slider.span_duration = span
        self._apply_slider_samples(slider, span_end, edge_samples, len(edge_groups))
        self.sv_needs.append((head.time, sv))
        self.objects.append(slider)

    def _apply_slider_samples(
        self, slider: Slider, span_end: Group | None, edge_samples, n_edges: int
    ) -> None:
        edges = [s[0] if s else (0, 0, 0, 100) for s in edge_samples]
        edges += [edges[-1]] * (n_edges - len(edges))
        body = span_end.samples[0] if span_end is not None and span_end.samples else edges[0]
        slider.hitsound = body[0]
        slider.edge_sounds = [e[0] for e in edges]
        slider.edge_sets = [(e[1], e[2]) for e in edges]
        volumes = {e[3] for e in edges} | {body[3]}
        if len(volumes) == 1:
            slider.hit_sample = HitSample(body[1], body[2], 0, body[3])
        else:
            # Edges differ in volume: only greenlines can say that.
            slider.hit_sample = HitSample(body[1], body[2], 0, 0)
            for i, edge in enumerate(edges):
                self.volume_needs.append((slider.time + i * slider.span_duration, edge[3]))


def curve_from_anchors(anchors: list[tuple[tuple[int, int], EventType]], head: tuple[float, float]):
    """(curve letter, control points, point types) from decoded anchors. Red anchors split
    segments; a single perfect/catmull segment keeps its letter, anything else is a bezier path
    with doubled points at the red anchors (how stable writes segment breaks)."""
    if not anchors:
        return "L", [(head[0] + 1.0, head[1])], []
    segments: list[list[tuple[tuple[int, int], EventType]]] = [[]]
    for point, kind in anchors:
        segments[-1].append((point, kind))
        if kind == EventType.RED_ANCHOR:
            segments.append([])
    segments = [s for s in segments if s]
    kinds = {kind for seg in segments for _, kind in seg[:-1]}
    points = [(float(p[0]), float(p[1])) for p, _ in anchors]
    if len(segments) == 1:
        if kinds == {EventType.PERFECT_ANCHOR} and len(points) == 2:
            return "P", points, []
        if kinds == {EventType.CATMULL_ANCHOR}:
            return "C", points, []
    if not kinds - {EventType.RED_ANCHOR}:
        return "L", points, []
    out: list[tuple[float, float]] = []
    for (_, kind), xy in zip(anchors, points, strict=True):
        out.append(xy)
        if kind == EventType.RED_ANCHOR:
            out.append(xy)
    return "B", out, []


def build_greenlines(
    redlines: list[TimingPoint], builder: ObjectBuilder, mode: GameMode
) -> list[TimingPoint]:
    """Redlines plus the inherited points that make SV, edge volumes and kiai come out as decoded."""
    points = [copy.copy(p) for p in redlines]
    needs: list[tuple[float, str, float]] = []
    needs += [(t, "sv", sv) for t, sv in builder.sv_needs]
    needs += [(t, "sv", sv) for t, sv in builder.mania_sv]
    needs += [(t, "volume", v) for t, v in builder.volume_needs]
    needs += [(t, "kiai", float(on)) for t, on in builder.kiai]
    if not needs or not points:
        return points
    # Restate the kiai state at every redline: a redline would otherwise reset it.
    kiai_times = sorted(builder.kiai)
    for redline in redlines:
        on = [k for t, k in kiai_times if t <= redline.time]
        if on:
            needs.append((redline.time, "kiai", float(on[-1])))
    needs.sort(key=lambda n: n[0])
    index = TimingIndex(points)
    for time, what, value in needs:
        current = index.point_at(time)
        if current is None:
            continue
        state = {
            "sv": index.slider_velocity_at(time),
            "volume": current.volume,
            "kiai": float(current.kiai),
        }
        if abs(state[what] - value) < 1e-9:
            continue
        state[what] = value
        if what == "volume" and time < current.time:
            continue
        new = TimingPoint(
            time=float(time),
            beat_length=-100.0 / max(state["sv"], 1e-6),
            meter=current.meter,
            sample_set=current.sample_set,
            sample_index=current.sample_index,
            volume=int(state["volume"]),
            uninherited=False,
            effects=int(state["kiai"]) | (current.effects & ~1 & ~8),
        )
        # One greenline per time: replace an inherited point already there.
        points = [p for p in points if p.uninherited or p.time != new.time] + [new]
        points.sort(key=lambda p: (p.time, not p.uninherited))
        index = TimingIndex(points)  # rebuilt only when a greenline was added
    return points


def events_to_beatmap(events: list[Event], template: Beatmap) -> Beatmap:
    """A new beatmap with `template`'s sections and redlines and the objects the events describe."""
    beatmap = Beatmap(
        format_version=14,
        general=dict(template.general),
        editor=dict(template.editor),
        metadata=dict(template.metadata),
        difficulty=dict(template.difficulty),
        events=list(template.events),
        colours=dict(template.colours),
    )
    mode = template.mode
    redlines = [copy.copy(p) for p in template.timing_points if p.uninherited]
    timing = TimingIndex(redlines)
    builder = ObjectBuilder(mode, template.keycount, timing, template.slider_multiplier)
    for group in read_groups(events, timing):
        builder.add(group)
    beatmap.hit_objects = sorted(builder.objects, key=lambda o: o.time)
    beatmap.timing_points = build_greenlines(redlines, builder, mode)
    if builder.dropped:
        beatmap.warnings.append(f"{builder.dropped} incomplete object(s) dropped")
    return beatmap
