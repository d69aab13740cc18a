"""The head's scoring core: a window's latent and trained-class logits -> scores over the user's labels.

Shared by the live head (``realtime/head/zero_shot.py``, which adds caching, label watching and fitting) and the
offline benchmarks. Numpy only. For a label list:

- a label that names or paraphrases trained classes (:mod:`sadvae.head.matching`) is scored by the
  backbone: the sum of its classes' softmax probabilities;
- every other label is new and is scored zero-shot (:mod:`sadvae.head.zeroshot`);
- a list that mixes both is put on one scale by calibrated stacking (``combine="stacking"``; with the
  calibration's class centroids it also reads the window's distance from the listed trained classes) or, as
  before, by the bundle's seen/unseen gate (``combine="gate"``);
- "no action": P(one of the listed actions) per window (:mod:`sadvae.head.calibration`: the listed classes' mass
  and the best listed label's margin over the best unlisted class); a window
  below the calibration's threshold is flagged ``no_action``. ``scores = probs * p_action`` is what
  decisions should smooth: a window of none of the listed actions scores low on every label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sadvae.errors import ConfigError
from sadvae.head.calibration import DEFAULT_CALIBRATION, HeadCalibration, listed_margin
from sadvae.head.handedness import mirror_columns
from sadvae.head.zeroshot import ZeroShotScorer, softmax

__all__ = ["COMBINE_METHODS", "HeadScores", "HeadCore"]

COMBINE_METHODS = ("stacking", "gate")


@dataclass(frozen=True)
class HeadScores:
    """Scores of a batch of N windows over L labels.

    Attributes:
        probs: float64 [N, L] label probabilities given that one of the labels happens; rows sum to 1.
        top: intp [N] index of the best label.
        is_new: bool [N] whether the best label is a new (zero-shot) one.
        p_unseen: float64 [N] the weight of the new labels in a mixed list (stacking's pi, or the gate's
            P(unseen)), else None.
        off_label: float64 [N] the backbone's softmax mass on trained classes that no label covers, or None
            when no label is trained.
        p_action: float64 [N] calibrated P(one of the listed actions is happening); 1 with rejection off.
        no_action: bool [N] ``p_action`` below the calibration's threshold: "none of these".
        scores: float64 [N, L] ``probs * p_action[:, None]``.
    """

    probs: np.ndarray
    top: np.ndarray
    is_new: np.ndarray
    p_unseen: np.ndarray | None
    off_label: np.ndarray | None
    p_action: np.ndarray
    no_action: np.ndarray
    scores: np.ndarray


class HeadCore:
    """Scores windows over a label list (module docstring).

    Args:
        names: the L label names.
        classes: per label, the trained classes (backbone columns) it covers; empty for a new label.
            A column belongs to at most one label.
        num_seen: K, the backbone head's width; semantic_dim: d_r, the latent width.
        scorer: the zero-shot scorer of the new labels (in label order); None when there are none.
        calibration: temperatures, stacking and rejection constants.
        combine: "stacking" or "gate" (needs ``gate``: a :class:`sadvae.evaluate.Gate`).
        reject: compute "no action"; False gives ``p_action = 1``.
        class_mirror: [K] each backbone column's mirror class (:func:`sadvae.head.handedness.mirror_columns` of the
            class names), for handedness pooling; None: every class is its own mirror.

    Attributes:
        mode: "new", "seen" or "mixed"; is_new_label: bool [L].
    """

    def __init__(
        self,
        names: Sequence[str],
        classes: Sequence[Sequence[int]],
        num_seen: int,
        semantic_dim: int,
        scorer: ZeroShotScorer | None = None,
        calibration: HeadCalibration = DEFAULT_CALIBRATION,
        combine: str = "stacking",
        gate=None,
        reject: bool = True,
        class_mirror: Sequence[int] | None = None,
    ):
        self.names = tuple(names)
        self.num_seen, self.semantic_dim = int(num_seen), int(semantic_dim)
        self.classes = tuple(tuple(int(c) for c in cs) for cs in classes)
        if len(self.classes) != len(self.names):
            raise ValueError(f"classes must have one entry per label ({len(self.names)}), got {len(self.classes)}")
        flat = [c for cs in self.classes for c in cs]
        if len(set(flat)) != len(flat) or any(not 0 <= c < self.num_seen for c in flat):
            raise ValueError(f"trained classes must be distinct columns in [0, {self.num_seen}), got {self.classes}")
        if combine not in COMBINE_METHODS:
            raise ValueError(f"combine must be one of {COMBINE_METHODS}, got {combine!r}")
        self.is_new_label = np.array([not cs for cs in self.classes], dtype=bool)
        self._new_idx, self._seen_idx = np.flatnonzero(self.is_new_label), np.flatnonzero(~self.is_new_label)
        n_new = len(self._new_idx)
        self.mode = "new" if not len(self._seen_idx) else "seen" if not n_new else "mixed"
        if n_new and (scorer is None or scorer.weight.shape != (n_new, self.semantic_dim)):
            got = "none" if scorer is None else f"{scorer.weight.shape}"
            raise ValueError(
                f"{n_new} new labels need a zero-shot scorer of weight [{n_new}, {self.semantic_dim}], got {got}"
            )
        if self.mode == "mixed" and combine == "gate" and gate is None:
            raise ValueError("a label set mixing seen and new labels needs the bundle's gate")
        if self.mode == "mixed" and combine == "gate" and not np.any(np.asarray(gate.coef)):
            # a gate with no fitted weights gives every window the same P(unseen) (the shiftgcn-v2 recipe stores
            # such a placeholder, which never says "unseen"): every new label would score 0, or every trained one
            raise ConfigError(
                "--mixed gate: this model's seen/unseen gate was never fitted (all its weights are 0), so it would "
                "send every window to one kind of label and leave the other unreachable; use --mixed stacking "
                "(the default)"
            )
        self.scorer, self.calibration, self.combine, self.gate, self.reject = scorer, calibration, combine, gate, reject
        self.class_mirror = np.arange(self.num_seen) if class_mirror is None else np.asarray(class_mirror, np.intp)
        if self.class_mirror.shape != (self.num_seen,) or not np.array_equal(
            np.sort(self.class_mirror), np.arange(self.num_seen)
        ):
            raise ValueError(f"class_mirror must be a permutation of the {self.num_seen} trained classes")
        self._new_mirror = mirror_columns([self.names[i] for i in self._new_idx])
        self._centroids = None  # [n listed trained columns, d_r] unit mean latents, for the mixed-list distance
        if self.mode == "mixed" and combine == "stacking" and calibration.uses_distance:
            c = np.asarray(calibration.centroids, np.float64)
            if c.shape != (self.num_seen, self.semantic_dim):
                raise ValueError(
                    f"calibration centroids are {c.shape}, the model has {self.num_seen} trained classes and a "
                    f"{self.semantic_dim}-d latent: the calibration belongs to another model"
                )
            self._centroids = c[np.array(flat, dtype=np.intp)]
            self._centroids_mirror = c[self.class_mirror[np.array(flat, dtype=np.intp)]]
        # [K, n_trained] 0/1: which trained label each backbone column counts towards
        self._group = np.zeros((self.num_seen, len(self._seen_idx)))
        for j, i in enumerate(self._seen_idx):
            self._group[list(self.classes[i]), j] = 1.0
        self._seen_cols = np.array(flat, dtype=np.intp)
        self._unlisted_cols = np.setdiff1d(np.arange(self.num_seen), self._seen_cols)

    def _check(self, latent: np.ndarray, seen_logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        latent, seen_logits = np.asarray(latent), np.asarray(seen_logits)
        if latent.ndim != 2 or latent.shape[1] != self.semantic_dim:
            raise ValueError(f"expected latent [N, {self.semantic_dim}], got {latent.shape}")
        if seen_logits.shape != (latent.shape[0], self.num_seen):
            raise ValueError(f"expected seen_logits [{latent.shape[0]}, {self.num_seen}], got {seen_logits.shape}")
        return latent, seen_logits

    def _evidence(self, latent: np.ndarray, seen_logits: np.ndarray, mirrored: bool = False) -> dict:
        """What one view of the windows says, in label and class order; a mirror image's through the mirror labels
        and classes (:mod:`sadvae.head.handedness`), so the two views can be averaged."""
        cal, ev = self.calibration, {}
        if self.mode != "new":
            p_full = softmax(np.asarray(seen_logits, np.float64) / cal.seen_temperature)  # (N, K)
            ev["p_full"] = p_full[:, self.class_mirror] if mirrored else p_full
        if self.mode != "seen":
            p_new = self.scorer.probs(latent)  # (N, n_new)
            ev["p_new"] = p_new[:, self._new_mirror] if mirrored else p_new
            # the cosine to the nearest prototype, as the "no action" curve was fitted (a euclidean or linear
            # scorer's own similarity is on another scale: until 6 December 2026 it made every new label "no action")
            ev["near"] = self.scorer.nearest_cosine(latent)
        if self._centroids is not None:
            unit = latent / np.maximum(np.linalg.norm(latent, axis=1, keepdims=True), 1e-12)
            centroids = self._centroids_mirror if mirrored else self._centroids
            ev["distance"] = 1.0 - (unit @ centroids.T).max(axis=1)
        if self.mode == "mixed" and self.combine == "gate":  # all K columns, as it was fitted
            logits = np.asarray(seen_logits)[:, self.class_mirror] if mirrored else seen_logits
            ev["gate"] = self.gate.prob_unseen(ev["p_new"], logits)
        return ev

    def __call__(
        self,
        latent: np.ndarray,
        seen_logits: np.ndarray,
        mirror: tuple[np.ndarray, np.ndarray] | None = None,
        *,
        mirrored: bool = False,
    ) -> HeadScores:
        """Score N windows from their semantic latents [N, d_r] and trained-class logits [N, K].

        ``mirror``: the (latents, logits) of the windows' left-right mirror images (same order): handedness
        pooling, each label's probabilities, nearest-label similarity and class distance averaged over the window
        and its mirror image read through the mirror labels (:mod:`sadvae.head.handedness`).
        ``mirrored``: the windows given are mirror images, scored alone through the mirror labels (what the
        performer's mirror image says about the listed actions).

        Raises:
            ValueError: shapes that do not match the model (or each other).
        """
        latent, seen_logits = self._check(latent, seen_logits)
        if mirrored and mirror is not None:
            raise ValueError("mirrored scores mirror images alone: no mirror pooling with it")
        ev = self._evidence(latent, seen_logits, mirrored=mirrored)
        if mirror is not None:
            m_latent, m_logits = self._check(*mirror)
            if m_latent.shape[0] != latent.shape[0]:
                raise ValueError(f"{latent.shape[0]} windows but {m_latent.shape[0]} mirror images")
            ev_m = self._evidence(m_latent, m_logits, mirrored=True)
            ev = {k: 0.5 * (v + ev_m[k]) for k, v in ev.items()}
        n, cal = latent.shape[0], self.calibration
        ones = np.ones(n)
        p_unseen = off = None
        probs = np.empty((n, len(self.names)))
        if self.mode != "seen":
            p_new = ev["p_new"]
            a_new = cal.p_action_new(ev["near"])
        if self.mode != "new":
            p_tr = ev["p_full"] @ self._group  # (N, n_trained): each label's classes summed
            listed = p_tr.sum(axis=1)
            off = np.clip(1.0 - listed, 0.0, 1.0)
            margin = listed_margin(p_tr, ev["p_full"][:, self._unlisted_cols]) if cal.reject_seen_margin else None
            p_tr /= np.maximum(listed, 1e-300)[:, None]
            a_seen = cal.p_action_seen(listed, margin)
        # with "no action" off, p_action is 1, but a mixed list is still balanced on both branches' evidence: until
        # 6 December 2026 a_new and a_seen were set to 1 there, which left pi = sigmoid(-gamma) for every window
        if self.mode == "new":
            probs[:] = p_new
            p_action = a_new if self.reject else ones
        elif self.mode == "seen":
            probs[:] = p_tr
            p_action = a_seen if self.reject else ones
        else:
            if self.combine == "gate":
                p_unseen = ev["gate"]
                w = (p_unseen > self.gate.threshold).astype(np.float64)
            else:
                p_unseen = w = cal.new_weight(a_new, a_seen, ev.get("distance"))
            probs[:, self._new_idx] = p_new * w[:, None]
            probs[:, self._seen_idx] = p_tr * (1.0 - w)[:, None]
            p_action = (1.0 - w) * a_seen + w * a_new if self.reject else ones
        top = probs.argmax(axis=1)
        no_action = p_action < cal.reject_threshold if self.reject else np.zeros(n, dtype=bool)
        return HeadScores(
            probs, top, self.is_new_label[top], p_unseen, off, p_action, no_action, probs * p_action[:, None]
        )
