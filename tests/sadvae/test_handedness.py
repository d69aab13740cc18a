"""Handedness pooling (sadvae/head/handedness.py and HeadCore's ``mirror``): a window and its mirror image alike."""

from __future__ import annotations

import numpy as np
import pytest

from sadvae.head import HeadCalibration, HeadCore, ZeroShotScorer, mirror_columns, mirror_name

# five trained classes, two of them a left/right pair
CLASSES = ("wave the left hand", "wave the right hand", "walk", "sit down", "touch the left elbow to the right knee")
# trained labels (by class) and new labels, two of the new ones a pair
LABELS = ("Wave the LEFT hand", "wave the right hand", "walking", "raise the left arm", "juggle", "raise the right arm")
LABEL_CLASSES = ((0,), (1,), (2,), (), (), ())
D = 6


def test_mirror_name_swaps_sides_and_keeps_case() -> None:
    assert mirror_name("wave the left hand") == "wave the right hand"
    assert mirror_name("Touch the Left elbow to the right knee") == "Touch the Right elbow to the left knee"
    assert mirror_name("LEFT") == "Right" and mirror_name("leftover rightly") == "leftover rightly"


def test_mirror_columns_pairs_sides_and_is_an_involution() -> None:
    names = [*CLASSES, "walk", "WAVE  the right hand"]  # repeats keep themselves beyond the first
    m = mirror_columns(names)
    assert m.tolist() == [1, 0, 2, 3, 4, 5, 6]
    np.testing.assert_array_equal(m[m], np.arange(len(names)))
    assert mirror_columns([]).tolist() == []


def _core(combine="stacking", centroids=True, reject=True) -> HeadCore:
    from sadvae.evaluate import Gate

    rng = np.random.default_rng(0)
    proto = rng.normal(size=(3, D))
    scorer = ZeroShotScorer("cosine", proto, np.zeros(3), scale=10.0)
    cal = HeadCalibration(
        seen_temperature=1.5,
        reject_zs_a=4.0,
        reject_zs_b=-1.0,
        stack_distance=1.0 if centroids else 0.0,
        centroids=tuple(map(tuple, rng.normal(size=(len(CLASSES), D)))) if centroids else (),
    )
    return HeadCore(
        LABELS,
        LABEL_CLASSES,
        len(CLASSES),
        D,
        scorer,
        cal,
        combine,
        Gate(1.0, 0.5, 2, rng.normal(size=4) * 3, 0.2) if combine == "gate" else None,
        reject=reject,
        class_mirror=mirror_columns(CLASSES),
    )


@pytest.mark.parametrize(("combine", "centroids"), [("stacking", True), ("stacking", False), ("gate", False)])
def test_a_window_and_its_mirror_image_score_alike_through_the_mirror_labels(combine: str, centroids: bool) -> None:
    """Pooled, a window scores label l as its mirror image scores mirror(l): left- and right-handed alike."""
    core, rng = _core(combine, centroids=centroids), np.random.default_rng(1)
    a = (rng.normal(size=(7, D)), rng.normal(size=(7, len(CLASSES))) * 3)
    b = (rng.normal(size=(7, D)), rng.normal(size=(7, len(CLASSES))) * 3)
    ab, ba = core(*a, mirror=b), core(*b, mirror=a)
    flip = mirror_columns(LABELS)
    assert flip.tolist() == [1, 0, 2, 5, 4, 3]
    np.testing.assert_allclose(ab.probs, ba.probs[:, flip], atol=1e-12)
    np.testing.assert_allclose(ab.p_action, ba.p_action, atol=1e-12)
    np.testing.assert_allclose(ab.p_unseen, ba.p_unseen, atol=1e-12)
    np.testing.assert_allclose(ab.probs.sum(axis=1), 1.0)
    assert not np.allclose(ab.probs, core(*a).probs)  # the mirror image changes the scores


