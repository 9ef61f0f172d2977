"""Slider paths as osu! builds them: control points → typed segments → a polyline fitted to the slider's length."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import cache
from typing import Protocol

import numpy as np

# Files from this version on are osu!lazer's: float coordinates, lazer's perfect-curve and catmull rules.
FIRST_LAZER_VERSION = 128
BEZIER_TOLERANCE_PX = 0.25
CATMULL_POINTS_PER_SEGMENT = 50
CIRCULAR_ARC_TOLERANCE_PX = 0.1
# osu!framework's Precision epsilons: floats (geometry tests) and doubles (distances).
_FLOAT_EPSILON = 1e-3
_DOUBLE_EPSILON = 1e-7
# Bounds bezier subdivision on absurd coordinates; real sliders are flat after ~10 halvings.
_MAX_SUBDIVISION_DEPTH = 40
_MAX_ACTIVE_PIECES = 1 << 14
_MAX_ARC_POINTS = 5000
_SEGMENT_TYPE = re.compile(r"B\d*|L|P|C")

Point = tuple[float, float]
Segment = tuple[str, np.ndarray]


class SliderLike(Protocol):
    x: float
    y: float
    curve_type: str
    curve_points: Sequence[Point]
    point_types: Sequence[str | None]
    length: float


def path_segments(
    head: Point,
    curve_type: str,
    curve_points: Sequence[Point],
    point_types: Sequence[str | None] | None = None,
    format_version: int = 14,
) -> list[Segment]:
    """Split a slider's control points into the segments osu! draws, as (type, (k, 2) points) pairs.

    `curve_type` types the segment that starts at the head; `point_types[i]` (lazer files) ends the
    current segment at `curve_points[i]` and starts one of that type there, so `B|L|p0|p1` is bezier
    [head, p0] then linear [p0, p1] (a letter before the last point starts nothing). Within a
    segment a repeated point splits it in two (stable's red anchors). Consecutive segments share their
    boundary point. Types
    are 'B' (bezier), 'B<d>' (lazer B-spline of degree d), 'L', 'P' (circular arc) or 'C' (catmull),
    already resolved to the curve osu! draws (e.g. a 'P' that is not a valid 3-point arc is 'B').
    Files before `FIRST_LAZER_VERSION` have their coordinates truncated to integers, as osu! does.
    """
    point_types = list(point_types or [])
    if point_types and len(point_types) != len(curve_points):
        raise ValueError(f"point_types has {len(point_types)} entries for {len(curve_points)} curve points")
    lazer = format_version >= FIRST_LAZER_VERSION
    points = [_read_point(p, lazer) for p in [head, *curve_points]]
    starts = [(curve_type, 0)] + [(kind, i + 1) for i, kind in enumerate(point_types) if kind]

    control: list[tuple[Point, str | None]] = []
    for k, (letter, start) in enumerate(starts):
        end = starts[k + 1][1] if k + 1 < len(starts) else len(points)
        # The next segment's first point closes this one; it counts for the perfect-curve rules.
        end_point = points[end] if end < len(points) else None
        kind = _parser_type(_normalise_type(letter), points[start:end], end_point, lazer)
        control += _split_red_anchors(kind, points[start:end], lazer)
    return _typed_runs(control)


def _read_point(point: Sequence[float], lazer: bool) -> Point:
    x, y = float(point[0]), float(point[1])
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"slider control point ({x}, {y}) is not finite")
    return (x, y) if lazer else (float(int(x)), float(int(y)))


def _normalise_type(letter: str) -> str:
    if letter.startswith("B"):
        degree = letter[1:]
        return f"B{int(degree)}" if degree.isdigit() and int(degree) > 0 else "B"
    # osu! reads every letter other than B, L and P as catmull.
    return letter[:1] if letter[:1] in ("L", "P") else "C"


def _is_linear(a: Point, b: Point, c: Point) -> bool:
    return abs((b[1] - a[1]) * (c[0] - a[0]) - (b[0] - a[0]) * (c[1] - a[1])) <= _FLOAT_EPSILON


def _parser_type(kind: str, points: list[Point], end_point: Point | None, lazer: bool) -> str:
    """The perfect-curve rules of osu!'s parser: stable needs exactly 3 points and draws collinear ones straight."""
    if kind != "P":
        return kind
    n_points = len(points) + (end_point is not None)
    if lazer:
        return "B" if n_points > 3 else kind
    if n_points != 3:
        return "B"
    return "L" if _is_linear(points[0], points[1], end_point or points[2]) else kind


def _split_red_anchors(kind: str, points: list[Point], lazer: bool) -> list[tuple[Point, str | None]]:
    """Typed control points of one written segment, split where a point repeats (a "red anchor").

    The repeated point is dropped and the point before it starts the next piece. The last point never
    starts a piece, and stable catmull curves only split at a repeated head.
    """
    types: list[str | None] = [None] * len(points)
    types[0] = kind
    out: list[tuple[Point, str | None]] = []
    start = 0
    for end in range(1, len(points)):
        if points[end] != points[end - 1] or end == len(points) - 1:
            continue
        if kind == "C" and end > 1 and not lazer:
            continue
        types[end - 1] = kind
        out += zip(points[start:end], types[start:end], strict=True)
        start = end + 1
    out += zip(points[start:], types[start:], strict=True)
    return out


def _typed_runs(control: list[tuple[Point, str | None]]) -> list[Segment]:
    """Segments from typed points: each runs from a typed point to the next typed point (or the end)."""
    if len(control) == 1:
        return [_drawn_segment(control[0][1] or "L", np.array([control[0][0]], dtype=np.float64))]
    segments: list[Segment] = []
    start = 0
    for i in range(1, len(control)):
        if control[i][1] is None and i < len(control) - 1:
            continue
        points = np.array([p for p, _ in control[start : i + 1]], dtype=np.float64)
        segments.append(_drawn_segment(control[start][1] or "L", points))
        start = i
    return segments


def _drawn_segment(kind: str, points: np.ndarray) -> Segment:
    """SliderPath draws a 'P' that is not a valid 3-point arc as bezier; say so in the segment type."""
    if kind == "P" and (len(points) != 3 or _circular_arc(points - points[0]) is None):
        kind = "B"
    return kind, points


class SliderPath:
    """A slider's polyline, trimmed or extended to its expected length as osu! does.

    `vertices` is (N, 2) in osu! pixels (repeated points kept, as osu! keeps them), `cumulative_length`
    (N,) the distance along the path at each vertex, `calculated_length_px` the length before fitting.
    """

    def __init__(
        self,
        segments: Sequence[tuple[str, np.ndarray | Sequence[Point]]],
        expected_length_px: float | None = None,
    ):
        if not segments:
            raise ValueError("a slider path needs at least one segment")
        if expected_length_px is not None and not (0 < expected_length_px < math.inf):
            raise ValueError(f"expected_length_px must be positive and finite, got {expected_length_px}")
        self.segments: list[Segment] = []
        for kind, points in segments:
            points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
            if not _SEGMENT_TYPE.fullmatch(kind) or len(points) == 0 or not np.isfinite(points).all():
                raise ValueError(f"invalid slider segment {kind!r} with points {points.tolist()}")
            self.segments.append((kind, points))
        # osu! works relative to the head; doing the same keeps the float behaviour close to its own.
        origin = self.segments[0][1][0]
        path = _polyline([(kind, points - origin) for kind, points in self.segments])
        cumulative = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(path, axis=0).T))])
        self.calculated_length_px = float(cumulative[-1])
        path, cumulative = _fit_length(path, cumulative, expected_length_px)
        self.vertices: np.ndarray = path + origin
        self.cumulative_length: np.ndarray = cumulative
        self.length_px = float(cumulative[-1])

    @classmethod
    def from_slider(cls, slider: SliderLike, format_version: int = 14) -> SliderPath:
        """The path of a parsed slider (duck-typed: x, y, curve_type, curve_points, point_types, length)."""
        segments = path_segments(
            (slider.x, slider.y), slider.curve_type, slider.curve_points, slider.point_types, format_version
        )
        # osu! reads a length of 0 or less as "no expected length": the path keeps its own.
        return cls(segments, slider.length if slider.length > 0 else None)

    def position_at_distance(self, d_px: float) -> np.ndarray:
        """Position (2,) at `d_px` along the path, clamped to [0, length_px]."""
        d_px = min(max(d_px, 0.0), self.length_px)
        cumulative, vertices = self.cumulative_length, self.vertices
        i = int(np.searchsorted(cumulative, d_px, side="left"))
        if i <= 0:
            return vertices[0].copy()
        if i >= len(vertices):
            return vertices[-1].copy()
        d0, d1 = cumulative[i - 1], cumulative[i]
        if abs(d1 - d0) <= _DOUBLE_EPSILON:
            return vertices[i - 1].copy()
        return vertices[i - 1] + (vertices[i] - vertices[i - 1]) * ((d_px - d0) / (d1 - d0))

    def position_at(self, progress: float) -> np.ndarray:
        """Position (2,) at `progress` (0 = head, 1 = end) of `length_px`."""
        return self.position_at_distance(min(max(progress, 0.0), 1.0) * self.length_px)

    @property
    def end_position(self) -> np.ndarray:
        return self.position_at_distance(self.length_px)


