from __future__ import annotations

import numpy as np
import pytest

from sadvae.data.preprocess import PreprocessConfig, fit_length, normalize_pose, preprocess, resample
from sadvae.skeleton import NTUJoint as J


def _person(t: int = 40, seed: int = 0) -> np.ndarray:
    """A plausible standing person [T, 25, 3] facing the camera (+z away from it), right side at +x, waving."""
    rng = np.random.default_rng(seed)
    base = np.zeros((25, 3), np.float32)
    pos = {
        J.SPINE_BASE: (0, 0.0, 0),
        J.SPINE_MID: (0, 0.3, 0),
        J.SPINE_SHOULDER: (0, 0.52, 0),
        J.NECK: (0, 0.6, 0),
        J.HEAD: (0, 0.75, 0),
        J.SHOULDER_LEFT: (-0.18, 0.5, 0),
        J.ELBOW_LEFT: (-0.22, 0.25, 0),
        J.WRIST_LEFT: (-0.24, 0.02, 0),
        J.HAND_LEFT: (-0.24, -0.05, 0),
        J.HAND_TIP_LEFT: (-0.24, -0.1, 0),
        J.THUMB_LEFT: (-0.22, -0.06, 0),
        J.SHOULDER_RIGHT: (0.18, 0.5, 0),
        J.ELBOW_RIGHT: (0.22, 0.25, 0),
        J.WRIST_RIGHT: (0.24, 0.02, 0),
        J.HAND_RIGHT: (0.24, -0.05, 0),
        J.HAND_TIP_RIGHT: (0.24, -0.1, 0),
        J.THUMB_RIGHT: (0.22, -0.06, 0),
        J.HIP_LEFT: (-0.1, -0.05, 0),
        J.KNEE_LEFT: (-0.1, -0.45, 0),
        J.ANKLE_LEFT: (-0.1, -0.85, 0),
        J.FOOT_LEFT: (-0.1, -0.9, -0.1),
        J.HIP_RIGHT: (0.1, -0.05, 0),
        J.KNEE_RIGHT: (0.1, -0.45, 0),
        J.ANKLE_RIGHT: (0.1, -0.85, 0),
        J.FOOT_RIGHT: (0.1, -0.9, -0.1),
    }
    for j, p in pos.items():
        base[j] = p
    seq = np.repeat(base[None], t, axis=0)
    phase = np.linspace(0, 2 * np.pi, t)
    seq[:, [J.WRIST_RIGHT, J.HAND_RIGHT, J.HAND_TIP_RIGHT], 1] += 0.5 * np.sin(phase)[:, None]
    return seq + rng.normal(0, 0.003, seq.shape).astype(np.float32)


def _rigid(seq: np.ndarray, yaw: float, scale: float, shift: tuple[float, float, float]) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]], np.float32)
    return (seq @ rot.T) * scale + np.asarray(shift, np.float32)


def test_window_shape_and_dtype():
    cfg = PreprocessConfig(window=32, fps=15, persons=2)
    out = preprocess(_person()[:, None], None, cfg)
    assert out.shape == (3, 32, 25, 2) and out.dtype == np.float32 and out.flags.c_contiguous
    assert np.all(out[..., 1] == 0), "the absent second person must stay zero"


@pytest.mark.parametrize("yaw", [-2.5, -0.7, 0.0, 0.4, 1.9])
def test_invariant_to_camera_placement_and_body_size(yaw):
    cfg = PreprocessConfig(window=32, fps=15, persons=1)
    ref = preprocess(_person()[:, None], None, cfg)
    moved = preprocess(_rigid(_person(), yaw, 1.3, (0.4, -0.2, 3.1))[:, None], None, cfg)
    np.testing.assert_allclose(moved, ref, atol=1e-4)


def test_faces_canonical_direction():
    out = normalize_pose(_rigid(_person(), 1.0, 1.0, (0, 0, 2))[:, None])
    # the right side of the body is +x, the head is +y
    assert out[:, 0, J.SHOULDER_RIGHT, 0].mean() > 0.2 and out[:, 0, J.SHOULDER_LEFT, 0].mean() < -0.2
    assert abs(out[:, 0, J.SHOULDER_RIGHT, 2].mean()) < 0.02
    assert out[:, 0, J.HEAD, 1].mean() > 1.0
    torso = np.linalg.norm(out[:, 0, J.SPINE_SHOULDER] - out[:, 0, J.SPINE_BASE], axis=-1)
    assert abs(np.median(torso) - 1.0) < 1e-5


def test_absent_frames_stay_zero():
    seq = _person()[:, None].copy()
    seq[5:9] = 0
    out = normalize_pose(seq)
    assert np.all(out[5:9] == 0) and np.all(np.abs(out[10]).sum() > 0)


