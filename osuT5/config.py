"""The training configuration schema: typed dataclasses (defaults and help) registered with Hydra.

YAML under `configs/` only selects groups and states differences; `load_config` turns the composed
DictConfig into a `TrainConfig` once, at the entry point, and every problem becomes one OsuT5Error
naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from osuT5.data.dataset import DataConfig
from osuT5.errors import OsuT5Error
from osuT5.model.configuration import OsuT5Config

# The schema's node name in Hydra's ConfigStore; `configs/train.yaml` lists it first in its defaults.
TRAIN_SCHEMA = "train_schema"
T = TypeVar("T")


class Precision(Enum):
    no = "no"  # fp32 throughout
    fp16 = "fp16"  # autocast fp16 with a gradient scaler (CUDA)
    bf16 = "bf16"  # autocast bf16 (CUDA from Ampere on, and CPU)


class Device(Enum):
    auto = "auto"  # CUDA when available, else CPU
    cpu = "cpu"
    cuda = "cuda"


class Logger(Enum):
    console = "console"  # progress bar and log lines only
    wandb = "wandb"  # also Weights & Biases (offline unless WANDB_API_KEY is set)


class Schedule(Enum):
    cosine = "cosine"
    linear = "linear"
    constant = "constant"


class Resume(Enum):
    auto = "auto"  # continue from the latest checkpoint in output_dir, if there is one
    never = "never"  # start fresh; refuses an output_dir that already holds checkpoints


@dataclass
class DataSettings(DataConfig):
    """Where the beatmaps are, how they are split and loaded, plus the sample settings of DataConfig."""

    root: str = MISSING  # collection: Songs-style folders, .osz archives or a rendered synthetic set
    cache_dir: str = "~/.cache/osuT5/mel"  # log-mel cache, keyed by audio content (safe to share)
    validation_fraction: float = 0.1  # share of beatmap *sets* held out for evaluation
    num_workers: int = 2  # DataLoader worker processes per training process
    window_frames: int | None = None  # None: the model's max_source_frames (the only valid value)
    max_tokens: int | None = None  # None: the model's max_target_tokens

    def data_config(self, model: OsuT5Config) -> DataConfig:
        """The dataset's settings for `model`; window and token limits must fit the model."""
        window = self.window_frames or model.max_source_frames
        if window != model.max_source_frames:
            raise OsuT5Error(
                f"config: data.window_frames = {window} but the model's max_source_frames is "
                f"{model.max_source_frames}; leave data.window_frames unset"
            )
        max_tokens = self.max_tokens or model.max_target_tokens
        if max_tokens > model.max_target_tokens:
            raise OsuT5Error(
                f"config: data.max_tokens = {max_tokens} exceeds the model's max_target_tokens "
                f"({model.max_target_tokens})"
            )
        values = {f.name: getattr(self, f.name) for f in fields(DataConfig)}
        return DataConfig(**{**values, "window_frames": window, "max_tokens": max_tokens})


@dataclass
class OptimSettings:
    """AdamW with warm-up and decay. A step is one optimizer update."""

    lr: float = 1e-3  # peak learning rate, reached after warm-up
    weight_decay: float = 0.01  # never applied to biases, norms and embeddings
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])
    eps: float = 1e-8
    warmup_steps: int = 500  # linear warm-up from lr / warmup_steps to lr
    total_steps: int = 20000  # updates in the whole run
    # Seconds of updates the run may take (a lent GPU, a night): once warm-up is over, total_steps is
    # lowered to the updates that fit at the speed measured so far, so the schedule still decays to
    # its end. None: run all total_steps.
    time_budget_s: float | None = None
    schedule: Schedule = Schedule.cosine  # decay from the end of warm-up to total_steps
    final_lr_fraction: float = 0.1  # lr at total_steps, as a fraction of lr
    grad_clip: float = 1.0  # max global L2 norm of the gradients; 0 disables clipping
    batch_size: int = 8  # windows per micro-batch, per process
    # Micro-batches per update: one update sees batch_size * grad_accumulation * processes windows.
    grad_accumulation: int = 1


@dataclass
class LoraSettings:
    """Low-rank adapters (peft) on a pretrained model; `experiment=lora` turns them on."""

    enabled: bool = False
    r: int = 16  # rank of each adapter
    lora_alpha: int = 32  # scale: updates are multiplied by lora_alpha / r
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])


