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

:class:`Novelty` decides seen vs unseen from the backbone's feature alone, not from either classifier's
confidence: a sample goes to the zero-shot branch iff its feature is far from every seen class, the cosine
distance (:func:`novelty_statistic`) between the standardised feature and the nearest seen-class mean of the
final model's training features exceeding ``gamma``. ``gamma`` and ``keep_rate`` are fitted as for stacking
(held-out windows of the final model; the rate chosen on the validation run). A confident seen-class head says
little about whether a clip belongs to one of its classes (it is confident on clips of other classes too);
the distance to the seen classes' clips does. The distance is one of ``NOVELTY_DISTANCES``
(:class:`SeenDistance`: to the nearest class mean by cosine, the default; to the k-th nearest training feature;
Mahalanobis under a shared covariance). :class:`StackingNovelty` reads both statistics, each standardised
on the held-out seen windows, summed; its keep rate is chosen and ``gamma`` fitted the same way.

Unseen-class scorers (:class:`UnseenScorer`): the zero-shot probabilities that ZSL and both GZSL rules
read are SA-DVAE's (``sadvae``, the published method), or, for a backbone with its own trained classifier
(the NTU-120 Shift-GCN), ConSE over that classifier's class names (``conse``: the probability-weighted
mean of the top-k trained names' text embeddings, cosine with each unseen label, softmax at ``tau``), or a
convex mix of the two (``fused``: ``(1 - weight) P_sadvae + weight P_conse``), or ``matched``: a label that
the label matcher (:mod:`sadvae.head.matching`) maps onto trained classes gets the backbone's own probability
of those classes, and the mass on classes no label names is spread over every label by SA-DVAE's probabilities.
:func:`choose_unseen_scorer` picks k, tau and the weight on a validation run's pseudo-unseen samples only
(``matched`` has no free number).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sadvae.errors import ConfigError
from sadvae.head.calibration import fit_temperature

__all__ = [
    "GATE_FOLDS",
    "softmax",
    "gate_features",
    "Gate",
    "fit_gate",
    "Stacking",
    "stacking_statistic",
    "fit_stacking",
    "choose_keep_rate",
    "best_keep_rate",
    "middle_of_best",
    "Novelty",
    "novelty_statistic",
    "fit_novelty",
    "StackingNovelty",
    "fit_stacking_novelty",
    "seen_class_centroids",
    "NOVELTY_DISTANCES",
    "SeenDistance",
    "fit_seen_distance",
    "knn_neighbours",
    "zsl_accuracy",
    "gzsl_scores",
    "harmonic_mean",
    "UNSEEN_SCORERS",
    "CONSE_KS",
    "CONSE_TAUS",
    "SCORER_SELECTIONS",
    "FUSION_WEIGHTS",
    "conse_similarity",
    "matched_probs",
    "SYNTH_SCORERS",
    "SYNTH_LAMBDAS",
    "SYNTH_TAUS",
    "synthesis_weights",
    "synthesized_logits",
    "UnseenScorer",
    "choose_unseen_scorer",
]

UNSEEN_SCORERS = ("sadvae", "conse", "fused", "matched", "synth", "synth-matched")
SYNTH_SCORERS = ("synth", "synth-matched")  # read the seen-class head's logits, not SA-DVAE's
CONSE_KS = (1, 3, 5, 10, 20, 40, 120)
CONSE_TAUS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
SCORER_SELECTIONS = ("1se", "accuracy")
SYNTH_LAMBDAS = (0.01, 0.1, 1.0, 10.0)
SYNTH_TAUS = (0.25, 0.5, 1.0, 2.0, 4.0)
FUSION_WEIGHTS = tuple(float(w) for w in np.round(np.linspace(0.0, 1.0, 11), 2))


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
        val_accuracy: the best cross-validated balanced accuracy over the (temperature, threshold) grid, on the
            gate's own validation rows; chosen on the same predictions it is scored on, so it reads high (about
            0.54 for a gate that has learned nothing, review of 6 December 2026).
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

    def is_unseen(self, zsl_probs: np.ndarray, seen_logits: np.ndarray, feats: np.ndarray | None = None) -> np.ndarray:
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


GATE_FOLDS = 5  # cross-validation folds of the gate's fit: it needs at least this many clips of each side


