"""The refiner's configuration schema: model dims, data, optimisation and the training run, as typed
dataclasses registered with Hydra (`configs/train_diffusion.yaml` only picks groups and differences)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from osuT5.config import Device, Logger, Precision, Resume, to_schema
from osuT5.errors import OsuT5Error

DIFFUSION_SCHEMA = "diffusion_train_schema"


@dataclass
class RefinerModelConfig:
    """The DiT over a sequence of hit-object points; saved beside the weights, so loading needs nothing else."""

    hidden_size: int = 128
    depth: int = 6  # adaLN-Zero transformer blocks
    num_heads: int = 4
    mlp_ratio: float = 4.0
    feature_dim: int = 32  # sinusoidal features per scalar input (time gaps, length, coordinates)
    # The noise schedule (diffusers DDPMScheduler): trained only on its low-noise end.
    num_train_timesteps: int = 1000
    beta_schedule: str = "squaredcos_cap_v2"
    max_train_timestep: int = 100  # training steps are drawn from [0, max_train_timestep)
    window: int = 64  # points the model sees at once (training windows, refinement chunks)


@dataclass
class RefinerDataSettings:
    """Where the beatmaps are and how training windows are drawn from them."""

    root: str = MISSING  # a folder of .osu files (an osu! Songs folder or the corpus); audio not needed
    modes: list[int] = field(default_factory=lambda: [0, 2])  # game modes with positions: std and catch
    held_out_sets: str | None = None  # JSON list of set keys to evaluate on and never train on
    cache_file: str | None = None  # parsed sequences (and star ratings) cached here; null: parse each run
    class_dropout: float = 0.2  # chance each condition becomes "unknown" (classifier-free guidance)
    flip_probability: float = 0.5  # chance of a horizontal (and, independently, vertical) mirror


@dataclass
class RefinerOptim:
    """AdamW with linear warm-up and cosine decay (diffusers' schedule); EMA weights are shipped."""

    lr: float = 5e-4
    weight_decay: float = 0.0
    warmup_steps: int = 200
    total_steps: int = 4000
    grad_clip: float = 1.0
    batch_size: int = 32  # windows per update
    ema_decay: float = 0.999


@dataclass
class DiffusionTrainConfig:
    """One training run of the refiner. Paths are relative to the working folder (Hydra does not chdir)."""

    model: RefinerModelConfig = field(default_factory=RefinerModelConfig)
    data: RefinerDataSettings = field(default_factory=RefinerDataSettings)
    optim: RefinerOptim = field(default_factory=RefinerOptim)
    seed: int = 0
    precision: Precision = Precision.no
    device: Device = Device.auto
    threads: int | None = None  # torch CPU threads; null: torch's default
    output_dir: str = "outputs/diffusion/${now:%Y-%m-%d_%H-%M-%S}"
    resume: Resume = Resume.auto
    checkpoint_every: int = 500
    keep_last: int = 2
    eval_every: int = 500  # steps between held-out losses (needs data.held_out_sets)
    eval_windows: int = 256
    log_every: int = 50
    logging: Logger = Logger.console
    wandb_project: str = "osu_diffusion"


def register_configs() -> None:
    ConfigStore.instance().store(name=DIFFUSION_SCHEMA, node=DiffusionTrainConfig)


def load_config(config: DictConfig) -> DiffusionTrainConfig:
    """The composed config as a validated DiffusionTrainConfig; raises OsuT5Error naming the key."""
    cfg = to_schema(config, DiffusionTrainConfig, DIFFUSION_SCHEMA)
    validate(cfg)
    return cfg


def validate(cfg: DiffusionTrainConfig) -> None:
    m, o = cfg.model, cfg.optim
    positive = {
        "optim.total_steps": o.total_steps,
        "optim.batch_size": o.batch_size,
        "optim.lr": o.lr,
        "checkpoint_every": cfg.checkpoint_every,
        "keep_last": cfg.keep_last,
        "eval_every": cfg.eval_every,
        "log_every": cfg.log_every,
        "model.window": m.window,
    }
    for key, value in positive.items():
        if value <= 0:
            raise OsuT5Error(f"config: {key} = {value!r}: must be positive")
    if m.hidden_size % m.num_heads:
        raise OsuT5Error(f"config: model.hidden_size = {m.hidden_size}: must be a multiple of num_heads")
    if not 0 < m.max_train_timestep <= m.num_train_timesteps:
        raise OsuT5Error(
            f"config: model.max_train_timestep = {m.max_train_timestep}: must be in (0, num_train_timesteps]"
        )
    if not 0.0 <= cfg.data.class_dropout < 1.0:
        raise OsuT5Error(f"config: data.class_dropout = {cfg.data.class_dropout}: must be in [0, 1)")
    if not set(cfg.data.modes) <= {0, 2}:
        raise OsuT5Error(f"config: data.modes = {cfg.data.modes}: only std (0) and catch (2) have positions")


def to_dict(cfg: DiffusionTrainConfig) -> dict[str, Any]:
    return OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True, enum_to_str=True)


register_configs()
