from __future__ import annotations

import pickle
from dataclasses import asdict
from functools import partial
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sadvae_tests_helpers import random_shiftgcn  # noqa: E402

from sadvae.data.preprocess import (  # noqa: E402
    PreprocessConfig,
    normalize_pose,
    ntu_normalize,
    ntu_window,
    preprocess,
)
from sadvae.errors import CheckpointError, ConfigError  # noqa: E402
from sadvae.models import BACKBONES, STGCN, STGCNConfig, build_backbone  # noqa: E402
from sadvae.models.pretrained import (  # noqa: E402
    SHIFTGCN_CHECKPOINTS,
    load_pretrained_shiftgcn,
    ntu_class_names,
    shiftgcn_weights_path,
)
from sadvae.models.shiftgcn import (  # noqa: E402
    OnePersonShiftGCN,
    ShiftGCN,
    ShiftGCNConfig,
    TemporalShift,
    shift_tables,
    shiftgcn_features,
)

# Reference section 6 (../shared/reference/shiftgcn_pretrained.md): sample -> (true action, NTU-120 x-sub top-1
# probability, top-1 logit), official body order, T = 300.
SAMPLES = {
    "S001C001P001R001A001": (1, 1.000, 18.94),
    "S001C001P001R001A011": (11, 1.000, 23.86),
    "S001C003P008R002A058": (58, 1.000, 29.24),
    "S002C001P003R001A003": (3, 1.000, 21.42),
    "S003C001P015R001A034": (34, 0.994, 16.84),
    "S004C002P003R001A017": (17, 0.936, 12.68),
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def weights_dir() -> Path:
    d = shiftgcn_weights_path("ntu120_xsub").parent
    if not (d / SHIFTGCN_CHECKPOINTS["ntu120_xsub"][0]).is_file():
        pytest.skip(f"Shift-GCN weights not found in {d} (clone the project beside ../shared to run this test)")
    return d


@pytest.fixture(scope="module")
def ntu120_xsub(weights_dir):
    return load_pretrained_shiftgcn("ntu120_xsub")


def _official_order(joints: np.ndarray) -> np.ndarray:
    """Slots by decreasing spread (sum of x, y, z std over present frames): the official reader's body order."""

    def spread(p: np.ndarray) -> float:
        p = p[np.abs(p).reshape(len(p), -1).max(axis=1) > 0]
        return float(sum(p[..., c].std() for c in range(3))) if len(p) else 0.0

    return joints[:, sorted(range(joints.shape[1]), key=lambda m: -spread(joints[:, m]))]


def _sample_windows(shared_data: Path, window: int = 300) -> np.ndarray:
    from sadvae.data.ntu import read_ntu_skeleton

    cfg = PreprocessConfig(window=window, fps=30.0, persons=2, normalization="ntu")
    joints = [_official_order(read_ntu_skeleton(shared_data / "ntu" / f"{s}.skeleton").joints) for s in SAMPLES]
    return np.stack([preprocess(j, None, cfg) for j in joints])


# random weights with non-trivial BN statistics and affine parameters, shift masks and offsets
_random_model = partial(random_shiftgcn, bn_weight=True, bn_bias=True, feature_masks=True)


def _windows(n: int = 3, t: int = 16, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, t, 25, 2, generator=g) * 0.5


# --------------------------------------------------------------------------- architecture


def test_forward_backward_random_weights() -> None:
    model = _random_model(num_classes=7).train()
    x = _windows(n=3)
    feats = model.forward_features(x)
    assert feats.shape == (3, 256) and model.feature_dim == 256 and (feats >= 0).all()
    assert model.forward_head(feats).shape == (3, 7)
    loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([0, 3, 6]))
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    assert grads["l1.gcn1.Linear_weight"].abs().sum() > 0 and grads["l10.tcn1.temporal_linear.weight"].abs().sum() > 0