def fit_gate(
    unseen_zsl: np.ndarray,
    unseen_logits: np.ndarray,
    seen_zsl: np.ndarray,
    seen_logits: np.ndarray,
    k: int,
    temperatures: tuple[float, ...] = tuple(range(1, 10)),
    thresholds: tuple[float, ...] = tuple(np.round(np.arange(0.25, 0.75, 0.01), 2)),
    folds: int = GATE_FOLDS,
    seed: int = 0,
) -> Gate:
    """Fit the gate on validation-split outputs (pseudo-unseen samples vs held-out seen samples).

    The two groups are balanced by subsampling the larger one. The temperature and the threshold
    are chosen by balanced accuracy of ``folds``-fold cross-validated probabilities (the official
    code holds out a sixth of the rows instead, which is noise on small validation sets): the first
    temperature that reaches the best, and the middle of its thresholds that tie for it
    (:func:`middle_of_best`); the final logistic regression is then fitted on every row.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    rng = np.random.default_rng(seed)
    n = min(len(unseen_zsl), len(seen_zsl))
    if n < folds:  # a ConfigError: the CLI says it in one line instead of a traceback after both trainings
        raise ConfigError(
            f"the seen/unseen gate needs at least {folds} validation clips of the validation-unseen classes and of the "
            f"seen classes, got {len(unseen_zsl)} / {len(seen_zsl)}; give the dataset more clips per class (or more "
            "subjects)"
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
        accs = [0.5 * ((p[y == 1] > th).mean() + (p[y == 0] <= th).mean()) for th in thresholds]
        i = middle_of_best(accs)
        if best is None or accs[i] > best[0] + 1e-12:
            best = (float(accs[i]), float(t), float(thresholds[i]))
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

    def is_unseen(self, zsl_probs: np.ndarray, seen_logits: np.ndarray, feats: np.ndarray | None = None) -> np.ndarray:
        return stacking_statistic(zsl_probs, seen_logits, self.temperature) > self.gamma

    def to_dict(self) -> dict:
        return {
            "temperature": self.temperature,
            "gamma": self.gamma,
            "keep_rate": self.keep_rate,
            "held_out": self.held_out,
        }


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
    t = fit_temperature(held_logits, held_truth_cols)
    d = stacking_statistic(held_zsl, held_logits, t)
    return Stacking(t, float(np.quantile(d, keep_rate)), float(keep_rate), int(len(d)))


KEEP_RATES = tuple(float(r) for r in np.round(np.arange(0.5, 0.995, 0.01), 2))


def best_keep_rate(
    seen_stat: np.ndarray,
    seen_ok: np.ndarray,
    unseen_stat: np.ndarray,
    unseen_ok: np.ndarray,
    rates: tuple[float, ...] = KEEP_RATES,
) -> tuple[float, float]:
    """The keep rate with the best H for a rule "unseen iff statistic > its quantile on the seen samples".

    Args:
        seen_stat, seen_ok: [n] the statistic of held-out seen-class samples and whether the seen head is right.
        unseen_stat, unseen_ok: [m] the same for unseen-class samples and whether the zero-shot branch is right.

    Returns:
        (keep rate, H at that rate).
    """
    scores = []
    for r in rates:
        g = np.quantile(seen_stat, r)
        scores.append(
            harmonic_mean(float(np.mean(seen_ok & (seen_stat <= g))), float(np.mean(unseen_ok & (unseen_stat > g))))
        )
    i = middle_of_best(scores)
    return float(rates[i]), scores[i]


def middle_of_best(scores) -> int:
    """Index of the middle one of the grid values that tie for the best score (the lower middle for an even count).

    A small validation set gives a whole run of grid values one score; which end of the run is better it cannot
    say, so the one furthest from both ends is taken (the first of them, as before 6 December 2026, put every
    keep rate and gate threshold on the edge of its plateau)."""
    s = np.asarray(scores, np.float64)
    finite = np.isfinite(s)
    if not finite.any():
        raise ValueError(f"no finite score to choose from ({len(s)} scores)")
    tied = np.flatnonzero(finite & (s >= s[finite].max() - 1e-12))
    return int(tied[(len(tied) - 1) // 2])


def choose_keep_rate(
    seen_zsl: np.ndarray,
    seen_logits: np.ndarray,
    seen_truth_cols: np.ndarray,
    unseen_zsl: np.ndarray,
    unseen_truth_cols: np.ndarray,
    unseen_logits: np.ndarray,
    rates: tuple[float, ...] = KEEP_RATES,
) -> tuple[float, float]:
    """The stacking keep rate with the best GZSL H on a validation run (held-out seen vs pseudo-unseen windows).

    Args:
        seen_zsl, seen_logits, seen_truth_cols: held-out seen-class windows of the validation model
            ([n, U], [n, K], [n] truth as a logits column).
        unseen_zsl, unseen_truth_cols, unseen_logits: its pseudo-unseen windows ([m, U], [m] truth as a
            ``unseen_zsl`` column, [m, K]).

    Returns:
        (keep rate, validation H at that rate).
    """
    t = fit_temperature(seen_logits, seen_truth_cols)
    ds, du = stacking_statistic(seen_zsl, seen_logits, t), stacking_statistic(unseen_zsl, unseen_logits, t)
    seen_ok = np.asarray(seen_logits).argmax(1) == np.asarray(seen_truth_cols)
    unseen_ok = np.asarray(unseen_zsl).argmax(1) == np.asarray(unseen_truth_cols)
    return best_keep_rate(ds, seen_ok, du, unseen_ok, rates)


def novelty_statistic(feats: np.ndarray, mean: np.ndarray, scale: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """[n]: cosine distance from each standardised feature to the nearest row of ``centroids`` (unit rows)."""
    return 1.0 - (_unit(_standardise(feats, mean, scale)) @ centroids.T).max(axis=1)


def _standardise(feats: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return (np.asarray(feats, np.float64) - mean) / scale


def _unit(z: np.ndarray) -> np.ndarray:
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


def seen_class_centroids(train_feats: np.ndarray, train_labels: np.ndarray) -> tuple[np.ndarray, ...]:
    """(mean, scale, unit centroids [K, d]) of the seen classes' standardised training features."""
    x = np.asarray(train_feats, np.float64)
    labels = np.asarray(train_labels)
    if len(x) < 2 or len(np.unique(labels)) < 1:
        raise ValueError(f"novelty rule: needs training features of the seen classes, got {len(x)}")
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / scale
    c = np.stack([z[labels == k].mean(axis=0) for k in np.unique(labels)])
    return mean, scale, _unit(c)


