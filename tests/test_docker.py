"""The Docker files for GPU training: the compose file parses (and `docker compose config` accepts it
where that tool exists), it reserves GPUs, mounts datasets, passes wandb settings through, and its
training command composes with the train config; the Dockerfile installs from requirements.txt only."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir

from osuT5.config import Logger, load_config

REPO = Path(__file__).resolve().parents[1]


def _train_service() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["train"]


def _expand(text: str) -> str:
    """Compose's `${NAME:-default}` with no variables set."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", text)


def test_compose_reserves_gpus_mounts_datasets_and_passes_wandb_through() -> None:
    train = _train_service()
    assert train["build"] == "."
    [device] = train["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    mounts = {_expand(v).split(":")[1] for v in train["volumes"]}
    assert {"/datasets", "/runs"} <= mounts
    passed_through = {e for e in train["environment"] if "=" not in e}
    assert {"WANDB_API_KEY", "WANDB_PROJECT", "WANDB_ENTITY", "WANDB_MODE"} <= passed_through


def test_compose_command_is_a_valid_training_run() -> None:
    train = _train_service()
    entrypoint = [_expand(a) for a in train["entrypoint"]]
    assert entrypoint[0] == "torchrun" and (REPO / entrypoint[-1]).is_file()
    overrides = [_expand(a) for a in train["command"]]
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        config = load_config(compose("train", overrides=overrides))
    assert config.data.root == "/datasets" and config.logging == Logger.wandb
    assert str(config.output_dir).startswith("/runs/")


def test_dockerfile_uses_a_cuda_runtime_and_installs_from_requirements_only() -> None:
    lines = [line.strip() for line in (REPO / "Dockerfile").read_text().splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    [base] = [line for line in instructions if line.startswith("FROM ")]
    assert "cuda" in base and "runtime" in base
    installs = re.findall(r"pip install ([^&\n\\]+)", "\n".join(instructions))
    assert [i.strip() for i in installs] == ["-r requirements.txt", "--no-deps -e ."]
    copies = [line for line in instructions if line.startswith("COPY ")]
    assert copies[0] == "COPY requirements.txt ."  # dependencies cached apart from the code


def test_docker_compose_config_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("`docker compose` is not installed here (the file is parsed by the tests above)")
    run = subprocess.run([docker, "compose", "config", "--quiet"], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
