"""Calibration of the head on the deployed model's own windows: one scale for trained and new labels,
and a calibrated "no action" (numpy; the fits use plain numpy logistic regression, no scikit-learn).

A :class:`HeadCalibration` holds every constant the scoring core needs beyond the weights:

- ``seen_temperature``: softmax temperature of the backbone's trained-class logits;
- ``zs_scale`` / ``euclid_scale``: the zero-shot scorer's logit scale (cosine / euclidean prototypes);
- ``stack_gamma`` / ``stack_slope``: **calibrated stacking** for lists that mix trained and new labels.
  Each branch says how sure it is that one of *its* labels is happening (the calibrated "no action"
  probabilities below, ``a_trained`` and ``a_new``); a window's weight on the new labels is
  ``pi = sigmoid(slope * (logit a_new - logit a_trained) - gamma)`` and the label probabilities are
  ``(1 - pi) P_trained|listed + pi P_new``. ``gamma`` is
  fitted on held-out windows: in the default recipe (:mod:`sadvae.train.default_shiftgcn`) the inner-validation
  windows, scored by the deployed frozen backbone with an *inner* head and SA-DVAE (trained without those windows:
  cross-fitted), not on another run's backbone as the bundle's :class:`sadvae.evaluate.Gate` is (that gate stays
  available as ``combine="gate"``).
- ``centroids`` / ``stack_distance`` / ``distance_loc`` / ``distance_scale``: the window's distance from the listed
  trained classes also moves ``pi``: ``+ stack_distance * (d - loc) / scale`` inside the sigmoid, with ``d`` one
  minus the cosine of the window's semantic latent to the nearest listed trained class's mean latent
  (``centroids``: one unit row per trained class, from the deployed model's training windows). A window far
  from every listed trained class is more likely one of the new labels. Empty ``centroids`` or a zero weight:
  no distance term (calibrations written before it).
- ``reject_*``: **"no action"**. Two logistic curves give P(some listed action): for trained labels, from the
  backbone's softmax mass on the listed classes (logit of it) and, when ``reject_seen_margin`` is not zero, the
  *margin*: the log ratio of the best listed label's mass to the best unlisted class's probability (a window the
  model reads as an unlisted class, e.g. an unlisted sibling of a listed action, is a near miss even when the listed
  classes together hold much of the mass; calibrations written before 5 December 2026 have no margin term); for new
  labels, the cosine of the latent to the nearest label prototype. A mixed list blends them with ``pi``. A
  window is "no action" when that probability is below ``reject_threshold``. Fitted on held-out
  windows with random label lists: windows of listed classes are positives, all others negatives.
- ``example_*``: labels taught by example recordings (:mod:`sadvae.head.examples`): the softmax temperature of the
  similarities to their prototypes, and P(a taught action) from the best similarity s, ``sigmoid(a * s + b)``
  (``scripts/fit_example_curve.py`` fits them on the deployed model's windows; calibrations without them use the
  built-in values).

Stored as JSON (``<bundle stem>.head.json`` beside a bundle, naming the model id it was fitted on), so
the live side reads it without torch. Without one the head uses :data:`DEFAULT_CALIBRATION`. The same file may hold,
under :data:`POOLED_KEY`, the constants for windows pooled with their mirror images (handedness pooling,
:mod:`sadvae.head.handedness`), fitted on the same held-out windows; they share the class centroids.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np

from sadvae.errors import CheckpointError, ConfigError
from sadvae.fileio import atomic_write

__all__ = [
    "HeadCalibration",
    "DEFAULT_CALIBRATION",
    "sigmoid",
    "logit",
    "fit_logistic",
    "fit_logistic_nd",
    "listed_margin",
    "fit_temperature",
    "read_calibration",
    "write_calibration",
    "calibration_path",
]

log = logging.getLogger(__name__)

_EPS = 1e-6


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1.0 - _EPS)
    return np.log(p) - np.log1p(-p)


@dataclass(frozen=True)
class HeadCalibration:
    """Constants of the scoring core (module docstring). ``source`` says how they were obtained."""

    seen_temperature: float = 1.0
    zs_scale: float = 20.0
    euclid_scale: float = 1.5
    stack_gamma: float = 0.0
    stack_slope: float = 1.0
    reject_seen_a: float = 1.0
    reject_seen_b: float = 0.0
    reject_seen_margin: float = 0.0
    reject_zs_a: float = 10.0
    reject_zs_b: float = -5.0
    reject_threshold: float = 0.5
    stack_distance: float = 0.0
    distance_loc: float = 0.0
    distance_scale: float = 1.0
    centroids: tuple[tuple[float, ...], ...] = ()
    example_temperature: float = 0.1
    example_a: float = 20.0
    example_b: float = -16.0
    model_id: str = ""
    source: str = "built-in defaults (not fitted on this model)"

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float) and not math.isfinite(v):
                raise ConfigError(f"HeadCalibration.{f.name} must be finite, got {v}")
        if not self.seen_temperature > 0 or not self.zs_scale > 0 or not self.euclid_scale > 0:
            raise ConfigError("HeadCalibration: seen_temperature, zs_scale and euclid_scale must be > 0")
        if not 0.0 <= self.reject_threshold <= 1.0:
            raise ConfigError(f"HeadCalibration.reject_threshold must be in [0, 1], got {self.reject_threshold}")
        if not self.example_temperature > 0:
            raise ConfigError(f"HeadCalibration.example_temperature must be > 0, got {self.example_temperature}")
        if not self.distance_scale > 0:
            raise ConfigError(f"HeadCalibration.distance_scale must be > 0, got {self.distance_scale}")
        widths = {len(row) for row in self.centroids}
        if len(widths) > 1 or any(not all(math.isfinite(x) for x in row) for row in self.centroids):
            raise ConfigError("HeadCalibration.centroids: expected rows of one width with finite values")

    @property
    def uses_distance(self) -> bool:
        """Whether mixed lists read the window's distance from the listed trained classes."""
        return bool(self.centroids) and self.stack_distance != 0.0

    def p_action_seen(self, listed_mass: np.ndarray, margin: np.ndarray | None = None) -> np.ndarray:
        """P(a listed action) [N] from the backbone's softmax mass on the listed classes [N] and the margin [N] of
        the best listed label over the best unlisted class (:func:`listed_margin`; read when ``reject_seen_margin``
        is not zero, and then required)."""
        z = self.reject_seen_a * logit(listed_mass) + self.reject_seen_b
        if self.reject_seen_margin:
            if margin is None:
                raise ValueError("this calibration reads the listed margin: pass margin")
            z = z + self.reject_seen_margin * np.asarray(margin, np.float64)
        return sigmoid(z)

    def p_action_new(self, nearest_cos: np.ndarray) -> np.ndarray:
        """P(a listed action) [N] from the cosine to the nearest new label's prototype [N]."""
        return sigmoid(self.reject_zs_a * np.asarray(nearest_cos, dtype=np.float64) + self.reject_zs_b)

    def p_action_examples(self, best_cos: np.ndarray) -> np.ndarray:
        """P(a taught label's action) [N] from the cosine to the nearest taught label's prototype [N]
        (:mod:`sadvae.head.examples`)."""
        return sigmoid(self.example_a * np.asarray(best_cos, dtype=np.float64) + self.example_b)

    def new_weight(self, a_new: np.ndarray, a_trained: np.ndarray, distance: np.ndarray | None = None) -> np.ndarray:
        """pi [N]: the weight of the new labels in a mixed list (calibrated stacking), from both branches'
        P(one of my labels) [N] and, when given and :attr:`uses_distance`, the window's distance from the listed
        trained classes [N] (module docstring)."""
        z = self.stack_slope * (logit(a_new) - logit(a_trained)) - self.stack_gamma
        if distance is not None and self.uses_distance:
            z = z + self.stack_distance * (np.asarray(distance, np.float64) - self.distance_loc) / self.distance_scale
        return sigmoid(z)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict, source: object = "<dict>") -> HeadCalibration:
        known = {f.name for f in fields(cls)}

        def value(k, v):
            if k in ("model_id", "source"):
                return v
            if k == "centroids":
                return tuple(tuple(float(x) for x in row) for row in v)
            return float(v)

        try:
            return cls(**{k: value(k, v) for k, v in d.items() if k in known})
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"{source}: malformed head calibration ({e}); re-create it") from None


