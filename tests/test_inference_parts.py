"""The parts of generation that need no trained model: window planning, constrained decoding with a
random model, super-timing consensus on real corpus timing, and option checks."""

from __future__ import annotations

import random

import pytest
import torch

from osuT5.beatmap import parse_beatmap_file
from osuT5.data.beatmap_events import map_events, timing_events
from osuT5.errors import OsuT5Error
from osuT5.events import ContextType, Event, EventType
from osuT5.inference.decoding import Decoder, DecodeRequest, SamplingOptions, last_time_step
from osuT5.inference.options import InferenceOptions, parse_difficulties, validate
from osuT5.inference.passes import group_starts, join_lanes, split_lanes
from osuT5.inference.super_timing import consensus_markers, merge_redundant_redlines, timing_from_passes
from osuT5.inference.timing_fit import timing_markers, timing_points_from_events
from osuT5.inference.windows import plan_windows, tiled_windows
from osuT5.model import OsuT5Config, OsuT5Model
from osuT5.style import DEFAULT_DESCRIPTORS
from osuT5.tokenizer import EOS_ID, Tokenizer, TokenizerConfig


@pytest.mark.parametrize("start,end", [(0, 180_000), (0, 5_000), (30_000, 61_000), (1_000, 200_000)])
def test_windows_tile_the_range_without_gaps(start: int, end: int) -> None:
    window_ms = 8192
    windows = plan_windows(window_ms, start, end, lookback=0.2, lookahead=0.3)
    assert windows[0].commit_from_ms == start
    assert windows[-1].commit_to_ms == end
    for w, nxt in zip(windows, windows[1:], strict=False):
        assert nxt.commit_from_ms == w.commit_to_ms  # bands meet exactly
        assert w.start_ms % 40 == 0 and w.start_ms >= 0
        assert w.start_ms <= w.commit_from_ms < w.commit_to_ms <= w.start_ms + window_ms
        assert nxt.start_ms > w.start_ms
    # Half-overlapping windows: about two per window length of song.
    assert len(windows) <= (end - start) / (window_ms * 0.5) + 2


def test_tiled_windows_are_back_to_back() -> None:
    windows = tiled_windows(8192, 30_000, shift_ms=1234)
    assert windows[0].start_ms == -1200 and windows[0].commit_from_ms == 0
    for w, nxt in zip(windows, windows[1:], strict=False):
        assert nxt.start_ms == w.commit_to_ms
    assert windows[-1].commit_to_ms >= 30_000


def test_lanes_cover_the_windows_in_order() -> None:
    windows = plan_windows(8192, 0, 180_000, lookback=0.2, lookahead=0.3)
    lanes = split_lanes(windows, 4)
    assert len(lanes) == 4 and [w for lane in lanes for w in lane] == windows
    assert max(map(len, lanes)) - min(map(len, lanes)) <= 1
    assert split_lanes(windows[:2], 4) == [[windows[0]], [windows[1]]]


def test_joined_lanes_drop_only_doubles_at_the_seam(corpus_beatmaps) -> None:
    """Cut a real map's events at 30 s into two lanes, the second starting with a copy of the notes
    just before the seam (what a lane without lookback may write): joining drops exactly the copies."""
    events = map_events(parse_beatmap_file(next(p for p in corpus_beatmaps if "/std/" in str(p))))
    groups = [(t, g) for t, g in group_starts(events) if t is not None]
    cut = next(i for i, (t, _) in enumerate(groups) if t >= 30_000)
    first = [e for _, g in groups[:cut] for e in g]
    last_ms = groups[cut - 1][0]
    doubled = [e for t, g in groups[:cut] if t > last_ms - 40 for e in g]  # groups the seam gap drops
    second = doubled + [e for _, g in groups[cut:] for e in g]
    assert doubled and groups[cut][0] >= last_ms + 40  # the map itself has no note inside the gap
    assert join_lanes([first, second], seam_gap_ms=40) == [e for _, g in groups for e in g]


@pytest.fixture(scope="module")
def random_model() -> OsuT5Model:
    torch.manual_seed(0)
    tokenizer = Tokenizer(TokenizerConfig(window_ms=2048, descriptors=DEFAULT_DESCRIPTORS))
    config = OsuT5Config(
        preset="tiny",
        d_model=64,
        encoder_layers=1,
        decoder_layers=1,
        attention_heads=2,
        ffn_dim=128,
        max_source_frames=256,
        max_target_tokens=96,
    )
    return OsuT5Model(config, tokenizer).eval()


