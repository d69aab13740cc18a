"""Labels taught by example: prototypes, their scores and their mix with the other labels (numpy core)."""

from __future__ import annotations

import numpy as np
import pytest

from sadvae.head import HeadCalibration
from sadvae.head.core import HeadScores
from sadvae.head.examples import ExamplePrototypes, mix_with_examples, unit_rows
from sadvae.labels import parse_labels_text

CAL = HeadCalibration(example_a=10.0, example_b=-7.0, example_temperature=0.1)


def _prototypes(rng, names=("a", "b", "c"), k=12, windows=3) -> tuple[ExamplePrototypes, dict]:
    centres = {n: rng.normal(size=k) * 3 for n in names}
    wins = {n: centres[n] + rng.normal(size=(windows, k)) * 0.3 for n in names}
    return ExamplePrototypes.from_windows(wins, {n: 1 for n in names}), wins


def test_a_prototype_is_the_unit_mean_of_its_unit_windows() -> None:
    w = np.array([[3.0, 0.0], [0.0, 1.0]])
    p = ExamplePrototypes.from_windows({"x": w})
    assert np.allclose(p.prototypes[0], unit_rows(np.array([0.5, 0.5])))
    assert p.windows == (2,) and p.clips == (0,) and len(p) == 1


@pytest.mark.parametrize("seed", range(5))
def test_every_taught_label_wins_on_its_own_examples(seed) -> None:
    rng = np.random.default_rng(seed)
    names = tuple(f"action {i}" for i in range(int(rng.integers(2, 9))))
    protos, wins = _prototypes(rng, names)
    for j, n in enumerate(names):
        sim = protos.similarity(wins[n])
        r = mix_with_examples(sim, range(len(names)), None, (), CAL, reject=True)
        assert (r.top == j).all()
        assert np.allclose(r.probs.sum(axis=1), 1.0)
        assert np.allclose(r.scores, r.probs * r.p_action[:, None])


def test_with_latents_the_similarity_is_the_mean_of_the_two_cosines() -> None:
    logits = {"a": np.array([[1.0, 0.0, 0.0], [1.0, 0.2, 0.0]]), "b": np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.1]])}
    latents = {"a": np.array([[0.0, 2.0], [0.1, 2.0]]), "b": np.array([[3.0, 0.0], [3.0, 0.3]])}
    p = ExamplePrototypes.from_windows(logits, None, latents)
    assert p.latent_prototypes.shape == (2, 2) and np.allclose(np.linalg.norm(p.latent_prototypes, axis=1), 1.0)
    z, lat = np.array([[1.0, 0.1, 0.0]]), np.array([[1.0, 0.0]])  # logits like "a", latent like "b"
    expected = 0.5 * (unit_rows(z) @ p.prototypes.T + unit_rows(lat) @ p.latent_prototypes.T)
    assert np.allclose(p.similarity(z, lat), expected)
    assert np.allclose(p.select(["b"]).similarity(z, lat), expected[:, [1]])
    with pytest.raises(ValueError, match="give the windows' latent"):
        p.similarity(z)
    with pytest.raises(ValueError, match="latent"):
        p.similarity(z, np.ones((1, 3)))
    with pytest.raises(ValueError, match="same windows"):
        ExamplePrototypes.from_windows(logits, None, {"a": latents["a"][:1], "b": latents["b"]})
    with pytest.raises(ValueError, match="every label"):
        ExamplePrototypes.from_windows(logits, None, {"a": latents["a"]})
    # without latents the logits' cosine alone, as prototypes made before 5 December 2026 compare
    assert np.allclose(ExamplePrototypes.from_windows(logits).similarity(z), unit_rows(z) @ p.prototypes.T)


def test_no_action_reads_the_best_cosine_through_the_curve() -> None:
    protos = ExamplePrototypes.from_windows({"a": np.array([[1.0, 0.0, 0.0]]), "b": np.array([[0.0, 1.0, 0.0]])})
    windows = np.array([[1.0, 0.05, 0.0], [0.0, 0.0, 1.0]])  # like "a"; like neither
    r = mix_with_examples(protos.similarity(windows), (0, 1), None, (), CAL, reject=True)
    assert r.p_action[0] > 0.9 and r.p_action[1] < 0.01
    assert r.no_action.tolist() == [False, True]
    off = mix_with_examples(protos.similarity(windows), (0, 1), None, (), CAL, reject=False)
    assert (off.p_action == 1).all() and not off.no_action.any()


