"""Files shipped inside the package: the default model bundle and its model card.

Locating them needs no torch: the live pipeline can ask for :func:`default_bundle_path` and hand
the path to whatever backend it loads.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["ASSETS_DIR", "DEFAULT_BUNDLE_NAME", "MODEL_CARD_NAME", "default_bundle_path"]

ASSETS_DIR = Path(__file__).resolve().parent
DEFAULT_BUNDLE_NAME = "default_model.pt"
MODEL_CARD_NAME = "MODEL_CARD.md"


def default_bundle_path() -> Path:
    """Where the default model bundle lies inside the installed package (it may not exist before training).

    Returns:
        ``<package>/sadvae/assets/default_model.pt``; ``scripts/train_default`` writes it.
    """
    return ASSETS_DIR / DEFAULT_BUNDLE_NAME
