"""The default-model recipe: merge table, balancing, augmentations, example labels, and a small end-to-end run."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

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
    from realtime.head.labels import parse_labels
    from realtime.head.zero_shot import normalise_name

    path = ROOT / "labels" / name
    labels = parse_labels(path)
    seen = {normalise_name(c) for c in CLASS_NAMES}
    hits = [n for n in labels.names if normalise_name(n) in seen]
    new = [n for n in labels.names if normalise_name(n) not in seen]
    assert len(hits) >= 6, hits
    assert 2 <= len(new) <= len(hits), new  # a few zero-shot labels, never a lone one (the gate needs >= 2)
    header = path.read_text().splitlines()[:2]
    assert all(line.startswith("# ") for line in header) and "default model" in header[0]


def test_packaged_onnx_is_the_packaged_bundles_export():
    """The live pipeline runs sadvae/assets/default_model.onnx instead of exporting: it must be that bundle's."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from realtime.backends.live_model import load_live_model
    from sadvae.assets import default_bundle_path
    from sadvae.export import Recognizer

    live = load_live_model(None, "onnxruntime", cache_dir=ROOT / "does-not-exist")  # no cache: must not export
    try:
        assert live.backend_path == default_bundle_path().with_suffix(".onnx"), live.note
        x = np.random.default_rng(0).normal(size=(3, *live.backend.window_shape)).astype(np.float32)
        out = live.backend.run(x)
        with torch.no_grad():
            latent, logits = Recognizer.from_bundle(live.bundle.load()).eval()(torch.from_numpy(x))
        np.testing.assert_allclose(out["latent"], latent.numpy(), atol=1e-4)
        np.testing.assert_allclose(out["seen_logits"], logits.numpy(), atol=1e-4)
    finally:
        live.close()
    assert not (ROOT / "does-not-exist").exists()


def _script():
    spec = importlib.util.spec_from_file_location("train_default_script", ROOT / "scripts" / "train_default.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_script_trains_a_small_default_bundle(shared_data, tmp_path, capsys):
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
