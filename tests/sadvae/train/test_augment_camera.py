"""The camera-like augmentation (issue 13): MediaPipe-vs-Kinect differences applied in the body frame."""

from __future__ import annotations

import numpy as np
import pytest

from sadvae.data.preprocess import PreprocessConfig
from sadvae.data.record import SkeletonSequence
from sadvae.skeleton import NTUJoint as J
from sadvae.train.augment import AUGMENTS, CAMERA_OFFSETS, AugmentConfig, augmented_window, camera_like


def upright_window(t: int = 8, turn_deg: float = 0.0) -> np.ndarray:
    """[3, T, 25, 2] an upright person (torso 1) facing -z, turned about +y; person 2 absent; last frame empty."""
    p = np.zeros((25, 3), np.float32)
    p[J.SPINE_SHOULDER] = (0, 1, 0)
    p[J.SPINE_MID] = (0, 0.5, 0)
    p[J.HIP_LEFT], p[J.HIP_RIGHT] = (-0.2, 0, 0), (0.2, 0, 0)
    p[J.SHOULDER_LEFT], p[J.SHOULDER_RIGHT] = (-0.3, 0.95, 0), (0.3, 0.95, 0)
    arms = (
        (J.ELBOW_LEFT, J.WRIST_LEFT, J.HAND_LEFT, J.HAND_TIP_LEFT, J.THUMB_LEFT),
        (J.ELBOW_RIGHT, J.WRIST_RIGHT, J.HAND_RIGHT, J.HAND_TIP_RIGHT, J.THUMB_RIGHT),
    )
    for side, x in ((0, -1.0), (1, 1.0)):
        e, w, h, tip, th = arms[side]
        p[e], p[w], p[h], p[tip], p[th] = ((x * 0.35, y, 0) for y in (0.5, 0.1, 0.0, -0.05, 0.05))
        p[th, 2] = -0.1
    a = np.deg2rad(turn_deg)
    rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]], np.float32)
    p = p @ rot.T + 0.3  # away from the origin: offsets must not depend on where the body is
    x = np.zeros((3, t, 25, 2), np.float32)
    x[:, : t - 1, :, 0] = p.T[:, None, :]
    return x


def test_camera_landmarks_move_shoulders_and_hips_in_the_body_frame() -> None:
    aug = AugmentConfig(camera_landmarks=1.0)
    for turn in (0.0, 90.0):
        x = upright_window(turn_deg=turn)
        out = camera_like(x, aug, np.random.default_rng(0))
        d = (out - x)[:, 0, :, 0].T  # (25, 3) first frame
        a = np.deg2rad(turn)
        right = np.array([np.cos(a), 0, -np.sin(a)])  # the body's right (+x before the turn)
        fwd = np.cross([0, 1, 0], right)
        k = None
        for j, (lat, up, f) in CAMERA_OFFSETS.items():
            side = -1.0 if j in (J.SHOULDER_LEFT, J.HIP_LEFT) else 1.0
            unit = side * lat * right + up * np.array([0, 1, 0]) + f * fwd
            kj = float(d[j] @ unit / (unit @ unit))
            np.testing.assert_allclose(d[j], kj * unit, atol=1e-6)  # exactly along the measured offset
            k = kj if k is None else k
            assert abs(kj - k) < 1e-6 and 0.5 <= kj <= 1.5  # one factor per window
        moved = set(np.flatnonzero(np.abs(d).sum(-1) > 0))
        assert moved == set(CAMERA_OFFSETS)
    # absent frames and the absent person stay exactly zero
    assert (out[:, -1] == 0).all() and (out[..., 1] == 0).all()


def test_limb_depth_and_thumb_pull() -> None:
    x = upright_window()
    out = camera_like(x, AugmentConfig(limb_depth=0.2), np.random.default_rng(3))
    d = (out - x)[:, 0, :, 0].T
    fwd = np.array([0, 0, -1.0])
    for chain in ((J.ELBOW_LEFT, J.WRIST_LEFT, J.HAND_LEFT), (J.ELBOW_RIGHT, J.WRIST_RIGHT, J.HAND_TIP_RIGHT)):
        along = d[list(chain)] @ fwd
        np.testing.assert_allclose(d[list(chain)], along[:, None] * fwd, atol=1e-6)  # only along forward
        np.testing.assert_allclose(along[0], 0.5 * along[1], atol=1e-6)  # half at the elbow
        assert along[1] == along[2] != 0
    assert set(np.flatnonzero(np.abs(d).sum(-1) > 0)) <= {
        J.ELBOW_LEFT,
        J.WRIST_LEFT,
        J.HAND_LEFT,
        J.HAND_TIP_LEFT,
        J.THUMB_LEFT,
        J.ELBOW_RIGHT,
        J.WRIST_RIGHT,
        J.HAND_RIGHT,
        J.HAND_TIP_RIGHT,
        J.THUMB_RIGHT,
    }
    out = camera_like(x, AugmentConfig(thumb_pull=1.0), np.random.default_rng(0))
    before = np.linalg.norm(x[:, 0, J.THUMB_LEFT, 0] - x[:, 0, J.WRIST_LEFT, 0])
    after = np.linalg.norm(out[:, 0, J.THUMB_LEFT, 0] - out[:, 0, J.WRIST_LEFT, 0])
    assert after < before and np.array_equal(out[:, 0, J.WRIST_LEFT, 0], x[:, 0, J.WRIST_LEFT, 0])


