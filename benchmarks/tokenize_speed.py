"""Parse + tokenize throughput over a folder of .osu files (one process).

    python benchmarks/tokenize_speed.py [FOLDER] [--every N] [--repeats R]

Prints maps/s and objects/s for parsing alone and for parse -> events -> windowed token ids (as
training cuts them), the median of R passes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from osuT5.beatmap import parse_beatmap_file
from osuT5.data.beatmap_events import map_events, timing_events
from osuT5.events import EventType
from osuT5.roundtrip import default_tokenizer, tokenize_in_windows

DEFAULT_FOLDER = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "beatmaps"


def tokenize(path: Path) -> int:
    beatmap = parse_beatmap_file(path)
    tokenizer = default_tokenizer()
    for events in (map_events(beatmap), timing_events(beatmap)):
        times = [e.value for e in events if e.type == EventType.TIME_SHIFT]
        if times:
            tokenize_in_windows(events, tokenizer, max(times))
    return len(beatmap.hit_objects)


def parse_only(path: Path) -> int:
    return len(parse_beatmap_file(path).hit_objects)


def measure(paths: list[Path], work, repeats: int) -> tuple[float, int]:
    seconds = []
    objects = 0
    for _ in range(repeats):
        start = time.perf_counter()
        objects = sum(work(p) for p in paths)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), objects


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--every", type=int, default=2, help="take every N-th file (default 2)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    paths = sorted(args.folder.rglob("*.osu"))[:: args.every]
    default_tokenizer()  # build the vocabulary outside the timed region
    for label, work in (("parse", parse_only), ("parse + events + tokens", tokenize)):
        seconds, objects = measure(paths, work, args.repeats)
        print(
            f"{label:>24}: {len(paths) / seconds:8.1f} maps/s  {objects / seconds:10.0f} objects/s"
            f"  ({len(paths)} maps, {objects} objects, median of {args.repeats}: {seconds:.2f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
