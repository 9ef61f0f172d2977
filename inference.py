"""Generate an osu! beatmap from a song (Hydra overrides; configs/inference.yaml, options with help in
osuT5/inference/options.py).

    python inference.py audio_path=song.mp3 [gamemode=0] [difficulty=5] [key=value ...]
    python inference.py beatmap_path=map.osu in_context=[TIMING]
    python inference.py audio_path=song.mp3 difficulty=[2,3.5,5,6.5] export_osz=true
    python inference.py --help
"""

from __future__ import annotations

import sys

from osuT5.errors import OsuT5Error
from osuT5.inference.command_line import load_options, print_help, terminal_progress, wants_help
from osuT5.inference.options import InferenceOptions


def main(argv: list[str]) -> int:
    if wants_help(argv):
        print_help(__doc__, InferenceOptions)
        return 0
    try:
        from osuT5.inference.pipeline import generate  # after argument checks: torch takes a while

        options = load_options("inference", InferenceOptions, argv)
        result = generate(options, progress_factory=terminal_progress("generating"))
    except OsuT5Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for line in result.warnings:
        print(f"warning: {line}", file=sys.stderr)
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
