"""Tokenizer round trip over every corpus map: beatmap -> events -> windowed tokens -> events ->
post-processing -> beatmap, with the original timing as context. Also the roundtrip CLI and the
timing reconstruction from TIMING markers."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from osuT5.beatmap import TimingIndex, parse_beatmap_file
from osuT5.data.beatmap_events import map_events, timing_events
from osuT5.events import EventType
from osuT5.inference.timing_fit import timing_points_from_events
from osuT5.roundtrip import default_tokenizer, roundtrip, roundtrip_file, summarise, tokenize_in_windows

MODES = ("std", "taiko", "catch", "mania")


@pytest.fixture(scope="session")
def corpus_summary(corpus_beatmaps: list[Path]) -> dict[str, dict[str, float]]:
    with ProcessPoolExecutor(2) as pool:
        reports = [r for r in pool.map(roundtrip_file, corpus_beatmaps, chunksize=4) if r is not None]
    return summarise(reports)


@pytest.mark.parametrize("mode", MODES)
def test_corpus_round_trip(corpus_summary, mode: str) -> None:
    figures = corpus_summary[mode]
    assert figures["same_count_pct"] == 100.0, figures
    assert figures["exact_time_pct"] >= 99.5, figures
    assert figures["worst_time_error_ms"] <= 5, figures
    assert figures["worst_end_error_ms"] <= 5, figures  # spinners and hold notes
    assert figures["worst_position_error_px"] <= 1.0, figures
    assert figures["mania_column_mismatches"] == 0, figures
    # A few sliders in gimmick and 2B maps (overlapping sliders, off-tick ends) miss the 1 %.
    assert figures["slider_ok_pct"] >= 99.0, figures
    assert figures["samples_equal_pct"] >= 99.0, figures
    assert figures["redlines_ok_pct"] == 100.0, figures
    assert figures["kiai_ok_pct"] == 100.0, figures
    assert figures["sv_mismatches"] == 0, figures
    assert figures["stars_within_2pct"] >= 95.0, figures


def test_round_trip_keeps_a_slider_exactly(corpus_dir: Path) -> None:
    path = next((corpus_dir / "beatmaps" / "std").glob("**/DJ Ozawa - Tokyo*Beginner*.osu"))
    original = parse_beatmap_file(path)
    rebuilt = roundtrip(original)
    first_old, first_new = original.hit_objects[0], rebuilt.hit_objects[0]
    assert (first_new.time, first_new.slides) == (first_old.time, first_old.slides)
    assert first_new.length == pytest.approx(first_old.length, rel=0.01)
    assert abs(first_new.x - first_old.x) <= 1 and abs(first_new.y - first_old.y) <= 1
    # The bezier shape keeps its red anchor (a doubled control point).
    assert len(first_new.curve_points) == len(first_old.curve_points)


def test_windows_cover_every_event_once(corpus_dir: Path) -> None:
    path = next((corpus_dir / "beatmaps" / "std").glob("**/DJ Ozawa - Tokyo*Beginner*.osu"))
    events = map_events(parse_beatmap_file(path))
    tokenizer = default_tokenizer()
    end = max(e.value for e in events if e.type == EventType.TIME_SHIFT)
    windows = tokenize_in_windows(events, tokenizer, end)
    assert len(windows) > 1
    assert sum(len(ids) for _, ids in windows) == len(events)
    assert all(start % 10 == 0 for start, _ in windows)


def _timing_round_trip(path: Path):
    beatmap = parse_beatmap_file(path)
    redlines = TimingIndex(beatmap.timing_points).redlines
    if len(redlines) != 1 or len(beatmap.hit_objects) < 50:
        return None
    tokenizer = default_tokenizer()
    events = timing_events(beatmap)
    end = max(e.value for e in events if e.type == EventType.TIME_SHIFT)
    decoded = []
    for start, ids in tokenize_in_windows(events, tokenizer, end):
        decoded += tokenizer.decode_events(ids, start)
    fitted = timing_points_from_events(decoded)
    original = redlines[0]
    return (
        len(fitted) == 1
        and abs(fitted[0].time - int(original.time)) <= 1
        and abs(fitted[0].bpm - original.bpm) <= 0.01
        and fitted[0].meter == original.beats_per_measure
    )


def test_single_bpm_timing_is_recovered_from_markers(corpus_beatmaps: list[Path]) -> None:
    with ProcessPoolExecutor(2) as pool:
        results = [r for r in pool.map(_timing_round_trip, corpus_beatmaps, chunksize=8) if r is not None]
    share = sum(results) / len(results)
    assert len(results) > 300
    assert share >= 0.95, f"{share:.3f} of {len(results)} single-BPM maps"


def _run_cli(source: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "osuT5.roundtrip", str(source), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_writes_a_new_file_and_reports(corpus_dir: Path, tmp_path: Path) -> None:
    source = next((corpus_dir / "beatmaps" / "mania").glob("**/James Landino - Reaction*Advanced*.osu"))
    out = tmp_path / "rebuilt.osu"
    result = _run_cli(source, out)
    assert result.returncode == 0, result.stderr
    assert "objects at the exact millisecond" in result.stdout
    assert "star rating" in result.stdout
    assert len(parse_beatmap_file(out).hit_objects) == len(parse_beatmap_file(source).hit_objects)
    # The output is never overwritten.
    again = _run_cli(source, out)
    assert again.returncode == 1
    assert "already exists" in again.stderr


@pytest.mark.parametrize(
    "content", [None, b"", b"\x89PNG\r\n\x1a\n\x00\x00", b"osu file format v14\n[General]\nMode: 0\n"]
)
def test_cli_bad_input_is_one_line_and_exit_1(tmp_path: Path, content: bytes | None) -> None:
    source = tmp_path / "in.osu"
    if content is not None:
        source.write_bytes(content)
    out = tmp_path / "out.osu"
    result = _run_cli(source, out)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(source) in lines[0]
    assert not out.exists()
