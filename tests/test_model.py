"""The Whisper wrapper: shapes, gradients, cached decoding, generate, checkpoints, presets and LoRA."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from omegaconf import OmegaConf

from osuT5.audio import HOP_LENGTH, N_MELS, SAMPLE_RATE, log_mel_spectrogram
from osuT5.errors import OsuT5Error
from osuT5.events import EventType
from osuT5.model import MODEL_PRESETS, OsuT5Config, OsuT5Model, count_parameters
from osuT5.model.modeling import CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE
from osuT5.tokenizer import SOS_ID, Tokenizer, TokenizerConfig

N_FRAMES = 256  # a 2 s window keeps every test here well under a second
N_TOKENS = 16
CONFIGS_DIR = Path(__file__).resolve().parents[1] / "configs" / "model"


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer()


@pytest.fixture(scope="module")
def model(tokenizer) -> OsuT5Model:
    torch.manual_seed(0)
    config = OsuT5Config(preset="tiny", max_source_frames=N_FRAMES, max_target_tokens=64)
    return OsuT5Model(config, tokenizer).eval()


@pytest.fixture(scope="module")
def mels() -> torch.Tensor:
    """Log-mels of a click track (a click every 250 ms over quiet noise), batch of 2: (2, N_MELS, N_FRAMES)."""
    rng = np.random.default_rng(0)
    samples = 0.01 * rng.standard_normal((N_FRAMES - 1) * HOP_LENGTH).astype(np.float32)
    click = np.hanning(64).astype(np.float32)
    for start in range(0, samples.size - click.size, SAMPLE_RATE // 4):
        samples[start : start + click.size] += click
    one = log_mel_spectrogram(samples)
    return torch.stack([one, one.flip(-1)])


@pytest.fixture(scope="module")
def ids(tokenizer) -> torch.Tensor:
    """Decoder inputs: SOS, conditioning tokens (input-only, up to vocab_size_in - 1), then events."""
    rng = np.random.default_rng(1)
    prefix = [SOS_ID, tokenizer.encode(tokenizer.unknown(EventType.GAMEMODE)), tokenizer.vocab_size_in - 1]
    body = rng.integers(tokenizer.offset, tokenizer.vocab_size_out, (2, N_TOKENS - len(prefix)))
    return torch.cat([torch.tensor([prefix, prefix]), torch.from_numpy(body)], dim=1)


def test_forward_backward_on_tiny_window(model, tokenizer, mels, ids):
    labels = torch.cat([ids[:, 1:], torch.full((2, 1), -100)], dim=1)
    labels[labels >= tokenizer.vocab_size_out] = -100  # conditioning tokens are never predicted
    model.train()
    try:
        model.zero_grad()
        out = model(mels, ids, labels=labels)
        out.loss.backward()
    finally:
        model.eval()
    assert out.logits.shape == (2, N_TOKENS, tokenizer.vocab_size_out)
    assert torch.isfinite(out.loss)
    # Untrained: close to a uniform guess over the output vocabulary.
    assert abs(out.loss.item() - np.log(tokenizer.vocab_size_out)) < 1.0
    trainable = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    assert len(trainable) > 50
    for name, p in trainable:
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    assert count_parameters(model, trainable_only=True) < count_parameters(model)  # sinusoid positions frozen


def test_wrong_window_length_is_rejected(model):
    with pytest.raises(ValueError, match=f"\\(batch, {N_MELS}, {N_FRAMES}\\)"):
        model.encode(torch.zeros(1, N_MELS, N_FRAMES + 2))


def test_embedding_and_head_sizes(model, tokenizer):
    assert model.whisper.get_input_embeddings().num_embeddings == tokenizer.vocab_size_in
    assert model.whisper.get_output_embeddings().out_features == tokenizer.vocab_size_out
    assert model.encode(torch.zeros(1, N_MELS, N_FRAMES)).shape == (1, N_FRAMES // 2, 256)
    assert model.device == torch.device("cpu") and model.dtype == torch.float32


@torch.inference_mode()
def test_cached_decoding_matches_full_forward(model, mels, ids):
    full = model(mels, ids).logits
    encoded = model.encode(mels)
    # Token by token from an empty cache.
    cache, steps = None, []
    for i in range(ids.shape[1]):
        logits, cache = model.decode_step(encoded, ids[:, i : i + 1], cache)
        steps.append(logits)
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-4)
    # A prefilled prompt, then single tokens.
    prompt, cache = model.decode_step(encoded, ids[:, :10])
    rest = [model.decode_step(encoded, ids[:, i : i + 1], cache)[0] for i in range(10, ids.shape[1])]
    assert torch.allclose(torch.cat([prompt, *rest], dim=1), full, atol=1e-4)


@torch.inference_mode()
def test_left_padded_rows_decode_like_unpadded_ones(model, mels, ids):
    n_pad = 5
    short = ids[1:, : N_TOKENS - n_pad]
    padded = ids.clone()
    padded[1] = torch.cat([torch.zeros(n_pad, dtype=ids.dtype), short[0]])
    mask = torch.ones_like(ids)
    mask[1, :n_pad] = 0
    reference = model(mels[1:], short).logits[0]
    logits, cache = model.decode_step(model.encode(mels), padded, None, mask)
    assert torch.allclose(logits[1, n_pad:], reference, atol=1e-4)
    assert torch.allclose(
        model(mels, padded, decoder_attention_mask=mask).logits[1, n_pad:], reference, atol=1e-4
    )


@torch.inference_mode()
def test_generate_is_greedy_decode_step(model, mels, ids):
    encoded = model.encode(mels)
    generated = model.generate(encoded, ids[:, :4], max_new_tokens=6, do_sample=False)
    logits, cache = model.decode_step(encoded, ids[:, :4])
    sequence = ids[:, :4]
    for _ in range(6):
        token = logits[:, -1].argmax(-1, keepdim=True)
        sequence = torch.cat([sequence, token], dim=1)
        logits, cache = model.decode_step(encoded, token, cache)
    assert torch.equal(generated, sequence)
    # A left-padded row generates what it generates alone.
    padded = torch.cat([torch.zeros(2, 2, dtype=ids.dtype), ids[:, :4]], dim=1)
    padded[0, 2:] = ids[0, 2:6]
    mask = torch.ones_like(padded)
    mask[1, :2] = 0
    generated = model.generate(encoded, padded, decoder_attention_mask=mask, max_new_tokens=6)
    assert torch.equal(generated[1, 2:], sequence[1])


@torch.inference_mode()
def test_save_load_round_trip(model, tokenizer, mels, ids, tmp_path):
    train_config = {"optim": {"lr": 3e-4}, "model": {"preset": "tiny"}}
    model.save_pretrained(tmp_path, tokenizer, train_config)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE, "train_config.yaml"]
    )
    loaded = OsuT5Model.from_pretrained(tmp_path)
    assert not loaded.training
    assert loaded.config == model.config
    assert loaded.tokenizer.to_json() == tokenizer.to_json()
    assert loaded.train_config == train_config
    assert torch.equal(loaded(mels, ids).logits, model(mels, ids).logits)
    # Saving again over the same folder replaces the files, leaving no temporaries.
    loaded.save_pretrained(tmp_path)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    model.save_pretrained(folder)
    return folder


def _edited_copy(saved: Path, tmp_path: Path, name: str, edit) -> Path:
    for p in saved.iterdir():
        (tmp_path / p.name).write_bytes(p.read_bytes())
    if edit is None:
        (tmp_path / name).unlink()
    else:
        data = json.loads((tmp_path / name).read_text())
        edit(data)
        (tmp_path / name).write_text(json.dumps(data))
    return tmp_path


def _three_mappers(tokenizer_json: dict) -> None:
    """A valid tokenizer file, but for a vocabulary three mapper ids larger than the model's."""
    tokenizer_json.clear()
    tokenizer_json.update(Tokenizer(TokenizerConfig(n_mappers=3)).to_json())


