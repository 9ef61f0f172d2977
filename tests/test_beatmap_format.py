"""Tests for the .osu/.osz format layer on the shared corpus: lossless round trips, star ratings
against rosu-pp, osu!'s handling of malformed files, a mutation fuzz test, archives, typed views."""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import zipfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import rosu_pp_py as rosu
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osuT5.beatmap import (
    Beatmap,
    Circle,
    GameMode,
    HoldNote,
    Slider,
    Spinner,
    TimingIndex,
    beatmap_to_text,
    parse_beatmap_bytes,
    parse_beatmap_file,
    parse_beatmap_text,
    read_osz,
    write_beatmap_file,
    write_osz,
)
from osuT5.errors import BeatmapError, OsuT5Error

MODES = ("std", "taiko", "catch", "mania")
STAR_RATING_RTOL = 1e-4


def same_beatmap(a: Any, b: Any) -> bool:
    """Dataclass equality over every compared field, with NaN equal to NaN (beat lengths may be NaN)."""
    if dataclasses.is_dataclass(a) and type(a) is type(b):
        return all(
            same_beatmap(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a) if f.compare
        )
    if isinstance(a, (list, tuple)) and type(a) is type(b):
        return len(a) == len(b) and all(same_beatmap(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same_beatmap(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def star_rating(**source: str) -> float:
    return rosu.Difficulty().calculate(rosu.Beatmap(**source)).stars


def stars_close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=STAR_RATING_RTOL, abs_tol=1e-12)


# --- 1, 2: the whole corpus, each file parsed once per session -----------------------------


class RoundTrip(NamedTuple):
    """What one corpus file does in parse -> write -> parse -> write, and rosu-pp's view of it."""

    path: Path
    n_objects: int
    identical: bool  # parse(x) == parse(write(parse(x)))
    stable: bool  # write(parse(write(parse(x)))) == write(parse(x))
    rosu_mode: tuple[str, str]  # the mode rosu-pp reads from the original and the written text
    stars: tuple[float, float]  # rosu-pp's star rating of the original and the written text


def _round_trip(path: Path) -> RoundTrip:
    original = parse_beatmap_file(path)
    text = beatmap_to_text(original)
    reparsed = parse_beatmap_text(text, path)
    before, after = rosu.Beatmap(path=str(path)), rosu.Beatmap(content=text)
    return RoundTrip(
        path,
        len(original.hit_objects),
        original == reparsed,
        beatmap_to_text(reparsed) == text,
        (str(before.mode), str(after.mode)),
        (rosu.Difficulty().calculate(before).stars, rosu.Difficulty().calculate(after).stars),
    )


@pytest.fixture(scope="session")
def round_trips(corpus_beatmaps: list[Path]) -> list[RoundTrip]:
    # About 45 s of CPU for 40 MB of maps: spread it over the machine's cores.
    workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(_round_trip, corpus_beatmaps, chunksize=8))


def test_corpus_is_complete(corpus_beatmaps: list[Path], round_trips: list[RoundTrip]) -> None:
    assert len(corpus_beatmaps) >= 1000  # 1,018 files when this was written
    assert {p.parent.parent.name for p in corpus_beatmaps} == set(MODES)
    # The comparisons below must see real content, not empty beatmaps.
    assert sum(rt.n_objects for rt in round_trips) > 900_000


def test_corpus_round_trip_is_identical(round_trips: list[RoundTrip]) -> None:
    failed = [str(rt.path) for rt in round_trips if not rt.identical]
    assert not failed, f"{len(failed)} files change in parse -> write -> parse: {failed[:10]}"


def test_corpus_written_text_is_stable(round_trips: list[RoundTrip]) -> None:
    failed = [str(rt.path) for rt in round_trips if not rt.stable]
    assert not failed, f"{len(failed)} files write differently the second time: {failed[:10]}"


@pytest.mark.parametrize("mode_folder", MODES)
def test_corpus_star_ratings_survive_the_round_trip(
    corpus_dir: Path, round_trips: list[RoundTrip], mode_folder: str
) -> None:
    maps = [rt for rt in round_trips if rt.path.relative_to(corpus_dir / "beatmaps").parts[0] == mode_folder]
    assert maps
    failed = [
        f"{rt.path}: {rt.rosu_mode[0]} {rt.stars[0]} -> {rt.rosu_mode[1]} {rt.stars[1]} stars"
        for rt in maps
        if rt.rosu_mode[0] != rt.rosu_mode[1] or not stars_close(*rt.stars)
    ]
    assert not failed, f"{len(failed)} of {len(maps)} {mode_folder} maps differ: {failed[:10]}"


# --- 3: edge cases, each with what osu!lazer's LegacyBeatmapDecoder does with it --------------


@dataclasses.dataclass(frozen=True)
class Loads:
    """The file loads with `n_objects` hit objects and `view(beatmap) == expected`."""

    n_objects: int
    view: Callable[[Beatmap], Any] = lambda b: None
    expected: Any = None
    version: int = 14
    warning: str | None = None  # a substring one of beatmap.warnings must contain


@dataclasses.dataclass(frozen=True)
class Fails:
    """Parsing raises BeatmapError naming the file and, where there is one, the line."""

    line: int | None


def _types(b: Beatmap) -> list[str]:
    return [type(o).__name__ for o in b.hit_objects]


def _difficulty(b: Beatmap) -> tuple[float, ...]:
    return (b.hp_drain_rate, b.circle_size, b.overall_difficulty, b.approach_rate)


def _tp(b: Beatmap) -> list[tuple[float, bool]]:
    return [(tp.time, tp.uninherited) for tp in b.timing_points]


EDGE_CASES: dict[str, Loads | Fails] = {
    # osu! skips every line it cannot read here ($placeholders) and loads 0 objects; a hit-object
    # line we cannot read is corrupt training data, so we refuse the file (project policy).
    "mapperatorinator_template.osu": Fails(line=62),
    # Loads. A Tags continuation line without ':' is ignored; storyboard junk is kept verbatim.
    "mapping-tools_MessedUpTestMap.osu": Loads(
        17,
        lambda b: (
            [_types(b).count(t) for t in ("Circle", "Slider", "Spinner")],
            b.metadata["Tags"],
            b.background,
            b.stack_leniency,
            b.slider_multiplier,
            len(b.timing_points),
            len(b.colours),
        ),
        (
            [9, 7, 1],
            "ilya bryzgalov simple visualisation",
            "maxresdefault (4).jpg",
            0.2,
            2.79999990463257,
            7,
            4,
        ),
    ),
    # osu! clamps difficulty values to 0..10; the raw text is kept.
    "osu-droid-module_negativeOD.osu": Loads(
        2,
        lambda b: (b.difficulty["OverallDifficulty"], b.overall_difficulty, b.hp_drain_rate, b.approach_rate),
        ("-1", 0.0, 0.0, 0.0),
        version=13,
    ),
    "osu-droid_out-of-range-difficulty.osu": Loads(0, _difficulty, (10.0, 10.0, 10.0, 10.0)),
    # osu! throws "Unknown file format (no content)".
    "osu-parser-rs_blank.osu": Fails(line=None),
    # osu! skips the junk lines (keys without ':', an unreadable timing line, junk between hit
    # objects) and reads "five"/"NaN"/"what???" as defaults; the junk hit-object line fails us.
    "osu-parser-rs_broken.osu": Fails(line=57),
    "osu-parser-rs_colortest.osu": Loads(
        0,
        lambda b: b.colours,
        {
            "Combo1": (69, 228, 13),
            "Combo2": (207, 207, 207),
            "Combo3": (128, 128, 128),
            "Combo4": (128, 255, 255),
            "Combo5": (26, 140, 255),
            "Combo6": (1, 37, 27),
        },
    ),
    # An empty difficulty name and BeatmapID 0 (meaning "none"); kiai toggled by green lines.
    "ppy-osu-resources_nekodex - circles - peppy.osu": Loads(
        0,
        lambda b: (
            b.audio_filename,
            b.version,
            b.beatmap_id,
            len(b.timing_points),
            [TimingIndex(b.timing_points).kiai_at(t) for t in (12000, 13000, 23200, 23500)],
        ),
        ("circles.ogg", "", None, 11, [False, True, False, True]),
    ),
    # No header: osu! falls back to the latest version. osu! merges the duplicated points into one
    # Catmull segment when building the path; we keep the five written points.
    "ppy-osu_adjacent-catmull-segments.osu": Loads(
        1,
        lambda b: (_types(b), b.hit_objects[0].curve_type, len(b.hit_objects[0].curve_points), b.mode),
        (["Slider"], "C", 5, GameMode.STD),
        warning="no 'osu file format vN' header",
    ),
    "ppy-osu_approach-rate-after-overall-difficulty.osu": Loads(
        0, lambda b: (b.overall_difficulty, b.approach_rate), (1.0, 9.0), warning="header"
    ),
    "ppy-osu_beatmap-version-4.osu": Loads(0, lambda b: b.general["PreviewTime"], "-1", version=4),
    # A header and nothing else is an empty v6 beatmap to osu!.
    "ppy-osu_beatmap-version-6.osu": Loads(0, lambda b: (b.general, b.timing_points), ({}, []), version=6),
    # The first control point repeats the slider's head; osu! keeps all four points.
    "ppy-osu_catmull-duplicate-initial-controlpoint.osu": Loads(
        1, lambda b: b.hit_objects[0].curve_points, [(200, 304), (288, 304), (288, 208), (352, 208)]
    ),
    # Commented-out colours are skipped and "// ..." is cut off the end of a line.
    "ppy-osu_comments.osu": Loads(0, lambda b: b.colours, {"Combo1": (100, 100, 100)}),
    # The header is not at the start of the first line: osu! reads it as the latest version.
    "ppy-osu_corrupted-header.osu": Loads(
        0, lambda b: (b.title, b.creator), ("Beatmap with corrupted header", "Evil Hacker"), warning="header"
    ),
    "ppy-osu_empty-line-instead-of-header.osu": Loads(
        0,
        lambda b: (b.title, b.creator),
        ("The dog ate the file header", "Why does this keep happening"),
        warning="line 3: no 'osu file format vN' header",
    ),
    "ppy-osu_empty-lines-at-start.osu": Loads(
        0, lambda b: (b.title, b.creator, b.warnings), ("Empty lines at start", "Edge Case Hunter", [])
    ),
    # Combo offsets are the type bits 4..6; the new-combo bit is kept separately.
    "ppy-osu_hitobject-combo-offset.osu": Loads(
        12,
        lambda b: [(type(o).__name__[0], o.new_combo, o.combo_skip) for o in b.hit_objects],
        [
            ("C", False, 3),
            ("S", True, 0),
            ("C", False, 0),
            ("S", False, 0),
            ("C", False, 0),
            ("S", False, 0),
            ("C", True, 0),
            ("S", True, 1),
            ("C", True, 3),
            ("S", True, 2),
            ("S", False, 0),
            ("C", False, 0),
        ],
    ),
    # v128 (lazer) keeps fractional coordinates; stable versions truncate them.
    "ppy-osu_hitobject-coordinates-lazer.osu": Loads(
        1, lambda b: (b.hit_objects[0].x, b.hit_objects[0].y), (256.99853, 256.001), version=128
    ),
    # osu! plays an undefined bank (42) as Normal; the format layer keeps the number as written.
    "ppy-osu_invalid-bank.osu": Loads(
        10,
        lambda b: [(o.hit_sample.normal_set, o.hit_sample.addition_set) for o in b.hit_objects],
        [(0, 0), (1, 0), (2, 0), (3, 0), (42, 0), (0, 0), (0, 1), (0, 2), (0, 3), (0, 42)],
    ),
    # Unknown event types are kept (osu! keeps them as unhandled lines) and do not stop loading.
    "ppy-osu_invalid-events.osu": Loads(
        0,
        lambda b: (b.background, b.breaks, b.events[0]),
        ("machinetop_background.jpg", [(122474.0, 140135.0)], "bad,event,this,should,fail"),
    ),
    "ppy-osu_missing-header.osu": Loads(
        0,
        lambda b: (b.title, b.creator),
        ("Beatmap with no header", "Incredibly Evil Hacker"),
        warning="line 1: no 'osu file format vN' header",
    ),
    # osu! drops the red line with a NaN beat length; a NaN green line means SV 1 without ticks.
    "ppy-osu_nan-control-points.osu": Loads(
        0,
        lambda b: (
            _tp(b),
            math.isnan(b.timing_points[1].beat_length),
            [TimingIndex(b.timing_points).slider_velocity_at(t) for t in (1500, 2000, 3000)],
        ),
        ([(1000.0, True), (2000.0, False), (3000.0, False)], True, [1.0, 1.0, 1.0]),
        warning="line 6: timing point skipped",
    ),
    # The slider sits on a red line of 8.404 ms/beat and a NaN green line (SV 1): it lasts
    # 1723.66 px / (100 * 2.0 px/beat) * 8.404 ms/beat = 72.43 ms.
    "ppy-osu_nan-slider.osu": Loads(
        5,
        lambda b: (
            _types(b),
            round(b.hit_objects[4].span_duration, 6),
            round(b.hit_objects[4].end_time, 6),
            len(b.hit_objects[4].curve_points),
        ),
        (["Circle"] * 4 + ["Slider"], 72.428571, 77569.428571, 48),
    ),
    "ppy-osu_no-empty-line-after-header.osu": Loads(
        0, lambda b: b.title, "No empty line delimiting header from contents"
    ),
    # osu!mania allows up to 18 keys, so CircleSize 14 is not clamped to 10.
    "ppy-osu_out-of-range-difficulties-mania.osu": Loads(
        0, lambda b: (b.mode, b.circle_size, b.keycount), (GameMode.MANIA, 14.0, 14)
    ),
    "ppy-osu_out-of-range-difficulties.osu": Loads(
        0,
        lambda b: (*_difficulty(b), b.slider_multiplier, b.slider_tick_rate),
        (10.0, 10.0, 10.0, 10.0, 3.6, 8.0),
    ),
    # All eight lines are kept in file order (what osu! makes of them: see the test below).
    "ppy-osu_overlapping-control-points.osu": Loads(
        0,
        lambda b: (
            _tp(b)[:4],
            [round(TimingIndex(b.timing_points).slider_velocity_at(t), 9) for t in (500, 3500)],
        ),
        ([(0.0, True), (0.0, False), (1000.0, False), (1000.0, True)], [1.5, 1.5]),
    ),
    # A green line before any red line still sets the SV (0.5); the red line resets it to 1.
    "ppy-osu_timingpoint-speedmultiplier-reset.osu": Loads(
        0,
        lambda b: (
            [TimingIndex(b.timing_points).slider_velocity_at(t) for t in (0, 2000)],
            b.timing_points[1].meter,
        ),
        ([0.5, 1.0], 1),
    ),
    "ppy-osu_undefined-approach-rate.osu": Loads(
        0, lambda b: (b.overall_difficulty, b.approach_rate), (1.0, 1.0)
    ),
}


def test_every_edge_case_has_an_expectation(corpus_dir: Path) -> None:
    assert sorted(p.name for p in (corpus_dir / "edge_cases").glob("*.osu")) == sorted(EDGE_CASES)


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_case_loads_as_osu_does(corpus_dir: Path, name: str) -> None:
    path = corpus_dir / "edge_cases" / name
    expectation = EDGE_CASES[name]
    if isinstance(expectation, Fails):
        with pytest.raises(BeatmapError) as caught:
            parse_beatmap_file(path)
        assert str(path) in str(caught.value)
        assert caught.value.line == expectation.line
        if expectation.line is not None:
            assert f"line {expectation.line}:" in str(caught.value)
        return
    beatmap = parse_beatmap_file(path)
    assert len(beatmap.hit_objects) == expectation.n_objects
    assert beatmap.format_version == expectation.version
    assert expectation.view(beatmap) == expectation.expected
    if expectation.warning is not None:
        assert any(expectation.warning in w for w in beatmap.warnings), beatmap.warnings
    # Whatever loads also writes, reads back the same, and is a map rosu-pp can rate.
    text = beatmap_to_text(beatmap)
    assert same_beatmap(parse_beatmap_text(text), beatmap)
    assert math.isfinite(star_rating(content=text))


def test_green_line_overrides_red_line_at_the_same_time(corpus_dir: Path) -> None:
    beatmap = parse_beatmap_file(corpus_dir / "edge_cases" / "ppy-osu_overlapping-control-points.osu")
    timing = TimingIndex(beatmap.timing_points)
    # osu!'s TestDecodeOverlappingTimingPoints: SV 1.5, 1.5, 0.75, 1.5; kiai on, on, off, on.
    assert [timing.slider_velocity_at(t) for t in (500, 1500, 2500, 3500)] == pytest.approx(
        [1.5, 1.5, 0.75, 1.5]
    )
    assert [timing.kiai_at(t) for t in (500, 1500, 2500, 3500)] == [True, True, False, True]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("osu file format v14\n\n[HitObjects]\n256,192,1000,1,0,0:0:0:0:\n256,192,oops,1,0\n", 5),
        ("osu file format v14\n[HitObjects]\n256,192,1000,2,0,L|nan:3,1,100\n", 3),
        ("osu file format v14\n[HitObjects]\n256,192,1000,2,0,L|300:192,9001,100\n", 3),
        ("osu file format v14\n[HitObjects]\n256,192,1000,64,0\n", 3),  # no known type bit
        ("osu file format v14\n[HitObjects]\n999999,192,1000,1,0\n", 3),  # beyond osu!'s coordinates
        ("osu file format v14\n[HitObjects]\n256,192,1000,2,0,B|1e300:5,1,0\n", 3),  # geometry would overflow
        ("osu file format vX\n[General]\nMode: 0\n", 1),  # a header osu! cannot read either
        ("\n\nosu file format v99999999999\n[General]\n", 3),
    ],
)
def test_malformed_lines_name_their_line(text: str, line: int) -> None:
    with pytest.raises(BeatmapError) as caught:
        parse_beatmap_text(text, "x.osu")
    assert caught.value.line == line and f"x.osu, line {line}:" in str(caught.value)


