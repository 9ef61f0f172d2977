"""The refiner's training loop: accelerate, AdamW with diffusers' warm-up/cosine schedule, EMA weights,
held-out loss, checkpoints published atomically and resumed from, the EMA model saved as `final/`."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.logging import get_logger
from accelerate.utils import set_seed
from diffusers import DDPMScheduler
from diffusers.optimization import get_cosine_schedule_with_warmup
from diffusers.training_utils import EMAModel
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from osu_diffusion.config import DiffusionTrainConfig, to_dict
from osu_diffusion.dataset import (
    WindowBatch,
    WindowSampler,
    fixed_windows,
    load_maps,
    read_held_out,
    split_maps,
)
from osu_diffusion.model import Refiner
from osu_diffusion.schedule import make_scheduler
from osuT5.config import Resume
from osuT5.errors import OsuT5Error
from osuT5.files import atomic_write_text
from osuT5.training.launch import log_metrics, make_accelerator, start_trackers

log = get_logger(__name__)
CHECKPOINTS = "checkpoints"
FINAL = "final"
STATE_FILE = "trainer_state.json"
_CHECKPOINT_NAME = re.compile(r"step_(\d+)")


def diffusion_loss(
    model: torch.nn.Module,
    scheduler: DDPMScheduler,
    batch: WindowBatch,
    max_timestep: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Mean squared error of the predicted noise over the movable points, steps drawn in [0, max_timestep)."""
    clean = batch.positions
    noise = torch.randn(clean.shape, generator=generator)
    steps = torch.randint(0, max_timestep, (clean.shape[0],), generator=generator)
    noisy = scheduler.add_noise(clean, noise, steps)
    predicted = model(noisy, *batch.model_inputs(), steps, batch.classes)
    return ((predicted - noise) ** 2).mean(-1)[batch.loss_mask].mean()