def test_resample_30_to_15_fps_halves_frames_and_interpolates():
    t = np.arange(61) / 30.0
    x = np.zeros((61, 1, 25, 3), np.float32)
    x[..., 0] = t[:, None, None] + 1.0
    out = resample(x, t, 15.0)
    assert out.shape[0] == 31
    np.testing.assert_allclose(out[:, 0, 0, 0], np.arange(31) / 15.0 + 1.0, atol=1e-6)


def test_resample_irregular_timestamps():
    t = np.array([0.0, 0.05, 0.2, 0.25, 0.4])
    x = np.zeros((5, 1, 25, 3), np.float32)
    x[..., 1] = (t * 10 + 1)[:, None, None]
    out = resample(x, t, 10.0)
    np.testing.assert_allclose(out[:, 0, 0, 1], [1, 2, 3, 4, 5], atol=1e-5)


def test_resample_never_blends_with_absent_person():
    t = np.arange(4) / 10.0
    x = np.ones((4, 1, 25, 3), np.float32)
    x[2] = 0
    out = resample(x, t, 20.0)
    present = np.abs(out).reshape(len(out), -1).max(1) > 0
    assert np.all(out[present] == 1.0)
    # 0-0.3 s at 20 fps: the samples at 0, 0.1 and 0.3 s keep the person, the one at 0.2 s (absent) stays absent
    assert len(out) == 7 and present[[0, 2, 6]].all() and not present[4]


def test_fit_length_pads_by_holding_and_crops():
    x = np.arange(5, dtype=np.float32)[:, None]
    np.testing.assert_array_equal(fit_length(x, 9)[:, 0], [0, 0, 0, 1, 2, 3, 4, 4, 4])
    # a short sequence is padded centred whatever the crop (crop only picks frames of a long one)
    for crop in ("center", "end"):
        np.testing.assert_array_equal(fit_length(x, 8, crop=crop)[:, 0], [0, 0, 1, 2, 3, 4, 4, 4])
    np.testing.assert_array_equal(
        fit_length(x, 8, crop="random", rng=np.random.default_rng(0))[:, 0], [0, 0, 1, 2, 3, 4, 4, 4]
    )
    y = np.arange(20, dtype=np.float32)[:, None]
    np.testing.assert_array_equal(fit_length(y, 4, crop="end")[:, 0], [16, 17, 18, 19])
    np.testing.assert_array_equal(fit_length(y, 4)[:, 0], [8, 9, 10, 11])
    r = fit_length(y, 4, crop="random", rng=np.random.default_rng(0))[:, 0]
    assert np.all(np.diff(r) == 1)


def test_short_live_window_equals_training_window_torso():
    """A live window shorter than the model's (crop="end") is padded exactly as a short training clip."""
    seq = _rigid(_person(20), yaw=0.4, scale=1.1, shift=(0.3, 0.0, 2.5))[:, None]  # (20, 1, 25, 3)
    times = np.arange(20) / 15.0
    cfg = PreprocessConfig(window=32, normalization="torso")
    live = preprocess(seq, times, cfg, crop="end")
    train = preprocess(seq, times, cfg, crop="center")
    np.testing.assert_array_equal(live, train)


def test_short_window_ntu_padding_unchanged():
    """The "ntu" normalisation keeps the official padding: from frame 0, then loop-filled, for any crop."""
    seq = _person(20)[:, None] + np.float32([0.0, 0.0, 2.5])
    cfg = PreprocessConfig(window=32, normalization="ntu")
    for crop in ("end", "center"):
        out = preprocess(seq, None, cfg, crop=crop)  # (3, 32, 25, 2)
        np.testing.assert_allclose(out[:, 20:], out[:, :12], atol=1e-6)  # frames 20.. repeat frames 0..


def test_bad_shapes_and_config_rejected():
    with pytest.raises(ValueError, match=r"expected joints of shape \(T, M, 25, 3\)"):
        preprocess(np.zeros((10, 20, 3)), None, PreprocessConfig())
    with pytest.raises(ValueError, match="window must be"):
        PreprocessConfig(window=1)
    with pytest.raises(ValueError, match="strictly increasing"):
        resample(np.zeros((3, 1, 25, 3), np.float32), np.array([0.0, 0.1, 0.1]), 10)


def test_a_person_after_empty_slots_is_the_window_s_person():
    """Audit of 7 December 2026: a clip file whose person sits in its third slot (absent persons are zeros,
    docs/data_format.md) trained as an all-zero window, since the first slots were kept as they were."""
    p = _person()[:, None]
    alone = preprocess(p, None, PreprocessConfig(persons=1))
    late = preprocess(
        np.concatenate([np.zeros_like(p), np.zeros_like(p), p], axis=1), None, PreprocessConfig(persons=1)
    )
    np.testing.assert_array_equal(late, alone)
    assert np.abs(alone).max() > 0
    two = np.concatenate([np.zeros_like(p), p, _person(seed=1)[:, None]], axis=1)
    np.testing.assert_array_equal(
        preprocess(two, None, PreprocessConfig(persons=2)),
        preprocess(two[:, 1:], None, PreprocessConfig(persons=2)),
    )
