"""The packaged default model (recipe ``shiftgcn-v2``) and the round-1 recipe ``stgcn-v1``.

The packaged files (``sadvae/assets/default_model.{pt,onnx,head.json}``) are what ``scripts/train_default``
writes with its defaults; the round-1 recipe's merge table, balancing, augmentations and a small
end-to-end run stay tested here (it is the baseline and the ST-GCN default).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sadvae_tests_helpers import exec_by_path

from sadvae.data.preprocess import PreprocessConfig
from sadvae.data.record import Dataset, SkeletonSequence
from sadvae.errors import ConfigError
from sadvae.train.augment import EXTREMITIES, AugmentConfig, augmented_window
from sadvae.train.default_model import (
    CLASS_NAMES,
    DATASET_NAMES,
    MERGE_TABLE,
    balance_repeats,
    merge_datasets,
)

ROOT = Path(__file__).resolve().parents[3]
LABEL_FILES = ("everyday.txt", "fitness.txt", "gestures.txt")


def _official(ds: str) -> list[str]:
    return [name for _, members in MERGE_TABLE for d, name in members if d == ds]


def test_merge_table_covers_every_real_class_once(shared_data):
    from realtime.head.zero_shot import normalise_name

    folders = {"msr_action3d": "msr_action3d", "nw_ucla": "nw_ucla", "utkinect": "utkinect_action3d"}
    for ds, folder in folders.items():
        text = (shared_data / "skeleton_sets" / folder / "classes.txt").read_text()
        real = [line.split("\t")[1].strip() for line in text.splitlines() if line.strip()]
        assert sorted(_official(ds)) == sorted(real), ds
    assert len({normalise_name(n) for n in CLASS_NAMES}) == len(CLASS_NAMES) == 33
    merged = {name: [d for d, _ in members] for name, members in MERGE_TABLE if len(members) > 1}
    assert set(merged) == {"clap hands", "wave hands", "walk", "sit down", "stand up", "throw", "carry"}


def _synthetic(name: str, rng: np.random.Generator, per_class: int = 3) -> Dataset:
    """Random skeletons with the dataset's real class names and grouping (subjects 1-4 or views 1-3)."""
    classes = tuple(_official(name))
    seqs = []
    for label in range(len(classes)):
        for k in range(per_class):
            group = 1 + k % (3 if name == "nw_ucla" else 4)
            joints = rng.normal(size=(12, 1, 25, 3)).astype(np.float32)
            seqs.append(
                SkeletonSequence(
                    joints,
                    15.0,
                    f"{name}/{label}/{k}",
                    label=label,
                    subject=None if name == "nw_ucla" else group,
                    view=group if name == "nw_ucla" else None,
                )
            )
    return Dataset(name, classes, seqs)


def test_merge_datasets_maps_classes_and_holds_out_the_test_side():
    rng = np.random.default_rng(0)
    data = {n: _synthetic(n, rng) for n in DATASET_NAMES}
    merged = merge_datasets(data)
    assert len(merged.sequences) == sum(len(d.sequences) for d in data.values())
    for seq, label, d in zip(merged.sequences, merged.labels, merged.dataset, strict=True):
        ds = data[DATASET_NAMES[d]]
        assert (DATASET_NAMES[d], ds.class_names[seq.label]) in MERGE_TABLE[label][1]
    # held out: even subjects (MSR, UTKinect), view 3 (NW-UCLA)
    for seq, held in zip(merged.sequences, merged.holdout, strict=True):
        assert held == (seq.view == 3 if seq.view is not None else seq.subject % 2 == 0)
    assert merged.labels[merged.dataset == 2].tolist().count(CLASS_NAMES.index("walk")) == 3
    small = merge_datasets(data, limit_per_class=1)
    assert len(small.sequences) == 2 * sum(len(d.class_names) for d in data.values())  # one a class and side
    broken = dict(data, utkinect=Dataset("utkinect", ("walk", "moonwalk"), []))
    with pytest.raises(ConfigError, match=r"utkinect: classes \['moonwalk'\] are not in the default model"):
        merge_datasets(broken)


def test_balance_repeats_favours_rare_classes_with_a_cap():
    labels = np.array([0] * 100 + [1] * 25 + [2] * 4)
    rep = balance_repeats(labels, power=0.5, max_repeat=4)
    assert rep[0] == 1 and rep[100] == 2 and rep[-1] == 4  # sqrt(100/25) = 2; sqrt(100/4) = 5 -> capped at 4
    assert (balance_repeats(labels, power=0.0, max_repeat=4) == 1).all()


