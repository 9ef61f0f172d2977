"""The training loop: data, model, AdamW and schedule under accelerate; periodic logs, evaluation and
atomic checkpoints; exact resume from the latest checkpoint; the final model in `output_dir/final/`.

A checkpoint folder (`output_dir/checkpoints/step_NNNNNNNN/`) holds accelerate's state (optimizer,
schedule, gradient scaler, every process's RNG), `trainer_state.json` (step, epoch, batches of the
epoch consumed, the model config) and `model/`: the `save_pretrained` folder, or only the adapter
for LoRA. Model weights are kept only there, so they exist once and load without this code.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
from accelerate import Accelerator
from accelerate.logging import get_logger
from accelerate.utils import broadcast_object_list, set_seed
from peft import PeftModel
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from torch.utils.data import DataLoader, Dataset, Sampler, Subset
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from osuT5.audio import MS_PER_FRAME
from osuT5.config import Device, Resume, TrainConfig, expand, to_dict
from osuT5.data.collection import BeatmapEntry, find_beatmaps, split_by_set
from osuT5.data.dataset import BeatmapWindows, PreparedBeatmap, collate, prepare
from osuT5.data.mel_cache import cached_mel
from osuT5.errors import OsuT5Error
from osuT5.files import atomic_write_text
from osuT5.model import OsuT5Model
from osuT5.model.modeling import WEIGHTS_FILE
from osuT5.style import DEFAULT_DESCRIPTORS
from osuT5.tokenizer import Tokenizer, TokenizerConfig
from osuT5.training.launch import log_metrics, make_accelerator, start_trackers
from osuT5.training.lora import add_lora, load_adapter, load_adapter_weights, merge_lora, save_adapter
from osuT5.training.metrics import TokenMetrics
from osuT5.training.optim import build_optimizer, build_scheduler, shorten_schedule

log = get_logger(__name__)  # accelerate's logger: the main process speaks for all

CHECKPOINTS = "checkpoints"
FINAL = "final"
MODEL_FOLDER = "model"
STATE_FILE = "trainer_state.json"
_CHECKPOINT_NAME = re.compile(r"step_(\d+)")


@dataclass
class Progress:
    """Where a run stands: enough to continue it exactly."""

    step: int = 0  # optimizer updates done
    epoch: int = 0
    batches_in_epoch: int = 0  # micro-batches of `epoch` each process has consumed
    total_steps: int | None = None  # the run's end when its time budget lowered cfg.optim.total_steps


class EpochShuffle(Sampler[int]):
    """A permutation fixed by (seed, epoch): the same on every process and again after a resume."""

    def __init__(self, n_items: int, seed: int):
        self.n_items, self.seed, self.epoch = n_items, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        return iter(np.random.default_rng([self.seed, self.epoch]).permutation(self.n_items).tolist())

    def __len__(self) -> int:
        return self.n_items


def train(cfg: TrainConfig) -> dict[str, float]:
    """Run (or continue) one training run; returns the last logged train and eval metrics."""
    accelerator = _accelerator(cfg)
    output_dir = _agree_on_output_dir(accelerator, Path(cfg.output_dir))
    set_seed(cfg.seed)  # every process builds the same initial weights
    model = build_model(cfg)
    core = _core(model)
    train_set, val_set = _datasets(accelerator, cfg, core)
    train_loader = _loader(train_set, cfg, EpochShuffle(len(train_set), cfg.seed))
    optimizer = build_optimizer(model, cfg.optim)
    # Not prepared: accelerate would step it once per process and update; ours counts updates.
    scheduler = build_scheduler(optimizer, cfg.optim)
    model, optimizer, train_loader = accelerator.prepare(model, optimizer, train_loader)
    val_loader = accelerator.prepare(_loader(val_set, cfg, None)) if val_set is not None else None
    accelerator.register_for_checkpointing(scheduler)
    # Weights are saved to and read from the checkpoint's model/ folder by us, not by accelerate.
    accelerator.register_save_state_pre_hook(lambda models, weights, folder: weights.clear())
    accelerator.register_load_state_pre_hook(lambda models, folder: models.clear())
    set_seed(cfg.seed + accelerator.process_index)  # distinct dropout masks per process

    progress = Progress()
    checkpoint = _checkpoint_to_resume(cfg, output_dir)
    if checkpoint is not None:
        progress = load_checkpoint(accelerator, model, checkpoint, cfg)
        if progress.total_steps is not None:
            shorten_schedule(scheduler, cfg.optim, progress.total_steps)
        log.info(f"resumed from {checkpoint} at step {progress.step}")
    start_trackers(accelerator, cfg.logging, cfg.wandb_project, to_dict(cfg), output_dir)
    log.info(
        f"training {sum(p.numel() for p in model.parameters() if p.requires_grad):,} parameters on "
        f"{len(train_set)} windows ({accelerator.num_processes} process(es), {accelerator.device})"
    )
    session = _Session(accelerator, cfg, output_dir, model, optimizer, scheduler, train_loader, val_loader)
    with logging_redirect_tqdm():
        metrics = _run(session, progress)
    if accelerator.is_main_process:
        partial = output_dir / f".{FINAL}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        save_model(accelerator.unwrap_model(model), partial, cfg)
        _publish(partial, output_dir / FINAL)
        log.info(f"final model saved to {output_dir / FINAL}")
    accelerator.wait_for_everyone()
    for tracker in accelerator.trackers:  # not end_training(): the entry point ends the process group
        tracker.finish()
    return metrics


@dataclass
class _Session:
    """The prepared pieces of a run."""

    accelerator: Accelerator
    cfg: TrainConfig
    output_dir: Path
    model: nn.Module
    optimizer: Optimizer
    scheduler: LRScheduler
    train_loader: DataLoader
    val_loader: DataLoader | None


def _run(s: _Session, progress: Progress) -> dict[str, float]:
    """The update loop, from `progress` to cfg.optim.total_steps."""
    accelerator, cfg, model, optimizer, train_loader = (
        s.accelerator,
        s.cfg,
        s.model,
        s.optimizer,
        s.train_loader,
    )
    total = progress.total_steps or cfg.optim.total_steps
    budget = _TimeBudget(cfg, progress)
    meter = _Meter(accelerator)
    metrics: dict[str, float] = {"step": progress.step}
    bar = tqdm(
        total=total, initial=progress.step, desc="train", disable=not accelerator.is_local_main_process
    )
    model.train()
    while progress.step < total:
        train_loader.set_epoch(progress.epoch)
        train_loader.dataset.set_epoch(progress.epoch)
        batches = train_loader
        if progress.batches_in_epoch:
            batches = accelerator.skip_first_batches(train_loader, progress.batches_in_epoch)
        for batch in batches:
            with accelerator.accumulate(model):
                loss = model(**batch).loss
                accelerator.backward(loss)
                if accelerator.sync_gradients and cfg.optim.grad_clip > 0:
                    accelerator.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            meter.add(loss.detach(), batch["decoder_attention_mask"].sum())
            progress.batches_in_epoch += 1
            if progress.batches_in_epoch == len(train_loader):
                progress.epoch, progress.batches_in_epoch = progress.epoch + 1, 0
            if not accelerator.sync_gradients:
                continue
            lr = s.scheduler.get_last_lr()[0]  # the rate this update used
            s.scheduler.step()
            progress.step += 1
            bar.update(1)
            metrics["step"] = progress.step
            if budget.active and (fitted := budget.fitted_total(accelerator, progress.step)) is not None:
                if fitted < total:
                    total = progress.total_steps = fitted
                    shorten_schedule(s.scheduler, cfg.optim, total)
                    bar.total = total
                    log.info(
                        f"time budget: {fitted} updates fit in {cfg.optim.time_budget_s:g} s; the run ends there"
                    )
            if budget.spent(accelerator, progress.step):
                total = progress.total_steps = progress.step  # ends this epoch's loop and the run's
            done = progress.step >= total
            if progress.step % cfg.log_every == 0 or done:
                metrics.update(meter.flush(lr))
                bar.set_postfix(loss=f"{metrics['train/loss']:.4f}")
                log_metrics(accelerator, metrics, progress.step)
            if s.val_loader is not None and (progress.step % cfg.eval_every == 0 or done):
                metrics.update(
                    {f"eval/{k}": v for k, v in evaluate(accelerator, model, s.val_loader).items()}
                )
                log_metrics(accelerator, metrics, progress.step, prefix="eval/")
            if progress.step % cfg.checkpoint_every == 0 or done:
                save_checkpoint(accelerator, model, progress, cfg, s.output_dir)
            if done:
                break
    bar.close()
    return metrics


class _TimeBudget:
    """cfg.optim.time_budget_s, counted from the start of this launch's updates.

    Once warm-up is over (and at least CALIBRATION_STEPS updates after the first few, whose data
    loader start and kernel warm-up would skew it), the speed so far sets how many updates fit. Past
    the budget the run stops anyway (a slower later phase). Both decisions are the main process's,
    broadcast, so that every process stops at the same update.
    """

    SKIP_STEPS = 5
    CALIBRATION_STEPS = 40

    def __init__(self, cfg: TrainConfig, progress: Progress):
        self.seconds = cfg.optim.time_budget_s
        self.check_every = cfg.log_every
        self.started = time.perf_counter()
        self.first_step = progress.step
        self.calibrate_at = progress.step + max(cfg.optim.warmup_steps - progress.step, 0)
        self.calibrate_at = max(self.calibrate_at, progress.step + self.SKIP_STEPS + self.CALIBRATION_STEPS)
        self.mark: float | None = None
        # A resumed run keeps the end it fitted before; it only stops early if time runs out.
        self.fitted = progress.total_steps is not None

    @property
    def active(self) -> bool:
        return self.seconds is not None and not self.fitted

    def fitted_total(self, accelerator: Accelerator, step: int) -> int | None:
        """The number of updates that fit, once, at the calibration step; None at other steps."""
        now = time.perf_counter()
        if step == self.first_step + self.SKIP_STEPS:
            self.mark = now
        if step != self.calibrate_at or self.mark is None:
            return None
        self.fitted = True
        rate = (step - self.first_step - self.SKIP_STEPS) / max(now - self.mark, 1e-9)
        remaining = self.seconds - (now - self.started)
        return _main_process_value(accelerator, step + max(0, int(remaining * rate)))

    def spent(self, accelerator: Accelerator, step: int) -> bool:
        if self.seconds is None or step % self.check_every:
            return False
        over = time.perf_counter() - self.started >= self.seconds
        if over := _main_process_value(accelerator, over):
            log.info(f"time budget of {self.seconds:g} s spent at step {step}; the run ends here")
        return over


def _main_process_value(accelerator: Accelerator, value):
    """The main process's `value` on every process."""
    if accelerator.num_processes == 1:
        return value
    box = [value]
    broadcast_object_list(box, from_process=0)
    return box[0]


