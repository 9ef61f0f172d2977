"""Every option of a generation run, with its help text: one schema for `inference.py` (Hydra),
the web UI and the terminal CLI. `validate` turns a filled-in schema into checked values or one
`OsuT5Error` line that names the option and what is wrong."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore

from osu_diffusion import DEFAULT_REFINER_PATH
from osuT5.beatmap import GameMode
from osuT5.errors import OsuT5Error
from osuT5.inference.command_line import schema_defaults, schema_help

DEFAULT_MODEL_PATH = str(Path(__file__).resolve().parents[1] / "assets" / "default_model")
CONTEXT_NAMES = ("NONE", "TIMING", "KIAI", "MAP", "GD", "NO_HS")
OUTPUT_NAMES = ("TIMING", "MAP")
DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")
PRECISION_NAMES = ("fp32", "bf16", "fp16")
AUDIO_EXTENSIONS = (".mp3", ".ogg", ".wav", ".flac", ".m4a", ".opus")
MAX_STARS = 12.0


def opt(default: Any, help: str) -> Any:
    """A field with help text (lists get a factory)."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class InferenceOptions:
    # -- paths --
    audio_path: str | None = opt(None, "song to map (mp3, ogg, wav, flac, m4a)")
    output_path: str | None = opt(None, "folder for the new .osu (default: the audio's folder)")
    beatmap_path: str | None = opt(None, "reference .osu: fills audio, output folder and unset options")
    model_path: str = opt(
        DEFAULT_MODEL_PATH, "model folder or Hugging Face Hub id (default: the shipped model)"
    )
    lora_path: str | None = opt(None, "LoRA adapter folder applied on top of the model")
    # -- what to make --
    gamemode: int | None = opt(None, "0 osu!standard, 1 taiko, 2 catch, 3 mania (default 0)")
    difficulty: Any = opt(None, "star rating, or a list such as [2,3.5,5] for a whole spread")
    mapper_id: int | None = opt(None, "osu! user id whose style to imitate (if the model knows it)")
    year: int | None = opt(None, "ranked year whose style to imitate")
    hitsounded: bool | None = opt(None, "add hitsounds (default: the model decides)")
    slider_multiplier: float | None = opt(None, "base slider velocity (0.4 to 3.6)")
    circle_size: float | None = opt(None, "circle size CS (std, catch)")
    keycount: int | None = opt(None, "mania key count (1 to 18)")
    hold_note_ratio: float | None = opt(None, "mania: share of hold notes, 0 to 1")
    scroll_speed_ratio: float | None = opt(None, "taiko and mania: density of scroll speed changes, 0 to 1")
    descriptors: list[str] = opt([], "style tags, e.g. [style/clean,skillset/streams]")
    negative_descriptors: list[str] = opt([], "tags to steer away from (needs cfg_scale > 1)")
    # -- how --
    in_context: list[str] = opt([], "what to take from the reference: TIMING, KIAI, MAP, GD, NO_HS (or NONE)")
    output_type: list[str] = opt(
        ["MAP"], "what to generate: [MAP] (with timing) or [TIMING] for a timing-only map"
    )
    add_to_beatmap: bool = opt(False, "remap only start_time..end_time of the reference; keep the rest")
    start_time: int | None = opt(None, "ms where generation starts")
    end_time: int | None = opt(None, "ms where generation ends")
    super_timing: bool = opt(False, "average many timing passes (slower, more exact; good for variable BPM)")
    timer_iterations: int = opt(20, "timing passes that super timing combines")
    align_timing: bool = opt(
        True, "snap the generated BPM and offset to the song's onsets (false: the model's own fit)"
    )
    cfg_scale: float = opt(1.0, "classifier-free guidance scale; > 1 follows the conditions more strictly")
    temperature: float = opt(0.9, "sampling temperature; 0 is greedy")
    timing_temperature: float = opt(0.0, "temperature of the timing pass (0: greedy, the most exact)")
    top_p: float = opt(0.9, "nucleus sampling threshold")
    seed: int | None = opt(None, "random seed; the same seed gives the same file (default: random)")
    lookback: float = opt(0.2, "share of each window given from the previous one")
    lookahead: float = opt(0.3, "share of each window heard but left to the next one")
    max_batch_size: int = opt(16, "rows decoded together (windows, CFG pairs, difficulties)")
    map_lanes: int = opt(
        1,
        "map pass: decode this many consecutive parts of the song side by side as one batch (faster "
        "where a batch is cheap, e.g. a GPU; each part after the first starts without lookback)",
    )
    device: str = opt("auto", "auto (CUDA, then MPS, then CPU), cpu, cuda or mps")
    precision: str = opt("fp32", "fp32, or bf16 / fp16 on a GPU")
    export_osz: bool = opt(False, "also write an .osz with the audio")
    # -- position refiner (osu_diffusion) --
    generate_positions: bool = opt(
        True, "std and catch: refine object positions with the diffusion refiner (README: why it is on)"
    )
    refiner_path: str = opt(DEFAULT_REFINER_PATH, "refiner folder (default: the shipped one)")
    refine_start_step: int = opt(
        30, "how coarse the positions are taken to be: the noise step (of 1000) refinement starts at"
    )
    refine_steps: int = opt(3, "denoising steps from refine_start_step down to 0")
    # -- written to the file --
    title: str | None = opt(None, "song title (default: the reference's, or the audio file name)")
    artist: str | None = opt(None, "song artist")
    creator: str | None = opt(None, "map creator (default: osuT5)")
    version: str | None = opt(None, "difficulty name (default: from the star rating)")
    source: str | None = opt(None, "song source")
    tags: str | None = opt(None, "search tags")
    hp_drain_rate: float | None = opt(None, "HP (default 5)")
    overall_difficulty: float | None = opt(None, "OD (default 8)")
    approach_rate: float | None = opt(None, "AR (default 9)")
    slider_tick_rate: float | None = opt(None, "slider tick rate (default 1)")
    preview_time: int | None = opt(None, "ms where song select previews the song")


