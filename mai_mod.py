"""MaiMod: review an osu! beatmap; the model points at what surprises it most (Hydra overrides;
configs/mai_mod.yaml, options with help in osuT5/inference/maimod/options.py).

    python mai_mod.py beatmap_path=MAP.osu [audio_path=SONG] [threshold=3] [per_category=10]
    python mai_mod.py beatmap_path=MAP.osu output_format=json > review.json
    python mai_mod.py --help
"""

from __future__ import annotations

import sys

from osuT5.errors import OsuT5Error
from osuT5.inference.command_line import load_options, print_help, terminal_progress, wants_help
from osuT5.inference.maimod.options import MaiModOptions


def main(argv: list[str]) -> int:
    if wants_help(argv):
        print_help(__doc__, MaiModOptions)
        return 0
    try:
        from osuT5.inference.mai_mod import review  # after argument checks: torch takes a while

        options = load_options("mai_mod", MaiModOptions, argv)
        report = review(options, progress_factory=terminal_progress("reviewing"))
    except OsuT5Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for line in report.warnings:
        print(f"warning: {line}", file=sys.stderr)
    print(report.to_json() if options.output_format == "json" else report.to_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
