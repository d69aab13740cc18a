"""The backend contract, its options and a latency micro-benchmark (numpy only).

A backend turns preprocessed windows float32 [N, 3, T, 25, M] into ``{"latent": [N, d_r],
"seen_logits": [N, K]}`` (``sadvae.export.Recognizer``'s outputs). :class:`Backend` validates the
input once for every implementation, splits batches larger than ``max_batch`` into chunks and
owns the ``close()`` / context-manager plumbing; a subclass implements :meth:`Backend._infer`.
"""

from __future__ import annotations

import abc
import math
import os
import re
import time
from dataclasses import asdict, dataclass

import numpy as np

from sadvae.errors import BackendError, ConfigError
from sadvae.onnx_metadata import decode_metadata
from sadvae.skeleton import NUM_JOINTS

__all__ = [
    "OUTPUT_NAMES",
    "BackendOptions",
    "Backend",
    "LatencyStats",
    "decode_metadata",
    "time_backend",
    "time_windows",
]

OUTPUT_NAMES = ("latent", "seen_logits")
_OPTIMIZATIONS = ("disable", "basic", "extended", "all")


@dataclass(frozen=True)
class BackendOptions:
    """How a backend runs; each backend reads the fields that apply to it.

    Attributes:
        device: "cpu", "cuda" or "cuda:<index>" (torch device; ONNX Runtime picks its CUDA provider).
        threads: intra-op CPU threads; 0 keeps the library default (torch's is process-wide).
        providers: ONNX Runtime execution providers in priority order; None derives them from
            ``device``. Providers this onnxruntime lacks are dropped with a log line.
        optimization: ONNX Runtime graph optimisation level: disable, basic, extended or all.
        spin: let ONNX Runtime's worker threads busy-wait between runs (lower latency, but it
            takes CPU from the pose stage on small machines).
        max_batch: largest batch one inference call takes; larger inputs run in chunks.
        cuda_graphs: torch on a CUDA device captures its call as CUDA graphs at load (one per power-of-two batch
            size) and replays them (a hand-built graph was 8.5x faster than eager at batch 1 on an H200,
            docs/benchmark.md); False keeps plain eager calls.
    """

    device: str = "cpu"
    threads: int = 0
    providers: tuple[str, ...] | None = None
    optimization: str = "all"
    spin: bool = False
    max_batch: int = 16
    cuda_graphs: bool = True

    def __post_init__(self) -> None:
        if self.providers is not None:
            object.__setattr__(self, "providers", tuple(self.providers))
        if not isinstance(self.device, str) or not re.fullmatch(r"cpu|cuda|cuda:[0-9]+", self.device):
            raise ConfigError(f"BackendOptions.device must be cpu, cuda or cuda:<index>, got {self.device!r}")
        if self.threads < 0:
            raise ConfigError(f"BackendOptions.threads must be >= 0 (0 = library default), got {self.threads}")
        most = max(64, 8 * (os.cpu_count() or 1))
        if self.threads > most:  # ONNX Runtime starts them all: thousands hang the process (review, 6 December 2026)
            raise ConfigError(
                f"BackendOptions.threads must be at most {most} (this machine has {os.cpu_count()} CPUs), "
                f"got {self.threads}"
            )
        if self.optimization not in _OPTIMIZATIONS:
            raise ConfigError(
                f"BackendOptions.optimization must be one of {list(_OPTIMIZATIONS)}, got {self.optimization!r}"
            )
        if self.max_batch < 1:
            raise ConfigError(f"BackendOptions.max_batch must be >= 1, got {self.max_batch}")


