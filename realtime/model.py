"""The live model: a bundle ``.pt`` (or a backend file plus its bundle) loaded into an inference backend.

``--model`` accepts

- a model bundle ``.pt``: the torch backend runs it as it is; ONNX Runtime runs its export, made once
  with :func:`sadvae.export.export_onnx` into ``$SADVAE_CACHE_DIR/onnx`` (``~/.cache/sadvae/onnx``)
  under the bundle's sha256, so a changed bundle is exported again and an unchanged one never is;
- an ``.onnx`` export (or a TensorRT plan) plus its bundle: the head needs the bundle's text VAE and
  gate, so the bundle is found with ``--bundle`` or as ``<stem>.pt`` beside the file, and the export's
  ``model_id`` metadata must be that bundle's hash.

The default model is the bundle packaged at ``sadvae/assets/default_model.pt``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realtime.backends import Backend, BackendOptions, load_backend
from sadvae.data.preprocess import PreprocessConfig
from sadvae.errors import CheckpointError, ConfigError
from sadvae.skeleton import NUM_JOINTS

__all__ = ["LiveModel", "default_model_path", "onnx_cache_dir", "load_live_model"]

log = logging.getLogger(__name__)

_ALIASES = {"onnx": "onnxruntime", "ort": "onnxruntime", "pytorch": "torch", "trt": "tensorrt"}


@dataclass
class LiveModel:
    """A loaded live model.

    Attributes:
        backend: the recognizer: windows [N, 3, T, 25, M] -> latent [N, d_r], seen_logits [N, K].
        bundle: the loaded :class:`sadvae.bundle.Bundle` (text VAE, gate and class names for the head).
        bundle_path: where the bundle came from.
        model_id: sha256 of the bundle file (events and head caches name the model by it).
        preprocess: the bundle's preprocessing (window, fps, persons, normalisation).
        backend_path: the file the backend runs (the bundle, an ONNX export or a plan).
        note: how the backend file was obtained, for the startup summary.
    """

    backend: Backend
    bundle: Any
    bundle_path: Path
    model_id: str
    preprocess: PreprocessConfig
    backend_path: Path
    note: str = ""

    def close(self) -> None:
        """Release the backend; idempotent."""
        self.backend.close()


def default_model_path() -> Path:
    """The packaged default bundle, ``sadvae/assets/default_model.pt`` (it may be absent)."""
    from sadvae.assets import default_bundle_path

    return default_bundle_path()


def onnx_cache_dir() -> Path:
    """``$SADVAE_CACHE_DIR/onnx`` when the variable is set, else ``~/.cache/sadvae/onnx``."""
    root = os.environ.get("SADVAE_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "sadvae") / "onnx"


def _cached_export(bundle_path: Path, model_id: str, cache_dir: Path | None) -> tuple[Path, str]:
    from sadvae.export import export_onnx

    out = (cache_dir or onnx_cache_dir()) / f"{model_id[:16]}.onnx"
    if out.is_file():
        return out, f"cached ONNX export {out}"
    log.warning("exporting %s to ONNX once (cached as %s); this takes a moment", bundle_path, out)
    export_onnx(bundle_path, out)
    return out, f"exported to {out} (cached for later runs)"


def _find_bundle(model: Path, bundle: Path | None) -> Path:
    if bundle is not None:
        return bundle
    beside = model.with_suffix(".pt")
    if beside.is_file():
        return beside
    raise ConfigError(
        f"{model} needs its model bundle (the head uses the bundle's text VAE and gate): pass --bundle BUNDLE.pt, "
        f"or put it beside the file as {beside.name}"
    )


def load_live_model(
    model: str | Path | None = None,
    backend: str = "onnxruntime",
    *,
    bundle: str | Path | None = None,
    options: BackendOptions | None = None,
    cache_dir: str | Path | None = None,
) -> LiveModel:
    """Load the model the live pipeline runs (see the module docstring).

    Args:
        model: a bundle ``.pt``, an ``.onnx`` export or a backend plan; None = the packaged default.
        backend: "onnxruntime", "torch" or "tensorrt" (aliases onnx, ort, pytorch, trt).
        bundle: the bundle of an ``.onnx`` / plan ``model`` (default: ``<stem>.pt`` beside it).
        options: backend options (threads, device, ...).
        cache_dir: where bundles are exported to ONNX; None = :func:`onnx_cache_dir`.

    Returns:
        The loaded :class:`LiveModel`; close it when done.

    Raises:
        CheckpointError: a file is missing or unreadable, or the export belongs to another bundle.
        ConfigError: unknown backend, or a model file the backend does not read.
        MissingDependencyError: the backend's library (or torch, for the bundle) is not installed.
    """
    from sadvae.bundle import load_bundle
    from sadvae.export import file_sha256

    name = _ALIASES.get(backend, backend)
    path = Path(model) if model is not None else default_model_path()
    if not path.is_file():
        if model is None:
            raise CheckpointError(
                f"the default model is not installed ({path} is missing); pass --model BUNDLE.pt "
                "(train one with `sadvae train zsl --out model.pt`)"
            )
        raise CheckpointError(f"{path}: model file not found; pass a bundle .pt or an .onnx export with --model")
    is_bundle = path.suffix == ".pt"
    if not is_bundle and name == "torch":
        raise ConfigError(f"{path}: the torch backend runs a model bundle (.pt), not a {path.suffix or 'plain'} file")
    if is_bundle and name == "tensorrt":
        raise ConfigError(
            f"{path}: the tensorrt backend runs an engine built from the bundle's ONNX export, not the bundle; "
            "build one and pass it with --model ENGINE --bundle BUNDLE.pt"
        )
    bundle_path = path if is_bundle else _find_bundle(path, Path(bundle) if bundle is not None else None)
    if not bundle_path.is_file():
        raise CheckpointError(f"{bundle_path}: model bundle not found; pass the bundle the model was exported from")
    model_id = file_sha256(bundle_path)
    loaded = load_bundle(bundle_path)
    backend_path, note = path, "bundle"
    if is_bundle and name == "onnxruntime":
        backend_path, note = _cached_export(bundle_path, model_id, Path(cache_dir) if cache_dir else None)
    elif not is_bundle:
        note = f"{path.suffix.lstrip('.')} file with bundle {bundle_path}"
    engine = load_backend(name, backend_path, options)
    try:
        exported_from = engine.metadata.get("model_id")
        if exported_from is not None and exported_from != model_id:
            raise CheckpointError(
                f"{backend_path} was exported from another bundle (model id {str(exported_from)[:12]}...), not from "
                f"{bundle_path} ({model_id[:12]}...); export it again from that bundle or pass the matching --bundle"
            )
        pre = loaded.preprocess
        want = (3, pre.window, NUM_JOINTS, pre.persons)
        if tuple(engine.window_shape) != want:
            raise CheckpointError(
                f"{backend_path} takes windows {tuple(engine.window_shape)} but its bundle {bundle_path} preprocesses "
                f"to {want}; export it again from that bundle"
            )
    except BaseException:
        engine.close()
        raise
    log.info("model %s: %s via %s (%s)", model_id[:12], bundle_path, engine.name, note)
    return LiveModel(engine, loaded, bundle_path, model_id, loaded.preprocess, backend_path, note)
