"""Training throughput on this machine: data-loading samples/s from the mel cache, and training
samples/s (forward, backward, AdamW update) of a model preset on CPU; medians of several runs."""

from __future__ import annotations

import argparse
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path

import torch
from timing import median_seconds  # benchmarks/timing.py
from torch.utils.data import DataLoader

from osuT5.audio import MS_PER_FRAME
from osuT5.config import OptimSettings
from osuT5.data.collection import find_beatmaps
from osuT5.data.dataset import BeatmapWindows, DataConfig, collate, prepare
from osuT5.data.render import render_set
from osuT5.model import OsuT5Config, OsuT5Model, count_parameters
from osuT5.style import DEFAULT_DESCRIPTORS
from osuT5.tokenizer import Tokenizer, TokenizerConfig
from osuT5.training.optim import build_optimizer

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "beatmaps"
# Rendered when no --root is given: two difficulties of different modes, a few minutes of audio.
DEFAULT_MAPS = (
    "std/eternity-beatmap-database/Cranky - Crocus - PandaHero - Easy.osu",
    "mania/eternity-beatmap-database/James Landino - Reaction feat. Slyleaf - AncuL - Normal.osu",
)


def render_collection(folder: Path) -> Path:
    for relative in DEFAULT_MAPS:
        render_set(CORPUS / relative, folder, variants=1, seed=0)
    return folder


def loading_seconds(dataset: BeatmapWindows, batch_size: int, workers: int, n_batches: int) -> float:
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, collate_fn=collate, num_workers=workers)
    return median_seconds(lambda: sum(1 for _ in islice(cycle(loader), n_batches)), runs=3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, help="collection to read (default: render two corpus maps)")
    parser.add_argument("--preset", default="tiny", help="model size preset")
    parser.add_argument("--window-frames", type=int, default=2048, help="mel frames per window")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3, help="updates per timed training run")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per measurement (median reported)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2], help="DataLoader worker counts")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        root = args.root or render_collection(Path(scratch) / "songs")
        cache = Path(scratch) / "mel"
        start = time.perf_counter()
        prepared = [prepare(entry, cache) for entry in find_beatmaps(root)]
        first_pass = time.perf_counter() - start
        minutes = sum(p.mel.shape[1] for p in prepared) * MS_PER_FRAME / 60000
        start = time.perf_counter()
        prepared = [prepare(entry, cache) for entry in find_beatmaps(root)]
        cached = time.perf_counter() - start
        print(
            f"{len(prepared)} beatmaps, {minutes:.1f} min of audio: first pass (decode + mel + parse) "
            f"{first_pass:.1f} s = {first_pass / minutes:.2f} s per minute of audio; from the cache {cached:.1f} s"
        )
        tokenizer = Tokenizer(
            TokenizerConfig(window_ms=args.window_frames * MS_PER_FRAME, descriptors=DEFAULT_DESCRIPTORS)
        )
        dataset = BeatmapWindows(prepared, tokenizer, DataConfig(window_frames=args.window_frames))
        n = args.batch_size
        print(
            f"{len(dataset)} windows of {args.window_frames} frames; batch {n}; torch threads {args.threads}"
        )
        for workers in args.workers:
            seconds = loading_seconds(dataset, n, workers, n_batches=10)
            print(f"data loading, {workers} workers: {10 * n / seconds:8.1f} samples/s")

        config = OsuT5Config(preset=args.preset, max_source_frames=args.window_frames)
        model = OsuT5Model(config, tokenizer).train()
        optimizer = build_optimizer(model, OptimSettings())
        batches = list(
            islice(cycle(DataLoader(dataset, batch_size=n, shuffle=True, collate_fn=collate)), args.steps)
        )
        tokens = sum(int(b["decoder_attention_mask"].sum()) for b in batches)

        def updates() -> None:
            for batch in batches:
                model(**batch).loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)

        seconds = median_seconds(updates, args.runs)
        print(
            f"training, {args.preset} ({count_parameters(model) / 1e6:.1f}M parameters): "
            f"{args.steps * n / seconds:8.2f} samples/s, {tokens / seconds:8.0f} decoder tokens/s, "
            f"{seconds / args.steps:.2f} s/update"
        )


if __name__ == "__main__":
    main()