def test_pooling_is_the_mean_of_the_window_and_its_mirror_read_through_the_mirror_classes() -> None:
    """Trained labels only: each label's probability is the mean of both views' (mirror classes for the mirror)."""
    names, classes = ("wave the left hand", "wave the right hand", "walk"), ((0,), (1,), (2, 3))
    core = HeadCore(names, classes, len(CLASSES), D, reject=False, class_mirror=mirror_columns(CLASSES))
    rng = np.random.default_rng(2)
    lg, lg_m = rng.normal(size=(5, len(CLASSES))), rng.normal(size=(5, len(CLASSES)))
    z = rng.normal(size=(5, D))
    p, p_m = (np.exp(x) / np.exp(x).sum(axis=1, keepdims=True) for x in (lg, lg_m))
    pooled = 0.5 * (p + p_m[:, [1, 0, 2, 3, 4]])  # the mirror image's "right" counts for the window's "left"
    want = np.stack([pooled[:, 0], pooled[:, 1], pooled[:, 2] + pooled[:, 3]], axis=1)
    want /= want.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(core(z, lg, mirror=(z, lg_m)).probs, want, atol=1e-12)
    # a symmetric window (its mirror image scores the mirror classes the same) keeps its scores
    np.testing.assert_allclose(core(z, lg, mirror=(z, lg[:, [1, 0, 2, 3, 4]])).probs, core(z, lg).probs, atol=1e-12)


@pytest.mark.parametrize(("combine", "centroids"), [("stacking", True), ("gate", False)])
def test_a_mirror_image_scored_alone_is_the_window_read_through_the_mirror_labels(
    combine: str, centroids: bool
) -> None:
    """``mirrored=True`` scores windows as mirror images, alone (scripts/probe_handedness_adaptive.py): the same
    windows read that way score each label as they score its mirror label."""
    core, rng = _core(combine, centroids=centroids), np.random.default_rng(5)
    a = (rng.normal(size=(6, D)), rng.normal(size=(6, len(CLASSES))) * 3)
    flip = mirror_columns(LABELS)
    alone, mirrored = core(*a), core(*a, mirrored=True)
    np.testing.assert_allclose(mirrored.probs, alone.probs[:, flip], atol=1e-12)  # its "left" is the window's "right"
    np.testing.assert_allclose(mirrored.p_action, alone.p_action, atol=1e-12)
    with pytest.raises(ValueError, match="mirrored"):
        core(*a, mirror=a, mirrored=True)


def test_bad_mirror_inputs_and_tables_are_refused() -> None:
    core = _core()
    z, lg = np.zeros((2, D)), np.zeros((2, len(CLASSES)))
    with pytest.raises(ValueError, match="2 windows but 3 mirror images"):
        core(z, lg, mirror=(np.zeros((3, D)), np.zeros((3, len(CLASSES)))))
    with pytest.raises(ValueError, match="expected latent"):
        core(z, lg, mirror=(np.zeros((2, D + 1)), lg))
    with pytest.raises(ValueError, match="permutation"):
        HeadCore(("walk",), ((2,),), len(CLASSES), D, class_mirror=[0, 0, 2, 3, 4])


def test_the_mirror_image_is_compared_with_the_mirror_classes_centroids() -> None:
    """A mixed list with only "wave the left hand" trained: a left-hand wave (latent at its class centroid) and its
    mirror image (at the right-hand wave's centroid) are both at distance 0 from what is listed."""
    eye = np.eye(D)
    centroids = np.vstack([eye[0], eye[1], np.random.default_rng(3).normal(size=(len(CLASSES) - 2, D))])
    cal = HeadCalibration(stack_distance=2.0, centroids=tuple(map(tuple, centroids)))
    scorer = ZeroShotScorer("cosine", eye[2:3], np.zeros(1))  # "juggle": orthogonal to both waves, near = 0 alike
    core = HeadCore(
        ("wave the left hand", "juggle"), ((0,), ()), len(CLASSES), D, scorer, cal, class_mirror=mirror_columns(CLASSES)
    )
    lg = np.array([[3.0, 0.5, 0.0, 0.0, 0.0]])
    alone, pooled = core(eye[:1], lg), core(eye[:1], lg, mirror=(eye[1:2], lg[:, [1, 0, 2, 3, 4]]))
    np.testing.assert_allclose(pooled.p_unseen, alone.p_unseen, atol=1e-12)
    np.testing.assert_allclose(pooled.probs, alone.probs, atol=1e-12)


