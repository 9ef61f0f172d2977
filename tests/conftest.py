"""Shared test fixtures: where the shared corpus lives, and an offline environment for every test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests never reach the network: the Hub fails fast instead of retrying, and wandb stays off.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["WANDB_MODE"] = "disabled"

CORPUS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The shared corpus (beatmaps/, edge_cases/, samples/, expected/); skips the test when absent."""
    if not CORPUS_DIR.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS_DIR}")
    return CORPUS_DIR


@pytest.fixture(scope="session")
def corpus_beatmaps(corpus_dir: Path) -> list[Path]:
    """Every .osu file under corpus/beatmaps/<mode>/<source>/, sorted."""
    return sorted((corpus_dir / "beatmaps").glob("**/*.osu"))


@pytest.fixture(scope="session")
def short_song(corpus_dir: Path, tmp_path_factory) -> Path:
    """A 20 s song rendered from a held-out osu!standard map: the .osu excerpt, `audio.ogg` beside it."""
    from song_excerpts import pick_held_out, render_excerpt

    excerpt_ms = 20_000
    folder = tmp_path_factory.mktemp("short_song")
    return render_excerpt(pick_held_out(corpus_dir, "std", excerpt_ms, 20), folder, excerpt_ms)
