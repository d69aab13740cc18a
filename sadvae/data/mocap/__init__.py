"""Optical motion capture readers: BVH (Bandai-Namco) and ASF/AMC (HDM05) -> NTU-25 by forward kinematics.

:mod:`~sadvae.data.mocap.bvh` and :mod:`~sadvae.data.mocap.acclaim` parse the formats and run forward
kinematics; :mod:`~sadvae.data.mocap.convert` maps joints to NTU-25 (the Kinect v1 derivation rules)
and places them in a virtual Kinect camera frame; :mod:`~sadvae.data.mocap.datasets` reads the two
datasets into :class:`~sadvae.data.record.SkeletonSequence` records.
"""

from __future__ import annotations

from sadvae.data.mocap.acclaim import AmcMotion, AsfSkeleton, amc_forward_kinematics, read_amc, read_asf
from sadvae.data.mocap.bvh import BvhMotion, bvh_forward_kinematics, read_bvh
from sadvae.data.mocap.datasets import (
    BANDAI_CLASSES,
    BANDAI_STYLES,
    BANDAI_TEST_STYLES,
    HDM05_ACTORS,
    HDM05_CLASSES,
    HDM05_FPS,
    load_bandai_namco,
    load_hdm05,
    read_bandai_bvh,
    read_hdm05_amc,
)

__all__ = [
    "AmcMotion",
    "AsfSkeleton",
    "BvhMotion",
    "BANDAI_CLASSES",
    "BANDAI_STYLES",
    "BANDAI_TEST_STYLES",
    "HDM05_ACTORS",
    "HDM05_CLASSES",
    "HDM05_FPS",
    "amc_forward_kinematics",
    "bvh_forward_kinematics",
    "load_bandai_namco",
    "load_hdm05",
    "read_amc",
    "read_asf",
    "read_bandai_bvh",
    "read_bvh",
    "read_hdm05_amc",
]