def _decode(model: OsuT5Model, requests: list[DecodeRequest], seed: int, **sampling) -> list[list[int]]:
    decoder = Decoder(model, max_batch_rows=4)
    encoder = decoder.encode(torch.randn(1, 128, 256, generator=torch.Generator().manual_seed(1)))
    return decoder.decode(encoder, requests, SamplingOptions(**sampling), torch.Generator().manual_seed(seed))


def test_decoding_respects_time_limits_and_seed(random_model: OsuT5Model) -> None:
    tokenizer = random_model.tokenizer
    first, last = tokenizer.type_range(EventType.TIME_SHIFT)
    requests = [
        DecodeRequest(
            prompt=[1], encoder_row=0, stop_ids=frozenset({EOS_ID}), min_time_step=40, stop_time_step=150
        )
        for _ in range(5)  # more rows than one batch holds
    ]
    out = _decode(random_model, requests, seed=3, temperature=1.5, top_p=1.0)
    again = _decode(random_model, requests, seed=3, temperature=1.5, top_p=1.0)
    assert out == again
    assert _decode(random_model, requests, seed=4, temperature=1.5, top_p=1.0) != out
    n_times = 0
    for tokens in out:
        steps = [t - first for t in tokens if first <= t <= last]
        n_times += len(steps)
        assert all(40 <= s < 150 for s in steps)  # never into the lookback, never kept past the stop
        assert steps == sorted(steps)  # never backwards
        assert all(tokenizer.is_event(t) for t in tokens)  # no specials, no context markers
    assert n_times > 0


def test_only_the_open_block_limits_time(random_model: OsuT5Model) -> None:
    tokenizer = random_model.tokenizer
    t = lambda step: tokenizer.encode(Event(EventType.TIME_SHIFT, step))  # noqa: E731
    given = [
        tokenizer.context_sos(ContextType.TIMING),
        t(150),
        tokenizer.encode(Event(EventType.BEAT)),
        tokenizer.context_eos(ContextType.TIMING),
    ]
    open_block = [1, tokenizer.context_sos(ContextType.MAP)]
    assert last_time_step(given + open_block, tokenizer) == 0
    assert (
        last_time_step(given + open_block + [t(40), tokenizer.encode(Event(EventType.CIRCLE))], tokenizer)
        == 40
    )


def test_strictly_increasing_rows_never_repeat_a_time(random_model: OsuT5Model, monkeypatch) -> None:
    """The timing pass's rows: a model that loves one time step may write it once, not again and again."""
    tokenizer = random_model.tokenizer
    first, last = tokenizer.type_range(EventType.TIME_SHIFT)
    beat = tokenizer.encode(Event(EventType.BEAT))
    decode_step = random_model.decode_step

    def loves_step_60_then_beats(encoder, ids, cache=None, mask=None):
        logits, cache = decode_step(encoder, ids, cache, mask)
        logits = logits.clone()
        after_time = (ids[:, -1:] >= first) & (ids[:, -1:] <= last)
        logits[..., first + 60] += 50.0
        logits[..., beat] += torch.where(after_time, 100.0, 0.0)  # close each group with a beat
        return logits, cache

    monkeypatch.setattr(random_model, "decode_step", loves_step_60_then_beats)
    open_block = [1, tokenizer.context_sos(ContextType.TIMING), first + 60, beat]
    rows = {}
    for strict in (False, True):
        request = DecodeRequest(
            prompt=open_block, encoder_row=0, stop_ids=frozenset({EOS_ID}), strictly_increasing=strict
        )
        [tokens] = _decode(random_model, [request], seed=0, temperature=0.0)
        rows[strict] = [t - first for t in tokens if first <= t <= last]
    assert rows[False][:3] == [60, 60, 60]  # without the rule the favourite repeats
    assert rows[True] and 60 not in rows[True]  # the prompt's t60 was the last of it
    assert all(a < b for a, b in zip(rows[True], rows[True][1:], strict=False))


def test_cfg_needs_and_uses_negative_prompts(random_model: OsuT5Model) -> None:
    request = DecodeRequest(prompt=[1], encoder_row=0, stop_ids=frozenset({EOS_ID}))
    with pytest.raises(ValueError, match="negative prompt"):
        _decode(random_model, [request], seed=0, cfg_scale=2.0)
    request.negative_prompt = [1]
    plain = _decode(random_model, [request], seed=0, temperature=0.0)
    guided = _decode(random_model, [request], seed=0, temperature=0.0, cfg_scale=3.0)
    assert guided == plain  # same prompt in both slots: guidance changes nothing


SINGLE_BPM = "std/brandondong-osu-beatmap-generator/Lou Bega - Mambo No.5 - Lesjuh - Normal.osu"


