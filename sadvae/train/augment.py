"""Training augmentations that matter for live use (numpy).

The shared preprocessing already removes position, facing and body size, so the augmentations model
what it cannot remove: errors of the facing estimate and camera pitch (small rotations), pose-estimator
noise (joint jitter), people moving faster or slower (speed), actions caught anywhere in the live
window (temporal crop), a second person missing (drop person), and mirror-image performers.
Another pose estimator places joints differently from Kinect (MediaPipe: ~5 cm after alignment, worst
at the hands and feet, see docs/mapping_check.md): a per-window constant offset of every joint, and
stronger noise on the extremities, model that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sadvae.data.preprocess import PreprocessConfig, preprocess
from sadvae.data.record import SkeletonSequence
from sadvae.skeleton import FLIP_INDEX, NUM_JOINTS
from sadvae.skeleton import NTUJoint as J

__all__ = ["AugmentConfig", "EXTREMITIES", "augmented_window", "eval_window"]

# joints where pose estimators disagree most with Kinect: hands, the derived hand tips and thumbs, feet
EXTREMITIES = (J.HAND_LEFT, J.HAND_RIGHT, J.HAND_TIP_LEFT, J.HAND_TIP_RIGHT, J.THUMB_LEFT, J.THUMB_RIGHT,
               J.FOOT_LEFT, J.FOOT_RIGHT)  # fmt: skip


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
    if aug.drop_person > 0 and x.shape[-1] > 1 and rng.random() < aug.drop_person:
        x[..., 1:] = 0.0
    present = (np.abs(x).max(axis=(0, 2)) > 0).astype(np.float32)  # (T, M): absent frames stay zero
    if aug.mirror > 0 and rng.random() < aug.mirror:
        x = x[:, :, list(FLIP_INDEX), :]
        x[0] = -x[0]
    yaw, pitch = rng.uniform(-aug.yaw_deg, aug.yaw_deg), rng.uniform(-aug.pitch_deg, aug.pitch_deg)
    roll = rng.uniform(-aug.roll_deg, aug.roll_deg) if aug.roll_deg > 0 else 0.0
    rot = _rotation(np.deg2rad(yaw), np.deg2rad(pitch), np.deg2rad(roll))
    x = np.tensordot(rot, x, axes=([1], [0]))  # (3, T, 25, M)
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
