"""Inference backends behind one interface, and the live model that runs on one of them.

``import realtime.backends`` needs only numpy: each backend's library (onnxruntime, torch,
tensorrt) is imported inside its loader (:mod:`.registry`), and a missing one raises
:class:`sadvae.errors.MissingDependencyError` naming the extra to install. :mod:`.live_model` loads a
model file (ONNX, TensorRT engine or torch bundle) with its window facts as a :class:`LiveModel`.

Example::

    with load_backend("onnxruntime", "engines/model.onnx", threads=2) as backend:
        out = backend.run(windows)  # {"latent": [N, d_r], "seen_logits": [N, K]}
"""

from __future__ import annotations

from realtime.backends.base import Backend, BackendOptions, LatencyStats, decode_metadata, time_backend
from realtime.backends.live_model import LiveModel, default_model_path, load_live_model
from realtime.backends.registry import BACKEND_ALIASES, BACKEND_NAMES, BACKENDS, backend_name, load_backend

__all__ = [
    "BACKENDS",
    "BACKEND_NAMES",
    "BACKEND_ALIASES",
    "backend_name",
    "Backend",
    "BackendOptions",
    "LatencyStats",
    "decode_metadata",
    "load_backend",
    "time_backend",
    "LiveModel",
    "default_model_path",
    "load_live_model",
]