def train(cfg: DiffusionTrainConfig) -> dict[str, float]:
    """Run (or continue) one training run; returns the last logged metrics."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    accelerator = make_accelerator(cfg.device, cfg.precision, cfg.logging)
    output_dir = Path(cfg.output_dir)
    set_seed(cfg.seed)
    maps = load_maps(cfg.data.root, cfg.data.modes, cfg.data.cache_file)
    train_maps, val_maps = split_maps(maps, read_held_out(cfg.data.held_out_sets))
    if not train_maps:
        raise OsuT5Error(f"{cfg.data.root}: every map is held out; nothing to train on")
    model = Refiner(cfg.model)
    scheduler = make_scheduler(cfg.model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    lr_schedule = get_cosine_schedule_with_warmup(optimizer, cfg.optim.warmup_steps, cfg.optim.total_steps)
    ema = EMAModel(model.parameters(), decay=cfg.optim.ema_decay)
    model, optimizer = accelerator.prepare(model, optimizer)
    accelerator.register_for_checkpointing(lr_schedule, ema)
    sampler = WindowSampler(
        train_maps,
        cfg.model.window,
        cfg.data.flip_probability,
        cfg.data.class_dropout,
        model.descriptors,
        cfg.seed,
    )
    val_batches = fixed_windows(val_maps, cfg.model.window, cfg.eval_windows, model.descriptors)
    step = _resume(accelerator, cfg, output_dir, sampler)
    start_trackers(accelerator, cfg.logging, cfg.wandb_project, to_dict(cfg), output_dir)
    log.info(
        f"training {sum(p.numel() for p in model.parameters()):,} parameters on {len(train_maps)} maps "
        f"({sum(len(m.points) for m in train_maps):,} points), {len(val_maps)} held out"
    )
    metrics: dict[str, float] = {"step": step}
    losses: list[float] = []
    since = time.perf_counter()
    bar = tqdm(total=cfg.optim.total_steps, initial=step, desc="train refiner")
    with logging_redirect_tqdm():
        while step < cfg.optim.total_steps:
            loss = diffusion_loss(
                model, scheduler, sampler.sample(cfg.optim.batch_size), cfg.model.max_train_timestep
            )
            accelerator.backward(loss)
            if cfg.optim.grad_clip > 0:
                accelerator.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            lr = lr_schedule.get_last_lr()[0]
            lr_schedule.step()
            ema.step(model.parameters())
            step += 1
            bar.update(1)
            losses.append(loss.item())
            done = step >= cfg.optim.total_steps
            if step % cfg.log_every == 0 or done:
                elapsed = time.perf_counter() - since
                metrics.update(
                    {
                        "step": step,
                        "train/loss": float(np.mean(losses)),
                        "train/lr": lr,
                        "train/steps_per_s": len(losses) / max(elapsed, 1e-9),
                    }
                )
                losses, since = [], time.perf_counter()
                bar.set_postfix(loss=f"{metrics['train/loss']:.4f}")
                log_metrics(accelerator, metrics, step, "train/")
            if val_batches and (step % cfg.eval_every == 0 or done):
                metrics["eval/loss"] = evaluate(
                    model, ema, scheduler, val_batches, cfg.model.max_train_timestep
                )
                log_metrics(accelerator, metrics, step, "eval/")
            if step % cfg.checkpoint_every == 0 or done:
                save_checkpoint(accelerator, cfg, output_dir, step, sampler)
    bar.close()
    partial = output_dir / f".{FINAL}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    core = accelerator.unwrap_model(model)
    ema.store(core.parameters())
    ema.copy_to(core.parameters())  # ship the averaged weights
    core.save(partial, train_config=to_dict(cfg))
    ema.restore(core.parameters())
    _publish(partial, output_dir / FINAL)
    log.info(f"final refiner saved to {output_dir / FINAL}")
    for tracker in accelerator.trackers:
        tracker.finish()
    return metrics


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    ema: EMAModel,
    scheduler: DDPMScheduler,
    batches: list[WindowBatch],
    max_timestep: int,
) -> float:
    """Held-out loss of the EMA weights with fixed noise, so that evaluations compare."""
    ema.store(model.parameters())
    ema.copy_to(model.parameters())
    model.eval()
    generator = torch.Generator().manual_seed(0)
    loss = float(
        np.mean([diffusion_loss(model, scheduler, b, max_timestep, generator).item() for b in batches])
    )
    model.train()
    ema.restore(model.parameters())
    return loss


# -- checkpoints --
def save_checkpoint(
    accelerator: Accelerator, cfg: DiffusionTrainConfig, output_dir: Path, step: int, sampler: WindowSampler
) -> Path:
    """Optimizer, schedule, EMA, weights and the data sampler's state in a hidden folder, then renamed."""
    root = output_dir / CHECKPOINTS
    target = root / f"step_{step:08d}"
    partial = root / f".{target.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)  # left by a killed run
    partial.mkdir(parents=True)
    accelerator.save_state(str(partial))
    state = {
        "step": step,
        "sampler_rng": sampler.rng.bit_generator.state,
        "model_config": to_dict(cfg)["model"],
    }
    atomic_write_text(partial / STATE_FILE, json.dumps(state, indent=1))
    _publish(partial, target)
    for old in list_checkpoints(output_dir)[: -cfg.keep_last]:
        shutil.rmtree(old)
    return target


def list_checkpoints(output_dir: Path) -> list[Path]:
    found = [
        (int(m.group(1)), p)
        for p in (output_dir / CHECKPOINTS).glob("step_*")
        if (m := _CHECKPOINT_NAME.fullmatch(p.name))
    ]
    return [p for _, p in sorted(found) if (p / STATE_FILE).is_file()]


def _resume(
    accelerator: Accelerator, cfg: DiffusionTrainConfig, output_dir: Path, sampler: WindowSampler
) -> int:
    checkpoints = list_checkpoints(output_dir)
    if not checkpoints:
        return 0
    latest = checkpoints[-1]
    if cfg.resume is Resume.never:
        raise OsuT5Error(
            f"{output_dir}: already holds checkpoints (latest {latest.name}); "
            "continue them with resume=auto or choose another output_dir"
        )
    state = json.loads((latest / STATE_FILE).read_text())
    ours = to_dict(cfg)["model"]
    for name in sorted(set(ours) | set(state["model_config"])):
        if state["model_config"].get(name) != ours.get(name):
            raise OsuT5Error(
                f"{latest}: the checkpoint has model.{name} = {state['model_config'].get(name)!r} "
                f"but this run has {ours.get(name)!r}"
            )
    accelerator.load_state(str(latest))
    sampler.rng.bit_generator.state = state["sampler_rng"]
    log.info(f"resumed from {latest} at step {state['step']}")
    return int(state["step"])


def _publish(partial: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    os.replace(partial, target)
