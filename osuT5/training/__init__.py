"""Training: the loop (accelerate, checkpoints, resume), optimizer and schedule, LoRA, eval metrics."""

from osuT5.training.loop import train
from osuT5.training.lora import load_with_lora

__all__ = ["load_with_lora", "train"]
