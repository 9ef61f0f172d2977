"""Known faults injected into a copy of a beatmap, to measure what MaiMod finds (the benchmark and
the tests use them). Each injector changes the beatmap in place and says where the report should
point, or returns None when the map has no place for that fault."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from osuT5.beatmap import Beatmap, Circle, Spinner, TimingIndex
from osuT5.data.beatmap_events import event_time_ms
from osuT5.inference.maimod.report import MaiModReport

# A timing suggestion is on the fault when it names a redline this close to the moved one.
TIMING_TOLERANCE_MS = 20


@dataclass
class Fault:
    kind: str
    category: str  # where the report should list it
    time_ms: int  # where the report should point

    def found_in(self, report: MaiModReport, categories: tuple[str, ...] | None = None) -> bool:
        tolerance = TIMING_TOLERANCE_MS if self.category == "timing" else 2
        wanted = categories or (self.category,)
        return any(
            s.category in wanted and abs(s.time_ms - self.time_ms) <= tolerance for s in report.suggestions
        )


def _inner(beatmap: Beatmap, keep: Callable[[int], bool]) -> list[int]:
    """Indices of objects other than the first and last that `keep` accepts."""
    return [i for i in range(1, len(beatmap.hit_objects) - 1) if keep(i)]


def off_beat(beatmap: Beatmap, rng: random.Random) -> Fault | None:
    """A circle on a 1/1 or 1/2 tick with at least 1/2 beat of room after it, moved 1/4 beat later."""
    timing = TimingIndex(beatmap.timing_points)
    objs = beatmap.hit_objects

    def ok(i: int) -> bool:
        h, redline = objs[i], timing.redline_at(objs[i].time)
        return (
            isinstance(h, Circle)
            and redline is not None
            and timing.snap_divisor(h.time) in (1, 2)
            and objs[i + 1].time - h.time >= redline.ms_per_beat / 2
        )

    candidates = _inner(beatmap, ok)
    if not candidates:
        return None
    h = objs[rng.choice(candidates)]
    h.time += timing.redline_at(h.time).ms_per_beat / 4
    return Fault("off_beat", "rhythm", event_time_ms(h.time))


def moved_150px(beatmap: Beatmap, rng: random.Random) -> Fault | None:
    """A circle moved 150 px in a direction that keeps it on the playfield."""
    candidates = _inner(beatmap, lambda i: isinstance(beatmap.hit_objects[i], Circle))
    rng.shuffle(candidates)
    for i in candidates:
        h = beatmap.hit_objects[i]
        for angle in rng.sample(range(0, 360, 15), 24):
            x = h.x + 150 * math.cos(math.radians(angle))
            y = h.y + 150 * math.sin(math.radians(angle))
            if 0 <= x <= 512 and 0 <= y <= 384:
                h.x, h.y = round(x), round(y)
                return Fault("moved_150px", "positions", event_time_ms(h.time))
    return None


def nc_removed(beatmap: Beatmap, rng: random.Random) -> Fault | None:
    """A new combo removed (not on or right after a spinner, where combos restart anyway)."""
    objs = beatmap.hit_objects

    def ok(i: int) -> bool:
        return objs[i].new_combo and not isinstance(objs[i], Spinner) and not isinstance(objs[i - 1], Spinner)

    candidates = _inner(beatmap, ok)
    if not candidates:
        return None
    h = objs[rng.choice(candidates)]
    h.new_combo = False
    return Fault("nc_removed", "new_combos", event_time_ms(h.time))


def hitsound_changed(beatmap: Beatmap, rng: random.Random) -> Fault | None:
    """A circle's clap toggled."""
    candidates = _inner(beatmap, lambda i: isinstance(beatmap.hit_objects[i], Circle))
    if not candidates:
        return None
    h = beatmap.hit_objects[rng.choice(candidates)]
    h.hitsound ^= 8
    return Fault("hitsound", "hitsounds", event_time_ms(h.time))


def timing_moved_15ms(beatmap: Beatmap, rng: random.Random) -> Fault | None:
    """A redline's offset moved 15 ms later (its objects stay where they are)."""
    redlines = [p for p in beatmap.timing_points if p.uninherited]
    if not redlines:
        return None
    point = rng.choice(redlines)
    point.time += 15
    return Fault("timing_15ms", "timing", event_time_ms(point.time))


FAULTS: dict[str, Callable[[Beatmap, random.Random], Fault | None]] = {
    "off_beat": off_beat,
    "moved_150px": moved_150px,
    "nc_removed": nc_removed,
    "hitsound": hitsound_changed,
    "timing_15ms": timing_moved_15ms,
}


def inject(beatmap: Beatmap, kind: str, rng: random.Random) -> Fault | None:
    """Inject one fault of `kind` into `beatmap` (in place; objects stay in time order)."""
    fault = FAULTS[kind](beatmap, rng)
    beatmap.hit_objects.sort(key=lambda h: h.time)
    return fault