def test_lenient_lines_follow_osu() -> None:
    text = (
        "osu file format v14\n[General]\nMode: 1 // taiko\nno separator here\n"
        "[Metadata]\nTitle:a // b\n"  # metadata keeps "//" (osu! does not strip comments there)
        "[TimingPoints]\n0,500,4,2,0,100,1,0 // red\nbogus,line\n1000,-50,4,2,0,100,0,1\n"
        "[HitObjects] // a section header may carry a comment too\n256,192,1000,1,0,0:0:0:0:hit.wav // note\n"
    )
    beatmap = parse_beatmap_text(text)
    assert beatmap.mode == GameMode.TAIKO
    assert beatmap.title == "a // b"
    assert [tp.time for tp in beatmap.timing_points] == [0.0, 1000.0]
    assert any("line 9: timing point skipped" in w for w in beatmap.warnings)
    assert beatmap.hit_objects[0].hit_sample.filename == "hit.wav"
    # osu!'s reader breaks lines at \r and \n only: U+2028 and \x85 stay inside a metadata value.
    assert (
        parse_beatmap_text("osu file format v14\n[Metadata]\nTitle:a\u2028b\x85c\n").title == "a\u2028b\x85c"
    )
    utf16 = parse_beatmap_bytes("osu file format v9\r\n[Metadata]\r\nTitle:東方\r\n".encode("utf-16"))
    assert (utf16.format_version, utf16.title) == (9, "東方")
    with pytest.raises(BeatmapError, match="not a .osu beatmap"):
        parse_beatmap_text("just some text\nwith: a colon\n", "notes.txt")