@pytest.mark.parametrize(
    "name, edit, message",
    [
        (WEIGHTS_FILE, None, f"{WEIGHTS_FILE}: missing"),
        (TOKENIZER_FILE, None, f"{TOKENIZER_FILE}: missing"),
        (
            CONFIG_FILE,
            lambda c: c.update(d_model=128),
            r"conv1.weight' has shape \(256, 128, 3\) but model_config.json implies \(128, 128, 3\)",
        ),
        (CONFIG_FILE, lambda c: c.update(vocab_size_in=5000), f"{TOKENIZER_FILE}: vocab_size_in is 4734"),
        (CONFIG_FILE, lambda c: c.update(decoder_layers=0), "decoder_layers = 0"),
        (CONFIG_FILE, lambda c: c.update(n_layer=4), "unknown field 'n_layer'"),
        (CONFIG_FILE, lambda c: c.pop("vocab_size_out"), "'vocab_size_out' is missing"),
        (
            TOKENIZER_FILE,
            lambda t: t["config"].update(n_mappers=3),
            "vocab_size_in is 4734 but this code builds",
        ),
        (
            TOKENIZER_FILE,
            _three_mappers,
            f"{TOKENIZER_FILE}: vocab_size_in is 4737 but {CONFIG_FILE} says 4734",
        ),
    ],
)
def test_mismatches_name_file_and_field(saved, tmp_path, name, edit, message):
    folder = _edited_copy(saved, tmp_path, name, edit)
    with pytest.raises(OsuT5Error, match=message) as error:
        OsuT5Model.from_pretrained(folder)
    assert str(folder) in str(error.value)


