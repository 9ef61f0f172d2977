"""osuT5: audio-to-beatmap generation for every osu! game mode, and beatmap review."""

__version__ = "0.1.0"