# -- model and data --
def build_model(cfg: TrainConfig) -> nn.Module:
    """A new model from cfg.model, or the pretrained one (its own config and tokenizer, plus a time
    pointer if cfg.model.time_pointer asks for one), with LoRA adapters when enabled. `lora_path` without LoRA training merges that adapter into the base."""
    if cfg.pretrained_path is None:
        window_ms = cfg.model.max_source_frames * MS_PER_FRAME
        tokenizer = Tokenizer(TokenizerConfig(window_ms=window_ms, descriptors=DEFAULT_DESCRIPTORS))
        model: nn.Module = OsuT5Model(cfg.model, tokenizer)
    else:
        # Shipped models are fp16; AdamW's small updates vanish in fp16 weights, so train in fp32.
        model = OsuT5Model.from_pretrained(cfg.pretrained_path).float()
        if cfg.model.time_pointer:  # a second training stage may give a pointerless model one
            model.add_time_pointer()
        if cfg.lora_path is not None:
            trainable = {name for name, p in model.named_parameters() if p.requires_grad}
            adapted = load_adapter(model, cfg.lora_path, trainable=cfg.lora.enabled)
            if not cfg.lora.enabled:  # fine-tune the merged weights; peft had frozen them
                model = merge_lora(adapted)
                for name, param in model.named_parameters():
                    param.requires_grad_(name in trainable)
            else:
                model = adapted
        elif cfg.lora.enabled:
            model = add_lora(model, cfg.lora)
    if cfg.gradient_checkpointing:
        _core(model).gradient_checkpointing_enable()
    return model.train()


