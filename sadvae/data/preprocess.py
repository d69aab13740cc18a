"""The one preprocessing path shared by training, offline evaluation and the live pipeline (numpy only).

A sequence of NTU-25 joints [T, M, 25, 3] with frame times becomes a model window [3, T_w, 25, M_w]:

1. resample to the model's frame rate (linear interpolation on the frame times);
2. fit to ``window`` frames: crop (centre / random / most recent) or pad by holding the edge poses
   (a short sequence is always padded centred, so live and training pad alike);
3. centre every person on their own spine base, frame by frame. MediaPipe's world landmarks are
   hip-centred per frame, so a Kinect skeleton must lose its global translation too, or a model
   trained on Kinect data would rely on a cue the live pipeline never sees;
4. turn the body to face the camera: rotate about the vertical (+y) axis so that the first person's
   left-to-right hip + shoulder direction, averaged over the window, points along +x;
5. scale so that the first person's median torso length (spine base -> spine shoulder) is 1.

Steps 3-5 are ``normalization="torso"`` (the default). ``normalization="ntu"`` replaces them with the
official NTU RGB+D pre-normalisation the released Shift-GCN / CTR-GCN weights were trained with
(:func:`ntu_normalize`: loop-fill, centre on the first person's spine mid per frame, two rotations
from the window's first frame; metres, no scaling); a sequence shorter than the window is then
written from frame 0 and loop-filled, as the official pipeline pads its 300-frame clips.

Absent persons and absent frames (all-zero joints) stay exactly zero through every step (except that
``"ntu"`` loop-fills the empty frames at the end of a person's track, as the official code does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sadvae.skeleton import NTUJoint as J

__all__ = [
    "PreprocessConfig",
    "preprocess",
    "resample",
    "fit_length",
    "normalize_pose",
    "ntu_normalize",
    "ntu_window",
    "present_mask",
    "NORMALIZATIONS",
]

CROPS = ("center", "random", "end")
NORMALIZATIONS = ("torso", "ntu")


@dataclass(frozen=True)
class PreprocessConfig:
    """How a skeleton sequence becomes a model window.

    Attributes:
        window: frames per window (T_w); the live ring buffer must deliver exactly this many.
        fps: the model's frame rate; every source is resampled to it.
        persons: persons per window (M_w); extra persons are dropped, missing ones are zeros.
        face_front: rotate about +y so the body faces the camera (``normalization="torso"`` only).
        unit_torso: scale so the torso length is 1 (``normalization="torso"`` only).
        normalization: "torso" (steps 3-5 of the module docstring) or "ntu" (the official NTU
            pre-normalisation, :func:`ntu_normalize`, for NTU-pretrained backbones).
    """

    window: int = 32
    fps: float = 15.0
    persons: int = 2
    face_front: bool = True
    unit_torso: bool = True
    normalization: str = "torso"

    def __post_init__(self) -> None:
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}")
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
            (the most recent frames, as the live buffer does). It has no effect on a short sequence.
        rng: random generator for ``crop="random"``.

    Short sequences are padded by holding the first and last poses, centred in the window whatever
    ``crop`` is, so a short live window (``crop="end"``) is padded exactly as a short training clip;
    never with zeros: a zero pose after centring would look like a person collapsing to a point.
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
    before = (window - t) // 2  # centred for every crop: live pads short windows as training does
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


def _rotation_onto(v: np.ndarray, target: np.ndarray) -> np.ndarray:
    """3x3 rotation about v x target by the angle between them (Rodrigues), taking v's direction to target's.

    The identity when either vector is zero or the axis or the angle is below 1e-6 (the official rule).
    """
    nv, nt = float(np.linalg.norm(v)), float(np.linalg.norm(target))
    if nv == 0.0 or nt == 0.0:
        return np.eye(3)
    axis = np.cross(v, target)
    angle = float(np.arccos(np.clip(np.dot(v / nv, target / nt), -1.0, 1.0)))
    if np.abs(axis).sum() < 1e-6 or abs(angle) < 1e-6:
        return np.eye(3)
    k = axis / np.linalg.norm(axis)
    cross = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(angle) * cross + (1.0 - np.cos(angle)) * (cross @ cross)


def _loop_fill(person: np.ndarray) -> np.ndarray:
    """Official NTU padding of one person's track [T, 25, 3] (all-zero frames are absent).

    If frame 0 is empty, the non-empty frames are packed to the front; then the empty tail (from the
    first frame after which every frame is empty) is filled by repeating the frames before it.
    """
    present = np.abs(person).reshape(len(person), -1).max(axis=1) > 0
    if not present.any():
        return person
    if not present[0]:
        packed = np.zeros_like(person)
        packed[: int(present.sum())] = person[present]
        person, present = packed, np.arange(len(person)) < int(present.sum())
    last = int(np.flatnonzero(present)[-1])
    if last + 1 < len(person):
        person = person.copy()
        person[last + 1 :] = person[np.arange(len(person) - last - 1) % (last + 1)]
    return person


def ntu_normalize(joints: np.ndarray) -> np.ndarray:
    """The official NTU RGB+D pre-normalisation of joints [T, M, 25, 3] (Kinect camera space, metres).

    In order: (1) per person, loop-fill (see :func:`_loop_fill`); (2) per frame, subtract the first
    person's spine mid (joint 1) from every non-zero joint of every person (zero joints stay zero);
    (3) rotate so that the first person's spine base -> spine mid at frame 0 points along +z;
    (4) on the rotated data, rotate so that the first person's left -> right shoulder at frame 0
    points along +x. No scaling. Afterwards +x is the subject's right, +z about up and +y the facing
    direction. Used both on whole clips (T=300, as the released weights were trained) and on live
    windows (the rotations then come from the window's first frame).

    Returns:
        float32 [T, M, 25, 3], a new array.
    """
    x = np.array(joints, dtype=np.float64)  # (T, M, 25, 3)
    for m in range(x.shape[1]):
        x[:, m] = _loop_fill(x[:, m])
    nonzero = np.abs(x).max(axis=-1, keepdims=True) > 0  # (T, M, 25, 1)
    x = (x - x[:, :1, J.SPINE_MID : J.SPINE_MID + 1]) * nonzero
    first = x[0, 0]
    r1 = _rotation_onto(first[J.SPINE_MID] - first[J.SPINE_BASE], np.array([0.0, 0.0, 1.0]))
    x = x @ r1.T
    first = x[0, 0]
    r2 = _rotation_onto(first[J.SHOULDER_RIGHT] - first[J.SHOULDER_LEFT], np.array([1.0, 0.0, 0.0]))
    x = x @ r2.T
    return x.astype(np.float32)


def _fit_persons(joints: np.ndarray, persons: int) -> np.ndarray:
    """``persons`` slots: the persons present (any non-zero joint in the frames given) first, in order, then empty
    slots. A clip file may leave a slot empty before a person (docs/data_format.md: absent persons are zeros); until
    7 December 2026 the first slots were kept as they were, so such a person trained as an all-zero window."""
    present = np.abs(joints).reshape(joints.shape[0], joints.shape[1], -1).max(axis=(0, 2)) > 0
    if not present[: present.sum()].all():
        joints = joints[:, np.concatenate([np.flatnonzero(present), np.flatnonzero(~present)])]
    m = joints.shape[1]
    if m >= persons:
        return joints[:, :persons]
    pad = np.zeros((joints.shape[0], persons - m) + joints.shape[2:], dtype=joints.dtype)
    return np.concatenate([joints, pad], axis=1)


def _checked_at_fps(joints: np.ndarray, times: np.ndarray | None, fps: float) -> np.ndarray:
    """[T, M, 25, 3] joints as float32, resampled to ``fps`` when ``times`` are given.

    Raises:
        ValueError: not a [T >= 1, M, 25, 3] array.
    """
    joints = np.asarray(joints, dtype=np.float32)
    if joints.ndim != 4 or joints.shape[2:] != (25, 3) or joints.shape[0] < 1:
        raise ValueError(f"expected joints of shape (T, M, 25, 3), got {joints.shape}")
    return resample(joints, times, fps) if times is not None else joints


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
    joints = _checked_at_fps(joints, times, cfg.fps)
    if cfg.normalization == "ntu":
        if joints.shape[0] < cfg.window:  # official padding: from frame 0, then loop-filled by ntu_normalize
            pad = np.zeros((cfg.window - joints.shape[0],) + joints.shape[1:], dtype=joints.dtype)
            joints = np.concatenate([joints, pad])
        joints = fit_length(joints, cfg.window, crop=crop, rng=rng)
        joints = ntu_normalize(_fit_persons(joints, cfg.persons))
    else:
        joints = fit_length(joints, cfg.window, crop=crop, rng=rng)
        joints = _fit_persons(joints, cfg.persons)
        joints = normalize_pose(joints, face_front=cfg.face_front, unit_torso=cfg.unit_torso)
    return np.ascontiguousarray(joints.transpose(3, 0, 2, 1))  # (3, T, 25, M)


def ntu_window(
    joints: np.ndarray, times: np.ndarray | None, window: int = 64, stride: int = 32, persons: int = 2
) -> list[np.ndarray]:
    """Windows of a whole clip for an NTU-pretrained backbone (30 fps, ``normalization="ntu"``).

    The clip is resampled to 30 fps; a clip of at most ``window`` frames gives one window (loop-filled);
    a longer one gives windows of ``window`` frames every ``stride`` frames, plus one ending at the
    clip's last frame. Each window goes through :func:`preprocess` on its own (rotations from its
    first frame), exactly as a live window would.

    Args:
        joints: float [T, M, 25, 3] in metres; times: [T] seconds, or None when already at 30 fps.
        window: frames per window (a multiple of 4 for Shift-GCN); stride: frames between window starts.
        persons: person slots M of each window.

    Returns:
        float32 windows [3, window, 25, persons], in time order.
    """
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    cfg = PreprocessConfig(window=window, fps=30.0, persons=persons, normalization="ntu")
    joints = _checked_at_fps(joints, times, cfg.fps)
    t = joints.shape[0]
    starts = list(range(0, max(t - window, 0) + 1, stride))
    if t > window and starts[-1] != t - window:
        starts.append(t - window)
    return [preprocess(joints[a : a + window], None, cfg) for a in starts]