# --- 4: fuzzing real maps -------------------------------------------------------------------

FUZZ_SEEDS = (
    "std/ppy-osu/Soleily - Renatus - Gamu - Normal.osu",
    "taiko/ppy-osu/Soleily - Renatus - MMzz - Futsuu.osu",
    "catch/ppy-osu/Soleily - Renatus - Deif - Salad.osu",
    "mania/ppy-osu/Soleily - Renatus - ExPew - Normal.osu",
    "std/ppy-osu/legacy export - stability test - spaceman_atlas.osu",  # v128, multi-segment sliders
)
# Numbers osu! (or Python) might misread: NaN, infinities, overflows, odd spellings, other digits.
ODD_NUMBERS = (*"nan NaN -nan inf -Infinity 1e309 -1e400 1e300 -0 0x10 1_000 +5 1e-320 ١٢".split(), "", " 7 ")
ODD_NUMBERS += ("2147483648", "-2147483649", "131073", "9" * 40, "9" * 5000)


@pytest.fixture(scope="session")
def fuzz_seeds(corpus_dir: Path) -> list[list[str]]:
    seeds = [
        (corpus_dir / "beatmaps" / name).read_text(encoding="utf-8-sig").splitlines() for name in FUZZ_SEEDS
    ]
    assert [parse_beatmap_text("\n".join(lines)).mode for lines in seeds] == [0, 1, 2, 3, 0]
    return seeds


