"""What the live head returns for a batch of windows (:class:`HeadResult`), shared by every kind of head."""

from __future__ import annotations

from dataclasses import dataclass

from sadvae.head import HeadScores

__all__ = ["HeadResult"]


@dataclass(frozen=True)
class HeadResult(HeadScores):
    """Scores of a batch of windows over the label set (:class:`sadvae.head.HeadScores`).

    Attributes:
        probs: float64 [N, L] probabilities in label order, given that one of the labels happens; rows sum to 1.
        top: intp [N] index of the best label.
        is_new: bool [N] whether the best label is a new (zero-shot) one.
        p_unseen: float64 [N] the new labels' weight in a mixed list (stacking, or the gate's P(unseen)), else None.
        off_label: float64 [N] backbone softmax mass on trained classes no label covers, or None.
        p_action: float64 [N] calibrated P(one of the listed actions); no_action: bool [N] "none of these".
        scores: float64 [N, L] ``probs * p_action``: what the decisions smooth.
    """
