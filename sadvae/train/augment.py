"""Training augmentations that matter for live use (numpy).

The shared preprocessing already removes position, facing and body size, so the augmentations model
what it cannot remove: errors of the facing estimate and camera pitch (small rotations), pose-estimator
noise (joint jitter), people moving faster or slower (speed), actions caught anywhere in the live
window (temporal crop), a second person missing (drop person), and mirror-image performers.
Another pose estimator places joints differently from Kinect (MediaPipe: ~5 cm after alignment, worst
at the hands and feet, see docs/mapping_check.md): a per-window constant offset of every joint, and
stronger noise on the extremities, model that.

Camera-like skeletons (``AUGMENTS["camera"]``, issue 13): the differences measured between MediaPipe and
Kinect on the paired NTU clip (docs/camera_gap.md), applied in the body frame of each window so that they
work for every normalisation ("torso" and "ntu"): MediaPipe's shoulder landmarks sit on top of the
shoulders (4 cm above, 2.5 cm behind, 1.5 cm outside Kinect's joint centres) and its hips 3 cm wider and
2 cm further back (``camera_landmarks``); its arm depth is uncertain (wrist depth IQR 16 cm,
``limb_depth``); its thumb landmark lies 1.6 cm from the wrist where Kinect's thumb is 5-9 cm away
(``thumb_pull``). The mapping itself applies none of these by default (``realtime.pose.mapping.CORRECTIONS``).
Training takes it with ``--augment camera`` (``sadvae train zsl|backbone``, ``sadvae benchmark zsl``: the
from-scratch backbone's augmented windows) and ``scripts/train_default --augment camera`` (the frozen-feature
recipe ``shiftgcn-v2``: a camera-like copy of every inner-train window goes through the frozen backbone once,
:class:`sadvae.train.window_features.AugmentedWindows`, and the heads train on both).

``AUGMENTS["camera_wander"]`` swaps "camera"'s constant per-window arm depth offset for a smooth random wander
of each arm's elbow-wrist-hand chain (``arm_wander``, ``wander_frames``). On the paired clip, the constant part of
MediaPipe's arm error alone leaves recognition almost as it is, and the time-varying part alone makes most of the
drop (docs/camera_gap.md, sections 1, 2 and 6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sadvae.data.preprocess import PreprocessConfig, preprocess
from sadvae.data.record import SkeletonSequence
from sadvae.skeleton import NUM_JOINTS, mirror_windows
from sadvae.skeleton import NTUJoint as J

__all__ = [
    "AugmentConfig",
    "AUGMENTS",
    "CAMERA_OFFSETS",
    "EXTREMITIES",
    "augment_window",
    "augmented_window",
    "camera_like",
    "eval_window",
]

# joints where pose estimators disagree most with Kinect: hands, the derived hand tips and thumbs, feet
EXTREMITIES = (
    J.HAND_LEFT,
    J.HAND_RIGHT,
    J.HAND_TIP_LEFT,
    J.HAND_TIP_RIGHT,
    J.THUMB_LEFT,
    J.THUMB_RIGHT,
    J.FOOT_LEFT,
    J.FOOT_RIGHT,
)


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation strengths (0 disables each one).

    Attributes:
        yaw_deg: max rotation about the vertical axis after facing normalisation.
        pitch_deg: max rotation about the left-right axis (camera tilt).
        scale: max relative change of body size.
        speed: max relative change of the action's speed (time stretch before resampling).
        jitter: std of Gaussian joint noise, in torso lengths.
        drop_person: probability of zeroing every person after the first.
        mirror: probability of a left-right mirror (swap sides and negate x).
        roll_deg: max rotation about the depth axis (a tilted camera, a leaning estimate).
        offset: std of a constant offset of every joint over the whole window, in torso lengths
            (systematic joint placement differences between pose estimators).
        extremity_factor: multiplies ``jitter`` and ``offset`` on the ``EXTREMITIES``.
        camera_landmarks: probability of moving shoulders and hips to where MediaPipe puts them
            (:data:`CAMERA_OFFSETS`, times a factor drawn from [0.5, 1.5] per window).
        limb_depth: std of a per-window offset of each arm along the body's forward axis, in torso lengths
            (half at the elbow, full from the wrist on).
        thumb_pull: max fraction by which the thumbs are pulled towards the wrists (per window and side).
        arm_wander: std, in torso lengths at the hand, of a smooth random wander of each arm's elbow-wrist-hand
            chain in the body frame (the elbow moves 0.25x, the wrist 0.7x, the hand, hand tip and thumb 1x; one
            draw per arm and axis, times a factor from [0.5, 1.5] per window): the time-varying part of
            MediaPipe's arm error, which changes recognition most on the paired clip (docs/camera_gap.md).
        wander_frames: std, in frames of the window, of the Gaussian filter that smooths the wander; its
            autocorrelation falls to 0.5 after 1.67x that many frames (8 at 30 fps: 0.44 s, as measured).
        hide_legs: probability that the knees, ankles and feet sit on the hips for the whole window, as the live
            mapping places legs outside the image (a camera that frames a person from the hips up; measured in
            docs/camera_gap.md section 7).
    """

    yaw_deg: float = 20.0
    pitch_deg: float = 10.0
    scale: float = 0.1
    speed: float = 0.2
    jitter: float = 0.01
    drop_person: float = 0.2
    mirror: float = 0.5
    roll_deg: float = 0.0
    offset: float = 0.0
    extremity_factor: float = 1.0
    camera_landmarks: float = 0.0
    limb_depth: float = 0.0
    thumb_pull: float = 0.0
    arm_wander: float = 0.0
    wander_frames: float = 8.0
    hide_legs: float = 0.0


