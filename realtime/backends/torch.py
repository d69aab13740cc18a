"""PyTorch backend: the bundle's live recognizer (:func:`sadvae.export.live_recognizer`) in eager mode.

The reference the other backends are checked against, and the fallback where no export exists.

On a CUDA device the call is captured as CUDA graphs when the backend loads, one per batch size of
:attr:`Backend.batch_sizes` (powers of two up to ``max_batch``; a smaller batch is padded to the next one), sharing
one memory pool, and replayed: at batch 1 eager torch is bound by kernel launches (the default model on an H200:
14.7 ms eager, 1.73 ms as a hand-built graph in ``scripts/gpu_check.py``, docs/benchmark.md). A failed capture
leaves the backend eager, with one log line naming the error; ``BackendOptions.cuda_graphs=False`` keeps it
eager. Precision is torch's default on CUDA in both modes: cuDNN convolutions may use TF32, which moves the
default model's logits by up to about 0.1 from the CPU's (gpu_check's TF32 row).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from realtime.backends.base import Backend, BackendOptions
from sadvae.bundle import load_bundle
from sadvae.errors import BackendError, CheckpointError
from sadvae.export import bundle_metadata, file_sha256, live_recognizer
from sadvae.skeleton import NUM_JOINTS

__all__ = ["TorchBackend"]

log = logging.getLogger(__name__)


class TorchBackend(Backend):
    """Runs a model bundle (``sadvae train zsl --out BUNDLE``) with PyTorch.

    Args:
        path: the bundle ``.pt``.
        options: ``device`` (cpu, cuda, cuda:N), ``threads`` (sets torch's process-wide intra-op
            thread count when > 0) and ``max_batch``.

    Raises:
        CheckpointError: the bundle is missing or unreadable.
        BackendError: a CUDA device was asked for and torch has none.
    """

    name = "torch"

    def __init__(self, path: str | Path, options: BackendOptions | None = None) -> None:
        super().__init__(options or BackendOptions())
        path = Path(path)
        device = self.options.device
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendError(f"torch backend: device {device!r} asked for, but torch sees no CUDA GPU; use cpu")
        if self.options.threads:
            torch.set_num_threads(self.options.threads)
        if path.suffix == ".onnx":
            raise CheckpointError(
                f"{path}: the torch backend reads a model bundle (.pt), not ONNX; "
                "use --backend onnxruntime for ONNX files"
            )
        bundle = load_bundle(path, device=device)
        self.path = path
        recognizer, pre = live_recognizer(bundle)  # the live window's person slots, as its ONNX export has them
        self._model = recognizer.to(device).eval()
        self._device = torch.device(device)
        self._metadata = bundle_metadata(bundle, file_sha256(path), pre)
        self._window_shape = (bundle.backbone.cfg.in_channels, pre.window, NUM_JOINTS, pre.persons)
        self._graphs: dict[int, _Replay] = {}
        if self._device.type == "cuda" and self.options.cuda_graphs:
            self._capture_all()
        log.info(
            "torch %s: %s on %s (%d threads%s)",
            torch.__version__,
            path.name,
            device,
            torch.get_num_threads(),
            f", CUDA graphs for batches {sorted(self._graphs)}" if self._graphs else "",
        )

    def _capture_all(self) -> bool:
        """Capture one graph per batch size (at load time: no stall in the live loop, no other thread running)."""
        pool = torch.cuda.graph_pool_handle()
        try:
            with torch.cuda.device(self._device):
                for n in self.batch_sizes:
                    self._graphs[n] = _Replay(self._model, (n, *self._window_shape), self._device, pool)
            return True
        except Exception as e:  # noqa: BLE001 - any capture failure: eager still gives the right answer
            cause = f" (while: {type(e.__context__).__name__}: {e.__context__})" if e.__context__ else ""
            log.warning(
                "torch %s: CUDA graph capture failed (%s: %s%s); running eager",
                self._device,
                type(e).__name__,
                e,
                cause,
            )
            self._graphs.clear()
            return False

    def _infer(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._graphs:  # run() hands over chunks of at most max_batch, the largest captured size
            return self._graphs[min(n for n in self._graphs if n >= len(x))](x)
        with torch.inference_mode():
            latent, logits = self._model(torch.from_numpy(x).to(self._device, non_blocking=True))
            return latent.cpu().numpy(), logits.cpu().numpy()

    def _release(self) -> None:
        self._graphs.clear()
        del self._model
        if self._device.type == "cuda":
            torch.cuda.empty_cache()


class _Replay:
    """One captured call of ``model`` on a fixed input shape [n, ...]: copy in (padded), replay, copy out.

    Warm-up and capture run on a side stream inside this class's own stream and device contexts, so the caller's
    stream is restored even when the capture fails. Windows are independent rows (eval mode), so padding rows do
    not change the others; the outputs are copied to the host before the next replay can overwrite them.
    """

    def __init__(self, model: torch.nn.Module, shape: tuple[int, ...], device: torch.device, pool) -> None:
        self.device = device
        self.input = torch.zeros(shape, dtype=torch.float32, device=device)
        stream = torch.cuda.Stream(device)
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream):
            with torch.inference_mode():
                for _ in range(3):
                    model(self.input)
            self.graph = torch.cuda.CUDAGraph()
            with (
                torch.inference_mode(),
                torch.cuda.graph(self.graph, pool=pool, stream=stream, capture_error_mode="thread_local"),
            ):
                self.outputs = model(self.input)
        torch.cuda.current_stream(device).wait_stream(stream)

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(x)
        with torch.cuda.device(self.device):
            self.input[:n].copy_(torch.from_numpy(x))
            if n < len(self.input):
                self.input[n:].zero_()
            self.graph.replay()
            latent, logits = self.outputs
            return latent[:n].cpu().numpy(), logits[:n].cpu().numpy()  # .cpu() waits for the replay and copies
