"""ZSL / GZSL metrics and the seen/unseen gate (numpy at inference; scikit-learn only to fit).

GZSL follows SynSE / SA-DVAE: a logistic-regression "domain" classifier reads the top-k sorted
probabilities of the zero-shot classifier and the top-k sorted temperature-scaled probabilities of
the backbone's seen-class head, and decides whether a sample belongs to a seen or an unseen class.
Seen -> the backbone head's argmax; unseen -> the zero-shot classifier's argmax.

Unlike the official code, the gate uses one threshold rule when it is fitted and when it is applied
("unseen iff P(unseen) > threshold"), and it is fitted on the validation split only.

The gate is fitted on the validation run's backbone and applied to another (the final one), whose
confidence differs. :class:`Stacking` (calibrated stacking, Chao et al. 2016) is fitted on held-out
windows of the final model itself: a sample goes to the zero-shot branch iff
``log max P_zsl - log max softmax(seen_logits / T) > gamma``, with ``T`` the NLL temperature of the
final backbone on its held-out seen windows and ``gamma`` the quantile of that statistic on the same
windows that keeps ``keep_rate`` of them on the seen side. ``keep_rate`` is the one rate chosen on the
validation run (best H on its pseudo-unseen classes): a rate transfers between backbones, a raw
threshold does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "softmax",
    "gate_features",
    "Gate",
    "fit_gate",
    "Stacking",
    "stacking_statistic",
    "fit_stacking",
    "choose_keep_rate",
    "zsl_accuracy",
    "gzsl_scores",
    "harmonic_mean",
]


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _top_sorted(p: np.ndarray, k: int) -> np.ndarray:
    s = -np.sort(-p, axis=1)[:, :k]
    if s.shape[1] < k:  # fewer classes than k: pad with zeros (probabilities of absent classes)
        s = np.pad(s, ((0, 0), (0, k - s.shape[1])))
    return s


def gate_features(zsl_probs: np.ndarray, seen_logits: np.ndarray, temperature: float, k: int) -> np.ndarray:
    """[n, 2k]: top-k sorted zero-shot probabilities ‖ top-k sorted softmax(seen_logits / T)."""
    return np.concatenate([_top_sorted(zsl_probs, k), _top_sorted(softmax(seen_logits, temperature), k)], axis=1)


@dataclass(frozen=True)
class Gate:
    """A fitted seen/unseen gate: P(unseen) = sigmoid(features @ coef + intercept).

    Attributes:
        temperature: softmax temperature applied to the backbone's seen-class logits.
        threshold: a sample is unseen iff P(unseen) > threshold.
        k: top-k of each probability vector that the gate reads.
        coef: [2k] logistic-regression weights.
        intercept: logistic-regression bias.
        val_accuracy: balanced accuracy on the gate's own held-out validation rows.
    """

    temperature: float
    threshold: float
    k: int
    coef: np.ndarray
    intercept: float
    val_accuracy: float = float("nan")

    def prob_unseen(self, zsl_probs: np.ndarray, seen_logits: np.ndarray) -> np.ndarray:
        f = gate_features(zsl_probs, seen_logits, self.temperature, self.k)
        return 1.0 / (1.0 + np.exp(-(f @ self.coef + self.intercept)))

    def is_unseen(self, zsl_probs: np.ndarray, seen_logits: np.ndarray) -> np.ndarray:
        return self.prob_unseen(zsl_probs, seen_logits) > self.threshold

    def to_dict(self) -> dict:
        return {
            "temperature": self.temperature,
            "threshold": self.threshold,
            "k": self.k,
            "coef": [float(c) for c in self.coef],
            "intercept": self.intercept,
            "val_accuracy": self.val_accuracy,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Gate:
        return cls(
            float(d["temperature"]),
            float(d["threshold"]),
            int(d["k"]),
            np.asarray(d["coef"], np.float64),
            float(d["intercept"]),
            float(d.get("val_accuracy", float("nan"))),
        )


def fit_gate(
    unseen_zsl: np.ndarray,
    unseen_logits: np.ndarray,
    seen_zsl: np.ndarray,
    seen_logits: np.ndarray,
    k: int,
    temperatures: tuple[float, ...] = tuple(range(1, 10)),
    thresholds: tuple[float, ...] = tuple(np.round(np.arange(0.25, 0.75, 0.01), 2)),
    folds: int = 5,
    seed: int = 0,
) -> Gate:
    """Fit the gate on validation-split outputs (pseudo-unseen samples vs held-out seen samples).

    The two groups are balanced by subsampling the larger one. The temperature and the threshold
    are chosen by balanced accuracy of ``folds``-fold cross-validated probabilities (the official
    code holds out a sixth of the rows instead, which is noise on small validation sets); the final
    logistic regression is then fitted on every row.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    rng = np.random.default_rng(seed)
    n = min(len(unseen_zsl), len(seen_zsl))
    if n < folds:
        raise ValueError(
            f"the gate needs at least {folds} validation samples per group, got {len(unseen_zsl)}/{len(seen_zsl)}"
        )
    ui = rng.permutation(len(unseen_zsl))[:n]
    si = rng.permutation(len(seen_zsl))[:n]
    y = np.concatenate([np.ones(n), np.zeros(n)])
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    best: tuple[float, float, float] | None = None  # (balanced accuracy, temperature, threshold)
    for t in temperatures:
        x = np.concatenate(
            [gate_features(unseen_zsl[ui], unseen_logits[ui], t, k), gate_features(seen_zsl[si], seen_logits[si], t, k)]
        )
        p = cross_val_predict(LogisticRegression(C=1.0, max_iter=5000), x, y, cv=cv, method="predict_proba")[:, 1]
        for th in thresholds:
            pred = p > th
            acc = 0.5 * (pred[y == 1].mean() + (~pred[y == 0]).mean())
            if best is None or acc > best[0] + 1e-12:
                best = (float(acc), float(t), float(th))
    assert best is not None
    acc, t, th = best
    x = np.concatenate(
        [gate_features(unseen_zsl[ui], unseen_logits[ui], t, k), gate_features(seen_zsl[si], seen_logits[si], t, k)]
    )
    clf = LogisticRegression(C=1.0, max_iter=5000).fit(x, y)
    return Gate(t, th, k, clf.coef_[0].astype(np.float64), float(clf.intercept_[0]), acc)