def test_taught_and_other_labels_share_one_scale() -> None:
    protos = ExamplePrototypes.from_windows({"mine": np.array([[1.0, 0.0]])})
    windows = np.array([[1.0, 0.0], [0.0, 1.0]])  # the taught action; something else
    n = len(windows)
    rest = HeadScores(
        probs=np.array([[0.7, 0.3], [0.9, 0.1]]),
        top=np.array([0, 0]),
        is_new=np.array([False, True]),
        p_unseen=None,
        off_label=np.array([0.1, 0.1]),
        p_action=np.array([0.5, 0.5]),
        no_action=np.zeros(n, bool),
        scores=np.zeros((n, 2)),
    )
    r = mix_with_examples(protos.similarity(windows), (1,), rest, (0, 2), CAL, reject=True)
    assert np.allclose(r.probs.sum(axis=1), 1.0)
    assert r.top.tolist() == [1, 0]  # the taught label where its action is, the others' best elsewhere
    assert r.is_new.tolist() == [False, True]  # a taught label is not a zero-shot one; else the others' flag
    assert r.probs[1, 1] < 0.01 and np.isclose(r.probs[1, 0] / r.probs[1, 2], 9.0)
    # P(one of my labels) of a mixed list is the likelier kind's: a taught action is not diluted by the other head's
    # doubt, as the mean of the two did (docs/head.md section 8, mixed lists)
    a_taught = CAL.p_action_examples(protos.similarity(windows).max(axis=1))
    assert np.allclose(r.p_action, np.maximum(a_taught, rest.p_action))
    # the taught labels' share weighs each kind's claim by its best label too (one taught label: its p is 1)
    q_taught, q_named = a_taught * 1.0, rest.p_action * rest.probs.max(axis=1)
    assert np.allclose(r.probs[:, 1], q_taught / (q_taught + q_named))
    assert r.p_action[0] > 0.9 and np.allclose(r.scores, r.probs * r.p_action[:, None])


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="different widths"):
        ExamplePrototypes.from_windows({"a": np.ones((1, 3)), "b": np.ones((1, 4))})
    with pytest.raises(ValueError, match="finite"):
        ExamplePrototypes.from_windows({"a": np.zeros((0, 3))})
    p = ExamplePrototypes.from_windows({"a": np.ones((1, 3))})
    with pytest.raises(ValueError, match="seen_logits"):
        p.similarity(np.ones((2, 4)))
    with pytest.raises(ValueError, match="split the label positions"):
        mix_with_examples(np.ones((1, 1)), (1,), None, (), CAL, True)  # one label, at position 1
    with pytest.raises(Exception, match="example_temperature"):
        HeadCalibration(example_temperature=0.0)


def test_a_label_subset_is_a_label_set_of_its_own() -> None:
    labels = parse_labels_text("walk\nmy clap | hands together twice\nmy kick\n")
    assert labels.subset(range(3)).sha256 == labels.sha256
    sub = labels.subset([2, 0])
    assert sub.names == ("my kick", "walk") and sub.descriptions == (None, None)
    assert sub.sha256 == parse_labels_text("my kick\nwalk\n").sha256


def test_recalibrating_a_model_keeps_its_taught_labels_constants(tmp_path) -> None:
    pytest.importorskip("torch")
    import json

    from sadvae.hashing import file_sha256
    from sadvae.head.calibration import calibration_path, read_calibration
    from sadvae.train.default_shiftgcn import _write_calibrations

    bundle = tmp_path / "model.pt"
    bundle.write_bytes(b"weights")
    path = calibration_path(bundle)
    old = {"model_id": file_sha256(bundle), "example_a": 3.5, "example_b": -2.0, "example_temperature": 0.05}
    path.write_text(json.dumps({**old, "fit_example_curve": {"command": "python scripts/fit_example_curve.py"}}))
    _write_calibrations(bundle, HeadCalibration(stack_gamma=1.0), None)
    cal = read_calibration(path)
    assert (cal.example_a, cal.example_b, cal.example_temperature, cal.stack_gamma) == (3.5, -2.0, 0.05, 1.0)
    path.write_text(json.dumps({**old, "model_id": "another model"}))
    _write_calibrations(bundle, HeadCalibration(), None)
    assert read_calibration(path).example_a == HeadCalibration().example_a  # fitted on another model: not kept


