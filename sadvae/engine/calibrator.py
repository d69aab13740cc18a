"""TensorRT INT8 entropy calibrator fed from a calibration ``.npz``, with a guarded calibration cache.

:func:`make_calibrator` returns an instance of a subclass of ``trt.IInt8EntropyCalibrator2`` (with
``algorithm="minmax"``: ``trt.IInt8MinMaxCalibrator``). The class is built inside the function from the
``trt`` module it is given, so this file imports no TensorRT (it works with 8.5/8.6 (JetPack 5, 6.0) and 10.x
alike: both call the same four methods). TensorRT pulls batches with ``get_batch(names)``: each batch of
windows float32 [B, 3, T, 25, M] (from :func:`sadvae.engine.calibration_data.load_calibration_set`) is copied
into one device buffer and its pointer returned; ``None`` ends calibration. The last partial batch is filled
by wrapping round to the first windows, so every window is seen and every batch has the shape of the
calibration profile.

The calibration cache is TensorRT's own bytes. TensorRT's header names only its version and the
algorithm, not the model, so a sidecar ``<cache>.json`` records the model id (sha256 of the bundle
file), the sha256 of the windows ``.npz``, the algorithm and the TensorRT version. A cache is used only
when all four match: a cache of another model, other windows, another algorithm or another TensorRT is
refused (logged, and TensorRT calibrates afresh and overwrites it), and a cache without a sidecar is
refused too. Both files are written atomically.

Device memory comes from pycuda or, where pycuda is missing, cuda-python (``cuda.bindings.runtime``
or the older ``cuda.cudart``), behind a three-method adapter. Everything but the TensorRT base class
is plain Python and is tested without TensorRT or a GPU.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from sadvae.engine.calibration_data import load_calibration_set
from sadvae.engine.trt_common import CALIBRATORS, import_cudart
from sadvae.errors import BackendError, ConfigError, MissingDependencyError
from sadvae.fileio import atomic_write
from sadvae.hashing import file_sha256

__all__ = [
    "CACHE_FORMAT",
    "WindowBatches",
    "CalibrationCache",
    "DeviceMemory",
    "device_memory",
    "make_calibrator",
]

log = logging.getLogger(__name__)

CACHE_FORMAT = 1


class WindowBatches:
    """Fixed-size batches of windows, the last one completed by wrapping round to the start.

    Args:
        windows: float32 [N, 3, T, 25, M].
        batch_size: windows per batch, >= 1.

    Iterating yields contiguous float32 [batch_size, 3, T, 25, M] arrays, ceil(N / batch_size) of them.
    """

    def __init__(self, windows: np.ndarray, batch_size: int) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if windows.ndim != 5 or windows.shape[0] < 1:
            raise ConfigError(f"windows must be [N>=1, 3, T, 25, M], got {list(windows.shape)}")
        self.windows = np.ascontiguousarray(windows, dtype=np.float32)
        self.batch_size = int(batch_size)

    def __len__(self) -> int:
        return -(-self.windows.shape[0] // self.batch_size)

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return (self.batch_size, *self.windows.shape[1:])

    def __iter__(self) -> Iterator[np.ndarray]:
        n = self.windows.shape[0]
        for start in range(0, n, self.batch_size):
            idx = np.arange(start, start + self.batch_size) % n  # wraps only in the last batch
            yield np.ascontiguousarray(self.windows[idx])


class CalibrationCache:
    """A TensorRT calibration cache file guarded by a JSON sidecar naming its model and windows.

    Args:
        path: the cache file (TensorRT's bytes); the sidecar is ``<path>.json``.
        identity: what the cache must belong to: ``model_id``, ``windows_sha256``, ``algorithm`` and ``tensorrt``
            (the TensorRT version, which cannot read another version's cache) are compared; other keys (batch
            size, number of windows) are recorded only.

    Attributes:
        refused: why the last :meth:`read` refused the cache, or None.
    """

    COMPARED = ("model_id", "windows_sha256", "algorithm", "tensorrt")

    def __init__(self, path: str | Path, identity: dict[str, object]) -> None:
        missing = [k for k in self.COMPARED if not identity.get(k)]
        if missing:
            raise ConfigError(f"calibration cache identity needs {missing}")
        self.path = Path(path)
        self.sidecar = self.path.with_name(self.path.name + ".json")
        self.identity = {"format": CACHE_FORMAT, **identity}
        self.refused: str | None = None

    def read(self) -> bytes | None:
        """The cache bytes when the cache belongs to this model and these windows, else None."""
        self.refused = None
        if not self.path.is_file():
            return None
        reason = self._mismatch()
        if reason is not None:
            self.refused = reason
            log.warning("refusing calibration cache %s: %s; calibrating afresh", self.path, reason)
            return None
        data = self.path.read_bytes()
        log.info("using calibration cache %s (%d bytes)", self.path, len(data))
        return data or None

    def _mismatch(self) -> str | None:
        if not self.sidecar.is_file():
            return f"no sidecar {self.sidecar.name} says which model it belongs to"
        try:
            meta = json.loads(self.sidecar.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            return f"unreadable sidecar {self.sidecar.name} ({e})"
        if not isinstance(meta, dict):
            return f"sidecar {self.sidecar.name} is not a JSON object"
        for key in self.COMPARED:
            if meta.get(key) != self.identity[key]:
                return f"it was made for {key} {meta.get(key)!r}, this build has {self.identity[key]!r}"
        return None

    def write(self, data: bytes) -> None:
        """Write the cache, then its sidecar (both atomically)."""
        atomic_write(self.path, bytes(data))
        atomic_write(self.sidecar, (json.dumps(self.identity, indent=1, sort_keys=True) + "\n").encode("utf-8"))
        log.info("wrote calibration cache %s (%d bytes) and %s", self.path, len(data), self.sidecar.name)


class DeviceMemory:
    """The device-memory calls the calibrator needs: ``alloc(nbytes)``, ``upload(buffer, array)``,
    ``pointer(buffer) -> int`` and ``free(buffer)``. Subclasses wrap pycuda or cuda-python."""

    def alloc(self, nbytes: int) -> object:
        raise NotImplementedError

    def upload(self, buffer: object, array: np.ndarray) -> None:
        raise NotImplementedError

    def pointer(self, buffer: object) -> int:
        raise NotImplementedError

    def free(self, buffer: object) -> None:
        raise NotImplementedError


class _PyCudaMemory(DeviceMemory):
    def __init__(self) -> None:
        import pycuda.autoinit  # noqa: F401  (creates the CUDA context)
        import pycuda.driver as drv

        self._drv = drv

    def alloc(self, nbytes: int) -> object:
        return self._drv.mem_alloc(nbytes)

    def upload(self, buffer: object, array: np.ndarray) -> None:
        self._drv.memcpy_htod(buffer, array)

    def pointer(self, buffer: object) -> int:
        return int(buffer)

    def free(self, buffer: object) -> None:
        buffer.free()


class _CudaRuntimeMemory(DeviceMemory):
    def __init__(self, cudart) -> None:
        self._rt = cudart

    def _ok(self, result, what: str):
        err, *rest = result if isinstance(result, tuple) else (result,)
        if int(err) != 0:
            raise BackendError(f"CUDA {what} failed: {err}")
        return rest[0] if rest else None

    def alloc(self, nbytes: int) -> object:
        return int(self._ok(self._rt.cudaMalloc(nbytes), "cudaMalloc"))

    def upload(self, buffer: object, array: np.ndarray) -> None:
        kind = self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._ok(self._rt.cudaMemcpy(buffer, array.ctypes.data, array.nbytes, kind), "cudaMemcpy")

    def pointer(self, buffer: object) -> int:
        return int(buffer)

    def free(self, buffer: object) -> None:
        self._ok(self._rt.cudaFree(buffer), "cudaFree")


def device_memory() -> DeviceMemory:
    """pycuda where installed, else cuda-python's runtime bindings.

    Raises:
        MissingDependencyError: neither is installed; BackendError: pycuda finds no usable GPU.
    """
    try:
        return _PyCudaMemory()
    except ImportError:
        pass
    except Exception as e:  # pycuda's own driver errors: no device, no driver
        raise BackendError(f"pycuda could not create a CUDA context ({type(e).__name__}: {e})") from None
    try:
        cudart = import_cudart()
    except ImportError:
        raise MissingDependencyError("pycuda (or cuda-python)", "trt") from None
    return _CudaRuntimeMemory(cudart)


class _Feeder:
    """The calibrator's state, free of TensorRT: batches -> one reused device buffer -> pointers."""

    def __init__(self, batches: WindowBatches, memory: DeviceMemory, cache: CalibrationCache | None) -> None:
        self.batches = batches
        self.memory = memory
        self.cache = cache
        self._iter = iter(batches)
        self._buffer: object | None = None
        self.served = 0

    def next_pointers(self, names: list[str]) -> list[int] | None:
        if len(names) != 1:
            log.error("calibration feeds one input (window), TensorRT asked for %s", names)
            return None
        try:
            batch = next(self._iter)
        except StopIteration:
            log.info("calibration done: %d batches of %d windows", self.served, self.batches.batch_size)
            return None
        if self._buffer is None:
            self._buffer = self.memory.alloc(batch.nbytes)
        self.memory.upload(self._buffer, batch)
        self.served += 1
        return [self.memory.pointer(self._buffer)]

    def close(self) -> None:
        if self._buffer is not None:
            buffer, self._buffer = self._buffer, None
            self.memory.free(buffer)


def make_calibrator(
    trt,
    windows_npz: Path,
    cache_path: Path | None,
    batch_size: int,
    *,
    expected_model_id: str | None = None,
    memory: DeviceMemory | None = None,
    algorithm: str = "entropy",
) -> object:
    """An ``IInt8EntropyCalibrator2`` feeding the windows of ``windows_npz`` to a TensorRT INT8 build.

    Args:
        trt: the imported ``tensorrt`` module (8.6 or 10.x).
        windows_npz: a calibration set from ``calibration/sample.py``.
        cache_path: TensorRT calibration cache to read and write (None: no cache).
        batch_size: windows per calibration batch; the engine's calibration profile must take
            [batch_size, 3, T, 25, M].
        expected_model_id: the model id of the ONNX being built (``sadvae.model_id`` metadata); the
            windows must have been drawn for it.
        memory: device memory adapter (default :func:`device_memory`).
        algorithm: "entropy" (``IInt8EntropyCalibrator2``) or "minmax" (``IInt8MinMaxCalibrator``; see
            calibration/README.md for what each costs this model).

    Returns:
        the calibrator; call its ``close()`` after the build to free the device buffer.

    Raises:
        DataFormatError: a bad windows file; ConfigError: windows of another model, or a bad batch size;
        MissingDependencyError: neither pycuda nor cuda-python is installed.
    """
    bases = CALIBRATORS
    if algorithm not in bases:
        raise ConfigError(f"unknown calibration algorithm {algorithm!r}; choose one of {sorted(bases)}")
    windows_npz = Path(windows_npz)
    cset = load_calibration_set(windows_npz)
    if expected_model_id is not None and cset.model_id != expected_model_id:
        raise ConfigError(
            f"{windows_npz}: windows drawn for model {cset.model_id[:16]}..., the engine is for "
            f"{expected_model_id[:16]}...; draw them for this model with calibration/sample.py"
        )
    batches = WindowBatches(cset.windows, batch_size)
    windows_sha256 = file_sha256(windows_npz)
    cache = None
    if cache_path is not None:
        identity = {
            "model_id": cset.model_id,
            "windows_sha256": windows_sha256,
            "windows": len(cset),
            "batch_size": int(batch_size),
            "tensorrt": str(getattr(trt, "__version__", "unknown")),
            "algorithm": bases[algorithm],
        }
        cache = CalibrationCache(cache_path, identity)
    feeder = _Feeder(batches, memory if memory is not None else device_memory(), cache)
    base = getattr(trt, bases[algorithm])

    class WindowsCalibrator(base):  # type: ignore[misc, valid-type]
        """TensorRT's entropy (or min-max) calibrator over the windows of a calibration ``.npz``."""

        def __init__(self) -> None:
            base.__init__(self)  # TensorRT's pybind base must be initialised explicitly
            self.feeder = feeder
            self.windows_npz = windows_npz
            self.windows_sha256 = windows_sha256
            self.cache_path = cache_path
            self.algorithm = algorithm

        def get_batch_size(self) -> int:
            return feeder.batches.batch_size

        def get_batch(self, names, *args):  # TensorRT 8.6 and 10.x pass the input names
            return feeder.next_pointers(list(names))

        def read_calibration_cache(self, *args):
            return feeder.cache.read() if feeder.cache is not None else None

        def write_calibration_cache(self, cache, *args) -> None:
            if feeder.cache is not None:
                feeder.cache.write(bytes(cache))

        def close(self) -> None:
            feeder.close()

    log.info(
        "INT8 calibrator: %d windows from %s in %d batches of %d", len(cset), windows_npz, len(batches), batch_size
    )
    return WindowsCalibrator()