def _mutate_line(data: st.DataObject, line: str) -> list[str]:
    """Return the lines that replace `line` (none, one or several)."""
    op = data.draw(
        st.sampled_from(("char", "delete", "duplicate", "swap", "junk", "truncate", "number", "line"))
    )
    at = data.draw(st.integers(0, len(line)))
    if op == "char":
        return [line[:at] + data.draw(st.characters()) + line[at + 1 :]]
    if op == "delete":
        return [line[:at] + line[at + data.draw(st.integers(1, 5)) :]]
    if op == "duplicate":
        return [line[:at] + line[at : at + 3] + line[at:]]
    if op == "truncate":
        return [line[:at]]
    if op == "junk":
        junk = data.draw(
            st.text(st.sampled_from(",:|[]/ -.\t0123456789BLPCNaeE") | st.characters(), max_size=12)
        )
        return [line[:at] + junk + line[at:]]
    if op == "line":  # delete, duplicate or insert a whole line
        return data.draw(st.sampled_from(([], [line, line], [line, data.draw(st.text(max_size=30))])))
    fields = line.split(",")
    i = data.draw(st.integers(0, len(fields) - 1))
    if op == "swap":
        j = data.draw(st.integers(0, len(fields) - 1))
        fields[i], fields[j] = fields[j], fields[i]
    else:
        fields[i] = data.draw(
            st.sampled_from(ODD_NUMBERS)
            | st.integers(-(2**63), 2**63).map(str)
            | st.floats(allow_nan=True, allow_infinity=True).map(repr)
        )
    return [",".join(fields)]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_maps_raise_only_beatmap_errors(fuzz_seeds: list[list[str]], data: st.DataObject) -> None:
    lines = list(data.draw(st.sampled_from(fuzz_seeds)))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        lines[i : i + 1] = _mutate_line(data, lines[i])
    text = "\r\n".join(lines)
    try:
        if data.draw(st.booleans()):
            beatmap = parse_beatmap_text(text)
        else:  # through the byte decoder, lone surrogates included
            beatmap = parse_beatmap_bytes(text.encode("utf-8", "surrogatepass"))
    except BeatmapError:
        return
    written = beatmap_to_text(beatmap)
    reparsed = parse_beatmap_text(written)
    assert same_beatmap(reparsed, beatmap)
    assert beatmap_to_text(reparsed) == written


