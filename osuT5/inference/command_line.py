"""What the option-taking entry points (`inference.py`, `mai_mod.py`) share: Hydra overrides composed
into a typed schema with one-line errors, `--help` built from the schema's help text, and a terminal
progress bar."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any, TypeVar

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from tqdm import tqdm

from osuT5.errors import OsuT5Error

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
Schema = TypeVar("Schema")


def one_line(error: BaseException) -> str:
    """The first line of an error and of its cause (Hydra wraps OmegaConf's reason)."""
    lines = [str(error).strip().splitlines()[0]]
    if error.__cause__ is not None and str(error.__cause__).strip():
        lines.append(str(error.__cause__).strip().splitlines()[0])
    return ": ".join(lines)


def load_options(config_name: str, schema: type[Schema], overrides: list[str]) -> Schema:
    """`configs/<config_name>.yaml` with the overrides, as a `schema` instance; a malformed or mistyped
    override raises one OsuT5Error line. (Hydra's compose API rather than @hydra.main, whose errors
    are several lines long.)"""
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            config: DictConfig = compose(config_name, overrides=overrides)
        options = OmegaConf.to_object(config)
    except (HydraException, OmegaConfBaseException) as e:
        raise OsuT5Error(f"options: {one_line(e)}") from None
    assert isinstance(options, schema)
    return options


def schema_help(schema: type) -> dict[str, str]:
    """Help text of every field of an options dataclass, for faces that show it."""
    return {f.name: f.metadata.get("help", "") for f in fields(schema)}


def schema_defaults(schema: type) -> dict[str, Any]:
    out = {}
    for f in fields(schema):
        out[f.name] = f.default_factory() if f.default is MISSING else f.default  # type: ignore[misc]
    return out


def print_help(usage: str, schema: type) -> None:
    print(usage.strip(), "\noptions (key=value):")
    defaults = schema_defaults(schema)
    for name, text in schema_help(schema).items():
        print(f"  {name:22} {text} [default: {defaults[name]}]")


def wants_help(argv: list[str]) -> bool:
    return any(a in ("-h", "--help") for a in argv)


def terminal_progress(description: str) -> Callable[[int, str], Callable[[int], None]]:
    """A `progress_factory` that draws a tqdm bar on stderr."""

    def factory(total: int, unit: str) -> Callable[[int], None]:
        bar = tqdm(total=total, unit=unit, desc=description, file=sys.stderr, dynamic_ncols=True)
        return bar.update

    return factory


def run_command(
    argv: list[str],
    usage: str,
    config_name: str,
    schema: type[Schema],
    action: Callable[[Schema], tuple[str, list[str]]],
) -> int:
    """An entry point's whole life: `--help`, options, `action(options)` -> (what to print, warnings);
    our errors become one stderr line and exit code 1."""
    if wants_help(argv):
        print_help(usage, schema)
        return 0
    try:
        output, warnings = action(load_options(config_name, schema, argv))
    except OsuT5Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    print(output)
    return 0
