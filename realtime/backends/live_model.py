"""The live model: a bundle ``.pt`` (or a backend file plus its bundle) loaded into an inference backend.

``--model`` accepts

- a model bundle ``.pt``: the torch backend runs it as it is; ONNX Runtime runs its export: the
  ``<stem>.onnx`` shipped beside the bundle when its ``model_id`` metadata is that bundle's hash, its
  ``format_version`` this version's :data:`sadvae.onnx_metadata.EXPORT_FORMAT` and its ``persons`` the
  bundle's live person slots (the packaged default model ships one: exporting takes 30-50 s on a 2-core
  machine), else one made once with :func:`sadvae.export.export_onnx` (needs torch) into
  ``$SADVAE_CACHE_DIR/onnx`` (``~/.cache/sadvae/onnx``) under the bundle's sha256 and the export format,
  so a changed bundle, or a new export format, is exported again and an unchanged one never is;
- an ``.onnx`` export (or a TensorRT plan) with its bundle, found with ``--bundle`` or as ``<stem>.pt``
  beside the file: the export's ``model_id`` metadata must be that bundle's hash. An export of a newer
  format than this version reads is refused; one of an older format loads with a warning to export it again.

Torch: with ONNX Runtime or TensorRT nothing here imports torch. What the head needs of the bundle
(class names, gate, preprocessing, text encoder, latent width: :class:`sadvae.bundle.BundleInfo`)
comes from the export's metadata (a plan's manifest copies its ONNX's), and the ``.pt`` is only hashed
(its sha256 is the model id). The bundle's weights are read (with torch) only when new labels need a
head fit that the head cache (``$SADVAE_CACHE_DIR/heads``) does not hold: seen labels, and new labels
fitted before with the same model, run on a machine without torch. An export or plan whose bundle is
not at hand runs too (its metadata names the model): seen labels and cached heads work, a fit asks for
``--bundle``. An export without that metadata (older or foreign) needs its bundle and torch.

The default model is the bundle packaged at ``sadvae/assets/default_model.pt``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from realtime.backends.base import Backend, BackendOptions
from realtime.backends.registry import backend_name, load_backend
from sadvae.bundle import BundleInfo, check_bundle_file
from sadvae.data.preprocess import PreprocessConfig
from sadvae.errors import CheckpointError, ConfigError, MissingDependencyError, SadvaeError
from sadvae.hashing import file_sha256
from sadvae.onnx_metadata import EXPORT_FORMAT, read_onnx_metadata
from sadvae.skeleton import NUM_JOINTS

__all__ = ["LiveModel", "default_model_path", "onnx_cache_dir", "onnx_cache_path", "load_live_model"]

_PLAN_SUFFIXES = (".plan", ".engine", ".trt")

log = logging.getLogger(__name__)


@dataclass
class LiveModel:
    """A loaded live model.

    Attributes:
        backend: the recognizer: windows [N, 3, T, 25, M] -> latent [N, d_r], seen_logits [N, K].
        bundle: the bundle's facts for the head (:class:`sadvae.bundle.BundleInfo`; its ``load()`` reads the
            weights with torch when a head fit needs them).
        bundle_path: the bundle ``.pt``, or None when only the export is at hand.
        model_id: sha256 of the bundle file (events and head caches name the model by it).
        preprocess: the bundle's preprocessing (window, fps, persons, normalisation).
        backend_path: the file the backend runs (the bundle, an ONNX export or a plan).
        note: how the backend file was obtained, for the startup summary.
    """

    backend: Backend
    bundle: BundleInfo
    bundle_path: Path | None
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


def onnx_cache_path(model_id: str, cache_dir: Path | None = None) -> Path:
    """Where the bundle with sha256 ``model_id`` is exported to in the cache (``cache_dir``, default
    :func:`onnx_cache_dir`): named by the hash and the export format, so a new format is exported again."""
    return (cache_dir or onnx_cache_dir()) / f"{model_id[:16]}.format{EXPORT_FORMAT}.onnx"


def _export_format(meta: dict[str, object]) -> int | None:
    """An export's ``format_version`` metadata; None when it has none (an export of another tool)."""
    v = meta.get("format_version")
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _cache_format(path: Path) -> int | None:
    try:
        return _export_format(read_onnx_metadata(path))
    except SadvaeError:
        return None


