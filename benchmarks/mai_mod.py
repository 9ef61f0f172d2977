"""Does MaiMod find known faults? Held-out corpus std maps (beatmap sets the model never trained on)
and songs rendered from them; copies get one injected fault each, and a fault counts as found when
the report (default threshold, top `per_category` of its category) has a suggestion on it:

- off_beat:      an object moved 1/4 beat later             -> rhythm, at the moved object
- moved_150px:   a circle moved 150 px                      -> positions, at that circle
- nc_removed:    a new combo removed                        -> new combos, at that object
- hitsound:      a circle's clap toggled                    -> hitsounds, at that circle
- timing_15ms:   a redline's offset moved 15 ms later       -> timing, within 20 ms of it

(the injectors: osuT5/inference/maimod/faults.py)

Prints the share found per fault kind, the suggestions an untouched map gets, and (--speed) the
median time to review a 3-minute map.

    python benchmarks/mai_mod.py [--maps 3] [--faults 4] [--excerpt-s 60] [--speed]
"""

from __future__ import annotations

import argparse
import copy
import random
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from quality import pick_held_out, render_excerpt  # benchmarks/quality.py
from timing import median_seconds  # benchmarks/timing.py

from osuT5.beatmap import parse_beatmap_file, write_beatmap_file
from osuT5.inference.mai_mod import MaiModOptions, MaiModReport, review
from osuT5.inference.maimod.faults import FAULTS, inject
from osuT5.inference.options import DEFAULT_MODEL_PATH

SPEED_SONG_MS = 180_000


def _review(path: Path, audio: Path, model: str) -> MaiModReport:
    return review(
        MaiModOptions(beatmap_path=str(path), audio_path=str(audio), model_path=model, device="cpu")
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=DEFAULT_MODEL_PATH)
    parser.add_argument("--maps", type=int, default=3, help="held-out std maps")
    parser.add_argument("--faults", type=int, default=4, help="faults of each kind per map (one per copy)")
    parser.add_argument(
        "--excerpt-s", type=int, default=60, help="seconds of each song rendered and reviewed"
    )
    parser.add_argument("--kinds", default=",".join(FAULTS), help="fault kinds to inject")
    parser.add_argument("--speed", action="store_true", help="also time a 3-minute map (median of 3 runs)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    excerpt_ms = args.excerpt_s * 1000
    sources = pick_held_out(args.maps, excerpt_ms, args.model)["std"][: args.maps]
    if not sources:
        sys.exit("error: no held-out std maps found in the corpus")
    hits: dict[str, list[bool]] = defaultdict(list)
    untouched: list[tuple[int, int]] = []
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        for n, source in enumerate(sources):
            folder = Path(scratch) / f"map{n}"
            audio, clean = render_excerpt(source, folder, excerpt_ms)
            report = _review(folder / source.name, audio, args.model)
            untouched.append((len(report.suggestions), report.candidates))
            print(
                f"{source.name[:60]}: untouched map gets {len(report.suggestions)} suggestions shown "
                f"({report.candidates} over the threshold)",
                flush=True,
            )
            for kind in args.kinds.split(","):
                used: set[int] = set()
                for k in range(args.faults):
                    for _ in range(20):  # a different place each time, when the map has one
                        faulty = copy.deepcopy(clean)
                        fault = inject(faulty, kind, rng)
                        if fault is None or fault.time_ms not in used:
                            break
                    if fault is None or fault.time_ms in used:
                        break
                    used.add(fault.time_ms)
                    path = write_beatmap_file(faulty, folder / f"{kind}{k}.osu")
                    hit = fault.found_in(_review(path, audio, args.model))
                    hits[kind].append(hit)
                    print(f"  {kind} at {fault.time_ms:.0f} ms: {'found' if hit else 'missed'}", flush=True)

        print(
            f"\nMaiMod fault finding, {len(sources)} held-out std maps, first {args.excerpt_s} s, model {args.model}"
        )
        for kind, results in hits.items():
            print(
                f"  {kind:12} found in the top of its category: {sum(results)}/{len(results)} = {sum(results) / len(results):.0%}"
            )
        shown = [s for s, _ in untouched]
        over = [c for _, c in untouched]
        print(
            f"  untouched maps: median {statistics.median(shown)} suggestions shown, {statistics.median(over)} over the threshold"
        )

        if args.speed:
            source = _long_map(args.model)
            folder = Path(scratch) / "speed"
            audio, _ = render_excerpt(source, folder, SPEED_SONG_MS)
            seconds = median_seconds(lambda: _review(folder / source.name, audio, args.model), 3)
            print(
                f"  reviewing a 3-minute map ({source.name[:50]}): median {seconds:.1f} s"
                " (3 runs after a warm-up, model load included)"
            )


def _long_map(model: str) -> Path:
    """The first held-out std map whose objects last at least 3 minutes."""
    for path in pick_held_out(100, SPEED_SONG_MS, model)["std"]:
        if parse_beatmap_file(path).objects_end_time() >= SPEED_SONG_MS:
            return path
    sys.exit("error: no held-out std map of 3 minutes in the corpus")


if __name__ == "__main__":
    main()
