"""The training loop on a tiny real collection: a debug run, exact resume after SIGKILL, overfitting one
window (data, tokenizer and model agree), LoRA adapters, and two processes under torchrun."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import soundfile as sf
import torch
from accelerate.state import AcceleratorState, GradientState
from hydra import compose, initialize_config_dir

import osuT5.training.loop as loop_module
from osuT5.beatmap import parse_beatmap_file, write_beatmap_file
from osuT5.config import OptimSettings, Schedule, TrainConfig, load_config
from osuT5.data.collection import find_beatmaps
from osuT5.data.dataset import BeatmapWindows, DataConfig, collate, prepare
from osuT5.errors import OsuT5Error
from osuT5.events import EventType
from osuT5.model import OsuT5Config, OsuT5Model
from osuT5.model.modeling import WEIGHTS_FILE
from osuT5.style import DEFAULT_DESCRIPTORS
from osuT5.tokenizer import EOS_ID, SOS_ID, Tokenizer, TokenizerConfig
from osuT5.training import load_with_lora, train
from osuT5.training.evaluate import main as evaluate_main
from osuT5.training.loop import STATE_FILE, list_checkpoints
from osuT5.training.metrics import KINDS, TokenMetrics, kind_table
from osuT5.training.optim import build_optimizer, build_scheduler, lr_factor, param_groups

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
# Objects from the first seconds on, so that 20 s of audio hold a few dozen of them.
MAPS = (
    "std/eternity-beatmap-database/Cranky - Crocus - PandaHero - Easy.osu",
    "mania/eternity-beatmap-database/James Landino - Reaction feat. Slyleaf - AncuL - Normal.osu",
)
SONG_S, SAMPLE_RATE = 20, 22050
# Dims small enough for a few quick updates on 2 shared cores; layer counts stay > 0.
SMALL_MODEL = [
    "model.d_model=64",
    "model.ffn_dim=128",
    "model.attention_heads=2",
    "model.encoder_layers=1",
    "model.decoder_layers=1",
]
# Runs osuT5.train.main with two test hooks on save_checkpoint (which every process calls):
# record each process's weights, and sleep afterwards so that a test can kill the run there.
HOOKED_MAIN = """
import os, sys, time, torch
import osuT5.training.loop as loop
save = loop.save_checkpoint
def hooked(accelerator, model, progress, cfg, output_dir):
    path = save(accelerator, model, progress, cfg, output_dir)
    state = accelerator.unwrap_model(model).state_dict()
    torch.save({k: v.detach().cpu() for k, v in state.items()}, path.parent / f"rank{accelerator.process_index}.pt")
    time.sleep(float(os.environ.get("SLEEP_AFTER_CHECKPOINT_S", "0")))
    return path
loop.save_checkpoint = hooked
from osuT5.train import main
main()
"""


@pytest.fixture(scope="module")
def collection(corpus_dir: Path, tmp_path_factory) -> Path:
    """Two Songs-style sets: a corpus map each, with 20 s of tone bursts at its object times."""
    root = tmp_path_factory.mktemp("songs")
    burst_t = np.arange(int(0.05 * SAMPLE_RATE)) / SAMPLE_RATE
    burst = np.sin(2 * np.pi * 880 * burst_t) * np.exp(-burst_t / 0.01)
    for n, relative in enumerate(MAPS):
        source = corpus_dir / "beatmaps" / relative
        beatmap = parse_beatmap_file(source)
        beatmap.general["AudioFilename"] = "audio.wav"
        folder = root / f"set{n}"
        folder.mkdir()
        write_beatmap_file(beatmap, folder / source.name)
        audio = np.zeros(SONG_S * SAMPLE_RATE)
        for obj in beatmap.hit_objects:
            start = int(obj.time / 1000 * SAMPLE_RATE)
            if start + len(burst) < len(audio):
                audio[start : start + len(burst)] += 0.5 * burst
        sf.write(folder / "audio.wav", audio, SAMPLE_RATE)
    return root


@pytest.fixture(scope="module")
def mel_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mel_cache")


@pytest.fixture(autouse=True)
def one_thread_and_fresh_accelerate_state():
    """One intra-op thread: on 2 shared cores, 2 OpenMP threads spin against other processes and run
    these small steps up to 30x slower. Each in-process run starts from a clean accelerate singleton."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()


def compose_train(*overrides: str) -> TrainConfig:
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return load_config(compose(config_name="train", overrides=list(overrides)))