NOVELTY_DISTANCES = ("centroid", "knn", "mahalanobis")


def knn_neighbours(n_train: int) -> int:
    """k of the ``knn`` distance: 1 % of the training samples (Sun et al. 2022's rule), at least 1."""
    return max(1, round(0.01 * n_train))


@dataclass(frozen=True, eq=False)
class SeenDistance:
    """A feature's distance from the seen classes' training features, in standardised feature space.

    ``centroid``: cosine distance to the nearest seen-class mean. ``knn``: cosine distance to the k-th nearest
    training feature (deep nearest neighbours, Sun et al. 2022; k by :func:`knn_neighbours`). ``mahalanobis``:
    the squared Mahalanobis distance to the nearest class mean under one covariance shared by the classes
    (Lee et al. 2018), Ledoit-Wolf shrunk (the seen classes have tens of clips for a 256-d feature).

    Attributes:
        kind: one of ``NOVELTY_DISTANCES``.
        mean, scale: standardisation of the backbone features (the training features' mean and spread).
        reference: ``centroid``: [K, d] unit class means; ``knn``: [n, d] unit training features;
            ``mahalanobis``: [K, d] class means.
        precision: ``mahalanobis`` only: [d, d] inverse of the shrunk shared covariance.
        k: ``knn`` only: the neighbour whose distance is read.
        classes: number of seen classes.
    """

    kind: str
    mean: np.ndarray
    scale: np.ndarray
    reference: np.ndarray
    precision: np.ndarray | None = None
    k: int = 1
    classes: int = 0

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        z = _standardise(feats, self.mean, self.scale)
        if self.kind == "centroid":
            return 1.0 - (_unit(z) @ self.reference.T).max(axis=1)
        if self.kind == "knn":
            sims = _unit(z) @ self.reference.T
            k = min(self.k, sims.shape[1])
            return 1.0 - np.partition(sims, -k, axis=1)[:, -k]
        p, c = self.precision, self.reference
        quad = np.einsum("nd,de,ne->n", z, p, z)[:, None] - 2.0 * z @ p @ c.T + np.einsum("kd,de,ke->k", c, p, c)
        return quad.min(axis=1)

    def describe(self) -> str:
        return {
            "centroid": "cosine distance to the nearest seen-class mean",
            "knn": f"cosine distance to the {self.k}-th nearest seen-class training feature",
            "mahalanobis": "squared Mahalanobis distance to the nearest seen-class mean (shared shrunk covariance)",
        }[self.kind] + " (standardised backbone features)"