def _core(model: nn.Module) -> OsuT5Model:
    """The OsuT5Model inside a (possibly LoRA-wrapped) model."""
    return model.get_base_model() if isinstance(model, PeftModel) else model


def _datasets(
    accelerator: Accelerator, cfg: TrainConfig, model: OsuT5Model
) -> tuple[Dataset, Dataset | None]:
    """Training windows (augmented) and validation windows (not augmented, maybe capped)."""
    data_config = cfg.data.data_config(model.config)
    # The first process extracts .osz archives and fills the mel cache; the others then read them.
    with accelerator.main_process_first():
        entries = find_beatmaps(expand(cfg.data.root))
        train_entries, val_entries = split_by_set(entries, cfg.data.validation_fraction, cfg.data.seed)
        train_maps = _prepare_all(train_entries, cfg)
        val_maps = _prepare_all(val_entries, cfg)
    if not train_maps:
        raise OsuT5Error(f"{cfg.data.root}: no usable beatmaps with audio for training")
    train_set = BeatmapWindows(train_maps, model.tokenizer, data_config)
    if not val_maps:
        log.warning("no validation split (too few beatmap sets for data.validation_fraction); no evaluation")
        return train_set, None
    plain = replace(
        data_config, lookback_prob=0.0, time_jitter_steps=0, condition_dropout=0.0, random_offset=False
    )
    val_set: Dataset = BeatmapWindows(val_maps, model.tokenizer, plain)
    if cfg.eval_batches is not None:
        val_set = Subset(
            val_set,
            range(min(len(val_set), cfg.eval_batches * cfg.optim.batch_size * accelerator.num_processes)),
        )
    return train_set, val_set


