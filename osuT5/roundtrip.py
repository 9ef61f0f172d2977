"""`python -m osuT5.roundtrip IN.osu OUT.osu`: beatmap -> events -> tokens in windows -> events ->
post-processing -> a new .osu, then a report of what changed. A dataset builder's sanity check:
whatever this loses, a model trained on these tokens cannot learn."""

from __future__ import annotations

import argparse
import bisect
import functools
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import rosu_pp_py as rosu

from osuT5.audio import TOKEN_STEP_MS
from osuT5.beatmap import (
    Beatmap,
    GameMode,
    HoldNote,
    Slider,
    Spinner,
    TimingIndex,
    mania_column,
    parse_beatmap_file,
)
from osuT5.beatmap.write import beatmap_to_text, write_beatmap_file
from osuT5.data.beatmap_events import (
    kiai_toggles,
    map_events,
    object_samples,
    slider_body_sample,
)
from osuT5.errors import OsuT5Error
from osuT5.events import Event, group_time_ms, slice_events
from osuT5.inference.postprocess import events_to_beatmap
from osuT5.tokenizer import Tokenizer


def tokenize_in_windows(events: list[Event], tokenizer: Tokenizer, end_ms: int) -> list[list[int]]:
    """Token ids per window, windows back to back from 0 ms (each starting on the 10 ms grid)."""
    window_ms = tokenizer.config.window_ms // TOKEN_STEP_MS * TOKEN_STEP_MS
    first = min((e.value for e in events if e.type.value == "t"), default=0)
    start = math.floor(min(first, 0) / window_ms) * window_ms
    windows = []
    times = group_time_ms(events)
    while start <= end_ms:
        window = slice_events(events, start, start + window_ms, times)
        windows.append((start, tokenizer.encode_events(window, start)))
        start += window_ms
    return windows


@functools.cache
def default_tokenizer() -> Tokenizer:
    return Tokenizer()


def roundtrip(beatmap: Beatmap, tokenizer: Tokenizer | None = None) -> Beatmap:
    tokenizer = tokenizer or default_tokenizer()
    events = map_events(beatmap)
    end_ms = int(max((e.value for e in events if e.type.value == "t"), default=0))
    decoded: list[Event] = []
    for start, ids in tokenize_in_windows(events, tokenizer, end_ms):
        decoded += tokenizer.decode_events(ids, start)
    # The original timing is given as context, as training and inference with a reference do.
    return events_to_beatmap(decoded, beatmap)


def star_rating(beatmap: Beatmap) -> float:
    return rosu.Difficulty().calculate(rosu.Beatmap(content=beatmap_to_text(beatmap))).stars


@dataclass
class RoundTripReport:
    mode: GameMode
    n_objects: tuple[int, int]
    matched: int = 0
    exact_time: int = 0
    worst_time_error_ms: float = 0.0
    position_checked: int = 0
    worst_position_error_px: float = 0.0
    column_mismatches: int = 0
    sliders: int = 0
    slider_length_ok: int = 0  # within 1 % and same repeats
    worst_slider_length_error: float = 0.0
    worst_end_error_ms: float = 0.0
    samples_equal: int = 0
    samples_total: int = 0
    redlines_ok: bool = True
    kiai_equal: bool = True
    sv_mismatches: int = 0
    stars: tuple[float, float] = (0.0, 0.0)
    path: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def same_count(self) -> bool:
        return self.n_objects[0] == self.n_objects[1] == self.matched

    def lines(self) -> list[str]:
        a, b = self.n_objects
        n = max(min(a, b), 1)
        return [
            f"mode: {self.mode.name.lower()}",
            f"objects: {a} -> {b} ({self.matched} matched within 10 ms)",
            f"objects at the exact millisecond: {self.exact_time}/{n} ({100 * self.exact_time / n:.2f} %)",
            f"worst time error: {self.worst_time_error_ms:.1f} ms; worst end-time error: {self.worst_end_error_ms:.1f} ms",
            f"worst position error: {self.worst_position_error_px:.2f} px over {self.position_checked} objects"
            + (f"; mania columns changed: {self.column_mismatches}" if self.mode == GameMode.MANIA else ""),
            f"sliders with length within 1 % and the same repeats: {self.slider_length_ok}/{self.sliders}"
            f" (worst length error {100 * self.worst_slider_length_error:.2f} %)",
            f"hitsounds, sample sets and volumes equal: {self.samples_equal}/{self.samples_total}",
            f"redlines kept: {self.redlines_ok}; kiai kept: {self.kiai_equal}; SV mismatches: {self.sv_mismatches}",
            f"star rating: {self.stars[0]:.4f} -> {self.stars[1]:.4f}",
            *self.notes,
        ]


