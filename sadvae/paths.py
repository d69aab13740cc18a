"""Where the project finds things outside its own tree (standard library only).

The shared data and weights lie beside the project checkout, as ``../shared/data`` and
``../shared/models``, resolved from this file rather than the working directory, so commands and
tests find them from any folder.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["PROJECT_ROOT", "SHARED_ROOT", "SHARED_DATA", "SHARED_MODELS", "shared_data_root"]

PROJECT_ROOT = Path(__file__).resolve().parents[1]  # the checkout holding sadvae/ and realtime/
SHARED_ROOT = PROJECT_ROOT.parent / "shared"
SHARED_DATA = SHARED_ROOT / "data"  # datasets, labels, splits
SHARED_MODELS = SHARED_ROOT / "models"  # released backbone weights


def shared_data_root() -> Path:
    """``../shared/data`` beside the project checkout (it may not exist: callers say what is missing)."""
    return SHARED_DATA
