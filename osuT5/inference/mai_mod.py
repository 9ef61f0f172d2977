"""MaiMod's public interface (the CLI `mai_mod.py` and the web UI import it from here); the
implementation lives in `osuT5.inference.maimod`."""

from osuT5.inference.maimod import (
    CATEGORIES,
    MaiModOptions,
    MaiModReport,
    Suggestion,
    review,
    validate_mai_mod,
)

__all__ = ["CATEGORIES", "MaiModOptions", "MaiModReport", "Suggestion", "review", "validate_mai_mod"]
