"""Calibrated stacking for GZSL in `sadvae benchmark zsl` (issue 14 item 3): fitted on held-out windows of
the final model, with the keep rate chosen on the validation run (numpy only, fast)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from sadvae.data.record import Dataset
from sadvae.data.splits import random_split
from sadvae.errors import ConfigError
from sadvae.evaluate import (
    Gate,
    Stacking,
    choose_keep_rate,
    fit_stacking,
    gzsl_scores,
    softmax,
    stacking_statistic,
)
from sadvae.train.protocol import ExperimentConfig, final_holdout, split_partition


def _backbone(n, k, truth, sharp, rng, confident=True):
    """Seen-class logits: peaked on the truth column for seen samples (``confident``), flat-ish otherwise."""
    z = rng.normal(0, 1, (n, k))
    if confident:
        z[np.arange(n), truth] += 3.0
    return sharp * z


def _zsl(n, u, truth, rng, confident):
    z = rng.normal(0, 1, (n, u))
    if confident:
        z[np.arange(n), truth] += 3.0
    return softmax(z)


def _model(rng, sharp, n=300, k=6, u=3):
    """(held-out seen, test seen, test unseen) outputs of one model; ``sharp`` scales its logits."""
    out = []
    for seen in (True, True, False):
        t_seen, t_unseen = rng.integers(0, k, n), rng.integers(0, u, n)
        lg = _backbone(n, k, t_seen, sharp, rng, confident=seen)
        pz = _zsl(n, u, t_unseen, rng, confident=not seen)
        out.append((pz, lg, t_seen if seen else t_unseen))
    return out


def test_fit_stacking_keeps_the_asked_share_of_held_out_seen_windows():
    rng = np.random.default_rng(0)
    (pz, lg, t), _, _ = _model(rng, sharp=1.0)
    st = fit_stacking(pz, lg, t, keep_rate=0.9)
    kept = ~st.is_unseen(pz, lg)
    assert abs(kept.mean() - 0.9) < 0.01
    assert st.held_out == len(t) and 0.002 <= st.temperature <= 50
    np.testing.assert_array_equal(st.prob_unseen(pz, lg) > 0.5, st.is_unseen(pz, lg))
    with pytest.raises(ValueError, match="keep_rate"):
        fit_stacking(pz, lg, t, keep_rate=0.0)


def test_stacking_refits_on_the_final_model_where_the_validation_gate_does_not_transfer():
    """The validation run's backbone is soft (logits x1), the final one sharp (x4). The keep rate chosen on
    the validation run, re-fitted on the final model's held-out windows, keeps H high; a gate fitted on
    the validation backbone and applied unchanged to the final one loses the seen side or the unseen side."""
    rng = np.random.default_rng(1)
    (vs_z, vs_l, vs_t), _, (vu_z, vu_l, vu_t) = _model(rng, sharp=1.0)
    rate, val_h = choose_keep_rate(vs_z, vs_l, vs_t, vu_z, vu_t, vu_l)
    assert 0.5 <= rate <= 0.99 and val_h > 0.7
    (h_z, h_l, h_t), (s_z, s_l, s_t), (u_z, u_l, u_t) = _model(rng, sharp=4.0)
    k, u = h_l.shape[1], u_z.shape[1]
    seen_ids, unseen_ids = tuple(range(k)), tuple(range(k, k + u))
    pz, lg = np.concatenate([s_z, u_z]), np.concatenate([s_l, u_l])
    truth = np.concatenate([s_t, u_t + k])
    stacked = gzsl_scores(fit_stacking(h_z, h_l, h_t, rate), pz, lg, truth, seen_ids, unseen_ids)
    assert stacked["H"] > 0.7, stacked
    # the same rule with the validation backbone's gamma, applied to the sharper final backbone, is worse
    frozen = fit_stacking(vs_z, vs_l, vs_t, rate)
    transferred = gzsl_scores(Stacking(frozen.temperature, frozen.gamma, rate), pz, lg, truth, seen_ids, unseen_ids)
    assert stacked["H"] > transferred["H"] + 0.05, (stacked, transferred)
    gate = Gate(1.0, 0.5, 3, np.array([10.0, 0.0, 0.0, -10.0, 0.0, 0.0]), 0.0)  # both rules, one scorer
    assert set(gzsl_scores(gate, pz, lg, truth, seen_ids, unseen_ids)) == set(stacked)


def test_stacking_statistic_by_hand():
    pz = np.array([[0.5, 0.5], [0.9, 0.1]])
    lg = np.log(np.array([[0.25, 0.75], [0.5, 0.5]]))
    np.testing.assert_allclose(stacking_statistic(pz, lg, 1.0), [np.log(0.5 / 0.75), np.log(0.9 / 0.5)])


def test_experiment_config_names_the_combinations():
    assert ExperimentConfig("msr_action3d", 5).gzsl == ("gate",)  # training keeps round 1's gate
    with pytest.raises(ConfigError, match="gzsl"):
        ExperimentConfig("msr_action3d", 5, gzsl=("vote",))


def _fake_dataset(subjects=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), classes=8, per=2):
    seqs = [  # each clip's own joints: the protocol compares test clips with training clips (7 December 2026)
        SimpleNamespace(label=c, subject=s, view=1, joints=np.full((2, 1, 25, 3), k, np.float32))
        for k, (s, c, _) in enumerate((s, c, e) for s in subjects for c in range(classes) for e in range(per))
    ]
    return Dataset("msr_action3d", tuple(f"c{i}" for i in range(classes)), seqs)  # type: ignore[arg-type]


def test_final_holdout_takes_the_validation_groups_from_the_final_training_set():
    ds = _fake_dataset()
    split = random_split(8, 2, seed=0)
    part = split_partition(ds, "msr_action3d", split, 0.2, seed=0)
    held = final_holdout(ds, "msr_action3d", part, 0.2, seed=0)
    subj = np.array([s.subject for s in ds.sequences])
    held_subjects = set(subj[part.train[held]])
    assert held_subjects == set(subj[part.val_seen])  # whole subjects, the validation run's held-out ones
    assert 0 < len(held) < len(part.train)
    assert set(subj[np.delete(part.train, held)]).isdisjoint(held_subjects)
