"""Speed of the synthetic song renderer on one core: render_song and the OGG encode for corpus maps."""

from __future__ import annotations

import os

# One core: pin BLAS before numpy loads (the synthesiser's partial sums are small matrix products).
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from osuT5.beatmap import parse_beatmap_file  # noqa: E402
from osuT5.data.render import render_song, song_length_ms, write_audio  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "beatmaps"
DEFAULT_MAPS = (
    "std/osu-beatmap-classifier/rN - onostrapha - nik - tekkitos marionette.osu",
    "taiko/eternity-beatmap-database/Dictate - Cauldron - Nepuri - Concoction.osu",
    "mania/osu-map-render/void - Mournfinale - feat. Hoshikuma Minami - Testify - Akasha - Take her Hand Maxims Hard.osu",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "beatmaps", nargs="*", type=Path, help=".osu files (default: three ~3-minute corpus maps)"
    )
    parser.add_argument("--runs", type=int, default=3, help="timed runs per map (median reported)")
    parser.add_argument("--sample-rate", type=int, default=22050)
    args = parser.parse_args()
    paths = args.beatmaps or [CORPUS / name for name in DEFAULT_MAPS]
    print(f"{'beatmap':<44} {'objects':>7} {'song s':>7} {'render s':>9} {'x real':>7} {'ogg s':>6}")
    for path in paths:
        beatmap = parse_beatmap_file(path)
        song_s = song_length_ms(beatmap) / 1000
        times = []
        for run in range(args.runs):
            start = time.perf_counter()
            audio = render_song(beatmap, seed=run, sample_rate=args.sample_rate)
            times.append(time.perf_counter() - start)
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            write_audio(Path(folder) / "audio.ogg", audio, args.sample_rate, "ogg")
            ogg_s = time.perf_counter() - start
        render_s = statistics.median(times)
        print(
            f"{path.stem[:44]:<44} {len(beatmap.hit_objects):>7} {song_s:>7.1f} {render_s:>9.2f} "
            f"{song_s / render_s:>7.0f} {ogg_s:>6.2f}"
        )


if __name__ == "__main__":
    main()