def test_window_length_and_shape_are_checked() -> None:
    model = _random_model()
    with pytest.raises(ConfigError, match="multiple of 4"):
        model(torch.zeros(1, 3, 30, 25, 2))
    with pytest.raises(ConfigError, match=r"\[N, 3, T, 25, 2\]"):
        model(torch.zeros(1, 3, 32, 25, 1))


@pytest.mark.parametrize("stride", [1, 2])
def test_temporal_shift_is_the_interpolating_shift(stride: int) -> None:
    """out[t] = (1 - a) in[s t + f] + a in[s t + f + 1], y = f + a (+ 0.5 at stride 2), zeros outside [0, T)."""
    c, t = 6, 12
    shift = TemporalShift(c, stride)
    ypos = torch.tensor([0.0, 1.0, -2.0, 0.3, -3.7, 4.5])
    shift.load_state_dict({"xpos": torch.zeros(c), "ypos": ypos})  # the post-load hook rebuilds the kernel
    x = torch.randn(2, c, t, 3)
    got = shift(x).numpy()
    xp = x.numpy()
    want = np.zeros((2, c, t // stride, 3), np.float32)
    for ch in range(c):
        y = float(ypos[ch]) + (0.5 if stride == 2 else 0.0)
        f = int(np.floor(y))
        a = y - f
        for o in range(t // stride):
            for k, w in ((stride * o + f, 1 - a), (stride * o + f + 1, a)):
                if 0 <= k < t:
                    want[:, ch, o] += w * xp[:, ch, k]
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_spatial_shift_tables_are_the_formulas() -> None:
    shift_in, shift_out = shift_tables(25, 3, 64)
    assert shift_in.dtype == torch.int64 and shift_in.shape == (75,) and shift_out.shape == (1600,)
    # out[v, c] = in[(v + c) mod 25, c] ; out[v, d] = in[(v - d) mod 25, d]
    assert int(shift_in[4 * 3 + 2]) == ((4 + 2) % 25) * 3 + 2
    assert int(shift_out[1 * 64 + 5]) == ((1 - 5) % 25) * 64 + 5
    model = _random_model()
    model.check_shift_tables()
    state = model.state_dict()
    state["l3.gcn1.shift_in"] = state["l3.gcn1.shift_in"].flip(0)
    model.load_state_dict(state)
    with pytest.raises(CheckpointError, match="shift_in is not the Shift-GCN formula"):
        model.check_shift_tables("x.pt")


def test_empty_slot_cache_is_exact() -> None:
    model = _random_model()
    x = _windows(n=4, t=16)
    x[0, ..., 1] = 0  # one person
    x[2] = 0  # nobody
    x[3, ..., 0] = 0  # only the second slot
    with torch.no_grad():
        full = model.forward_features(x)
        model.cache_empty_slot = True
        cached = model.forward_features(x)
        again = model.forward_features(x)  # second call reads the cache
        model.cache_empty_slot = False
        one = OnePersonShiftGCN(model, 16)
        one_feat = one.forward_features(x[:1])
    torch.testing.assert_close(cached, full, rtol=0, atol=1e-5)
    torch.testing.assert_close(again, full, rtol=0, atol=1e-5)
    torch.testing.assert_close(one_feat, full[:1], rtol=0, atol=1e-5)
    assert not torch.allclose(model.empty_slot_feature(16), torch.zeros(256))  # the empty slot is not neutral
    # new weights invalidate the cache
    model.cache_empty_slot = True
    other = _random_model(seed=1)
    model.load_state_dict(other.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(model.forward_features(x), other.forward_features(x), rtol=0, atol=1e-5)


def test_registry_and_config_round_trip() -> None:
    assert BACKBONES["shiftgcn"] is ShiftGCN and BACKBONES["stgcn"] is STGCN
    model = build_backbone(asdict(ShiftGCNConfig(num_classes=9)))
    assert isinstance(model, ShiftGCN) and model.cfg.num_classes == 9
    assert ShiftGCNConfig.from_preset("joint", 60).num_classes == 60
    assert isinstance(build_backbone(asdict(STGCNConfig.from_preset("light", 4))), STGCN)
    with pytest.raises(ConfigError, match="unknown backbone"):
        build_backbone({"arch": "nope"})
    with pytest.raises(ConfigError, match="num_classes"):
        ShiftGCNConfig(num_classes=0)


def test_features_helper_matches_the_model() -> None:
    model = _random_model()
    x = _windows(n=5, t=8)
    torch.set_num_threads(1)
    feats, logits = shiftgcn_features(model, x.numpy(), batch_size=2, threads=1)
    with torch.no_grad():
        want = model.forward_features(x)
    np.testing.assert_allclose(feats, want.numpy(), atol=1e-5)
    np.testing.assert_allclose(logits, model.forward_head(want).detach().numpy(), atol=1e-5)
    assert torch.get_num_threads() == 1
    empty_f, empty_l = shiftgcn_features(model, np.zeros((0, 3, 8, 25, 2), np.float32))
    assert empty_f.shape == (0, 256) and empty_l.shape == (0, 5)


# --------------------------------------------------------------------------- NTU pre-normalisation


def _person(t: int, seed: int) -> np.ndarray:
    from sadvae.export_check import _moving_person

    p = _moving_person(np.random.default_rng(seed), t, 30.0)  # +y up, z = distance
    return p + np.float32([0.3, 0.8, 0.0])


def test_ntu_normalize_axes_centre_and_zeros() -> None:
    joints = np.zeros((20, 2, 25, 3), np.float32)
    joints[:, 0] = _person(20, 0)
    joints[:12, 1] = _person(12, 1) + np.float32([1.0, 0, 0])
    joints[5, 1, 7] = 0.0  # a missing joint
    out = ntu_normalize(joints)
    assert out.dtype == np.float32 and out.shape == joints.shape
    np.testing.assert_allclose(out[:, 0, 1], 0.0, atol=1e-6)  # centred on person 0's spine mid, every frame
    spine = out[0, 0, 1] - out[0, 0, 0]
    assert spine[2] / np.linalg.norm(spine) > 0.99  # about up (rotation 2 tilts it slightly)
    shoulders = out[0, 0, 8] - out[0, 0, 4]
    np.testing.assert_allclose(shoulders / np.linalg.norm(shoulders), [1, 0, 0], atol=1e-6)
    # distances within a person are kept (rotations only, metres)
    np.testing.assert_allclose(
        np.linalg.norm(out[3, 0, 6] - out[3, 0, 10]), np.linalg.norm(joints[3, 0, 6] - joints[3, 0, 10]), rtol=1e-5
    )
    assert np.all(out[5, 1, 7] == 0)  # zero joints stay zero
    # the centre comes from the data: shifting the whole scene changes nothing
    moved = np.where(np.abs(joints).max(axis=-1, keepdims=True) > 0, joints + np.float32([0.5, -0.2, 1.0]), 0)
    np.testing.assert_allclose(ntu_normalize(moved), out, atol=1e-5)
    # person 1's empty tail (frames 12..19) is loop-filled with its frames 0..7 (before centring)
    assert np.abs(out[12:20, 1]).max() > 0
    refill = joints.copy()
    refill[12:20, 1] = joints[0:8, 1]
    np.testing.assert_allclose(ntu_normalize(refill), out, atol=1e-6)


def test_ntu_normalize_packs_a_late_start_and_keeps_absent_people() -> None:
    joints = np.zeros((10, 2, 25, 3), np.float32)
    joints[3:7, 0] = _person(4, 2)
    out = ntu_normalize(joints)
    assert np.all(out[:, 1] == 0)  # absent person stays zero
    packed = np.zeros_like(joints)
    packed[:4, 0] = joints[3:7, 0]
    packed[4:8, 0] = joints[3:7, 0]
    packed[8:10, 0] = joints[3:5, 0]
    np.testing.assert_allclose(out, ntu_normalize(packed), atol=1e-6)
    assert np.all(ntu_normalize(np.zeros((4, 2, 25, 3), np.float32)) == 0)


def test_preprocess_default_is_unchanged_and_ntu_mode_pads_by_looping() -> None:
    joints = np.zeros((40, 1, 25, 3), np.float32)
    joints[:, 0] = _person(40, 3)
    assert PreprocessConfig().normalization == "torso"
    default = preprocess(joints, None, PreprocessConfig())
    want = normalize_pose(np.concatenate([joints[4:36], np.zeros((32, 1, 25, 3), np.float32)], axis=1))
    np.testing.assert_allclose(default, want.transpose(3, 0, 2, 1), atol=1e-6)
    cfg = PreprocessConfig(window=64, fps=30.0, normalization="ntu")
    x = preprocess(joints, None, cfg)
    assert x.shape == (3, 64, 25, 2) and np.all(x[..., 1] == 0)
    looped = np.concatenate([joints, joints[:24]])
    np.testing.assert_allclose(x[..., 0], ntu_normalize(looped)[:, 0].transpose(2, 0, 1), atol=1e-6)
    live = preprocess(
        np.concatenate([joints, joints]), None, cfg, crop="end"
    )  # a live window: rotations from its frame 0
    assert np.allclose(live[:, 0, 1, 0], 0) and live.shape == (3, 64, 25, 2)
    with pytest.raises(ValueError, match="normalization"):
        PreprocessConfig(normalization="scaled")


def test_ntu_window_covers_the_clip_at_30_fps() -> None:
    joints = np.zeros((103, 1, 25, 3), np.float32)
    joints[:, 0] = _person(103, 4)
    wins = ntu_window(joints, None, window=64, stride=32)
    cfg = PreprocessConfig(window=64, fps=30.0, normalization="ntu")
    assert len(wins) == 3  # starts 0, 32 and 39 (the last one ends at the clip's end)
    np.testing.assert_allclose(wins[2], preprocess(joints[39:], None, cfg), atol=0)
    assert len(ntu_window(joints[:40], None, window=64)) == 1
    times = np.arange(52) / 15.0  # 15 fps -> resampled to 30 fps: 103 frames
    assert len(ntu_window(joints[::2], times, window=64, stride=32)) == 3


# --------------------------------------------------------------------------- released checkpoints


def test_ntu_class_names(shared_data) -> None:
    names = ntu_class_names(120)
    assert len(names) == 120 and names[0] == "drink water" and names[57] == "handshaking"
    assert ntu_class_names(60) == names[:60]
    mm = shared_data / "labels" / "mmaction2" / "label_map_ntu120.txt"
    if mm.is_file():
        assert ntu_class_names(120, mm) == names
    with pytest.raises(ConfigError):
        ntu_class_names(100)


def test_bad_checkpoint_files_give_one_clear_line(tmp_path: Path, weights_dir: Path) -> None:
    with pytest.raises(CheckpointError, match="not found; it comes from .*Shift-GCN.*CC BY-NC") as e:
        load_pretrained_shiftgcn(tmp_path / "missing.pt")
    assert "missing.pt" in str(e.value)
    with pytest.raises(ConfigError, match="unknown Shift-GCN checkpoint 'ntu999'"):
        load_pretrained_shiftgcn("ntu999")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt: not a readable Shift-GCN checkpoint") as e:
        load_pretrained_shiftgcn(junk)
    assert "\n" not in str(e.value)
    hostile = tmp_path / "hostile.pt"
    hostile.write_bytes(pickle.dumps(print, protocol=2))
    with pytest.raises(CheckpointError, match="refused to load") as e:
        load_pretrained_shiftgcn(hostile)
    assert "\n" not in str(e.value)
    wrong = tmp_path / "wrong.pt"
    state = _random_model().state_dict()
    del state["l4.tcn1.bn2.weight"]
    torch.save(state, wrong)
    with pytest.raises(CheckpointError, match="does not fit the Shift-GCN") as e:
        load_pretrained_shiftgcn(wrong)
    assert "\n" not in str(e.value)
    # a checkpoint that fails its SHA256SUMS line; a "module." prefix is stripped
    name = SHIFTGCN_CHECKPOINTS["ntu60_xsub"][0]
    real = torch.load(weights_dir / name, map_location="cpu", weights_only=True)
    torch.save({f"module.{k}": v for k, v in real.items()}, tmp_path / name)
    (tmp_path / "SHA256SUMS").write_text(f"{'0' * 64}  {name}\n")
    with pytest.raises(CheckpointError, match="does not match"):
        load_pretrained_shiftgcn(tmp_path / name)
    model = load_pretrained_shiftgcn(tmp_path / name, verify=False)
    assert model.cfg.num_classes == 60 and not model.training


def test_released_checkpoint_loads_strictly(ntu120_xsub, weights_dir) -> None:
    state = torch.load(weights_dir / SHIFTGCN_CHECKPOINTS["ntu120_xsub"][0], map_location="cpu", weights_only=True)
    assert set(ntu120_xsub.state_dict()) == set(state) and len(state) == 302
    assert ntu120_xsub.cfg.num_classes == 120
    n_float = sum(v.numel() for k, v in state.items() if v.is_floating_point() and "running" not in k)
    assert n_float == sum(p.numel() for p in ntu120_xsub.parameters()) + sum(
        b.numel() for n, b in ntu120_xsub.named_buffers() if n.endswith(("xpos", "ypos"))
    )


def test_ntu120_xsub_on_the_six_samples(ntu120_xsub, shared_data) -> None:
    x = torch.from_numpy(_sample_windows(shared_data))
    with torch.inference_mode():
        logits = ntu120_xsub(x)
    prob = logits.softmax(dim=1)
    for i, (name, (action, p, logit)) in enumerate(SAMPLES.items()):
        k = int(logits[i].argmax())
        assert k + 1 == action, f"{name}: top-1 A{k + 1:03d}, expected A{action:03d}"
        assert abs(float(prob[i, k]) - p) < 2e-3, name
        assert abs(float(logits[i, k]) - logit) < 1e-2, name  # reference logits are given to 2 decimals


@pytest.mark.slow
@pytest.mark.parametrize("ckpt", ["ntu120_xsetup", "ntu60_xsub", "ntu60_xview"])
def test_other_checkpoints_on_the_six_samples(ckpt, weights_dir, shared_data) -> None:
    model = load_pretrained_shiftgcn(ckpt)
    x = torch.from_numpy(_sample_windows(shared_data))
    with torch.inference_mode():
        top = model(x).argmax(dim=1) + 1
    assert top.tolist() == [a for a, _, _ in SAMPLES.values()]


def test_one_person_cache_on_a_real_window(ntu120_xsub, shared_data) -> None:
    x = torch.from_numpy(_sample_windows(shared_data, window=64)[[0, 2]])  # one person, two people
    with torch.inference_mode():
        full = ntu120_xsub(x)
        ntu120_xsub.cache_empty_slot = True
        try:
            cached = ntu120_xsub(x)
        finally:
            ntu120_xsub.cache_empty_slot = False
        one = OnePersonShiftGCN(ntu120_xsub, 64)(x[:1])
    torch.testing.assert_close(cached, full, rtol=0, atol=1e-4)
    torch.testing.assert_close(one, full[:1], rtol=0, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("one_person", [False, True])
def test_onnx_export_tensorrt_ops_and_parity(ntu120_xsub, one_person: bool) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from sadvae.export import Recognizer, check_parity, check_tensorrt_ops, torch_to_onnx
    from sadvae.models.sadvae import SADVAE, SADVAEConfig

    torch.manual_seed(0)
    backbone = OnePersonShiftGCN(ntu120_xsub, 64) if one_person else ntu120_xsub
    rec = Recognizer(backbone, SADVAE(SADVAEConfig(feature_dim=256, semantic_dim=16, style_dim=4)).eval())
    model = torch_to_onnx(rec, torch.zeros(2, 3, 64, 25, 2))
    ops = check_tensorrt_ops(model)
    assert "Einsum" not in ops and ops["Conv"] == 35 and ops["Gather"] == 20 + one_person  # + slot 0 pick
    cfg = PreprocessConfig(window=64, fps=30.0, normalization="ntu")
    if one_person:  # exact only for one-person windows: compare on those
        x = np.stack([preprocess(_person(64, s)[:, None], None, cfg) for s in range(3)])
        import onnxruntime as ort

        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        got = sess.run(["seen_logits"], {"window": x})[0]
        with torch.inference_mode():
            want = ntu120_xsub(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(got, want, atol=1e-3)
    else:
        parity = check_parity(rec, model, cfg, batches=(1, 3), atol=2e-4)
        assert max(max(e.values()) for e in parity.values()) < 2e-4


def test_bundle_with_a_shiftgcn_backbone_round_trips(tmp_path: Path) -> None:
    from sadvae.bundle import load_bundle, save_bundle
    from sadvae.evaluate import Gate
    from sadvae.models.sadvae import SADVAE, SADVAEConfig
    from sadvae.text import TextConfig

    backbone = _random_model(num_classes=2)
    sadvae = SADVAE(SADVAEConfig(feature_dim=256, text_dim=8, semantic_dim=4, style_dim=2)).eval()
    gate = Gate(temperature=1.0, threshold=0.5, k=1, coef=np.zeros(2), intercept=0.0)
    path = save_bundle(
        tmp_path / "b.pt",
        backbone=backbone,
        sadvae=sadvae,
        gate=gate,
        class_names=("a", "b", "c"),
        seen_classes=(0, 1),
        unseen_classes=(2,),
        encoder_id="test",
        text_cfg=TextConfig(),
        preprocess=PreprocessConfig(window=16, fps=30.0, normalization="ntu"),
        metrics={},
        provenance={},
    )
    bundle = load_bundle(path)
    assert isinstance(bundle.backbone, ShiftGCN) and bundle.preprocess.normalization == "ntu"
    x = _windows(n=2, t=16)
    with torch.no_grad():
        torch.testing.assert_close(bundle.backbone(x), backbone(x), rtol=0, atol=1e-5)


def test_mirror_tta_features_are_the_same_for_a_clip_and_its_mirror_image(tmp_path):
    """NTU pre-normalisation commutes with the mirror (a reflection conjugates its two Rodrigues rotations), so with
    test-time mirroring a raw clip and its mirror image get one feature; without it they differ."""
    from sadvae.data.record import SkeletonSequence
    from sadvae.features import ShiftGCNExtractor
    from sadvae.skeleton import FLIP_INDEX

    torch.manual_seed(0)
    model = ShiftGCN(ShiftGCNConfig(num_classes=7, shift_init=2.5)).eval()
    rng = np.random.default_rng(1)
    joints = np.zeros((40, 2, 25, 3), np.float32)
    joints[:, 0] = rng.normal(size=(25, 3)) * 0.3 + rng.normal(size=(40, 25, 3)) * 0.05 + [0, 0, 3]
    mirrored = joints[:, :, list(FLIP_INDEX)] * np.array([-1, 1, 1], np.float32)
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"stand-in: the model below is set directly")
    out = {}
    for mirror in (False, True):
        ex = ShiftGCNExtractor(weights, window=32, stride=8, mirror=mirror)
        ex._model = model
        out[mirror] = [ex([SkeletonSequence(j, 30.0, "synthetic")]) for j in (joints, mirrored)]
    (f, lg), (fm, lgm) = out[True]
    np.testing.assert_allclose(fm, f, atol=1e-4)
    np.testing.assert_allclose(lgm, lg, atol=1e-4)
    (f0, _), (fm0, _) = out[False]
    assert np.abs(fm0 - f0).max() > 1e-2