# --- 5: archives and files ------------------------------------------------------------------


def test_osz_round_trip(corpus_dir: Path, tmp_path: Path) -> None:
    names = ("Soleily - Renatus - Gamu - Hard.osu", "Soleily - Renatus - Gamu - Normal.osu")
    beatmaps = {
        name: parse_beatmap_file(corpus_dir / "beatmaps" / "std" / "ppy-osu" / name) for name in names
    }
    audio = bytes(range(256)) * 1000  # stands in for an mp3
    path = write_osz(tmp_path / "set.osz", beatmaps, {"audio.mp3": audio})
    read_beatmaps, files = read_osz(path)
    assert list(read_beatmaps) == list(names)
    assert all(read_beatmaps[n] == beatmaps[n] for n in names)
    assert files == {"audio.mp3": audio}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set.osz"]  # no temporary file left
    with pytest.raises(OsuT5Error, match="refusing to overwrite"):
        write_osz(path, beatmaps)


def test_osz_errors_name_the_archive(corpus_dir: Path, tmp_path: Path) -> None:
    not_zip = tmp_path / "fake.osz"
    not_zip.write_bytes(b"PK not really a zip")
    no_osu = tmp_path / "no_osu.osz"
    with zipfile.ZipFile(no_osu, "w") as archive:
        archive.writestr("audio.mp3", b"\xff\xfb\x90")
    bad_osu = tmp_path / "bad_osu.osz"
    with zipfile.ZipFile(bad_osu, "w") as archive:
        archive.writestr("broken.osu", "osu file format v14\n[HitObjects]\n1,2\n")
    corrupt = tmp_path / "corrupt.osz"  # a flipped byte in a stored entry: its CRC no longer matches
    with zipfile.ZipFile(corrupt, "w") as archive:
        archive.writestr("map.osu", "osu file format v14\n[Metadata]\nTitle:intact\n")
    corrupt.write_bytes(corrupt.read_bytes().replace(b"intact", b"broken"))
    for path, reason in (
        (not_zip, "not a valid .osz"),
        (no_osu, "no .osu"),
        (bad_osu, "line 3"),
        (corrupt, "cannot read 'map.osu'"),
        (tmp_path / "missing.osz", "not found"),
    ):
        with pytest.raises(BeatmapError, match=reason) as caught:
            read_osz(path)
        assert str(path) in str(caught.value)