def _cached_export(bundle_path: Path, model_id: str, cache_dir: Path | None) -> tuple[Path, str]:
    out = onnx_cache_path(model_id, cache_dir)
    # before format 2 the cache named its exports by the hash alone
    for cached in (out, out.with_name(f"{model_id[:16]}.onnx")):
        if not cached.is_file():
            continue
        found = _cache_format(cached)
        if found == EXPORT_FORMAT:
            return cached, f"cached ONNX export {cached}"
        log.warning(
            "%s: a cached export of format %s, not this version's %d; exporting %s again",
            cached,
            found,
            EXPORT_FORMAT,
            bundle_path.name,
        )
    try:
        from sadvae.export import export_onnx
    except ImportError as e:
        raise MissingDependencyError(
            e.name or "torch",
            "train",
            f"{bundle_path} has no ONNX export of format {EXPORT_FORMAT} yet and exporting needs "
            f"{e.name or 'torch'}, which is not installed: `pip install 'sadvae-live[train]'`, or export it on a "
            "machine that has it (`sadvae export`) and pass --model MODEL.onnx --bundle BUNDLE.pt",
        ) from None
    _check_cache_folder(out.parent, cache_dir)
    log.warning("exporting %s to ONNX once (cached as %s); this takes a moment", bundle_path, out)
    export_onnx(bundle_path, out)
    return out, f"exported to {out} (cached for later runs)"


def _check_cache_folder(folder: Path, cache_dir: Path | None) -> None:
    """Refuse, before a 20 s export, a cache folder that cannot be made or written; the message names its setting."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        problem = None if os.access(folder, os.W_OK) else "not writable"
    except OSError as e:
        problem = e.strerror or str(e)
    if problem is None:
        return
    if cache_dir is not None:
        raise ConfigError(f"cache folder {folder} cannot hold the ONNX export ({problem}); pass a writable folder")
    env = os.environ.get("SADVAE_CACHE_DIR")
    where = f"SADVAE_CACHE_DIR={env}: its ONNX export cache {folder}" if env else f"the ONNX export cache {folder}"
    raise ConfigError(f"{where} cannot hold the export ({problem}); set SADVAE_CACHE_DIR to a writable folder")


def _shipped_persons(meta: dict[str, object]) -> object:
    """The live person slots of the bundle an export was made from: its live config's, else its own slots."""
    live, backbone = meta.get("live"), meta.get("backbone")
    persons = live.get("persons") if isinstance(live, dict) else None
    return persons if persons is not None else backbone.get("slots") if isinstance(backbone, dict) else None


def _shipped_export(bundle_path: Path, model_id: str, options: BackendOptions | None) -> Backend | None:
    """ONNX Runtime on ``<stem>.onnx`` beside the bundle when it was exported from this very bundle, in this
    version's export format, for the bundle's live person slots; else None (the caller uses the cache)."""
    shipped = bundle_path.with_suffix(".onnx")
    if not shipped.is_file():
        return None
    try:
        meta = read_onnx_metadata(shipped)
    except SadvaeError as e:
        log.warning("ignoring %s beside the bundle: %s", shipped, e)
        return None
    found, persons, live = _export_format(meta), meta.get("persons"), _shipped_persons(meta)
    if meta.get("model_id") != model_id:
        problem = "it was exported from another bundle"
    elif found != EXPORT_FORMAT:
        problem = f"its export format is {found}, this version's is {EXPORT_FORMAT}"
    elif persons != live:
        problem = f"it was exported for {persons} person slot(s), the bundle runs {live} live"
    else:
        try:
            return load_backend("onnxruntime", shipped, options)
        except SadvaeError as e:
            log.warning("ignoring %s beside the bundle: %s", shipped, e)
            return None
    log.warning("ignoring %s: %s; using an export of %s made for this version instead", shipped, problem, bundle_path)
    return None


