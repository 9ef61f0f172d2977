"""MaiMod: review an osu! beatmap; the model points at what surprises it most (Hydra overrides;
configs/mai_mod.yaml, options with help in osuT5/inference/maimod/options.py).

    python mai_mod.py beatmap_path=MAP.osu [audio_path=SONG] [threshold=1] [per_category=10]
    python mai_mod.py beatmap_path=MAP.osu output_format=json > review.json
    python mai_mod.py --help
"""

from __future__ import annotations

import sys

from osuT5.inference.command_line import run_command, terminal_progress
from osuT5.inference.maimod.options import MaiModOptions


def review_map(options: MaiModOptions) -> tuple[str, list[str]]:
    from osuT5.inference.mai_mod import review  # after argument checks: torch takes a while

    report = review(options, progress_factory=terminal_progress("reviewing"))
    return report.to_json() if options.output_format == "json" else report.to_text(), report.warnings


if __name__ == "__main__":
    sys.exit(run_command(sys.argv[1:], __doc__, "mai_mod", MaiModOptions, review_map))
