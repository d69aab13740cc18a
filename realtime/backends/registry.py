"""The backend registry: names, aliases and loaders behind ``load_backend(name, path) -> Backend``.

Each loader imports its backend's library on first use and raises
:class:`sadvae.errors.MissingDependencyError` when it is missing; :mod:`realtime.backends` has an example.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from realtime.backends.base import Backend, BackendOptions
from sadvae.errors import ConfigError, MissingDependencyError

__all__ = ["BACKENDS", "BACKEND_NAMES", "BACKEND_ALIASES", "backend_name", "load_backend"]


def _load_onnxruntime(path: Path, options: BackendOptions) -> Backend:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise MissingDependencyError("onnxruntime", "live") from None
    from realtime.backends.onnx import OnnxRuntimeBackend

    return OnnxRuntimeBackend(path, options)


def _load_torch(path: Path, options: BackendOptions) -> Backend:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise MissingDependencyError("torch", "train") from None
    from realtime.backends.torch import TorchBackend

    return TorchBackend(path, options)


def _load_tensorrt(path: Path, options: BackendOptions) -> Backend:
    import importlib

    for module in ("tensorrt", "tensorrt_rtx"):  # the plan's manifest says which of them runs it
        try:
            importlib.import_module(module)
            break
        except ImportError:
            continue
    else:
        raise MissingDependencyError(  # the trt extra is pycuda only: TensorRT comes with JetPack or NVIDIA's wheel
            "tensorrt",
            "trt",
            "tensorrt is not installed; TensorRT comes with JetPack on a Jetson (on a desktop: "
            "`pip install tensorrt`), and the trt extra, `pip install 'sadvae-live[trt]'`, adds pycuda for the GPU",
        )
    from realtime.backends.tensorrt import TensorRTBackend

    return TensorRTBackend(path, options)


# name -> loader(path, options); each loader imports its library and its module on first use.
BACKENDS: dict[str, Callable[[Path, BackendOptions], Backend]] = {
    "onnxruntime": _load_onnxruntime,
    "torch": _load_torch,
    "tensorrt": _load_tensorrt,
}
# the backend names in the order the CLIs list them
BACKEND_NAMES: tuple[str, ...] = tuple(BACKENDS)
# other spellings users type -> the BACKENDS key they mean: load_backend, load_live_model and `sadvae bench --backend`
# take them; `sadvae-live --backend` offers the BACKEND_NAMES only
BACKEND_ALIASES = {"onnx": "onnxruntime", "ort": "onnxruntime", "pytorch": "torch", "trt": "tensorrt"}


def backend_name(name: str) -> str:
    """The :data:`BACKENDS` key ``name`` stands for ("trt" -> "tensorrt"); an unknown name is returned unchanged."""
    return BACKEND_ALIASES.get(name, name)


def load_backend(name: str, path: str | Path, options: BackendOptions | None = None, **overrides: object) -> Backend:
    """Load the model at ``path`` into the named backend.

    Args:
        name: a key of :data:`BACKENDS` or of :data:`BACKEND_ALIASES` (onnx, ort, pytorch, trt).
        path: what that backend reads: an ``.onnx`` export (onnxruntime), a model bundle ``.pt``
            (torch) or a TensorRT plan (tensorrt).
        options: backend options (default ``BackendOptions()``).
        **overrides: fields of :class:`BackendOptions` to override, e.g. ``threads=2``.

    Returns:
        a ready :class:`Backend`; close it (or use it as a context manager) when done.

    Raises:
        ConfigError: unknown backend name or option.
        MissingDependencyError: the backend's library is not installed.
        CheckpointError: the model file is missing or unreadable.
        BackendError: the model does not fit the backend or the device.
    """
    key = backend_name(name)
    if key not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; valid backends: {sorted(BACKENDS)}")
    options = options or BackendOptions()
    if overrides:
        valid = {f.name for f in dataclasses.fields(BackendOptions)}
        unknown = sorted(set(overrides) - valid)
        if unknown:
            raise ConfigError(f"unknown backend option(s) {unknown}; valid options: {sorted(valid)}")
        options = dataclasses.replace(options, **overrides)
    return BACKENDS[key](Path(path), options)