def _prepare_all(entries: list[BeatmapEntry], cfg: TrainConfig) -> list[PreparedBeatmap]:
    """Parse every beatmap and read its song's mel frames. With data.num_workers > 1, worker processes
    decode the songs into the mel cache and turn the beatmaps into events (half a second for a map
    of many sliders); they send back everything but the mel frames, which this process reads from the
    cache (pickling frames through a pipe is slower than reading them)."""
    cache = expand(cfg.data.cache_dir)
    workers = min(cfg.data.num_workers, len(entries))
    if workers <= 1:
        results = [_prepare_or_error(entry, cache) for entry in entries]
    else:
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            workers, mp_context=spawn, initializer=torch.set_num_threads, initargs=(1,)
        ) as pool:
            light = pool.map(_prepare_without_mel, entries, [cache] * len(entries), chunksize=4)
            results = [
                replace(item, mel=cached_mel(item.entry.audio_path, cache))
                if isinstance(item, PreparedBeatmap)
                else item
                for item in light
            ]
    prepared = []
    for entry, result in zip(entries, results, strict=True):
        if isinstance(result, str):
            log.warning(f"skipped {entry.osu_path}: {result}")
        else:
            prepared.append(result)
    return prepared


def _prepare_or_error(entry: BeatmapEntry, cache: Path) -> PreparedBeatmap | str:
    """`prepare`, or the reason it failed (a message: exceptions with their own __init__ do not
    always survive the pipe from a worker)."""
    try:
        return prepare(entry, cache)
    except OsuT5Error as e:
        return str(e)


def _prepare_without_mel(entry: BeatmapEntry, cache: Path) -> PreparedBeatmap | str:
    """A worker's job: `prepare`, with the mel frames left in the cache for the parent to read."""
    result = _prepare_or_error(entry, cache)
    return replace(result, mel=None) if isinstance(result, PreparedBeatmap) else result


# A batch takes workers about a second; one missing for this long means a worker is stuck (seen once
# on a GPU machine), and an error with a checkpoint to resume from beats a run that waits forever.
LOADER_TIMEOUT_S = 600.0