def _polyline(segments: list[Segment]) -> np.ndarray:
    parts = [segments[0][1][:1]]
    last = parts[0][0]
    for kind, points in segments:
        if len(points) < 2:
            continue
        sub = _approximate(kind, points)
        # Consecutive segments share a point; drop it only when it came out bit-identical, as osu! does.
        if np.array_equal(sub[0], last):
            sub = sub[1:]
        if len(sub):
            parts.append(sub)
            last = sub[-1]
    return np.concatenate(parts)


def _fit_length(
    path: np.ndarray, cumulative: np.ndarray, expected: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Trim the path to `expected`, or extend its last straight piece to reach it (osu!'s rules)."""
    calculated = cumulative[-1]
    if expected is None or calculated == expected:
        return path, cumulative
    # osu!-stable does not extend a path whose last two points coincide.
    if len(path) >= 2 and np.array_equal(path[-1], path[-2]) and expected > calculated:
        return path, cumulative
    cumulative = cumulative[:-1]
    if calculated > expected:
        # Drop the trailing vertices that lie at or beyond the expected length.
        below = np.flatnonzero(~(cumulative >= expected))
        cumulative = cumulative[: below[-1] + 1 if below.size else 0]
    end = len(cumulative)
    if end == 0:
        return path[:1].copy(), np.zeros(1)
    path = path[: end + 1].copy()
    direction = path[end] - path[end - 1]
    path[end] = path[end - 1] + direction / np.hypot(*direction) * (expected - cumulative[-1])
    return path, np.append(cumulative, expected)


def _approximate(kind: str, points: np.ndarray) -> np.ndarray:
    if kind == "L":
        return points.copy()
    if kind == "C":
        return _catmull(points)
    if kind == "P" and len(points) == 3:
        arc = _circular_arc(points)
        if arc is not None:
            return arc
    # Plain bezier is the B-spline whose degree is one less than its point count.
    degree = int(kind[1:]) if kind.startswith("B") and len(kind) > 1 else len(points) - 1
    return _bspline(points, degree)


def _catmull(points: np.ndarray) -> np.ndarray:
    """osu!'s catmull: 50 pieces per control-point pair, each emitted as its two end points."""
    v1 = np.concatenate([points[:1], points[:-2]])[:, None]
    v2, v3 = points[:-1, None], points[1:, None]
    # Past the last point osu! mirrors the previous one rather than clamping.
    v4 = np.concatenate([points[2:], [2 * points[-1] - points[-2]]])[:, None]
    t = np.repeat(np.arange(CATMULL_POINTS_PER_SEGMENT + 1) / CATMULL_POINTS_PER_SEGMENT, 2)[1:-1, None]
    curve = 0.5 * (
        2 * v2 + (v3 - v1) * t + (2 * v1 - 5 * v2 + 4 * v3 - v4) * t**2 + (3 * v2 - v1 - 3 * v3 + v4) * t**3
    )
    return curve.reshape(-1, 2)


def _circular_arc(points: np.ndarray) -> np.ndarray | None:
    """The arc through three points, or None when they are (nearly) collinear and osu! draws a bezier."""
    a, b, c = points
    if _is_linear(tuple(a), tuple(b), tuple(c)):
        return None
    d = 2 * (a[0] * (b[1] - c[1]) + b[0] * (c[1] - a[1]) + c[0] * (a[1] - b[1]))
    a_sq, b_sq, c_sq = a @ a, b @ b, c @ c
    centre_x = a_sq * (b[1] - c[1]) + b_sq * (c[1] - a[1]) + c_sq * (a[1] - b[1])
    centre_y = a_sq * (c[0] - b[0]) + b_sq * (a[0] - c[0]) + c_sq * (b[0] - a[0])
    centre = np.array([centre_x, centre_y]) / d
    radius = float(np.hypot(*(a - centre)))
    theta_start = math.atan2(a[1] - centre[1], a[0] - centre[0])
    theta_end = math.atan2(c[1] - centre[1], c[0] - centre[0])
    while theta_end < theta_start:
        theta_end += 2 * math.pi
    theta_range, direction = theta_end - theta_start, 1.0
    # Go the other way round when b lies on the other side of the chord a→c.
    if (c[1] - a[1]) * (b[0] - a[0]) - (c[0] - a[0]) * (b[1] - a[1]) < 0:
        theta_range, direction = 2 * math.pi - theta_range, -1.0
    # Enough points that no chord strays more than the tolerance from the circle.
    if 2 * radius <= CIRCULAR_ARC_TOLERANCE_PX:
        n_points = 2
    else:
        step = 2 * math.acos(1 - CIRCULAR_ARC_TOLERANCE_PX / radius)
        # Capped: absurd radii (fuzzed or broken maps) would otherwise ask for millions of points.
        n_points = min(max(2, math.ceil(theta_range / step)), _MAX_ARC_POINTS)
    theta = theta_start + direction * theta_range * np.arange(n_points) / (n_points - 1)
    return centre + radius * np.column_stack([np.cos(theta), np.sin(theta)])


def _bspline(points: np.ndarray, degree: int) -> np.ndarray:
    """osu!'s adaptive flattening: halve each bezier piece until its second differences are within tolerance.

    osu! recurses depth-first; here all pieces of one depth are halved together and the flat ones are
    put back in curve order by their start parameter, which gives the same points.
    """
    degree = max(1, min(degree, len(points) - 1))
    left, right, reduce = _bezier_operators(degree + 1)
    active = _bspline_to_beziers(points, degree)
    starts = np.arange(len(active), dtype=np.float64)
    width = 1.0
    done_starts, done_points = [], []
    for depth in range(_MAX_SUBDIVISION_DEPTH + 1):
        second = active[:, :-2] - 2 * active[:, 1:-1] + active[:, 2:]
        flat = ~np.any((second**2).sum(axis=2) > 4 * BEZIER_TOLERANCE_PX**2, axis=1)
        if depth == _MAX_SUBDIVISION_DEPTH or len(active) > _MAX_ACTIVE_PIECES:
            flat[:] = True  # bounded work and memory for pathological control points
        done_starts.append(starts[flat])
        done_points.append(reduce @ active[flat])
        active, starts = active[~flat], starts[~flat]
        if not len(active):
            break
        width /= 2
        active = np.concatenate([left @ active, right @ active])
        starts = np.concatenate([starts, starts + width])
    order = np.argsort(np.concatenate(done_starts), kind="stable")
    return np.concatenate([np.concatenate(done_points)[order].reshape(-1, 2), points[-1:]])


@cache
def _bezier_operators(n_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Matrices acting on (n, 2) control points: the left and right halves at t = 1/2, and the
    n - 1 output points osu! takes from a flat piece (its start, then smoothed midpoints)."""
    mid = np.eye(n_points)
    left, right = np.empty((n_points, n_points)), np.empty((n_points, n_points))
    for i in range(n_points):
        left[i], right[n_points - 1 - i] = mid[0], mid[n_points - 1 - i]
        mid[: n_points - 1 - i] = (mid[: n_points - 1 - i] + mid[1 : n_points - i]) / 2
    halves = np.concatenate([left, right[1:]])
    reduce = np.empty((n_points - 1, n_points))
    reduce[0] = np.eye(n_points)[0]
    for i in range(1, n_points - 1):
        reduce[i] = 0.25 * (halves[2 * i - 1] + 2 * halves[2 * i] + halves[2 * i + 1])
    return left, right, reduce


def _bspline_to_beziers(points: np.ndarray, degree: int) -> np.ndarray:
    """Split a clamped uniform B-spline into bezier pieces by Boehm knot insertion: (pieces, degree + 1, 2)."""
    last = len(points) - 1
    if degree == last:
        return points[None].copy()
    work = points.copy()
    pieces = []
    for i in range(last - degree):
        piece = [work[i].copy()]
        for j in range(degree - 1):
            piece.append(work[i + 1].copy())
            for k in range(1, degree - j):
                weight = min(k, last - degree - i)
                work[i + k] = (weight * work[i + k] + work[i + k + 1]) / (weight + 1)
        piece.append(work[i + 1].copy())
        pieces.append(piece)
    pieces.append(list(work[last - degree :]))
    return np.array(pieces)
