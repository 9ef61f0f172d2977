"""Generate an osu! beatmap from a song (Hydra overrides; configs/inference.yaml, options with help in
osuT5/inference/options.py).

    python inference.py audio_path=song.mp3 [gamemode=0] [difficulty=5] [key=value ...]
    python inference.py beatmap_path=map.osu in_context=[TIMING]
    python inference.py audio_path=song.mp3 difficulty=[2,3.5,5,6.5] export_osz=true
    python inference.py --help
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from tqdm import tqdm

from osuT5.errors import OsuT5Error
from osuT5.inference.options import InferenceOptions, option_defaults, option_help

CONFIG_DIR = str(Path(__file__).resolve().parent / "configs")


def terminal_progress(total: int, unit: str) -> Callable[[int], None]:
    bar = tqdm(total=total, unit=unit, desc="generating", file=sys.stderr, dynamic_ncols=True)
    return bar.update


def _one_line(error: BaseException) -> str:
    """The first line of an error and of its cause (Hydra wraps OmegaConf's reason)."""
    lines = [str(error).strip().splitlines()[0]]
    if error.__cause__ is not None and str(error.__cause__).strip():
        lines.append(str(error.__cause__).strip().splitlines()[0])
    return ": ".join(lines)


def load_options(overrides: list[str]) -> InferenceOptions:
    """The composed and typed options; a malformed or mistyped override raises one OsuT5Error line.
    (Hydra's compose API rather than @hydra.main, whose errors are several lines long.)"""
    try:
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            config: DictConfig = compose("inference", overrides=overrides)
        options = OmegaConf.to_object(config)
    except (HydraException, OmegaConfBaseException) as e:
        raise OsuT5Error(f"options: {_one_line(e)}") from None
    assert isinstance(options, InferenceOptions)
    return options


def print_help() -> None:
    print(__doc__.strip(), "\noptions (key=value):")
    defaults = option_defaults()
    for name, text in option_help().items():
        print(f"  {name:22} {text} [default: {defaults[name]}]")


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print_help()
        return 0
    try:
        from osuT5.inference.pipeline import generate  # after argument checks: torch takes a while

        result = generate(load_options(argv), progress_factory=terminal_progress)
    except OsuT5Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for line in result.warnings:
        print(f"warning: {line}", file=sys.stderr)
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
