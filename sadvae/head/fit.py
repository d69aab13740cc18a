"""Fitting a :class:`sadvae.head.HeadCalibration` on held-out windows of the deployed model (numpy).

Input: windows the model never trained on, of its trained classes, with their semantic latents
[N, d_r], their trained-class logits [N, K], their class (column) [N], and the text prototypes of the
K class names [K, d_r] (mu_y of the prompts). Label lists are simulated: each draws a few classes as
"listed"; a window of a listed class is a positive, every other window a negative ("none of these").

- ``seen_temperature``: NLL temperature of the logits; ``zs_scale``: NLL scale of the cosine scores
  to the prototypes (the classes scored zero-shot);
- rejection of trained labels: logistic curve on the logit of the listed classes' softmax mass;
- rejection of new labels: logistic curve on the cosine to the nearest listed prototype;
- stacking ``gamma``: lists of half trained, half new labels (the new half scored only by its
  prototypes, its columns hidden from the trained branch): the gamma with the best harmonic mean of
  trained-window and new-window accuracy;
- with the latents of the windows the model trained on (``train_latent``), the class centroids and the weight of
  the window's distance from the listed trained classes in those mixed lists (``stack_distance``, 0 included in
  its grid), chosen with ``gamma`` by the same harmonic mean.

The fitted classes are trained ones, so the zero-shot statistics are those of classes whose text the
SA-DVAE saw in training: the new-label curve is an optimistic estimate for truly new labels (say so
wherever it is reported).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from sadvae.head.calibration import (
    HeadCalibration,
    fit_logistic,
    fit_logistic_nd,
    fit_temperature,
    listed_margin,
    logit,
    sigmoid,
)
from sadvae.head.zeroshot import ZeroShotScorer, softmax

__all__ = [
    "simulate_lists",
    "window_statistics",
    "class_centroids",
    "mixed_list_pieces",
    "mixed_list_accuracy",
    "fit_head_calibration",
    "evaluate_calibration",
]


def simulate_lists(num_classes: int, n_lists: int, sizes: tuple[int, int], seed: int = 0) -> list[np.ndarray]:
    """``n_lists`` random class subsets with sizes drawn uniformly in ``sizes`` (inclusive)."""
    rng = np.random.default_rng(seed)
    hi = min(sizes[1], num_classes - 1)
    return [rng.choice(num_classes, size=int(rng.integers(sizes[0], hi + 1)), replace=False) for _ in range(n_lists)]


def sibling_lists(groups, n_lists: int, seed: int = 0) -> list[np.ndarray]:
    """``n_lists`` lists of about half of one group's classes (a group: the classes one dataset names), so that
    the other half are unlisted siblings of the listed actions: the near misses a user meets who lists some of a
    family of related actions."""
    rng = np.random.default_rng(seed)
    groups = [np.asarray(g) for g in groups if len(g) >= 2]
    out = []
    for _ in range(n_lists):
        g = groups[int(rng.integers(len(groups)))]
        out.append(rng.choice(g, size=max(1, len(g) // 2), replace=False))
    return out


def _class_probs(logits, temperature: float, mirror=None) -> np.ndarray:
    """[N, K] the trained classes' softmax probabilities, pooled with the mirror images' (read through the mirror
    classes) when ``mirror`` = (latents, logits, class_mirror) of the windows' mirror images is given."""
    p = softmax(np.asarray(logits, np.float64) / temperature)
    if mirror is None:
        return p
    _, m_logits, class_mirror = mirror
    return 0.5 * (p + softmax(np.asarray(m_logits, np.float64) / temperature)[:, class_mirror])


def _cosines(latent, prototypes, mirror=None) -> tuple[np.ndarray, np.ndarray | None]:
    """[N, K] cosines of the windows' latents to the class prototypes, and of the mirror images' (or None)."""
    scorer = ZeroShotScorer("cosine", prototypes, np.zeros(len(prototypes)))
    return scorer.similarity(latent), (None if mirror is None else scorer.similarity(mirror[0]))


def _nearest(cos: np.ndarray, cos_m: np.ndarray | None, columns) -> np.ndarray:
    """[N] the cosine to the nearest of ``columns``, averaged with the mirror image's as the live head pools it."""
    near = cos[:, columns].max(axis=1)
    return near if cos_m is None else 0.5 * (near + cos_m[:, columns].max(axis=1))


