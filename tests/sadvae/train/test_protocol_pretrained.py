"""`sadvae benchmark zsl --backbone shiftgcn-ntu120`: the honest protocol on a frozen pretrained backbone.

Fast tests run on a synthetic dataset whose "backbone" is a fake extractor written through the real
per-clip feature cache; the slow test runs one MSR Action3D split on the real cached Shift-GCN features.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from sadvae.data.record import Dataset
from sadvae.errors import ConfigError
from sadvae.train.protocol import (
    ExperimentConfig,
    FrozenBackbone,
    choose_head_c,
    fit_seen_head,
    make_split,
    ntu_counterparts,
    prepare_features,
    run_variant,
    zsl_by_group,
)
from sadvae.train.zsl import ZSLTrainConfig

CLASSES = 8
DIM = 16


def _dataset(per=3):
    """MSR-like: 10 subjects (odd ones train), CLASSES classes, ``per`` clips per subject and class. Each clip's
    ``joints`` are its own (the protocol compares test clips with training clips since 7 December 2026)."""
    seqs = [
        SimpleNamespace(label=c, subject=s, view=1, source=f"a{c}_s{s}_e{e}", joints=_own_joints(s, c, e))
        for s in range(1, 11)
        for c in range(CLASSES)
        for e in range(per)
    ]
    return Dataset("msr_action3d", tuple(f"c{i}" for i in range(CLASSES)), seqs)  # type: ignore[arg-type]


def _own_joints(subject: int, label: int, take: int) -> np.ndarray:
    """A clip's joints, unlike every other clip's (only what the protocol compares: content identity)."""
    return np.full((2, 1, 25, 3), subject * 10_000 + label * 100 + take, np.float32)


class FakeExtractor:
    """A frozen 'backbone': a class-dependent mean plus noise, deterministic per clip; counts its calls."""

    calls = 0

    def __init__(self, weights, window=64, stride=32, batch_size=32, mirror=False):
        self.id, self.settings = "fake:0", {"window": window, "stride": stride}

    def __call__(self, seqs):
        FakeExtractor.calls += 1
        centres = np.random.default_rng(0).normal(0, 1, (CLASSES, DIM))
        out = []
        for s in seqs:
            rng = np.random.default_rng(abs(hash(s.source)) % 2**32)
            out.append(centres[s.label] + 0.3 * rng.normal(0, 1, DIM))
        return np.asarray(out, np.float32), np.zeros((len(seqs), 0), np.float32)


@pytest.fixture
def fake_backbone(monkeypatch):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: more threads only contend on the shared CI cores
    monkeypatch.setattr("sadvae.features.ShiftGCNExtractor", FakeExtractor)
    FakeExtractor.calls = 0
    yield FakeExtractor
    torch.set_num_threads(threads)


def _cfg(tmp_path, gzsl=("stacking", "gate")):
    frozen = FrozenBackbone(data_root=str(tmp_path), feature_dir=str(tmp_path / "features"), head_cs=(0.01, 1.0))
    zsl = ZSLTrainConfig(cycles=1, iters_per_cycle=5, samples_per_class=10, classifier_steps=10)
    return ExperimentConfig("msr_action3d", 2, split_seeds=(0,), variants=("tc",), zsl=zsl, gzsl=gzsl, frozen=frozen)


def test_frozen_backbone_trains_only_a_seen_head_chosen_on_validation(tmp_path, fake_backbone, monkeypatch):
    ds = _dataset()
    cfg = _cfg(tmp_path)
    split = make_split(ds.class_names, cfg, 0)
    fitted: list[tuple[np.ndarray, tuple[int, ...]]] = []
    fitted_x: list[np.ndarray] = []
    from sadvae.train import protocol

    real_fit = protocol.fit_seen_head

    def recording_fit(x, y, classes, c, seed=0):
        fitted.append((np.asarray(y).copy(), tuple(classes)))
        fitted_x.append(np.asarray(x).copy())
        return real_fit(x, y, classes, c, seed)

    monkeypatch.setattr(protocol, "fit_seen_head", recording_fit)
    sf = prepare_features(ds, split, cfg, 0)
    # heads: the C grid on the validation run (val_seen classes), then one validation and one main head
    assert [cl for _, cl in fitted] == [split.val_seen] * 2 + [split.val_seen, split.seen]
    for y, classes in fitted:  # never an unseen (or pseudo-unseen, for val) class
        assert set(np.unique(y)) == set(classes)

    def rows(*names: str) -> set[bytes]:  # each clip's feature row is its own (noise seeded by the clip)
        return {r.tobytes() for n in names for r in np.asarray(sf.feats[n], np.float32)}

    held_out = rows("test_seen", "test_unseen")
    for x in fitted_x[:3]:  # the validation run's heads: its training clips only, not its held-out seen clips
        assert not {r.tobytes() for r in x.astype(np.float32)} & (held_out | rows("val_seen", "val_unseen"))
        assert len(x) == len(sf.labels["val_train"])
    assert not {r.tobytes() for r in fitted_x[-1].astype(np.float32)} & held_out  # never a test-side clip
    assert len(fitted[-1][0]) == len(sf.labels["train"])  # the main head skips the stacking hold-out
    assert sf.logits["test_seen"].shape == (len(sf.labels["test_seen"]), len(split.seen))
    assert sf.logits["val_unseen"].shape[1] == len(split.val_seen)
    assert sf.info["head_C"] in (0.01, 1.0) and set(sf.info["head_val_acc_by_C"]) == {"0.01", "1"}
    assert sf.backbone_seen_acc > 0.9  # separable synthetic features: the head must learn them
    assert np.array_equal(sf.feats["test_unseen"].shape, (len(sf.labels["test_unseen"]), DIM))
    # the features came through the per-clip cache: a second split reads the file, extracting nothing
    calls = fake_backbone.calls
    prepare_features(ds, make_split(ds.class_names, cfg, 1), cfg, 1)
    assert fake_backbone.calls == calls and len(list((tmp_path / "features").glob("msr_action3d-*.npz"))) == 1


def test_frozen_run_variant_reports_gzsl_and_zsl_by_ntu_counterpart(tmp_path, fake_backbone):
    ds = _dataset()
    cfg = _cfg(tmp_path, gzsl=("stacking+novelty", "stacking", "novelty", "gate"))
    split = make_split(ds.class_names, cfg, 0)
    sf = prepare_features(ds, split, cfg, 0)
    sf.counterparts = {split.unseen[0]: "pretend NTU action"}
    text = np.random.default_rng(0).normal(0, 1, (CLASSES, 12)).astype(np.float32)
    r = run_variant(sf, text / np.linalg.norm(text, axis=1, keepdims=True), "tc", cfg)
    h = r["honest"]
    assert set(h["by_combination"]) == set(cfg.gzsl) and h["combination"] == "stacking+novelty"
    # the held-out rules each got a keep rate chosen on the validation run and were fitted on the held-out windows
    assert set(r["keep_rates"]) == {"stacking+novelty", "stacking", "novelty"}
    for name in r["keep_rates"]:
        rule = h["by_combination"][name]["rule"]
        assert rule["keep_rate"] == r["keep_rates"][name]["rate"] and rule["held_out"] == len(sf.labels["held"])
    groups = h["ZSL_by_ntu_counterpart"]
    n_unseen = len(sf.labels["test_unseen"])
    assert groups["ntu_counterpart"]["n"] + groups["no_counterpart"]["n"] == n_unseen
    assert groups["ntu_counterpart"]["n"] == int(np.sum(sf.labels["test_unseen"] == split.unseen[0]))
    hits = groups["ntu_counterpart"]["correct"] + groups["no_counterpart"]["correct"]
    assert abs(hits / n_unseen - h["ZSL"]) < 1e-9


def test_the_novelty_distance_reaches_both_fits_and_a_bad_one_is_refused(tmp_path, fake_backbone, monkeypatch):
    from dataclasses import replace

    from sadvae.train import protocol

    asked: list[str] = []
    plain = protocol.held_out_rates

    def spy(*args, **kwargs):  # the validation run's keep rates are chosen with the same distance
        asked.append(args[7] if len(args) > 7 else kwargs.get("novelty_distance", "centroid"))
        return plain(*args, **kwargs)

    monkeypatch.setattr(protocol, "held_out_rates", spy)
    ds = _dataset()
    cfg = replace(_cfg(tmp_path, gzsl=("stacking+novelty", "novelty")), novelty_distance="knn")
    split = make_split(ds.class_names, cfg, 0)
    sf = prepare_features(ds, split, cfg, 0)
    text = np.random.default_rng(0).normal(0, 1, (CLASSES, 12)).astype(np.float32)
    h = run_variant(sf, text / np.linalg.norm(text, axis=1, keepdims=True), "tc", cfg)["honest"]
    assert {r["rule"]["distance"] for r in h["by_combination"].values()} == {"knn"}
    assert asked and set(asked) == {"knn"}
    with pytest.raises(ConfigError, match="novelty_distance"):
        replace(cfg, novelty_distance="cosine")
    with pytest.raises(ConfigError, match="drop one of the two"):
        replace(cfg, class_descriptions="described.txt", aux_datasets=("utkinect",))


def test_cached_rows_must_match_the_dataset(tmp_path, fake_backbone):
    from sadvae.train.protocol import frozen_clip_features

    cfg = _cfg(tmp_path)
    fs = frozen_clip_features(_dataset(per=3), "msr_action3d", cfg.frozen)
    assert len(fs.labels) == 10 * CLASSES * 3
    # the same cache key (same folder fingerprint), but the dataset read now has other clips
    with pytest.raises(ConfigError, match="do not match"):
        frozen_clip_features(_dataset(per=2), "msr_action3d", cfg.frozen)


def test_head_c_is_chosen_on_validation_accuracy():
    rng = np.random.default_rng(0)
    n, d = 60, 30
    y = np.repeat([3, 5], n // 2)
    x = rng.normal(0, 1, (n, d))
    x[:, 0] += np.where(y == 3, 1.0, -1.0)
    xv = rng.normal(0, 1, (100, d))
    yv = np.repeat([3, 5], 50)
    xv[:, 0] += np.where(yv == 3, 1.0, -1.0)
    grid = (1e-4, 1e-2, 1.0, 100.0)
    c, scores = choose_head_c(x, y, xv, yv, (3, 5), grid)
    for k in grid:  # each score is the validation accuracy of the head trained with that C
        acc = np.mean(np.array([3, 5])[fit_seen_head(x, y, (3, 5), k)(xv).argmax(1)] == yv)
        assert scores[f"{k:g}"] == pytest.approx(acc)
    assert scores[f"{c:g}"] == max(scores.values()) and c in grid
    c_flipped, _ = choose_head_c(x, y, xv, 8 - yv, (3, 5), grid)  # validation labels swapped: another choice
    assert scores[f"{c_flipped:g}"] == min(scores.values())
    lg = fit_seen_head(x, y, (5, 3), c)(xv)  # columns follow the classes tuple
    assert lg.shape == (100, 2) and np.mean(np.array([5, 3])[lg.argmax(1)] == yv) > 0.6
    with pytest.raises(ConfigError, match="cover"):
        fit_seen_head(x, y, (3, 5, 7), 1.0)


def test_linear_latent_logits_reach_the_classifier():
    from sadvae.train.zsl import train_sadvae

    rng = np.random.default_rng(0)
    x, y = rng.normal(0, 1, (20, 8)).astype(np.float32), np.repeat([0, 1], 10)
    text = rng.normal(0, 1, (4, 6)).astype(np.float32)
    for relu in (True, False):
        cfg = ZSLTrainConfig(cycles=1, iters_per_cycle=2, samples_per_class=5, classifier_steps=2, relu_logits=relu)
        (run,) = train_sadvae(x, y, text, (2, 3), cfg)
        assert run.classifier.relu_logits is relu


def test_ntu_counterparts_and_groups():
    ucla = ("pick up with one hand", "sit down", "drop trash", "throw")
    assert ntu_counterparts("nw_ucla", ucla) == {1: "sitting down", 3: "throw"}
    assert ntu_counterparts("msr_action3d", ("forward kick", "side kick")) == {1: "side kick"}
    assert ntu_counterparts("/some/clip/folder", ucla) == {}
    g = zsl_by_group(np.array([1, 1, 2, 3]), np.array([1, 2, 2, 3]), {2})
    assert g["ntu_counterpart"] == {"correct": 1, "n": 2, "acc": 0.5}
    assert g["no_counterpart"] == {"correct": 2, "n": 2, "acc": 1.0}
    with pytest.raises(ConfigError, match="frozen backbone"):
        FrozenBackbone(name="resnet")


def test_cli_backbone_flag(tmp_path, capsys):
    from sadvae.cli import build_parser
    from sadvae.cli.train import _frozen_backbone
    from sadvae.train.protocol import HEAD_CS

    p = build_parser()
    args = p.parse_args(["benchmark", "zsl", "--dataset", "msr_action3d", "--out", str(tmp_path)])
    assert args.backbone is None  # from scratch for the split protocols; cross-dataset maps None to shiftgcn
    args = p.parse_args(
        ["benchmark", "zsl", "--dataset", "msr_action3d", "--backbone", "shiftgcn-ntu120", "--out", str(tmp_path)]
    )
    fb = _frozen_backbone(args, tmp_path)
    assert (fb.weights, fb.window, fb.stride, fb.head_cs) == ("ntu120_xsub", 64, 32, HEAD_CS)
    args = p.parse_args(
        ["benchmark", "zsl", "--dataset", "x", "--backbone", "shiftgcn", "--head-c", "0.1", "1", "--out", "o"]
    )
    assert _frozen_backbone(args, tmp_path).head_cs == (0.1, 1.0)
    assert _frozen_backbone(args, tmp_path).batchnorm == "released"
    args = p.parse_args(
        ["benchmark", "zsl", "--dataset", "x", "--backbone", "shiftgcn", "--batchnorm", "own", "--out", "o"]
    )
    assert _frozen_backbone(args, tmp_path).batchnorm == "own"
    with pytest.raises(SystemExit):
        p.parse_args(["benchmark", "zsl", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "shiftgcn-ntu120" in out and "not zero-shot in the strict sense" in out and "--head-c" in out


@pytest.mark.slow
def test_msr_one_split_on_the_real_frozen_shiftgcn(shared_data, tmp_path):
    """One MSR split (seed 0, the round-1 unseen classes), tc, short SA-DVAE, real features (cached or extracted)."""
    from sadvae.cli.train import resolve_dataset
    from sadvae.models.pretrained import shiftgcn_weights_path
    from sadvae.train.protocol import class_text_embeddings

    weights = shiftgcn_weights_path("ntu120_xsub")
    if not weights.is_file():
        pytest.skip(f"{weights}: the released Shift-GCN weights are not there")
    ds, root, key = resolve_dataset("msr_action3d")
    # without the cache (a fresh clone, CI) prepare_features extracts the features first: ~10 min on 2 cores
    zsl = ZSLTrainConfig(cycles=2, iters_per_cycle=150, samples_per_class=200, classifier_steps=150)
    cfg = ExperimentConfig(
        key,
        5,
        (0,),
        ("tc",),
        zsl=zsl,
        gzsl=("stacking+novelty", "stacking", "novelty", "gate"),
        frozen=FrozenBackbone(data_root=str(root)),
    )
    split = make_split(ds.class_names, cfg, 0)
    assert [ds.class_names[c] for c in split.unseen] == [
        "hammer",
        "forward punch",
        "draw x",
        "forward kick",
        "pick up & throw",
    ]
    sf = prepare_features(ds, split, cfg, 0)
    assert sf.backbone_seen_acc > 0.7, sf.backbone_seen_acc  # frozen features + head (round-1 ST-GCN: 75 %)
    text, _ = class_text_embeddings(ds.class_names, cfg.text)
    r = run_variant(sf, text, "tc", cfg)["honest"]
    # 2 short cycles are too few for SA-DVAE to beat chance (the full run, 10 x 400: 47.8 %): check the plumbing
    groups = r["ZSL_by_ntu_counterpart"]
    assert groups["ntu_counterpart"]["n"] == 0 and groups["no_counterpart"]["n"] == len(sf.labels["test_unseen"])
    assert groups["no_counterpart"]["correct"] == round(r["ZSL"] * len(sf.labels["test_unseen"]))
    for rule in cfg.gzsl:  # every rule sends some, not all, test clips to the zero-shot branch
        assert 0.0 < r["by_combination"][rule]["gate_unseen_rate"] < 1.0 and r["by_combination"][rule]["H"] > 0
    assert sf.counterparts == {}  # none of this split's unseen classes is an NTU action in the class table


def test_a_rerun_with_another_novelty_distance_or_class_text_is_refused(tmp_path):
    """``--out`` resumes from finished splits; a split measured with another distance or class text is not reused."""
    import json
    from dataclasses import replace

    from sadvae.text import TextConfig
    from sadvae.train.benchmark import run_benchmark

    ds = _dataset()
    cfg = replace(_cfg(tmp_path), text=TextConfig(cache_dir=str(tmp_path / "text")))
    split = make_split(ds.class_names, cfg, 0)
    (tmp_path / "out" / "splits").mkdir(parents=True)
    done = {"split": {"unseen": list(split.unseen)}, "unseen_scorers": ["sadvae"], "aux_datasets": []}
    (tmp_path / "out" / "splits" / "seed0.json").write_text(json.dumps(done))
    with pytest.raises(ConfigError, match="novelty_distance 'centroid', not 'knn'"):
        run_benchmark(ds, replace(cfg, novelty_distance="knn"), tmp_path / "out")
    described = tmp_path / "described.txt"
    described.write_text("".join(f"{c} | a person does {c}\n" for c in ds.class_names), encoding="utf-8")
    with pytest.raises(ConfigError, match="class_descriptions None"):
        run_benchmark(ds, replace(cfg, class_descriptions=str(described)), tmp_path / "out")


def test_a_split_that_cannot_be_made_leaves_no_output_folder(tmp_path):
    """Review of the CLI: `benchmark zsl` made --out (and splits/) before the first seed's split refused the run."""
    from dataclasses import replace

    from sadvae.train.benchmark import run_benchmark

    cfg = replace(_cfg(tmp_path), num_unseen=4, split_seeds=(0, 1))  # 8 classes hold at most 3 unseen
    with pytest.raises(ConfigError, match="--unseen 4 is too many for 8 classes"):
        run_benchmark(_dataset(), cfg, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_rerun_with_any_other_setting_is_refused_not_relabelled(tmp_path):
    """A split file keeps every setting its results depend on (backbone, GZSL rules, variants, lengths...): a run
    with another one into the same --out is refused (until 6 December 2026 such a split was reused, and the report
    printed the new run's settings above the old numbers); machine-only settings (device, caches) do not count."""
    import json
    from dataclasses import replace

    from sadvae.text import TextConfig
    from sadvae.train.benchmark import resume_settings, run_benchmark

    ds = _dataset()
    cfg = replace(_cfg(tmp_path), text=TextConfig(cache_dir=str(tmp_path / "text")))
    split = make_split(ds.class_names, cfg, 0)
    (tmp_path / "out" / "splits").mkdir(parents=True)
    done = {"split": {"unseen": list(split.unseen)}, "unseen_scorers": list(cfg.unseen_scorers), "aux_datasets": []}
    done["settings"] = resume_settings(cfg)
    (tmp_path / "out" / "splits" / "seed0.json").write_text(json.dumps(done))
    with pytest.raises(ConfigError, match=r"other settings \(gzsl: \['stacking', 'gate'\] -> \['stacking'\]"):
        run_benchmark(ds, replace(cfg, gzsl=("stacking",)), tmp_path / "out")
    with pytest.raises(ConfigError, match="holdout_fraction: 0.2 -> 0.5"):
        run_benchmark(ds, replace(cfg, holdout_fraction=0.5), tmp_path / "out")
    # the same rules in another order (the default's order changed on 7 December 2026): the old one is named
    with pytest.raises(ConfigError, match=r"pass a new --out folder or resume it with --gzsl stacking gate$"):
        run_benchmark(ds, replace(cfg, gzsl=("gate", "stacking")), tmp_path / "out")
    moved = replace(cfg, text=replace(cfg.text, cache_dir=str(tmp_path / "elsewhere"), device="cuda"))
    assert resume_settings(moved) == resume_settings(cfg)


def test_own_batchnorm_statistics_read_only_the_seen_classes_training_clips(tmp_path, fake_backbone, monkeypatch):
    """--batchnorm own on a split protocol: the statistics' clips are the seen classes' training side, all of it,
    never an unseen class's clip or a test-side clip (the re-estimation itself: tests/sadvae/train/
    test_own_statistics.py)."""
    from dataclasses import replace

    from sadvae.train import protocol

    ds = _dataset()
    cfg = _cfg(tmp_path)
    cfg = replace(cfg, frozen=replace(cfg.frozen, batchnorm="own"))
    asked = []
    real = protocol.frozen_clip_features

    def spy(ds_, dataset, frozen, extractor=None, statistics=None):
        asked.append(statistics)
        return real(ds_, dataset, replace(frozen, batchnorm="released"), extractor)  # the fake has no BatchNorm

    monkeypatch.setattr(protocol, "frozen_clip_features", spy)
    labels = np.array([s.label for s in ds.sequences])
    train_side = np.array([s.subject % 2 == 1 for s in ds.sequences])  # MSR: odd subjects train
    words = []
    for seed in (0, 1):
        split = make_split(ds.class_names, cfg, seed)
        prepare_features(ds, split, cfg, seed)
        rows, text = asked[-1]
        want = np.flatnonzero(train_side & np.isin(labels, split.seen))
        assert np.array_equal(np.sort(rows), want)
        assert not np.isin(labels[rows], split.unseen).any()
        assert all(ds.class_names[c] in text for c in split.seen)
        assert not any(f"{ds.class_names[c]}," in text or f"{ds.class_names[c]};" in text for c in split.unseen)
        words.append(text)
    assert words[0] != words[1]  # each split its own statistics (and cache key)
    with pytest.raises(ConfigError, match="choose released or own"):
        FrozenBackbone(batchnorm="target")


def test_cli_refuses_own_statistics_without_a_frozen_backbone(shared_data, tmp_path, capsys):
    from sadvae.cli import main

    rc = main(["benchmark", "zsl", "--dataset", "msr_action3d", "--batchnorm", "own", "--out", str(tmp_path / "o")])
    assert rc != 0
    assert "--batchnorm own re-estimates a frozen backbone's statistics" in capsys.readouterr().err
    rc = main(["benchmark", "zsl", "--dataset", "msr_action3d", "--batchnorm", "target", "--out", str(tmp_path / "o")])
    assert rc != 0 and "--batchnorm target is for --protocol cross-dataset" in capsys.readouterr().err
