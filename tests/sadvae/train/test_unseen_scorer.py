"""Unseen-class scorers of `sadvae benchmark zsl`: SA-DVAE, ConSE over the frozen NTU backbone's own classifier,
and their convex mix, with every free number chosen on the validation run's pseudo-unseen classes only.

Fast tests: the fusion arithmetic, the validation-only choice (a test that fails if test labels steer it), and
the whole run on the synthetic frozen backbone of ``test_protocol_pretrained`` with fake NTU logits.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sadvae.errors import ConfigError
from sadvae.evaluate import (
    CONSE_KS,
    CONSE_TAUS,
    FUSION_WEIGHTS,
    UnseenScorer,
    choose_unseen_scorer,
    conse_similarity,
    softmax,
)
from sadvae.train.protocol import ExperimentConfig, make_split, prepare_features, run_variant

from .test_protocol_pretrained import CLASSES, _cfg, _dataset, fake_backbone  # noqa: F401 - the fixture


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_conse_similarity_is_the_cross_dataset_conse():
    from sadvae.train.cross_dataset import conse_scores

    rng = np.random.default_rng(0)
    probs = softmax(rng.normal(0, 2, (7, 12)))
    vocab, labels = _unit(rng.normal(0, 1, (12, 5))), _unit(rng.normal(0, 1, (3, 5)))
    for k in (1, 4, 12, 50):
        assert np.allclose(conse_similarity(probs, vocab, labels, k), conse_scores(probs, vocab, labels, k))


def test_fusion_is_a_convex_mix_of_the_two_branches():
    rng = np.random.default_rng(1)
    p_sad = softmax(rng.normal(0, 1, (6, 3)))
    logits, vocab, labels = rng.normal(0, 3, (6, 10)), _unit(rng.normal(0, 1, (10, 4))), _unit(rng.normal(0, 1, (3, 4)))
    p_con = softmax(conse_similarity(softmax(logits), vocab, labels, 5), 0.05)
    assert np.array_equal(UnseenScorer("sadvae").probs(p_sad), p_sad)  # the published scorer needs no NTU logits
    assert np.allclose(UnseenScorer("fused", 5, 0.05, 0.0).probs(p_sad, logits, vocab, labels), p_sad)
    assert np.allclose(UnseenScorer("conse", 5, 0.05, 1.0).probs(p_sad, logits, vocab, labels), p_con)
    mix = UnseenScorer("fused", 5, 0.05, 0.3).probs(p_sad, logits, vocab, labels)
    assert np.allclose(mix, 0.7 * p_sad + 0.3 * p_con) and np.allclose(mix.sum(1), 1.0)
    with pytest.raises(ValueError, match="trained-class logits"):
        UnseenScorer("fused", 5, 0.05, 0.3).probs(p_sad)
    with pytest.raises(ValueError, match="unknown"):
        UnseenScorer("nearest")


def test_matched_labels_take_the_backbone_probability_of_the_classes_they_name():
    from sadvae.evaluate import matched_probs

    p_sad = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    logits = np.log(np.array([[0.6, 0.3, 0.1, 0.0 + 1e-9], [0.1, 0.1, 0.1, 0.7]]))
    match = np.zeros((3, 4), bool)
    match[0, 0] = True  # label 0 names trained class 0; labels 1, 2 name nothing
    q = softmax(logits)
    out = matched_probs(p_sad, logits, match)
    rest = 1 - q[:, :1]  # the backbone's mass on classes no label names, spread over every label by SA-DVAE
    assert np.allclose(out[:, 0], q[:, 0] + rest[:, 0] * p_sad[:, 0])  # the named label: its class's probability
    assert np.allclose(out[:, 1:], rest * p_sad[:, 1:])
    assert np.allclose(out.sum(1), 1.0)
    assert np.allclose(matched_probs(p_sad, logits, np.zeros((3, 4), bool)), p_sad)  # nothing named: SA-DVAE
    match[1, 1] = True
    match[2, 2] = True
    every = matched_probs(p_sad, logits, match)  # every label named: their masses, the unnamed class's by SA-DVAE
    assert np.allclose(every, q[:, :3] + q[:, 3:] * p_sad)
    # sample 0: class 0 (0.6) wins; sample 1: the backbone's 0.7 on the unnamed class 3 goes mostly to label 2
    sc, _ = choose_unseen_scorer("matched", p_sad, logits, np.array([0, 2]), None, None, val_label_match=match)
    assert (sc.kind, sc.weight) == ("matched", 0.0) and sc.val_zsl == 1.0
    with pytest.raises(ValueError, match="matches"):
        UnseenScorer("matched").probs(p_sad, logits)


def _branches(rng, n_per=20, labels=3, conse_right=True, sadvae_right=False):
    """Validation-like inputs: NTU class j names label j; each branch right or confused as asked."""
    truth = np.repeat(np.arange(labels), n_per)
    vocab = _unit(rng.normal(0, 1, (labels + 4, 16)))
    label_emb = vocab[:labels]
    target = truth if conse_right else (truth + 1) % labels
    logits = rng.normal(0, 0.3, (len(truth), len(vocab)))
    logits[np.arange(len(truth)), target] += 6.0
    s_target = truth if sadvae_right else rng.integers(0, labels, len(truth))
    p_sad = np.full((len(truth), labels), 0.2)
    p_sad[np.arange(len(truth)), s_target] = 0.6
    return p_sad / p_sad.sum(1, keepdims=True), logits, truth, vocab, label_emb


def test_choice_follows_the_validation_data_only():
    rng = np.random.default_rng(2)
    # validation: ConSE right, SA-DVAE guessing -> the mix leans on ConSE
    p, lg, y, vocab, lab = _branches(rng, conse_right=True, sadvae_right=False)
    fused, grid = choose_unseen_scorer("fused", p, lg, y, vocab, lab)
    assert fused.weight > 0.5 and fused.val_zsl == 1.0
    assert len(grid) == len(CONSE_KS) * len(CONSE_TAUS) * len(FUSION_WEIGHTS)
    assert fused.val_zsl == max(r["val_zsl"] for r in grid)
    # validation: SA-DVAE right, ConSE confused -> the mix leans on SA-DVAE
    p2, lg2, y2, _, _ = _branches(rng, conse_right=False, sadvae_right=True)
    fused2, _ = choose_unseen_scorer("fused", p2, lg2, y2, vocab, lab)
    assert fused2.weight < 0.5 and fused2.val_zsl == 1.0
    # the conse scorer always has weight 1, sadvae 0, and both report their validation accuracy
    conse, grid_c = choose_unseen_scorer("conse", p2, lg2, y2, vocab, lab)
    assert conse.weight == 1.0 and conse.val_zsl == 0.0 and len(grid_c) == len(CONSE_KS) * len(CONSE_TAUS)
    sad, _ = choose_unseen_scorer("sadvae", p2, lg2, y2, vocab, lab)
    assert (sad.kind, sad.weight, sad.val_zsl) == ("sadvae", 0.0, 1.0)


def test_one_standard_error_rule_prefers_the_better_calibrated_near_tie():
    rng = np.random.default_rng(4)
    p, lg, y, vocab, lab = _branches(rng, n_per=10, conse_right=True, sadvae_right=False)
    by_acc, grid = choose_unseen_scorer("fused", p, lg, y, vocab, lab, selection="accuracy")
    by_1se, grid_1se = choose_unseen_scorer("fused", p, lg, y, vocab, lab, selection="1se")
    assert grid == grid_1se and (by_acc.selection, by_1se.selection) == ("accuracy", "1se")
    top = max(r["val_zsl"] for r in grid)
    se = np.sqrt(top * (1 - top) / len(y))
    near = [r for r in grid if r["val_zsl"] >= top - se - 1e-12]
    assert by_acc.val_zsl == top and by_acc.val_nll == min(r["val_nll"] for r in grid if r["val_zsl"] == top)
    assert by_1se.val_zsl >= top - se - 1e-12 and by_1se.val_nll == min(r["val_nll"] for r in near)
    with pytest.raises(ValueError, match="selection"):
        choose_unseen_scorer("fused", p, lg, y, vocab, lab, selection="test")


def _ntu_logits(sf, split, wrong_on_test: bool):
    """Fake NTU-120 logits (NTU class j = dataset class j): right everywhere, or pointing every TEST unseen clip at
    another unseen class."""
    rng = np.random.default_rng(3)
    unseen = list(split.unseen)
    out = {}
    for name, y in sf.labels.items():
        target = np.array(y)
        if wrong_on_test and name == "test_unseen":
            target = np.array([unseen[(unseen.index(c) + 1) % len(unseen)] for c in y])
        lg = rng.normal(0, 0.3, (len(y), CLASSES)).astype(np.float32)
        lg[np.arange(len(y)), target] += 6.0
        out[name] = lg
    return out


def test_run_variant_chooses_the_mix_on_validation_never_on_test(tmp_path, fake_backbone):  # noqa: F811
    ds = _dataset()
    cfg = replace(_cfg(tmp_path), unseen_scorers=("fused", "sadvae", "conse", "matched"))
    split = make_split(ds.class_names, cfg, 0)
    sf = prepare_features(ds, split, cfg, 0)
    assert sf.ntu_logits == {}  # the fake extractor has no classifier of its own
    text = _unit(np.random.default_rng(0).normal(0, 1, (CLASSES, 12)).astype(np.float32))
    runs = {}
    for wrong in (False, True):
        sf.ntu_logits = _ntu_logits(sf, split, wrong_on_test=wrong)
        runs[wrong] = run_variant(sf, text, "tc", cfg, trained_emb=text, trained_match=np.eye(CLASSES, dtype=bool))
    for r in runs.values():
        h = r["honest"]
        assert h["unseen_scorer"] == "fused" and set(h["by_scorer"]) == {"fused", "sadvae", "conse", "matched"}
        assert h["ZSL"] == h["by_scorer"]["fused"]["ZSL"]
        assert set(h["by_scorer"]["fused"]["by_combination"]) == {"stacking", "gate"}
        assert r["unseen_scorers"]["sadvae"]["scorer"]["weight"] == 0.0
    right, wrong = runs[False], runs[True]
    # ConSE is right on every validation pseudo-unseen clip, so the mix leans on it ...
    assert right["unseen_scorers"]["fused"]["scorer"]["weight"] > 0.5
    assert right["unseen_scorers"]["fused"]["scorer"]["val_zsl"] == 1.0
    # ... and stays there when ConSE is wrong on every TEST unseen clip: test data never steer the choice
    assert wrong["unseen_scorers"]["fused"]["scorer"] == right["unseen_scorers"]["fused"]["scorer"]
    assert wrong["unseen_scorers"]["conse"] == right["unseen_scorers"]["conse"]
    assert right["honest"]["by_scorer"]["conse"]["ZSL"] == 1.0
    assert wrong["honest"]["by_scorer"]["conse"]["ZSL"] == 0.0
    # every class names its own NTU class: the matched scorer is the NTU classifier, right or wrong as it is
    assert right["honest"]["by_scorer"]["matched"]["ZSL"] == 1.0
    assert wrong["honest"]["by_scorer"]["matched"]["ZSL"] == 0.0
    assert wrong["honest"]["ZSL"] < right["honest"]["ZSL"]


def test_ntu_scorers_need_a_frozen_backbone(tmp_path, fake_backbone):  # noqa: F811
    cfg = _cfg(tmp_path)
    with pytest.raises(ConfigError, match="frozen NTU backbone"):
        replace(cfg, frozen=None, unseen_scorers=("fused",))
    with pytest.raises(ConfigError, match="unseen_scorers"):
        replace(cfg, unseen_scorers=("sadvae", "sadvae"))
    with pytest.raises(ConfigError, match="unseen_scorers"):
        ExperimentConfig("msr_action3d", 2, unseen_scorers=())
    # the fake backbone has no classifier of its own: asking for ConSE says so instead of scoring garbage
    ds = _dataset()
    cfg = replace(cfg, unseen_scorers=("conse",))
    sf = prepare_features(ds, make_split(ds.class_names, cfg, 0), cfg, 0)
    text = _unit(np.random.default_rng(0).normal(0, 1, (CLASSES, 12)).astype(np.float32))
    with pytest.raises(ConfigError, match="own classifier"):
        run_variant(sf, text, "tc", cfg, trained_emb=text)


def test_cli_unseen_scorer_flag(tmp_path):
    from sadvae.cli import build_parser
    from sadvae.cli.train import FROZEN_DEFAULT_SCORERS

    p = build_parser()
    args = p.parse_args(["benchmark", "zsl", "--dataset", "msr_action3d", "--out", str(tmp_path)])
    assert args.unseen_scorer is None and FROZEN_DEFAULT_SCORERS[0] == "matched"
    args = p.parse_args(
        ["benchmark", "zsl", "--dataset", "msr_action3d", "--unseen-scorer", "sadvae", "fused", "--out", "o"]
    )
    assert args.unseen_scorer == ["sadvae", "fused"]
    with pytest.raises(SystemExit):
        p.parse_args(["benchmark", "zsl", "--dataset", "x", "--unseen-scorer", "nearest", "--out", "o"])


def test_benchmark_report_lists_every_scorer_beside_the_headline(tmp_path):
    from sadvae.train.benchmark import aggregate, render_markdown

    cfg = replace(_cfg(tmp_path), unseen_scorers=("fused", "sadvae"))

    def scored(zsl, h, kind, w):
        comb = {g: {"S": 0.5, "U": 0.4, "H": h, "gate_unseen_rate": 0.5} for g in ("stacking", "gate")}
        sc = {"kind": kind, "k": 5, "tau": 0.1, "weight": w, "val_zsl": 0.5, "val_nll": 1.0, "selection": "1se"}
        return {"ZSL": zsl, "S": 0.5, "U": 0.4, "H": h, "by_combination": comb, "scorer": sc}

    splits = []
    for seed, (zf, zs) in enumerate(((0.6, 0.4), (0.8, 0.6))):
        honest = scored(zf, 0.45, "fused", 0.3) | {
            "by_scorer": {"fused": scored(zf, 0.45, "fused", 0.3), "sadvae": scored(zs, 0.3, "sadvae", 0.0)}
        }
        splits.append(
            {"seed": seed, "unseen_names": ["a"], "backbone_seen_acc": 0.9, "variants": {"tc": {"honest": honest}}}
        )
    report = aggregate(splits, cfg)
    by = report["by_scorer"]["honest"]["tc"]
    assert by["fused"]["ZSL"]["mean"] == pytest.approx(0.7) and by["sadvae"]["ZSL"]["mean"] == pytest.approx(0.5)
    assert by["sadvae"]["stacking"]["H"]["mean"] == pytest.approx(0.3) and by["fused"]["n"] == 2
    assert report["table"]["honest"]["tc"]["ZSL"]["mean"] == pytest.approx(0.7)  # the headline is the first scorer
    from dataclasses import asdict

    report.update(dataset="msr_action3d", encoder_id="e", num_classes=8, seconds=60.0, machine="m", config=asdict(cfg))
    md = render_markdown(report)
    assert "Unseen-class scorer of the headline numbers: `fused`" in md and "chosen on the validation split" in md
    assert "| tc | SA-DVAE + NTU ConSE, mixed | 70.0 ± 10.0 |" in md and "5, 0.1, 0.3; 5, 0.1, 0.3" in md
    assert "| tc | SA-DVAE (published) | 50.0 ± 10.0 |" in md
    assert "BatchNorm statistics" not in md
    # the headline S / U / H name their GZSL combination (the first of --gzsl); the heading spoke of the gate whatever
    # they were until 7 December 2026 (the training audit)
    first = report["config"]["gzsl"][0]
    assert f"S / U / H: `{first}`, " in md and "(the first of `--gzsl`;" in md
    assert "gate temperature and threshold" not in md
    report["config"]["frozen"] = {"name": "shiftgcn-ntu120", "window": 64, "stride": 32, "batchnorm": "own"}
    assert "BatchNorm statistics (`--batchnorm own`): re-estimated per split on the seen" in render_markdown(report)


# ----------------------------------------------------------------------------- synthesised classifiers (synth)


def test_synthesis_is_the_ridge_regression_from_text_to_the_seen_classifiers():
    from sadvae.evaluate import synthesis_weights, synthesized_logits

    rng = np.random.default_rng(5)
    seen_emb, label_emb = _unit(rng.normal(0, 1, (7, 16))), _unit(rng.normal(0, 1, (3, 16)))
    w, b = rng.normal(0, 1, (7, 9)), rng.normal(0, 1, 7)  # the seen classes' classifiers in a 9-d feature space
    lam = 0.3
    xa = np.c_[seen_emb, np.ones(7)]  # primal ridge, intercept not shrunk
    a = xa.T @ xa + lam * np.eye(17)
    a[-1, -1] -= lam
    primal = np.c_[label_emb, np.ones(3)] @ np.linalg.solve(a, xa.T @ np.c_[w, b])  # [3, 10] predicted (w | b)
    x = rng.normal(0, 1, (5, 9))
    seen_logits = x @ w.T + b
    expected = x @ primal[:, :-1].T + primal[:, -1]
    assert np.allclose(synthesized_logits(seen_logits, seen_emb, label_emb, lam), expected)
    weights = synthesis_weights(seen_emb, label_emb, lam)
    assert weights.shape == (7, 3) and np.allclose(weights.sum(0), 1.0)
    # a per-window constant in the seen logits (a log-softmax) shifts every label alike
    shifted = synthesized_logits(seen_logits - rng.normal(0, 5, (5, 1)), seen_emb, label_emb, lam)
    assert np.allclose(softmax(shifted), softmax(expected))
    # strong ridge: every label the mean seen classifier; weak ridge: a seen class's own name gives its classifier
    assert np.allclose(synthesis_weights(seen_emb, label_emb, 1e9), 1 / 7)
    own = synthesis_weights(seen_emb, seen_emb[[2]], 1e-8)[:, 0]
    assert np.allclose(own, np.eye(7)[2], atol=1e-5)
    with pytest.raises(ValueError, match="> 0"):
        synthesis_weights(seen_emb, label_emb, 0.0)
    with pytest.raises(ValueError, match="share d"):
        synthesis_weights(seen_emb, label_emb[:, :4], 0.1)


def test_synth_scorers_read_the_seen_head_and_matched_labels_the_trained_classes():
    from sadvae.evaluate import matched_probs, synthesized_logits

    rng = np.random.default_rng(6)
    seen_emb, label_emb = _unit(rng.normal(0, 1, (6, 8))), _unit(rng.normal(0, 1, (3, 8)))
    head, ntu = rng.normal(0, 2, (4, 6)), rng.normal(0, 3, (4, 10))
    p_sad = softmax(rng.normal(0, 1, (4, 3)))
    synth = UnseenScorer("synth", tau=0.5, lam=0.1)
    p = synth.probs(p_sad, seen_logits=head, seen_emb=seen_emb, label_emb=label_emb)
    assert np.allclose(p, softmax(synthesized_logits(head, seen_emb, label_emb, 0.1), 0.5))  # SA-DVAE not read
    match = np.zeros((3, 10), bool)
    match[1, 4] = True
    both = UnseenScorer("synth-matched", tau=0.5, lam=0.1).probs(p_sad, ntu, None, label_emb, match, head, seen_emb)
    assert np.allclose(both, matched_probs(p, ntu, match))
    with pytest.raises(ValueError, match="seen-class head"):
        synth.probs(p_sad, label_emb=label_emb)
    assert synth.to_dict()["lam"] == 0.1


def test_synth_choice_scores_the_whole_grid_on_the_validation_samples_it_is_given():
    from sadvae.evaluate import SYNTH_LAMBDAS, SYNTH_TAUS

    rng = np.random.default_rng(7)
    seen_emb = _unit(rng.normal(0, 1, (8, 12)))
    label_emb = _unit(seen_emb[:3] + rng.normal(0, 0.05, (3, 12)))  # pseudo-unseen names close to seen ones
    truth = np.repeat(np.arange(3), 6)
    head = rng.normal(0, 0.3, (len(truth), 8))
    head[np.arange(len(truth)), truth] += 4.0  # the seen head fires on the seen class whose name is near
    p_sad = softmax(rng.normal(0, 1, (len(truth), 3)))
    sc, grid = choose_unseen_scorer(
        "synth", p_sad, np.zeros((len(truth), 0)), truth, None, label_emb, val_seen_logits=head, val_seen_emb=seen_emb
    )
    assert len(grid) == len(SYNTH_LAMBDAS) * len(SYNTH_TAUS) and sc.kind == "synth"
    assert sc.val_zsl == max(r["val_zsl"] for r in grid) == 1.0 and sc.lam in SYNTH_LAMBDAS


def test_run_variant_measures_synth_with_a_backbone_trained_here(tmp_path, fake_backbone):  # noqa: F811
    ds = _dataset()
    cfg = replace(_cfg(tmp_path), unseen_scorers=("synth", "sadvae"))
    assert replace(cfg, frozen=None).unseen_scorers == ("synth", "sadvae")  # synth needs no NTU classifier
    with pytest.raises(ConfigError, match="frozen NTU backbone"):
        replace(cfg, frozen=None, unseen_scorers=("synth-matched",))
    split = make_split(ds.class_names, cfg, 0)
    sf = prepare_features(ds, split, cfg, 0)
    text = _unit(np.random.default_rng(0).normal(0, 1, (CLASSES, 12)).astype(np.float32))
    h = run_variant(sf, text, "tc", cfg)["honest"]
    assert h["unseen_scorer"] == "synth" and set(h["by_scorer"]) == {"synth", "sadvae"}
    assert h["scorer"]["kind"] == "synth" and h["scorer"]["lam"] > 0 and 0.0 <= h["ZSL"] <= 1.0


def test_synth_reads_the_seen_head_columns_in_the_order_of_their_classes(tmp_path, monkeypatch, fake_backbone):  # noqa: F811
    """Each unseen class is the twin of a seen class: the same features and the same name. The synthesised classifier
    of an unseen name is then its twin's, so ZSL is near perfect, and only if the class texts are lined up with
    the seen-class head's logit columns: with the texts shuffled among the seen classes it falls."""
    from .test_protocol_pretrained import DIM, FakeExtractor

    ds = _dataset()
    cfg = replace(_cfg(tmp_path), unseen_scorers=("synth",))
    split = make_split(ds.class_names, cfg, 0)
    seen = list(split.seen)
    twin = {u: seen[k] for k, u in enumerate(split.unseen)}

    class Twins(FakeExtractor):
        def __call__(self, seqs):
            centres = np.random.default_rng(0).normal(0, 3, (CLASSES, DIM))
            for u, s in twin.items():
                centres[u] = centres[s]
            out = [
                centres[s.label] + 0.3 * np.random.default_rng(abs(hash(s.source)) % 2**32).normal(0, 1, DIM)
                for s in seqs
            ]
            return np.asarray(out, np.float32), np.zeros((len(seqs), 0), np.float32)

    monkeypatch.setattr("sadvae.features.ShiftGCNExtractor", Twins)  # over the fixture's (which sets 1 thread)
    sf = prepare_features(ds, split, cfg, 0)
    text = _unit(np.random.default_rng(1).normal(0, 1, (CLASSES, 12)).astype(np.float32))
    for u, s in twin.items():
        text[u] = text[s]
    right = run_variant(sf, text, "tc", cfg)["honest"]["ZSL"]
    shuffled = text.copy()
    shuffled[seen] = text[np.roll(seen, 1)]  # the seen classes' texts one column off; the unseen names unchanged
    wrong = run_variant(sf, shuffled, "tc", cfg)["honest"]["ZSL"]
    assert right >= 0.9 and wrong < right - 0.3