def stacking_statistic(zsl_probs: np.ndarray, seen_logits: np.ndarray, temperature: float) -> np.ndarray:
    """[n]: log max P_zsl - log max softmax(seen_logits / T); large = more likely an unseen class."""
    pz = np.max(np.asarray(zsl_probs, np.float64), axis=1)
    ps = np.max(softmax(seen_logits, temperature), axis=1)
    return np.log(np.maximum(pz, 1e-300)) - np.log(np.maximum(ps, 1e-300))


@dataclass(frozen=True)
class Stacking:
    """Calibrated stacking (module docstring): unseen iff ``stacking_statistic(...) > gamma``.

    Attributes:
        temperature: softmax temperature of the backbone's seen-class logits (NLL on held-out windows).
        gamma: the stacking offset.
        keep_rate: share of held-out seen windows kept on the seen side when ``gamma`` was fitted.
        held_out: number of held-out windows it was fitted on.
    """

    temperature: float
    gamma: float
    keep_rate: float
    held_out: int = 0

    def prob_unseen(self, zsl_probs: np.ndarray, seen_logits: np.ndarray) -> np.ndarray:
        """A soft version of the rule, sigmoid(statistic - gamma) [n] (0.5 at the boundary)."""
        return 1.0 / (1.0 + np.exp(-(stacking_statistic(zsl_probs, seen_logits, self.temperature) - self.gamma)))

    def is_unseen(self, zsl_probs: np.ndarray, seen_logits: np.ndarray) -> np.ndarray:
        return stacking_statistic(zsl_probs, seen_logits, self.temperature) > self.gamma

    def to_dict(self) -> dict:
        return {
            "temperature": self.temperature,
            "gamma": self.gamma,
            "keep_rate": self.keep_rate,
            "held_out": self.held_out,
        }


def _nll_temperature(logits: np.ndarray, truth_cols: np.ndarray) -> float:
    """The softmax temperature (log grid 0.002-50) with the lowest NLL of ``truth_cols`` under ``logits``."""
    z = np.asarray(logits, dtype=np.float64)
    idx, truth = np.arange(len(z)), np.asarray(truth_cols)
    best, best_t = np.inf, 1.0
    for t in np.exp(np.linspace(np.log(0.002), np.log(50.0), 161)):
        s = z / t
        s = s - s.max(axis=1, keepdims=True)
        nll = float(np.mean(np.log(np.exp(s).sum(axis=1)) - s[idx, truth]))
        if nll < best:
            best, best_t = nll, float(t)
    return best_t


