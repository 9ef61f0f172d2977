"""Wall time and peak memory to generate a 3-minute song with the default model on this machine,
split into model load (+ audio), timing pass, map pass and post-processing (+ writing). Each run is a
fresh process (so peak memory is its own); the median of the runs is printed.

    python benchmarks/speed.py [--runs 3] [--threads 2] [--minutes 3] [--lanes 4 1]

With several `--lanes` values the runs alternate between them (side by side, same machine load) and
each value gets its own median, plus the ratio of total times against the first value.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from osuT5.beatmap import parse_beatmap_file
from osuT5.data.render import render_song, write_audio

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "beatmaps"
SOURCE = "std/brandondong-osu-beatmap-generator/Lou Bega - Mambo No.5 - Lesjuh - Normal.osu"

CHILD = """
import json, resource, sys, time, torch
torch.set_num_threads(int(sys.argv[3]))
from osuT5.inference.options import InferenceOptions
from osuT5.inference.pipeline import generate
result = generate(InferenceOptions(audio_path=sys.argv[1], output_path=sys.argv[2], seed=0,
                                   map_lanes=int(sys.argv[4])))
peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({**result.timings, "total": result.seconds, "peak_mib": peak_mib,
                  "objects": result.maps[0].objects, "song_s": result.song_ms / 1000}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--minutes", type=float, default=3.0, help="song length")
    parser.add_argument("--lanes", type=int, nargs="+", default=[1], help="map_lanes values to compare")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        audio = Path(scratch) / "song.ogg"
        write_audio(
            audio,
            render_song(parse_beatmap_file(CORPUS / SOURCE), seed=0, end_ms=args.minutes * 60000),
            22050,
            "ogg",
        )
        runs: dict[int, list[dict]] = {lanes: [] for lanes in args.lanes}
        for n in range(args.runs):
            for lanes in args.lanes:
                out = subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        CHILD,
                        str(audio),
                        str(Path(scratch) / f"out{n}_{lanes}"),
                        str(args.threads),
                        str(lanes),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                runs[lanes].append(json.loads(out.strip().splitlines()[-1]))
                figures = ", ".join(f"{k} {v:.1f}" for k, v in runs[lanes][-1].items())
                print(f"run {n + 1}, map_lanes={lanes}: {figures}", flush=True)
    first = args.lanes[0]
    song_s = runs[first][0]["song_s"]
    for lanes, rows in runs.items():
        print(
            f"\n{song_s:.0f} s song, {args.threads} torch threads, map_lanes={lanes}, median of {args.runs} runs:"
        )
        for key in ("load", "timing", "map", "write", "total", "peak_mib", "objects"):
            unit = {"peak_mib": "MiB", "objects": ""}.get(key, "s")
            print(f"  {key:9} {statistics.median(r[key] for r in rows):8.1f} {unit}")
        if lanes != first:
            ratio = statistics.median(r["total"] for r in rows) / statistics.median(
                r["total"] for r in runs[first]
            )
            print(f"  total time / map_lanes={first}: {ratio:.2f}")


if __name__ == "__main__":
    main()