DEFAULT_CALIBRATION = HeadCalibration()


def calibration_path(bundle_path: str | os.PathLike[str]) -> Path:
    """``<stem>.head.json`` beside a bundle ``.pt``."""
    p = Path(bundle_path)
    return p.with_name(p.stem + ".head.json")


POOLED_KEY = "handedness_pool"  # the calibration of handedness pooling, inside the file of the single-window one


def read_calibration(
    path: str | os.PathLike[str], model_id: str | None = None, handedness: str = "off"
) -> HeadCalibration | None:
    """The calibration at ``path``; None when absent or fitted on another model (logged).

    ``handedness="pool"``: the file's calibration for windows pooled with their mirror images
    (:mod:`sadvae.head.handedness`) where it has one (its centroids are the single-window one's), else the
    single-window calibration (logged).

    Raises:
        CheckpointError: the file exists but is not a calibration.
    """
    p = Path(path)
    if not p.is_file():
        return None
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{p}: not a readable head calibration ({e}); delete or re-create it") from None
    if not isinstance(d, dict):
        raise CheckpointError(f"{p}: not a head calibration (expected a JSON object)")
    pooled = d.get(POOLED_KEY)
    if handedness == "pool" and isinstance(pooled, dict):
        d = {**d, **pooled}
    elif handedness == "pool":
        log.warning(
            "head calibration %s has none for handedness pooling: the single-window one is used (it fires more on "
            "actions that are not listed); fit one with scripts/train_default --recalibrate BUNDLE",
            p,
        )
    cal = HeadCalibration.from_dict(d, p)
    if model_id and cal.model_id and cal.model_id != model_id:
        log.warning("ignoring head calibration %s: fitted on model %s, this is %s", p, cal.model_id[:12], model_id[:12])
        return None
    return replace(cal, source=f"{cal.source} ({p.name})")


