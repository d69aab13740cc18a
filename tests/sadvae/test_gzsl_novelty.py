"""GZSL by distance from the seen classes (`Novelty`) and with calibrated stacking (`StackingNovelty`): the
rules `sadvae benchmark zsl --gzsl stacking+novelty novelty` fit on held-out windows of the final model."""

from __future__ import annotations

import numpy as np
import pytest

from sadvae.evaluate import (
    NOVELTY_DISTANCES,
    Novelty,
    SeenDistance,
    StackingNovelty,
    best_keep_rate,
    fit_novelty,
    fit_seen_distance,
    fit_stacking,
    fit_stacking_novelty,
    gzsl_scores,
    knn_neighbours,
    middle_of_best,
    novelty_statistic,
    seen_class_centroids,
    softmax,
)


def _clusters(rng, centres, labels, spread=0.3):
    return centres[labels] + spread * rng.normal(size=(len(labels), centres.shape[1]))


def _world(rng, k=5, u=3, d=16, n=200):
    """Features of k seen and u unseen classes (separate clusters), a seen head that is confident everywhere
    (a softmax head is: it never saw the unseen classes) and a zero-shot scorer that is right on unseen clips."""
    centres = rng.normal(size=(k + u, d)) * 2.0
    train_y = rng.integers(0, k, n)
    held_y, seen_y, unseen_y = rng.integers(0, k, n), rng.integers(0, k, n), rng.integers(k, k + u, n)
    feats = {name: _clusters(rng, centres, y) for name, y in (("train", train_y), ("held", held_y))}
    feats["seen"], feats["unseen"] = _clusters(rng, centres, seen_y), _clusters(rng, centres, unseen_y)
    w = centres[:k].T  # a linear seen head: confident on every clip, right on seen ones

    def logits(x):
        return 3.0 * x @ w

    def zsl(x):  # right on unseen clips, a guess on seen ones
        return softmax(3.0 * x @ centres[k:].T)

    return k, u, train_y, held_y, seen_y, unseen_y, feats, logits, zsl


def test_novelty_statistic_by_hand():
    mean, scale = np.zeros(2), np.ones(2)
    centroids = np.array([[1.0, 0.0], [0.0, 1.0]])
    x = np.array([[2.0, 0.0], [1.0, 1.0], [-1.0, 0.0]])
    np.testing.assert_allclose(novelty_statistic(x, mean, scale, centroids), [0.0, 1 - np.sqrt(0.5), 1.0])


def test_centroids_are_unit_means_of_standardised_features():
    x = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [2.0, 4.0]])
    mean, scale, c = seen_class_centroids(x, np.array([0, 0, 1, 1]))
    np.testing.assert_allclose(mean, [1.0, 2.0])
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 1.0)
    np.testing.assert_allclose(c, [[0.0, -1.0], [0.0, 1.0]], atol=1e-6)


def test_fit_novelty_keeps_the_asked_share_and_needs_features():
    rng = np.random.default_rng(0)
    k, u, train_y, _, _, _, feats, logits, zsl = _world(rng)
    rule = fit_novelty(feats["train"], train_y, feats["held"], 0.9)
    assert isinstance(rule, Novelty) and rule.held_out == len(feats["held"]) and rule.to_dict()["classes"] == k
    assert abs((~rule.is_unseen(None, None, feats["held"])).mean() - 0.9) < 0.01
    with pytest.raises(ValueError, match="feats"):
        rule.is_unseen(zsl(feats["held"]), logits(feats["held"]))
    with pytest.raises(ValueError, match="keep_rate"):
        fit_novelty(feats["train"], train_y, feats["held"], 0.0)


def test_novelty_tells_unseen_clips_that_a_confident_head_hides():
    """The seen head is as confident on unseen clips as on seen ones, so calibrated stacking cannot tell them apart
    at a keep rate of 0.9; the distance to the seen classes can, and stacking+novelty keeps that."""
    rng = np.random.default_rng(1)
    k, u, train_y, held_y, seen_y, unseen_y, feats, logits, zsl = _world(rng)
    x = np.concatenate([feats["seen"], feats["unseen"]])
    truth = np.concatenate([seen_y, unseen_y])
    seen_ids, unseen_ids = tuple(range(k)), tuple(range(k, k + u))
    h = feats["held"]
    rules = {
        "stacking": fit_stacking(zsl(h), logits(h), held_y, 0.9),
        "novelty": fit_novelty(feats["train"], train_y, h, 0.9),
        "stacking+novelty": fit_stacking_novelty(zsl(h), logits(h), held_y, h, feats["train"], train_y, 0.9),
    }
    got = {n: gzsl_scores(r, zsl(x), logits(x), truth, seen_ids, unseen_ids, x) for n, r in rules.items()}
    assert got["novelty"]["H"] > 0.8 and got["stacking+novelty"]["H"] > 0.8, got
    assert got["novelty"]["H"] > got["stacking"]["H"] + 0.1, got
    assert isinstance(rules["stacking+novelty"], StackingNovelty)
    assert abs((~rules["stacking+novelty"].is_unseen(zsl(h), logits(h), h)).mean() - 0.9) < 0.01


def test_best_keep_rate_by_hand():
    seen_stat = np.linspace(0.0, 1.0, 101)  # quantile r of these is r
    unseen_stat = np.full(50, 0.7)
    ok_s, ok_u = np.ones(101, bool), np.ones(50, bool)
    rate, h = best_keep_rate(seen_stat, ok_s, unseen_stat, ok_u)
    # every unseen clip is above gamma while gamma < 0.7: the best rate keeps the most seen clips below 0.7
    assert rate == pytest.approx(0.69) and h == pytest.approx(2 * 0.70 / 1.70, abs=0.01)


