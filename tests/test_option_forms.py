"""The faces' view of the options: typed answers from text, errors in `validate`'s style, and overrides
that `inference.py` reads back to the same options."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Literal

import pytest

from osuT5.errors import OsuT5Error
from osuT5.inference.command_line import load_options
from osuT5.inference.option_forms import (
    build_options,
    error_option,
    option_fields,
    to_json_values,
    to_overrides,
)
from osuT5.inference.options import InferenceOptions, option_choices

FIELDS = option_fields(InferenceOptions, option_choices())


def test_answers_round_trip_through_inference_overrides() -> None:
    answers = {
        "audio_path": "/songs/it's a (test) $(rm -rf x); `y` | z & w.ogg",
        "difficulty": "2, 3.5",
        "descriptors": "style/clean, skillset/finger control",
        "in_context": ["timing"],
        "seed": "3",
        "export_osz": "yes",
        "title": "null",
        "cfg_scale": "2",
        "year": "",
        "hitsounded": "false",
    }
    options = build_options(InferenceOptions, FIELDS, answers)
    assert options.difficulty == [2.0, 3.5] and options.in_context == ["TIMING"] and options.year is None
    assert options.title == "null" and options.hitsounded is False
    assert load_options("inference", InferenceOptions, to_overrides(options)) == options


@pytest.mark.parametrize(
    ("answers", "option"),
    [
        ({"seed": "1.5"}, "seed"),
        ({"cfg_scale": "much"}, "cfg_scale"),
        ({"device": "tpu"}, "device"),
        ({"in_context": "TIMING,SOUND"}, "in_context"),
        ({"export_osz": "maybe"}, "export_osz"),
        ({"nonsense": "1"}, "nonsense"),
    ],
)
def test_a_bad_answer_names_its_option(answers: dict, option: str) -> None:
    with pytest.raises(OsuT5Error) as error:
        build_options(InferenceOptions, FIELDS, answers)
    assert error_option(error.value) == option


class Format(enum.Enum):
    TEXT = "text"
    JSON = "json"


@dataclass
class Other:
    """Another schema, as MaiMod's: Literal and Enum options become menus."""

    output_format: Format = field(default=Format.TEXT, metadata={"help": "report format"})
    precision: Literal["fp32", "bf16"] = field(default="fp32", metadata={"help": "precision"})


def test_literal_and_enum_options_become_choices() -> None:
    fields = option_fields(Other)
    assert [f.choices for f in fields] == [("text", "json"), ("fp32", "bf16")]
    options = build_options(Other, fields, {"output_format": "json", "precision": "bf16"})
    assert options.output_format is Format.JSON
    assert to_json_values(options) == {"output_format": "json", "precision": "bf16"}
    assert to_overrides(options) == ["output_format=json", "precision=bf16"]
    with pytest.raises(OsuT5Error, match="choose from"):
        build_options(Other, fields, {"precision": "int8"})
