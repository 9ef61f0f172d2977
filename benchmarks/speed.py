"""Wall time and peak memory to generate a 3-minute song with the default model on this machine,
split into model load (+ audio), timing pass, map pass and post-processing (+ writing). Each run is a
fresh process (so peak memory is its own); the median of the runs is printed.

    python benchmarks/speed.py [--runs 3] [--threads 2] [--minutes 3]
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
result = generate(InferenceOptions(audio_path=sys.argv[1], output_path=sys.argv[2], seed=0))
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        audio = Path(scratch) / "song.ogg"
        write_audio(
            audio,
            render_song(parse_beatmap_file(CORPUS / SOURCE), seed=0, end_ms=args.minutes * 60000),
            22050,
            "ogg",
        )
        runs = []
        for n in range(args.runs):
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(audio), str(Path(scratch) / f"out{n}"), str(args.threads)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
            print(f"run {n + 1}: " + ", ".join(f"{k} {v:.1f}" for k, v in runs[-1].items()), flush=True)
    print(f"\n{runs[0]['song_s']:.0f} s song, {args.threads} torch threads, median of {args.runs} runs:")
    for key in ("load", "timing", "map", "write", "total", "peak_mib"):
        unit = "MiB" if key == "peak_mib" else "s"
        print(f"  {key:9} {statistics.median(r[key] for r in runs):8.1f} {unit}")


if __name__ == "__main__":
    main()