def _noisy_pass(events: list[Event], rng: random.Random, drop: float, jitter: int) -> list[Event]:
    """A model-like pass: markers jittered by a few ms, some dropped, a few spurious ones added."""
    out: list[Event] = []
    for time, kind in timing_markers(events):
        if rng.random() < drop:
            continue
        t = int(time) + rng.randint(-jitter, jitter)
        out += [Event(EventType.TIME_SHIFT, t)]
        if kind == EventType.TIMING_POINT:
            out += [Event(EventType.TIME_FINE, t % 10)]
        out += [Event(kind)]
        if rng.random() < 0.03:
            out += [Event(EventType.TIME_SHIFT, t + 137), Event(EventType.BEAT)]
    return out


@pytest.fixture
def single_bpm_map(corpus_dir):
    return parse_beatmap_file(corpus_dir / "beatmaps" / SINGLE_BPM)


def test_super_timing_consensus_recovers_corpus_timing(single_bpm_map) -> None:
    beatmap = single_bpm_map
    truth = [p for p in beatmap.timing_points if p.uninherited]
    events = timing_events(beatmap)
    rng = random.Random(0)
    passes = [_noisy_pass(events, rng, drop=0.2, jitter=3) for _ in range(20)]
    markers = consensus_markers(passes)
    n_true = len(timing_markers(events))
    assert abs(len(timing_markers(markers)) - n_true) <= n_true // 100  # spurious ones outvoted
    points = timing_from_passes(passes)
    assert len(truth) == 1
    for found, true in zip(points, truth, strict=True):
        assert abs(60000 / found.ms_per_beat - 60000 / true.ms_per_beat) < 0.1
        assert abs(found.time - true.time) <= 5


def test_redundant_redlines_are_merged(single_bpm_map) -> None:
    truth = [p for p in single_bpm_map.timing_points if p.uninherited][0]
    point = type(truth)
    again = point(truth.time + 16 * truth.ms_per_beat, truth.beat_length, truth.meter, uninherited=True)
    faster = point(truth.time + 33 * truth.ms_per_beat, truth.beat_length * 0.75, uninherited=True)
    waltz = point(faster.time + 8 * faster.ms_per_beat, faster.beat_length, meter=3, uninherited=True)
    assert merge_redundant_redlines([truth, again, faster, waltz]) == [truth, faster, waltz]


def test_difficulty_lists_and_bad_options() -> None:
    assert parse_difficulties([2, 3.5]) == [2.0, 3.5]
    assert parse_difficulties(None) == [None]
    cases = {
        "gamemode": dict(gamemode=7),
        "difficulty": dict(difficulty=40),
        "negative_descriptors": dict(negative_descriptors=["style/clean"], descriptors=["style/messy"]),
        "start_time": dict(start_time=5000, end_time=1000),
        "in_context": dict(in_context=["BOGUS"]),
    }
    for name, values in cases.items():
        with pytest.raises(OsuT5Error, match=name):
            validate(InferenceOptions(audio_path="x.mp3", **values))
    with pytest.raises(OsuT5Error, match="has 1 tags but descriptors has 2"):
        validate(
            InferenceOptions(
                cfg_scale=2, descriptors=["style/clean", "style/flowy"], negative_descriptors=["style/messy"]
            )
        )
    with pytest.raises(OsuT5Error, match="unknown descriptor"):
        validate(InferenceOptions(descriptors=["style/nope"]), descriptor_names=DEFAULT_DESCRIPTORS)


def test_beat_fit_ignores_extra_half_beats_and_strays() -> None:
    """A model's TIMING markers: most beats (in 10 ms steps), some half beats and a few strays. The
    grid through the beats is found (the median gap made a grid of half beats of it: 285 BPM)."""
    mpb, start = 60000 / 142, 95.0
    events = []
    for beat in range(90):
        t = start + beat * mpb
        kind = EventType.MEASURE if beat % 4 == 0 else EventType.BEAT
        marks = [(t, kind)]
        if beat % 3 == 1:
            marks.append((t + mpb / 2, EventType.BEAT))  # a half beat
        if beat in (20, 55):
            marks.append((t + mpb / 4, EventType.BEAT))  # a stray
        for time, k in marks:
            events += [Event(EventType.TIME_SHIFT, int(time // 10 * 10 + 5)), Event(k)]
    [point] = timing_points_from_events(events)
    assert abs(point.bpm - 142) <= 0.1
    phase = (point.time - start) % mpb
    assert min(phase, mpb - phase) <= 5
    assert point.meter == 4