# `configs/inference.yaml` lists the schema by this name; importing this module registers it.
INFERENCE_SCHEMA = "inference_schema"
ConfigStore.instance().store(name=INFERENCE_SCHEMA, node=InferenceOptions)


def option_help() -> dict[str, str]:
    """Help text of every option, for faces that show it."""
    return schema_help(InferenceOptions)


def option_defaults() -> dict[str, Any]:
    return schema_defaults(InferenceOptions)


def option_choices() -> dict[str, tuple]:
    """The closed sets some options choose from (lists choose several), for faces that offer a menu."""
    return {
        "gamemode": tuple(int(m) for m in GameMode),
        "in_context": CONTEXT_NAMES,
        "output_type": OUTPUT_NAMES,
        "device": DEVICE_NAMES,
        "precision": PRECISION_NAMES,
    }


def model_descriptors(model_path: str = DEFAULT_MODEL_PATH) -> tuple[str, ...]:
    """The descriptor tags the model in `model_path` was trained with (its tokenizer's list); the
    project's default list for a Hub id or a folder without a tokenizer."""
    from osuT5.style import DEFAULT_DESCRIPTORS
    from osuT5.tokenizer import Tokenizer

    path = Path(model_path).expanduser() / "tokenizer.json"
    if not path.is_file():
        return DEFAULT_DESCRIPTORS
    return tuple(Tokenizer.load(path).config.descriptors)


def _fail(name: str, value: Any, why: str) -> None:
    raise OsuT5Error(f"option {name}={value!r}: {why}")


def parse_difficulties(value: Any) -> list[float | None]:
    """`difficulty` as a list (None: let the model choose)."""
    if value is None:
        return [None]
    values = (
        list(value)
        if isinstance(value, list | tuple) or hasattr(value, "__iter__") and not isinstance(value, str)
        else [value]
    )
    if not values:
        _fail("difficulty", value, "an empty list")
    out: list[float | None] = []
    for v in values:
        try:
            stars = float(v)
        except (TypeError, ValueError):
            _fail("difficulty", value, "not a number or a list of numbers")
        if not math.isfinite(stars) or not 0 < stars <= MAX_STARS:
            _fail("difficulty", v, f"star rating must be in (0, {MAX_STARS:g}]")
        out.append(stars)
    return out