def data_args(collection: Path, mel_cache: Path, output_dir: Path) -> list[str]:
    return [f"data.root={collection}", f"data.cache_dir={mel_cache}", f"output_dir={output_dir}"]


def test_debug_fast_trains_two_steps(collection: Path, mel_cache: Path, tmp_path: Path) -> None:
    cfg = compose_train("debug=fast", *data_args(collection, mel_cache, tmp_path / "run"))
    metrics = train(cfg)
    assert metrics["step"] == 2
    assert math.isfinite(metrics["train/loss"]) and math.isfinite(metrics["eval/loss"])
    assert 0.0 <= metrics["eval/accuracy"] <= 1.0
    (checkpoint,) = list_checkpoints(tmp_path / "run")
    assert json.loads((checkpoint / STATE_FILE).read_text())["step"] == 2
    final = OsuT5Model.from_pretrained(tmp_path / "run" / "final")
    assert final.config.max_source_frames == 256 and final.train_config["optim"]["total_steps"] == 2

    # Continuing that output_dir with another model is refused by name, and so is starting it over.
    with pytest.raises(OsuT5Error, match="model.d_model"):
        train(
            compose_train(
                "debug=fast", "model.d_model=128", *data_args(collection, mel_cache, tmp_path / "run")
            )
        )
    with pytest.raises(OsuT5Error, match="resume=auto"):
        train(
            compose_train("debug=fast", "resume=never", *data_args(collection, mel_cache, tmp_path / "run"))
        )


