"""The one preprocessing path shared by training, offline evaluation and the live pipeline (numpy only).

A sequence of NTU-25 joints [T, M, 25, 3] with frame times becomes a model window [3, T_w, 25, M_w]:

1. resample to the model's frame rate (linear interpolation on the frame times);
2. fit to ``window`` frames: crop (centre / random / most recent) or pad by holding the edge poses;
3. centre every person on their own spine base, frame by frame. MediaPipe's world landmarks are
   hip-centred per frame, so a Kinect skeleton must lose its global translation too, or a model
   trained on Kinect data would rely on a cue the live pipeline never sees;
4. turn the body to face the camera: rotate about the vertical (+y) axis so that the first person's
   left-to-right hip + shoulder direction, averaged over the window, points along +x;
5. scale so that the first person's median torso length (spine base -> spine shoulder) is 1.

Absent persons and absent frames (all-zero joints) stay exactly zero through every step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sadvae.skeleton import NTUJoint as J

__all__ = ["PreprocessConfig", "preprocess", "resample", "fit_length", "normalize_pose", "present_mask"]

CROPS = ("center", "random", "end")


@dataclass(frozen=True)
class PreprocessConfig:
    """How a skeleton sequence becomes a model window.

    Attributes:
        window: frames per window (T_w); the live ring buffer must deliver exactly this many.
        fps: the model's frame rate; every source is resampled to it.
        persons: persons per window (M_w); extra persons are dropped, missing ones are zeros.
        face_front: rotate about +y so the body faces the camera.
        unit_torso: scale so the torso length is 1.
    """

    window: int = 32
    fps: float = 15.0
    persons: int = 2
    face_front: bool = True
    unit_torso: bool = True

    def __post_init__(self) -> None:
        if self.window < 2:
            raise ValueError(f"window must be >= 2 frames, got {self.window}")
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if self.persons < 1:
            raise ValueError(f"persons must be >= 1, got {self.persons}")

    @property
    def duration_s(self) -> float:
        return self.window / self.fps


def present_mask(joints: np.ndarray) -> np.ndarray:
    """[T, M] bool: True where that person has any non-zero joint in that frame."""
    return np.abs(joints).reshape(joints.shape[0], joints.shape[1], -1).max(axis=2) > 0


def resample(joints: np.ndarray, times: np.ndarray, fps: float) -> np.ndarray:
    """Linearly interpolate joints [T, ...] sampled at ``times`` (seconds) onto a uniform ``fps`` grid.

    The grid starts at the first frame and covers the sequence; a single frame stays a single frame.
    """
    times = np.asarray(times, dtype=np.float64)
    if joints.shape[0] == 1:
        return joints.copy()
    if np.any(np.diff(times) <= 0):
        raise ValueError("frame times must be strictly increasing")
    n = int(np.floor((times[-1] - times[0]) * fps + 1e-6)) + 1
    grid = times[0] + np.arange(n) / fps
    pos = np.interp(grid, times, np.arange(len(times)))
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, len(times) - 1)
    w = (pos - lo).astype(np.float32).reshape((-1,) + (1,) * (joints.ndim - 1))
    a, b = joints[lo], joints[hi]
    out = a + w * (b - a)
    # never blend a present pose with an absent (zero) one: take the nearer real frame instead
    pa, pb = present_mask(a), present_mask(b)
    broken = pa != pb
    if broken.any():
        nearest = np.where(w.reshape(-1) < 0.5, lo, hi)
        t_idx, m_idx = np.nonzero(broken)
        out[t_idx, m_idx] = joints[nearest[t_idx], m_idx]
    return out.astype(np.float32, copy=False)


def fit_length(
    joints: np.ndarray, window: int, crop: str = "center", rng: np.random.Generator | None = None
) -> np.ndarray:
    """Crop or pad joints [T, ...] to exactly ``window`` frames.

    Args:
        crop: which part of a long sequence to keep: "center", "random" (needs ``rng``) or "end"
            (the most recent frames, as the live buffer does).
        rng: random generator for ``crop="random"``.

    Short sequences are padded by holding the first and last poses (centred in the window), never
    with zeros: a zero pose after centring would look like a person collapsing to a point.
    """
    if crop not in CROPS:
        raise ValueError(f"crop must be one of {CROPS}, got {crop!r}")
    t = joints.shape[0]
    if t >= window:
        if crop == "end":
            start = t - window
        elif crop == "random":
            if rng is None:
                raise ValueError('crop="random" needs an rng')
            start = int(rng.integers(0, t - window + 1))
        else:
            start = (t - window) // 2
        return joints[start : start + window]
    before = (window - t) // 2 if crop != "end" else window - t
    idx = np.clip(np.arange(window) - before, 0, t - 1)
    return joints[idx]


def normalize_pose(joints: np.ndarray, face_front: bool = True, unit_torso: bool = True) -> np.ndarray:
    """Centre, face-front and scale joints [T, M, 25, 3] (see the module docstring). Returns a new array."""
    present = present_mask(joints)  # (T, M)
    out = joints - joints[:, :, J.SPINE_BASE : J.SPINE_BASE + 1, :]  # (T, M, 25, 3)
    out[~present] = 0.0
    main = present[:, 0]
    if not main.any():
        return out.astype(np.float32, copy=False)
    body = out[main, 0]  # (T', 25, 3) frames where the first person is present
    if face_front:
        across = (body[:, J.HIP_RIGHT] - body[:, J.HIP_LEFT]) + (body[:, J.SHOULDER_RIGHT] - body[:, J.SHOULDER_LEFT])
        dx, dz = float(across[:, 0].mean()), float(across[:, 2].mean())
        if dx * dx + dz * dz > 1e-12:
            theta = np.arctan2(dz, dx)
            c, s = np.cos(theta), np.sin(theta)
            # rotation about +y taking (cos θ, ·, sin θ) to +x
            rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]], dtype=np.float32)
            out = out @ rot.T
    if unit_torso:
        torso = np.linalg.norm(body[:, J.SPINE_SHOULDER] - body[:, J.SPINE_BASE], axis=-1)
        scale = float(np.median(torso))
        if scale > 1e-6:
            out = out / scale
    return out.astype(np.float32, copy=False)


def _fit_persons(joints: np.ndarray, persons: int) -> np.ndarray:
    m = joints.shape[1]
    if m >= persons:
        return joints[:, :persons]
    pad = np.zeros((joints.shape[0], persons - m) + joints.shape[2:], dtype=joints.dtype)
    return np.concatenate([joints, pad], axis=1)


def preprocess(
    joints: np.ndarray,
    times: np.ndarray | None,
    cfg: PreprocessConfig,
    crop: str = "center",
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Turn NTU-25 joints into one model window.

    Args:
        joints: float [T, M, 25, 3] in metres, +y up; absent persons/frames are zeros.
        times: [T] frame times in seconds, or None when the frames are already at ``cfg.fps``.
        cfg: window length, frame rate, persons and normalisation switches.
        crop: which part of a long sequence to keep ("center", "random", "end").
        rng: random generator for ``crop="random"``.

    Returns:
        float32 [3, cfg.window, 25, cfg.persons] (ST-GCN order C, T, V, M).
    """
    joints = np.asarray(joints, dtype=np.float32)
    if joints.ndim != 4 or joints.shape[2:] != (25, 3) or joints.shape[0] < 1:
        raise ValueError(f"expected joints of shape (T, M, 25, 3), got {joints.shape}")
    if times is not None:
        joints = resample(joints, times, cfg.fps)
    joints = fit_length(joints, cfg.window, crop=crop, rng=rng)
    joints = _fit_persons(joints, cfg.persons)
    joints = normalize_pose(joints, face_front=cfg.face_front, unit_torso=cfg.unit_torso)
    return np.ascontiguousarray(joints.transpose(3, 0, 2, 1))  # (3, T, 25, M)
