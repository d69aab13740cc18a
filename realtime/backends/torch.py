"""PyTorch backend: the bundle's live recognizer (:func:`sadvae.export.live_recognizer`) in eager mode.

The reference the other backends are checked against, and the fallback where no export exists.
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
        log.info("torch %s: %s on %s (%d threads)", torch.__version__, path.name, device, torch.get_num_threads())

    def _infer(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            latent, logits = self._model(torch.from_numpy(x).to(self._device, non_blocking=True))
            return latent.cpu().numpy(), logits.cpu().numpy()

    def _release(self) -> None:
        del self._model
        if self._device.type == "cuda":
            torch.cuda.empty_cache()
