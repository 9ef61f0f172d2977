"""Train the position refiner (Hydra CLI; configs/train_diffusion.yaml, schema in osu_diffusion/config.py).

    python osu_diffusion/train.py data.root=FOLDER_OF_OSU_FILES [experiment=default_refiner] [key=value ...]

Running again with the same output_dir continues from its latest checkpoint (resume=auto).
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from osu_diffusion.config import load_config
from osu_diffusion.trainer import train
from osuT5.errors import OsuT5Error

CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "configs")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train_diffusion")
def main(config: DictConfig) -> None:
    try:
        train(load_config(config))
    except OsuT5Error as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