def test_extremity_jitter_and_window_constant_offset():
    rng = np.random.default_rng(0)
    joints = np.tile(rng.normal(size=(1, 1, 25, 3)).astype(np.float32), (40, 1, 1, 1))  # a still pose
    seq = SkeletonSequence(joints, 15.0, "still")
    pre = PreprocessConfig(persons=1)
    quiet = dict(yaw_deg=0, pitch_deg=0, scale=0, speed=0, drop_person=0, mirror=0)
    clean = augmented_window(seq, pre, AugmentConfig(jitter=0, **quiet), np.random.default_rng(1))
    noisy = (
        augmented_window(seq, pre, AugmentConfig(jitter=0.02, extremity_factor=3.0, **quiet), np.random.default_rng(1))
        - clean
    )
    body = [j for j in range(25) if j not in EXTREMITIES]
    ratio = noisy[:, :, list(EXTREMITIES)].std() / noisy[:, :, body].std()
    assert 2.5 < ratio < 3.5, ratio
    shifted = augmented_window(seq, pre, AugmentConfig(jitter=0, offset=0.05, **quiet), np.random.default_rng(1))
    delta = shifted - clean  # (3, T, 25, 1): one offset per joint, the same in every frame
    np.testing.assert_allclose(delta, np.broadcast_to(delta[:, :1], delta.shape), atol=1e-6)
    assert 0.02 < delta[:, 0].std() < 0.1
    rolled = augmented_window(seq, pre, AugmentConfig(jitter=0, roll_deg=30, **quiet), np.random.default_rng(1))
    np.testing.assert_allclose(np.linalg.norm(rolled, axis=0), np.linalg.norm(clean, axis=0), rtol=1e-5, atol=1e-6)
    assert not np.allclose(rolled, clean)


@pytest.mark.parametrize("name", LABEL_FILES)
def test_example_labels_files_parse_and_name_seen_classes(name):
    """The example labels files name mostly classes the packaged model was trained on (its class table), as
    the live head matches them without sentence embeddings (word-for-word names and their inflections).

    Round 1 checked exact names against the 33 round-1 classes and required at least two zero-shot labels
    per file (its seen/unseen gate needed two); the shiftgcn-v2 bundle has no gate (calibrated stacking), and
    names such as "jump" or "squat" that were zero-shot then are trained now ("jump up", "squat down")."""
    from realtime.head.labels import parse_labels
    from sadvae.head.matching import match_labels
    from sadvae.train.class_table import class_table

    path = ROOT / "labels" / name
    labels = parse_labels(path)
    vocab = class_table().names
    matched = match_labels(list(labels.names), vocab).matches
    hits = [m.label for m in matched if m.is_trained]
    new = [m.label for m in matched if not m.is_trained]
    assert len(hits) >= 6, hits
    assert len(new) <= len(hits), new
    header = path.read_text().splitlines()[:2]
    assert all(line.startswith("# ") for line in header) and "default model" in header[0]