def fit_seen_distance(train_feats: np.ndarray, train_labels: np.ndarray, kind: str = "centroid") -> SeenDistance:
    """:class:`SeenDistance` of ``kind`` from the seen classes' training features."""
    if kind not in NOVELTY_DISTANCES:
        raise ValueError(f"novelty distance: expected one of {NOVELTY_DISTANCES}, got {kind!r}")
    mean, scale, unit_centroids = seen_class_centroids(train_feats, train_labels)
    n_classes = len(unit_centroids)
    if kind == "centroid":
        return SeenDistance(kind, mean, scale, unit_centroids, classes=n_classes)
    z = _standardise(train_feats, mean, scale)
    if kind == "knn":
        return SeenDistance(kind, mean, scale, _unit(z), k=knn_neighbours(len(z)), classes=n_classes)
    from sklearn.covariance import LedoitWolf

    labels = np.asarray(train_labels)
    classes = np.unique(labels)
    c = np.stack([z[labels == k].mean(axis=0) for k in classes])
    centred = z - c[np.searchsorted(classes, labels)]
    cov = LedoitWolf(assume_centered=True).fit(centred).covariance_
    return SeenDistance(kind, mean, scale, c, precision=np.linalg.inv(cov), classes=n_classes)


@dataclass(frozen=True, eq=False)
class Novelty:
    """Seen vs unseen by distance from the seen classes (module docstring): unseen iff
    ``distance(feats) > gamma``.

    Attributes:
        distance: the distance from the seen classes (:class:`SeenDistance`, fitted on the final model's
            training features).
        gamma: the distance above which a sample goes to the zero-shot branch.
        keep_rate: share of held-out seen windows kept on the seen side when ``gamma`` was fitted.
        held_out: number of held-out windows it was fitted on.
    """

    distance: SeenDistance
    gamma: float
    keep_rate: float
    held_out: int = 0

    def statistic(self, feats: np.ndarray) -> np.ndarray:
        return self.distance(feats)

    def is_unseen(self, zsl_probs: np.ndarray, seen_logits: np.ndarray, feats: np.ndarray | None = None) -> np.ndarray:
        if feats is None:
            raise ValueError("the novelty rule reads the backbone features: pass feats")
        return self.statistic(feats) > self.gamma

    def to_dict(self) -> dict:
        return {
            "statistic": self.distance.describe(),
            "distance": self.distance.kind,
            "gamma": self.gamma,
            "keep_rate": self.keep_rate,
            "held_out": self.held_out,
            "classes": self.distance.classes,
        }


def fit_novelty(
    train_feats: np.ndarray,
    train_labels: np.ndarray,
    held_feats: np.ndarray,
    keep_rate: float,
    distance: str = "centroid",
) -> Novelty:
    """Fit :class:`Novelty`: the ``distance`` on the final model's training features of the seen classes,
    ``gamma`` the ``keep_rate`` quantile of the statistic on its held-out seen windows (never trained on)."""
    if len(held_feats) < 2:
        raise ValueError(f"the novelty rule needs held-out windows of the final model, got {len(held_feats)}")
    if not 0.0 < keep_rate <= 1.0:
        raise ValueError(f"keep_rate must be in (0, 1], got {keep_rate}")
    dist = fit_seen_distance(train_feats, train_labels, distance)
    d = dist(held_feats)
    return Novelty(dist, float(np.quantile(d, keep_rate)), float(keep_rate), int(len(d)))


@dataclass(frozen=True, eq=False)
class StackingNovelty:
    """Calibrated stacking and the novelty rule together (module docstring): each statistic standardised by its
    mean and spread on the held-out seen windows, summed; unseen iff the sum > ``gamma``.

    Attributes:
        temperature: softmax temperature of the seen-class logits (as :class:`Stacking`).
        novelty: the seen-class centroids (a :class:`Novelty`; its own ``gamma`` is unused).
        loc, spread: (stacking, novelty) mean and standard deviation on the held-out seen windows.
        gamma, keep_rate, held_out: as :class:`Stacking`.
    """

    temperature: float
    novelty: Novelty
    loc: tuple[float, float]
    spread: tuple[float, float]
    gamma: float
    keep_rate: float
    held_out: int = 0

    def statistic(self, zsl_probs: np.ndarray, seen_logits: np.ndarray, feats: np.ndarray) -> np.ndarray:
        a = (stacking_statistic(zsl_probs, seen_logits, self.temperature) - self.loc[0]) / self.spread[0]
        return a + (self.novelty.statistic(feats) - self.loc[1]) / self.spread[1]

    def is_unseen(self, zsl_probs: np.ndarray, seen_logits: np.ndarray, feats: np.ndarray | None = None) -> np.ndarray:
        if feats is None:
            raise ValueError("stacking with novelty reads the backbone features: pass feats")
        return self.statistic(zsl_probs, seen_logits, feats) > self.gamma

    def to_dict(self) -> dict:
        return {
            "statistic": "standardised stacking statistic + standardised novelty statistic ("
            + self.novelty.distance.describe()
            + ")",
            "distance": self.novelty.distance.kind,
            "temperature": self.temperature,
            "loc": list(self.loc),
            "spread": list(self.spread),
            "gamma": self.gamma,
            "keep_rate": self.keep_rate,
            "held_out": self.held_out,
        }


