"""Pose: MediaPipe landmarks, optionally found inside a region of interest, mapped to the NTU-25 skeleton.

:mod:`.stage` is the pose stage of the pipeline (:func:`make_pose_stage`); :mod:`.model` resolves and
checks the MediaPipe task file; :mod:`.roi` places the crop windows; :mod:`.mapping` turns 33 MediaPipe
landmarks into 25 NTU joints.
"""

from __future__ import annotations

from realtime.pose.mapping import (
    CORRECTIONS,
    MEDIAPIPE_LANDMARKS,
    NTU25_FROM_MEDIAPIPE,
    NTU25_WEIGHTS,
    MappingCorrection,
    MediaPipeLandmark,
    body_frame,
    mediapipe_to_ntu25,
)
from realtime.pose.model import (
    PoseModel,
    check_task_file,
    pose_cache_dir,
    resolve_pose_model,
)
from realtime.pose.roi import RoiOptions
from realtime.pose.stage import (
    MultiRoiPoseEstimator,
    PoseEstimator,
    PoseOptions,
    RoiPoseEstimator,
    RunningMode,
    Skeleton,
    make_pose_stage,
)

__all__ = [
    "CORRECTIONS",
    "MEDIAPIPE_LANDMARKS",
    "MappingCorrection",
    "MediaPipeLandmark",
    "NTU25_FROM_MEDIAPIPE",
    "NTU25_WEIGHTS",
    "body_frame",
    "mediapipe_to_ntu25",
    "PoseModel",
    "check_task_file",
    "pose_cache_dir",
    "resolve_pose_model",
    "RoiOptions",
    "PoseEstimator",
    "PoseOptions",
    "RoiPoseEstimator",
    "MultiRoiPoseEstimator",
    "RunningMode",
    "Skeleton",
    "make_pose_stage",
]