def test_named_camera_config_runs_in_training_windows_for_both_normalisations() -> None:
    assert AUGMENTS["default"] == AugmentConfig()
    cam = AUGMENTS["camera"]
    assert cam.camera_landmarks > 0 and cam.limb_depth > 0 and cam.thumb_pull > 0
    rng = np.random.default_rng(0)
    joints = np.tile(upright_window(t=41)[:, :40, :, :1].transpose(1, 3, 2, 0), (1, 1, 1, 1))  # (T, 1, 25, 3)
    seq = SkeletonSequence(joints + rng.normal(0, 0.01, joints.shape).astype(np.float32), 30.0, "a")
    for pre in (PreprocessConfig(persons=1), PreprocessConfig(window=32, fps=30.0, persons=2, normalization="ntu")):
        w = augmented_window(seq, pre, cam, np.random.default_rng(1))
        assert w.shape == (3, pre.window, 25, pre.persons) and np.isfinite(w).all()
        plain = augmented_window(seq, pre, AUGMENTS["default"], np.random.default_rng(1))
        assert not np.allclose(w, plain)


def test_training_cli_exposes_the_camera_augmentation(tmp_path) -> None:
    """``sadvae train zsl|backbone`` and ``benchmark zsl`` take ``--augment camera`` and hand AUGMENTS["camera"] to the
    backbone trainer (where windows are augmented); the flag's choices are the registry's names."""
    from sadvae.cli import build_parser
    from sadvae.cli.train import _experiment

    p = build_parser()
    base = ["--dataset", "msr_action3d", "--out", str(tmp_path / "m.pt")]
    for cmd in (["train", "zsl"], ["train", "backbone"], ["benchmark", "zsl"]):
        args = p.parse_args(cmd + base + ["--augment", "camera"])
        cfg = _experiment(args, (0,), ("tc",), ["honest"])
        assert cfg.backbone.augment == AUGMENTS["camera"]
        args = p.parse_args(cmd + base)
        assert _experiment(args, (0,), ("tc",), ["honest"]).backbone.augment == AUGMENTS["default"]
    for name in AUGMENTS:  # every registered setting is a valid choice, and nothing else is
        assert p.parse_args(["train", "zsl"] + base + ["--augment", name]).augment == name
    with pytest.raises(SystemExit):
        p.parse_args(["train", "zsl"] + base + ["--augment", "noise"])


class _PlainWindows:
    """Stands in for ShiftGCNExtractor's window cutting (no weights needed): two fixed NTU-style windows."""

    id = "plain"
    settings = {"window": 40}
    batch_size = 4

    def windows(self, seq):
        x = np.zeros((3, 40, 25, 2), np.float32)
        x[..., 0] = seq.joints[:40, 0].transpose(2, 0, 1)
        return [x, x[:, ::-1].copy()]


def test_augmented_windows_are_camera_like_copies_seeded_by_the_clip_not_the_order() -> None:
    from sadvae.train.augment import augment_window
    from sadvae.train.window_features import AugmentedWindows

    joints = upright_window(t=41)[:, :40, :, :1].transpose(1, 3, 2, 0)  # (T, 1, 25, 3)
    rng = np.random.default_rng(0)
    a = SkeletonSequence(joints + rng.normal(0, 0.01, joints.shape).astype(np.float32), 30.0, "a")
    b = SkeletonSequence(joints + rng.normal(0, 0.01, joints.shape).astype(np.float32), 30.0, "b")
    base = _PlainWindows()
    aug = AugmentedWindows(base, "camera", seed=0, copy=0)
    assert aug.settings["augment"] == "camera" and aug.settings != base.settings  # another cache key
    wa = aug.windows(a)
    assert len(wa) == 2 and all(w.shape == (3, 40, 25, 2) for w in wa)
    assert not np.allclose(wa[0], base.windows(a)[0])
    aug.windows(b)
    assert all(np.array_equal(x, y) for x, y in zip(wa, aug.windows(a), strict=True))  # order does not matter
    assert not np.allclose(AugmentedWindows(base, "camera", seed=0, copy=1).windows(a)[0], wa[0])
    # the absent second person stays absent, whatever the augmentation drew
    assert all(np.abs(w[..., 1]).max() == 0 for w in wa)
    # augment_window does not touch its input
    x = base.windows(a)[0]
    x0 = x.copy()
    augment_window(x, AUGMENTS["camera"], np.random.default_rng(3))
    assert np.array_equal(x, x0)
    with pytest.raises(Exception, match="unknown augmentation"):
        AugmentedWindows(base, "noise")


