"""MaiMod with the shipped default model on a song rendered from a held-out corpus map (a beatmap set
the model never trained on): injected faults show up where they should, the JSON output keeps its
schema, and bad inputs get one line and exit 1."""

from __future__ import annotations

import copy
import importlib.util
import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from song_excerpts import pick_held_out, render_excerpt
from test_inference import EXCERPT_MS  # the held-out songs the inference tests use

from osuT5.beatmap import parse_beatmap_file, write_beatmap_file
from osuT5.data.beatmap_events import event_time_ms, mania_column, map_events
from osuT5.errors import OsuT5Error
from osuT5.inference.command_line import run_command
from osuT5.inference.mai_mod import CATEGORIES, MaiModOptions, review, validate_mai_mod
from osuT5.inference.maimod.faults import inject
from osuT5.inference.maimod.offsets import fold_moved_beats
from osuT5.inference.maimod.report import Suggestion, editor_time
from osuT5.inference.maimod.suggest import combo_numbers, group_infos, selection

REPO = Path(__file__).resolve().parents[1]
TIME_TEXT = re.compile(r"^\d{2}:\d{2}:\d{3}( \(\d+(,\d+)*\))?$")
SUGGESTION_TYPES = {
    "category": str,
    "time_ms": int,
    "time_text": str,
    "score": (int, float),
    "message": str,
    "expected": str,
    "event": dict,
}
EVENT_TYPES = {"context": str, "kind": str, "time_ms": (int, type(None)), "token": str}


@pytest.fixture(scope="module")
def song(corpus_dir: Path, tmp_path_factory) -> Path:
    """A held-out std map cut to 40 s, its rendered song beside it."""
    return render_excerpt(
        pick_held_out(corpus_dir, "std", EXCERPT_MS), tmp_path_factory.mktemp("maimod"), EXCERPT_MS
    )


@pytest.fixture(scope="module")
def clean(song: Path):
    """The untouched excerpt's report with the default options."""
    return _review(song)


def _faulty(song: Path, kind: str, seed: int = 0):
    beatmap = parse_beatmap_file(song)
    faulty = copy.deepcopy(beatmap)
    fault = inject(faulty, kind, random.Random(seed))
    assert fault is not None, f"{song.name} has no place for a {kind} fault"
    path = write_beatmap_file(faulty, song.parent / f"{kind}{seed}.osu")
    return path, fault


def _review(path: Path, **options):
    return review(MaiModOptions(beatmap_path=str(path), device="cpu", **options))


def test_off_beat_object_is_in_the_top_rhythm_suggestions(song: Path) -> None:
    path, fault = _faulty(song, "off_beat")
    report = _review(path)
    assert fault.found_in(report, ("rhythm", "timing")), [s.line() for s in report.suggestions]
    [hit] = [s for s in report.suggestions if s.category == "rhythm" and s.time_ms == fault.time_ms]
    assert hit.event["time_ms"] == fault.time_ms and hit.event["kind"] == "circle"
    assert hit.time_text.startswith(editor_time(fault.time_ms))


def test_redline_moved_15ms_is_the_top_timing_suggestion(song: Path, clean) -> None:
    path, fault = _faulty(song, "timing_15ms")
    report = _review(path)
    [top] = sorted(report.by_category()["timing"], key=lambda s: -s.score)[:1]
    assert abs(top.time_ms - fault.time_ms) <= 20, top.line()
    # The correction undoes the move: exactly from the objects' ticks, or within the 10 ms time step
    # when the timing pass's beats decide it.
    shift = re.search(r"offset (\d+) ms earlier", top.expected)
    assert shift and abs(int(shift.group(1)) - 15) <= 5, top.expected
    assert not any("offset" in s.event["token"] for s in clean.suggestions)  # no offset doubt untouched


