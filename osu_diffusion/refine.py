"""Refinement: read a map's coarse positions as a late sample of the noise schedule and denoise them
to final positions, in overlapping windows batched together; after every step spinners stay put,
points stay in the playfield and slider ends follow the control points at the required length."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from osu_diffusion import DEFAULT_REFINER_PATH
from osu_diffusion.features import (
    DERIVED_TYPES,
    FIXED_TYPES,
    PointSequence,
    beatmap_points,
    to_model_space,
    to_pixels,
)
from osu_diffusion.model import Refiner, class_ids
from osu_diffusion.schedule import make_scheduler, set_refinement_steps
from osuT5.beatmap import Beatmap, Circle, GameMode, Slider
from osuT5.beatmap.objects import PLAYFIELD_HEIGHT, PLAYFIELD_WIDTH
from osuT5.beatmap.slider_path import SliderPath, path_segments
from osuT5.style import Conditions

REFINED_MODES = (GameMode.STD, GameMode.CATCH)
# A control path shorter than the required length would make osu! extend its last piece in a straight
# line. Paths are kept this much longer, so that rounding the points to whole pixels cannot undo it.
_ROUNDING_MARGIN_PX = 2.0
_MAX_SCALINGS = 4
_PLAYFIELD = np.array([PLAYFIELD_WIDTH, PLAYFIELD_HEIGHT], dtype=np.float64)


@dataclass(frozen=True)
class RefineSettings:
    """How far back in the schedule the coarse positions are placed, and how many steps lead to 0."""

    start_step: int = 30  # schedule step the coarse positions are read as (of 1000; ~15 px of noise)
    num_steps: int = 3  # deterministic (DDIM) steps from about start_step down to clean positions
    cfg_scale: float = 1.0  # classifier-free guidance on the style conditions; 1 = plain conditional


@dataclass
class _Slider:
    """The pieces of one slider that the per-step fix needs: its point rows and its path rules."""

    head: int
    anchors: np.ndarray
    end: int
    curve_type: str
    point_types: list
    length_px: float
    coarse_offsets: np.ndarray  # anchors − head of the coarse map, for a path that collapsed


class PositionRefiner:
    """A loaded refiner; `refine(beatmap)` returns a refined copy (times and objects unchanged)."""

    def __init__(self, model: Refiner):
        self.model = model.eval()
        self.scheduler = make_scheduler(model.config)

    @classmethod
    def load(cls, folder: str | Path = DEFAULT_REFINER_PATH) -> PositionRefiner:
        return cls(Refiner.load(folder))

    @torch.no_grad()
    def refine(
        self,
        beatmap: Beatmap,
        conditions: Conditions | None = None,
        settings: RefineSettings = RefineSettings(),
    ) -> Beatmap:
        """A copy of `beatmap` with refined positions; maps of other modes come back unchanged."""
        refined = copy.deepcopy(beatmap)
        if beatmap.mode not in REFINED_MODES or not beatmap.hit_objects:
            return refined
        points = beatmap_points(beatmap)
        if len(points) < 2:
            return refined
        conditions = conditions or Conditions(gamemode=beatmap.mode, circle_size=beatmap.circle_size)
        positions_px = self.refine_points(points, beatmap, conditions, settings)
        _write_back(refined, points, positions_px)
        return refined

    def refine_points(
        self, points: PointSequence, beatmap: Beatmap, conditions: Conditions, settings: RefineSettings
    ) -> np.ndarray:
        """Refined pixel positions (N, 2) of `points`, starting from `points.positions_px`."""
        fixer = _StepFix(points, beatmap)
        windows = _Windows(points, self.model.config.window)
        classes = class_ids([conditions] * windows.count, self.model.descriptors)
        null = classes.drop(torch.ones(windows.count, dtype=torch.bool), "stars")
        null = null.drop(torch.ones(windows.count, dtype=torch.bool), "circle_size")
        null = null.drop(torch.ones(windows.count, dtype=torch.bool), "descriptors")
        timesteps = set_refinement_steps(self.scheduler, settings.start_step, settings.num_steps)
        # The coarse slider ends already lie on their paths (beatmap_points); only clamp.
        start = np.clip(points.positions_px, 0, _PLAYFIELD)
        x = torch.from_numpy(to_model_space(start)).float()
        positions_px = start
        for t in timesteps:
            steps = torch.full((windows.count,), int(t))
            eps = self.model.forward_with_cfg(
                windows.gather(x),
                *windows.inputs,
                steps,
                classes=classes,
                null=null,
                cfg_scale=settings.cfg_scale,
            )
            x = self.scheduler.step(windows.scatter(eps), t, x, eta=0.0).prev_sample
            positions_px = fixer.apply(to_pixels(x.double().numpy()), whole_pixels=t == timesteps[-1])
            x = torch.from_numpy(to_model_space(positions_px)).float()
        return positions_px


class _Windows:
    """Overlapping windows (stride three quarters of a window) over a point sequence; each point takes
    the prediction of the window where it sits most centrally, so it sees at least an eighth of a
    window of neighbours on each side."""

    def __init__(self, points: PointSequence, width: int):
        n = len(points)
        width = min(width, n)
        stride = max(width - width // 4, 1)
        starts = list(range(0, max(n - width, 0) + 1, stride))
        if starts[-1] + width < n:
            starts.append(n - width)
        self.count, self.width = len(starts), width
        self.index = torch.tensor([list(range(s, s + width)) for s in starts])  # (K, W)
        centres = np.array(starts) + (width - 1) / 2
        owner = np.abs(np.arange(n)[:, None] - centres[None, :]).argmin(axis=1)
        self.owner = torch.from_numpy(owner)
        self.slot = torch.from_numpy(np.arange(n) - np.array(starts)[owner])
        before, after = points.gaps_ms()
        gaps = torch.from_numpy(np.stack([before, after], axis=-1)).float()
        time_ms = torch.from_numpy(points.time_ms).float()
        self.inputs = (
            torch.from_numpy(points.types)[self.index],
            gaps[self.index],
            time_ms[self.index] - time_ms[self.index[:, :1]],
            torch.from_numpy(points.length_px).float()[self.index],
            torch.ones(self.index.shape, dtype=torch.bool),
        )

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        return x[self.index]

    def scatter(self, per_window: torch.Tensor) -> torch.Tensor:
        return per_window[self.owner, self.slot]


class _StepFix:
    """What holds after every denoising step, applied in pixels."""

    def __init__(self, points: PointSequence, beatmap: Beatmap):
        self.fixed = np.isin(points.types, FIXED_TYPES)
        self.fixed_positions = points.positions_px[self.fixed].copy()
        self.format_version = beatmap.format_version
        self.sliders: list[_Slider] = []
        rows_of: dict[int, list[int]] = {}
        for row, obj_index in enumerate(points.object_index):
            rows_of.setdefault(int(obj_index), []).append(row)
        for obj_index, rows in rows_of.items():
            obj = beatmap.hit_objects[obj_index]
            if not isinstance(obj, Slider) or obj.length <= 0 or not obj.curve_points:
                continue
            rows = np.array(rows)
            head = int(rows[points.anchor_index[rows] == -1][0])
            end = int(rows[np.isin(points.types[rows], DERIVED_TYPES)][0])
            anchor_rows = rows[points.anchor_index[rows] >= 0]
            anchors = anchor_rows[np.argsort(points.anchor_index[anchor_rows])]
            offsets = points.positions_px[anchors] - points.positions_px[head]
            self.sliders.append(
                _Slider(head, anchors, end, obj.curve_type, list(obj.point_types), obj.length, offsets)
            )

    def apply(self, positions_px: np.ndarray, whole_pixels: bool = False) -> np.ndarray:
        """Fix `positions_px` in place; `whole_pixels` (the last step) rounds first, as the file will,
        so that the slider lengths are checked on the points that get written."""
        positions_px[self.fixed] = self.fixed_positions
        np.clip(positions_px, 0, _PLAYFIELD, out=positions_px)
        if whole_pixels:
            np.rint(positions_px, out=positions_px)
        for s in self.sliders:
            positions_px[s.end] = self._end(s, positions_px, whole_pixels)
        return positions_px

    def _end(self, s: _Slider, positions_px: np.ndarray, whole_pixels: bool) -> np.ndarray:
        """The point at the required length along the current control path. A path shorter than that
        (osu! would extend its last piece in a straight line) is scaled about the head until it
        reaches the length, then moved into the playfield if it fits there."""
        head, offsets = positions_px[s.head], positions_px[s.anchors] - positions_px[s.head]
        path = self._path(s, head, offsets)
        if path is not None and path.calculated_length_px >= s.length_px + _ROUNDING_MARGIN_PX / 2:
            return path.end_position
        if path is None or path.calculated_length_px < 1.0:  # collapsed onto the head
            offsets = s.coarse_offsets
        for _ in range(_MAX_SCALINGS):  # curves do not scale exactly with their control polygon
            path = self._path(s, head, offsets)
            length = path.calculated_length_px if path is not None else 0.0
            if length >= s.length_px + _ROUNDING_MARGIN_PX / 2:
                break
            offsets = offsets * ((s.length_px + _ROUNDING_MARGIN_PX) / max(length, 1.0))
            if whole_pixels:
                offsets = np.rint(offsets)
        low, high = offsets.min(axis=0).clip(max=0), offsets.max(axis=0).clip(min=0)
        head = np.clip(head, -low, np.maximum(_PLAYFIELD - high, -low))
        head = np.clip(head, 0, _PLAYFIELD)  # a shape wider than the field: the head still stays inside
        positions_px[s.head] = head
        positions_px[s.anchors] = head + offsets
        path = self._path(s, head, offsets)
        return path.end_position if path is not None else positions_px[s.anchors[-1]]

    def _path(self, s: _Slider, head: np.ndarray, offsets: np.ndarray) -> SliderPath | None:
        anchors = [tuple(p) for p in head + offsets]
        try:
            segments = path_segments(tuple(head), s.curve_type, anchors, s.point_types, self.format_version)
            return SliderPath(segments, s.length_px)
        except ValueError:
            return None


def _write_back(beatmap: Beatmap, points: PointSequence, positions_px: np.ndarray) -> None:
    """Positions onto the copy's objects, rounded to whole pixels as the stable format stores them."""
    rounded = np.rint(positions_px)
    for row in np.flatnonzero(points.movable):
        obj = beatmap.hit_objects[points.object_index[row]]
        x, y = float(rounded[row, 0]), float(rounded[row, 1])
        anchor = points.anchor_index[row]
        if anchor >= 0 and isinstance(obj, Slider):
            obj.curve_points[anchor] = (x, y)
        elif isinstance(obj, Circle | Slider):
            obj.x, obj.y = x, y
