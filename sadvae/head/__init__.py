"""The head's numpy scoring core, shared by the live head (``realtime/head/zero_shot.py``) and offline benchmarks.

- :mod:`sadvae.head.matching`: which trained class does a user's label mean (paraphrases, word order);
- :mod:`sadvae.head.zeroshot`: zero-shot scoring of new labels without dead labels (prototypes);
- :mod:`sadvae.head.calibration`: one scale for trained and new labels (calibrated stacking) and
  "no action" (calibrated rejection), fitted on the deployed model's held-out windows;
- :mod:`sadvae.head.handedness`: a window and its mirror image scored alike (left-handed performers);
- :mod:`sadvae.head.core`: :class:`HeadCore`, which puts them together.

Nothing here imports torch or ``realtime``.
"""

from __future__ import annotations

from sadvae.head.calibration import (
    DEFAULT_CALIBRATION,
    HeadCalibration,
    calibration_path,
    fit_logistic,
    fit_temperature,
    read_calibration,
    write_calibration,
)
from sadvae.head.core import COMBINE_METHODS, HeadCore, HeadScores
from sadvae.head.handedness import HANDEDNESS, mirror_columns, mirror_name
from sadvae.head.matching import (
    DEFAULT_MATCH_THRESHOLD,
    LabelMatch,
    MatchResult,
    canonical,
    match_labels,
    stems,
)
from sadvae.head.zeroshot import DEFAULT_ZS_METHOD, ZS_METHODS, ZeroShotScorer, dead_labels, softmax

__all__ = [
    "COMBINE_METHODS",
    "DEFAULT_CALIBRATION",
    "DEFAULT_MATCH_THRESHOLD",
    "DEFAULT_ZS_METHOD",
    "HANDEDNESS",
    "ZS_METHODS",
    "HeadCalibration",
    "HeadCore",
    "HeadScores",
    "LabelMatch",
    "MatchResult",
    "ZeroShotScorer",
    "calibration_path",
    "canonical",
    "dead_labels",
    "fit_logistic",
    "fit_temperature",
    "match_labels",
    "mirror_columns",
    "mirror_name",
    "read_calibration",
    "softmax",
    "stems",
    "write_calibration",
]
