"""TensorRT helpers shared by the engine builder, the manifest check and the runtime backend.

:func:`load_library` imports ``tensorrt`` or ``tensorrt_rtx`` on request; every other helper takes the
imported library module (``tensorrt`` 8.6 / 10.x or ``tensorrt_rtx``) as ``trt``, except
:func:`import_cudart` (cuda-python's runtime bindings, for the builder's calibrator, the backend and the probe).
"""

from __future__ import annotations

import importlib
import json
import logging
from pathlib import Path
from typing import Any

from sadvae.errors import ConfigError, MissingDependencyError

__all__ = [
    "LIBRARIES",
    "load_library",
    "trt_logger",
    "parser_errors",
    "CALIBRATORS",
    "calibration_algorithm",
    "read_cache_sidecar",
    "replay_calibrator",
    "dtype_name",
    "import_cudart",
]

log = logging.getLogger(__name__)

LIBRARIES = ("tensorrt", "tensorrt_rtx")
# ``--calibration-algorithm`` -> the TensorRT calibrator class (the sidecar of a calibration cache records the class)
CALIBRATORS = {"entropy": "IInt8EntropyCalibrator2", "minmax": "IInt8MinMaxCalibrator"}


def import_cudart() -> Any:
    """cuda-python's CUDA runtime bindings: ``cuda.bindings.runtime`` (cuda-python >= 12.6), else ``cuda.cudart``.

    Raises:
        ImportError: cuda-python is not installed (callers say which extra installs it, or try another way).
    """
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        from cuda import cudart  # older cuda-python
    return cudart


def load_library(library: str = "auto") -> tuple[Any, str]:
    """Import a TensorRT library: ``(module, name)``.

    Args:
        library: "tensorrt", "tensorrt_rtx" or "auto" (tensorrt, else tensorrt_rtx).

    Raises:
        ConfigError: unknown name. MissingDependencyError: the library is not installed.
    """
    if library not in ("auto", *LIBRARIES):
        raise ConfigError(f"unknown TensorRT library {library!r}; valid: {['auto', *LIBRARIES]}")
    for name in LIBRARIES if library == "auto" else (library,):
        try:
            return importlib.import_module(name), name
        except ImportError:
            continue
    if library == "tensorrt_rtx":
        message = (
            "tensorrt_rtx is not installed; install it with `pip install tensorrt-rtx` (the rtx extra: "
            "`pip install 'sadvae-live[rtx]'`); it builds fp32 plans ahead of time, without a GPU"
        )
        raise MissingDependencyError("tensorrt_rtx", "rtx", message)
    message = (  # the trt extra is pycuda only: TensorRT itself comes with JetPack, or from NVIDIA's wheel
        "tensorrt is not installed; TensorRT comes with JetPack on a Jetson (on a desktop: `pip install tensorrt`), "
        "and the trt extra, `pip install 'sadvae-live[trt]'`, adds pycuda for the GPU"
    )
    if library == "auto":
        message += (
            "; without TensorRT, TensorRT-RTX (the rtx extra, not installed either: "
            "`pip install 'sadvae-live[rtx]'`) builds fp32 plans ahead of time"
        )
    raise MissingDependencyError("tensorrt", "trt", message)


def trt_logger(trt: Any) -> Any:
    """A TensorRT logger writing to Python logging that keeps the error messages for our exception."""
    errors = {trt.Logger.INTERNAL_ERROR, trt.Logger.ERROR}
    levels = {trt.Logger.WARNING: logging.WARNING, trt.Logger.INFO: logging.DEBUG}

    class _Logger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, severity, msg) -> None:
            if severity in errors:  # they reach the user in our EngineError, so only -v shows them here
                self.errors.append(str(msg).strip())
                log.debug("[TRT] %s", msg)
            elif severity in levels:  # VERBOSE is dropped
                log.log(levels[severity], "[TRT] %s", msg)

    return _Logger()


def parser_errors(parser: Any) -> list[str]:
    out = []
    for i in range(parser.num_errors):
        e = parser.get_error(i)
        where = ""
        node = e.node() if hasattr(e, "node") else -1
        if node is not None and node >= 0:
            op = e.node_operator() if hasattr(e, "node_operator") else ""
            nm = e.node_name() if hasattr(e, "node_name") else ""
            where = f"node {node}" + (f" ({op})" if op else "") + (f" {nm!r}" if nm else "") + ": "
        code = str(e.code()).rsplit(".", 1)[-1]
        out.append(f"{where}{code}: {e.desc()}")
    return out


def calibration_algorithm(name: object) -> str | None:
    """``"entropy"`` or ``"minmax"`` for a short name or a TensorRT class name (``"IInt8MinMaxCalibrator"``), else
    None."""
    for short, base in CALIBRATORS.items():
        if name in (short, base):
            return short
    return None


