"""How good a refinement is: coarse copies of real maps (grid-snapped and jittered positions) and the
figures that compare maps object by object (position error, stream spacing spread, slider lengths)."""

from __future__ import annotations

import copy

import numpy as np

from osuT5.beatmap import Beatmap, Circle, Slider, TimingIndex
from osuT5.beatmap.objects import PLAYFIELD_HEIGHT, PLAYFIELD_WIDTH
from osuT5.beatmap.slider_path import SliderPath

# Two objects this close to a quarter beat apart are a stream pair.
_STREAM_TOLERANCE_MS = 3.0
_MIN_STREAM_OBJECTS = 4


def coarsen(beatmap: Beatmap, grid_px: float = 32.0, jitter_px: float = 4.0, seed: int = 0) -> Beatmap:
    """A copy whose circle, slider-head and control-point positions are snapped to a `grid_px` grid
    (as the sequence model's position tokens are) and moved by Gaussian jitter of `jitter_px`."""
    rng = np.random.default_rng(seed)
    out = copy.deepcopy(beatmap)

    def coarse(x: float, y: float) -> tuple[float, float]:
        px = np.round(np.array([x, y]) / grid_px) * grid_px + rng.normal(0.0, jitter_px, 2)
        px = np.clip(np.rint(px), 0, (PLAYFIELD_WIDTH, PLAYFIELD_HEIGHT))
        return float(px[0]), float(px[1])

    for obj in out.hit_objects:
        if isinstance(obj, Circle | Slider):
            obj.x, obj.y = coarse(obj.x, obj.y)
        if isinstance(obj, Slider):
            obj.curve_points = [coarse(*p) for p in obj.curve_points]
    return out


def _placed(beatmap: Beatmap) -> list[int]:
    return [i for i, o in enumerate(beatmap.hit_objects) if isinstance(o, Circle | Slider)]


def position_error(original: Beatmap, other: Beatmap) -> float:
    """Mean distance (px) between the circles' and slider heads' positions of two versions of one map."""
    rows = _placed(original)
    a = np.array([(original.hit_objects[i].x, original.hit_objects[i].y) for i in rows])
    b = np.array([(other.hit_objects[i].x, other.hit_objects[i].y) for i in rows])
    return float(np.hypot(*(a - b).T).mean()) if rows else 0.0


def stream_pairs(beatmap: Beatmap) -> list[list[int]]:
    """Runs of at least four circles, each a quarter beat after the one before (object indices)."""
    timing = TimingIndex(beatmap.timing_points)
    objects = beatmap.hit_objects
    runs: list[list[int]] = []
    current: list[int] = []
    for i in range(1, len(objects)):
        prev, obj = objects[i - 1], objects[i]
        redline = timing.redline_at(obj.time)
        quarter = redline.ms_per_beat / 4 if redline is not None else 0.0
        if (
            isinstance(prev, Circle)
            and isinstance(obj, Circle)
            and abs(obj.time - prev.time - quarter) <= _STREAM_TOLERANCE_MS
        ):
            current = current or [i - 1]
            current.append(i)
            continue
        if len(current) >= _MIN_STREAM_OBJECTS:
            runs.append(current)
        current = []
    if len(current) >= _MIN_STREAM_OBJECTS:
        runs.append(current)
    return runs


def stream_spacing_spread(beatmap: Beatmap, runs: list[list[int]]) -> float:
    """Mean over `runs` of the standard deviation of distance / time gap (px per ms) within the run:
    how unevenly the stream is spaced. NaN when there are no streams."""
    spreads = []
    for run in runs:
        objs = [beatmap.hit_objects[i] for i in run]
        xy = np.array([(o.x, o.y) for o in objs])
        gaps = np.diff([o.time for o in objs])
        spreads.append(float(np.std(np.hypot(*np.diff(xy, axis=0).T) / gaps)))
    return float(np.mean(spreads)) if spreads else float("nan")


def slider_length_errors(beatmap: Beatmap) -> np.ndarray:
    """Per slider: |path length − required length| / required length, for the path osu! builds."""
    errors = []
    for obj in beatmap.hit_objects:
        if isinstance(obj, Slider) and obj.length > 0 and obj.curve_points:
            path = SliderPath.from_slider(obj, beatmap.format_version)
            errors.append(abs(min(path.calculated_length_px, path.length_px) - obj.length) / obj.length)
    return np.array(errors)


def out_of_playfield(beatmap: Beatmap) -> int:
    """Circles and slider heads outside the 512 × 384 playfield."""
    return sum(
        not (0 <= o.x <= PLAYFIELD_WIDTH and 0 <= o.y <= PLAYFIELD_HEIGHT)
        for o in beatmap.hit_objects
        if isinstance(o, Circle | Slider)
    )