def test_write_beatmap_file_never_overwrites(corpus_dir: Path, tmp_path: Path) -> None:
    beatmap = parse_beatmap_file(
        corpus_dir / "beatmaps" / "std" / "ppy-osu" / "Soleily - Renatus - Gamu - Normal.osu"
    )
    path = write_beatmap_file(beatmap, tmp_path / "out" / "map.osu")
    assert parse_beatmap_file(path) == beatmap
    before = path.read_bytes()
    with pytest.raises(OsuT5Error, match="refusing to overwrite"):
        write_beatmap_file(Beatmap(), path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["map.osu"]
    write_beatmap_file(Beatmap(), path, overwrite=True)
    assert parse_beatmap_file(path).hit_objects == []
    assert [p.name for p in path.parent.iterdir()] == ["map.osu"]


def test_unreadable_files_raise_beatmap_error_naming_the_path(tmp_path: Path) -> None:
    empty = tmp_path / "empty.osu"
    empty.write_bytes(b"")
    png = tmp_path / "cover.osu"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256)))
    for path, reason in (
        (tmp_path / "missing.osu", "not found"),
        (tmp_path, "directory"),
        (empty, "empty"),
        (png, "binary"),
    ):
        with pytest.raises(BeatmapError, match=reason) as caught:
            parse_beatmap_file(path)
        assert caught.value.path == str(path) and str(path) in str(caught.value)


