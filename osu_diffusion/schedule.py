"""The noise schedule (diffusers' DDPMScheduler, never hand-written) and the refinement step lists."""

from __future__ import annotations

from diffusers import DDPMScheduler

from osu_diffusion.config import RefinerModelConfig


def make_scheduler(config: RefinerModelConfig) -> DDPMScheduler:
    """ε-prediction, squared-cosine schedule; no clipping (positions may leave [-1, 1] mid-way)."""
    return DDPMScheduler(
        num_train_timesteps=config.num_train_timesteps,
        beta_schedule=config.beta_schedule,
        prediction_type="epsilon",
        clip_sample=False,
    )


def refinement_timesteps(start_step: int, num_steps: int) -> list[int]:
    """Descending, distinct steps from `start_step` down to 0 (`num_steps` of them at most): the coarse
    positions are read as the sample at `start_step`, the low-noise end of the schedule."""
    if start_step < 0 or num_steps < 1:
        raise ValueError(f"need start_step >= 0 and num_steps >= 1, got {start_step} and {num_steps}")
    n = min(num_steps, start_step + 1)
    steps = sorted({round(start_step * (n - 1 - i) / max(n - 1, 1)) for i in range(n)}, reverse=True)
    return steps