def test_saving_with_another_tokenizer_is_refused(model, tmp_path):
    other = Tokenizer(TokenizerConfig(descriptors=("style/clean",)))
    with pytest.raises(OsuT5Error, match="vocab_size_in is 4734 but the tokenizer has 4735"):
        model.save_pretrained(tmp_path, other)
    assert not list(tmp_path.iterdir())


def test_unknown_hub_id_fails_fast_offline(monkeypatch, tmp_path):
    # conftest sets HF_HUB_OFFLINE=1 before huggingface_hub is imported (it reads the variable once).
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OsuT5Error, match="^nobody-here/no-such-osut5-model: no such local folder") as error:
        OsuT5Model.from_pretrained("nobody-here/no-such-osut5-model")
    assert "\n" not in str(error.value)
    with pytest.raises(OsuT5Error, match="model folder not found"):
        OsuT5Model.from_pretrained(os.path.join("not", "a", "model"))


def test_lora_adapter_attaches_and_trains(model, mels, ids):
    peft = pytest.importorskip("peft")
    config = OsuT5Config(preset="tiny", max_source_frames=N_FRAMES, max_target_tokens=64)
    base = OsuT5Model(config, model.tokenizer)
    lora = peft.get_peft_model(base, peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    trainable = {name for name, p in lora.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name for name in trainable)
    out = lora(mels, ids, labels=ids.clamp(max=model.config.vocab_size_out - 1))
    out.loss.backward()
    assert all(p.grad is not None for p in lora.parameters() if p.requires_grad)


def test_presets_and_validation():
    assert OsuT5Config().d_model == MODEL_PRESETS["tiny"]["d_model"]
    small = OsuT5Config(preset="small", dropout=0.0)
    assert (small.d_model, small.encoder_layers, small.attention_heads, small.ffn_dim) == (768, 12, 12, 3072)
    assert OsuT5Config(preset="small", d_model=512, attention_heads=8).d_model == 512
    assert OsuT5Config().encoder_positions == 1024
    with pytest.raises(OsuT5Error, match="preset = 'huge': unknown preset; choose one of tiny, small"):
        OsuT5Config(preset="huge")
    with pytest.raises(OsuT5Error, match="d_model = 250: not divisible by attention_heads"):
        OsuT5Config(d_model=250)
    with pytest.raises(OsuT5Error, match="max_source_frames = 255: must be even"):
        OsuT5Config(max_source_frames=255)
    with pytest.raises(OsuT5Error, match="unset; pass a tokenizer"):
        OsuT5Model(OsuT5Config())


@pytest.mark.parametrize("path", sorted(CONFIGS_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_model_yaml_composes_into_the_schema(path):
    values = yaml.safe_load(path.read_text())
    assert values["preset"] == path.stem  # each file is named after its preset
    merged = OmegaConf.merge(OmegaConf.structured(OsuT5Config), values)
    config = OmegaConf.to_object(merged)
    assert isinstance(config, OsuT5Config)
    assert config == OsuT5Config(**values)


@pytest.mark.slow
def test_small_preset_size(tokenizer):
    model = OsuT5Model(OsuT5Config(preset="small"), tokenizer)
    assert 200e6 <= count_parameters(model) <= 240e6


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_bf16_training_step_and_loading_on_gpu(model, tokenizer, mels, ids, saved):
    loaded = OsuT5Model.from_pretrained(saved, device="cuda")
    assert loaded.device.type == "cuda"
    loaded.train()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = loaded(mels.cuda(), ids.cuda(), labels=ids.cuda().clamp(max=tokenizer.vocab_size_out - 1))
    out.loss.backward()
    assert torch.isfinite(out.loss)
    with torch.inference_mode():
        expected = model(mels, ids).logits
        assert torch.allclose(loaded.eval()(mels.cuda(), ids.cuda()).logits.cpu(), expected, atol=1e-2)


def test_shipped_default_model_loads_fast_and_small():
    """The model inference.py uses by default: loadable by this code, under 5 s, at most 25 MB."""
    import time

    from osuT5.inference.options import DEFAULT_MODEL_PATH
    from osuT5.model.ship import held_out_sets

    folder = Path(DEFAULT_MODEL_PATH)
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    assert size <= 25 * 2**20, f"{size / 2**20:.1f} MiB"
    start = time.perf_counter()
    model = OsuT5Model.from_pretrained(folder)
    seconds = time.perf_counter() - start
    assert seconds < 5, f"loading took {seconds:.1f} s"
    assert model.train_config is not None and held_out_sets(folder)
    assert model.tokenizer.vocab_size_out == model.config.vocab_size_out