def compare(original: Beatmap, rebuilt: Beatmap) -> RoundTripReport:
    """What the round trip changed, object by object (pairs in time order)."""
    mode = original.mode
    report = RoundTripReport(mode, (len(original.hit_objects), len(rebuilt.hit_objects)))
    t_orig, t_new = TimingIndex(original.timing_points), TimingIndex(rebuilt.timing_points)
    pairs = match_objects(original.hit_objects, rebuilt.hit_objects)
    report.matched = len(pairs)
    for old, new in pairs:
        error = abs(math.floor(old.time + 1e-5) - new.time)
        report.exact_time += error == 0
        report.worst_time_error_ms = max(report.worst_time_error_ms, error)
        if isinstance(old, Spinner | HoldNote) or (isinstance(old, Slider) and mode == GameMode.MANIA):
            report.worst_end_error_ms = max(report.worst_end_error_ms, abs(old.end_time - new.end_time))
        if mode in (GameMode.STD, GameMode.CATCH) and not isinstance(
            old, Spinner
        ):  # spinners sit in the centre
            report.position_checked += 1
            report.worst_position_error_px = max(
                report.worst_position_error_px, abs(old.x - new.x), abs(old.y - new.y)
            )
        if isinstance(old, Slider) and mode != GameMode.MANIA:
            report.sliders += 1
            if mode == GameMode.TAIKO:
                # A drumroll's repeats only split its length; what plays is the total.
                ok = isinstance(new, Slider)
                old_len, new_len = old.length * old.slides, new.length * new.slides if ok else 0
            else:
                ok = isinstance(new, Slider) and new.slides == old.slides
                old_len, new_len = old.length, new.length if ok else 0
            if ok and old_len > 0:
                rel = abs(new_len - old_len) / old_len
                report.worst_slider_length_error = max(report.worst_slider_length_error, rel)
                ok = rel <= 0.01 or abs(new_len - old_len) <= 0.5  # sub-pixel gimmick sliders
            report.slider_length_ok += ok
            if mode == GameMode.STD and isinstance(new, Slider):
                report.sv_mismatches += (
                    abs(t_orig.slider_velocity_at(old.time) - t_new.slider_velocity_at(new.time)) > 0.0051
                )
        report.samples_total += 1
        report.samples_equal += _samples(original, t_orig, old) == _samples(rebuilt, t_new, new)
    if mode == GameMode.MANIA:
        report.column_mismatches = _column_mismatches(original, rebuilt)
    old_red = [(p.time, p.ms_per_beat, p.beats_per_measure) for p in t_orig.redlines]
    new_red = [(p.time, p.ms_per_beat, p.beats_per_measure) for p in t_new.redlines]
    report.redlines_ok = len(old_red) == len(new_red) and all(
        abs(a[0] - b[0]) <= 1 and abs(60000 / a[1] - 60000 / b[1]) <= 0.01 and a[2] == b[2]
        for a, b in zip(old_red, new_red, strict=True)
    )
    report.kiai_equal = [(math.floor(t + 1e-5), on) for t, on in kiai_toggles(original)] == [
        (math.floor(t + 1e-5), on) for t, on in kiai_toggles(rebuilt)
    ]
    report.stars = (star_rating(original), star_rating(rebuilt))
    return report


def _column_mismatches(original: Beatmap, rebuilt: Beatmap) -> int:
    """Notes whose (millisecond, column) has no twin in the other map (chords compare as sets)."""
    from collections import Counter

    k = original.keycount

    def notes(beatmap: Beatmap) -> Counter:
        return Counter((math.floor(o.time + 1e-5), mania_column(o.x, k)) for o in beatmap.hit_objects)

    return sum((notes(original) - notes(rebuilt)).values())