def test_the_pooled_calibration_is_read_for_pooling_and_shares_the_centroids(tmp_path) -> None:
    from sadvae.head import read_calibration, write_calibration

    centroids = ((1.0, 0.0), (0.0, 1.0))
    cal = HeadCalibration(reject_seen_a=1.0, stack_distance=1.0, centroids=centroids, model_id="m", source="single")
    pooled = HeadCalibration(reject_seen_a=2.0, stack_gamma=0.5, model_id="m", source="pooled")
    path = write_calibration(tmp_path / "model.head.json", cal, pooled)
    one, both = read_calibration(path, "m"), read_calibration(path, "m", "pool")
    assert (one.reject_seen_a, one.stack_gamma, one.source) == (1.0, 0.0, "single (model.head.json)")
    assert (both.reject_seen_a, both.stack_gamma, both.source) == (2.0, 0.5, "pooled (model.head.json)")
    assert both.centroids == centroids and both.uses_distance is False  # pooled's own weight: 0
    only = write_calibration(tmp_path / "old.head.json", cal)  # a file without one: the single-window calibration
    assert read_calibration(only, "m", "pool") == read_calibration(only, "m")
    with pytest.raises(ValueError, match="centroids"):
        write_calibration(tmp_path / "bad.head.json", cal, HeadCalibration(centroids=((0.5, 0.5), (0.5, 0.5))))


def test_a_pooled_fit_reads_the_mirror_images_through_the_mirror_classes() -> None:
    """Windows that say nothing (zero logits) and mirror images that name their class's mirror: pooled, the fit
    separates listed from unlisted windows; without the mirror images it barely can."""
    from sadvae.head.fit import evaluate_calibration, fit_head_calibration

    k, d, rng = 6, 4, np.random.default_rng(0)
    class_mirror = np.array([1, 0, 3, 2, 5, 4])  # every class has a mirror partner
    protos = rng.normal(size=(k, d)).astype(np.float32)
    truth = np.repeat(np.arange(k), 60)
    latent = (protos[truth] + rng.normal(size=(len(truth), d)) * 0.5).astype(np.float32)
    logits = np.zeros((len(truth), k))
    m_logits = 6.0 * np.eye(k)[class_mirror[truth]] + rng.normal(size=(len(truth), k))
    mirror = (latent, m_logits, class_mirror)
    pooled, _ = fit_head_calibration(latent, logits, truth, protos, n_lists=60, mirror=mirror)
    single, _ = fit_head_calibration(latent, logits, truth, protos, n_lists=60)
    ev = evaluate_calibration(pooled, latent, logits, truth, protos, n_lists=60, mirror=mirror)["trained"]
    assert ev["kept"] > 0.9 and ev["false_accept"] < 0.1, ev
    alone = evaluate_calibration(single, latent, logits, truth, protos, n_lists=60)["trained"]
    # zero logits: only the list's size tells listed from unlisted windows
    assert alone["kept"] - alone["false_accept"] < ev["kept"] - ev["false_accept"] - 0.5, (alone, ev)


def test_the_pooled_fit_reads_what_the_pooled_head_reads() -> None:
    """For one list of trained labels, the fit's pooled listed mass and nearest cosine give the live head's p_action."""
    from sadvae.head.fit import window_statistics

    rng, k = np.random.default_rng(4), len(CLASSES)
    protos = rng.normal(size=(k, D)).astype(np.float32)
    lat, lat_m = rng.normal(size=(2, 9, D)).astype(np.float32)
    lg, lg_m = rng.normal(size=(2, 9, k)) * 2
    cal = HeadCalibration(
        seen_temperature=1.7,
        reject_seen_a=1.3,
        reject_seen_b=0.4,
        reject_seen_margin=0.7,  # the live margin is the one the fit reads
        reject_zs_a=3.0,
        reject_zs_b=-1.0,
    )
    listed = np.array([0, 2, 4])  # "wave the left hand" listed without its mirror class
    mirror = (lat_m, lg_m, mirror_columns(CLASSES))
    st = window_statistics(lat, lg, np.zeros(9, int), protos, [listed], cal.seen_temperature, mirror)
    trained = HeadCore(
        [CLASSES[c] for c in listed], [(c,) for c in listed], k, D, calibration=cal, class_mirror=mirror[2]
    )
    np.testing.assert_allclose(
        trained(lat, lg, (lat_m, lg_m)).p_action, cal.p_action_seen(st["mass"], st["margin"]), atol=1e-12
    )
    scorer = ZeroShotScorer("cosine", protos[listed], np.zeros(len(listed)), scale=cal.zs_scale)
    new = HeadCore(["a", "b", "c"], [(), (), ()], k, D, scorer, cal, class_mirror=mirror[2])
    np.testing.assert_allclose(new(lat, lg, (lat_m, lg_m)).p_action, cal.p_action_new(st["near"]), atol=1e-6)
