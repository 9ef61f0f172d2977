"""What every training loop here shares (the sequence model's and the refiner's): the accelerator a
config asks for, and one log line per step for the console and the tracker."""

from __future__ import annotations

import os

import torch
from accelerate import Accelerator
from accelerate.logging import get_logger

from osuT5.config import Device, Logger, Precision
from osuT5.errors import OsuT5Error

log = get_logger(__name__)  # accelerate's logger: the main process speaks for all


def make_accelerator(
    device: Device, precision: Precision, logging: Logger, grad_accumulation: int = 1
) -> Accelerator:
    if device is Device.cuda and not torch.cuda.is_available():
        raise OsuT5Error("config: device = 'cuda' but no CUDA device is available")
    if logging is Logger.wandb and "WANDB_API_KEY" not in os.environ:
        os.environ.setdefault("WANDB_MODE", "offline")  # no key: log locally, sync later
    return Accelerator(
        cpu=device is Device.cpu or not torch.cuda.is_available(),
        mixed_precision=precision.value,
        gradient_accumulation_steps=grad_accumulation,
        log_with="wandb" if logging is Logger.wandb else None,
    )


def start_trackers(accelerator: Accelerator, logging: Logger, project: str, config: dict, output_dir) -> None:
    """wandb (when the config asks for it) with the resolved config, its files in the run folder."""
    if logging is Logger.wandb:
        accelerator.init_trackers(project, config=config, init_kwargs={"wandb": {"dir": str(output_dir)}})


def log_metrics(accelerator: Accelerator, metrics: dict, step: int, prefix: str = "train/") -> None:
    """The metrics whose names start with `prefix`, to the tracker and as one log line."""
    chosen = {k: v for k, v in metrics.items() if k.startswith(prefix)}
    accelerator.log(chosen, step=step)
    log.info(f"step {step}: " + " ".join(f"{k.removeprefix(prefix)}={v:.4g}" for k, v in chosen.items()))
