from __future__ import annotations

import numpy as np
import pytest

from sadvae.evaluate import Gate, fit_gate, gate_features, gzsl_scores, harmonic_mean, softmax


def _outputs(n: int, confident_seen: bool, rng: np.random.Generator, k_seen: int = 6, k_unseen: int = 3):
    """Backbone logits are peaked for seen-class samples; zero-shot probabilities for unseen ones."""
    seen_logits = (
        rng.normal(0, 1, (n, k_seen)) + (6.0 if confident_seen else 0.5) * np.eye(k_seen)[rng.integers(0, k_seen, n)]
    )
    zsl = softmax(
        rng.normal(0, 1, (n, k_unseen))
        + (0.3 if confident_seen else 4.0) * np.eye(k_unseen)[rng.integers(0, k_unseen, n)]
    )
    return zsl, seen_logits


def test_gate_separates_seen_from_unseen_and_round_trips():
    rng = np.random.default_rng(0)
    zu, lu = _outputs(80, False, rng)
    zs, ls = _outputs(80, True, rng)
    gate = fit_gate(zu, lu, zs, ls, k=3)
    assert gate.val_accuracy > 0.9
    assert gate.is_unseen(zu, lu).mean() > 0.9 and gate.is_unseen(zs, ls).mean() < 0.1
    back = Gate.from_dict(gate.to_dict())
    np.testing.assert_allclose(back.prob_unseen(zu, lu), gate.prob_unseen(zu, lu))


def test_gate_threshold_is_the_middle_of_the_tied_thresholds():
    """Separable validation outputs: every threshold of the grid (0.25-0.74) gives balanced accuracy 1; the gate
    takes the middle one (0.49), not the grid's low end (0.25, before 6 December 2026)."""
    rng = np.random.default_rng(0)
    n, u, s = 40, 4, 6
    zu = np.eye(u)[rng.integers(0, u, n)] * 0.9 + 0.1 / u  # confident zero-shot, flat backbone
    lu = rng.normal(0, 0.1, (n, s))
    zs = np.full((n, u), 1.0 / u)  # flat zero-shot, confident backbone
    ls = np.eye(s)[rng.integers(0, s, n)] * 8.0
    gate = fit_gate(zu, lu, zs, ls, k=3)
    assert gate.val_accuracy == pytest.approx(1.0)
    assert gate.threshold == pytest.approx(0.49)


def test_gate_features_pad_when_fewer_classes_than_k():
    f = gate_features(np.array([[0.7, 0.3]]), np.array([[2.0, 0.0]]), 1.0, k=3)
    assert f.shape == (1, 6)
    np.testing.assert_allclose(f[0, :3], [0.7, 0.3, 0.0])


def test_gzsl_scores_by_hand():
    gate = Gate(1.0, 0.5, 2, np.array([10.0, 0.0, -10.0, 0.0]), 0.0)  # unseen iff zsl top-1 > backbone top-1
    seen_ids, unseen_ids = (0, 1), (2, 3)
    zsl = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5], [0.5, 0.5]])
    logits = np.array([[0.0, 0.0], [0.0, 0.0], [9.0, 0.0], [0.0, 9.0]])
    truth = np.array([2, 2, 0, 0])  # sample 1 is unseen but the zero-shot head picks class 3
    r = gzsl_scores(gate, zsl, logits, truth, seen_ids, unseen_ids)
    assert r["U"] == pytest.approx(0.5) and r["S"] == pytest.approx(0.5)
    assert r["H"] == pytest.approx(0.5) and r["gate_unseen_rate"] == pytest.approx(0.5)
    assert harmonic_mean(0.0, 0.0) == 0.0 and harmonic_mean(1.0, 0.5) == pytest.approx(2 / 3)


def test_gate_needs_enough_samples():
    """A ConfigError since 6 December 2026 (a ValueError reached `sadvae train zsl` users as a traceback, after both
    networks had trained): it names the counts and what to do."""
    from sadvae.errors import ConfigError

    z = np.full((3, 2), 0.5)
    with pytest.raises(ConfigError, match=r"at least 5 validation clips .* got 3 / 3; give the dataset more clips"):
        fit_gate(z, np.zeros((3, 2)), z, np.zeros((3, 2)), k=2)
