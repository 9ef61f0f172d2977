"""Training data for the refiner: the point sequences of a folder of .osu files (no audio), split by
beatmap set, drawn as random windows with mirror augmentation and classifier-free class dropout."""

from __future__ import annotations

import json
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rosu_pp_py as rosu
import torch
from tqdm.auto import tqdm

from osu_diffusion.features import PointSequence, beatmap_points, to_model_space
from osu_diffusion.model import ClassIds, class_ids
from osuT5.beatmap import Beatmap, parse_beatmap_file
from osuT5.data.collection import set_key
from osuT5.errors import BeatmapError, OsuT5Error
from osuT5.style import Conditions

log = logging.getLogger(__name__)
_CACHE_VERSION = 1


@dataclass
class MapPoints:
    """One beatmap ready for training: its points, its conditions and the set it belongs to."""

    path: str
    set_key: str
    points: PointSequence
    conditions: Conditions


def map_conditions(beatmap: Beatmap, stars: float | None, descriptors: tuple[str, ...] = ()) -> Conditions:
    """What the refiner is conditioned on: mode, star rating, circle size and descriptors."""
    return Conditions(
        gamemode=beatmap.mode,
        difficulty_stars=stars,
        circle_size=beatmap.circle_size,
        descriptors=descriptors,
    )


def star_rating(path: Path) -> float | None:
    try:
        return float(rosu.Difficulty().calculate(rosu.Beatmap(path=str(path))).stars)
    except Exception:  # rosu raises its own parse errors; the stars then stay unknown
        return None