def fit_stacking_novelty(
    held_zsl: np.ndarray,
    held_logits: np.ndarray,
    held_truth_cols: np.ndarray,
    held_feats: np.ndarray,
    train_feats: np.ndarray,
    train_labels: np.ndarray,
    keep_rate: float,
    distance: str = "centroid",
) -> StackingNovelty:
    """Fit :class:`StackingNovelty` on held-out seen windows of the model it will be applied to (arguments as
    :func:`fit_stacking` and :func:`fit_novelty`)."""
    nov = fit_novelty(train_feats, train_labels, held_feats, 1.0, distance)
    t = fit_temperature(held_logits, held_truth_cols)
    a, b = stacking_statistic(held_zsl, held_logits, t), nov.statistic(held_feats)
    loc, spread = (float(a.mean()), float(b.mean())), (float(a.std()) + 1e-9, float(b.std()) + 1e-9)
    d = (a - loc[0]) / spread[0] + (b - loc[1]) / spread[1]
    return StackingNovelty(t, nov, loc, spread, float(np.quantile(d, keep_rate)), float(keep_rate), int(len(d)))


def zsl_accuracy(pred: np.ndarray, truth: np.ndarray) -> float:
    """Per-sample top-1 accuracy."""
    return float(np.mean(np.asarray(pred) == np.asarray(truth))) if len(truth) else float("nan")


def harmonic_mean(s: float, u: float) -> float:
    return 0.0 if s + u == 0 else 2 * s * u / (s + u)


def gzsl_scores(
    gate: Gate | Stacking | Novelty | StackingNovelty,
    zsl_probs: np.ndarray,
    seen_logits: np.ndarray,
    truth: np.ndarray,
    seen_ids: tuple[int, ...],
    unseen_ids: tuple[int, ...],
    feats: np.ndarray | None = None,
) -> dict[str, float]:
    """GZSL seen accuracy S, unseen accuracy U and H = 2SU/(S+U) over test samples of all classes.

    Args:
        gate: the seen/unseen rule (:class:`Gate`, :class:`Stacking`, :class:`Novelty`, :class:`StackingNovelty`).
        zsl_probs: [n, len(unseen_ids)] zero-shot probabilities (columns in ``unseen_ids`` order).
        seen_logits: [n, len(seen_ids)] backbone head logits (columns in ``seen_ids`` order).
        truth: [n] global class ids.
        feats: [n, d] backbone features (read by :class:`Novelty` and :class:`StackingNovelty`).
    """
    unseen = gate.is_unseen(zsl_probs, seen_logits, feats)
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


# ----------------------------------------------------------------------------- unseen-class scorers


def conse_similarity(trained_probs: np.ndarray, trained_emb: np.ndarray, label_emb: np.ndarray, k: int) -> np.ndarray:
    """ConSE (Norouzi et al. 2014): cosine of each label with the probability-weighted mean of the top-k trained
    names' embeddings.

    Args:
        trained_probs: [n, V] the backbone's probabilities over its trained classes.
        trained_emb: [V, d] unit text embeddings of those classes' names.
        label_emb: [L, d] unit text embeddings of the labels to score.
        k: how many of the most probable trained classes take part (capped at V).

    Returns:
        [n, L] cosine similarities (the same numbers as ``sadvae.train.cross_dataset.conse_scores``).
    """
    p = np.asarray(trained_probs, np.float64)
    k = max(1, min(int(k), p.shape[1]))
    top = np.argsort(-p, axis=1, kind="stable")[:, :k]
    w = np.take_along_axis(p, top, 1)
    w = w / np.maximum(w.sum(1, keepdims=True), 1e-12)
    e = (w[:, :, None] * np.asarray(trained_emb, np.float64)[top]).sum(1)
    e /= np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    return e @ np.asarray(label_emb, np.float64).T


