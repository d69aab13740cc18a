"""ONNX Runtime backend: the exported recognizer on the CPU (default) or the CUDA execution provider.

Imported only through :func:`realtime.backends.load_backend`, which checks that ``onnxruntime`` is
installed first.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort

from realtime.backends.base import OUTPUT_NAMES, Backend, BackendOptions, decode_metadata
from sadvae.errors import BackendError, CheckpointError
from sadvae.skeleton import NUM_JOINTS

__all__ = ["OnnxRuntimeBackend", "resolve_providers"]

log = logging.getLogger(__name__)

INPUT_NAME = "window"
_CPU = "CPUExecutionProvider"
_CUDA = "CUDAExecutionProvider"
_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def resolve_providers(options: BackendOptions, available: list[str] | None = None) -> list[str | tuple[str, dict]]:
    """Execution providers for ``options``, keeping only those this onnxruntime has (CPU always last).

    Args:
        options: ``providers`` if set, else derived from ``device`` (CUDA with its device id, or CPU).
        available: providers to choose from (default ``onnxruntime.get_available_providers()``).

    Returns:
        a provider list for ``onnxruntime.InferenceSession``.
    """
    available = ort.get_available_providers() if available is None else available
    if options.providers is not None:
        wanted: list[str | tuple[str, dict]] = list(options.providers)
    elif options.device.startswith("cuda"):
        index = int(options.device.partition(":")[2] or 0)
        wanted = [(_CUDA, {"device_id": index})]
    else:
        wanted = []
    chosen = []
    for p in wanted:
        name = p[0] if isinstance(p, tuple) else p
        if name in available:
            chosen.append(p)
        elif name != _CPU:
            log.warning("onnxruntime has no %s here (available: %s); falling back", name, ", ".join(available))
    if not any((p[0] if isinstance(p, tuple) else p) == _CPU for p in chosen):
        chosen.append(_CPU)
    return chosen


class OnnxRuntimeBackend(Backend):
    """Runs a ``sadvae export`` ONNX file with ONNX Runtime.

    ``sadvae export`` leaves the batch dimension dynamic. A graph whose batch is a fixed N (exported
    or edited that way) still runs: ``max_batch`` is capped at N, and a smaller batch is padded with
    zero windows up to N and its outputs sliced back (N == 1 runs windows one at a time); a log
    line at load says the batch is fixed.

    Args:
        path: the ``.onnx`` file.
        options: device / providers, intra-op threads, graph optimisation level, spinning, max batch.

    Raises:
        CheckpointError: the file is missing or not a loadable ONNX model.
        BackendError: the graph is not a recognizer (input ``window`` [N, 3, T, 25, M], outputs
            ``latent`` and ``seen_logits``).
    """

    name = "onnxruntime"

    def __init__(self, path: str | Path, options: BackendOptions | None = None) -> None:
        super().__init__(options or BackendOptions())
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"{path}: ONNX model not found; create it with `sadvae export BUNDLE --out {path}`")
        so = ort.SessionOptions()
        so.graph_optimization_level = _LEVELS[self.options.optimization]
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.inter_op_num_threads = 1
        if self.options.threads:
            so.intra_op_num_threads = self.options.threads
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.options.spin else "0")
        so.log_severity_level = 3  # errors only: ORT's own warnings go to stderr, not our log
        providers = resolve_providers(self.options)
        try:
            self._session = ort.InferenceSession(str(path), so, providers=providers)
        except Exception as e:  # onnxruntime raises its own pybind exception types (InvalidProtobuf, Fail, ...)
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise CheckpointError(
                f"{path}: not a loadable ONNX model ({first}); re-create it with `sadvae export`"
            ) from None
        self.path = path
        self._providers = self._session.get_providers()
        wanted_cuda = any((p[0] if isinstance(p, tuple) else p) == _CUDA for p in providers)
        if wanted_cuda and self._providers[0] != _CUDA:
            log.warning("%s: the CUDA provider did not initialise (CUDA/cuDNN libraries?); running on CPU", path)
        self._fixed_batch: int | None = None
        self._window_shape = self._check_signature(path)
        self._metadata = decode_metadata(self._session.get_modelmeta().custom_metadata_map)
        meta_shape = (3, self._metadata.get("window"), NUM_JOINTS, self._metadata.get("persons"))
        if "window" in self._metadata and meta_shape != self._window_shape:
            raise BackendError(f"{path}: metadata says windows {meta_shape} but the graph takes {self._window_shape}")
        log.info("onnxruntime %s: %s on %s", ort.__version__, path.name, ", ".join(self._providers))
        if self._fixed_batch is not None:
            log.warning(
                "%s: the model's batch is fixed at %d (not dynamic); %s. Re-export it with `sadvae export` "
                "for a dynamic batch",
                path.name,
                self._fixed_batch,
                "windows run one at a time"
                if self._fixed_batch == 1
                else f"batches run in chunks of at most {self.max_batch}, each padded to {self._fixed_batch}",
            )

    def _check_signature(self, path: Path) -> tuple[int, int, int, int]:
        inputs = self._session.get_inputs()
        outputs = self._session.get_outputs()
        names = [o.name for o in outputs]
        if len(inputs) != 1 or inputs[0].name != INPUT_NAME or sorted(names) != sorted(OUTPUT_NAMES):
            raise BackendError(
                f"{path}: not a sadvae recognizer (inputs {[i.name for i in inputs]}, outputs {names}; expected "
                f"input {INPUT_NAME!r} and outputs {list(OUTPUT_NAMES)}); export it with `sadvae export`"
            )
        shape = inputs[0].shape
        dims = tuple(shape[1:])
        if len(shape) != 5 or not all(isinstance(d, int) for d in dims) or dims[0] != 3 or dims[2] != NUM_JOINTS:
            raise BackendError(f"{path}: input {INPUT_NAME!r} has shape {shape}; expected [N, 3, T, 25, M]")
        if isinstance(shape[0], int):  # a fixed batch (a name or None is dynamic)
            if shape[0] < 1:
                raise BackendError(
                    f"{path}: input {INPUT_NAME!r} has batch dimension {shape[0]}; expected a dynamic or "
                    "positive batch; re-export it with `sadvae export`"
                )
            self._fixed_batch = shape[0]
        return dims  # type: ignore[return-value]

    @property
    def max_batch(self) -> int:
        """``options.max_batch``, capped at the graph's batch when that is fixed."""
        if self._fixed_batch is None:
            return self.options.max_batch
        return min(self.options.max_batch, self._fixed_batch)

    @property
    def fixed_batch(self) -> int | None:
        """The graph's batch when it is a fixed number, None when it is dynamic (``sadvae export``'s)."""
        return self._fixed_batch

    @property
    def device(self) -> str:
        return "cuda" if self._providers[0] == _CUDA else "cpu"

    @property
    def providers(self) -> list[str]:
        """The execution providers the session runs with, in priority order."""
        return list(self._providers)

    @property
    def precision(self) -> str:
        """ "int8" for a graph quantized by :func:`sadvae.engine.ort_int8.quantize_onnx_int8` (its
        ``sadvae.quantization`` metadata), else "fp32"."""
        return "int8" if self._metadata.get("quantization") else "fp32"

    def _infer(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = x.shape[0]
        fixed = self._fixed_batch
        if fixed is not None and n < fixed:  # a fixed-batch graph: pad with zero windows, slice the rows back
            x = np.concatenate([x, np.zeros((fixed - n, *x.shape[1:]), np.float32)])
        try:
            latent, logits = self._session.run(list(OUTPUT_NAMES), {INPUT_NAME: x})
        except Exception as e:  # onnxruntime's pybind exception types
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise BackendError(f"onnxruntime failed on a batch of {n}: {first}") from None
        return latent[:n], logits[:n]

    def _release(self) -> None:
        del self._session
