"""The last post-processing step on corpus maps: in std, taiko and catch no object lands on top of the
one before it (a second hit at the same moment, or during a slider), while mania keeps its chords."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from osuT5.beatmap import (
    Circle,
    GameMode,
    Slider,
    beatmap_to_text,
    parse_beatmap_file,
    parse_beatmap_text,
    time_clashes,
)
from osuT5.errors import OsuT5Error
from osuT5.inference.playable import make_playable
from osuT5.inference.validity import check_validity
from osuT5.roundtrip import roundtrip

STD_MAP = "std/brandondong-osu-beatmap-generator/Lou Bega - Mambo No.5 - Lesjuh - Normal.osu"


def test_corpus_maps_keep_their_objects_apart(corpus_beatmaps) -> None:
    """The rule fits what mappers write: nearly every std, taiko and catch map of the corpus has no
    clash at all (the few that do are gimmick maps)."""
    checked = clean = 0
    for path in corpus_beatmaps[::3]:
        try:
            beatmap = parse_beatmap_file(path)
        except OsuT5Error:
            continue
        if beatmap.mode == GameMode.MANIA or not beatmap.hit_objects:
            continue
        checked += 1
        clean += not any(time_clashes(sorted(beatmap.hit_objects, key=lambda h: h.time)))
    assert checked >= 200
    assert clean / checked >= 0.95


def test_objects_on_top_of_the_previous_one_are_dropped(corpus_dir) -> None:
    beatmap = parse_beatmap_file(corpus_dir / "beatmaps" / STD_MAP)
    beatmap.hit_objects = beatmap.hit_objects[:80]
    original = copy.deepcopy(beatmap.hit_objects)
    circle = next(h for h in original if isinstance(h, Circle))
    slider = next(h for h in original if isinstance(h, Slider) and h.end_time - h.time > 100)
    added = [
        replace(circle, x=circle.x + 150),  # a second hit at the same time, elsewhere
        replace(circle, time=circle.time + 1, x=circle.x + 80),  # 1 ms later
        Circle(256, 192, slider.time + (slider.end_time - slider.time) / 2),  # in the middle of a slider
    ]
    beatmap.hit_objects = sorted(original + added, key=lambda h: h.time)
    song_ms = beatmap.objects_end_time() + 1000
    assert check_validity(beatmap, song_ms).time_overlaps == 3
    assert not check_validity(beatmap, song_ms).ok

    fixes = make_playable(beatmap, song_ms)
    assert fixes["dropped on top of the previous object"] == 3
    assert beatmap.hit_objects == original
    assert check_validity(beatmap, song_ms).ok


@pytest.mark.parametrize("gap_ms, kept", [(19.0, False), (20.0, True)])
def test_the_gap_limit_is_an_eighth_of_a_beat_at_375_bpm(gap_ms: float, kept: bool) -> None:
    objects = [Circle(100, 100, 1000.0), Circle(300, 100, 1000.0 + gap_ms)]
    assert time_clashes(objects) == [False, not kept]


def test_mania_chords_stay(corpus_beatmaps) -> None:
    """Mania notes at one time in different columns are a chord, not a clash."""
    for path in corpus_beatmaps:
        if "/mania/" not in str(path):
            continue
        beatmap = parse_beatmap_file(path)
        times = [h.time for h in beatmap.hit_objects]
        if len(times) != len(set(times)):
            break
    else:
        pytest.fail("no mania map with chords in the corpus")
    before = len(beatmap.hit_objects)
    fixes = make_playable(beatmap, beatmap.objects_end_time() + 1000)
    assert fixes["dropped on top of the previous object"] == 0
    assert len(beatmap.hit_objects) == before - fixes["dropped overlapping in a mania column"]
    assert len({h.time for h in beatmap.hit_objects}) < len(beatmap.hit_objects)


def test_a_slider_of_no_duration_is_written_with_a_token_length(corpus_dir) -> None:
    """A slider whose end the model puts at its head keeps no duration in the written file: a length of
    0 would make osu! play the control path's whole length, over the objects after it."""
    beatmap = parse_beatmap_file(corpus_dir / "beatmaps" / STD_MAP)
    beatmap.hit_objects = beatmap.hit_objects[:40]
    slider = next(h for h in beatmap.hit_objects if isinstance(h, Slider) and h.slides == 1)
    slider.span_duration = 0.0  # its end event lands on its head
    rebuilt = parse_beatmap_text(beatmap_to_text(roundtrip(beatmap)))
    [written] = [h for h in rebuilt.hit_objects if h.time == slider.time]
    assert isinstance(written, Slider) and 0 < written.length <= 0.01
    assert written.end_time == pytest.approx(written.time, abs=0.1)
    assert not any(time_clashes(rebuilt.hit_objects))