def load_maps(root: str | Path, modes: list[int], cache_file: str | Path | None = None) -> list[MapPoints]:
    """Every std/catch map under `root` with at least two points, sorted by path (cached if asked)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise OsuT5Error(f"{root}: not a folder of beatmaps")
    cache = Path(cache_file).expanduser() if cache_file else None
    key = (_CACHE_VERSION, str(root.resolve()), sorted(modes))
    if cache is not None and cache.is_file():
        with cache.open("rb") as f:
            saved_key, maps = pickle.load(f)
        if saved_key == key:
            return maps
    maps = []
    for path in tqdm(sorted(root.rglob("*.osu")), desc="reading maps", leave=False):
        try:
            beatmap = parse_beatmap_file(path)
        except BeatmapError as e:
            log.warning("skipped: %s", e)
            continue
        if int(beatmap.mode) not in modes:
            continue
        points = beatmap_points(beatmap)
        if len(points) >= 2:
            conditions = map_conditions(beatmap, star_rating(path))
            maps.append(MapPoints(str(path), set_key(beatmap, path), points, conditions))
    if not maps:
        raise OsuT5Error(f"{root}: no std or catch beatmaps with hit objects found")
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with cache.open("wb") as f:
            pickle.dump((key, maps), f)
    return maps


def read_held_out(path: str | Path | None) -> set[str]:
    if not path:
        return set()
    try:
        return set(json.loads(Path(path).expanduser().read_text()))
    except (OSError, ValueError) as e:
        raise OsuT5Error(f"{path}: not a JSON list of held-out set keys ({e})") from None


def split_maps(maps: list[MapPoints], held_out: set[str]) -> tuple[list[MapPoints], list[MapPoints]]:
    return [m for m in maps if m.set_key not in held_out], [m for m in maps if m.set_key in held_out]


@dataclass
class WindowBatch:
    """Clean windows of points, padded to one length; see `Refiner` for the shapes."""

    positions: torch.Tensor
    types: torch.Tensor
    gaps_ms: torch.Tensor
    offset_ms: torch.Tensor
    length_px: torch.Tensor
    mask: torch.Tensor
    loss_mask: torch.Tensor  # points whose noise counts in the loss (movable, real)
    classes: ClassIds

    def model_inputs(self) -> tuple[torch.Tensor, ...]:
        return self.types, self.gaps_ms, self.offset_ms, self.length_px, self.mask


def window_batch(
    windows: list[tuple[PointSequence, int, int]], positions_px: list[np.ndarray], classes: ClassIds
) -> WindowBatch:
    """Stack `(points, start, stop)` slices with their (possibly altered) pixel positions."""
    width = max(stop - start for _, start, stop in windows)
    b = len(windows)
    out = {
        "positions": np.zeros((b, width, 2), np.float32),
        "types": np.zeros((b, width), np.int64),
        "gaps_ms": np.zeros((b, width, 2), np.float32),
        "offset_ms": np.zeros((b, width), np.float32),
        "length_px": np.zeros((b, width), np.float32),
        "mask": np.zeros((b, width), bool),
        "loss_mask": np.zeros((b, width), bool),
    }
    for row, ((points, start, stop), xy) in enumerate(zip(windows, positions_px, strict=True)):
        n = stop - start
        before, after = points.gaps_ms()
        out["positions"][row, :n] = to_model_space(xy)
        out["types"][row, :n] = points.types[start:stop]
        out["gaps_ms"][row, :n] = np.stack([before[start:stop], after[start:stop]], axis=-1)
        out["offset_ms"][row, :n] = points.time_ms[start:stop] - points.time_ms[start]
        out["length_px"][row, :n] = points.length_px[start:stop]
        out["mask"][row, :n] = True
        out["loss_mask"][row, :n] = points.movable[start:stop]
    tensors = {k: torch.from_numpy(v) for k, v in out.items()}
    return WindowBatch(**tensors, classes=classes)


class WindowSampler:
    """Random training windows: maps drawn by point count, a random start, mirrors, class dropout."""

    def __init__(
        self,
        maps: list[MapPoints],
        window: int,
        flip_probability: float,
        class_dropout: float,
        descriptors: tuple[str, ...],
        seed: int,
    ):
        self.maps, self.window = maps, window
        self.flip, self.dropout, self.descriptors = flip_probability, class_dropout, descriptors
        sizes = np.array([len(m.points) for m in maps], dtype=np.float64)
        self.weights = sizes / sizes.sum()
        self.rng = np.random.default_rng(seed)

    def sample(self, batch_size: int) -> WindowBatch:
        chosen = self.rng.choice(len(self.maps), size=batch_size, p=self.weights)
        windows, positions = [], []
        for i in chosen:
            points = self.maps[i].points
            start = int(self.rng.integers(0, max(len(points) - self.window, 0) + 1))
            stop = min(start + self.window, len(points))
            # Far-off control points (a few odd maps) would only teach the model outliers.
            xy = np.clip(points.positions_px[start:stop], (-256, -256), (768, 640))
            if self.rng.random() < self.flip:
                xy[:, 0] = 512 - xy[:, 0]
            if self.rng.random() < self.flip:
                xy[:, 1] = 384 - xy[:, 1]
            windows.append((points, start, stop))
            positions.append(xy)
        classes = class_ids([self.maps[i].conditions for i in chosen], self.descriptors)
        for field in ("stars", "circle_size", "descriptors"):
            drop = torch.from_numpy(self.rng.random(batch_size) < self.dropout)
            classes = classes.drop(drop, field)
        return window_batch(windows, positions, classes)


def fixed_windows(
    maps: list[MapPoints], window: int, limit: int, descriptors: tuple[str, ...]
) -> list[WindowBatch]:
    """Non-overlapping evaluation windows over `maps` (at most `limit`), in batches of 32."""
    spans = [
        (m, s, min(s + window, len(m.points))) for m in maps for s in range(0, len(m.points) - 1, window)
    ]
    spans = spans[:limit]
    batches = []
    for i in range(0, len(spans), 32):
        part = spans[i : i + 32]
        classes = class_ids([m.conditions for m, _, _ in part], descriptors)
        batches.append(
            window_batch(
                [(m.points, s, e) for m, s, e in part],
                [m.points.positions_px[s:e] for m, s, e in part],
                classes,
            )
        )
    return batches
