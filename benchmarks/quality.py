"""How good are the maps? Songs rendered from held-out corpus maps (beatmap sets the model never
trained on), generated from the audio alone (game mode and target star rating given), scored
against the source map:

- onset F1: generated object start times against the source's, matched one to one within 20 ms;
- timing: share of single-BPM songs whose generated BPM is within 0.1 and offset within 5 ms (on
  the beat grid: a whole-beat shift counts as right), next to a beat-tracking baseline
  (`librosa.beat.beat_track`, its beats fitted to a grid the same way) on the same audio;
- star control: Spearman correlation of requested and achieved star rating (rosu-pp-py) over a
  sweep from 1 to 7 stars on a few std songs;
- validity: objects off the playfield, overlaps (a mania column's, or in the other modes an object
  on top of the previous one), objects outside the song, out of order, rosu-pp-py failures.

    python benchmarks/quality.py [--per-mode 6] [--excerpt-s 60] [--sweep-songs 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import rosu_pp_py as rosu
import yaml
from scipy.stats import spearmanr

from osuT5.audio import SAMPLE_RATE, load_audio
from osuT5.beatmap import Beatmap, GameMode, parse_beatmap_file, write_beatmap_file
from osuT5.data.collection import set_key
from osuT5.data.render import render_song, write_audio
from osuT5.errors import OsuT5Error
from osuT5.inference.options import DEFAULT_MODEL_PATH, InferenceOptions
from osuT5.inference.pipeline import generate
from osuT5.inference.validity import check_validity
from osuT5.model.ship import held_out_sets

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "beatmaps"
MODES = {"std": GameMode.STD, "taiko": GameMode.TAIKO, "catch": GameMode.CATCH, "mania": GameMode.MANIA}
ONSET_TOLERANCE_MS = 20


def onset_f1(found: list[float], truth: list[float], tolerance: float = ONSET_TOLERANCE_MS) -> float:
    """F1 of one-to-one matches (greedy in time order, each truth onset used once)."""
    found, truth = sorted(set(found)), sorted(set(truth))
    if not found or not truth:
        return 0.0
    j = matched = 0
    for t in found:
        while j < len(truth) and truth[j] < t - tolerance:
            j += 1
        if j < len(truth) and abs(truth[j] - t) <= tolerance:
            matched += 1
            j += 1
    precision, recall = matched / len(found), matched / len(truth)
    return 0.0 if matched == 0 else 2 * precision * recall / (precision + recall)


def grid_error(bpm: float, offset: float, true_bpm: float, true_offset: float) -> tuple[float, float]:
    """|BPM difference| and the offset's distance to the nearest beat of the true grid."""
    mpb = 60000 / true_bpm
    phase = (offset - true_offset) % mpb
    return abs(bpm - true_bpm), min(phase, mpb - phase)


def beat_track_baseline(audio_path: Path) -> tuple[float, float]:
    """BPM and offset from librosa's beat tracker: its beats fitted to a straight grid."""
    import librosa

    samples = load_audio(audio_path)
    _, beats = librosa.beat.beat_track(y=samples, sr=SAMPLE_RATE, units="time")
    if len(beats) < 2:
        return 0.0, 0.0
    ms = np.asarray(beats) * 1000
    gaps = np.diff(ms)
    guess = float(np.median(gaps))
    index = np.concatenate([[0], np.cumsum(np.maximum(np.round(gaps / guess), 1))])
    slope, intercept = np.polyfit(index, ms, 1)
    return 60000 / slope, float(intercept)


def readable_maps(paths: list[Path]) -> Iterator[tuple[Path, Beatmap, str]]:
    """(path, beatmap, set key) of each map that parses, in the given order."""
    for path in paths:
        try:
            beatmap = parse_beatmap_file(path)
        except OsuT5Error:
            continue
        yield path, beatmap, set_key(beatmap, path)


def pick_held_out(per_mode: int, excerpt_ms: int, model_path: str) -> dict[str, list[Path]]:
    held_out = held_out_sets(model_path)
    if not held_out:
        sys.exit(f"error: {model_path} records no held-out sets (held_out_sets.json)")
    picked: dict[str, list[Path]] = defaultdict(list)
    for name in MODES:
        seen_sets = set()
        for path, beatmap, key in readable_maps(sorted((CORPUS / name).rglob("*.osu"))):
            early = [h for h in beatmap.hit_objects if h.time < excerpt_ms]
            if key in held_out and key not in seen_sets and len(early) >= 20 and beatmap.uninherited_points:
                picked[name].append(path)
                seen_sets.add(key)
            if len(picked[name]) >= per_mode:
                break
    return picked


def render_excerpt(source: Path, folder: Path, excerpt_ms: int) -> tuple[Path, Beatmap]:
    beatmap = parse_beatmap_file(source)
    audio = render_song(beatmap, seed=0, end_ms=excerpt_ms)
    write_audio(folder / "audio.ogg", audio, 22050, "ogg")
    general = {**beatmap.general, "AudioFilename": "audio.ogg"}
    cut = replace(
        beatmap, general=general, hit_objects=[h for h in beatmap.hit_objects if h.end_time < excerpt_ms]
    )
    write_beatmap_file(cut, folder / source.name)
    return folder / "audio.ogg", cut