def fit_stacking(
    held_zsl: np.ndarray, held_logits: np.ndarray, held_truth_cols: np.ndarray, keep_rate: float
) -> Stacking:
    """Fit :class:`Stacking` on held-out seen-class windows of the model it will be applied to.

    Args:
        held_zsl: [n, U] zero-shot probabilities of the held-out windows.
        held_logits: [n, K] the backbone's seen-class logits of the same windows.
        held_truth_cols: [n] their class as a column of ``held_logits``.
        keep_rate: share of these windows to keep on the seen side, in (0, 1].
    """
    if len(held_logits) < 2:
        raise ValueError(f"calibrated stacking needs held-out windows of the final model, got {len(held_logits)}")
    if not 0.0 < keep_rate <= 1.0:
        raise ValueError(f"keep_rate must be in (0, 1], got {keep_rate}")
    t = _nll_temperature(held_logits, held_truth_cols)
    d = stacking_statistic(held_zsl, held_logits, t)
    return Stacking(t, float(np.quantile(d, keep_rate)), float(keep_rate), int(len(d)))


def choose_keep_rate(
    seen_zsl: np.ndarray,
    seen_logits: np.ndarray,
    seen_truth_cols: np.ndarray,
    unseen_zsl: np.ndarray,
    unseen_truth_cols: np.ndarray,
    unseen_logits: np.ndarray,
    rates: tuple[float, ...] = tuple(np.round(np.arange(0.5, 0.995, 0.01), 2)),
) -> tuple[float, float]:
    """The keep rate with the best GZSL H on a validation run (held-out seen vs pseudo-unseen windows).

    Args:
        seen_zsl, seen_logits, seen_truth_cols: held-out seen-class windows of the validation model
            ([n, U], [n, K], [n] truth as a logits column).
        unseen_zsl, unseen_truth_cols, unseen_logits: its pseudo-unseen windows ([m, U], [m] truth as a
            ``unseen_zsl`` column, [m, K]).

    Returns:
        (keep rate, validation H at that rate).
    """
    t = _nll_temperature(seen_logits, seen_truth_cols)
    ds, du = stacking_statistic(seen_zsl, seen_logits, t), stacking_statistic(unseen_zsl, unseen_logits, t)
    seen_ok = np.asarray(seen_logits).argmax(1) == np.asarray(seen_truth_cols)
    unseen_ok = np.asarray(unseen_zsl).argmax(1) == np.asarray(unseen_truth_cols)
    best = (-1.0, rates[0])
    for r in rates:
        g = np.quantile(ds, r)
        h = harmonic_mean(float(np.mean(seen_ok & (ds <= g))), float(np.mean(unseen_ok & (du > g))))
        if h > best[0] + 1e-12:
            best = (h, float(r))
    return best[1], best[0]


def zsl_accuracy(pred: np.ndarray, truth: np.ndarray) -> float:
    """Per-sample top-1 accuracy."""
    return float(np.mean(np.asarray(pred) == np.asarray(truth))) if len(truth) else float("nan")


def harmonic_mean(s: float, u: float) -> float:
    return 0.0 if s + u == 0 else 2 * s * u / (s + u)


def gzsl_scores(
    gate: Gate | Stacking,
    zsl_probs: np.ndarray,
    seen_logits: np.ndarray,
    truth: np.ndarray,
    seen_ids: tuple[int, ...],
    unseen_ids: tuple[int, ...],
) -> dict[str, float]:
    """GZSL seen accuracy S, unseen accuracy U and H = 2SU/(S+U) over test samples of all classes.

    Args:
        gate: the seen/unseen rule (a :class:`Gate` or a :class:`Stacking`).
        zsl_probs: [n, len(unseen_ids)] zero-shot probabilities (columns in ``unseen_ids`` order).
        seen_logits: [n, len(seen_ids)] backbone head logits (columns in ``seen_ids`` order).
        truth: [n] global class ids.
    """
    unseen = gate.is_unseen(zsl_probs, seen_logits)
    pred = np.where(
        unseen,
        np.asarray(unseen_ids)[zsl_probs.argmax(1)],
        np.asarray(seen_ids)[seen_logits.argmax(1)],
    )
    truth = np.asarray(truth)
    is_seen = np.isin(truth, seen_ids)
    s = float(np.mean(pred[is_seen] == truth[is_seen])) if is_seen.any() else float("nan")
    u = float(np.mean(pred[~is_seen] == truth[~is_seen])) if (~is_seen).any() else float("nan")
    return {"S": s, "U": u, "H": harmonic_mean(s, u), "gate_unseen_rate": float(unseen.mean())}