def synthesis_weights(seen_emb: np.ndarray, label_emb: np.ndarray, lam: float) -> np.ndarray:
    """[K, L]: each label's classifier as a combination of the K seen classes' classifiers, predicted from text.

    Synthesised classifiers (the idea of Changpinyo et al. 2016, in its simplest linear form): a ridge regression
    from the seen classes' text embeddings to their classifiers (weights and bias; the intercept not shrunk)
    predicts a classifier for any label from its text. In the dual form the prediction is a combination of the
    seen classifiers with weights ``1/K + alpha``, ``alpha = (G + lam I)^-1 Ec (u - e_mean)``, ``Ec`` the centred
    seen embeddings and ``G = Ec Ec^T``; the weights of each label sum to 1 (``Ec`` sums to zero), so a label's
    logit is the same combination of the seen classes' logits, and a per-window constant in them (a
    log-softmax) shifts every label alike. Nothing but the seen-class head and the names is needed: no training
    on the labels, no feature output.

    Args:
        seen_emb: [K, d] text embeddings of the seen classes, in the head's logit-column order.
        label_emb: [L, d] text embeddings of the labels to score.
        lam: ridge strength (> 0); large: every label the mean seen classifier, small: interpolation.
    """
    e = np.asarray(seen_emb, np.float64)
    u = np.asarray(label_emb, np.float64)
    if e.ndim != 2 or u.ndim != 2 or e.shape[1] != u.shape[1]:
        raise ValueError(f"seen_emb [K, d] and label_emb [L, d] must share d, got {e.shape} and {u.shape}")
    if not lam > 0:
        raise ValueError(f"the synthesis ridge strength must be > 0, got {lam}")
    mean = e.mean(0)
    ec = e - mean
    alpha = np.linalg.solve(ec @ ec.T + lam * np.eye(len(e)), ec @ (u - mean).T)
    return alpha + 1.0 / len(e)


def synthesized_logits(seen_logits: np.ndarray, seen_emb: np.ndarray, label_emb: np.ndarray, lam: float) -> np.ndarray:
    """[n, L]: the labels' logits from their synthesised classifiers (:func:`synthesis_weights`), read off the
    seen-class head's logits [n, K] (linear in the feature, so the same as applying the synthesised classifiers)."""
    return np.asarray(seen_logits, np.float64) @ synthesis_weights(seen_emb, label_emb, lam)


@dataclass(frozen=True)
class UnseenScorer:
    """The zero-shot probabilities [n, L] of unseen labels (module docstring).

    Attributes:
        kind: ``sadvae`` (SA-DVAE as published), ``conse`` (ConSE over the backbone's trained classes),
            ``fused`` (convex mix), ``matched`` (labels that name trained classes scored by those classes),
            ``synth`` (classifiers synthesised from the labels' text out of the seen-class head,
            :func:`synthesis_weights`) or ``synth-matched`` (``matched`` with ``synth`` instead of SA-DVAE).
        k: ConSE's top-k; tau: softmax temperature of the ConSE cosines or of the synthesised logits.
        lam: the synthesis ridge strength (``synth`` kinds).
        weight: the ConSE branch's share in ``fused`` (1 for ``conse``, 0 for ``sadvae``).
        val_zsl: ZSL accuracy on the validation run's pseudo-unseen samples where it was chosen.
        val_nll: their mean negative log-likelihood.
    """

    kind: str = "sadvae"
    k: int = 10
    tau: float = 0.05
    weight: float = 0.0
    val_zsl: float = float("nan")
    val_nll: float = float("nan")
    selection: str = ""
    lam: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in UNSEEN_SCORERS:
            raise ValueError(f"unknown unseen scorer {self.kind!r}; choose one of {UNSEEN_SCORERS}")
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"UnseenScorer.weight must be in [0, 1], got {self.weight}")

    @property
    def needs_trained_classes(self) -> bool:
        return self.kind in ("conse", "fused") and self.weight > 0.0

    def probs(
        self,
        sadvae_probs: np.ndarray,
        trained_logits: np.ndarray | None = None,
        trained_emb: np.ndarray | None = None,
        label_emb: np.ndarray | None = None,
        label_match: np.ndarray | None = None,
        seen_logits: np.ndarray | None = None,
        seen_emb: np.ndarray | None = None,
    ) -> np.ndarray:
        """[n, L] probabilities over the labels.

        Args:
            sadvae_probs: [n, L] SA-DVAE's zero-shot probabilities (columns in label order).
            trained_logits: [n, V] the backbone's own classifier logits (its softmax at temperature 1).
            trained_emb: [V, d] text embeddings of the trained classes; label_emb: [L, d] of the labels.
            label_match: [L, V] bool, the trained classes each label names (``matched``).
            seen_logits: [n, K] the seen-class head's logits; seen_emb: [K, d] its classes' text embeddings
                (``synth`` kinds).
        """
        p = np.asarray(sadvae_probs, np.float64)
        if self.kind in SYNTH_SCORERS:
            if seen_logits is None or seen_emb is None or label_emb is None:
                raise ValueError(f"the {self.kind} unseen scorer needs the seen-class head's logits and class texts")
            p = softmax(synthesized_logits(seen_logits, seen_emb, label_emb, self.lam), self.tau)
            return p if self.kind == "synth" else matched_probs(p, trained_logits, label_match)
        if self.kind == "matched":
            return matched_probs(p, trained_logits, label_match)
        if not self.needs_trained_classes:
            return p
        if trained_logits is None or trained_emb is None or label_emb is None or np.shape(trained_logits)[1] == 0:
            raise ValueError(f"the {self.kind} unseen scorer needs the backbone's trained-class logits and names")
        pc = softmax(conse_similarity(softmax(trained_logits), trained_emb, label_emb, self.k), self.tau)
        return (1.0 - self.weight) * p + self.weight * pc

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "k": self.k,
            "tau": self.tau,
            "weight": self.weight,
            "val_zsl": self.val_zsl,
            "val_nll": self.val_nll,
            "selection": self.selection,
            "lam": self.lam,
        }