def window_statistics(latent, logits, truth, prototypes, lists, temperature: float, mirror=None) -> dict:
    """Per (list, window): the listed mass, the margin of the best listed class over the best unlisted one
    (:func:`sadvae.head.calibration.listed_margin`), the nearest listed cosine, and whether the window is listed.

    ``mirror``: (latents [N, d_r], logits [N, K], class_mirror [K]) of the windows' mirror images: the statistics
    the head reads with handedness pooling (:mod:`sadvae.head.handedness`)."""
    p_full = _class_probs(logits, temperature, mirror)
    cos, cos_m = _cosines(latent, prototypes, mirror)
    mass, margin, near, pos = [], [], [], []
    for lst in lists:
        mass.append(p_full[:, lst].sum(axis=1))
        margin.append(_margin(p_full, lst))
        near.append(_nearest(cos, cos_m, lst))
        pos.append(np.isin(truth, lst))
    return {
        "mass": np.concatenate(mass),
        "margin": np.concatenate(margin),
        "near": np.concatenate(near),
        "pos": np.concatenate(pos),
    }


def _margin(p_full: np.ndarray, listed) -> np.ndarray:
    """[N] the listed margin when each listed class is one label."""
    unlisted = np.setdiff1d(np.arange(p_full.shape[1]), listed)
    return listed_margin(p_full[:, listed], p_full[:, unlisted])


def class_centroids(latent: np.ndarray, truth: np.ndarray, num_classes: int) -> np.ndarray:
    """[K, d_r] unit mean of each class's unit latents (a class without windows: a zero row, never nearest)."""
    u = np.asarray(latent, np.float64)
    u = u / np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
    truth = np.asarray(truth)
    out = np.zeros((num_classes, u.shape[1]))
    for c in np.unique(truth):
        m = u[truth == c].mean(axis=0)
        out[c] = m / max(float(np.linalg.norm(m)), 1e-12)
    return out


def _unit(x) -> np.ndarray:
    u = np.asarray(x, np.float64)
    return u / np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)


