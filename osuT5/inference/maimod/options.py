"""Every option of a MaiMod review, with its help text: one schema for `mai_mod.py` (Hydra) and the
web UI. `validate_mai_mod` raises one `OsuT5Error` line naming the option and what is wrong."""

from __future__ import annotations

from dataclasses import dataclass

from hydra.core.config_store import ConfigStore

from osuT5.errors import OsuT5Error
from osuT5.inference.options import DEFAULT_MODEL_PATH, opt, validate_runtime

OUTPUT_FORMATS = ("text", "json")


@dataclass
class MaiModOptions:
    beatmap_path: str | None = opt(None, "the .osu to review")
    audio_path: str | None = opt(None, "its song (default: the AudioFilename beside the map)")
    model_path: str = opt(
        DEFAULT_MODEL_PATH, "model folder or Hugging Face Hub id (default: the shipped model)"
    )
    lora_path: str | None = opt(None, "LoRA adapter folder applied on top of the model")
    device: str = opt("auto", "auto (CUDA, then MPS, then CPU), cpu, cuda or mps")
    precision: str = opt("fp32", "fp32, or bf16 / fp16 on a GPU")
    threshold: float = opt(
        1.0, "smallest score shown: surprisal / (the model's uncertainty there + 1 bit); below 1 is ordinary"
    )
    per_category: int = opt(10, "most suggestions shown per category (the highest scores, in time order)")
    output_format: str = opt("text", "text for people, json for tools")
    seed: int = opt(0, "random seed (the review is deterministic; kept for reproducible runs)")
    lookback: float = opt(0.2, "share of each window given from the previous one")
    lookahead: float = opt(0.3, "share of each window heard but scored by the next one")
    max_batch_size: int = opt(8, "windows scored together")


# `configs/mai_mod.yaml` lists the schema by this name; importing this module registers it.
MAI_MOD_SCHEMA = "mai_mod_schema"
ConfigStore.instance().store(name=MAI_MOD_SCHEMA, node=MaiModOptions)


def _fail(name: str, value: object, why: str) -> None:
    raise OsuT5Error(f"option {name}={value!r}: {why}")


def validate_mai_mod(o: MaiModOptions) -> None:
    """Check values that do not depend on files; raises one OsuT5Error line naming the option."""
    if not o.beatmap_path:
        _fail("beatmap_path", o.beatmap_path, "no beatmap given: pass beatmap_path=MAP.osu")
    if o.threshold < 0:
        _fail("threshold", o.threshold, "must be >= 0")
    if o.per_category < 1:
        _fail("per_category", o.per_category, "must be at least 1")
    if o.output_format not in OUTPUT_FORMATS:
        _fail("output_format", o.output_format, f"use {' or '.join(OUTPUT_FORMATS)}")
    if o.lookback < 0 or o.lookahead < 0 or o.lookback + o.lookahead > 0.9:
        _fail("lookahead", o.lookahead, "lookback and lookahead must be >= 0 and sum to at most 0.9")
    if o.max_batch_size < 1:
        _fail("max_batch_size", o.max_batch_size, "must be at least 1")
    validate_runtime(o.device, o.precision)