def test_json_output_matches_the_schema(song: Path) -> None:
    run = subprocess.run(
        [sys.executable, "mai_mod.py", f"beatmap_path={song}", "output_format=json", "per_category=5"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    data = json.loads(run.stdout)
    suggestions = data["suggestions"]
    assert suggestions and data["audio_path"].endswith("audio.ogg")
    for s in suggestions:
        for key, kind in SUGGESTION_TYPES.items():
            assert isinstance(s[key], kind), (key, s)
        for key, kind in EVENT_TYPES.items():
            assert isinstance(s["event"][key], kind), (key, s)
        assert s["category"] in CATEGORIES and TIME_TEXT.match(s["time_text"]) and s["score"] >= 1.0
    for category in CATEGORIES:
        shown = [s for s in suggestions if s["category"] == category]
        assert len(shown) <= 5 and [s["time_ms"] for s in shown] == sorted(s["time_ms"] for s in shown)


def test_report_groups_by_category_and_prints_editor_times(clean) -> None:
    report = clean
    groups = report.by_category()
    assert list(groups) == [c for c in CATEGORIES if c in groups] and len(groups) >= 3
    text = report.to_text()
    for category, suggestions in groups.items():
        assert f"{CATEGORIES[category]} ({len(suggestions)})" in text
        assert all(s.score >= 1.0 for s in suggestions) and len(suggestions) <= 10
    assert report.candidates >= len(report.suggestions)
    assert re.search(r"\(\s*\d+\.\d\) \d{2}:\d{2}:\d{3}", text)
    assert editor_time(62_345, ("1", "2")) == "01:02:345 (1,2)"


def test_editor_selection_is_combo_numbers_or_mania_columns(corpus_dir: Path) -> None:
    for mode, combos in (("std", True), ("mania", False)):
        beatmap = parse_beatmap_file(pick_held_out(corpus_dir, mode, EXCERPT_MS))
        events = map_events(beatmap)
        infos = group_infos(events)
        numbers = combo_numbers(beatmap)
        first = beatmap.hit_objects[0]
        info = next(i for i in infos if i.owner_ms == event_time_ms(first.time))
        chosen = selection(beatmap, events, info, numbers)
        if combos:
            assert chosen == ("1",)
        else:
            assert chosen == (f"{event_time_ms(first.time)}|{mania_column(first.x, beatmap.keycount)}",)


def _cli_module():
    """`mai_mod.py` itself, to run its whole command in-process (quicker than a new interpreter each)."""
    spec = importlib.util.spec_from_file_location("mai_mod_cli", REPO / "mai_mod.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _one_line_failure(args: list[str], capsys) -> str:
    cli = _cli_module()
    assert run_command(args, cli.__doc__, "mai_mod", MaiModOptions, cli.review_map) == 1
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and out == "", err
    return lines[0]


def test_bad_inputs_fail_with_one_line(song: Path, tmp_path: Path, capsys) -> None:
    text = song.read_text(encoding="utf-8")
    no_audio = tmp_path / "no_audio.osu"
    no_audio.write_text(
        text.replace("AudioFilename: audio.ogg", "AudioFilename: missing.ogg"), encoding="utf-8"
    )
    # Once as a real command line: exit code 1 and one stderr line from the interpreter itself.
    run = subprocess.run(
        [sys.executable, "mai_mod.py", f"beatmap_path={no_audio}"], cwd=REPO, capture_output=True, text=True
    )
    assert run.returncode == 1 and run.stdout == "", run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "missing.ogg" in run.stderr

    garbage = tmp_path / "garbage.osu"
    garbage.write_bytes(b"\x00\x01 not a beatmap")
    assert "garbage.osu" in _one_line_failure([f"beatmap_path={garbage}"], capsys)
    assert "nowhere.osu" in _one_line_failure([f"beatmap_path={tmp_path / 'nowhere.osu'}"], capsys)

    other_mode = song.parent / "mode5.osu"
    other_mode.write_text(re.sub(r"Mode:\s*\d", "Mode: 5", text), encoding="utf-8")
    assert "Mode 5" in _one_line_failure([f"beatmap_path={other_mode}"], capsys)

    assert "threshold" in _one_line_failure([f"beatmap_path={song}", "threshold=abc"], capsys)
    assert "output_format" in _one_line_failure([f"beatmap_path={song}", "output_format=xml"], capsys)
    assert "beatmap_path" in _one_line_failure([], capsys)


def test_validate_names_the_option() -> None:
    with pytest.raises(OsuT5Error, match="per_category"):
        validate_mai_mod(MaiModOptions(beatmap_path="x.osu", per_category=0))


def test_beats_moved_by_a_wrong_offset_fold_into_its_suggestion(corpus_dir: Path) -> None:
    """The offset suggestion takes in the beat suggestions of its own section that lean its way, and
    their top score; beats leaning the other way, after the next redline, or objects stay apart."""
    beatmap = parse_beatmap_file(
        corpus_dir
        / "beatmaps/std/brandondong-osu-beatmap-generator/Komine Lisa - unity - TV Size - Yudragen - Normal.osu"
    )
    assert [p.time for p in beatmap.timing_points if p.uninherited][:2] == [1365.0, 48788.0]

    def suggestion(time_ms: int, score: float, kind: str, shift: int | None, context: str = "timing"):
        token = "offset (beats)" if kind == "timing_point" and shift is None else "time_shift"
        event = {"context": context, "kind": kind, "time_ms": time_ms, "object_time_ms": None,
                 "token": token, "value": -15 if token.startswith("offset") else time_ms}  # fmt: skip
        category = "timing" if context == "timing" else "rhythm"
        return Suggestion(
            category, time_ms, score, "m", "expected its offset 15 ms earlier", event, (), shift
        )

    offset = suggestion(1365, 2.0, "timing_point", None)
    moved = [suggestion(5000, 5.0, "beat", -10), suggestion(9000, 6.5, "measure", -12)]
    other_way = suggestion(12000, 4.0, "beat", 10)
    next_section = suggestion(50000, 7.0, "beat", -10)
    same_step = suggestion(13000, 3.0, "beat", -5)  # "about the same time": not moved
    an_object = suggestion(6000, 9.0, "circle", -10, context="map")
    kept = fold_moved_beats([offset, *moved, other_way, next_section, same_step, an_object], beatmap)

    assert kept == [offset, other_way, next_section, same_step, an_object]
    assert offset.score == 6.5
    assert offset.expected.endswith("it explains 2 beats the model expected earlier")