def validate(o: InferenceOptions, descriptor_names: tuple[str, ...] | None = None) -> None:
    """Check values that do not depend on files; raises one OsuT5Error line naming the option."""
    if o.gamemode is not None and o.gamemode not in tuple(int(m) for m in GameMode):
        _fail("gamemode", o.gamemode, "unknown game mode; use 0 std, 1 taiko, 2 catch or 3 mania")
    parse_difficulties(o.difficulty)
    for name in o.in_context:
        if str(name).upper() not in CONTEXT_NAMES:
            _fail(
                "in_context",
                list(o.in_context),
                f"unknown context {name!r}; choose from {', '.join(CONTEXT_NAMES)}",
            )
    if not o.output_type:
        _fail("output_type", [], "nothing to generate; use [MAP] or [TIMING]")
    for name in o.output_type:
        if str(name).upper() not in OUTPUT_NAMES:
            _fail(
                "output_type",
                list(o.output_type),
                f"unknown output {name!r}; choose from {', '.join(OUTPUT_NAMES)}",
            )
    if o.negative_descriptors:
        if o.cfg_scale <= 1:
            _fail(
                "negative_descriptors", list(o.negative_descriptors), "needs cfg_scale > 1 to have any effect"
            )
        if len(o.negative_descriptors) != len(o.descriptors):
            _fail(
                "negative_descriptors",
                list(o.negative_descriptors),
                f"has {len(o.negative_descriptors)} tags but descriptors has {len(o.descriptors)}; give one per descriptor",
            )
    if descriptor_names is not None:
        for name in (*o.descriptors, *o.negative_descriptors):
            if name not in descriptor_names:
                _fail("descriptors", name, "unknown descriptor; see the README for the list")
    if o.start_time is not None and o.end_time is not None and o.start_time > o.end_time:
        _fail("start_time", o.start_time, f"is after end_time ({o.end_time})")
    for name in ("start_time", "end_time"):
        if getattr(o, name) is not None and getattr(o, name) < 0:
            _fail(name, getattr(o, name), "must be >= 0")
    if o.add_to_beatmap and not o.beatmap_path:
        _fail("add_to_beatmap", True, "needs beatmap_path (the map to add to)")
    if o.cfg_scale < 1 or not math.isfinite(o.cfg_scale):
        _fail("cfg_scale", o.cfg_scale, "must be >= 1")
    if o.temperature < 0 or o.timing_temperature < 0:
        _fail("temperature", o.temperature, "must be >= 0")
    if not 0 < o.top_p <= 1:
        _fail("top_p", o.top_p, "must be in (0, 1]")
    if o.timer_iterations < 1:
        _fail("timer_iterations", o.timer_iterations, "must be at least 1")
    for name in ("max_batch_size", "map_lanes"):
        if getattr(o, name) < 1:
            _fail(name, getattr(o, name), "must be at least 1")
    if o.keycount is not None and not 1 <= o.keycount <= 18:
        _fail("keycount", o.keycount, "must be 1 to 18")
    for name in ("hold_note_ratio", "scroll_speed_ratio"):
        value = getattr(o, name)
        if value is not None and not 0 <= value <= 1:
            _fail(name, value, "must be between 0 and 1")
    if o.slider_multiplier is not None and not 0.4 <= o.slider_multiplier <= 3.6:
        _fail("slider_multiplier", o.slider_multiplier, "must be between 0.4 and 3.6")
    if o.circle_size is not None and not 0 <= o.circle_size <= 10:
        _fail("circle_size", o.circle_size, "must be between 0 and 10")
    if not 0 <= o.refine_start_step < 1000:
        _fail("refine_start_step", o.refine_start_step, "must be 0 to 999")
    if o.refine_steps < 1:
        _fail("refine_steps", o.refine_steps, "must be at least 1")
    validate_runtime(o.device, o.precision)


def validate_runtime(device: str, precision: str) -> None:
    """The device and precision options, shared by every schema that runs the model."""
    if device not in DEVICE_NAMES:
        _fail("device", device, f"use {', '.join(DEVICE_NAMES)}")
    if precision not in PRECISION_NAMES:
        _fail("precision", precision, f"use {', '.join(PRECISION_NAMES)}")