def test_with_no_action_off_a_window_far_from_every_example_still_goes_to_the_others() -> None:
    protos = ExamplePrototypes.from_windows({"mine": np.array([[1.0, 0.0]])})
    far = np.array([[-0.9, 0.1]])
    rest = HeadScores(
        probs=np.array([[0.9, 0.1]]),
        top=np.array([0]),
        is_new=np.array([False]),
        p_unseen=np.array([0.4]),
        off_label=None,
        p_action=np.ones(1),  # the other head with "no action" off
        no_action=np.zeros(1, bool),
        scores=np.array([[0.9, 0.1]]),
    )
    r = mix_with_examples(protos.similarity(far), (0,), rest, (1, 2), CAL, reject=False)
    assert r.top.tolist() == [1] and r.probs[0, 0] < 1e-3
    assert r.p_action.tolist() == [1.0] and not r.no_action.any()
    assert 0.399 < r.p_unseen[0] <= 0.4  # the other head's new-label weight, scaled by its share


def _clustered_windows(rng, per_label: int, labels: int = 3, k: int = 12, d: int = 8):
    """Windows of ``labels`` actions: logits and latents around one centre per action (truth [N])."""
    truth = np.repeat(np.arange(labels), per_label)
    logits = rng.normal(size=(labels, k))[truth] * 3 + rng.normal(size=(len(truth), k))
    latent = rng.normal(size=(labels, d))[truth] * 3 + rng.normal(size=(len(truth), d))
    return truth, logits, latent


def test_self_teaching_makes_a_noisy_heads_labels_consistent() -> None:
    from sadvae.head.examples import self_taught_prototypes

    rng = np.random.default_rng(0)
    truth, logits, latent = _clustered_windows(rng, 40)
    wrong = rng.random(len(truth)) < 0.35  # the head is wrong on about a third of the windows, and less sure there
    guess = np.where(wrong, (truth + 1) % 3, truth)
    scores = np.full((len(truth), 3), 0.05)
    scores[np.arange(len(truth)), guess] = np.where(
        wrong, rng.uniform(0.3, 0.6, len(truth)), rng.uniform(0.4, 0.9, len(truth))
    )
    protos = self_taught_prototypes(scores, logits, latent, np.arange(len(truth)) // 10, ["a", "b", "c"], 0.1)
    assert protos.self_taught and protos.names == ("a", "b", "c")
    got = protos.similarity(logits, latent).argmax(1)
    assert (guess == truth).mean() < 0.7 and (got == truth).mean() > 0.95
    assert sum(protos.windows) <= len(truth) and all(c >= 1 for c in protos.clips)


def test_a_label_no_window_goes_to_is_not_self_taught_and_bad_input_is_refused() -> None:
    from sadvae.head.examples import self_taught_prototypes

    rng = np.random.default_rng(1)
    truth, logits, latent = _clustered_windows(rng, 10, labels=2)
    scores = np.zeros((len(truth), 3))
    scores[np.arange(len(truth)), truth] = 0.9  # "c" never wins
    protos = self_taught_prototypes(scores, logits, latent, np.zeros(len(truth), int), ["a", "b", "c"], 0.1)
    assert protos.names == ("a", "b") and protos.clips == (1, 1)
    assert protos.select(["b"]).self_taught
    with pytest.raises(ValueError, match="scores"):
        self_taught_prototypes(scores[:, :2], logits, latent, truth, ["a", "b", "c"], 0.1)
    with pytest.raises(ValueError, match="keep"):
        self_taught_prototypes(scores, logits, latent, truth, ["a", "b", "c"], 0.1, keep=0.0)


def test_surest_share_keeps_the_surest_part_of_each_labels_windows() -> None:
    from sadvae.head.examples import surest_share

    scores = np.array([[0.9, 0.1], [0.6, 0.4], [0.7, 0.3], [0.2, 0.8], [0.5, 0.5]])
    kept = surest_share(scores, 0.5)
    assert sorted(kept) == [0, 1]
    assert kept[0].tolist() == [0, 2]  # of windows 0, 1, 2, 4 (a tie goes to the first label): the surest two
    assert kept[1].tolist() == [3]  # one window: kept, whatever the share
    assert sorted(surest_share(scores, 1.0)[0].tolist()) == [0, 1, 2, 4]
