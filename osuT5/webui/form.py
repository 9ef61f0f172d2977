"""The pages' forms, generated from the options schemas (`InferenceOptions`, `MaiModOptions`): fields with
help and defaults for the page, and the same Python validation `inference.py` runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from osuT5.errors import OsuT5Error
from osuT5.inference.option_forms import FOLDER, OptionField, build_options, option_fields
from osuT5.inference.options import (
    AUDIO_EXTENSIONS,
    DEFAULT_MODEL_PATH,
    InferenceOptions,
    model_descriptors,
    option_choices,
    validate,
)
from osuT5.webui.browse import AllowedFolders

# What each path option points at (the browse dialog's filter).
PATH_TARGETS: dict[str, tuple[str, ...] | str] = {
    "audio_path": AUDIO_EXTENSIONS,
    "beatmap_path": (".osu",),
    "output_path": FOLDER,
    "model_path": FOLDER,
    "lora_path": FOLDER,
}
# Paths that must exist when given (an output folder is created by the run).
MUST_EXIST = ("audio_path", "beatmap_path", "model_path", "lora_path")


@dataclass
class Form:
    """One page's form: its fields, the few shown first, and how answers become checked options."""

    mode: str
    schema: type
    fields: list[OptionField]
    check: Callable[[Any], None]
    basic: tuple[str, ...]
    descriptors: tuple[str, ...] = ()

    def options(self, values: dict[str, Any]) -> Any:
        """Checked options from answers; raises the same OsuT5Error line `inference.py` would."""
        options = build_options(self.schema, self.fields, values)
        self.check(options)
        return options

    def check_paths(self, options: Any, allowed: AllowedFolders) -> None:
        """Every path option the user set lies inside the allowed folders (and exists, if it must)."""
        for f in self.fields:
            value = getattr(options, f.name)
            if f.kind != "path" or not value or value == f.default:
                continue
            try:
                path = allowed.check(value)
            except OsuT5Error as e:
                raise OsuT5Error(f"option {f.name}={value!r}: {str(e).split(': ', 1)[1]}") from None
            if f.name in MUST_EXIST and not path.exists():
                raise OsuT5Error(f"option {f.name}={value!r}: no such file or folder")

    def page(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "fields": [f.to_dict() for f in self.fields],
            "basic": list(self.basic),
            "descriptors": list(self.descriptors),
        }


def _check_generate(options: InferenceOptions) -> None:
    local_model = Path(options.model_path).expanduser().is_dir()
    validate(options, descriptor_names=model_descriptors(options.model_path) if local_model else None)


def generate_form() -> Form:
    return Form(
        "generate",
        InferenceOptions,
        option_fields(InferenceOptions, option_choices(), PATH_TARGETS),
        _check_generate,
        basic=("audio_path", "beatmap_path", "output_path", "gamemode", "difficulty", "year", "seed"),
        descriptors=model_descriptors(DEFAULT_MODEL_PATH),
    )


def maimod_form() -> Form:
    try:
        from osuT5.inference import mai_mod
    except ImportError:
        raise OsuT5Error("MaiMod is not part of this build (osuT5.inference.mai_mod is missing)") from None
    from osuT5.inference.maimod.options import OUTPUT_FORMATS

    choices = {**option_choices(), "output_format": OUTPUT_FORMATS}
    return Form(
        "maimod",
        mai_mod.MaiModOptions,
        option_fields(mai_mod.MaiModOptions, choices, PATH_TARGETS),
        mai_mod.validate_mai_mod,
        basic=("beatmap_path", "audio_path", "threshold", "per_category"),
    )


FORMS: dict[str, Callable[[], Form]] = {"generate": generate_form, "maimod": maimod_form}
