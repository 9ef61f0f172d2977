"""Does MaiMod find known faults? Held-out corpus std maps (beatmap sets the model never trained on)
and songs rendered from them; copies get one injected fault each, and a fault counts as found when
the report (default threshold, top `per_category` of its category) has a suggestion on it:

- off_beat:      an object moved 1/4 beat later             -> rhythm, at the moved object
- moved_150px:   a circle moved 150 px                      -> positions, at that circle
- nc_removed:    a new combo removed                        -> new combos, at that object
- hitsound:      a circle's clap toggled                    -> hitsounds, at that circle
- timing_15ms:   a redline's offset moved 15 ms later       -> timing, within 20 ms of it

Prints the share found per fault kind, the suggestions an untouched map gets, and (--speed) the
median time to review a 3-minute map.

    python benchmarks/mai_mod.py [--maps 3] [--faults 4] [--excerpt-s 60] [--speed]
"""

from __future__ import annotations

import argparse
import copy
import math
import random
import statistics
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from quality import pick_held_out, render_excerpt  # benchmarks/quality.py
from timing import median_seconds  # benchmarks/timing.py

from osuT5.beatmap import Beatmap, Circle, Spinner, TimingIndex, write_beatmap_file
from osuT5.inference.mai_mod import MaiModOptions, MaiModReport, review
from osuT5.inference.options import DEFAULT_MODEL_PATH

TIMING_TOLERANCE_MS = 20


@dataclass
class Fault:
    category: str
    time_ms: float  # where the report should point


def _objects(beatmap: Beatmap, keep: Callable[[int], bool]) -> list[int]:
    return [i for i in range(1, len(beatmap.hit_objects) - 1) if keep(i)]


def off_beat(beatmap: Beatmap, rng: random.Random) -> Fault | None:
    """A circle on a 1/2 tick with at least 1/2 beat of room after it, moved 1/4 beat later."""
    timing = TimingIndex(beatmap.timing_points)
    objs = beatmap.hit_objects

    def ok(i: int) -> bool:
        h, redline = objs[i], timing.redline_at(objs[i].time)
        return (
            isinstance(h, Circle)
            and redline is not None
            and timing.snap_divisor(h.time) in (1, 2)
            and objs[i + 1].time - h.time >= redline.ms_per_beat / 2
        )

    candidates = _objects(beatmap, ok)
    if not candidates:
        return None
    h = objs[rng.choice(candidates)]
    h.time = h.time + timing.redline_at(h.time).ms_per_beat / 4
    return Fault("rhythm", h.time)


def moved_150px(beatmap: Beatmap, rng: random.Random) -> Fault | None:
    candidates = _objects(beatmap, lambda i: isinstance(beatmap.hit_objects[i], Circle))
    rng.shuffle(candidates)
    for i in candidates:
        h = beatmap.hit_objects[i]
        for angle in rng.sample(range(0, 360, 15), 24):
            x = h.x + 150 * math.cos(math.radians(angle))
            y = h.y + 150 * math.sin(math.radians(angle))
            if 0 <= x <= 512 and 0 <= y <= 384:
                h.x, h.y = round(x), round(y)
                return Fault("positions", h.time)
    return None


def nc_removed(beatmap: Beatmap, rng: random.Random) -> Fault | None:
    objs = beatmap.hit_objects

    def ok(i: int) -> bool:
        return objs[i].new_combo and not isinstance(objs[i], Spinner) and not isinstance(objs[i - 1], Spinner)

    candidates = _objects(beatmap, ok)
    if not candidates:
        return None
    h = objs[rng.choice(candidates)]
    h.new_combo = False
    return Fault("new_combos", h.time)


def hitsound(beatmap: Beatmap, rng: random.Random) -> Fault | None:
    candidates = _objects(beatmap, lambda i: isinstance(beatmap.hit_objects[i], Circle))
    if not candidates:
        return None
    h = beatmap.hit_objects[rng.choice(candidates)]
    h.hitsound ^= 8  # clap on or off
    return Fault("hitsounds", h.time)


def timing_15ms(beatmap: Beatmap, rng: random.Random) -> Fault | None:
    redlines = [p for p in beatmap.timing_points if p.uninherited]
    if not redlines:
        return None
    point = rng.choice(redlines)
    point.time += 15
    return Fault("timing", point.time)


FAULTS: dict[str, Callable[[Beatmap, random.Random], Fault | None]] = {
    "off_beat": off_beat,
    "moved_150px": moved_150px,
    "nc_removed": nc_removed,
    "hitsound": hitsound,
    "timing_15ms": timing_15ms,
}


def found(report: MaiModReport, fault: Fault) -> bool:
    tolerance = TIMING_TOLERANCE_MS if fault.category == "timing" else 2
    return any(
        s.category == fault.category and abs(s.time_ms - math.floor(fault.time_ms + 1e-5)) <= tolerance
        for s in report.suggestions
    )


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
                for k in range(args.faults):
                    faulty = copy.deepcopy(clean)
                    fault = FAULTS[kind](faulty, rng)
                    if fault is None:
                        break
                    faulty.hit_objects.sort(key=lambda h: h.time)
                    path = write_beatmap_file(faulty, folder / f"{kind}{k}.osu")
                    hit = found(_review(path, audio, args.model), fault)
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
            folder = Path(scratch) / "speed"
            audio, _ = render_excerpt(sources[0], folder, 180_000)
            seconds = median_seconds(lambda: _review(folder / sources[0].name, audio, args.model), 3)
            print(f"  reviewing a 3-minute map: median {seconds:.1f} s (3 runs after a warm-up)")


if __name__ == "__main__":
    main()
