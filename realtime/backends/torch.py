"""PyTorch backend: the bundle's live recognizer (:func:`sadvae.export.live_recognizer`) in eager mode.

The reference the other backends are checked against, and the fallback where no export exists.

On a CUDA device each batch size's call is captured once as a CUDA graph and replayed: at batch 1 eager torch is
bound by kernel launches (14.7 ms on an H200 for the default model, against 1.73 ms replayed, with the same
outputs to 1e-4; ``scripts/gpu_check.py``, docs/benchmark.md). A capture that fails falls back to eager for good,
with one log line; ``BackendOptions.cuda_graphs=False`` keeps eager.
Imported only through :func:`realtime.backends.load_backend`, which checks that ``torch`` is
installed first.
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
        self._use_graphs = self._device.type == "cuda" and self.options.cuda_graphs
        log.info("torch %s: %s on %s (%d threads)", torch.__version__, path.name, device, torch.get_num_threads())

    def _infer(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._use_graphs:
            replay = self._graphs.get(len(x)) or self._capture(len(x))
            if replay is not None:
                return replay(x)
        with torch.inference_mode():
            latent, logits = self._model(torch.from_numpy(x).to(self._device, non_blocking=True))
            return latent.cpu().numpy(), logits.cpu().numpy()

    def _capture(self, n: int) -> _Replay | None:
        try:
            self._graphs[n] = _Replay(self._model, (n, *self._window_shape), self._device)
            return self._graphs[n]
        except Exception as e:  # noqa: BLE001 - any capture failure: eager still gives the right answer
            log.warning(
                "torch %s: CUDA graph capture failed (%s: %s); running eager", self._device, type(e).__name__, e
            )
            self._use_graphs = False
            self._graphs.clear()
            return None

    def _release(self) -> None:
        self._graphs.clear()
        del self._model
        if self._device.type == "cuda":
            torch.cuda.empty_cache()


class _Replay:
    """One captured call of ``model`` on a fixed input shape: copy in, replay, copy out.

    Warm-up runs on a side stream first (as CUDA graph capture requires); the outputs are copied to the host
    before the next call can overwrite the static buffers.
    """

    def __init__(self, model: torch.nn.Module, shape: tuple[int, ...], device: torch.device) -> None:
        self.input = torch.zeros(shape, dtype=torch.float32, device=device)
        stream = torch.cuda.Stream(device)
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.inference_mode(), torch.cuda.stream(stream):
            for _ in range(3):
                model(self.input)
        torch.cuda.current_stream(device).wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.inference_mode(), torch.cuda.graph(self.graph):
            self.outputs = model(self.input)

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.input.copy_(torch.from_numpy(x))
        self.graph.replay()
        latent, logits = self.outputs
        return latent.cpu().numpy(), logits.cpu().numpy()  # .cpu() waits for the replay and copies
