"""Handedness pooling: score a window and its left-right mirror image alike, so a left-handed performer is scored as a
right-handed one.

The training sets were recorded mostly right-handed (MSR Action3D's gestures all are), and a model trained on them
loses 5.5 points of clip top-1 on mirror images of its test clips (MSR 15.6; docs/camera_gap.md section 7). Pooling
gives each label the mean of its probability on the window and its mirror image's probability of the *mirror label*:
the label with "left" and "right" swapped in its name when the list (or the model's classes) has one, else the label
itself. So "wave the left hand" is scored on a mirror image through "wave the right hand", and "drink water" through
itself. Chosen on the training sides' inner validation with a model trained without them (mean pooling: top-1 as
recorded / mirrored 75.5 / 72.1 -> 78.2 / 78.2, the larger of the two: 77.6 / 77.6), never on test data.

Mirror images of model windows are :func:`sadvae.skeleton.mirror_windows`; the preprocessing commutes with
mirroring, so the mirror image of a preprocessed window is the preprocessed mirror image of the raw skeleton.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

__all__ = ["HANDEDNESS", "mirror_name", "mirror_columns"]

HANDEDNESS = ("pool", "off")  # "pool": score each window with its mirror image; "off": the window alone

_SIDE = re.compile(r"\b(left|right)\b", re.IGNORECASE)


def mirror_name(name: str) -> str:
    """``name`` with "left" and "right" swapped ("wave the left hand" -> "wave the right hand"); case is kept."""

    def swap(m: re.Match) -> str:
        word = "right" if m.group(1).lower() == "left" else "left"
        return word.capitalize() if m.group(1)[0].isupper() else word

    return _SIDE.sub(swap, name)


def mirror_columns(names: Sequence[str]) -> np.ndarray:
    """intp [len(names)]: each name's mirror among ``names`` (compared case- and space-insensitively), else itself.

    Always a permutation that is its own inverse: a repeated name keeps itself beyond its first occurrence."""
    key = [" ".join(str(n).casefold().split()) for n in names]
    first = {k: i for i, k in reversed(list(enumerate(key)))}
    out = np.arange(len(key), dtype=np.intp)
    for i, k in enumerate(key):
        j = first.get(mirror_name(k))
        if j is not None and j != i and first[k] == i:
            out[i] = j
    return out