def test_time_budget_ends_the_run_with_a_fitted_schedule(
    collection: Path, mel_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Calibrate after 1 + 3 updates instead of 5 + 40, so that the test is short.
    monkeypatch.setattr(loop_module._TimeBudget, "SKIP_STEPS", 1)
    monkeypatch.setattr(loop_module._TimeBudget, "CALIBRATION_STEPS", 3)
    budget_s = 6.0
    cfg = compose_train(
        "debug=fast", "optim.total_steps=100000", "optim.lr=1e-3", "optim.final_lr_fraction=0.1",
        f"optim.time_budget_s={budget_s}", "checkpoint_every=100000", "eval_every=100000",
        *data_args(collection, mel_cache, tmp_path / "run"),
    )  # fmt: skip
    started = time.perf_counter()
    metrics = train(cfg)
    took = time.perf_counter() - started

    (checkpoint,) = list_checkpoints(tmp_path / "run")
    state = json.loads((checkpoint / STATE_FILE).read_text())
    assert 4 < metrics["step"] == state["step"] < 100000
    # The fitted end is saved for a resume, and the schedule decayed towards it, not to step 100000.
    assert state["total_steps"] is not None and metrics["step"] <= state["total_steps"]
    # The schedule was shortened: unshortened, the lr would still be at its 1e-3 peak here. (Where the
    # budget runs out before the fitted end, on a slow machine, the run stops a little higher.)
    assert metrics["train/lr"] < 0.9e-3
    assert budget_s * 0.5 < took < budget_s * 4 + 30  # model build and final save come on top
    assert (tmp_path / "run" / "final").is_dir()


def test_resume_after_kill_matches_an_uninterrupted_run(
    collection: Path, mel_cache: Path, tmp_path: Path
) -> None:
    # One training set of 10 windows in micro-batches of 2, two per update: the epoch ends after a
    # single micro-batch in update 3, and the kill after update 2 leaves the run mid-epoch.
    overrides = [
        "debug=fast",
        *SMALL_MODEL,
        "optim.total_steps=6",
        "optim.grad_accumulation=2",
        "checkpoint_every=2",
        "eval_every=3",
    ]
    killed_dir = tmp_path / "killed"
    command = [sys.executable, "-c", HOOKED_MAIN, *overrides, *data_args(collection, mel_cache, killed_dir)]
    env = {**os.environ, "SLEEP_AFTER_CHECKPOINT_S": "120", "OMP_NUM_THREADS": "1"}  # as in-process
    run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    first = killed_dir / "checkpoints" / "rank0.pt"  # written after the first checkpoint is in place
    deadline = time.monotonic() + 120
    while not first.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    run.send_signal(signal.SIGKILL)
    output = run.communicate()[0].decode(errors="replace")
    assert first.exists(), output[-3000:]
    assert [p.name for p in list_checkpoints(killed_dir)] == ["step_00000002"]

    env["SLEEP_AFTER_CHECKPOINT_S"] = "0"
    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "at step 2" in resumed.stdout + resumed.stderr  # the log line "resumed from ... at step 2"

    whole_dir = tmp_path / "whole"
    train(compose_train(*overrides, *data_args(collection, mel_cache, whole_dir)))

    positions = {}
    for name in ("step_00000004", "step_00000006"):
        killed_state = json.loads((killed_dir / "checkpoints" / name / STATE_FILE).read_text())
        assert killed_state == json.loads((whole_dir / "checkpoints" / name / STATE_FILE).read_text())
        positions[killed_state["step"]] = (killed_state["epoch"], killed_state["batches_in_epoch"])
    assert positions == {4: (1, 2), 6: (2, 0)}
    _assert_same_tensors(
        safetensors.torch.load_file(killed_dir / "final" / WEIGHTS_FILE),
        safetensors.torch.load_file(whole_dir / "final" / WEIGHTS_FILE),
    )
    killed_opt = torch.load(
        killed_dir / "checkpoints" / "step_00000006" / "optimizer.bin", weights_only=False
    )
    whole_opt = torch.load(whole_dir / "checkpoints" / "step_00000006" / "optimizer.bin", weights_only=False)
    for index, state in whole_opt["state"].items():
        _assert_same_tensors(killed_opt["state"][index], state)


def _assert_same_tensors(ours: dict, theirs: dict, atol: float = 1e-6) -> None:
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        torch.testing.assert_close(ours[key], value, atol=atol, rtol=0, msg=key)


def test_overfit_one_window_then_greedy_decoding_reproduces_it(collection: Path, mel_cache: Path) -> None:
    (entry,) = [e for e in find_beatmaps(collection) if "Crocus" in e.osu_path.name]
    tokenizer = Tokenizer(TokenizerConfig(window_ms=256 * 8, descriptors=DEFAULT_DESCRIPTORS))
    no_augmentation = DataConfig(
        window_frames=256,
        max_tokens=256,
        timing_pass_prob=0.0,
        lookback_prob=0.0,
        time_jitter_steps=0,
        condition_dropout=0.0,
        random_offset=False,
    )
    windows = BeatmapWindows([prepare(entry, mel_cache)], tokenizer, no_augmentation)
    sample = windows[1]  # 2.0-4.1 s: a few objects
    assert (sample["labels"] != -100).sum() >= 15
    batch = collate([sample])
    config = OsuT5Config(
        d_model=128, encoder_layers=2, decoder_layers=2, attention_heads=4, ffn_dim=256,
        max_source_frames=256, max_target_tokens=256, dropout=0.0,
    )  # fmt: skip
    torch.manual_seed(0)
    model = OsuT5Model(config, tokenizer).train()
    settings = OptimSettings(lr=2e-3, weight_decay=0.0, warmup_steps=10, schedule=Schedule.constant)
    optimizer = build_optimizer(model, settings)
    scheduler = build_scheduler(optimizer, settings)
    for _ in range(400):
        loss = model(**batch).loss
        if loss.item() < 0.02:
            break
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    assert loss.item() < 0.05

    ids = sample["input_ids"].tolist()
    prompt_end = ids.index(SOS_ID) + 2  # up to and including SOS and the map context's SOS
    expected = [*ids[prompt_end:], EOS_ID]
    model.eval()
    with torch.inference_mode():
        states = model.encode(batch["mels"])
        out = model.generate(states, sample["input_ids"][None, :prompt_end], max_new_tokens=len(expected) + 5)
    assert out[0, prompt_end:].tolist() == expected


def save_small_base(folder: Path) -> tuple[Path, OsuT5Config, Tokenizer]:
    """A small untrained model folder on 2 s windows, to fine-tune from."""
    tokenizer = Tokenizer(TokenizerConfig(window_ms=256 * 8, descriptors=DEFAULT_DESCRIPTORS))
    config = OsuT5Config(d_model=64, encoder_layers=1, decoder_layers=1, attention_heads=2, ffn_dim=128,
                         max_source_frames=256, max_target_tokens=256)  # fmt: skip
    return OsuT5Model(config, tokenizer).save_pretrained(folder), config, tokenizer


def test_lora_adapter_trains_saves_small_and_merges(
    collection: Path, mel_cache: Path, tmp_path: Path
) -> None:
    base_dir, config, tokenizer = save_small_base(tmp_path / "base")
    cfg = compose_train(
        "experiment=lora",
        "debug=fast",
        f"pretrained_path={base_dir}",
        "lora.r=4",
        "lora.lora_alpha=8",
        "optim.lr=1e-2",
        *data_args(collection, mel_cache, tmp_path / "lora"),
    )
    assert cfg.lora.enabled and cfg.lora.r == 4
    assert math.isfinite(train(cfg)["train/loss"])
    adapter = tmp_path / "lora" / "final"
    assert not (adapter / WEIGHTS_FILE).exists()
    adapter_bytes = sum(p.stat().st_size for p in adapter.iterdir())
    assert adapter_bytes < 0.1 * (base_dir / WEIGHTS_FILE).stat().st_size
    assert json.loads((adapter / "lora_metadata.json").read_text())["base_model"] == str(base_dir)

    torch.manual_seed(0)
    mels = torch.randn(2, config.n_mels, 256)
    ids = torch.randint(3, tokenizer.vocab_size_out, (2, 12))
    with torch.inference_mode():
        base = OsuT5Model.from_pretrained(base_dir)(mels, ids).logits
        unmerged = load_with_lora(base_dir, adapter, merge=False)(mels, ids).logits
        merged = load_with_lora(base_dir, adapter, merge=True)(mels, ids).logits
    assert (unmerged - base).abs().max() > 1e-4  # the adapter changes the outputs
    torch.testing.assert_close(merged, unmerged, atol=1e-5, rtol=0)


def test_fine_tuning_gives_a_pretrained_model_a_time_pointer(
    collection: Path, mel_cache: Path, tmp_path: Path
) -> None:
    """`model.time_pointer=true` with `pretrained_path`: a pointerless model gains one and trains it.
    The base is saved in fp16, as shipped models are; training runs in fp32 all the same."""
    base_dir, config, tokenizer = save_small_base(tmp_path / "base")
    OsuT5Model(config, tokenizer).save_pretrained(base_dir, dtype=torch.float16)
    cfg = compose_train(
        "debug=fast",
        f"pretrained_path={base_dir}",
        "model.time_pointer=true",
        "optim.lr=1e-3",
        *data_args(collection, mel_cache, tmp_path / "tuned"),
    )
    assert math.isfinite(train(cfg)["train/loss"])
    final = OsuT5Model.from_pretrained(tmp_path / "tuned" / "final")
    assert final.config.time_pointer and final.time_pointer is not None
    assert final.time_pointer.time_query.weight.abs().max() > 0  # it trained from its zero start
    assert final.time_pointer.time_query.weight.dtype == torch.float32
    weights = safetensors.torch.load_file(tmp_path / "tuned" / "final" / WEIGHTS_FILE)
    assert {t.dtype for t in weights.values()} == {torch.float32}


@pytest.mark.slow
def test_torchrun_two_processes_agree(collection: Path, mel_cache: Path, tmp_path: Path) -> None:
    script = tmp_path / "hooked_train.py"
    script.write_text(HOOKED_MAIN)
    output_dir = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script),
        "debug=fast", *SMALL_MODEL, *data_args(collection, mel_cache, output_dir),
    ]  # fmt: skip
    env = {**os.environ, "TMPDIR": str(tmp_path), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = output_dir / "checkpoints" / "step_00000002"
    assert {p.name for p in checkpoint.glob("random_states_*.pkl")} == {
        "random_states_0.pkl",
        "random_states_1.pkl",
    }
    rank0, rank1 = (torch.load(checkpoint.parent / f"rank{i}.pt") for i in range(2))
    _assert_same_tensors(rank0, rank1, atol=0.0)
    _assert_same_tensors(safetensors.torch.load_file(output_dir / "final" / WEIGHTS_FILE), rank0, atol=0.0)
    assert json.loads((checkpoint / STATE_FILE).read_text())["processes"] == 2


def test_lr_schedule_warms_up_then_decays_to_the_final_fraction() -> None:
    def factor(step: int, schedule: Schedule = Schedule.cosine) -> float:
        return lr_factor(step, warmup_steps=10, total_steps=110, schedule=schedule, final_fraction=0.1)

    assert factor(0) == pytest.approx(0.1) and factor(9) == pytest.approx(1.0)
    assert factor(60) == pytest.approx(0.55) and factor(60, Schedule.linear) == pytest.approx(0.55)
    assert factor(35, Schedule.cosine) > factor(35, Schedule.linear)
    assert factor(110) == pytest.approx(0.1) and factor(10_000) == pytest.approx(0.1)
    assert factor(60, Schedule.constant) == 1.0


def test_weight_decay_spares_biases_norms_and_embeddings() -> None:
    tokenizer = Tokenizer(TokenizerConfig(window_ms=2048, descriptors=DEFAULT_DESCRIPTORS))
    model = OsuT5Model(OsuT5Config(d_model=32, encoder_layers=1, decoder_layers=1, attention_heads=2, ffn_dim=64,
                                   max_source_frames=256, max_target_tokens=64), tokenizer)  # fmt: skip
    decay, no_decay = (set(map(id, group["params"])) for group in param_groups(model, 0.1))
    named = dict(model.named_parameters())
    assert id(named["whisper.model.decoder.embed_tokens.weight"]) in no_decay
    assert id(named["whisper.model.decoder.layer_norm.weight"]) in no_decay
    assert id(named["whisper.model.decoder.layers.0.self_attn.q_proj.bias"]) in no_decay
    assert id(named["whisper.model.decoder.layers.0.self_attn.q_proj.weight"]) in decay
    assert id(named["whisper.proj_out.weight"]) in decay
    frozen = named["whisper.model.encoder.embed_positions.weight"]
    assert id(frozen) not in decay | no_decay and not frozen.requires_grad


def test_token_metrics_per_kind() -> None:
    tokenizer = Tokenizer(TokenizerConfig(window_ms=2048, descriptors=DEFAULT_DESCRIPTORS))
    table = kind_table(tokenizer)
    for event_type, kind in [
        (EventType.TIME_SHIFT, "time"), (EventType.SNAPPING, "time"), (EventType.POS, "position"),
        (EventType.CIRCLE, "type"), (EventType.HITSOUND, "hitsound"), (EventType.NEW_COMBO, "other"),
    ]:  # fmt: skip
        first, last = tokenizer.type_range(event_type)
        assert {KINDS[k] for k in table[first : last + 1].tolist()} == {kind}
    assert KINDS[table[EOS_ID]] == "other"

    time_id = tokenizer.type_range(EventType.TIME_SHIFT)[0] + 50
    circle = tokenizer.type_range(EventType.CIRCLE)[0]
    labels = torch.tensor([[time_id, circle, EOS_ID, -100]])
    predicted = torch.tensor([[time_id + 1, circle, EOS_ID, 0]])  # the time is one step (10 ms) off
    metrics = TokenMetrics(tokenizer)
    metrics.update(torch.nn.functional.one_hot(predicted, tokenizer.vocab_size_out).float() * 30, labels)
    summary = metrics.summary()
    assert summary["tokens"] == 3 and summary["accuracy"] == pytest.approx(2 / 3)
    assert summary["accuracy_time"] == 0.0 and summary["accuracy_time_shift_fuzzy"] == 1.0
    assert summary["accuracy_type"] == 1.0 and summary["accuracy_other"] == 1.0
    assert "accuracy_position" not in summary


def test_evaluate_on_a_given_list_of_held_out_sets(collection: Path, tmp_path: Path, capsys) -> None:
    """`python -m osuT5.training.evaluate MODEL ROOT --sets held_out_sets.json` scores exactly the
    songs of those sets, whatever split the model was trained with."""
    base_dir, _, _ = save_small_base(tmp_path / "base")
    entries = find_beatmaps(collection)
    first = entries[0].set_key
    sets_file = tmp_path / "held_out_sets.json"
    sets_file.write_text(json.dumps([first]))
    argv = [str(base_dir), str(collection), "--batches", "2", "--sets", str(sets_file)]
    assert evaluate_main(argv) == 0
    figures = dict(item.split("=") for item in capsys.readouterr().out.split())
    assert int(figures["songs"]) == sum(e.set_key == first for e in entries) == 1
    assert 0 < int(figures["windows"]) <= 16 and math.isfinite(float(figures["loss"]))


class _StuckAfterTwo(torch.utils.data.Dataset):
    """A dataset whose third item never comes (in time), like a stuck loader worker."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int):
        if i >= 2:
            time.sleep(10)
        return torch.tensor([i])


def test_a_stuck_loader_worker_ends_the_run_with_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loop_module, "LOADER_TIMEOUT_S", 2.0)
    monkeypatch.setattr(loop_module, "collate", torch.utils.data.default_collate)
    cfg = compose_train("debug=fast", "data.root=unused", "data.num_workers=1", "optim.batch_size=1")
    loader = loop_module._loader(_StuckAfterTwo(), cfg, None)
    with pytest.raises(RuntimeError, match="timed out"):
        for _ in loader:
            pass
