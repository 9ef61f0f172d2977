"""The time pointer: neutral when added, consistent under cached decoding, saved with the model, and
the reason it exists: it learns where a click is, where the plain decoder has not yet learnt to look."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from osuT5.audio import HOP_LENGTH, MS_PER_FRAME, SAMPLE_RATE, log_mel_spectrogram
from osuT5.events import Event, EventType
from osuT5.model import OsuT5Config, OsuT5Model
from osuT5.model.modeling import CONFIG_FILE
from osuT5.tokenizer import SOS_ID, Tokenizer, TokenizerConfig

N_FRAMES = 256  # 2.048 s windows
TOKENIZER = Tokenizer(TokenizerConfig(window_ms=N_FRAMES * MS_PER_FRAME))


def _tiny(time_pointer: bool) -> OsuT5Model:
    torch.manual_seed(0)
    config = OsuT5Config(
        d_model=64,
        encoder_layers=1,
        decoder_layers=1,
        attention_heads=2,
        ffn_dim=128,
        max_source_frames=N_FRAMES,
        max_target_tokens=32,
        dropout=0.0,
        time_pointer=time_pointer,
    )
    return OsuT5Model(config, TOKENIZER)


def _click_mels(click_ms: list[int], seed: int) -> torch.Tensor:
    """(len(click_ms), N_MELS, N_FRAMES) log-mels of quiet noise with one click each."""
    rng = np.random.default_rng(seed)
    out = []
    for ms in click_ms:
        samples = 0.01 * rng.standard_normal((N_FRAMES - 1) * HOP_LENGTH).astype(np.float32)
        start = ms * SAMPLE_RATE // 1000
        samples[start : start + 64] += np.hanning(64).astype(np.float32)
        out.append(log_mel_spectrogram(samples))
    return torch.stack(out)


def _time_ids(click_ms) -> torch.Tensor:
    return torch.tensor([[TOKENIZER.encode(Event(EventType.TIME_SHIFT, int(ms) // 10))] for ms in click_ms])


@pytest.fixture(scope="module")
def inputs() -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(1)
    mels = _click_mels([300, 1200], seed=2)
    ids = torch.from_numpy(rng.integers(TOKENIZER.offset, TOKENIZER.vocab_size_out, (2, 12)))
    ids[:, 0] = SOS_ID
    return mels, ids


def test_an_added_pointer_starts_neutral_and_then_moves_only_time_logits(inputs):
    mels, ids = inputs
    model = _tiny(time_pointer=False).eval()
    with torch.no_grad():
        before = model(mels, ids).logits
        model.add_time_pointer()
        assert model.config.time_pointer
        assert torch.equal(model(mels, ids).logits, before)
        torch.nn.init.normal_(model.time_pointer.time_query.weight)
        after = model(mels, ids).logits
    first = TOKENIZER.encode(Event(EventType.TIME_SHIFT, 0))
    times = slice(first, first + TOKENIZER.max_time_step + 1)
    assert not torch.allclose(after[..., times], before[..., times])
    assert torch.equal(after[..., : times.start], before[..., : times.start])
    assert torch.equal(after[..., times.stop :], before[..., times.stop :])


def test_cached_decoding_matches_the_full_pass_with_a_pointer(inputs):
    mels, ids = inputs
    model = _tiny(time_pointer=True).eval()
    torch.nn.init.normal_(model.time_pointer.time_query.weight)
    with torch.inference_mode():
        full = model(mels, ids).logits
        encoder = model.encode(mels)
        first, cache = model.decode_step(encoder, ids[:, :8])
        steps = [first]
        for i in range(8, ids.shape[1]):
            logits, cache = model.decode_step(encoder, ids[:, i : i + 1], cache)
            steps.append(logits)
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-4)
    with pytest.raises(ValueError, match="bypasses the time pointer"):
        model.generate(encoder, ids[:, :2], max_new_tokens=2)


def test_the_pointer_is_saved_and_old_configs_load_without_it(inputs, tmp_path):
    mels, ids = inputs
    model = _tiny(time_pointer=True).eval()
    torch.nn.init.normal_(model.time_pointer.time_query.weight)
    model.save_pretrained(tmp_path / "with")
    loaded = OsuT5Model.from_pretrained(tmp_path / "with")
    assert loaded.config.time_pointer
    with torch.no_grad():
        assert torch.allclose(loaded(mels, ids).logits, model(mels, ids).logits)

    plain = _tiny(time_pointer=False)
    plain.save_pretrained(tmp_path / "old")
    raw = json.loads((tmp_path / "old" / CONFIG_FILE).read_text())
    del raw["time_pointer"]  # as written before the pointer existed
    (tmp_path / "old" / CONFIG_FILE).write_text(json.dumps(raw))
    assert OsuT5Model.from_pretrained(tmp_path / "old").time_pointer is None


def test_the_pointer_learns_where_a_click_is_and_the_plain_decoder_does_not_yet():
    """Same tiny model, data, seed and 80 updates: the time of a single click, one token per window."""
    rng = np.random.default_rng(3)
    train = []
    for seed in range(16):
        click_ms = rng.integers(50, N_FRAMES * MS_PER_FRAME - 100, 16).tolist()
        train.append((_click_mels(click_ms, seed), _time_ids(click_ms)))
    test_ms = rng.integers(50, N_FRAMES * MS_PER_FRAME - 100, 48).tolist()
    test_mels, test_ids = _click_mels(test_ms, seed=99), _time_ids(test_ms)

    within_20ms = {}
    for time_pointer in (False, True):
        model = _tiny(time_pointer)
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
        for step in range(80):
            mels, labels = train[step % len(train)]
            loss = model(mels, torch.full((len(labels), 1), SOS_ID), labels=labels).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            predicted = model.eval()(test_mels, torch.full((len(test_ms), 1), SOS_ID)).logits[:, 0].argmax(-1)
        within_20ms[time_pointer] = ((predicted - test_ids[:, 0]).abs() <= 2).float().mean().item()
    assert within_20ms[True] >= 0.9, within_20ms
    assert within_20ms[False] <= 0.3, within_20ms
