"""The last post-processing step: whatever the model emitted, the written map is playable.

Objects outside the song are dropped; in std, taiko and catch an object that starts on top of the one
before it (within 20 ms, or while a slider, spinner or drumroll still runs) is dropped; std and catch
objects are moved inside the playfield (a slider moves as a whole, so its shape and length stay); a
mania note that starts while its column is still held is dropped. Each fix is counted so the run can
say what it changed.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from osuT5.beatmap import Beatmap, Circle, GameMode, HitObject, Slider, Spinner, column_clashes, time_clashes
from osuT5.beatmap.slider_path import SliderPath

FIELD = np.array([512.0, 384.0])


def _shift_inside(points: np.ndarray) -> list[int]:
    """The smallest whole-pixel (dx, dy) that brings points no larger than the field inside it."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    shift = [0, 0]
    for axis in range(2):
        if lo[axis] < 0:
            shift[axis] = math.ceil(-lo[axis])
        elif hi[axis] > FIELD[axis]:
            shift[axis] = math.floor(FIELD[axis] - hi[axis])
    return shift


def _inside_playfield(h: HitObject, fixes: Counter) -> HitObject:
    """`h` moved (whole pixels) so that it, and its whole slider path, lie on the playfield; a slider
    whose path is larger than the playfield becomes a circle at its clamped head."""
    if isinstance(h, Spinner):
        return h
    h.x, h.y = round(h.x), round(h.y)
    if isinstance(h, Slider):
        h.curve_points = [(round(x), round(y)) for x, y in h.curve_points]
        path = SliderPath.from_slider(h)
        points = np.array([path.position_at(t) for t in np.linspace(0, 1, 33)])
        if np.any(points.max(axis=0) - points.min(axis=0) > FIELD):
            fixes["sliders larger than the playfield made circles"] += 1
            return Circle(
                min(max(h.x, 0), 512),
                min(max(h.y, 0), 384),
                h.time,
                h.new_combo,
                h.combo_skip,
                h.hitsound,
                h.hit_sample,
            )
    else:
        points = np.array([[h.x, h.y]])
    dx, dy = _shift_inside(points)
    if dx or dy:
        fixes["moved into the playfield"] += 1
        h.x, h.y = h.x + dx, h.y + dy  # whole pixels: the written integers move alike
        if isinstance(h, Slider):
            h.curve_points = [(x + dx, y + dy) for x, y in h.curve_points]
    return h


def make_playable(beatmap: Beatmap, song_ms: float) -> Counter:
    """Fix `beatmap` in place; returns how many objects each fix touched."""
    fixes: Counter = Counter()
    kept = []
    for h in sorted(beatmap.hit_objects, key=lambda h: h.time):
        if h.time < 0 or h.end_time > song_ms:
            fixes["dropped outside the song"] += 1
            continue
        kept.append(h)
    if beatmap.mode != GameMode.MANIA:  # mania's chords are music; elsewhere a second hit at once is not
        clashes = time_clashes(kept)
        fixes["dropped on top of the previous object"] += sum(clashes)
        kept = [h for h, clash in zip(kept, clashes, strict=True) if not clash]
    if beatmap.mode in (GameMode.STD, GameMode.CATCH):
        kept = [_inside_playfield(h, fixes) for h in kept]
    if beatmap.mode == GameMode.MANIA:
        clashes = column_clashes(kept, beatmap.keycount)
        fixes["dropped overlapping in a mania column"] += sum(clashes)
        kept = [h for h, clash in zip(kept, clashes, strict=True) if not clash]
    beatmap.hit_objects = kept
    return fixes