def test_smooth_noise_has_unit_variance_and_the_asked_correlation() -> None:
    from sadvae.train.augment import smooth_noise

    n = smooth_noise(20000, 8.0, np.random.default_rng(0))
    assert n.shape == (20000, 3) and n.std(0) == pytest.approx([1, 1, 1], abs=0.05)
    r = n[:, 0] - n[:, 0].mean()
    ac = np.correlate(r, r, "full")[len(r) - 1 :] / (r @ r)
    lag = int(np.flatnonzero(ac < 0.5)[0])
    assert 12 <= lag <= 15  # exp(-k^2 / (4 sigma^2)) = 0.5 at k = 1.67 sigma = 13.3 frames
    assert smooth_noise(5, 0.0, np.random.default_rng(0)).shape == (5, 3)


def test_arm_wander_moves_only_the_arm_chains_smoothly() -> None:
    aug = AugmentConfig(arm_wander=0.15, wander_frames=4.0)
    x = upright_window(t=60)
    out = camera_like(x, aug, np.random.default_rng(1))
    d = (out - x)[..., 0]  # (3, T, 25)
    chains = [J.ELBOW_LEFT, J.WRIST_LEFT, J.HAND_LEFT, J.HAND_TIP_LEFT, J.THUMB_LEFT]
    chains += [J.ELBOW_RIGHT, J.WRIST_RIGHT, J.HAND_RIGHT, J.HAND_TIP_RIGHT, J.THUMB_RIGHT]
    moved = set(np.flatnonzero(np.abs(d).max(axis=(0, 1)) > 0))
    assert moved == set(chains)
    elbow, hand = np.abs(d[:, :-1, J.ELBOW_LEFT]).mean(), np.abs(d[:, :-1, J.HAND_LEFT]).mean()
    assert elbow == pytest.approx(0.25 * hand, rel=1e-4)  # one wander per arm, weighted along the chain
    steps = np.abs(np.diff(d[:, :-1, J.HAND_LEFT], axis=1)).mean()
    assert steps < 0.5 * np.abs(d[:, :-1, J.HAND_LEFT]).mean()  # smooth: small frame-to-frame changes
    assert (out[:, -1] == 0).all() and (out[..., 1] == 0).all()  # absent frame and person stay zero
    assert AUGMENTS["camera_wander"].arm_wander > 0 and AUGMENTS["camera_wander"].limb_depth == 0


def test_hide_legs_puts_knees_ankles_and_feet_on_the_hips() -> None:
    """``hide_legs`` trains on what the live mapping gives when the frame cuts across the thighs."""
    from sadvae.train.augment import augment_window

    x = upright_window(t=10)
    x[:, :-1, [J.KNEE_LEFT, J.ANKLE_LEFT, J.FOOT_LEFT], 0] -= np.array([0, 0.5, 0], np.float32)[:, None, None]
    x[:, :-1, [J.KNEE_RIGHT, J.ANKLE_RIGHT, J.FOOT_RIGHT], 0] -= np.array([0, 0.5, 0], np.float32)[:, None, None]
    plain = AugmentConfig(yaw_deg=0, pitch_deg=0, scale=0, speed=0, jitter=0, drop_person=0, mirror=0)
    hidden = augment_window(x, AugmentConfig(**{**plain.__dict__, "hide_legs": 1.0}), np.random.default_rng(0))
    kept = augment_window(x, plain, np.random.default_rng(0))
    legs = (
        (J.HIP_LEFT, (J.KNEE_LEFT, J.ANKLE_LEFT, J.FOOT_LEFT)),
        (J.HIP_RIGHT, (J.KNEE_RIGHT, J.ANKLE_RIGHT, J.FOOT_RIGHT)),
    )
    for hip, below in legs:
        for j in below:
            np.testing.assert_array_equal(hidden[:, :, j], hidden[:, :, hip])
            assert not np.array_equal(kept[:, :-1, j], kept[:, :-1, hip])
    upper = [j for j in range(25) if j not in (13, 14, 15, 17, 18, 19)]
    np.testing.assert_array_equal(hidden[:, :, upper], kept[:, :, upper])
    assert (hidden[:, -1] == 0).all() and (hidden[..., 1] == 0).all()  # absent frame and person stay zero
    assert AUGMENTS["legs"].hide_legs == 0.5
