"""How far the onset envelope's peaks sit from the hits that cause them: the constant
`beat_alignment.ONSET_LAG_MS`. Songs are rendered from single-BPM corpus maps of the training side (never
the shipped model's held-out sets); for each, the shift of the map's own beat grid that lands on the
strongest onsets is the lag. Prints the median (what ONSET_LAG_MS should be) and the spread.

    python benchmarks/onset_lag.py [--songs 40] [--excerpt-s 30]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

import numpy as np
from quality import CORPUS, readable_maps, render_excerpt

from osuT5.audio import load_audio, onset_envelope
from osuT5.inference.beat_alignment import ONSET_LAG_MS, beat_comb
from osuT5.inference.options import DEFAULT_MODEL_PATH
from osuT5.model.ship import held_out_sets

SHIFTS_MS = np.arange(-12.0, 12.25, 0.25)


def training_side_maps(count: int, excerpt_ms: int) -> list[Path]:
    """Single-BPM corpus maps with at least 20 objects in the excerpt, outside the held-out sets, one
    per set, in a fixed shuffled order across modes."""
    held_out = held_out_sets(DEFAULT_MODEL_PATH)
    paths = sorted(CORPUS.rglob("*.osu"))
    random.Random(0).shuffle(paths)
    picked, seen = [], set()
    for path, beatmap, key in readable_maps(paths):
        early = [h for h in beatmap.hit_objects if h.time < excerpt_ms]
        if key in held_out or key in seen or len(early) < 20 or len(beatmap.uninherited_points) != 1:
            continue
        picked.append(path)
        seen.add(key)
        if len(picked) >= count:
            break
    return picked


def measured_lag(audio: Path, offset: float, beat_ms: float) -> float:
    envelope = onset_envelope(load_audio(audio))
    # beat_comb adds ONSET_LAG_MS itself: take it out to measure the raw lag.
    scores = beat_comb(envelope, offset + SHIFTS_MS - ONSET_LAG_MS, np.array([beat_ms]), 0.0, len(envelope))[
        0
    ]
    return float(SHIFTS_MS[int(np.argmax(scores))])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--songs", type=int, default=40)
    parser.add_argument("--excerpt-s", type=float, default=30.0)
    args = parser.parse_args()
    excerpt_ms = int(args.excerpt_s * 1000)
    lags = []
    with tempfile.TemporaryDirectory() as scratch:
        for n, source in enumerate(training_side_maps(args.songs, excerpt_ms)):
            audio, truth = render_excerpt(source, Path(scratch) / str(n), excerpt_ms)
            [redline] = truth.uninherited_points
            lags.append(measured_lag(audio, redline.time, redline.ms_per_beat))
            print(f"{source.parent.parent.name:6s} {source.name[:60]}: lag {lags[-1]:+.2f} ms", flush=True)
    if not lags:
        sys.exit("error: no single-BPM training-side map found in the corpus")
    p10, p50, p90 = np.percentile(lags, [10, 50, 90])
    print(
        f"{len(lags)} songs: median lag {p50:+.2f} ms (p10 {p10:+.2f}, p90 {p90:+.2f}); ONSET_LAG_MS = {ONSET_LAG_MS:+.2f}"
    )


if __name__ == "__main__":
    main()