@dataclass
class TrainConfig:
    """One training run. Paths are relative to the working folder (Hydra does not chdir)."""

    # MISSING, not a default instance: the group file's `preset` must choose the dims, which an
    # instance built from the default preset would already have filled in.
    model: OsuT5Config = MISSING
    data: DataSettings = field(default_factory=DataSettings)
    optim: OptimSettings = field(default_factory=OptimSettings)
    lora: LoraSettings = field(default_factory=LoraSettings)
    seed: int = 0  # model init, shuffling and dropout (data.seed drives the split and augmentations)
    precision: Precision = Precision.no
    device: Device = Device.auto
    # Checkpoints, final model, logs and Hydra's record of the config. Pass it explicitly to resume.
    output_dir: str = "outputs/train/${now:%Y-%m-%d_%H-%M-%S}"
    resume: Resume = Resume.auto
    checkpoint_every: int = 1000  # steps between checkpoints (also written at the last step)
    keep_last: int = 3  # checkpoints kept; older ones are deleted
    eval_every: int = 1000  # steps between evaluations on the validation split (and at the end)
    eval_batches: int | None = None  # batches per process and evaluation; None: the whole split
    log_every: int = 50  # steps between log lines (loss, lr, tokens/s)
    logging: Logger = Logger.console
    wandb_project: str = "osuT5"
    pretrained_path: str | None = None  # start from this model folder or Hub id (its config and tokenizer)
    lora_path: str | None = None  # adapter folder loaded on top of pretrained_path
    gradient_checkpointing: bool = False  # recompute activations in the backward pass: less memory, slower


def register_configs() -> None:
    """Store the schema so that `configs/train.yaml` can list it; safe to call more than once."""
    ConfigStore.instance().store(name=TRAIN_SCHEMA, node=TrainConfig)


def load_config(config: DictConfig) -> TrainConfig:
    """The composed config as a validated TrainConfig; raises OsuT5Error naming the key."""
    cfg = to_schema(config, TrainConfig, TRAIN_SCHEMA)
    validate(cfg)
    return cfg


def to_schema(config: DictConfig, schema: type[T], name: str) -> T:
    """The composed config as an instance of `schema` (registered as `name`); OsuT5Error names the key.
    Shared by every Hydra entry point (the refiner's training too)."""
    try:
        cfg = OmegaConf.to_object(config)
    except MissingMandatoryValue as e:
        raise OsuT5Error(f"config: {e.full_key} is required; pass {e.full_key}=...") from None
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None)
        reason = str(e).splitlines()[0]
        raise OsuT5Error(f"config: {key}: {reason}" if key else f"config: {reason}") from None
    if not isinstance(cfg, schema):
        raise OsuT5Error(f"config: expected the {name} schema, got {type(cfg).__name__}")
    return cfg


def validate(cfg: TrainConfig) -> None:
    """Checks the types cannot express; each error names the key."""
    positive = {
        "optim.total_steps": cfg.optim.total_steps,
        "optim.batch_size": cfg.optim.batch_size,
        "optim.grad_accumulation": cfg.optim.grad_accumulation,
        "checkpoint_every": cfg.checkpoint_every,
        "keep_last": cfg.keep_last,
        "eval_every": cfg.eval_every,
        "log_every": cfg.log_every,
        "lora.r": cfg.lora.r,
    }
    for key, value in positive.items():
        if value <= 0:
            _fail(key, value, "must be positive")
    if cfg.eval_batches is not None and cfg.eval_batches <= 0:
        _fail("eval_batches", cfg.eval_batches, "must be positive, or null for the whole split")
    for key, value in {
        "data.validation_fraction": cfg.data.validation_fraction,
        "lora.dropout": cfg.lora.dropout,
    }.items():
        if not 0.0 <= value < 1.0:
            _fail(key, value, "must be in [0, 1)")
    if not 0.0 <= cfg.optim.final_lr_fraction <= 1.0:
        _fail("optim.final_lr_fraction", cfg.optim.final_lr_fraction, "must be in [0, 1]")
    if cfg.optim.warmup_steps < 0 or cfg.optim.lr <= 0 or len(cfg.optim.betas) != 2:
        _fail("optim", cfg.optim, "needs lr > 0, warmup_steps >= 0 and two betas")
    if cfg.lora.enabled and not cfg.pretrained_path:
        _fail("pretrained_path", None, "LoRA trains adapters on a pretrained model; pass pretrained_path=")
    if cfg.lora_path and not cfg.pretrained_path:
        _fail("lora_path", cfg.lora_path, "an adapter needs its base model; pass pretrained_path=")


def to_dict(cfg: TrainConfig) -> dict[str, Any]:
    """Plain data (enums as their values), for YAML next to a model and for wandb."""
    return OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True, enum_to_str=True)


def expand(path: str) -> Path:
    """A configured path with `~` expanded."""
    return Path(path).expanduser()


def _fail(key: str, value: object, reason: str) -> None:
    raise OsuT5Error(f"config: {key} = {value!r}: {reason}")


register_configs()
