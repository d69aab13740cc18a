"""TensorRT backend: a plan from ``sadvae engine build`` on one CUDA stream, with numpy and pycuda only.

At start-up the plan's manifest is checked against this library version, GPU and plan file
(:func:`sadvae.engine.manifest.check_manifest`), the plan is deserialised once with the library the
manifest names (``tensorrt`` or ``tensorrt_rtx``), and one execution context, one stream and the
buffers for the profile's largest batch are made: page-locked host buffers and device buffers for
the input and each output. A run copies the batch in, sets the input shape, enqueues the engine and
the copies back on the stream, and waits for it.

Version differences live in :func:`_io_api`: TensorRT >= 8.5 (JetPack 5.1 on, 10.x, RTX) binds tensors
by name (``set_input_shape``, ``set_tensor_address``, ``execute_async_v3``); older TensorRT binds
by index (``set_binding_shape``, ``execute_async_v2``). CUDA comes from pycuda (standard on JetPack)
or, where pycuda is missing, cuda-python, behind :class:`_Cuda`'s five operations. No torch.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from realtime.backends.base import OUTPUT_NAMES, Backend, BackendOptions
from sadvae.engine.manifest import check_manifest
from sadvae.engine.trt_common import dtype_name, import_cudart, load_library, trt_logger
from sadvae.errors import BackendError, EngineError, MissingDependencyError
from sadvae.skeleton import NUM_JOINTS

__all__ = ["TensorRTBackend", "open_cuda"]

log = logging.getLogger(__name__)


class _Cuda:
    """The CUDA calls the backend needs: pinned host arrays, device buffers, async copies, a stream.

    ``close()`` frees everything the adapter allocated; ``active()`` makes its device current on the
    calling thread (TensorRT and the copies run in that context).
    """

    stream: int = 0

    def pinned(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        raise NotImplementedError

    def device(self, nbytes: int) -> int:
        raise NotImplementedError

    def h2d(self, dst: int, src: np.ndarray) -> None:
        raise NotImplementedError

    def d2h(self, dst: np.ndarray, src: int) -> None:
        raise NotImplementedError

    def sync(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        yield


class _PyCuda(_Cuda):
    def __init__(self, index: int) -> None:
        import pycuda.driver as cuda

        self._cu = cuda
        cuda.init()
        self._ctx = cuda.Device(index).retain_primary_context()  # the context the CUDA runtime (TensorRT) uses
        self._host: list[np.ndarray] = []
        self._dev: list[Any] = []
        with self.active():
            self._stream = cuda.Stream()
        self.stream = int(self._stream.handle)

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        self._ctx.push()
        try:
            yield
        finally:
            self._cu.Context.pop()

    def pinned(self, shape, dtype):
        self._host.append(self._cu.pagelocked_empty(shape, dtype))
        return self._host[-1]

    def device(self, nbytes):
        self._dev.append(self._cu.mem_alloc(nbytes))
        return int(self._dev[-1])

    def h2d(self, dst, src):
        self._cu.memcpy_htod_async(dst, src, self._stream)

    def d2h(self, dst, src):
        self._cu.memcpy_dtoh_async(dst, src, self._stream)

    def sync(self):
        self._stream.synchronize()

    def close(self):
        with self.active():
            for d in self._dev:
                d.free()
            for h in self._host:
                free = getattr(h.base, "free", None)  # pycuda's HostAllocation; else the GC frees it
                if free is not None:
                    free()
            self._dev = []
            self._host = []
            self._stream = None
        self._ctx.detach()


class _CudaRuntime(_Cuda):
    def __init__(self, index: int, cudart: Any) -> None:
        self._rt = cudart
        self._index = index
        self._host: list[int] = []
        self._dev: list[int] = []
        self._check(cudart.cudaSetDevice(index), "cudaSetDevice")
        self._stream = self._check(cudart.cudaStreamCreate(), "cudaStreamCreate")
        self.stream = int(self._stream)

    def _check(self, result: Any, call: str) -> Any:
        err, *rest = result if isinstance(result, tuple) else (result,)
        if int(err) != 0:
            name = self._rt.cudaGetErrorName(err)[1]
            raise BackendError(f"CUDA {call} failed: {name.decode() if isinstance(name, bytes) else name}")
        return rest[0] if rest else None

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        self._check(self._rt.cudaSetDevice(self._index), "cudaSetDevice")
        yield

    def pinned(self, shape, dtype):
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        ptr = self._check(self._rt.cudaMallocHost(nbytes), "cudaMallocHost")
        self._host.append(int(ptr))
        return np.frombuffer((ctypes.c_byte * nbytes).from_address(int(ptr)), dtype=dtype).reshape(shape)

    def device(self, nbytes):
        self._dev.append(int(self._check(self._rt.cudaMalloc(nbytes), "cudaMalloc")))
        return self._dev[-1]

    def h2d(self, dst, src):
        kind = self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._check(self._rt.cudaMemcpyAsync(dst, src.ctypes.data, src.nbytes, kind, self._stream), "cudaMemcpyAsync")

    def d2h(self, dst, src):
        kind = self._rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._check(self._rt.cudaMemcpyAsync(dst.ctypes.data, src, dst.nbytes, kind, self._stream), "cudaMemcpyAsync")

    def sync(self):
        self._check(self._rt.cudaStreamSynchronize(self._stream), "cudaStreamSynchronize")

    def close(self):
        for ptr in self._dev:
            self._rt.cudaFree(ptr)
        for ptr in self._host:
            self._rt.cudaFreeHost(ptr)
        self._rt.cudaStreamDestroy(self._stream)
        self._dev = []
        self._host = []


def open_cuda(index: int = 0) -> _Cuda:
    """The CUDA adapter for device ``index``: pycuda, else cuda-python (``cuda.bindings.runtime`` / ``cuda.cudart``).

    Raises:
        MissingDependencyError: neither is installed.
    """
    try:
        import pycuda.driver  # noqa: F401
    except ImportError:
        try:
            cudart = import_cudart()
        except ImportError:
            raise MissingDependencyError("pycuda (or cuda-python)", "trt") from None
        return _CudaRuntime(index, cudart)
    return _PyCuda(index)


def _io_api(trt: Any, engine: Any) -> tuple[bool, list[tuple[str, bool, Any]]]:
    """(name-based API?, [(tensor name, is input, numpy dtype)] in binding order) -- the one version branch.

    Dtypes go through our own name table, not ``trt.nptype``: TensorRT 8.5's uses ``np.bool``, which
    NumPy 1.24-1.26 do not have.
    """
    if hasattr(engine, "num_io_tensors"):  # TensorRT >= 8.5, 10.x, RTX
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        return True, [
            (n, engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT, np.dtype(dtype_name(engine.get_tensor_dtype(n))))
            for n in names
        ]
    return False, [
        (engine.get_binding_name(i), engine.binding_is_input(i), np.dtype(dtype_name(engine.get_binding_dtype(i))))
        for i in range(engine.num_bindings)
    ]


class TensorRTBackend(Backend):
    """Runs a TensorRT plan built by ``sadvae engine build`` (its ``.json`` manifest beside it).

    Args:
        path: the ``.plan`` file.
        options: ``device`` picks the GPU ("cuda:<index>"; "cpu" and "cuda" mean GPU 0) and
            ``max_batch`` caps the batch below the plan's profile maximum.

    Raises:
        EngineError: missing plan or manifest, or a plan built for another library version, GPU or file.
        MissingDependencyError: the plan's library, or both pycuda and cuda-python, are missing.
        BackendError: the plan does not deserialise or is not a recognizer.
    """

    name = "tensorrt"

    def __init__(self, path: str | Path, options: BackendOptions | None = None) -> None:
        super().__init__(options or BackendOptions())
        self.path = path = Path(path)
        dev = self.options.device
        self._index = int(dev.partition(":")[2] or 0) if dev.startswith("cuda") else 0
        self._manifest = manifest = check_manifest(path, device_index=self._index)
        self._trt, _ = load_library(manifest["library"]["name"])
        inp = manifest["input"]
        self._min = int(inp["min"][0])
        self._max = int(inp["max"][0])
        self._window_shape = tuple(int(d) for d in inp["max"][1:])  # type: ignore[assignment]
        if len(self._window_shape) != 4 or self._window_shape[0] != 3 or self._window_shape[2] != NUM_JOINTS:
            raise BackendError(f"{path}: input {inp['name']!r} is {inp['max']}; expected [N, 3, T, 25, M]")
        self._metadata = dict(manifest["model"].get("metadata") or {})
        self._cuda = open_cuda(self._index)
        try:
            with self._cuda.active():
                self._setup(path, inp["name"])
        except BaseException:
            self._cuda.close()
            raise
        log.info(
            "%s %s: %s (%s, batch %d..%d) on GPU %d",
            manifest["library"]["name"],
            manifest["library"]["version"],
            path.name,
            self.precision,
            self._min,
            self._max,
            self._index,
        )

    def _setup(self, path: Path, input_name: str) -> None:
        trt = self._trt
        self._logger = trt_logger(trt)
        self._runtime = trt.Runtime(self._logger)
        self._engine = self._runtime.deserialize_cuda_engine(path.read_bytes())
        if self._engine is None:
            raise EngineError(
                f"{path}: {self._manifest['library']['name']} cannot deserialise the plan ("
                f"{'; '.join(self._logger.errors[-3:]) or 'no message'}); rebuild it with "
                "`sadvae engine build`"
            )
        self._context = self._engine.create_execution_context()
        self._by_name, tensors = _io_api(trt, self._engine)
        inputs = [t for t in tensors if t[1]]
        outputs = {t[0]: t for t in tensors if not t[1]}
        if [t[0] for t in inputs] != [input_name] or sorted(outputs) != sorted(OUTPUT_NAMES):
            raise BackendError(
                f"{path}: not a sadvae recognizer (tensors {[t[0] for t in tensors]}; expected input "
                f"{input_name!r} and outputs {list(OUTPUT_NAMES)})"
            )
        if inputs[0][2] != np.float32:
            raise BackendError(f"{path}: input {input_name!r} is {inputs[0][2]}, expected float32")
        self._input = input_name
        self._host_in = self._cuda.pinned((self._max, *self._window_shape), np.float32)
        self._dev_in = self._cuda.device(self._host_in.nbytes)
        widths = {o["name"]: int(o["shape"][-1]) for o in self._manifest["outputs"]}
        self._host_out = {n: self._cuda.pinned((self._max, widths[n]), outputs[n][2]) for n in OUTPUT_NAMES}
        self._dev_out = {n: self._cuda.device(self._host_out[n].nbytes) for n in OUTPUT_NAMES}
        ptrs = {input_name: self._dev_in, **self._dev_out}
        if self._by_name:
            for name, ptr in ptrs.items():
                self._context.set_tensor_address(name, ptr)
        else:
            self._bindings = [ptrs[t[0]] for t in tensors]
            self._input_index = next(i for i, t in enumerate(tensors) if t[1])

    @property
    def precision(self) -> str:
        return str(self._manifest["precision"])

    @property
    def max_batch(self) -> int:
        return min(self.options.max_batch, self._max)

    @property
    def batch_sizes(self) -> tuple[int, ...]:
        """The plan's optimisation profile (min, opt, max), capped at ``max_batch``."""
        sizes = sorted({int(self._manifest["input"][k][0]) for k in ("min", "opt", "max")})
        return tuple(b for b in sizes if b <= self.max_batch) or (self.max_batch,)

    @property
    def device(self) -> str:
        return f"cuda:{self._index}"

    @property
    def manifest(self) -> dict:
        """The plan's manifest (library, GPU, model, shapes, build facts)."""
        return dict(self._manifest)

    def _infer(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = x.shape[0]
        m = max(n, self._min)  # a profile whose min is above n: pad with zero windows
        self._host_in[:n] = x
        self._host_in[n:m] = 0.0
        shape = (m, *self._window_shape)
        with self._cuda.active():
            self._cuda.h2d(self._dev_in, self._host_in[:m])
            if self._by_name:
                self._context.set_input_shape(self._input, shape)
                ok = self._context.execute_async_v3(self._cuda.stream)
            else:
                self._context.set_binding_shape(self._input_index, shape)
                ok = self._context.execute_async_v2(self._bindings, self._cuda.stream)
            if not ok:
                raise BackendError(f"TensorRT failed on a batch of {n} ({'; '.join(self._logger.errors[-3:])})")
            for name in OUTPUT_NAMES:
                self._cuda.d2h(self._host_out[name][:m], self._dev_out[name])
            self._cuda.sync()
        latent, logits = (self._host_out[k][:n].astype(np.float32, copy=True) for k in OUTPUT_NAMES)
        return latent, logits

    def _release(self) -> None:
        with self._cuda.active():
            for attr in ("_context", "_engine", "_runtime"):  # context before engine before runtime
                if hasattr(self, attr):
                    delattr(self, attr)
        self._cuda.close()