def write_calibration(
    path: str | os.PathLike[str], cal: HeadCalibration, pooled: HeadCalibration | None = None
) -> Path:
    """Write ``cal`` (and the handedness-pooling calibration ``pooled``, whose centroids must be ``cal``'s or none)."""
    d = cal.to_dict()
    if pooled is not None:
        if pooled.centroids and pooled.centroids != cal.centroids:
            raise ValueError("the pooled calibration's class centroids must be the single-window calibration's")
        # the class centroids and the taught labels' constants (which read single windows) are the single-window ones
        d[POOLED_KEY] = {k: v for k, v in pooled.to_dict().items() if k != "centroids" and not k.startswith("example_")}
    p = Path(path)
    atomic_write(p, (json.dumps(d, indent=1) + "\n").encode("utf-8"))
    return p


def listed_margin(label_mass: np.ndarray, unlisted_probs: np.ndarray) -> np.ndarray:
    """[N] log of the best listed label's mass [N, L] over the best unlisted class's probability [N, U] (clipped at
    1e-12; no unlisted class: as if its probability were 1e-12)."""
    best = np.asarray(label_mass, np.float64).max(axis=1)
    u = np.asarray(unlisted_probs, np.float64)
    other = u.max(axis=1) if u.shape[1] else np.zeros(len(best))
    return np.log(np.maximum(best, 1e-12)) - np.log(np.maximum(other, 1e-12))


def fit_logistic_nd(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, iters: int = 50) -> tuple[np.ndarray, float]:
    """Logistic regression ``P(y=1|x) = sigmoid(x @ w + b)`` on features x [N, d] by Newton steps; classes weighted
    equally (as :func:`fit_logistic`).

    Returns:
        (w [d], b).
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(np.unique(y)) < 2:
        raise ValueError("fit_logistic needs both classes")
    xb = np.column_stack([x, np.ones(len(x))])
    sw = np.where(y > 0.5, 0.5 / y.sum(), 0.5 / (1 - y).sum())
    reg = np.full(xb.shape[1], l2)
    reg[-1] = 1e-12
    theta = np.zeros(xb.shape[1])
    for _ in range(iters):
        p = sigmoid(xb @ theta)
        g = xb.T @ (sw * (p - y)) + reg * theta
        hess = (xb * (sw * p * (1 - p))[:, None]).T @ xb + np.diag(reg)
        step = np.linalg.solve(hess, g)
        theta = theta - step
        if np.abs(step).max() < 1e-9:
            break
    return theta[:-1], float(theta[-1])


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, iters: int = 50) -> tuple[float, float]:
    """1-d logistic regression ``P(y=1|x) = sigmoid(a x + b)`` by Newton steps; classes weighted equally.

    Returns:
        (a, b).
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(np.unique(y)) < 2:
        raise ValueError("fit_logistic needs both classes")
    w = np.where(y > 0.5, 0.5 / y.sum(), 0.5 / (1 - y).sum())  # balanced
    a = b = 0.0
    for _ in range(iters):
        p = sigmoid(a * x + b)
        g = np.array([np.sum(w * (p - y) * x) + l2 * a, np.sum(w * (p - y))])
        h = w * p * (1 - p)
        hess = np.array([[np.sum(h * x * x) + l2, np.sum(h * x)], [np.sum(h * x), np.sum(h) + 1e-12]])
        step = np.linalg.solve(hess, g)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-9:
            break
    return float(a), float(b)


def fit_temperature(logits: np.ndarray, truth: np.ndarray, grid: np.ndarray | None = None) -> float:
    """The softmax temperature (or 1/scale) that minimises the NLL of ``truth`` [N] under ``logits`` [N, C].

    The grid (default: 161 log-spaced values from 0.002 to 50) bounds the answer: a best value at either end (e.g.
    perfectly separated logits, whose NLL keeps falling as the temperature does) is returned with a warning, as it
    is no minimum of the NLL but the grid's edge.
    """
    grid = np.exp(np.linspace(np.log(0.002), np.log(50.0), 161)) if grid is None else np.asarray(grid, np.float64)
    z = np.asarray(logits, dtype=np.float64)
    idx = np.arange(len(truth))
    best, best_i = np.inf, None
    for i, t in enumerate(grid):
        s = z / t
        s = s - s.max(axis=1, keepdims=True)
        nll = float(np.mean(np.log(np.exp(s).sum(axis=1)) - s[idx, truth]))
        if nll < best:
            best, best_i = nll, i
    if best_i is None:
        return 1.0
    if len(grid) > 1 and best_i in (0, len(grid) - 1):
        log.warning(
            "temperature fit: the best value %.4g is the end of the grid (%.4g-%.4g), not a minimum of the NLL "
            "(separated or uninformative logits?)",
            grid[best_i],
            grid.min(),
            grid.max(),
        )
    return float(grid[best_i])