# --- 6: typed views against values read from the files by eye --------------------------------


def _corpus_map(corpus_dir: Path, relative: str) -> Beatmap:
    return parse_beatmap_file(corpus_dir / "beatmaps" / relative)


def test_views_of_a_std_map(corpus_dir: Path) -> None:
    b = _corpus_map(corpus_dir, "std/ppy-osu/Soleily - Renatus - Gamu - Hard.osu")
    assert (b.mode, b.format_version, b.version, b.beatmap_id) == (GameMode.STD, 14, "Hard", 557814)
    assert (b.circle_size, b.approach_rate, b.overall_difficulty, b.hp_drain_rate) == (4.0, 7.5, 6.0, 6.0)
    assert (b.slider_multiplier, b.slider_tick_rate, b.stack_leniency) == (1.4, 2.0, 0.7)
    assert b.background == "machinetop_background.jpg"
    assert b.breaks == [(122474.0, 139910.0)]
    assert b.metadata["Tags"] == "MBC7 Unisphere 地球ヤバイEP Chikyu Yabai"
    kiai = next(tp for tp in b.timing_points if tp.time == 53703)
    assert kiai.kiai and not kiai.uninherited and kiai.slider_velocity == 1.0
    assert b.timing_points[0].bpm == pytest.approx(182.0)
    # 112,148,956,6,0,P|144:140|184:144,1,70: 70 px at 1.4 * 100 px per 329.67 ms beat = half a beat.
    slider = b.hit_objects[0]
    assert isinstance(slider, Slider) and slider.new_combo
    assert (slider.curve_type, slider.curve_points, slider.edge_sounds) == (
        "P",
        [(144, 140), (184, 144)],
        [4, 0],
    )
    assert slider.end_time == pytest.approx(956 + 329.67032967033 / 2)