def stars_of(path: Path) -> float:
    return float(rosu.Difficulty().calculate(rosu.Beatmap(path=str(path))).stars)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=DEFAULT_MODEL_PATH)
    parser.add_argument("--per-mode", type=int, default=6, help="held-out songs per game mode")
    parser.add_argument("--excerpt-s", type=int, default=60, help="seconds of each song rendered and mapped")
    parser.add_argument("--sweep-songs", type=int, default=2, help="std songs in the 1..7 star sweep")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an inference option for every map (YAML value), e.g. --option map_lanes=1",
    )
    args = parser.parse_args()
    excerpt_ms = args.excerpt_s * 1000
    extra = {k: yaml.safe_load(v) for k, _, v in (o.partition("=") for o in args.option)}
    picked = pick_held_out(args.per_mode, excerpt_ms, args.model)
    rows: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    with tempfile.TemporaryDirectory() as scratch:
        for mode_name, paths in picked.items():
            for n, source in enumerate(paths):
                folder = Path(scratch) / f"{mode_name}{n}"
                audio, truth = render_excerpt(source, folder, excerpt_ms)
                truth_path = folder / source.name
                target = stars_of(truth_path)
                started = time.perf_counter()
                result = generate(
                    InferenceOptions(
                        audio_path=str(audio),
                        output_path=str(folder / "out"),
                        model_path=args.model,
                        gamemode=int(MODES[mode_name]),
                        difficulty=round(max(target, 0.5), 2),
                        seed=args.seed,
                        **extra,
                    )
                )
                seconds = time.perf_counter() - started
                made = result.maps[0].beatmap
                row = rows[mode_name]
                row["f1"].append(
                    onset_f1([h.time for h in made.hit_objects], [h.time for h in truth.hit_objects])
                )
                row["seconds"].append(seconds)
                validity = check_validity(made, result.song_ms)
                row["valid"].append(validity.ok)
                for field in (
                    "outside_playfield",
                    "column_overlaps",
                    "time_overlaps",
                    "outside_song",
                    "out_of_order",
                ):
                    row[field].append(getattr(validity, field))
                redlines = truth.uninherited_points
                if len(redlines) == 1:
                    true_bpm, true_offset = 60000 / redlines[0].ms_per_beat, redlines[0].time
                    found = made.uninherited_points[0]
                    d_bpm, d_off = grid_error(60000 / found.ms_per_beat, found.time, true_bpm, true_offset)
                    row["timing_ok"].append(d_bpm <= 0.1 and d_off <= 5)
                    b_bpm, b_off = beat_track_baseline(audio)
                    d_bpm, d_off = grid_error(b_bpm, b_off, true_bpm, true_offset)
                    row["baseline_ok"].append(d_bpm <= 0.1 and d_off <= 5)
                row["asked"].append(target)
                row["stars"].append(result.maps[0].stars)
                print(
                    f"{mode_name} {source.name[:60]}: F1 {row['f1'][-1]:.2f}, {len(made.hit_objects)} objects "
                    f"(source {len(truth.hit_objects)}), stars {result.maps[0].stars:.2f} (asked {target:.2f}), "
                    f"{seconds:.1f} s",
                    flush=True,
                )
        requested, achieved = [], []
        for n, source in enumerate(picked.get("std", [])[: args.sweep_songs]):
            audio = Path(scratch) / f"std{n}" / "audio.ogg"
            for stars in range(1, 8):
                result = generate(
                    InferenceOptions(
                        audio_path=str(audio),
                        output_path=str(Path(scratch) / f"sweep{n}_{stars}"),
                        model_path=args.model,
                        gamemode=0,
                        difficulty=float(stars),
                        seed=args.seed,
                    )
                )
                requested.append(stars)
                achieved.append(result.maps[0].stars)
            song_rho = spearmanr(range(1, 8), achieved[-7:]).statistic
            print(
                f"sweep {source.name[:60]}: {[round(a, 2) for a in achieved[-7:]]}, Spearman {song_rho:.3f}",
                flush=True,
            )

    print(f"\nheld-out songs, first {args.excerpt_s} s of each, model {args.model}")
    print(
        f"{'mode':6} {'songs':>5} {'onset F1':>9} {'timing ok':>10} {'beat-track':>11} {'valid':>6} "
        f"{'off-field':>9} {'overlaps':>8} {'outside':>7} {'s/song':>7}"
    )
    for mode_name, row in rows.items():
        timing = f"{sum(row['timing_ok'])}/{len(row['timing_ok'])}"
        baseline = f"{sum(row['baseline_ok'])}/{len(row['baseline_ok'])}"
        print(
            f"{mode_name:6} {len(row['f1']):5d} {statistics.mean(row['f1']):9.3f} {timing:>10} {baseline:>11} "
            f"{sum(row['valid'])}/{len(row['valid']):<4} {sum(row['outside_playfield']):9d} "
            f"{sum(row['column_overlaps']) + sum(row['time_overlaps']):8d} {sum(row['outside_song']):7d} {statistics.median(row['seconds']):7.1f}"
        )
    # Across songs the request is the source map's rating: this shows whether ratings follow the songs.
    asked = [a for row in rows.values() for a in row["asked"]]
    stars = [a for row in rows.values() for a in row["stars"]]
    if len(asked) > 2:
        per_mode = ", ".join(
            f"{m} {spearmanr(r['asked'], r['stars']).statistic:.2f}"
            for m, r in rows.items()
            if len(r["asked"]) > 2
        )
        print(
            f"stars across songs (asked: the source's): Spearman {spearmanr(asked, stars).statistic:.2f} ({per_mode})"
        )
    if len(set(requested)) > 1:
        rho = spearmanr(requested, achieved).statistic
        print(
            f"star control: Spearman {rho:.3f} over {len(requested)} maps (requested 1..7, achieved "
            f"{min(achieved):.2f}..{max(achieved):.2f})"
        )


if __name__ == "__main__":
    main()