def test_middle_of_best_takes_the_middle_of_a_tie():
    assert middle_of_best([0.1, 0.5, 0.5, 0.5, 0.2]) == 2
    assert middle_of_best([0.5, 0.5, 0.1, 0.5, 0.5]) == 1  # the lower middle of the tied values, wherever they are
    assert middle_of_best([0.3, 0.9, 0.2]) == 1
    assert middle_of_best([float("nan"), 0.4, 0.4, 0.1]) == 1  # a NaN (no sample on a side) is never chosen
    assert middle_of_best([float("inf"), 0.4, 0.2]) == 1  # nor an infinite one
    for nothing in ([], [float("nan")] * 3):
        with pytest.raises(ValueError, match="no finite score"):
            middle_of_best(nothing)


def test_best_keep_rate_takes_the_middle_of_a_plateau_not_its_edge():
    """A validation set of 11 seen clips gives runs of keep rates one H (6 December 2026: the first of them was
    taken, the edge of the plateau)."""
    seen_stat = np.linspace(0.0, 1.0, 11)
    unseen_stat = np.full(20, 2.0)  # above every gamma: U = 1 whatever the rate
    ok_s, ok_u = np.ones(11, bool), np.ones(20, bool)
    rates = tuple(float(r) for r in np.round(np.arange(0.90, 0.995, 0.01), 2))  # gamma in [0.9, 1.0): S = 10 / 11
    rate, h = best_keep_rate(seen_stat, ok_s, unseen_stat, ok_u, rates)
    assert h == pytest.approx(2 * (10 / 11) / (1 + 10 / 11))
    assert rate == pytest.approx(0.94)


def test_knn_distance_reads_the_kth_nearest_training_feature():
    bank = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    x = np.array([[1.0, 0.0], [1.0, 1.0]])
    one = SeenDistance("knn", np.zeros(2), np.ones(2), bank, k=1)
    two = SeenDistance("knn", np.zeros(2), np.ones(2), bank, k=2)
    np.testing.assert_allclose(one(x), [0.0, 1 - np.sqrt(0.5)])
    np.testing.assert_allclose(two(x), [1.0, 1 - np.sqrt(0.5)])
    assert knn_neighbours(40) == 1 and knn_neighbours(1000) == 10


def test_mahalanobis_distance_by_hand_and_its_point():
    c = np.array([[0.0, 0.0], [4.0, 0.0]])
    d = SeenDistance("mahalanobis", np.zeros(2), np.ones(2), c, precision=np.diag([1.0, 4.0]))
    np.testing.assert_allclose(d(np.array([[1.0, 0.0], [3.0, 1.0]])), [1.0, 5.0])
    # fitted: the classes spread along the first axis only, so a step across it is far, one along it is not
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 200)
    x = np.stack([rng.normal(0, 3.0, 400), rng.normal(0, 0.1, 400)], 1) + np.array([[0.0, 0.0], [0.0, 2.0]])[labels]
    fitted = fit_seen_distance(x, labels, "mahalanobis")
    along, across = fitted(np.array([[3.0, 0.0]])), fitted(np.array([[0.0, 1.0]]))
    assert across[0] > 10 * along[0], (along, across)


@pytest.mark.parametrize("distance", NOVELTY_DISTANCES)
def test_every_distance_tells_unseen_clips_apart(distance):
    rng = np.random.default_rng(1)
    k, u, train_y, held_y, seen_y, unseen_y, feats, logits, zsl = _world(rng)
    x = np.concatenate([feats["seen"], feats["unseen"]])
    truth = np.concatenate([seen_y, unseen_y])
    rule = fit_novelty(feats["train"], train_y, feats["held"], 0.9, distance)
    both = fit_stacking_novelty(
        zsl(feats["held"]), logits(feats["held"]), held_y, feats["held"], feats["train"], train_y, 0.9, distance
    )
    for r in (rule, both):
        got = gzsl_scores(r, zsl(x), logits(x), truth, tuple(range(k)), tuple(range(k, k + u)), x)
        assert got["H"] > 0.8, (distance, got)
        assert r.to_dict()["distance"] == distance
    assert rule.to_dict()["classes"] == k
    with pytest.raises(ValueError, match="novelty distance"):
        fit_seen_distance(feats["train"], train_y, "cosine")


def test_the_default_distance_is_the_class_mean_statistic():
    """``centroid`` is the rule as it was before the other distances: the cosine distance of the standardised
    feature to the nearest unit class mean (:func:`novelty_statistic` on :func:`seen_class_centroids`)."""
    rng = np.random.default_rng(3)
    k, u, train_y, _, _, _, feats, _, _ = _world(rng)
    x = np.concatenate([feats["seen"], feats["unseen"]])
    rule = fit_novelty(feats["train"], train_y, feats["held"], 0.9)
    want = novelty_statistic(x, *seen_class_centroids(feats["train"], train_y))
    np.testing.assert_allclose(rule.statistic(x), want, rtol=1e-12, atol=1e-12)
    assert rule.gamma == pytest.approx(np.quantile(novelty_statistic(feats["held"], *seen_class_centroids(
        feats["train"], train_y)), 0.9))  # fmt: skip
