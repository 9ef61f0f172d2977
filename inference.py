"""Generate an osu! beatmap from a song (Hydra overrides; configs/inference.yaml, options with help in
osuT5/inference/options.py).

    python inference.py audio_path=song.mp3 [gamemode=0] [difficulty=5] [key=value ...]
    python inference.py beatmap_path=map.osu in_context=[TIMING]
    python inference.py audio_path=song.mp3 difficulty=[2,3.5,5,6.5] export_osz=true
    python inference.py --help
"""

from __future__ import annotations

import sys

from osuT5.inference.command_line import run_command, terminal_progress
from osuT5.inference.options import InferenceOptions


def generate_map(options: InferenceOptions) -> tuple[str, list[str]]:
    from osuT5.inference.pipeline import generate  # after argument checks: torch takes a while

    result = generate(options, progress_factory=terminal_progress("generating"))
    return result.summary(), result.warnings


if __name__ == "__main__":
    sys.exit(run_command(sys.argv[1:], __doc__, "inference", InferenceOptions, generate_map))
