"""Train the sequence model (Hydra CLI; configs/train.yaml, schema in osuT5/config.py).

    python osuT5/train.py data.root=FOLDER [experiment=default_model|lora] [debug=fast] [key=value ...]
    torchrun --nproc_per_node=N osuT5/train.py output_dir=FOLDER ...

Running again with the same output_dir continues from its latest checkpoint (resume=auto). Multi-GPU and
multi-node runs use DDP through torchrun (or `accelerate launch --multi_gpu`); FSDP and DeepSpeed
accelerate configs are not supported: checkpoints are written from the first process's full model.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import hydra
import torch.distributed as dist
from omegaconf import DictConfig

from osuT5.config import load_config
from osuT5.errors import OsuT5Error
from osuT5.training import train

# Absolute, so that `python -m osuT5.train` and importing `main` find it as well as running this file.
CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "configs")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(config: DictConfig) -> None:
    try:
        train(load_config(config))
    except OsuT5Error as e:
        print(f"error: {e}", file=sys.stderr)
        _exit(1)
    _exit(0)


def _exit(code: int) -> None:
    """End the process, and under torchrun end DDP without gloo's random abort at interpreter exit:
    barrier, destroy the process group, flush, then os._exit (see ENVIRONMENT.md)."""
    if not dist.is_initialized():
        if code:
            sys.exit(code)
        return
    if code == 0:
        dist.barrier()  # a failed rank would leave the others waiting here forever
    dist.destroy_process_group()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
