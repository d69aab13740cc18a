"""Zero-shot scoring of new labels in the semantic latent space (numpy), without dead labels.

The published SA-DVAE head fits a linear classifier on latents sampled from the text VAE and
rectifies its logits (``relu(z @ W.T + b)``). A label whose logit is below zero on its own latents at
the start of the fit gets no gradient and can never win, not even on its own text: with 27 real
action names, 9 were dead (issue 14). The default here cannot have that failure, by construction:

- ``"cosine"`` (default): each label's prototype is its text latent mu_y (the text VAE's mean of
  its prompt embedding, the point the skeleton latent mu_r is trained to meet); a window scores
  ``scale * cos(mu_r, mu_y)``. A label's own prototype has cosine 1 with itself, more than any other
  label's, unless two labels have parallel latents (then they tie: the same text).
- ``"euclidean"``: ``-scale * ||mu_r - mu_y||^2``; own distance 0 is the minimum.
- ``"linear"``: the fitted classifier without the ReLU (usually fine, not guaranteed).
- ``"linear-relu"``: the published variant, kept for the paper protocol.

Every scorer is one :class:`ZeroShotScorer` (weights + method) so that fits cache as plain arrays.
:func:`dead_labels` finds labels that lose on their own text latent, whatever the method.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sadvae.errors import ConfigError

__all__ = ["ZS_METHODS", "DEFAULT_ZS_METHOD", "ZeroShotScorer", "dead_labels", "softmax"]

ZS_METHODS = ("cosine", "euclidean", "linear", "linear-relu")
DEFAULT_ZS_METHOD = "cosine"


def softmax(x: np.ndarray) -> np.ndarray:
    """Row softmax in float64 (a new array)."""
    e = np.asarray(x, dtype=np.float64) - np.max(x, axis=1, keepdims=True)
    np.exp(e, out=e)
    e /= e.sum(axis=1, keepdims=True)
    return e


@dataclass(frozen=True, eq=False)
class ZeroShotScorer:
    """Scores semantic latents over n new labels (module docstring).

    Attributes:
        method: one of :data:`ZS_METHODS`.
        weight: float32 [n, d_r]: prototypes mu_y ("cosine", "euclidean") or classifier rows ("linear*").
        bias: float32 [n] (zeros for prototypes).
        scale: multiplies the similarity before the softmax (prototypes); 1 for linear scorers.
        prototypes: float32 [n, d_r] the labels' text latents mu_y, what :meth:`nearest_cosine` reads; None: the
            weight (prototype methods; a linear scorer without them falls back to its classifier rows).
    """

    method: str
    weight: np.ndarray
    bias: np.ndarray
    scale: float = 1.0
    prototypes: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.method not in ZS_METHODS:
            raise ConfigError(f"unknown zero-shot method {self.method!r}; choose one of {', '.join(ZS_METHODS)}")
        w = np.asarray(self.weight)
        if w.ndim != 2 or np.asarray(self.bias).shape != (w.shape[0],):
            raise ValueError(f"weight must be [n, d_r] and bias [n], got {w.shape} and {np.asarray(self.bias).shape}")
        p = w if self.prototypes is None else np.asarray(self.prototypes)
        if p.shape != w.shape:
            raise ValueError(f"prototypes must be [n, d_r] like the weight {w.shape}, got {p.shape}")
        norm = np.linalg.norm(p, axis=1, keepdims=True)
        object.__setattr__(self, "_unit_t", np.ascontiguousarray((p / np.maximum(norm, 1e-12)).T, np.float32))
        if self.method != "cosine":
            object.__setattr__(self, "_wt", np.ascontiguousarray(w.T, np.float32))
            object.__setattr__(self, "_sq", np.einsum("ij,ij->i", w, w).astype(np.float32))

    @property
    def num_labels(self) -> int:
        return int(self.weight.shape[0])

    def nearest_cosine(self, latent: np.ndarray) -> np.ndarray:
        """[N] the cosine of each latent to the nearest label's prototype: the statistic the new labels' "no action"
        curve is fitted on (:meth:`sadvae.head.HeadCalibration.p_action_new`), whatever the scoring method."""
        z = np.asarray(latent, dtype=np.float32)
        zn = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
        return (zn @ self._unit_t).astype(np.float64).max(axis=1)

    def similarity(self, latent: np.ndarray) -> np.ndarray:
        """The raw similarity [N, n] before scaling: cosine, minus squared distance, or the logit."""
        z = np.asarray(latent, dtype=np.float32)
        if self.method == "cosine":
            zn = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
            return (zn @ self._unit_t).astype(np.float64)
        if self.method == "euclidean":
            zz = np.einsum("ij,ij->i", z, z)[:, None]
            return -(zz - 2.0 * (z @ self._wt) + self._sq[None, :]).astype(np.float64)
        logits = (z @ self._wt + self.bias).astype(np.float64)
        return np.maximum(logits, 0.0) if self.method == "linear-relu" else logits

    def logits(self, latent: np.ndarray) -> np.ndarray:
        """Logits [N, n] of semantic latents [N, d_r]."""
        s = self.similarity(latent)
        return s * self.scale if self.method in ("cosine", "euclidean") else s

    def probs(self, latent: np.ndarray) -> np.ndarray:
        """Softmax probabilities [N, n]."""
        return softmax(self.logits(latent))


def dead_labels(scorer: ZeroShotScorer, own_latents: np.ndarray) -> np.ndarray:
    """Indices of labels that do not win on their own text latent ([n, d_r], row i = label i's mu_y).

    A tie with another label counts as a loss only when the other label comes first (argmax order).
    """
    logits = scorer.logits(own_latents)
    idx = np.arange(scorer.num_labels)
    dead = logits.argmax(axis=1) != idx
    if scorer.method == "linear-relu":
        dead |= logits[idx, idx] <= 0
    return np.flatnonzero(dead)