def mixed_list_pieces(
    latent, logits, truth, prototypes, lists, cal: HeadCalibration, seed: int, centroids=None, mirror=None
) -> dict:
    """Per (mixed list, window): what the stacking rule reads, both branches' picks, the window's distance from the
    list's trained half (``centroids`` given) and which half its class is in; ``mirror`` as in
    :func:`window_statistics` (each quantity pooled as the live head pools it)."""
    rng = np.random.default_rng(seed)
    p_full = _class_probs(logits, cal.seen_temperature, mirror)
    cos, cos_m = _cosines(latent, prototypes, mirror)
    unit = _unit(latent)
    unit_m, class_mirror = (None, None) if mirror is None else (_unit(mirror[0]), np.asarray(mirror[2]))
    parts = []
    for lst in lists:
        if len(lst) < 2:
            continue
        lst = rng.permutation(lst)
        tr, nw = lst[: len(lst) // 2], lst[len(lst) // 2 :]
        mass = p_full[:, tr].sum(axis=1)
        a_seen = cal.p_action_seen(mass, _margin(p_full, tr))
        a_new = cal.p_action_new(_nearest(cos, cos_m, nw))
        p_new = softmax(cal.zs_scale * cos[:, nw])
        distance = np.zeros(len(unit)) if centroids is None else 1.0 - (unit @ centroids[tr].T).max(axis=1)
        if mirror is not None:  # a new label's mirror is its mirror class when the list has it (as live)
            pos = {int(c): i for i, c in enumerate(nw)}
            perm = [pos.get(int(class_mirror[c]), i) for i, c in enumerate(nw)]
            p_new = 0.5 * (p_new + softmax(cal.zs_scale * cos_m[:, nw])[:, perm])
            if centroids is not None:
                distance = 0.5 * (distance + 1.0 - (unit_m @ centroids[class_mirror[tr]].T).max(axis=1))
        parts.append(
            {
                "stack": cal.stack_slope * (logit(a_new) - logit(a_seen)),
                "distance": distance,
                "pred_tr": tr[p_full[:, tr].argmax(axis=1)],
                "pred_nw": nw[p_new.argmax(axis=1)],
                "top_tr": p_full[:, tr].max(axis=1) / np.maximum(mass, 1e-300),
                "top_nw": p_new.max(axis=1),
                "in_tr": np.isin(truth, tr),
                "in_nw": np.isin(truth, nw),
                "truth": np.asarray(truth),
            }
        )
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def mixed_list_accuracy(pieces: dict, z: np.ndarray) -> tuple[float, float]:
    """(trained-half, new-half) accuracy when the new labels' weight is ``sigmoid(z)``."""
    pi = sigmoid(z)
    pred = np.where(pi * pieces["top_nw"] > (1 - pi) * pieces["top_tr"], pieces["pred_nw"], pieces["pred_tr"])
    t, a, b = pieces["truth"], pieces["in_tr"], pieces["in_nw"]
    return float((pred[a] == t[a]).mean()) if a.any() else 0.0, float((pred[b] == t[b]).mean()) if b.any() else 0.0


def _mixed_accuracy(latent, logits, truth, prototypes, lists, cal: HeadCalibration, gammas, seed: int, mirror=None):
    """[len(gammas), 2]: accuracy on windows of the trained half and of the new half of mixed lists, with ``cal``'s
    distance term when it has one."""
    centroids = np.asarray(cal.centroids, np.float64) if cal.uses_distance else None
    pieces = mixed_list_pieces(latent, logits, truth, prototypes, lists, cal, seed, centroids, mirror)
    z = pieces["stack"]
    if centroids is not None:
        z = z + cal.stack_distance * (pieces["distance"] - cal.distance_loc) / cal.distance_scale
    return np.array([mixed_list_accuracy(pieces, z - g) for g in gammas])


DISTANCE_WEIGHTS = (0.0, 0.5, 1.0, 2.0, 4.0)


def fit_head_calibration(
    latent: np.ndarray,
    logits: np.ndarray,
    truth: np.ndarray,
    prototypes: np.ndarray,
    *,
    model_id: str = "",
    source: str = "",
    n_lists: int = 200,
    sizes: tuple[int, int] = (3, 12),
    seed: int = 0,
    train_latent: np.ndarray | None = None,
    train_truth: np.ndarray | None = None,
    mirror: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    class_groups=None,
) -> tuple[HeadCalibration, dict]:
    """Fit every constant of the head (module docstring).

    Args:
        latent: float [N, d_r] semantic latents of held-out windows; logits: float [N, K] their trained-class
            logits; truth: int [N] their class as a logits column; prototypes: float [K, d_r] class text latents.
        model_id, source: recorded in the result.
        n_lists, sizes, seed: the simulated label lists.
        train_latent, train_truth: latents [M, d_r] and classes [M] of the windows the same model trained on: the
            class centroids of the mixed lists' distance term (None: no distance term).
        mirror: (latents [N, d_r], logits [N, K], class_mirror [K]) of the held-out windows' mirror images: a
            calibration for handedness pooling. The temperature and cosine scale are fitted on the windows alone
            (the head applies them to each view); the rejection curves and the stacking balance on the pooled
            statistics the head reads.
        class_groups: the classes of each dataset (sequences of columns): the trained labels' rejection is fitted
            on as many lists of siblings (:func:`sibling_lists`) as random lists, so it learns near misses. None:
            random lists only (calibrations before 5 December 2026).

    Returns:
        (the calibration, a report with the fitted values and the training-fit rates).
    """
    truth = np.asarray(truth)
    k = logits.shape[1]
    t = fit_temperature(logits, truth)
    cos = ZeroShotScorer("cosine", prototypes, np.zeros(len(prototypes))).similarity(latent)
    scale = 1.0 / fit_temperature(cos, truth)
    lists = simulate_lists(k, n_lists, sizes, seed)
    st = window_statistics(latent, logits, truth, prototypes, lists, t, mirror)
    seen_st = st
    if class_groups is not None:
        siblings = sibling_lists(class_groups, n_lists, seed)
        sib = window_statistics(latent, logits, truth, prototypes, siblings, t, mirror)
        seen_st = {key: np.concatenate([st[key], sib[key]]) for key in ("mass", "margin", "pos")}
    (a_s, m_s), b_s = fit_logistic_nd(np.column_stack([logit(seen_st["mass"]), seen_st["margin"]]), seen_st["pos"])
    a_z, b_z = fit_logistic(st["near"], st["pos"])
    cal = HeadCalibration(
        seen_temperature=t,
        zs_scale=scale,
        reject_seen_a=float(a_s),
        reject_seen_b=b_s,
        reject_seen_margin=float(m_s),
        reject_zs_a=a_z,
        reject_zs_b=b_z,
        model_id=model_id,
        source=source or ("fitted on held-out windows" + (" and their mirror images" if mirror is not None else "")),
    )
    gammas = np.round(np.arange(-4.0, 4.01, 0.25), 2)
    mixed_lists = simulate_lists(k, n_lists, (4, 12), seed + 1)
    centroids = None if train_latent is None else class_centroids(train_latent, train_truth, k)
    pieces = mixed_list_pieces(latent, logits, truth, prototypes, mixed_lists, cal, seed, centroids, mirror)
    loc, scale = 0.0, 1.0
    if centroids is not None:
        d = pieces["distance"][pieces["in_tr"]]
        loc, scale = float(d.mean()), float(d.std()) + 1e-9
    best = None  # (H, weight, gamma, accuracies): ties keep the smaller weight, then the smaller gamma
    for w in DISTANCE_WEIGHTS if centroids is not None else (0.0,):
        z = pieces["stack"] + w * (pieces["distance"] - loc) / scale
        for g in gammas:
            a = mixed_list_accuracy(pieces, z - g)
            h = 2 * a[0] * a[1] / max(a[0] + a[1], 1e-12)
            if best is None or h > best[0] + 1e-12:
                best = (h, w, float(g), a)
    h, w, g, acc = best
    cal = replace(cal, stack_gamma=g)
    if w:
        cal = replace(
            cal,
            stack_distance=w,
            distance_loc=loc,
            distance_scale=scale,
            centroids=tuple(tuple(float(x) for x in row) for row in centroids),
        )
    report = {
        "windows": int(len(truth)),
        "classes": int(k),
        "lists": n_lists,
        "list_sizes": list(sizes),
        "calibration": {key: v for key, v in cal.to_dict().items() if key != "centroids"},
        "mixed_trained_acc": float(acc[0]),
        "mixed_new_acc": float(acc[1]),
        "mixed_H": float(h),
        "mixed_distance_weight": float(w),
    }
    return cal, report


def evaluate_calibration(
    cal: HeadCalibration,
    latent,
    logits,
    truth,
    prototypes,
    n_lists=200,
    sizes=(3, 12),
    seed=1,
    mirror=None,
    class_groups=None,
):
    """Rejection rates of ``cal`` on (other) held-out windows: listed windows kept, unlisted windows accepted
    (``mirror``: pooled with their mirror images, :func:`fit_head_calibration`); with ``class_groups``, also on
    lists of siblings (:func:`sibling_lists`), whose unlisted windows are near misses.

    Returns:
        ``{"trained": {"kept", "false_accept"}, "new": {...}, "mixed": {"trained_acc", "new_acc", "H"}}`` and,
        with ``class_groups``, ``"trained_siblings": {"kept", "false_accept"}``.
    """
    truth = np.asarray(truth)
    lists = simulate_lists(logits.shape[1], n_lists, sizes, seed)
    st = window_statistics(latent, logits, truth, prototypes, lists, cal.seen_temperature, mirror)
    out = {}
    for name, p in (("trained", cal.p_action_seen(st["mass"], st["margin"])), ("new", cal.p_action_new(st["near"]))):
        ok = p >= cal.reject_threshold
        out[name] = {"kept": float(ok[st["pos"]].mean()), "false_accept": float(ok[~st["pos"]].mean())}
    if class_groups is not None:
        sib = window_statistics(
            latent, logits, truth, prototypes, sibling_lists(class_groups, n_lists, seed), cal.seen_temperature, mirror
        )
        ok = cal.p_action_seen(sib["mass"], sib["margin"]) >= cal.reject_threshold
        out["trained_siblings"] = {"kept": float(ok[sib["pos"]].mean()), "false_accept": float(ok[~sib["pos"]].mean())}
    mixed_lists = simulate_lists(logits.shape[1], n_lists, (4, 12), seed + 1)
    acc = _mixed_accuracy(latent, logits, truth, prototypes, mixed_lists, cal, [cal.stack_gamma], seed, mirror)[0]
    out["mixed"] = {
        "trained_acc": float(acc[0]),
        "new_acc": float(acc[1]),
        "H": float(2 * acc[0] * acc[1] / max(acc[0] + acc[1], 1e-12)),
    }
    return out