def match_objects(old: list, new: list, window_ms: float = 10.0) -> list[tuple]:
    """Pair each original object with the nearest unused rebuilt one of the same kind (time, then
    position), so one lost object does not shift every pair after it."""
    by_time = sorted(range(len(new)), key=lambda i: new[i].time)
    times = [new[i].time for i in by_time]
    used = [False] * len(new)
    pairs = []
    for obj in sorted(old, key=lambda o: o.time):
        lo = bisect.bisect_left(times, obj.time - window_ms)
        hi = bisect.bisect_right(times, obj.time + window_ms)
        best, best_key = None, None
        for j in range(lo, hi):
            i = by_time[j]
            if used[i]:
                continue
            cand = new[i]
            key = (
                type(cand) is not type(obj),
                abs(cand.time - obj.time),
                abs(cand.x - obj.x) + abs(cand.y - obj.y),
            )
            if best_key is None or key < best_key:
                best, best_key = i, key
        if best is not None:
            used[best] = True
            pairs.append((obj, new[best]))
    return pairs


def _samples(beatmap: Beatmap, timing: TimingIndex, obj) -> list:
    samples = object_samples(beatmap, timing, obj)
    if isinstance(obj, Slider) and beatmap.mode in (GameMode.STD, GameMode.CATCH):
        samples.append(slider_body_sample(timing, obj))
    elif isinstance(obj, Slider | Spinner):
        # Taiko rolls and spinners sound at one end only; compare that one.
        samples = samples[:1] if beatmap.mode != GameMode.STD else samples
    return samples


def roundtrip_file(path: str | Path) -> RoundTripReport | None:
    """Round-trip and compare one .osu file; None when it has no objects or no timing to keep."""
    beatmap = parse_beatmap_file(path)
    if not beatmap.hit_objects or not beatmap.uninherited_points:
        return None
    report = compare(beatmap, roundtrip(beatmap))
    report.path = str(path)
    return report


def summarise(reports: list[RoundTripReport]) -> dict[str, dict[str, float]]:
    """Per-mode figures over many round trips (the acceptance figures of the tokenizer)."""
    by_mode: dict[str, list[RoundTripReport]] = {}
    for report in reports:
        by_mode.setdefault(report.mode.name.lower(), []).append(report)
    summary = {}
    for mode, items in sorted(by_mode.items()):
        n_obj = max(sum(min(r.n_objects) for r in items), 1)
        sliders = sum(r.sliders for r in items)
        stars_ok = sum(abs(r.stars[1] - r.stars[0]) <= 0.02 * max(r.stars[0], 1e-9) for r in items)
        summary[mode] = {
            "maps": len(items),
            "same_count_pct": 100 * sum(r.same_count for r in items) / len(items),
            "exact_time_pct": 100 * sum(r.exact_time for r in items) / n_obj,
            "worst_time_error_ms": max(r.worst_time_error_ms for r in items),
            "worst_end_error_ms": max(r.worst_end_error_ms for r in items),
            "worst_position_error_px": max(r.worst_position_error_px for r in items),
            "mania_column_mismatches": sum(r.column_mismatches for r in items),
            "sliders": sliders,
            "slider_ok_pct": 100 * sum(r.slider_length_ok for r in items) / sliders if sliders else 100.0,
            "samples_equal_pct": 100
            * sum(r.samples_equal for r in items)
            / max(sum(r.samples_total for r in items), 1),
            "redlines_ok_pct": 100 * sum(r.redlines_ok for r in items) / len(items),
            "kiai_ok_pct": 100 * sum(r.kiai_equal for r in items) / len(items),
            "sv_mismatches": sum(r.sv_mismatches for r in items),
            "stars_within_2pct": 100 * stars_ok / len(items),
        }
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m osuT5.roundtrip", description=__doc__.split("\n")[0])
    parser.add_argument("input", help="a .osu file")
    parser.add_argument("output", help="where to write the rebuilt .osu (must not exist)")
    args = parser.parse_args(argv)
    try:
        original = parse_beatmap_file(args.input)
        if not original.hit_objects:
            raise OsuT5Error(f"{args.input}: the beatmap has no hit objects to round-trip")
        if not original.uninherited_points:
            raise OsuT5Error(f"{args.input}: the beatmap has no uninherited timing point")
        rebuilt = roundtrip(original)
        report = compare(original, rebuilt)
        write_beatmap_file(rebuilt, args.output)
    except OsuT5Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print("\n".join(report.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
