"""Copy a trained model folder into a shipping one with fp16 weights (half the size; loading casts
back to fp32 on the CPU, so outputs change by fp16 rounding only). With `--data-root`, also record
which beatmap sets training held out (the same split training made), so benchmarks and tests can
evaluate on songs the model never saw.

    python -m osuT5.model.ship outputs/train/default_model/final osuT5/assets/default_model \
        --data-root data/synthetic
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from osuT5.data.collection import find_beatmaps, split_by_set
from osuT5.errors import OsuT5Error
from osuT5.files import atomic_write_text
from osuT5.model.modeling import WEIGHTS_FILE, OsuT5Model

HELD_OUT_FILE = "held_out_sets.json"


def write_held_out_sets(model: OsuT5Model, root: Path, folder: Path) -> None:
    """The set keys training held out, recomputed from its data settings (the split is by hash)."""
    data = (model.train_config or {}).get("data", {})
    _, held_out = split_by_set(find_beatmaps(root), data.get("validation_fraction", 0.1), data.get("seed", 0))
    # Folder keys (maps naming no set and no song) are paths on the training machine: meaningless elsewhere.
    keys = sorted({e.set_key for e in held_out if not e.set_key.startswith("folder:")})
    atomic_write_text(folder / HELD_OUT_FILE, json.dumps(keys, indent=1, ensure_ascii=False), overwrite=True)


def held_out_sets(model_folder: str | Path) -> set[str]:
    """Set keys a shipped model never trained on (empty when not recorded)."""
    path = Path(model_folder) / HELD_OUT_FILE
    return set(json.loads(path.read_text())) if path.is_file() else set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m osuT5.model.ship", description=__doc__)
    parser.add_argument("src", help="a model folder written by training (final/ or a checkpoint's model/)")
    parser.add_argument("dst", help="the folder to write (replaced file by file, atomically)")
    parser.add_argument("--data-root", help="the training collection: record its held-out sets")
    args = parser.parse_args(argv)
    try:
        model = OsuT5Model.from_pretrained(args.src)
        folder = model.save_pretrained(args.dst, dtype=torch.float16)
        if args.data_root:
            write_held_out_sets(model, Path(args.data_root), folder)
    except OsuT5Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    size = (folder / WEIGHTS_FILE).stat().st_size / 2**20
    print(f"wrote {folder} ({size:.1f} MiB of fp16 weights)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