def test_packaged_default_is_what_the_default_recipe_writes():
    """sadvae/assets/default_model.pt is recipe shiftgcn-v2 with its default settings (T=96, the measured live
    stride), its .head.json is the calibration that run fitted, and the package data stays small and holds
    no raw data."""
    pytest.importorskip("torch")
    from dataclasses import asdict

    from sadvae.assets import ASSETS_DIR, default_bundle_path
    from sadvae.bundle import LiveConfig, load_bundle
    from sadvae.hashing import file_sha256
    from sadvae.head.calibration import HeadCalibration, calibration_path, read_calibration
    from sadvae.train.class_table import class_table
    from sadvae.train.default_shiftgcn import LIVE_STRIDE, RECIPE, ShiftGCNDefaultConfig

    path = default_bundle_path()
    b = load_bundle(path)
    p = b.provenance
    assert p["recipe_name"] == RECIPE == "shiftgcn-v2"
    assert b.class_names == class_table().names and len(b.class_names) == 174 and b.unseen_classes == ()
    assert (b.preprocess.window, b.preprocess.fps, b.preprocess.normalization) == (96, 30.0, "ntu")
    assert b.live == LiveConfig(stride=LIVE_STRIDE, persons=1)
    assert b.terms["license"] == "CC-BY-NC-4.0" and "non-commercial" in b.terms["notice"]
    # every recipe setting is the default (paths, threads and the text cache are where it ran, not what it is)
    built, default = dict(p["config"]), json.loads(json.dumps(asdict(ShiftGCNDefaultConfig())))
    for k in ("out", "data_root", "feature_dir", "threads"):
        built.pop(k), default.pop(k)
    built["text"].pop("cache_dir"), default["text"].pop("cache_dir")
    built["zsl"].pop("device"), default["zsl"].pop("device")
    built["text"].pop("device"), default["text"].pop("device")
    # settings added to the recipe after the build (with defaults that keep the old behaviour) are not in it
    same = {k: {kk: default[k][kk] for kk in v} if isinstance(v, dict) else default[k] for k, v in built.items()}
    assert built == same
    # top-level settings added after the build must be listed here with the default that keeps the built behaviour
    added_since_build: dict = {}  # none since the rebuild of 6 December 2026 ("augment", "augment_copies" before)
    assert set(built) | set(added_since_build) == set(default)
    new = set(default) - set(built)
    assert {k: default[k] for k in new} == {k: added_since_build[k] for k in new}
    assert p["config"]["limit_per_class"] is None and set(p["datasets"]) == set(default["datasets"])
    cal = read_calibration(calibration_path(path), file_sha256(path))
    assert cal is not None and cal.source.startswith(f"{RECIPE}: inner-validation windows"), cal
    # the recipe's last step fitted the constants of labels taught by example (scripts/fit_example_curve.py)
    fitted = json.loads(calibration_path(path).read_text(encoding="utf-8"))["fit_example_curve"]
    assert fitted["datasets"].keys() == set(default["datasets"]) and fitted["seed"] == default["seed"]
    assert (cal.example_a, cal.example_b) != (HeadCalibration.example_a, HeadCalibration.example_b)
    # and the metrics file beside the bundle says so too (it held the built-in values until 6 December 2026, late)
    written = path.with_name(path.stem + ".metrics.json")
    if written.is_file():
        section = json.loads(written.read_text(encoding="utf-8"))["metrics"]["calibration"]["calibration"]
        assert (section["example_a"], section["example_b"]) == (cal.example_a, cal.example_b)
        assert section["fit_example_curve"] == fitted
    assert b.metrics["calibration"]["windows"] > 0 and b.metrics["recipe"] == RECIPE
    files = {f.name for f in ASSETS_DIR.iterdir() if f.is_file()}
    shipped = {"default_model.pt", "default_model.onnx", "default_model.head.json", "MODEL_CARD.md"}
    assert shipped <= files <= shipped | {"__init__.py", "default_model.metrics.json"}, files  # no raw data
    assert sum((ASSETS_DIR / f).stat().st_size for f in files) < 20e6


@pytest.mark.slow  # reads the five sets three times (mocap forward kinematics included): ~45 s of CPU
def test_int8_calibration_windows_come_from_the_packaged_models_data(shared_data):
    """INT8 calibration draws windows of the packaged model's own data, sides and preprocessing."""
    pytest.importorskip("torch")
    from sadvae.assets import default_bundle_path
    from sadvae.bundle import load_bundle
    from sadvae.engine.calibration_data import sample_windows, split_sequences

    b = load_bundle(default_bundle_path())
    train = sample_windows(b, data_root=shared_data, per_class=1, split="train", seed=3, model_id="packaged")
    assert train.windows.shape[1:] == (3, 96, 25, 1) and train.preprocess == b.live_preprocess
    assert train.class_names == b.class_names and len(train.class_counts()) == len(train)
    assert 60 <= len(train) <= 66  # the 12 NTU columns the sets map onto + the 54 extra columns
    val = {str(q.source) for q in split_sequences(b, "validation", shared_data)[0]}
    test = {str(q.source) for q in split_sequences(b, "holdout", shared_data)[0]}
    assert val and test and not (val & test) and not (set(train.sources) & (val | test))