def _loader(dataset: Dataset, cfg: TrainConfig, sampler: Sampler | None) -> DataLoader:
    return DataLoader(
        dataset,
        batch_size=cfg.optim.batch_size,
        sampler=sampler,
        collate_fn=collate,
        num_workers=cfg.data.num_workers,
        timeout=LOADER_TIMEOUT_S if cfg.data.num_workers > 0 else 0,
        pin_memory=torch.cuda.is_available() and cfg.device is not Device.cpu,
        # Its own generator: starting an epoch must not draw from the global RNG (dropout's), or a
        # resumed run would see other dropout masks than an uninterrupted one.
        generator=torch.Generator().manual_seed(cfg.seed),
    )


def _accelerator(cfg: TrainConfig) -> Accelerator:
    return make_accelerator(cfg.device, cfg.precision, cfg.logging, cfg.optim.grad_accumulation)


def _agree_on_output_dir(accelerator: Accelerator, output_dir: Path) -> Path:
    """The first process's output_dir: a `${now:...}` default can differ by a second between ranks."""
    chosen = broadcast_object_list([str(output_dir)])[0] if accelerator.num_processes > 1 else str(output_dir)
    return Path(chosen)


# -- logging and evaluation --
class _Meter:
    """Training loss and decoder tokens since the last log line, summed over processes when read."""

    def __init__(self, accelerator: Accelerator):
        self.accelerator = accelerator
        self.sums = torch.zeros(3, dtype=torch.float64, device=accelerator.device)
        self.since = time.perf_counter()

    def add(self, loss: torch.Tensor, tokens: torch.Tensor) -> None:
        self.sums += torch.stack([loss.double(), torch.ones_like(loss, dtype=torch.float64), tokens.double()])

    def flush(self, lr: float) -> dict[str, float]:
        loss_sum, batches, tokens = self.accelerator.reduce(self.sums, "sum").tolist()
        elapsed = max(time.perf_counter() - self.since, 1e-9)
        self.sums.zero_()
        self.since = time.perf_counter()
        return {
            "train/loss": loss_sum / max(batches, 1),
            "train/lr": lr,
            "train/tokens_per_s": tokens / elapsed,
        }


@torch.no_grad()
def evaluate(accelerator: Accelerator, model: nn.Module, loader: DataLoader) -> dict[str, float]:
    """Loss and per-kind accuracies over the whole (prepared) validation loader, all processes summed."""
    model.eval()
    metrics = TokenMetrics(_core(accelerator.unwrap_model(model)).tokenizer, accelerator.device)
    for batch in loader:  # never break early: accelerate tracks which loader is active
        labels = batch.pop("labels")
        metrics.update(model(**batch).logits, labels)
    model.train()
    return metrics.summary(accelerator.reduce(metrics.sums, "sum"))


# -- checkpoints --
def save_model(model: nn.Module, folder: Path, cfg: TrainConfig) -> None:
    """A loadable model folder: save_pretrained's, or for LoRA the adapter and a note naming its base."""
    if isinstance(model, PeftModel):
        save_adapter(model, folder, base_model=str(cfg.pretrained_path), train_config=to_dict(cfg))
    else:
        model.save_pretrained(folder, train_config=to_dict(cfg))


def save_checkpoint(
    accelerator: Accelerator, model: nn.Module, progress: Progress, cfg: TrainConfig, output_dir: Path
) -> Path:
    """Write a checkpoint into a hidden folder, then rename it into place; keep the last cfg.keep_last.

    Every process calls this (each saves its own RNG state into the shared folder)."""
    root = output_dir / CHECKPOINTS
    target = root / f"step_{progress.step:08d}"
    partial = root / f".{target.name}.partial"
    if accelerator.is_main_process:
        shutil.rmtree(partial, ignore_errors=True)  # left by a killed run
        partial.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(partial))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(model)
        save_model(unwrapped, partial / MODEL_FOLDER, cfg)
        state = {
            **asdict(progress),
            "processes": accelerator.num_processes,
            "batch_size": cfg.optim.batch_size,
            "grad_accumulation": cfg.optim.grad_accumulation,
            "model_config": asdict(_core(unwrapped).config),
            "lora": asdict(cfg.lora) if isinstance(unwrapped, PeftModel) else None,
        }
        atomic_write_text(partial / STATE_FILE, json.dumps(state, indent=1))
        _publish(partial, target)
        for old in list_checkpoints(output_dir)[: -cfg.keep_last]:
            _remove_folder(old)
    accelerator.wait_for_everyone()
    return target


