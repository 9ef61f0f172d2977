"""Validation loss and per-kind token accuracy of a saved model on the sets its training held out.

    python -m osuT5.training.evaluate MODEL_FOLDER DATA_ROOT [--batches 12]

The split is recomputed from the model's own training config (validation fraction and data seed),
and the windows are the unaugmented ones training evaluates on, so the figures match its log.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Subset

from osuT5.data.collection import find_beatmaps, read_set_keys, split_by_set
from osuT5.data.dataset import BeatmapWindows, DataConfig, collate, prepare
from osuT5.errors import OsuT5Error
from osuT5.model import OsuT5Model
from osuT5.training.metrics import TokenMetrics


@torch.inference_mode()
def evaluate_model(
    model: OsuT5Model, root: Path, batches: int, batch_size: int = 8, sets: set[str] | None = None
) -> dict[str, float]:
    """Teacher-forced token figures on the held-out songs of `root`: those of the model's own training
    split, or, with `sets`, the beatmaps of those set keys (the same songs for models trained apart)."""
    data = (model.train_config or {}).get("data", {})
    if sets is not None:
        held_out = [e for e in find_beatmaps(root) if e.set_key in sets]
    else:
        _, held_out = split_by_set(
            find_beatmaps(root), data.get("validation_fraction", 0.1), data.get("seed", 0)
        )
    cache = Path(data.get("cache_dir", "~/.cache/osuT5/mel")).expanduser()
    prepared = []
    for entry in held_out:
        try:
            prepared.append(prepare(entry, cache))
        except OsuT5Error as e:
            print(f"warning: skipped {entry.osu_path}: {e}", file=sys.stderr)
    config = replace(
        DataConfig(window_frames=model.config.max_source_frames, max_tokens=model.config.max_target_tokens),
        lookback_prob=0.0,
        time_jitter_steps=0,
        condition_dropout=0.0,
        random_offset=False,
    )
    windows = BeatmapWindows(prepared, model.tokenizer, config)
    subset = Subset(windows, range(min(len(windows), batches * batch_size)))
    metrics = TokenMetrics(model.tokenizer)
    for batch in DataLoader(subset, batch_size=batch_size, collate_fn=collate):
        labels = batch.pop("labels")
        metrics.update(model(**batch).logits, labels)
    return {**metrics.summary(), "songs": len(prepared), "windows": len(subset)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m osuT5.training.evaluate", description=__doc__)
    parser.add_argument("model", help="model folder")
    parser.add_argument("root", help="the collection the model was trained on")
    parser.add_argument(
        "--batches", type=int, default=12, help="batches of 8 windows (training's eval_batches)"
    )
    parser.add_argument(
        "--sets",
        metavar="JSON",
        help="evaluate on these set keys (a model's held_out_sets.json) instead of the model's own split",
    )
    args = parser.parse_args(argv)
    try:
        sets = read_set_keys(args.sets) if args.sets else None
        model = OsuT5Model.from_pretrained(args.model).float()
        figures = evaluate_model(model, Path(args.root), args.batches, sets=sets)
    except OsuT5Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(" ".join(f"{k}={v:.4g}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
