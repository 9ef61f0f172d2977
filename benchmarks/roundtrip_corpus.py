"""Tokenizer round trip over a folder of .osu files: per-mode fidelity figures.

    python benchmarks/roundtrip_corpus.py [FOLDER] [--every N]

FOLDER defaults to ../shared/corpus/beatmaps. Prints, per game mode, the share of objects at the
exact millisecond, worst errors, slider lengths, hitsounds, timing, kiai and star-rating agreement.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from osuT5.beatmap import parse_beatmap_file
from osuT5.roundtrip import compare, roundtrip

DEFAULT_FOLDER = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "beatmaps"


def check(path: Path):
    beatmap = parse_beatmap_file(path)
    if not beatmap.hit_objects or not beatmap.uninherited_points:
        return None
    return str(path), compare(beatmap, roundtrip(beatmap))


def summarise(results) -> dict:
    by_mode = defaultdict(list)
    for path, report in results:
        by_mode[report.mode.name.lower()].append((path, report))
    summary = {}
    for mode, items in sorted(by_mode.items()):
        reports = [r for _, r in items]
        n_obj = sum(min(r.n_objects) for r in reports)
        sliders = sum(r.sliders for r in reports)
        stars_ok = sum(abs(r.stars[1] - r.stars[0]) <= 0.02 * max(r.stars[0], 1e-9) for r in reports)
        summary[mode] = {
            "maps": len(reports),
            "same_count_pct": 100 * sum(r.same_count for r in reports) / len(reports),
            "exact_time_pct": 100 * sum(r.exact_time for r in reports) / max(n_obj, 1),
            "worst_time_error_ms": max(r.worst_time_error_ms for r in reports),
            "worst_end_error_ms": max(r.worst_end_error_ms for r in reports),
            "worst_position_error_px": max(r.worst_position_error_px for r in reports),
            "mania_column_mismatches": sum(r.column_mismatches for r in reports),
            "slider_ok_pct": 100 * sum(r.slider_length_ok for r in reports) / max(sliders, 1),
            "samples_equal_pct": 100
            * sum(r.samples_equal for r in reports)
            / max(sum(r.samples_total for r in reports), 1),
            "redlines_ok_pct": 100 * sum(r.redlines_ok for r in reports) / len(reports),
            "kiai_ok_pct": 100 * sum(r.kiai_equal for r in reports) / len(reports),
            "sv_mismatches": sum(r.sv_mismatches for r in reports),
            "stars_within_2pct": 100 * stars_ok / len(reports),
            "worst": sorted(items, key=lambda it: it[1].exact_time / max(min(it[1].n_objects), 1))[:3],
        }
    return summary


def run(folder: Path, every: int = 1, workers: int = 2) -> dict:
    paths = sorted(folder.rglob("*.osu"))[::every]
    with ProcessPoolExecutor(workers) as pool:
        results = [r for r in pool.map(check, paths, chunksize=4) if r is not None]
    return summarise(results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--every", type=int, default=1, help="take every N-th file")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    for mode, s in run(args.folder, args.every, args.workers).items():
        worst = s.pop("worst")
        print(
            f"[{mode}] "
            + ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in s.items())
        )
        for path, report in worst:
            print(
                f"    lowest exact-time share: {Path(path).name}: {report.exact_time}/{min(report.n_objects)}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