def _is_zip(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def _find_bundle(model: Path, bundle: Path | None) -> Path | None:
    """The bundle of an export or plan: ``bundle`` when given, else ``<stem>.pt`` beside it, else None."""
    if bundle is not None:
        if bundle.is_dir():
            raise CheckpointError(f"--bundle {bundle}: is a folder; pass the bundle .pt the model was exported from")
        if not bundle.is_file():
            raise CheckpointError(f"{bundle}: model bundle not found; pass the bundle the model was exported from")
        check_bundle_file(bundle)  # empty, text, an export...: said as such, not as a model of another bundle
        return bundle
    # model.onnx -> model.pt; an engine engines/model.fp16.plan -> engines/model.pt (a guess: checked by hash)
    stem = model.name.split(".")[0]
    for beside in dict.fromkeys((model.with_suffix(".pt"), model.with_name(f"{stem}.pt"))):
        if beside.is_file():
            return beside
    return None


def _check_format(engine: Backend, backend_path: Path, bundle_path: Path | None) -> None:
    """Refuse an export (or a plan of one) of a newer format than this version reads; warn about an older one."""
    found = _export_format(engine.metadata)
    if found is None or found == EXPORT_FORMAT:
        return
    redo = f"`sadvae export {bundle_path or 'BUNDLE.pt'} --out {backend_path.with_suffix('.onnx')}`"
    if backend_path.suffix.lower() in _PLAN_SUFFIXES:
        redo += " and build the plan again (`sadvae engine build`)"
    if found > EXPORT_FORMAT:
        raise CheckpointError(
            f"{backend_path}: export format {found} is newer than this sadvae-live reads ({EXPORT_FORMAT}); "
            f"upgrade sadvae-live, or export the bundle again with this version: {redo}"
        )
    log.warning(
        "%s: export format %d, older than this version's %d: its metadata may lack what this version reads "
        "(format 2 added the trained classes' other names); export it again: %s",
        backend_path,
        found,
        EXPORT_FORMAT,
        redo,
    )


def _bundle_info(
    engine: Backend, backend_path: Path, bundle_path: Path | None, model_id: str | None
) -> tuple[BundleInfo, bool]:
    """The head's facts from the backend's metadata (no torch), else from the bundle itself (torch); and whether
    they came from the bundle."""
    exported_from = engine.metadata.get("model_id")
    if model_id is not None and exported_from is not None and exported_from != model_id:
        raise CheckpointError(
            f"{backend_path} was exported from another bundle (model id {str(exported_from)[:12]}...), not from "
            f"{bundle_path} ({model_id[:12]}...); export it again from that bundle or pass the matching --bundle"
        )
    try:
        return BundleInfo.from_metadata(engine.metadata, backend_path, bundle_path), False
    except CheckpointError as e:
        if bundle_path is None:
            raise ConfigError(
                f"{backend_path} needs its model bundle ({e}): pass --bundle BUNDLE.pt, or put it beside the file as "
                f"{backend_path.with_suffix('.pt').name}"
            ) from None
        log.info("%s; reading the bundle %s instead", e, bundle_path)
    from sadvae.bundle import load_bundle

    return BundleInfo.from_bundle(load_bundle(bundle_path), model_id or "", bundle_path), True


def _check_outputs(engine: Backend, info: BundleInfo, backend_path: Path, bundle_path: Path | None) -> None:
    """One zero window through the backend: its output widths must be the bundle's (latent d_r, K seen classes)."""
    out = engine.run(np.zeros((1, *engine.window_shape), np.float32))
    got = (out["latent"].shape[-1], out["seen_logits"].shape[-1])
    want = (info.semantic_dim, len(info.seen_classes))
    if got != want:
        raise CheckpointError(
            f"{backend_path} outputs a {got[0]}-wide latent and {got[1]} seen-class logits but the bundle "
            f"{bundle_path} has a {want[0]}-wide latent and {want[1]} seen classes: they are different models; pass "
            f"the bundle it was exported from with --bundle, or export this one: `sadvae export {bundle_path} --out "
            f"{backend_path.with_suffix('.onnx')}`"
        )


def load_live_model(
    model: str | Path | None = None,
    backend: str = "onnxruntime",
    *,
    bundle: str | Path | None = None,
    options: BackendOptions | None = None,
    cache_dir: str | Path | None = None,
) -> LiveModel:
    """Load the model the live pipeline runs (see the module docstring: without torch for ONNX Runtime / TensorRT).

    Args:
        model: a bundle ``.pt``, an ``.onnx`` export or a backend plan; None = the packaged default.
        backend: "onnxruntime", "torch" or "tensorrt" (aliases onnx, ort, pytorch, trt).
        bundle: the bundle of an ``.onnx`` / plan ``model`` (default: ``<stem>.pt`` beside it, if there).
        options: backend options (threads, device, ...).
        cache_dir: where bundles are exported to ONNX; None = :func:`onnx_cache_dir`.

    Returns:
        The loaded :class:`LiveModel`; close it when done.

    Raises:
        CheckpointError: a file is missing or unreadable, or the export belongs to another bundle.
        ConfigError: unknown backend, a model file the backend does not read, or an export without sadvae
            metadata and no bundle.
        MissingDependencyError: the backend's library is not installed, or torch for the torch backend, an
            export still to make, or an export without sadvae metadata.
    """
    name = backend_name(backend)
    path = Path(model) if model is not None else default_model_path()
    if path.is_dir():
        inside = sorted(p.name for p in path.iterdir() if p.suffix in (".pt", ".onnx"))[:4]
        raise CheckpointError(
            f"{path}: is a folder, not a model file; pass the bundle .pt (or an .onnx export) with --model"
            + (f" (this folder holds {', '.join(inside)})" if inside else "")
        )
    if not path.is_file():
        if model is None:
            raise CheckpointError(
                f"the default model is not installed ({path} is missing): reinstall the package, rebuild it with "
                "`scripts/train_default` (needs ../shared/data), or pass --model BUNDLE.pt"
            )
        if path.suffix.lower() in _PLAN_SUFFIXES or (
            name == "tensorrt" and path.suffix.lower() not in (".pt", ".onnx")
        ):
            raise CheckpointError(
                f"{path}: TensorRT plan not found; build it on the device that runs it with `sadvae engine build "
                "--onnx EXPORT.onnx` (docs/edge.md)"
            )
        raise CheckpointError(f"{path}: model file not found; pass a bundle .pt or an .onnx export")
    is_bundle = path.suffix == ".pt" or _is_zip(path)  # a bundle renamed .pth or .bin is still a bundle
    if is_bundle and bundle is not None:
        raise ConfigError(
            f"--bundle {bundle}: --model {path} is itself a model bundle; --bundle names the bundle of an .onnx "
            "export or a TensorRT plan, so drop --bundle (or pass the export with --model)"
        )
    if not is_bundle and path.suffix.lower() in _PLAN_SUFFIXES and name == "onnxruntime":
        raise ConfigError(
            f"{path}: is a TensorRT plan, which ONNX Runtime does not run; pass --backend tensorrt (with "
            "--bundle BUNDLE.pt when its bundle is not beside it), or --model the .onnx export it was built from"
        )
    if not is_bundle and path.suffix.lower() != ".onnx" and name == "onnxruntime":
        raise CheckpointError(
            f"{path}: neither a model bundle (.pt, a zip archive) nor an .onnx export; pass one of them with --model"
        )
    if not is_bundle and name == "torch":
        raise ConfigError(f"{path}: the torch backend runs a model bundle (.pt), not a {path.suffix or 'plain'} file")
    if is_bundle and name == "tensorrt":
        raise ConfigError(
            f"{path}: the tensorrt backend runs an engine built from the bundle's ONNX export, not the bundle; "
            "build one and pass it with --model ENGINE --bundle BUNDLE.pt"
        )
    if is_bundle:
        check_bundle_file(path)  # a text or ONNX file named .pt: said before any export is tried
    bundle_path = path if is_bundle else _find_bundle(path, Path(bundle) if bundle is not None else None)
    model_id = file_sha256(bundle_path) if bundle_path is not None else None
    backend_path, note, engine = path, "bundle", None
    if is_bundle and name == "onnxruntime":
        engine = _shipped_export(bundle_path, model_id, options)
        if engine is not None:
            backend_path, note = bundle_path.with_suffix(".onnx"), "ONNX export shipped beside the bundle"
        else:
            backend_path, note = _cached_export(bundle_path, model_id, Path(cache_dir) if cache_dir else None)
    elif not is_bundle:
        note = f"{path.suffix.lstrip('.')} file with bundle {bundle_path}" if bundle_path else f"{path.suffix} file"
    engine = engine or load_backend(name, backend_path, options)
    exported_from = engine.metadata.get("model_id")
    if bundle is None and not is_bundle and model_id is not None and exported_from not in (None, model_id):
        log.warning(
            "ignoring %s beside %s: it is another model's bundle (model id %s; the export was made from %s), so new "
            "labels cannot be fitted; pass --bundle with the bundle it was exported from",
            bundle_path,
            path,
            model_id[:12],
            str(exported_from)[:12],
        )
        bundle_path = model_id = None
        note = f"{path.suffix} file"
    try:
        _check_format(engine, backend_path, bundle_path)
        info, from_bundle = _bundle_info(engine, backend_path, bundle_path, model_id)
        pre = info.preprocess
        want = (3, pre.window, NUM_JOINTS, pre.persons)
        if tuple(engine.window_shape) != want:
            raise CheckpointError(
                f"{backend_path} takes windows {tuple(engine.window_shape)} but its model "
                f"({bundle_path or 'metadata'}) preprocesses to {want}; export it again from that bundle"
            )
        if from_bundle and not is_bundle:  # the export's own metadata would have matched its graph
            _check_outputs(engine, info, backend_path, bundle_path)
    except BaseException:
        engine.close()
        raise
    if bundle_path is None:
        log.info(
            "%s: no model bundle beside it; seen labels and cached heads work, a new head fit needs --bundle",
            backend_path,
        )
    log.info("model %s: %s via %s (%s)", info.model_id[:12], bundle_path or backend_path, engine.name, note)
    return LiveModel(engine, info, bundle_path, info.model_id, info.preprocess, backend_path, note)
