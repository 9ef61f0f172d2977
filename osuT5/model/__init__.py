"""The sequence model: a thin wrapper over transformers' Whisper, its config presets and checkpoints."""

from osuT5.model.configuration import MODEL_PRESETS, OsuT5Config
from osuT5.model.modeling import OsuT5Model, count_parameters

__all__ = ["MODEL_PRESETS", "OsuT5Config", "OsuT5Model", "count_parameters"]
