"""The vocabulary: ids, positions, hitsounds, windows, persistence."""

from __future__ import annotations

import pytest

from osuT5.errors import OsuT5Error
from osuT5.events import (
    POS_NX,
    Event,
    EventType,
    decode_hitsound,
    decode_position,
    encode_hitsound,
    encode_position,
    slice_events,
    split_groups,
)
from osuT5.tokenizer import EOS_ID, PAD_ID, SOS_ID, Tokenizer, TokenizerConfig


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer(TokenizerConfig(n_mappers=5, descriptors=("style/clean", "streams/bursts")))


def test_every_event_id_round_trips(tokenizer):
    seen = set()
    for token_id in range(tokenizer.offset, tokenizer.vocab_size_in):
        event = tokenizer.decode(token_id)
        assert tokenizer.encode(event) == token_id
        seen.add(event)
    assert len(seen) == tokenizer.vocab_size_in - tokenizer.offset
    for special in (PAD_ID, SOS_ID, EOS_ID):
        assert not tokenizer.is_event(special)


def test_output_vocabulary_excludes_conditioning(tokenizer):
    first_condition, _ = tokenizer.type_range(EventType.GAMEMODE)
    assert first_condition == tokenizer.vocab_size_out
    last_output = tokenizer.decode(tokenizer.vocab_size_out - 1)
    assert last_output.type not in {r.type for r in tokenizer.condition_ranges}


def test_conditions_have_unknown_values(tokenizer):
    for condition in tokenizer.condition_ranges:
        unknown = tokenizer.condition(condition.type, None)
        assert unknown == tokenizer.unknown(condition.type)
        assert tokenizer.encode(unknown) > 0
        # Out-of-range values fall back to unknown rather than to a wrong bin.
        assert tokenizer.condition(condition.type, condition.max_value + 10) == unknown
    assert tokenizer.condition(EventType.MAPPER, 4) == Event(EventType.MAPPER, 4)
    assert tokenizer.condition(EventType.MAPPER, 5) == tokenizer.unknown(EventType.MAPPER)


@pytest.mark.parametrize("x, y", [(0, 0), (512, 384), (255, 191), (-7, 13), (600, -100), (1.5, 383.9)])
def test_positions_within_one_pixel(x, y):
    pos, refine = encode_position(x, y)
    dx, dy = decode_position(pos, refine)
    assert abs(dx - x) <= 1 and abs(dy - y) <= 1
    if 0 <= x <= 512 and 0 <= y <= 384:
        assert 0 <= dx <= 512 and 0 <= dy <= 384


def test_negative_coordinates_use_floor():
    # -1 px lies in the cell left of 0; truncation toward zero would put it in the cell of 0..31.
    pos_neg, _ = encode_position(-1, 100)
    pos_zero, _ = encode_position(0, 100)
    assert pos_zero - pos_neg == 1
    assert pos_neg % POS_NX == pos_zero % POS_NX - 1


def test_hitsound_packing_is_lossless():
    for bits in (0, 2, 4, 8, 14):
        for normal in (1, 2, 3):
            for addition in (1, 2, 3):
                assert decode_hitsound(encode_hitsound(bits, normal, addition)) == (bits, normal, addition)
    # The "normal" bit carries nothing: it is always played.
    assert encode_hitsound(1 | 2, 1, 1) == encode_hitsound(2, 1, 1)


def test_window_times_are_relative_and_decode_to_step_centres(tokenizer):
    events = [Event(EventType.TIME_SHIFT, 12_345), Event(EventType.CIRCLE)]
    ids = tokenizer.encode_events(events, 10_000)
    decoded = tokenizer.decode_events(ids, 10_000)
    assert decoded[0] == Event(EventType.TIME_SHIFT, 12_345)  # 2345 ms -> step 234 -> 12340 + 5
    assert decoded[1] == Event(EventType.CIRCLE)
    # Re-encoding a decoded time against a later window lands on the same global step.
    again = tokenizer.decode_events(tokenizer.encode_events(decoded, 11_000), 11_000)
    assert again[0] == decoded[0]
    with pytest.raises(ValueError, match="multiple of 10"):
        tokenizer.encode_events(events, 10_001)


def test_slicing_keeps_untimed_anchor_groups_with_their_head():
    events = [
        Event(EventType.TIME_SHIFT, 100),
        Event(EventType.SLIDER_HEAD),
        Event(EventType.POS, 5),
        Event(EventType.LAST_ANCHOR),
        Event(EventType.TIME_SHIFT, 400),
        Event(EventType.SLIDER_END),
    ]
    assert slice_events(events, 0, 200) == events[:4]
    assert slice_events(events, 200, 500) == events[4:]
    assert [g[-1].type for g in split_groups(events)] == [
        EventType.SLIDER_HEAD,
        EventType.LAST_ANCHOR,
        EventType.SLIDER_END,
    ]


def test_save_and_load(tmp_path, tokenizer):
    path = tmp_path / "tokenizer.json"
    tokenizer.save(path)
    loaded = Tokenizer.load(path)
    assert loaded.config == tokenizer.config
    assert loaded.vocab_size_in == tokenizer.vocab_size_in
    assert all(
        loaded.decode(i) == tokenizer.decode(i) for i in range(tokenizer.offset, tokenizer.vocab_size_in)
    )


def test_load_rejects_a_mismatched_vocabulary(tmp_path, tokenizer):
    path = tmp_path / "tokenizer.json"
    tokenizer.save(path)
    path.write_text(
        path.read_text().replace(f'"vocab_size_in": {tokenizer.vocab_size_in}', '"vocab_size_in": 7')
    )
    with pytest.raises(OsuT5Error, match="vocab_size_in"):
        Tokenizer.load(path)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(OsuT5Error, match="bad.json"):
        Tokenizer.load(tmp_path / "bad.json")
