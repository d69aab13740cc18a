"""Mocap joints -> NTU-25 in the Kinect camera frame (numpy only).

Both mocap skeletons are first mapped to the 20 Kinect v1 joints and converted with
:func:`sadvae.skeleton.kinect_v1_to_ntu25`, so spine mid, neck, hand tips and thumbs are derived by
exactly the rules used for the Kinect v1 datasets (a reader overrides the hand tips and thumbs where
its skeleton has real ones). The mocap world (metres, +y up, floor at y = 0, right-handed) is then
seen by a virtual Kinect: level, 1.0 m above the floor (the Kinect sets' feet lie about 1 m below
their camera), so y = height − 1.0; turned about +y so the person faces the camera (−z) in the first
frame; the first frame's spine base at x = 0 and 3.0 m deep, or deeper when the clip would otherwise
come closer than 1.0 m to the camera. Only a rotation about +y and a translation: no mirroring.
"""

from __future__ import annotations

import numpy as np

from sadvae.skeleton import NTUJoint as J
from sadvae.skeleton import kinect_v1_to_ntu25

__all__ = ["CAMERA_HEIGHT_M", "CAMERA_DISTANCE_M", "MIN_DEPTH_M", "facing_yaw", "to_camera", "mocap_to_ntu25"]

CAMERA_HEIGHT_M = 1.0
CAMERA_DISTANCE_M = 3.0
MIN_DEPTH_M = 1.0


def facing_yaw(ntu: np.ndarray) -> float:
    """Heading (radians, atan2(x, z)) of the body's forward direction in frame 0 of NTU joints [T, 25, 3].

    The person's left is the hip + shoulder left-minus-right vector; forward = left × up (right-handed, +y up).
    """
    f0 = ntu[0]
    left = (f0[J.HIP_LEFT] - f0[J.HIP_RIGHT]) + (f0[J.SHOULDER_LEFT] - f0[J.SHOULDER_RIGHT])
    return float(np.arctan2(-left[2], left[0]))  # forward = (-lz, 0, lx)


def to_camera(ntu: np.ndarray) -> np.ndarray:
    """Place NTU joints [T, 25, 3] from the mocap world (metres, +y up, floor y = 0) in the virtual Kinect frame."""
    theta = np.pi - facing_yaw(ntu)  # rotate the heading onto -z, towards the camera
    c, s = np.cos(theta), np.sin(theta)
    rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    out = ntu.astype(np.float64) @ rot.T
    base = out[0, J.SPINE_BASE]
    out[..., 0] -= base[0]
    out[..., 2] -= base[2]
    out[..., 1] -= CAMERA_HEIGHT_M
    out[..., 2] += max(CAMERA_DISTANCE_M, MIN_DEPTH_M - float(out[..., 2].min()))
    return out.astype(np.float32)


def mocap_to_ntu25(k1: np.ndarray, hand_tips: np.ndarray | None = None, thumbs: np.ndarray | None = None) -> np.ndarray:
    """Kinect-v1-ordered mocap joints [T, 20, 3] (world metres) -> float32 [T, 1, 25, 3] in the camera frame.

    Args:
        k1: joints in Kinect SDK v1 order, mocap world frame (metres, +y up, floor at y = 0).
        hand_tips: optional real [T, 2, 3] (left, right) hand tips replacing the derived ones.
        thumbs: optional real [T, 2, 3] (left, right) thumb tips replacing the derived ones.
    """
    ntu = kinect_v1_to_ntu25(k1)
    if hand_tips is not None:
        ntu[:, [J.HAND_TIP_LEFT, J.HAND_TIP_RIGHT]] = hand_tips
    if thumbs is not None:
        ntu[:, [J.THUMB_LEFT, J.THUMB_RIGHT]] = thumbs
    return np.ascontiguousarray(to_camera(ntu)[:, None])