def list_checkpoints(output_dir: Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    root = output_dir / CHECKPOINTS
    found = [(int(m.group(1)), p) for p in root.glob("step_*") if (m := _CHECKPOINT_NAME.fullmatch(p.name))]
    return [p for _, p in sorted(found) if (p / STATE_FILE).is_file()]


def _checkpoint_to_resume(cfg: TrainConfig, output_dir: Path) -> Path | None:
    checkpoints = list_checkpoints(output_dir)
    if not checkpoints:
        return None
    if cfg.resume is Resume.never:
        raise OsuT5Error(
            f"{output_dir}: already holds checkpoints (latest {checkpoints[-1].name}); "
            "continue them with resume=auto or choose another output_dir"
        )
    return checkpoints[-1]


def load_checkpoint(accelerator: Accelerator, model: nn.Module, folder: Path, cfg: TrainConfig) -> Progress:
    """Restore weights, optimizer, schedule, RNG and data position; refuse another model's checkpoint."""
    state_path = folder / STATE_FILE
    try:
        state = json.loads(state_path.read_text())
    except (OSError, ValueError) as e:
        raise OsuT5Error(f"{state_path}: not a readable checkpoint state ({e})") from None
    unwrapped = accelerator.unwrap_model(model)
    _check_same(state_path, "model", state.get("model_config") or {}, asdict(_core(unwrapped).config))
    lora = asdict(cfg.lora) if isinstance(unwrapped, PeftModel) else None
    if (state.get("lora") is None) != (lora is None):
        raise OsuT5Error(
            f"{state_path}: LoRA is {'on' if state.get('lora') else 'off'} in the checkpoint but not in this run"
        )
    if lora is not None:
        names = ("r", "lora_alpha", "target_modules")
        _check_same(state_path, "lora", {n: state["lora"][n] for n in names}, {n: lora[n] for n in names})
    for key, ours in (
        ("processes", accelerator.num_processes),
        ("batch_size", cfg.optim.batch_size),
        ("grad_accumulation", cfg.optim.grad_accumulation),
    ):
        if state.get(key) != ours:
            log.warning(
                f"{state_path}: {key} was {state.get(key)}, now {ours}: the data position is approximate"
            )
    accelerator.load_state(str(folder))
    _load_weights(unwrapped, folder / MODEL_FOLDER)
    return Progress(
        step=state["step"],
        epoch=state["epoch"],
        batches_in_epoch=state["batches_in_epoch"],
        total_steps=state.get("total_steps"),  # absent in checkpoints written before time budgets
    )


def _check_same(path: Path, group: str, saved: dict, ours: dict) -> None:
    for name in sorted(set(saved) | set(ours)):
        if saved.get(name) != ours.get(name):
            raise OsuT5Error(
                f"{path}: the checkpoint has {group}.{name} = {saved.get(name)!r} but this run has "
                f"{ours.get(name)!r}; resume with the same settings or choose another output_dir"
            )


def _load_weights(model: nn.Module, folder: Path) -> None:
    if isinstance(model, PeftModel):
        load_adapter_weights(model, folder)
        return
    device = next(model.parameters()).device
    model.load_state_dict(safetensors.torch.load_file(folder / WEIGHTS_FILE, device=str(device)))


def _publish(partial: Path, target: Path) -> None:
    """Rename a finished hidden folder into place, so that `target` is complete or absent. An existing
    `target` (the final model of an earlier, shorter run) is replaced."""
    if target.exists():
        _remove_folder(target)
    os.replace(partial, target)


def _remove_folder(folder: Path) -> None:
    # Renamed first: a half-deleted folder must never look like a complete checkpoint.
    doomed = folder.with_name(f".{folder.name}.deleting")
    shutil.rmtree(doomed, ignore_errors=True)
    os.replace(folder, doomed)
    shutil.rmtree(doomed)
