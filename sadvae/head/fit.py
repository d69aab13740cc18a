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
  trained-window and new-window accuracy.

The fitted classes are trained ones, so the zero-shot statistics are those of classes whose text the
SA-DVAE saw in training: the new-label curve is an optimistic estimate for truly new labels (say so
wherever it is reported).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from sadvae.head.calibration import HeadCalibration, fit_logistic, fit_temperature, logit, sigmoid
from sadvae.head.zeroshot import ZeroShotScorer, softmax

__all__ = ["simulate_lists", "window_statistics", "fit_head_calibration", "evaluate_calibration"]


def simulate_lists(num_classes: int, n_lists: int, sizes: tuple[int, int], seed: int = 0) -> list[np.ndarray]:
    """``n_lists`` random class subsets with sizes drawn uniformly in ``sizes`` (inclusive)."""
    rng = np.random.default_rng(seed)
    hi = min(sizes[1], num_classes - 1)
    return [rng.choice(num_classes, size=int(rng.integers(sizes[0], hi + 1)), replace=False) for _ in range(n_lists)]


def window_statistics(latent, logits, truth, prototypes, lists, temperature: float) -> dict[str, np.ndarray]:
    """Per (list, window): the listed mass, the nearest listed cosine, and whether the window is listed."""
    p_full = softmax(np.asarray(logits, np.float64) / temperature)
    cos = ZeroShotScorer("cosine", prototypes, np.zeros(len(prototypes))).similarity(latent)  # (N, K)
    mass, near, pos = [], [], []
    for lst in lists:
        mass.append(p_full[:, lst].sum(axis=1))
        near.append(cos[:, lst].max(axis=1))
        pos.append(np.isin(truth, lst))
    return {"mass": np.concatenate(mass), "near": np.concatenate(near), "pos": np.concatenate(pos)}


def _mixed_accuracy(latent, logits, truth, prototypes, lists, cal: HeadCalibration, gammas, seed: int):
    """[len(gammas), 2]: accuracy on windows of the trained half and of the new half of mixed lists."""
    rng = np.random.default_rng(seed)
    p_full = softmax(np.asarray(logits, np.float64) / cal.seen_temperature)
    cos = ZeroShotScorer("cosine", prototypes, np.zeros(len(prototypes))).similarity(latent)
    hits = np.zeros((len(gammas), 2))
    counts = np.zeros(2)
    for lst in lists:
        if len(lst) < 2:
            continue
        lst = rng.permutation(lst)
        tr, nw = lst[: len(lst) // 2], lst[len(lst) // 2 :]
        mass = p_full[:, tr].sum(axis=1)
        a_seen = cal.p_action_seen(mass)
        a_new = cal.p_action_new(cos[:, nw].max(axis=1))
        pred_tr, pred_nw = tr[p_full[:, tr].argmax(axis=1)], nw[cos[:, nw].argmax(axis=1)]
        p_tr_top = p_full[:, tr].max(axis=1) / np.maximum(mass, 1e-300)
        p_nw_top = softmax(cal.zs_scale * cos[:, nw]).max(axis=1)
        in_tr, in_nw = np.isin(truth, tr), np.isin(truth, nw)
        counts += [in_tr.sum(), in_nw.sum()]
        for g, gamma in enumerate(gammas):
            pi = sigmoid(cal.stack_slope * (logit(a_new) - logit(a_seen)) - gamma)
            pred = np.where(pi * p_nw_top > (1 - pi) * p_tr_top, pred_nw, pred_tr)
            hits[g] += [(pred[in_tr] == truth[in_tr]).sum(), (pred[in_nw] == truth[in_nw]).sum()]
    return hits / np.maximum(counts, 1)


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
) -> tuple[HeadCalibration, dict]:
    """Fit every constant of the head (module docstring).

    Args:
        latent: float [N, d_r] semantic latents of held-out windows; logits: float [N, K] their trained-class
            logits; truth: int [N] their class as a logits column; prototypes: float [K, d_r] class text latents.
        model_id, source: recorded in the result.
        n_lists, sizes, seed: the simulated label lists.

    Returns:
        (the calibration, a report with the fitted values and the training-fit rates).
    """
    truth = np.asarray(truth)
    k = logits.shape[1]
    t = fit_temperature(logits, truth)
    cos = ZeroShotScorer("cosine", prototypes, np.zeros(len(prototypes))).similarity(latent)
    scale = 1.0 / fit_temperature(cos, truth)
    lists = simulate_lists(k, n_lists, sizes, seed)
    st = window_statistics(latent, logits, truth, prototypes, lists, t)
    a_s, b_s = fit_logistic(logit(st["mass"]), st["pos"])
    a_z, b_z = fit_logistic(st["near"], st["pos"])
    cal = HeadCalibration(
        seen_temperature=t,
        zs_scale=scale,
        reject_seen_a=a_s,
        reject_seen_b=b_s,
        reject_zs_a=a_z,
        reject_zs_b=b_z,
        model_id=model_id,
        source=source or "fitted on held-out windows",
    )
    gammas = np.round(np.arange(-4.0, 4.01, 0.25), 2)
    acc = _mixed_accuracy(
        latent, logits, truth, prototypes, simulate_lists(k, n_lists, (4, 12), seed + 1), cal, gammas, seed
    )
    h = 2 * acc[:, 0] * acc[:, 1] / np.maximum(acc[:, 0] + acc[:, 1], 1e-12)
    best = int(np.argmax(h))
    cal = replace(cal, stack_gamma=float(gammas[best]))
    report = {
        "windows": int(len(truth)),
        "classes": int(k),
        "lists": n_lists,
        "list_sizes": list(sizes),
        "calibration": cal.to_dict(),
        "mixed_trained_acc": float(acc[best, 0]),
        "mixed_new_acc": float(acc[best, 1]),
        "mixed_H": float(h[best]),
    }
    return cal, report


def evaluate_calibration(cal: HeadCalibration, latent, logits, truth, prototypes, n_lists=200, sizes=(3, 12), seed=1):
    """Rejection rates of ``cal`` on (other) held-out windows: listed windows kept, unlisted windows accepted.

    Returns:
        ``{"trained": {"kept", "false_accept"}, "new": {...}, "mixed": {"trained_acc", "new_acc", "H"}}``.
    """
    truth = np.asarray(truth)
    lists = simulate_lists(logits.shape[1], n_lists, sizes, seed)
    st = window_statistics(latent, logits, truth, prototypes, lists, cal.seen_temperature)
    out = {}
    for name, p in (("trained", cal.p_action_seen(st["mass"])), ("new", cal.p_action_new(st["near"]))):
        ok = p >= cal.reject_threshold
        out[name] = {"kept": float(ok[st["pos"]].mean()), "false_accept": float(ok[~st["pos"]].mean())}
    mixed_lists = simulate_lists(logits.shape[1], n_lists, (4, 12), seed + 1)
    acc = _mixed_accuracy(latent, logits, truth, prototypes, mixed_lists, cal, [cal.stack_gamma], seed)[0]
    out["mixed"] = {
        "trained_acc": float(acc[0]),
        "new_acc": float(acc[1]),
        "H": float(2 * acc[0] * acc[1] / max(acc[0] + acc[1], 1e-12)),
    }
    return out
