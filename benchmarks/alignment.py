"""Timing aligned to the onsets (`osuT5.inference.beat_alignment`), measured:

- per held-out song (the songs of `quality.py`): the true BPM and offset, the model's own beat fit
  (`align_timing=false`) and the aligned one, each with its BPM and offset error; single-BPM songs
  count as right with BPM within 0.1 and offset within 5 ms, as in `quality.py`;
- the onset contrast of each song's true grid (mean onset strength on its lines over the song's mean),
  and of the strongest grid found in white noise: the two sides of `MIN_ONSET_CONTRAST`;
- the time to build the onset envelope of a 3-minute song and to align one redline over it.

    python benchmarks/alignment.py [--per-mode 6] [--excerpt-s 40] [--runs 5]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from quality import grid_error, pick_held_out, render_excerpt
from timing import median_seconds

from osuT5.audio import SAMPLE_RATE, load_audio, onset_envelope
from osuT5.beatmap import TimingPoint, parse_beatmap_file
from osuT5.inference.beat_alignment import MIN_ONSET_CONTRAST, align_redlines, beat_comb, best_grid_near
from osuT5.inference.options import DEFAULT_MODEL_PATH, InferenceOptions
from osuT5.inference.pipeline import generate

MODES = {"std": 0, "taiko": 1, "catch": 2, "mania": 3}


def first_redline(audio: Path, folder: Path, mode: int, align: bool) -> TimingPoint:
    result = generate(
        InferenceOptions(
            audio_path=str(audio),
            output_path=str(folder),
            gamemode=mode,
            output_type=["TIMING"],
            align_timing=align,
            seed=0,
        )
    )
    return parse_beatmap_file(result.maps[0].path).uninherited_points[0]


def contrast(envelope: np.ndarray, offset: float, mpb: float) -> float:
    start = max(offset, 0.0)
    on_lines = beat_comb(envelope, np.array([offset]), np.array([mpb]), start, len(envelope))[0, 0]
    return float(on_lines / envelope[int(start) :].mean())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-mode", type=int, default=6)
    parser.add_argument("--excerpt-s", type=float, default=40.0)
    parser.add_argument("--runs", type=int, default=5, help="runs of the speed measurements (median)")
    args = parser.parse_args()
    excerpt_ms = int(args.excerpt_s * 1000)
    right = {False: 0, True: 0}
    single = 0
    contrasts = []
    with tempfile.TemporaryDirectory() as scratch:
        for mode_name, sources in pick_held_out(args.per_mode, excerpt_ms, DEFAULT_MODEL_PATH).items():
            for n, source in enumerate(sources):
                folder = Path(scratch) / f"{mode_name}{n}"
                audio, truth = render_excerpt(source, folder, excerpt_ms)
                reds = truth.uninherited_points
                true_bpm, true_offset = reds[0].bpm, reds[0].time
                line = f"{mode_name:5s} {source.name[:40]:40s} redlines {len(reds):4d} true {true_bpm:8.3f}"
                for align in (False, True):
                    found = first_redline(audio, folder / str(align), MODES[mode_name], align)
                    d_bpm, d_offset = grid_error(found.bpm, found.time, true_bpm, true_offset)
                    ok = d_bpm <= 0.1 and d_offset <= 5
                    if len(reds) == 1:
                        right[align] += ok
                    label = "aligned" if align else "fit"
                    line += f" | {label} {found.bpm:8.3f} (dBPM {d_bpm:6.3f}, offset {d_offset:5.1f} ms){' ok' if ok else '   '}"
                single += len(reds) == 1
                if len(reds) == 1:
                    contrasts.append(
                        contrast(onset_envelope(load_audio(audio)), true_offset, reds[0].ms_per_beat)
                    )
                    line += f" | true-grid contrast {contrasts[-1]:.2f}"
                print(line, flush=True)
    print(
        f"\nsingle-BPM songs right (BPM within 0.1, offset within 5 ms): fit {right[False]}/{single}, aligned {right[True]}/{single}"
    )
    print(
        f"true-grid onset contrast on those songs: {min(contrasts):.2f}-{max(contrasts):.2f} (threshold {MIN_ONSET_CONTRAST})"
    )

    noise = np.random.default_rng(0).standard_normal(SAMPLE_RATE * 30).astype(np.float32) * 0.3
    envelope = onset_envelope(noise)
    score, _, _ = best_grid_near(envelope, 120.0, 60000.0 / 133.0, 120.0, len(envelope))
    print(f"white noise, 30 s: strongest grid's contrast {score / envelope[120:].mean():.2f}")

    song = np.random.default_rng(1).standard_normal(SAMPLE_RATE * 180).astype(np.float32) * 0.3
    envelope = onset_envelope(song)
    redline = [TimingPoint(100.0, 450.0)]
    print(
        f"3-minute song, median of {args.runs}: onset envelope {median_seconds(lambda: onset_envelope(song), args.runs):.2f} s, "
        f"aligning one redline {median_seconds(lambda: align_redlines(redline, envelope), args.runs):.2f} s"
    )


if __name__ == "__main__":
    main()