def test_packaged_onnx_is_the_packaged_bundles_export():
    """The live pipeline runs sadvae/assets/default_model.onnx instead of exporting: it must be that bundle's."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from realtime.backends.live_model import load_live_model
    from sadvae.assets import default_bundle_path
    from sadvae.export import Recognizer, live_recognizer

    live = load_live_model(None, "onnxruntime", cache_dir=ROOT / "does-not-exist")  # no cache: must not export
    try:
        assert live.backend_path == default_bundle_path().with_suffix(".onnx"), live.note
        x = np.random.default_rng(0).normal(size=(3, *live.backend.window_shape)).astype(np.float32)
        out = live.backend.run(x)
        bundle = live.bundle.load()
        # the export is the live (one-person) graph of the bundle (LiveConfig(persons=1) of the shiftgcn-v2 recipe;
        # round 1 was one-person throughout), and that graph equals the two-slot model with an empty second slot
        rec, pre = live_recognizer(bundle)
        assert x.shape[1:] == (3, pre.window, 25, pre.persons)
        two = np.concatenate([x, np.zeros_like(x)], axis=-1) if bundle.preprocess.persons == 2 else x
        with torch.no_grad():
            latent, logits = rec.eval()(torch.from_numpy(x))
            latent2, logits2 = Recognizer.from_bundle(bundle).eval()(torch.from_numpy(two))
        tol = 1e-4 * max(1.0, float(np.abs(logits.numpy()).max()))  # logits reach a few hundred: fp32 rounding
        np.testing.assert_allclose(out["latent"], latent.numpy(), atol=1e-4)
        np.testing.assert_allclose(out["seen_logits"], logits.numpy(), atol=tol)
        np.testing.assert_allclose(latent2.numpy(), latent.numpy(), atol=1e-4)
        np.testing.assert_allclose(logits2.numpy(), logits.numpy(), atol=tol)
        # and its metadata carries the bundle's class-table aliases (a retrained bundle needs a fresh export)
        assert live.bundle.aliases == bundle.column_aliases and any(live.bundle.aliases)
    finally:
        live.close()
    assert not (ROOT / "does-not-exist").exists()


def _script():
    """``scripts/train_default.py``, run afresh as a module."""
    return exec_by_path("train_default_script", ROOT / "scripts" / "train_default.py")


@pytest.mark.slow
def test_script_trains_a_small_round1_bundle(shared_data, tmp_path, capsys):
    """The round-1 recipe (stgcn-v1) still trains end to end; it is no longer the packaged model."""
    import torch

    from sadvae.bundle import load_bundle

    out, report = tmp_path / "default_model.pt", tmp_path / "metrics.json"
    args = ["--recipe", "stgcn-v1", "--data-root", str(shared_data), "--out", str(out), "--json", str(report)]
    args += ["--text-cache", str(tmp_path)]
    args += ["--limit-per-class", "2", "--epochs", "1", "--cycles", "2", "--iters-per-cycle", "20"]
    args += ["--samples-per-class", "20", "--threads", "2", "--no-onnx"]  # the export is tested below
    assert _script().main(args) == 0
    assert not out.with_suffix(".onnx").exists()
    printed = capsys.readouterr().out
    assert "| seen-class top-1, 33 classes (backbone head) |" in printed and "TBD" not in printed

    b = load_bundle(out)
    assert b.class_names == CLASS_NAMES and b.seen_names == CLASS_NAMES
    assert b.seen_classes == tuple(range(33)) and b.unseen_classes == ()
    assert b.preprocess == PreprocessConfig(persons=1) and b.encoder_id
    assert out.stat().st_size < 20e6
    m = b.metrics
    assert m["holdout"]["samples"] == 2 * 40  # 2 per official class (40 over the three datasets) on the held-out side
    assert 0 <= m["holdout"]["top1"] <= 1 and set(m["holdout"]["per_dataset_top1"]) == set(DATASET_NAMES)
    assert len(m["validation"]["pseudo_unseen"]) == 5 and len(m["validation"]["zsl_curve"]) == 2
    assert m["validation"]["chosen_cycles"] in (1, 2) and 0 <= m["validation"]["gate_balanced_accuracy"] <= 1
    assert b.gate.k == 5
    p = b.provenance
    assert set(p["datasets"]) == set(DATASET_NAMES) and "research use" in p["datasets"]["nw_ucla"]["terms"]
    assert p["seed"] == 0 and "--limit-per-class 2" in p["command"] and "git_commit" in p
    assert p["config"]["limit_per_class"] == 2
    assert json.loads(report.read_text())["metrics"] == json.loads(json.dumps(m))

    # trained with one person; a window with an absent second person gives the same output
    x = torch.randn(2, 3, 32, 25, 1)
    with torch.no_grad():
        one = b.backbone(x)
        two = b.backbone(torch.cat([x, torch.zeros_like(x)], dim=-1))
    torch.testing.assert_close(one, two, atol=1e-5, rtol=1e-5)
