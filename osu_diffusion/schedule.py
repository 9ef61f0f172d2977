"""The noise schedule (diffusers' DDIMScheduler, never hand-written): the same squared-cosine betas
train the network (`add_noise`) and, deterministically (eta 0), refine positions (`step`)."""

from __future__ import annotations

import math

from diffusers import DDIMScheduler

from osu_diffusion.config import RefinerModelConfig


def make_scheduler(config: RefinerModelConfig) -> DDIMScheduler:
    """ε-prediction; no clipping (positions may leave [-1, 1] mid-way); the last step lands on clean."""
    return DDIMScheduler(
        num_train_timesteps=config.num_train_timesteps,
        beta_schedule=config.beta_schedule,
        prediction_type="epsilon",
        clip_sample=False,
        set_alpha_to_one=True,
        timestep_spacing="leading",
    )


def set_refinement_steps(scheduler: DDIMScheduler, start_step: int, num_steps: int) -> list[int]:
    """`num_steps` descending steps from `start_step`, evenly spaced so that the last one lands on
    clean positions, with `scheduler` set to that spacing. The coarse positions are read as the
    sample at `start_step`: the low-noise end of the schedule."""
    if start_step < 0 or num_steps < 1:
        raise ValueError(f"need start_step >= 0 and num_steps >= 1, got {start_step} and {num_steps}")
    train_steps = scheduler.config.num_train_timesteps
    # DDIM steps from t to t - train_steps // num_inference_steps; past 0 it returns the clean sample.
    scheduler.set_timesteps(train_steps // math.ceil((start_step + 1) / num_steps))
    stride = train_steps // scheduler.num_inference_steps
    return [start_step - k * stride for k in range(num_steps) if start_step - k * stride >= 0]
