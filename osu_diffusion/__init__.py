"""osu_diffusion: a small diffusion model that refines generated hit-object positions."""

from pathlib import Path

# The shipped refiner; named here (no torch import) so that option schemas can show it.
DEFAULT_REFINER_PATH = str(Path(__file__).resolve().parent / "assets" / "default_refiner")