# MediaPipe landmark minus Kinect joint centre in the body frame, in torso lengths (spine base -> spine
# shoulder, 0.47 m on the paired clip): (lateral = away from the midline, up, forward); docs/camera_gap.md.
CAMERA_OFFSETS: dict[int, tuple[float, float, float]] = {
    J.SHOULDER_LEFT: (0.03, 0.085, -0.053),
    J.SHOULDER_RIGHT: (0.03, 0.085, -0.053),
    J.HIP_LEFT: (0.064, 0.0, -0.043),
    J.HIP_RIGHT: (0.064, 0.0, -0.043),
}
_LEFT_SIDE = (J.SHOULDER_LEFT, J.HIP_LEFT)
_WANDER_WEIGHTS = (0.25, 0.7, 1.0, 1.0, 1.0)  # elbow, wrist, hand, hand tip, thumb (the order of _ARMS)
_LEGS = ((J.HIP_LEFT, J.KNEE_LEFT, J.ANKLE_LEFT, J.FOOT_LEFT), (J.HIP_RIGHT, J.KNEE_RIGHT, J.ANKLE_RIGHT, J.FOOT_RIGHT))
_ARMS = (
    (J.ELBOW_LEFT, J.WRIST_LEFT, J.HAND_LEFT, J.HAND_TIP_LEFT, J.THUMB_LEFT),
    (J.ELBOW_RIGHT, J.WRIST_RIGHT, J.HAND_RIGHT, J.HAND_TIP_RIGHT, J.THUMB_RIGHT),
)


