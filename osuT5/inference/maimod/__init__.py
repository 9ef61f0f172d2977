"""MaiMod: the model reads an existing beatmap and points at what surprises it most."""

from osuT5.inference.maimod.options import MaiModOptions, validate_mai_mod
from osuT5.inference.maimod.report import CATEGORIES, MaiModReport, Suggestion
from osuT5.inference.maimod.review import review

__all__ = ["CATEGORIES", "MaiModOptions", "MaiModReport", "Suggestion", "review", "validate_mai_mod"]
