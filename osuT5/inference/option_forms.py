"""Options as the faces see them: each field of an options dataclass with its kind, default, help and
choices; typed answers read from form text or JSON; values written back as `inference.py` overrides.
The web UI and the terminal CLI share this, so both read and write options exactly alike."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

from osuT5.errors import OsuT5Error
from osuT5.inference.command_line import schema_defaults, schema_help

# What a path option points at: a file with one of these suffixes, or a folder.
FOLDER = "folder"
_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


@dataclass(frozen=True)
class OptionField:
    """One option as a face shows it. `kind` is text, int, float, bool, list, difficulty or path."""

    name: str
    kind: str
    default: Any
    help: str
    optional: bool  # None (unset) is allowed
    choices: tuple = ()
    path_target: tuple[str, ...] | str = ()  # suffixes a file must have, or FOLDER

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _unwrap(hint: Any) -> tuple[Any, bool]:
    """The type inside `X | None`, and whether None is allowed."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0], len(args) < len(typing.get_args(hint))
    return hint, False


def _kind(hint: Any) -> tuple[str, bool, tuple]:
    """(kind, optional, choices) of a type hint; Literal and Enum types bring their choices."""
    hint, optional = _unwrap(hint)
    if hint is Any:
        return "difficulty", True, ()
    if typing.get_origin(hint) is list:
        return "list", optional, ()
    if typing.get_origin(hint) is typing.Literal:
        return "text", optional, typing.get_args(hint)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return "text", optional, tuple(m.value for m in hint)
    return {bool: "bool", int: "int", float: "float"}.get(hint, "text"), optional, ()


def option_fields(
    schema: type,
    choices: dict[str, tuple] | None = None,
    path_targets: dict[str, tuple[str, ...] | str] | None = None,
) -> list[OptionField]:
    """Every field of the options dataclass `schema`, in declaration order."""
    hints = typing.get_type_hints(schema)
    defaults, helps = schema_defaults(schema), schema_help(schema)
    out = []
    for f in dataclasses.fields(schema):
        kind, optional, own_choices = _kind(hints[f.name])
        target = (path_targets or {}).get(f.name, ())
        if target:
            kind = "path"
        out.append(
            OptionField(
                f.name,
                kind,
                defaults[f.name],
                helps[f.name],
                optional,
                tuple((choices or {}).get(f.name, own_choices)),
                target,
            )
        )
    return out


def _fail(name: str, value: Any, why: str) -> typing.NoReturn:
    raise OsuT5Error(f"option {name}={value!r}: {why}")


def _as_list(value: Any) -> list:
    """A list from a JSON list, or from text such as `a,b` or `[a, b]`."""
    if isinstance(value, list | tuple):
        return list(value)
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [part.strip().strip("'\"") for part in text.split(",") if part.strip()]


def parse_value(f: OptionField, value: Any) -> Any:
    """The typed value of one answer (text from a prompt or form, or a JSON value); raises an
    OsuT5Error line in the style of `validate` when it is not of the option's type."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if f.optional:
            return None
        if f.kind == "list":
            return []
        _fail(f.name, value, "needs a value")
    if f.kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE | _FALSE:
            return text in _TRUE
        _fail(f.name, value, "answer true or false")
    if f.kind == "int":
        try:
            number = float(value)
        except (TypeError, ValueError):
            _fail(f.name, value, "not a whole number")
        if not math.isfinite(number) or number != int(number):
            _fail(f.name, value, "not a whole number")
        return int(number)
    if f.kind == "float":
        try:
            number = float(value)
        except (TypeError, ValueError):
            _fail(f.name, value, "not a number")
        if not math.isfinite(number):
            _fail(f.name, value, "not a finite number")
        return number
    if f.kind == "list":
        items = [str(v) for v in _as_list(value)]
        if not f.choices:
            return items
        names = {str(c).upper(): c for c in f.choices}  # choices are case-insensitive names
        for item in items:
            if item.upper() not in names:
                _fail(f.name, item, f"choose from {', '.join(map(str, f.choices))}")
        return [names[item.upper()] for item in items]
    if f.kind == "difficulty":
        items = _as_list(value)
        try:
            numbers = [float(v) for v in items]
        except (TypeError, ValueError):
            _fail(f.name, value, "not a number or a list of numbers")
        return numbers[0] if len(numbers) == 1 and not isinstance(value, list) else numbers
    return str(value).strip()


def build_options(schema: type, fields: list[OptionField], values: dict[str, Any]) -> Any:
    """An instance of `schema` from answers keyed by option name (unknown names are an error; names
    left out keep their defaults)."""
    by_name = {f.name: f for f in fields}
    for name in values:
        if name not in by_name:
            raise OsuT5Error(f"option {name}: no such option")
    hints = typing.get_type_hints(schema)
    typed = {}
    for name, value in values.items():
        typed[name] = parse_value(by_name[name], value)
        if by_name[name].choices and by_name[name].kind != "list" and typed[name] is not None:
            if typed[name] not in by_name[name].choices:
                _fail(name, typed[name], f"choose from {', '.join(map(str, by_name[name].choices))}")
            hint, _ = _unwrap(hints[name])
            if isinstance(hint, type) and issubclass(hint, enum.Enum):
                typed[name] = hint(typed[name])
    return schema(**typed)


def error_option(error: OsuT5Error) -> str | None:
    """The option an error line names (`option NAME=...` or `option NAME:`), for a face to point at."""
    match = re.match(r"option (\w+)[=:]", str(error))
    return match.group(1) if match else None


# -- back to `inference.py` overrides --
_PLAIN = re.compile(r"[\w./+\-]+")


def _hydra_text(text: str) -> str:
    """A string as a Hydra override value: bare when safe, otherwise quoted with escapes."""
    if _PLAIN.fullmatch(text) and text.lower() not in ("null", "true", "false"):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _hydra_value(value: Any) -> str:
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_hydra_value(v) for v in value) + "]"
    return _hydra_text(str(value))


def to_overrides(options: Any) -> list[str]:
    """`key=value` overrides for `inference.py` that rebuild `options` (only values off their default)."""
    out = []
    defaults = schema_defaults(type(options))
    for f in dataclasses.fields(options):
        value = getattr(options, f.name)
        if value != defaults[f.name]:
            out.append(f"{f.name}={_hydra_value(value)}")
    return out


def to_json_values(options: Any) -> dict[str, Any]:
    """Every option's value as plain JSON (what a preset file or the worker's stdin holds)."""
    return json.loads(json.dumps(dataclasses.asdict(options), default=_plain))


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else str(value)
