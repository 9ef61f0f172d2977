"""LoRA adapters (peft) on a pretrained OsuT5Model: wrap, save only the adapter with a note naming its
base model, load it back on that base, and merge it into the base weights."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch
import yaml
from peft import LoraConfig, PeftModel, get_peft_model, load_peft_weights, set_peft_model_state_dict

from osuT5.config import LoraSettings
from osuT5.errors import OsuT5Error
from osuT5.files import atomic_write_text
from osuT5.model import OsuT5Model
from osuT5.model.modeling import TRAIN_CONFIG_FILE

METADATA_FILE = "lora_metadata.json"
ADAPTER_FILE = "adapter_model.safetensors"
FORMAT_VERSION = 1


def add_lora(model: OsuT5Model, settings: LoraSettings) -> PeftModel:
    """`model` with trainable adapters on `settings.target_modules`; every base weight is frozen."""
    config = LoraConfig(
        r=settings.r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.dropout,
        target_modules=list(settings.target_modules),
        bias="none",
    )
    return get_peft_model(model, config)


def save_adapter(
    model: PeftModel, folder: str | Path, base_model: str, train_config: dict | None = None
) -> Path:
    """Write the adapter weights and config (peft's files), the base model's name and config, and the
    training config into `folder`. The base weights are not copied: they live at `base_model`."""
    folder = Path(folder)
    model.save_pretrained(folder)
    (folder / "README.md").unlink(missing_ok=True)  # peft's empty model-card template
    base: OsuT5Model = model.get_base_model()
    metadata = {
        "format_version": FORMAT_VERSION,
        "base_model": base_model,
        "base_config": asdict(base.config),
    }
    atomic_write_text(folder / METADATA_FILE, json.dumps(metadata, indent=1), overwrite=True)
    if train_config is not None:
        atomic_write_text(
            folder / TRAIN_CONFIG_FILE, yaml.safe_dump(train_config, sort_keys=False), overwrite=True
        )
    return folder


def read_metadata(lora_path: str | Path) -> dict:
    path = Path(lora_path) / METADATA_FILE
    try:
        metadata = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise OsuT5Error(f"{path}: not a readable LoRA adapter note ({e})") from None
    if not isinstance(metadata, dict) or metadata.get("format_version") != FORMAT_VERSION:
        raise OsuT5Error(f"{path}: unknown format (expected format_version {FORMAT_VERSION})")
    return metadata


def check_base(model: OsuT5Model, lora_path: str | Path) -> None:
    """Refuse an adapter trained on a base model of another shape; the error names the field."""
    expected = read_metadata(lora_path).get("base_config", {})
    actual = asdict(model.config)
    for name, value in expected.items():
        if actual.get(name) != value:
            raise OsuT5Error(
                f"{Path(lora_path) / METADATA_FILE}: adapter was trained on a base model with "
                f"{name} = {value!r}, but this base model has {actual.get(name)!r}"
            )


def load_adapter(model: OsuT5Model, lora_path: str | Path, trainable: bool = False) -> PeftModel:
    """The adapter at `lora_path` on top of `model` (checked to be the base it was trained on)."""
    check_base(model, lora_path)
    return PeftModel.from_pretrained(model, str(lora_path), is_trainable=trainable)


def load_adapter_weights(model: PeftModel, lora_path: str | Path) -> None:
    """Replace the adapter weights of an already wrapped model (resuming from a checkpoint)."""
    set_peft_model_state_dict(model, load_peft_weights(str(lora_path), device=str(_device(model))))


def merge_lora(model: PeftModel) -> OsuT5Model:
    """Fold the adapters into the base weights: a plain OsuT5Model, as fast as the base."""
    return model.merge_and_unload()


def load_with_lora(
    base_path: str | Path, lora_path: str | Path, merge: bool = True, device: str | torch.device = "cpu"
) -> OsuT5Model:
    """The base model at `base_path` with the adapter at `lora_path`, in eval mode.

    merge=True folds the adapter into the weights; merge=False keeps the LoRA layers in the model
    (same outputs, slower, but the adapter can still be switched off with peft's tools).
    """
    peft_model = load_adapter(OsuT5Model.from_pretrained(base_path, device=device), lora_path)
    model = merge_lora(peft_model) if merge else peft_model.get_base_model()
    return model.eval()


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device