def _lexically_less(a: tuple[float, ...], b: tuple[float, ...], eps: float = 1e-12) -> bool:
    for x, y in zip(a, b, strict=True):
        if x < y - eps:
            return True
        if x > y + eps:
            return False
    return False


def matched_probs(
    sadvae_probs: np.ndarray, trained_logits: np.ndarray | None, label_match: np.ndarray | None
) -> np.ndarray:
    """[n, L]: a label that names trained classes gets the backbone's probability of them (softmax of its own
    logits, summed over the classes it names); the backbone's mass on classes no label names says only "none of
    the named ones" and is spread over *every* label by SA-DVAE's probabilities:
    ``P(l) = m_l + (1 - sum_k m_k) P_sadvae(l)`` (``m_l`` = 0 for a label that names nothing). No label named:
    SA-DVAE's probabilities. (Spreading that mass over the unnamed labels only gives them what the backbone did
    not say about them, and starves the named labels whenever the backbone's softmax is spread out.)

    Args:
        sadvae_probs: [n, L]; trained_logits: [n, V]; label_match: [L, V] bool (each class named by one label
            at most, as the matcher assigns them).
    """
    p = np.asarray(sadvae_probs, np.float64)
    if label_match is None:
        raise ValueError("the matched unseen scorer needs the labels' matches to trained classes")
    m = np.asarray(label_match, bool)
    if not m.any():
        return p
    if trained_logits is None or np.shape(trained_logits)[1] != m.shape[1]:
        raise ValueError("the matched unseen scorer needs the backbone's trained-class logits")
    d = softmax(trained_logits) @ m.T.astype(np.float64)  # [n, L] mass of the classes each label names
    rest = np.clip(1.0 - d.sum(1, keepdims=True), 0.0, 1.0)
    out = d + rest * p / np.maximum(p.sum(1, keepdims=True), 1e-300)
    return out / np.maximum(out.sum(1, keepdims=True), 1e-300)


