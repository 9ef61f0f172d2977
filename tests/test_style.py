"""Conditioning events: order, per-mode presence, quantisation and unknowns."""

from __future__ import annotations

from pathlib import Path

import pytest

from osuT5.beatmap import GameMode, parse_beatmap_file
from osuT5.events import EventType
from osuT5.style import DEFAULT_DESCRIPTORS, Conditions, condition_events, conditions_from_beatmap
from osuT5.tokenizer import Tokenizer, TokenizerConfig


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer(TokenizerConfig(n_mappers=3, descriptors=DEFAULT_DESCRIPTORS))


def _types(events) -> list[EventType]:
    return [e.type for e in events]


def test_order_and_mode_specific_events(tokenizer: Tokenizer) -> None:
    common = [
        EventType.GAMEMODE,
        EventType.DIFFICULTY,
        EventType.MAPPER,
        EventType.YEAR,
        EventType.HITSOUNDED,
        EventType.SONG_LENGTH,
    ]
    std = condition_events(Conditions(GameMode.STD), tokenizer, 0.5)
    assert _types(std) == [
        *common,
        EventType.GLOBAL_SV,
        EventType.CIRCLE_SIZE,
        EventType.DESCRIPTOR,
        EventType.SONG_POSITION,
    ]
    mania = condition_events(Conditions(GameMode.MANIA), tokenizer, 0.5)
    assert _types(mania) == [
        *common,
        EventType.KEYCOUNT,
        EventType.HOLD_NOTE_RATIO,
        EventType.SCROLL_SPEED_RATIO,
        EventType.DESCRIPTOR,
        EventType.SONG_POSITION,
    ]
    taiko = condition_events(Conditions(GameMode.TAIKO), tokenizer, None)
    assert _types(taiko) == [
        *common,
        EventType.SCROLL_SPEED_RATIO,
        EventType.DESCRIPTOR,
        EventType.SONG_POSITION,
    ]
    # Every event encodes, so the sequence is valid model input.
    for events in (std, mania, taiko):
        assert all(tokenizer.encode(e) >= tokenizer.vocab_size_out for e in events)


def test_quantisation_and_unknowns(tokenizer: Tokenizer) -> None:
    conditions = Conditions(
        GameMode.STD,
        difficulty_stars=5.7,
        mapper=2,
        year=2021,
        hitsounded=True,
        song_length_ms=183_000,
        global_sv=1.4,
        circle_size=4.2,
    )
    values = {e.type: e.value for e in condition_events(conditions, tokenizer, 0.254)}
    assert values[EventType.DIFFICULTY] == 11  # 0.5-star bins
    assert values[EventType.SONG_LENGTH] == 18
    assert values[EventType.GLOBAL_SV] == 140
    assert values[EventType.CIRCLE_SIZE] == 8
    assert values[EventType.SONG_POSITION] == 25
    unknown = {
        e.type: e.value
        for e in condition_events(conditions.without("difficulty_stars", "mapper", "year"), tokenizer, 0.0)
    }
    for kind in (EventType.DIFFICULTY, EventType.MAPPER, EventType.YEAR):
        assert unknown[kind] == tokenizer.unknown(kind).value
    # Out-of-range values become unknown rather than a wrong bin.
    far = {
        e.type: e.value
        for e in condition_events(Conditions(GameMode.STD, year=1999, mapper=99), tokenizer, 0.0)
    }
    assert far[EventType.YEAR] == tokenizer.unknown(EventType.YEAR).value
    assert far[EventType.MAPPER] == tokenizer.unknown(EventType.MAPPER).value


def test_descriptors(tokenizer: Tokenizer) -> None:
    events = condition_events(
        Conditions(GameMode.STD, descriptors=("style/clean", "skillset/jumps")), tokenizer, 0.0
    )
    descriptor_values = [e.value for e in events if e.type == EventType.DESCRIPTOR]
    assert descriptor_values == [
        tokenizer.descriptor_index["style/clean"],
        tokenizer.descriptor_index["skillset/jumps"],
    ]
    with pytest.raises(ValueError, match="unknown descriptor 'nope'"):
        condition_events(Conditions(GameMode.STD, descriptors=("nope",)), tokenizer, 0.0)


def test_conditions_from_real_maps(corpus_dir: Path) -> None:
    mania = parse_beatmap_file(
        next((corpus_dir / "beatmaps" / "mania").glob("**/James Landino - Reaction*Advanced*.osu"))
    )
    c = conditions_from_beatmap(mania, stars=2.5, song_length_ms=120_000)
    assert c.gamemode == GameMode.MANIA and c.keycount == mania.keycount
    assert 0.0 <= c.hold_note_ratio <= 1.0
    std = parse_beatmap_file(
        next((corpus_dir / "beatmaps" / "std").glob("**/DJ Ozawa - Tokyo*Beginner*.osu"))
    )
    c = conditions_from_beatmap(std, stars=1.5, song_length_ms=180_000)
    assert c.global_sv == pytest.approx(0.7) and c.circle_size == 2.5
    assert c.keycount is None and c.hold_note_ratio is None
