"""The last post-processing step: whatever the model emitted, the written map is playable.

Objects outside the song are dropped; std and catch objects are moved inside the playfield (a slider
moves as a whole, so its shape and length stay); a mania note that starts while its column is still
held is dropped. Each fix is counted so the run can say what it changed.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from osuT5.beatmap import Beatmap, GameMode, HoldNote, Slider, Spinner
from osuT5.beatmap.slider_path import SliderPath

FIELD = np.array([512.0, 384.0])


def _shift_inside(points: np.ndarray) -> np.ndarray:
    """The smallest (dx, dy) that brings every point inside the field (centres paths too wide for it)."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    shift = np.zeros(2)
    for axis in range(2):
        if hi[axis] - lo[axis] > FIELD[axis]:
            shift[axis] = (FIELD[axis] - hi[axis] - lo[axis]) / 2
        elif lo[axis] < 0:
            shift[axis] = math.ceil(-lo[axis])
        elif hi[axis] > FIELD[axis]:
            shift[axis] = math.floor(FIELD[axis] - hi[axis])
    return shift


def make_playable(beatmap: Beatmap, song_ms: float) -> Counter:
    """Fix `beatmap` in place; returns how many objects each fix touched."""
    fixes: Counter = Counter()
    kept = []
    for h in sorted(beatmap.hit_objects, key=lambda h: h.time):
        if h.time < 0 or h.end_time > song_ms:
            fixes["dropped outside the song"] += 1
            continue
        kept.append(h)
    if beatmap.mode in (GameMode.STD, GameMode.CATCH):
        for h in kept:
            if isinstance(h, Spinner):
                continue
            if isinstance(h, Slider):
                path = SliderPath.from_slider(h)
                points = np.array([path.position_at(t) for t in np.linspace(0, 1, 17)])
            else:
                points = np.array([[h.x, h.y]])
            dx, dy = _shift_inside(points)
            if dx or dy:
                fixes["moved into the playfield"] += 1
                h.x, h.y = h.x + dx, h.y + dy  # whole pixels: the written integers move alike
                if isinstance(h, Slider):
                    h.curve_points = [(x + dx, y + dy) for x, y in h.curve_points]
    if beatmap.mode == GameMode.MANIA:
        keys = beatmap.keycount
        busy_until: dict[int, float] = {}
        playable = []
        for h in kept:
            column = min(max(int(h.x * keys / 512), 0), keys - 1)
            if h.time <= busy_until.get(column, float("-inf")):
                fixes["dropped overlapping in a mania column"] += 1
                continue
            busy_until[column] = h.end_time if isinstance(h, HoldNote) else h.time
            playable.append(h)
        kept = playable
    beatmap.hit_objects = kept
    return fixes
