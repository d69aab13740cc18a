"""scripts/camera_distill.py (issue 13): camera-like copies, the distillation loop and the backbone swap, on tiny
windows of the real NTU samples with the released weights (skipped without ../shared)."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import asdict
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
T = 16  # tiny windows: the loop is the same at any multiple of 4

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def load_script() -> ModuleType:
    if "camera_distill" in sys.modules:
        return sys.modules["camera_distill"]
    sys.path.insert(0, str(ROOT / "scripts"))
    spec = importlib.util.spec_from_file_location("camera_distill", ROOT / "scripts" / "camera_distill.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["camera_distill"] = module  # dataclasses and worker processes look the module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def weights() -> Path:
    pytest.importorskip("torch")
    from sadvae.models.pretrained import shiftgcn_weights_path

    path = shiftgcn_weights_path("ntu120_xsub")
    if not path.is_file():
        pytest.skip(f"{path}: the released Shift-GCN weights are not beside the project")
    return path


@pytest.fixture(scope="module")
def tiny_data(weights, tmp_path_factory) -> Path:
    """The ``prepare`` file's layout, from T-frame windows of the NTU samples (person 1)."""
    from sadvae.data.ntu import read_ntu_skeleton
    from sadvae.data.preprocess import PreprocessConfig, preprocess
    from sadvae.paths import SHARED_DATA

    cfg = PreprocessConfig(window=T, fps=30.0, persons=2, normalization="ntu")
    stems = sorted(p.stem for p in (SHARED_DATA / "ntu").glob("*.skeleton"))
    wins, labels = [], []
    for stem in stems:
        seq = read_ntu_skeleton(SHARED_DATA / "ntu" / f"{stem}.skeleton", max_persons=2)
        half = seq.num_frames // 2
        wins.append(preprocess(seq.joints[:half], seq.times()[:half], cfg, crop="end"))
        for crop in ("center", "end"):
            wins.append(preprocess(seq.joints, seq.times(), cfg, crop=crop))
        labels.append(int(stem[-3:]) - 1)
    w = np.stack(wins).astype(np.float32)  # [3 per sample, 3, T, 25, 2]
    n = len(w)
    clip = np.repeat(np.arange(len(stems)), 3)
    path = tmp_path_factory.mktemp("camdistill") / "tiny.npz"
    meta = {"window": T, "stride": T, "datasets": ["ntu"], "counts": {"ntu": {"windows": n}}, "table": []}
    np.savez(
        path,
        x=w[..., 0].astype(np.float16),
        clip=clip,
        dataset=np.zeros(n, np.int64),
        test=clip >= len(stems) - 2,  # the last two samples are the "test side"
        column=np.zeros(n, np.int64),
        a001_mp=w[:3],
        a001_kinect=w[:3],
        ntu_label=np.array(labels, np.int64),
        **{f"ntu_x{T}": w[1::3]},
        meta=np.array(json.dumps(meta)),
    )
    return path


def test_camera_only_keeps_the_geometry_and_copies_are_reproducible(tiny_data) -> None:
    cd = load_script()
    from sadvae.train.augment import AUGMENTS

    aug, cam = cd.camera_only(), AUGMENTS["camera"]
    assert (aug.yaw_deg, aug.pitch_deg, aug.scale, aug.speed, aug.drop_person, aug.mirror) == (0, 0, 0, 0, 0, 0)
    assert (aug.camera_landmarks, aug.limb_depth, aug.thumb_pull, aug.offset) == (
        cam.camera_landmarks,
        cam.limb_depth,
        cam.thumb_pull,
        cam.offset,
    )
    x = np.load(tiny_data)["x"]
    x = np.concatenate([x] * 20)  # > one 256-window chunk
    one, two = cd.camera_copies(x, 3, workers=1), cd.camera_copies(x, 3, workers=2)
    np.testing.assert_array_equal(one, two)
    assert one.shape == x.shape and one.dtype == np.float16
    assert np.abs(one.astype(np.float32) - x.astype(np.float32)).mean() > 1e-3
    assert not np.array_equal(cd.camera_copies(x, 4, workers=1), one)