def read_cache_sidecar(cache_path: Path, model_id: str | None, algorithm: str | None = None) -> dict:
    """The sidecar ``<cache>.json`` of a calibration cache to replay, checked against the build (no TensorRT needed).

    Args:
        cache_path: the calibration cache (TensorRT's bytes).
        model_id: the ONNX's ``sadvae.model_id``; None skips the model check.
        algorithm: "entropy" or "minmax" when the build asks for one (``--calibration-algorithm``); None: the cache's.

    Returns:
        the sidecar, with ``"algorithm"`` normalised to "entropy" or "minmax".

    Raises:
        ConfigError: the cache or a readable sidecar is missing, or the sidecar names another model, another
            algorithm, an unknown algorithm or no TensorRT version; the message says to calibrate with
            --calibration-data.
    """
    sidecar = cache_path.with_name(cache_path.name + ".json")
    fix = "calibrate with --calibration-data WINDOWS.npz"
    if cache_path.is_dir():
        raise ConfigError(f"--calibration-cache {cache_path}: is a folder; pass the calibration cache file")
    if not cache_path.is_file():
        raise ConfigError(f"{cache_path}: calibration cache not found; {fix}")
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = None
    if not isinstance(meta, dict):
        raise ConfigError(
            f"{cache_path}: no readable sidecar {sidecar.name} says which model the cache belongs to; {fix}"
        )
    owner = meta.get("model_id")
    if model_id is not None and owner != model_id:
        raise ConfigError(
            f"{cache_path}: the calibration cache belongs to model {str(owner)[:16]}..., the ONNX is "
            f"{model_id[:16]}...; calibrate this model with --calibration-data WINDOWS.npz"
        )
    made_with = calibration_algorithm(meta.get("algorithm"))
    if made_with is None:
        if "algorithm" not in meta:
            raise ConfigError(f"{sidecar}: records no calibration algorithm; {fix}")
        raise ConfigError(
            f"{sidecar}: algorithm {meta['algorithm']!r} is not one of {sorted(CALIBRATORS)} (or their TensorRT "
            f"classes); {fix}"
        )
    if algorithm is not None and algorithm != made_with:
        raise ConfigError(
            f"{cache_path}: the calibration cache was made with --calibration-algorithm {made_with}, this build asks "
            f"for {algorithm}; drop --calibration-algorithm to replay it, or {fix} --calibration-algorithm {algorithm}"
        )
    if not isinstance(meta.get("tensorrt"), str):
        raise ConfigError(f"{sidecar}: records no TensorRT version, so the cache may not fit this TensorRT; {fix}")
    return {**meta, "algorithm": made_with}


def replay_calibrator(trt: Any, cache_path: Path, model_id: str | None, algorithm: str | None = None) -> Any:
    """A calibrator that only replays a calibration cache (no windows, no GPU memory).

    The cache's sidecar ``<cache>.json`` (written by :mod:`sadvae.engine.calibrator`) must name ``model_id`` and the
    TensorRT version of ``trt`` (TensorRT skips a cache of another version and would then calibrate on no batches);
    the calibrator's base class is the sidecar's algorithm (entropy: ``IInt8EntropyCalibrator2``, minmax:
    ``IInt8MinMaxCalibrator``; TensorRT skips a cache made by another algorithm too). See
    :func:`read_cache_sidecar` for ``algorithm`` and the refusals.

    Raises:
        ConfigError: a refused cache (the message says to calibrate with --calibration-data).
    """
    meta = read_cache_sidecar(cache_path, model_id, algorithm)
    here = str(getattr(trt, "__version__", "unknown"))
    if meta["tensorrt"] != here:
        raise ConfigError(
            f"{cache_path}: the calibration cache was made with TensorRT {meta['tensorrt']} and this is TensorRT "
            f"{here}, which cannot replay it; recalibrate with --calibration-data WINDOWS.npz"
        )
    data = cache_path.read_bytes()
    base = getattr(trt, CALIBRATORS[meta["algorithm"]])
    facts = {
        "cache_path": cache_path,
        "algorithm": meta["algorithm"],
        "windows_sha256": meta.get("windows_sha256") if isinstance(meta.get("windows_sha256"), str) else None,
        "batch_size": meta.get("batch_size") if type(meta.get("batch_size")) is int else None,
    }

    class _Replay(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            base.__init__(self)
            for key, value in facts.items():  # what the manifest records of the calibration
                setattr(self, key, value)

        def get_batch_size(self) -> int:
            return 1

        def get_batch(self, names, *args):
            return None

        def read_calibration_cache(self, *args):
            return data

        def write_calibration_cache(self, cache, *args) -> None:
            return None

    return _Replay()


def dtype_name(dtype: Any) -> str:
    """TensorRT DataType.FLOAT -> "float32" (numpy names)."""
    text = str(dtype).rsplit(".", 1)[-1].lower()
    return {
        "float": "float32",
        "half": "float16",
        "int32": "int32",
        "int64": "int64",
        "int8": "int8",
        "bool": "bool",
        "bf16": "bfloat16",
        "uint8": "uint8",
    }.get(text, text)