def test_views_of_an_old_map_without_approach_rate(corpus_dir: Path) -> None:
    b = _corpus_map(corpus_dir, "std/kionell-osu-standard-stable/91.osu")
    assert b.format_version == 7 and "ApproachRate" not in b.difficulty
    assert (b.overall_difficulty, b.approach_rate, b.slider_multiplier) == (3.0, 3.0, 0.7)
    assert b.background is None and b.breaks == []
    # 320,64,16724,6,0,C|320:352,1,272: lines without hit samples; 272 px at 70 px per 348.84 ms.
    slider = b.hit_objects[7]
    assert isinstance(slider, Slider) and slider.time == 16724 and slider.hit_sample.filename == ""
    assert slider.end_time == pytest.approx(16724 + 272 / 70 * 348.837209302326)


def test_views_of_taiko_catch_and_mania_maps(corpus_dir: Path) -> None:
    taiko = _corpus_map(corpus_dir, "taiko/ppy-osu/Soleily - Renatus - MMzz - Futsuu.osu")
    assert (taiko.mode, taiko.version, taiko.hit_objects[0].hitsound) == (GameMode.TAIKO, "Futsuu", 4)
    catch = _corpus_map(corpus_dir, "catch/ppy-osu/Soleily - Renatus - Deif - Salad.osu")
    assert (catch.mode, catch.circle_size, catch.slider_multiplier) == (GameMode.CATCH, 3.0, 1.5)
    # 144,192,956,6,0,B|224:192|224:192|256:128,1,150: 150 px at 150 px per beat = one beat.
    assert catch.hit_objects[0].end_time == pytest.approx(956 + 329.67032967033)
    mania = _corpus_map(corpus_dir, "mania/ppy-osu/Soleily - Renatus - ExPew - Another.osu")
    assert (mania.mode, mania.circle_size, mania.keycount) == (GameMode.MANIA, 7.0, 7)
    first = mania.hit_objects[0]  # 36,192,956,5,0,0:0:0:100:Kick.wav
    assert isinstance(first, Circle) and (first.hit_sample.volume, first.hit_sample.filename) == (
        100,
        "Kick.wav",
    )
    hold = next(o for o in mania.hit_objects if o.time == 21065 and o.x == 475)  # ...,128,2,21313:0:0:0:0:
    assert isinstance(hold, HoldNote) and hold.end_time == 21313 and hold.hitsound == 2
    assert _corpus_map(corpus_dir, "mania/ppy-osu/mania-tests_7K+1.osu").keycount == 8
    hard = _corpus_map(corpus_dir, "std/ppy-osu/Soleily - Renatus - Gamu - Hard.osu")
    spinners = [(o.time, o.end_time) for o in hard.hit_objects if isinstance(o, Spinner)]
    assert spinners == [(119719, 122274), (206751, 209306)]  # 256,192,119719,12,0,122274,...
