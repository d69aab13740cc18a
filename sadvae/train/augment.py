"""Training augmentations that matter for live use (numpy).

The shared preprocessing already removes position, facing and body size, so the augmentations model
what it cannot remove: errors of the facing estimate and camera pitch (small rotations), pose-estimator
noise (joint jitter), people moving faster or slower (speed), actions caught anywhere in the live
window (temporal crop), a second person missing (drop person), and mirror-image performers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sadvae.data.preprocess import PreprocessConfig, preprocess
from sadvae.data.record import SkeletonSequence
from sadvae.skeleton import FLIP_INDEX

__all__ = ["AugmentConfig", "augmented_window", "eval_window"]


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
    """

    yaw_deg: float = 20.0
    pitch_deg: float = 10.0
    scale: float = 0.1
    speed: float = 0.2
    jitter: float = 0.01
    drop_person: float = 0.2
    mirror: float = 0.5


def _rotation(yaw: float, pitch: float) -> np.ndarray:
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    return (rx @ ry).astype(np.float32)


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
    rot = _rotation(np.deg2rad(yaw), np.deg2rad(pitch))
    x = np.tensordot(rot, x, axes=([1], [0]))  # (3, T, 25, M)
    x = x * (1.0 + rng.uniform(-aug.scale, aug.scale))
    if aug.jitter > 0:
        x = x + rng.normal(0.0, aug.jitter, x.shape)
    x = x * present[None, :, None, :]
    return np.ascontiguousarray(x, dtype=np.float32)


def eval_window(seq: SkeletonSequence, pre: PreprocessConfig) -> np.ndarray:
    """The deterministic window [3, T, 25, M] used for evaluation and feature extraction."""
    return preprocess(seq.joints, seq.times(), pre, crop="center")