def choose_unseen_scorer(
    kind: str,
    val_sadvae_probs: np.ndarray,
    val_trained_logits: np.ndarray,
    val_truth_cols: np.ndarray,
    trained_emb: np.ndarray,
    val_label_emb: np.ndarray,
    ks: tuple[int, ...] = CONSE_KS,
    taus: tuple[float, ...] = CONSE_TAUS,
    weights: tuple[float, ...] = FUSION_WEIGHTS,
    selection: str = "1se",
    val_label_match: np.ndarray | None = None,
    val_seen_logits: np.ndarray | None = None,
    val_seen_emb: np.ndarray | None = None,
    lambdas: tuple[float, ...] = SYNTH_LAMBDAS,
    synth_taus: tuple[float, ...] = SYNTH_TAUS,
) -> tuple[UnseenScorer, list[dict]]:
    """Choose an unseen scorer's free numbers on a VALIDATION run's pseudo-unseen samples (nothing else is given).

    Every (k, tau, weight) of the grid (``conse``: weight 1 only; ``sadvae`` and ``matched``: nothing to choose;
    ``synth`` kinds: (lam, tau) from ``lambdas`` x ``synth_taus``) is scored by ZSL accuracy over the
    pseudo-unseen labels and the mean NLL of their truth. ``selection``:

    - ``accuracy``: the best accuracy; ties go to the lower NLL, then to the earlier grid point (smaller k,
      smaller tau, smaller weight).
    - ``1se`` (default): among the settings whose accuracy is within one binomial standard error of the best
      (``sqrt(a (1 - a) / m)`` over the m validation samples), the lowest NLL. Validation sets hold a few
      pseudo-unseen classes (3 on NW-UCLA, 5 on MSR), so accuracy differences below that error are noise;
      the NLL, a proper scoring rule, uses every sample's probability rather than only its argmax.

    Args:
        kind: one of :data:`UNSEEN_SCORERS`.
        val_sadvae_probs: [m, U] the validation SA-DVAE's probabilities over the pseudo-unseen labels.
        val_trained_logits: [m, V] the backbone's trained-class logits of the same samples.
        val_truth_cols: [m] their pseudo-unseen label as a column of ``val_sadvae_probs``.
        trained_emb: [V, d] trained class names' embeddings; val_label_emb: [U, d] the pseudo-unseen labels'.
        val_label_match: [U, V] bool, the trained classes each pseudo-unseen label names (``matched`` kinds).
        val_seen_logits: [m, K] the validation seen-class head's logits of the same samples; val_seen_emb: [K, d]
            its classes' text embeddings (``synth`` kinds).

    Returns:
        (the chosen :class:`UnseenScorer` with its validation accuracy and NLL, the whole grid as rows).
    """
    truth = np.asarray(val_truth_cols, np.intp)
    rows = np.arange(len(truth))
    if len(truth) == 0:
        raise ValueError("choosing an unseen scorer needs pseudo-unseen validation samples")

    def rate(p: np.ndarray) -> tuple[float, float]:
        return float(np.mean(p.argmax(1) == truth)), float(-np.mean(np.log(np.maximum(p[rows, truth], 1e-12))))

    if kind in ("sadvae", "matched"):  # nothing to choose: validation numbers for the record
        p0 = np.asarray(val_sadvae_probs, np.float64)
        acc, nll = rate(p0 if kind == "sadvae" else matched_probs(p0, val_trained_logits, val_label_match))
        row = {"weight": 0.0, "val_zsl": acc, "val_nll": nll}
        return UnseenScorer(kind, val_zsl=acc, val_nll=nll, selection=selection), [row]
    if kind not in UNSEEN_SCORERS:
        raise ValueError(f"unknown unseen scorer {kind!r}; choose one of {UNSEEN_SCORERS}")
    if selection not in SCORER_SELECTIONS:
        raise ValueError(f"unknown scorer selection {selection!r}; choose one of {SCORER_SELECTIONS}")
    if kind in SYNTH_SCORERS:
        table = []
        for lam in lambdas:
            for tau in synth_taus:
                sc = UnseenScorer(kind, tau=float(tau), lam=float(lam))
                p = sc.probs(
                    val_sadvae_probs,
                    val_trained_logits,
                    label_emb=val_label_emb,
                    label_match=val_label_match,
                    seen_logits=val_seen_logits,
                    seen_emb=val_seen_emb,
                )
                acc, nll = rate(p)
                table.append({"lam": float(lam), "tau": float(tau), "weight": 0.0, "val_zsl": acc, "val_nll": nll})
        r = _pick(table, selection, len(truth))
        return UnseenScorer(
            kind, tau=r["tau"], lam=r["lam"], val_zsl=r["val_zsl"], val_nll=r["val_nll"], selection=selection
        ), table
    grid_w = (1.0,) if kind == "conse" else tuple(weights)
    ps = np.asarray(val_sadvae_probs, np.float64)
    p_trained = softmax(val_trained_logits)
    table: list[dict] = []
    for k in ks:
        sim = conse_similarity(p_trained, trained_emb, val_label_emb, k)
        for tau in taus:
            pc = softmax(sim, tau)
            for w in grid_w:
                acc, nll = rate((1.0 - w) * ps + w * pc)
                table.append({"k": int(k), "tau": float(tau), "weight": float(w), "val_zsl": acc, "val_nll": nll})
    r = _pick(table, selection, len(truth))
    return UnseenScorer(kind, r["k"], r["tau"], r["weight"], r["val_zsl"], r["val_nll"], selection), table


def _pick(table: list[dict], selection: str, m: int) -> dict:
    """The grid row ``selection`` picks (:func:`choose_unseen_scorer`); m validation samples."""
    top = max(r["val_zsl"] for r in table)
    margin = 1e-12 if selection == "accuracy" else np.sqrt(top * (1.0 - top) / m) + 1e-12
    best = None
    for r in table:  # grid order: the first of equal settings wins
        if r["val_zsl"] < top - margin:
            continue
        key = (r["val_nll"],) if selection == "1se" else (-r["val_zsl"], r["val_nll"])
        if best is None or _lexically_less(key, best[0]):
            best = (key, r)
    assert best is not None
    return best[1]