def _body_axes(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame of one person's joints p [3, T, 25]: unit right [T, 3], up [T, 3], forward [T, 3], torso [T]."""
    j = p.transpose(1, 2, 0)  # (T, 25, 3)
    r = j[:, J.HIP_RIGHT] - j[:, J.HIP_LEFT]
    u = j[:, J.SPINE_SHOULDER] - j[:, J.SPINE_BASE]
    torso = np.linalg.norm(u, axis=-1)
    r = r / np.maximum(np.linalg.norm(r, axis=-1, keepdims=True), 1e-6)
    u = u - (u * r).sum(-1, keepdims=True) * r
    u = u / np.maximum(np.linalg.norm(u, axis=-1, keepdims=True), 1e-6)
    return r, u, np.cross(u, r), torso


def smooth_noise(t: int, sigma: float, rng: np.random.Generator, dims: int = 3) -> np.ndarray:
    """[t, dims] Gaussian noise smoothed over time by a Gaussian filter of std ``sigma`` frames, unit variance."""
    if sigma <= 0:
        return rng.normal(size=(t, dims)).astype(np.float32)
    half = int(np.ceil(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    kernel /= np.sqrt((kernel**2).sum())  # unit L2 norm: the filtered white noise keeps unit variance
    white = rng.normal(size=(t + 2 * half, dims))
    return np.stack([np.convolve(white[:, d], kernel, mode="valid") for d in range(dims)], 1).astype(np.float32)


def camera_like(x: np.ndarray, aug: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Make a window [3, T, 25, M] look like a MediaPipe skeleton (see the module docstring); returns a new array.

    Works in each person's own body frame (right = left -> right hip, up = spine, forward = up x right), so it
    does not depend on the normalisation. Frames where a person is absent (all zeros) stay zero.
    """
    out = np.array(x, dtype=np.float32, copy=True)
    for m in range(out.shape[-1]):
        p = out[..., m]  # (3, T, 25), a view
        present = np.abs(p).max(axis=(0, 2)) > 0  # (T,)
        if not present.any():
            continue
        r, u, f, torso = _body_axes(p)
        t_len = torso[:, None]  # (T, 1)
        moves = np.zeros((p.shape[1], NUM_JOINTS, 3), np.float32)  # (T, 25, 3)
        if aug.camera_landmarks > 0 and rng.random() < aug.camera_landmarks:
            k = rng.uniform(0.5, 1.5)
            for j, (lat, up, fwd) in CAMERA_OFFSETS.items():
                side = -1.0 if j in _LEFT_SIDE else 1.0  # lateral: towards the person's own side
                moves[:, j] += k * t_len * (side * lat * r + up * u + fwd * f)
        if aug.limb_depth > 0:
            for chain in _ARMS:
                d = rng.normal(0.0, aug.limb_depth)
                for i, j in enumerate(chain):
                    moves[:, j] += (0.5 if i == 0 else 1.0) * d * t_len * f
        if aug.arm_wander > 0:
            k = rng.uniform(0.5, 1.5) * aug.arm_wander
            for chain in _ARMS:
                n = smooth_noise(p.shape[1], aug.wander_frames, rng)  # (T, 3): right, up, forward
                step = t_len * (n[:, 0:1] * r + n[:, 1:2] * u + n[:, 2:3] * f)  # (T, 3)
                for j, w in zip(chain, _WANDER_WEIGHTS, strict=True):
                    moves[:, j] += k * w * step
        if aug.thumb_pull > 0:
            for wrist, thumb in ((J.WRIST_LEFT, J.THUMB_LEFT), (J.WRIST_RIGHT, J.THUMB_RIGHT)):
                a = rng.uniform(0.0, aug.thumb_pull)
                moves[:, thumb] += a * (p[:, :, wrist] - p[:, :, thumb]).T
        p += (moves * present[:, None, None]).transpose(2, 0, 1)
    return out


def _rotation(yaw: float, pitch: float, roll: float = 0.0) -> np.ndarray:
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rot = rx @ ry
    if roll:
        cr, sr = np.cos(roll), np.sin(roll)
        rot = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]]) @ rot
    return rot.astype(np.float32)


def _joint_weights(aug: AugmentConfig) -> np.ndarray:
    w = np.ones(NUM_JOINTS, dtype=np.float32)
    w[list(EXTREMITIES)] = aug.extremity_factor
    return w[None, None, :, None]  # (1, 1, 25, 1)


def augmented_window(
    seq: SkeletonSequence, pre: PreprocessConfig, aug: AugmentConfig, rng: np.random.Generator
) -> np.ndarray:
    """One randomly augmented training window [3, T, 25, M] from a sequence."""
    stretch = 1.0 + rng.uniform(-aug.speed, aug.speed) if aug.speed > 0 else 1.0
    times = seq.times() * stretch
    x = preprocess(seq.joints, times, pre, crop="random", rng=rng)  # (3, T, 25, M)
    return augment_window(x, aug, rng)


def augment_window(x: np.ndarray, aug: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """The window-level augmentations of :func:`augmented_window` (all but speed and crop) on a preprocessed
    window [3, T, 25, M]: person drop, mirror, rotation, camera-like landmarks, scale, noise. Returns a new array."""
    x = np.array(x, dtype=np.float32, copy=True)
    if aug.drop_person > 0 and x.shape[-1] > 1 and rng.random() < aug.drop_person:
        x[..., 1:] = 0.0
    present = (np.abs(x).max(axis=(0, 2)) > 0).astype(np.float32)  # (T, M): absent frames stay zero
    if aug.hide_legs > 0 and rng.random() < aug.hide_legs:
        for hip, *below in _LEGS:
            x[:, :, below, :] = x[:, :, [hip], :]
    if aug.mirror > 0 and rng.random() < aug.mirror:
        x = mirror_windows(x)
    yaw, pitch = rng.uniform(-aug.yaw_deg, aug.yaw_deg), rng.uniform(-aug.pitch_deg, aug.pitch_deg)
    roll = rng.uniform(-aug.roll_deg, aug.roll_deg) if aug.roll_deg > 0 else 0.0
    rot = _rotation(np.deg2rad(yaw), np.deg2rad(pitch), np.deg2rad(roll))
    x = np.tensordot(rot, x, axes=([1], [0]))  # (3, T, 25, M)
    if aug.camera_landmarks > 0 or aug.limb_depth > 0 or aug.thumb_pull > 0 or aug.arm_wander > 0:
        x = camera_like(x, aug, rng)
    x = x * (1.0 + rng.uniform(-aug.scale, aug.scale))
    w = _joint_weights(aug)  # (1, 1, 25, 1): ones unless extremity_factor != 1
    if aug.jitter > 0:
        x = x + rng.normal(0.0, aug.jitter, x.shape) * w
    if aug.offset > 0:
        x = x + rng.normal(0.0, aug.offset, (3, 1, x.shape[2], x.shape[3])) * w  # same offset in every frame
    x = x * present[None, :, None, :]
    return np.ascontiguousarray(x, dtype=np.float32)


def eval_window(seq: SkeletonSequence, pre: PreprocessConfig) -> np.ndarray:
    """The deterministic window [3, T, 25, M] used for evaluation and feature extraction."""
    return preprocess(seq.joints, seq.times(), pre, crop="center")


# Named augmentation settings (``--augment NAME`` of ``sadvae train`` / ``sadvae benchmark zsl``). "camera" adds the
# measured MediaPipe-vs-Kinect differences to the default ones, for models that will see camera skeletons.
AUGMENTS: dict[str, AugmentConfig] = {
    "default": AugmentConfig(),
    "camera": AugmentConfig(camera_landmarks=0.8, limb_depth=0.15, thumb_pull=0.8, offset=0.01, extremity_factor=2.0),
    # "camera" with the per-window arm depth offset (harmless when added to Kinect arms, docs/camera_gap.md) replaced
    # by the smooth arm wander measured on the paired clip: 0.15 torso lengths (7 cm) at the hand, 0.44 s correlation
    "camera_wander": AugmentConfig(
        camera_landmarks=0.8, thumb_pull=0.8, offset=0.01, extremity_factor=2.0, arm_wander=0.15, wander_frames=8.0
    ),
    # half the windows with the legs out of the frame, as the live mapping gives them (docs/camera_gap.md section 7)
    "legs": AugmentConfig(hide_legs=0.5),
}