def test_no_step_leaves_the_teacher_and_a_step_moves_it(weights, tiny_data, tmp_path) -> None:
    import torch

    from sadvae.models.pretrained import load_pretrained_shiftgcn

    cd = load_script()
    base = dict(asdict(cd.DistillConfig()), batch=4, copies=1, val_fraction=0.25)
    bundle = ROOT / "sadvae" / "assets" / "default_model.pt"
    cfg0 = cd.DistillConfig(**{**base, "epochs": 0})
    rep0 = cd.train(tiny_data, str(weights), "cpu", tmp_path / "e0", cfg0, 1, bundle)
    checks = rep0["checks"]
    dm = checks["default_model"]  # the packaged model's heads on the teacher and on the (unchanged) student
    assert set(dm) == {"teacher_clean", "teacher_camera_like", "student_clean", "student_camera_like"}
    assert dm["student_clean"] == dm["teacher_clean"] and dm["student_camera_like"] == dm["teacher_camera_like"]
    assert checks["test_clean"]["student_feature_cos"] == pytest.approx(1.0, abs=1e-5)
    assert checks["test_clean"]["student_ntu_top1_agreement"] == 1.0
    assert checks["a001"]["student"] == pytest.approx(checks["a001"]["teacher"])
    assert [h["epoch"] for h in rep0["history"]] == [0]
    teacher = load_pretrained_shiftgcn(weights)
    saved = load_pretrained_shiftgcn(tmp_path / "e0" / "student.pt", verify=False)  # a valid Shift-GCN checkpoint
    for k, v in teacher.state_dict().items():
        torch.testing.assert_close(saved.state_dict()[k], v)

    cfg1 = cd.DistillConfig(**{**base, "epochs": 1, "lr": 1e-3})
    rep1 = cd.train(tiny_data, str(weights), "cpu", tmp_path / "e1", cfg1, 1, None, tmp_path / "copies.npz")
    assert [h["epoch"] for h in rep1["history"]] == [0, 1]
    assert np.isfinite(rep1["history"][1]["val_objective"])
    moved = load_pretrained_shiftgcn(tmp_path / "e1" / "student.pt", verify=False).state_dict()
    assert any(not torch.equal(moved[k], v) for k, v in teacher.state_dict().items() if not k.startswith("fc."))
    for k, v in teacher.state_dict().items():  # the NTU classifier and every BatchNorm statistic stay the teacher's
        if k.startswith("fc.") or k.endswith(("running_mean", "running_var", "num_batches_tracked")):
            torch.testing.assert_close(moved[k], v)
    cached = cd._copies_cache(tmp_path / "copies.npz", tiny_data, cfg1, rep1["data"]["fit_windows"])
    assert cached is not None and len(cached[0]) == cfg1.copies
    assert cd._copies_cache(tmp_path / "copies.npz", tiny_data, cd.DistillConfig(**{**base, "seed": 1}), 1) is None


def test_bundle_swap_puts_the_student_in_and_keeps_every_head(weights, tmp_path) -> None:
    import torch

    from sadvae.bundle import load_bundle
    from sadvae.export import live_recognizer
    from sadvae.hashing import file_sha256

    cd = load_script()
    base = ROOT / "sadvae" / "assets" / "default_model.pt"
    state = torch.load(weights, map_location="cpu", weights_only=True)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    state["l1.gcn1.Linear_weight"] = state["l1.gcn1.Linear_weight"] * 1.5  # a student that differs from the teacher
    torch.save(state, tmp_path / "student.pt")
    out = tmp_path / "swapped.pt"
    cd.make_bundle(tmp_path / "student.pt", base, out, export=False)
    b0, b1 = load_bundle(base), load_bundle(out)
    got = b1.backbone.backbone.state_dict()
    for k, v in state.items():
        torch.testing.assert_close(got[k], v)
    for field in ("class_names", "seen_classes", "unseen_classes", "encoder_id", "preprocess", "live", "terms"):
        assert getattr(b1, field) == getattr(b0, field), field
    for a, b in zip(b0.sadvae.state_dict().values(), b1.sadvae.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert torch.equal(b0.backbone.extra.weight, b1.backbone.extra.weight)
    assert b1.metrics == {} and b1.provenance["camera_distill"]["base_metrics"] == b0.metrics
    head = json.loads(out.with_name("swapped.head.json").read_text())
    assert head["model_id"] == file_sha256(out) and "reused unchanged" in head["source"]
    x = torch.from_numpy(np.random.default_rng(0).normal(0, 0.3, (2, 3, 96, 25, 1)).astype(np.float32))  # live T
    with torch.no_grad():
        before, after = (live_recognizer(b)[0](x) for b in (b0, b1))
    assert not torch.allclose(before[1], after[1])
    other = dict(state, **{"fc.weight": state["fc.weight"] + 1})
    torch.save(other, tmp_path / "stranger.pt")
    with pytest.raises(SystemExit, match="not distilled from"):
        cd.make_bundle(tmp_path / "stranger.pt", base, tmp_path / "no.pt", export=False)


def test_a_missing_or_foreign_prepare_file_names_itself_and_the_fix(tmp_path) -> None:
    cd = load_script()
    with pytest.raises(
        SystemExit, match=r"nope\.npz: not found; make it with `python scripts/camera_distill.py prepare"
    ):
        cd.load_prepared(tmp_path / "nope.npz")
    np.savez(tmp_path / "other.npz", joints=np.zeros(3))
    with pytest.raises(SystemExit, match=r"other\.npz: not a camera_distill prepare file \(no x, clip"):
        cd.load_prepared(tmp_path / "other.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(SystemExit, match=r"text\.npz: not a readable \.npz file"):
        cd.load_prepared(tmp_path / "text.npz")
