"""Tokenizer round trip over a folder of .osu files: per-mode fidelity figures.

    python benchmarks/roundtrip_corpus.py [FOLDER] [--every N] [--workers W]

FOLDER defaults to ../shared/corpus/beatmaps. Prints, per game mode, the share of objects at the
exact millisecond, worst errors, slider lengths, hitsounds, timing, kiai and star-rating agreement,
then the maps with the most sliders off by more than 1 %.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from osuT5.roundtrip import RoundTripReport, roundtrip_file, summarise

DEFAULT_FOLDER = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "beatmaps"


def run(paths: list[Path], workers: int = 2) -> list[RoundTripReport]:
    with ProcessPoolExecutor(workers) as pool:
        return [r for r in pool.map(roundtrip_file, paths, chunksize=4) if r is not None]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--every", type=int, default=1, help="take every N-th file")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    paths = sorted(args.folder.rglob("*.osu"))[:: args.every]
    start = time.perf_counter()
    reports = run(paths, args.workers)
    seconds = time.perf_counter() - start
    for mode, figures in summarise(reports).items():
        print(
            f"[{mode}] "
            + ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items())
        )
    worst = sorted(reports, key=lambda r: r.sliders - r.slider_length_ok, reverse=True)[:5]
    for r in worst:
        if r.sliders > r.slider_length_ok:
            print(
                f"    sliders off by > 1 %: {r.sliders - r.slider_length_ok}/{r.sliders} in {Path(r.path).name}"
            )
    print(f"{len(reports)} maps in {seconds:.1f} s with {args.workers} workers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
