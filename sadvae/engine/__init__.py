"""TensorRT engines: build a plan from the ONNX export, describe it in a manifest, refuse a plan built for else.

``build_engine(onnx, precision="fp16")`` writes ``engines/<name>.<precision>.plan`` and its manifest
``engines/<name>.<precision>.json``; ``check_manifest(plan)`` refuses a plan whose manifest names
another TensorRT version, GPU or model. Importing this package needs only the standard library:
TensorRT (or TensorRT-RTX) is imported when a build or check runs. INT8 calibration lives in
:mod:`sadvae.engine.calibrator` and :mod:`sadvae.engine.calibration_data`.
"""

from __future__ import annotations

from sadvae.engine.builder import PRECISIONS, BuildReport, build_engine
from sadvae.engine.manifest import (
    MANIFEST_FORMAT,
    check_against,
    check_manifest,
    current_device,
    manifest_mismatches,
    manifest_path,
    read_manifest,
    runtime_info,
)
from sadvae.engine.trt_common import LIBRARIES, load_library

__all__ = [
    "LIBRARIES",
    "PRECISIONS",
    "MANIFEST_FORMAT",
    "BuildReport",
    "build_engine",
    "load_library",
    "check_against",
    "check_manifest",
    "current_device",
    "manifest_mismatches",
    "manifest_path",
    "read_manifest",
    "runtime_info",
]
