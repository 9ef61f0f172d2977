"""The optimizer and learning-rate schedule: AdamW with decoupled weight decay on matrices only,
linear warm-up, then cosine or linear decay to a fraction of the peak rate."""

from __future__ import annotations

import functools
import math

from torch import nn
from torch.optim import AdamW, Optimizer
from torch.optim.lr_scheduler import LambdaLR

from osuT5.config import OptimSettings, Schedule

# Parameters of these modules are scales, shifts or lookup rows: decaying them towards 0 only hurts.
_NO_DECAY_MODULES = (nn.Embedding, nn.LayerNorm)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Trainable parameters split into a decayed group (weight matrices) and an undecayed one
    (biases, norms, embeddings). Frozen parameters (LoRA's base model) are left out."""
    decay, no_decay = [], []
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad:
                continue
            if param.ndim < 2 or name.endswith("bias") or isinstance(module, _NO_DECAY_MODULES):
                no_decay.append(param)
            else:
                decay.append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def build_optimizer(model: nn.Module, settings: OptimSettings) -> AdamW:
    beta1, beta2 = settings.betas
    return AdamW(
        param_groups(model, settings.weight_decay), lr=settings.lr, betas=(beta1, beta2), eps=settings.eps
    )


def lr_factor(
    step: int, warmup_steps: int, total_steps: int, schedule: Schedule, final_fraction: float
) -> float:
    """Multiplier of the peak lr for the update after `step` updates (LambdaLR calls it with 0 first).

    Warm-up is linear from 1 / warmup_steps (never 0: the first update already moves the weights),
    then the factor falls from 1 to `final_fraction` at `total_steps` and stays there.
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule is Schedule.constant:
        return 1.0
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    if schedule is Schedule.cosine:
        shape = 0.5 * (1.0 + math.cos(math.pi * progress))
    else:
        shape = 1.0 - progress
    return final_fraction + (1.0 - final_fraction) * shape


def build_scheduler(
    optimizer: Optimizer, settings: OptimSettings, total_steps: int | None = None
) -> LambdaLR:
    """Stepped once per optimizer update. A partial, not a lambda, so that its state can be saved.
    `total_steps` overrides settings.total_steps (a run shortened to fit its time budget)."""
    return LambdaLR(optimizer, _factor(settings, total_steps or settings.total_steps))


def shorten_schedule(scheduler: LambdaLR, settings: OptimSettings, total_steps: int) -> None:
    """Make `scheduler` decay to its end at `total_steps` from now on (the steps taken stay taken)."""
    scheduler.lr_lambdas = [_factor(settings, total_steps)] * len(scheduler.lr_lambdas)


def _factor(settings: OptimSettings, total_steps: int) -> functools.partial:
    return functools.partial(
        lr_factor,
        warmup_steps=settings.warmup_steps,
        total_steps=total_steps,
        schedule=settings.schedule,
        final_fraction=settings.final_lr_fraction,
    )
