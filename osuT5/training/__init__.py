"""Training: the loop (accelerate, checkpoints, resume), optimizer and schedule, LoRA, eval metrics.

`train` and `load_with_lora` load on first use, so that `osuT5.training.launch` (the accelerator and
log lines every training loop shares, the refiner's too) imports without the model layer."""

from __future__ import annotations

from typing import Any

__all__ = ["load_with_lora", "train"]


def __getattr__(name: str) -> Any:
    if name == "train":
        from osuT5.training.loop import train

        return train
    if name == "load_with_lora":
        from osuT5.training.lora import load_with_lora

        return load_with_lora
    raise AttributeError(f"module 'osuT5.training' has no attribute {name!r}")
