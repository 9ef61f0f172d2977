"""Beatmap ⇄ point sequence: every hit object as the points the refiner moves (circles, slider heads,
control points and ends, spinners) with the fixed facts it conditions on (time, type, gaps, length)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from osuT5.beatmap import Beatmap, Circle, Slider, Spinner
from osuT5.beatmap.objects import PLAYFIELD_HEIGHT, PLAYFIELD_WIDTH
from osuT5.beatmap.slider_path import SliderPath

PLAYFIELD_CENTRE = np.array([PLAYFIELD_WIDTH / 2, PLAYFIELD_HEIGHT / 2])
# One scale for both axes, so that Gaussian noise in model space is isotropic in pixels.
POSITION_SCALE_PX = PLAYFIELD_WIDTH / 2


class PointType(IntEnum):
    CIRCLE = 0
    CIRCLE_NEW_COMBO = 1
    SPINNER = 2
    SLIDER_HEAD = 3
    SLIDER_HEAD_NEW_COMBO = 4
    BEZIER_ANCHOR = 5
    PERFECT_ANCHOR = 6
    CATMULL_ANCHOR = 7
    LINEAR_ANCHOR = 8
    RED_ANCHOR = 9  # a point repeated: a sharp corner between bezier segments
    LAST_ANCHOR = 10
    SLIDER_END_1 = 11  # one span: the ball ends at the path's end
    SLIDER_END_2 = 12
    SLIDER_END_3 = 13
    SLIDER_END_EVEN = 14  # 4, 6, ... spans: the ball ends at the head
    SLIDER_END_ODD = 15


N_POINT_TYPES = len(PointType)
_ANCHOR_TYPES = {"B": PointType.BEZIER_ANCHOR, "P": PointType.PERFECT_ANCHOR, "C": PointType.CATMULL_ANCHOR}
# Points whose position is not the model's to choose: spinners sit where the file says (osu! ignores
# it), slider ends follow from the control points and the required length.
FIXED_TYPES = (PointType.SPINNER,)
DERIVED_TYPES = tuple(t for t in PointType if t.name.startswith("SLIDER_END"))


@dataclass
class PointSequence:
    """One beatmap's points in time order. Arrays have one row per point.

    positions_px (N, 2) osu! pixels; time_ms (N,); types (N,) PointType; object_index (N,) index into
    beatmap.hit_objects; anchor_index (N,) the control point's index in its slider (-1 for others);
    length_px (N,) the slider's required length on every point of a slider (0 elsewhere).
    """

    positions_px: np.ndarray
    time_ms: np.ndarray
    types: np.ndarray
    object_index: np.ndarray
    anchor_index: np.ndarray
    length_px: np.ndarray

    def __len__(self) -> int:
        return len(self.time_ms)

    def gaps_ms(self) -> tuple[np.ndarray, np.ndarray]:
        """Time to the previous and to the next point (0 at the ends), (N,) each."""
        d = np.diff(self.time_ms)
        return np.concatenate([[0.0], d]), np.concatenate([d, [0.0]])

    @property
    def movable(self) -> np.ndarray:
        """(N,) bool: points the refiner places itself (not spinners, not derived slider ends)."""
        return ~np.isin(self.types, [*FIXED_TYPES, *DERIVED_TYPES])


def _end_type(slides: int) -> PointType:
    if slides <= 3:
        return PointType(PointType.SLIDER_END_1 + max(slides, 1) - 1)
    return PointType.SLIDER_END_EVEN if slides % 2 == 0 else PointType.SLIDER_END_ODD


def _anchor_type(slider: Slider, i: int) -> PointType:
    points = slider.curve_points
    if i == len(points) - 1:
        return PointType.LAST_ANCHOR
    kind = (slider.point_types[i] if i < len(slider.point_types) else None) or slider.curve_type
    if kind[:1] == "B" and points[i] == points[i + 1]:
        return PointType.RED_ANCHOR
    return _ANCHOR_TYPES.get(kind[:1], PointType.LINEAR_ANCHOR)


def _path_end(slider: Slider, format_version: int) -> tuple[float, float]:
    """Where the slider's path ends (its last control point if the path cannot be built)."""
    try:
        return tuple(SliderPath.from_slider(slider, format_version).end_position)
    except ValueError:
        return slider.curve_points[-1] if slider.curve_points else (slider.x, slider.y)


def beatmap_points(beatmap: Beatmap) -> PointSequence:
    """The points of every hit object, in order. Control points get times spread over the first span,
    a slider's end point the time the slider ends."""
    rows: list[tuple[float, float, float, int, int, int, float]] = []
    for index, obj in enumerate(beatmap.hit_objects):
        if isinstance(obj, Slider):
            head = PointType.SLIDER_HEAD_NEW_COMBO if obj.new_combo else PointType.SLIDER_HEAD
            rows.append((obj.x, obj.y, obj.time, head, index, -1, obj.length))
            n = len(obj.curve_points)
            for i, (x, y) in enumerate(obj.curve_points):
                t = obj.time + obj.span_duration * (i + 1) / (n + 1)
                rows.append((x, y, t, _anchor_type(obj, i), index, i, obj.length))
            rows.append(
                (
                    *_path_end(obj, beatmap.format_version),
                    obj.end_time,
                    _end_type(obj.slides),
                    index,
                    -1,
                    obj.length,
                )
            )
        elif isinstance(obj, Spinner):
            rows.append((obj.x, obj.y, obj.time, PointType.SPINNER, index, -1, 0.0))
        elif isinstance(obj, Circle):
            kind = PointType.CIRCLE_NEW_COMBO if obj.new_combo else PointType.CIRCLE
            rows.append((obj.x, obj.y, obj.time, kind, index, -1, 0.0))
        # Hold notes are mania's: no positions to refine.
    table = np.array(rows, dtype=np.float64).reshape(-1, 7)
    order = np.argsort(table[:, 2], kind="stable")  # a long slider's end may pass later objects
    table = table[order]
    return PointSequence(
        positions_px=table[:, :2].copy(),
        time_ms=table[:, 2].copy(),
        types=table[:, 3].astype(np.int64),
        object_index=table[:, 4].astype(np.int64),
        anchor_index=table[:, 5].astype(np.int64),
        length_px=table[:, 6].copy(),
    )


def to_model_space(positions_px: np.ndarray) -> np.ndarray:
    """Pixels → the model's coordinates: centred on the playfield, 256 px = 1."""
    return (positions_px - PLAYFIELD_CENTRE) / POSITION_SCALE_PX


def to_pixels(positions: np.ndarray) -> np.ndarray:
    return positions * POSITION_SCALE_PX + PLAYFIELD_CENTRE
