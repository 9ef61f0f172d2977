"""How much the position refiner helps, and how fast it is. Held-out corpus maps (beatmap sets neither
the default model nor the shipped refiner trained on) get their circle, slider-head and control-point
positions snapped to the 32 px grid and jittered (Gaussian, 4 px), then refined:

- position error: mean distance (px) of circles and slider heads to the original, before and after;
- stream spacing spread: within runs of >= 4 circles a quarter beat apart, the standard deviation of
  distance / time gap (px/ms), averaged over runs: original vs coarse (before) vs refined (after);
- slider length: share of sliders whose control path falls more than 1 % short of the required length
  (osu! would extend it with a straight piece), and the worst shortfall;
- speed: median wall time to refine 1,000 objects (a held-out std map's first 1,000), over --runs runs.

    python benchmarks/refine.py [--start-steps 10,30,60,99] [--num-steps 3] [--max-maps 24] [--runs 5]
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import numpy as np
import torch
from timing import median_seconds  # benchmarks/timing.py

from osu_diffusion.dataset import map_conditions, star_rating
from osu_diffusion.evaluate import (
    coarsen,
    out_of_playfield,
    position_error,
    slider_length_errors,
    stream_pairs,
    stream_spacing_spread,
)
from osu_diffusion.refine import PositionRefiner, RefineSettings
from osuT5.beatmap import parse_beatmap_file
from osuT5.data.collection import set_key
from osuT5.inference.options import DEFAULT_MODEL_PATH, DEFAULT_REFINER_PATH
from osuT5.model.ship import held_out_sets

REPO = Path(__file__).resolve().parents[1]


def held_out_maps(corpus: Path, max_maps: int) -> list:
    held = held_out_sets(DEFAULT_MODEL_PATH)
    maps = []
    for mode in ("std", "catch"):
        found = [p for p in sorted((corpus / "beatmaps" / mode).rglob("*.osu"))]
        chosen = []
        for path in found:
            beatmap = parse_beatmap_file(path)
            if set_key(beatmap, path) in held and len(beatmap.hit_objects) >= 50:
                chosen.append(beatmap)
        maps += chosen[: max_maps * 3 // 4 if mode == "std" else max_maps // 4]
    return maps


def score(refiner: PositionRefiner, maps: list, settings: RefineSettings, jitter_px: float) -> dict:
    rows = {"std": [], "catch": []}
    spreads, lengths, outside = [], [[], [], []], 0
    for i, original in enumerate(maps):
        coarse = coarsen(original, jitter_px=jitter_px, seed=i)
        # Conditioned as inference conditions it: the requested star rating (here the original's).
        conditions = map_conditions(coarse, star_rating(original.path))
        refined = refiner.refine(coarse, conditions, settings)
        mode = "std" if original.mode == 0 else "catch"
        rows[mode].append((position_error(original, coarse), position_error(original, refined)))
        runs = stream_pairs(original)
        if runs:
            spreads.append([stream_spacing_spread(b, runs) for b in (original, coarse, refined)])
        for column, b in enumerate((original, coarse, refined)):
            lengths[column].append(slider_length_errors(b))
        outside += out_of_playfield(refined)
    return {
        "rows": rows,
        "spreads": np.array(spreads),
        "lengths": [np.concatenate(c) for c in lengths],
        "outside": outside,
    }


def report(start_step: int, result: dict) -> None:
    print(f"\nstart_step {start_step}:")
    for mode, rows in result["rows"].items():
        if rows:
            before, after = np.array(rows).mean(axis=0)
            print(f"  {mode:5s} {len(rows):3d} maps  position error {before:6.2f} px -> {after:6.2f} px")
    if len(result["spreads"]):
        original, before, after = result["spreads"].mean(axis=0)
        print(
            f"  stream spacing spread (px/ms, {len(result['spreads'])} maps): original {original:.4f}, "
            f"before {before:.4f}, after {after:.4f}"
        )
    for name, errors in zip(("original", "before", "after"), result["lengths"], strict=True):
        print(
            f"  sliders {name:8s}: {np.mean(errors > 0.01) * 100:5.2f} % short by > 1 %, worst {errors.max() * 100:6.2f} %"
        )
    print(f"  circles/heads outside the playfield after refinement: {result['outside']}")


def thousand_objects(maps: list):
    source = max((m for m in maps if m.mode == 0), key=lambda m: len(m.hit_objects))
    beatmap = copy.deepcopy(source)
    while len(beatmap.hit_objects) < 1000:  # repeat the map later in time if it is short
        shift = beatmap.hit_objects[-1].end_time + 1000 - source.hit_objects[0].time
        for h in copy.deepcopy(source.hit_objects):
            h.time += shift
            if hasattr(h, "spinner_end"):
                h.spinner_end += shift
            beatmap.hit_objects.append(h)
    beatmap.hit_objects = beatmap.hit_objects[:1000]
    return coarsen(beatmap)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--refiner", default=DEFAULT_REFINER_PATH)
    parser.add_argument("--corpus", default=str(REPO.parent / "shared" / "corpus"))
    parser.add_argument("--start-steps", default="10,30,60,99")
    parser.add_argument("--num-steps", type=int, default=3)
    parser.add_argument("--jitter-px", type=float, default=4.0)
    parser.add_argument("--max-maps", type=int, default=24)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    refiner = PositionRefiner.load(args.refiner)
    maps = held_out_maps(Path(args.corpus), args.max_maps)
    print(
        f"{len(maps)} held-out maps, grid 32 px + {args.jitter_px:g} px jitter, {args.num_steps} steps, "
        f"{torch.get_num_threads()} torch threads"
    )
    for start in (int(s) for s in args.start_steps.split(",")):
        report(
            start,
            score(refiner, maps, RefineSettings(start_step=start, num_steps=args.num_steps), args.jitter_px),
        )
    beatmap = thousand_objects(maps)
    default = RefineSettings()
    seconds = median_seconds(lambda: refiner.refine(beatmap, settings=default), args.runs)
    print(
        f"\nrefine 1,000 objects (start_step {default.start_step}, {default.num_steps} steps): "
        f"median {seconds:.2f} s over {args.runs} runs"
    )


if __name__ == "__main__":
    main()