class Backend(abc.ABC):
    """A loaded recognizer: ``run(windows) -> {"latent": [N, d_r], "seen_logits": [N, K]}``.

    Subclasses set ``name``, fill ``self._metadata`` and ``self._window_shape`` (3, T, 25, M) in
    ``__init__``, and implement :meth:`_infer` (and :meth:`_release` when they hold resources).

    Args:
        options: how to run.
    """

    name: str = "backend"

    def __init__(self, options: BackendOptions) -> None:
        self.options = options
        self._metadata: dict[str, object] = {}
        self._window_shape: tuple[int, int, int, int] = (3, 0, NUM_JOINTS, 0)
        self._closed = False

    @property
    def precision(self) -> str:
        """Numeric precision of the compute: "fp32" here; TensorRT engines may be "fp16" or "int8"."""
        return "fp32"

    @property
    def max_batch(self) -> int:
        """Largest batch one inference call takes (``run`` chunks larger inputs)."""
        return self.options.max_batch

    @property
    def batch_sizes(self) -> tuple[int, ...]:
        """Batch sizes this backend is tuned and benchmarked for: powers of two up to ``max_batch``."""
        sizes = [1 << i for i in range(self.max_batch.bit_length()) if 1 << i <= self.max_batch]
        return tuple(sizes) if sizes[-1] == self.max_batch else (*sizes, self.max_batch)

    @property
    def metadata(self) -> dict[str, object]:
        """The model's facts (``sadvae.export.bundle_metadata`` keys: window, persons, seen_classes, ...)."""
        return dict(self._metadata)

    @property
    def window_shape(self) -> tuple[int, int, int, int]:
        """The shape (3, T, 25, M) of one window."""
        return self._window_shape

    @property
    def device(self) -> str:
        """Where inference runs, as the library names it."""
        return self.options.device

    def run(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        """Infer a batch of windows.

        Args:
            windows: float [N, 3, T, 25, M] (cast to contiguous float32 when it is not already).

        Returns:
            ``{"latent": float32 [N, d_r], "seen_logits": float32 [N, K]}``.

        Raises:
            BackendError: wrong shape or dtype, non-finite values, a closed backend, or a runtime failure.
        """
        if self._closed:
            raise BackendError(f"{self.name} backend is closed; load it again")
        x = self._validate(windows)
        step = self.max_batch
        parts = [self._infer(x[i : i + step]) for i in range(0, x.shape[0], step)]
        if len(parts) == 1:
            return dict(zip(OUTPUT_NAMES, parts[0], strict=True))
        return {name: np.concatenate([p[k] for p in parts]) for k, name in enumerate(OUTPUT_NAMES)}

    __call__ = run

    def _validate(self, windows: np.ndarray) -> np.ndarray:
        expected = "[N, " + ", ".join(str(d) for d in self._window_shape) + "]"
        shape = getattr(windows, "shape", None)
        if shape is None or len(shape) != 5 or tuple(shape[1:]) != self._window_shape or shape[0] < 1:
            raise BackendError(
                f"{self.name} backend: windows must have shape {expected} (N >= 1, float32), got "
                f"{list(shape) if shape is not None else type(windows).__name__}"
            )
        if not np.issubdtype(windows.dtype, np.floating):
            raise BackendError(f"{self.name} backend: windows must be floating point, got dtype {windows.dtype}")
        x = np.ascontiguousarray(windows, dtype=np.float32)
        if not np.isfinite(x).all():
            raise BackendError(f"{self.name} backend: windows contain NaN or infinite values")
        return x

    @abc.abstractmethod
    def _infer(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Contiguous float32 [n, 3, T, 25, M], n <= max_batch -> (latent [n, d_r], seen_logits [n, K])."""

    def _release(self) -> None:
        """Free the backend's resources (called once by :meth:`close`); nothing to free by default."""
        return None

    def close(self) -> None:
        """Release the model; idempotent."""
        if not self._closed:
            self._closed = True
            self._release()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else self.device
        return f"{type(self).__name__}(window={self._window_shape}, precision={self.precision}, {state})"


@dataclass(frozen=True)
class LatencyStats:
    """Latency of one backend at one batch size (milliseconds per ``run`` call, warm-up excluded).

    ``cpu_ms`` is the process's CPU time per call (every thread; the cost, which a loaded machine does not
    inflate the way it inflates the wall-clock percentiles).
    """

    backend: str
    device: str
    precision: str
    batch: int
    iters: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    windows_per_s: float
    cpu_ms: float = math.nan

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def time_backend(backend: Backend, batch: int = 1, iters: int = 100, warmup: int = 10, seed: int = 0) -> LatencyStats:
    """Time ``backend.run`` on N(0, 1) windows of the backend's shape.

    Args:
        backend: a loaded backend.
        batch: windows per call.
        iters: timed calls.
        warmup: untimed calls first (allocations, kernel selection, caches).
        seed: seed of the windows.

    Returns:
        percentiles and mean of the per-call latency, and throughput in windows per second.
    """
    if batch < 1 or iters < 1 or warmup < 0:
        raise ConfigError(f"time_backend needs batch >= 1, iters >= 1, warmup >= 0; got {batch}, {iters}, {warmup}")
    x = np.random.default_rng(seed).normal(size=(batch, *backend.window_shape)).astype(np.float32)
    return time_windows(backend, x, iters, warmup)


def time_windows(backend: Backend, windows: np.ndarray, iters: int = 100, warmup: int = 10) -> LatencyStats:
    """Time ``backend.run(windows)``: ``warmup`` untimed calls, then ``iters`` timed ones.

    Returns:
        per-call percentiles and mean in ms, windows per second over the timed calls, and CPU ms per call.
    """
    for _ in range(warmup):
        backend.run(windows)
    times = np.empty(iters)
    cpu0 = time.process_time()
    for i in range(iters):
        start = time.perf_counter()
        backend.run(windows)
        times[i] = time.perf_counter() - start
    cpu_ms = (time.process_time() - cpu0) * 1e3 / iters
    ms = times * 1e3
    p50, p90, p99 = (float(v) for v in np.percentile(ms, [50, 90, 99]))
    n = windows.shape[0]
    return LatencyStats(
        backend.name,
        backend.device,
        backend.precision,
        n,
        iters,
        p50,
        p90,
        p99,
        float(ms.mean()),
        float(n * iters / times.sum()),
        cpu_ms,
    )
