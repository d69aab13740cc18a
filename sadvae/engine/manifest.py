"""The manifest beside every TensorRT plan, and the check that refuses a plan built for something else.

A plan ``engines/<name>.<precision>.plan`` is only valid for the TensorRT library version, the GPU
(compute capability) and the model it was built from. :func:`sadvae.engine.build_engine` writes
``engines/<name>.<precision>.json`` next to it::

    {"format_version": 1,
     "plan": {"file": "tiny.fp16.plan", "sha256": "...", "bytes": 1234567},
     "model": {"onnx": "engines/tiny.onnx", "onnx_sha256": "...", "model_id": "...", "metadata": {...}},
     "library": {"name": "tensorrt", "version": "10.3.0"},
     "device": {"gpu": "Orin", "compute_capability": "8.7", "target": null},
     "precision": "fp16",
     "input": {"name": "window", "dtype": "float32", "min": [1, 3, 32, 25, 2], "opt": [...], "max": [...]},
     "outputs": [{"name": "latent", "shape": [-1, 256], "dtype": "float32"}, ...],
     "workspace_mb": 1024,
     "build": {"seconds": 41.2, "timestamp": "2026-...Z", "host": "...", "platform": "...", ...}}

``device.target`` is the ahead-of-time target of a TensorRT-RTX build ("SM80"), "portable" for an
RTX build for every GPU it supports, and null for a TensorRT build (which is for the GPU it ran on).

:func:`manifest_mismatches` and :func:`check_against` are pure (they compare dicts) so every refusal
is tested without TensorRT; :func:`check_manifest` adds the file reads and the device query.
"""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Mapping
from pathlib import Path

from sadvae.engine.probe import cc_tuple, current_device, normalize_compute_capability
from sadvae.engine.trt_common import load_library
from sadvae.errors import DataFormatError, EngineError
from sadvae.fileio import atomic_write
from sadvae.hashing import file_sha256
from sadvae.onnx_metadata import read_onnx_metadata

__all__ = [
    "MANIFEST_FORMAT",
    "RTX_PORTABLE_MIN_CC",
    "manifest_path",
    "make_manifest",
    "write_manifest",
    "normalize_compute_capability",
    "current_device",
    "runtime_info",
    "read_manifest",
    "manifest_mismatches",
    "rebuild_hint",
    "check_against",
    "check_manifest",
]

log = logging.getLogger(__name__)

MANIFEST_FORMAT = 1
RTX_PORTABLE_MIN_CC = (8, 0)  # a TensorRT-RTX build without a target runs on Ampere (8.0) and later
DEFAULT_OUT_DIR = "engines"  # `sadvae engine build`'s defaults, left out of the rebuild command
DEFAULT_WORKSPACE_MB = 1024
_REQUIRED = (
    "format_version",
    "plan.sha256",
    "model.onnx_sha256",
    "library.name",
    "library.version",
    "device.compute_capability",
    "precision",
    "input.name",
    "input.min",
    "input.opt",
    "input.max",
    "outputs",
)


def manifest_path(plan_path: str | Path) -> Path:
    """``engines/x.fp16.plan`` -> ``engines/x.fp16.json``."""
    return Path(plan_path).with_suffix(".json")


def runtime_info(library: str, device_index: int = 0, device: Mapping[str, object] | None = None) -> dict:
    """What this machine offers a plan: ``{"library", "library_version", "gpu", "compute_capability"}``.

    Args:
        library: "tensorrt" or "tensorrt_rtx" (imported here).
        device_index: the CUDA device to describe.
        device: a known ``{"gpu", "compute_capability"}`` instead of querying the GPU.

    Raises:
        MissingDependencyError: the library is not installed.
    """
    trt, name = load_library(library)
    dev = dict(device) if device is not None else (current_device(device_index) or {})
    return {
        "library": name,
        "library_version": str(trt.__version__),
        "gpu": dev.get("gpu"),
        "compute_capability": dev.get("compute_capability"),
    }


def make_manifest(
    plan: bytes,
    plan_path: Path,
    onnx_path: Path,
    *,
    library: Mapping,
    device: Mapping,
    precision: str,
    io: Mapping,
    workspace_mb: int,
    build: Mapping,
) -> dict:
    """The manifest of a freshly built plan (see the module docstring for the fields).

    Args:
        plan: the serialised plan.
        plan_path: where it will be written.
        onnx_path: the ONNX file it was built from (hashed and its metadata copied here).
        library: ``{"name", "version"}``.
        device: ``{"gpu", "compute_capability", "target"}``.
        precision: fp32, fp16 or int8.
        io: ``{"input": {"name", "dtype", "min", "opt", "max"}, "outputs": [{"name", "shape", "dtype"}]}``.
        workspace_mb: the builder workspace.
        build: build facts (seconds, batch_sizes, calibration, ...); timestamp, host and platform are added.
    """
    import datetime
    import hashlib
    import platform
    import socket

    meta = read_onnx_metadata(onnx_path)
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return {
        "format_version": MANIFEST_FORMAT,
        "plan": {"file": Path(plan_path).name, "sha256": hashlib.sha256(plan).hexdigest(), "bytes": len(plan)},
        "model": {
            "onnx": str(onnx_path),
            "onnx_sha256": file_sha256(onnx_path),
            "model_id": meta.get("model_id") if isinstance(meta.get("model_id"), str) else None,
            "metadata": meta,
        },
        "library": dict(library),
        "device": dict(device),
        "precision": precision,
        "input": dict(io["input"]),
        "outputs": [dict(o) for o in io["outputs"]],
        "workspace_mb": workspace_mb,
        "build": {**build, "timestamp": stamp, "host": socket.gethostname(), "platform": platform.platform()},
    }


def write_manifest(plan_path: str | Path, manifest: Mapping) -> Path:
    """Write ``manifest`` beside ``plan_path`` atomically; returns its path."""
    path = manifest_path(plan_path)
    atomic_write(path, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode("utf-8"))
    return path


def _get(d: Mapping, dotted: str) -> object:
    for part in dotted.split("."):
        if not isinstance(d, Mapping) or part not in d:
            raise KeyError(dotted)
        d = d[part]
    return d


def read_manifest(plan_path: str | Path) -> dict:
    """The manifest of a plan, checked for the fields :func:`check_against` reads.

    Raises:
        EngineError: the plan or its manifest is missing.
        DataFormatError: the manifest is not JSON or lacks a field.
    """
    plan_path = Path(plan_path)
    path = manifest_path(plan_path)
    if not plan_path.is_file():
        raise EngineError(
            f"{plan_path}: TensorRT plan not found; build it with `sadvae engine build --onnx MODEL.onnx`"
        )
    if plan_path.suffix.lower() in (".onnx", ".pt"):
        kind = "an ONNX export" if plan_path.suffix.lower() == ".onnx" else "a model bundle"
        raise EngineError(
            f"{plan_path}: is {kind}, not a TensorRT plan; pass the .plan that `sadvae engine build` wrote (its "
            "manifest .json lies beside it)"
        )
    if not path.is_file():
        raise EngineError(
            f"{plan_path}: its manifest {path.name} is missing, so nothing says what the plan was built "
            f"for; rebuild it with `sadvae engine build --onnx MODEL.onnx`"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataFormatError(path, None, f"not a readable JSON manifest ({e})") from None
    if not isinstance(manifest, dict):
        raise DataFormatError(path, None, f"expected a JSON object, found {type(manifest).__name__}")
    for key in _REQUIRED:
        try:
            _get(manifest, key)
        except KeyError:
            raise DataFormatError(path, key, "field missing; rebuild the plan with `sadvae engine build`") from None
    if manifest["format_version"] != MANIFEST_FORMAT:
        raise DataFormatError(
            path,
            "format_version",
            f"expected {MANIFEST_FORMAT}, found "
            f"{manifest['format_version']!r}; rebuild the plan with `sadvae engine build`",
        )
    for key, ok, want in _TYPES:
        try:
            value = _get(manifest, key)
        except KeyError:
            continue  # an optional field
        if not ok(value):
            raise DataFormatError(
                path, key, f"expected {want}, found {value!r}; rebuild the plan with `sadvae engine build`"
            )
    for i, out in enumerate(manifest["outputs"]):
        shape = out.get("shape")
        if not (isinstance(shape, list) and all(type(d) is int for d in shape)):
            raise DataFormatError(
                path,
                f"outputs[{i}].shape",
                f"expected a list of integers (-1 for a dynamic axis), found {shape!r}; rebuild the plan with "
                "`sadvae engine build`",
            )
    return manifest


def _is_cc(value: object) -> bool:
    try:
        normalize_compute_capability(value)
    except (EngineError, TypeError, ValueError):
        return False
    return True


def _dims(value: object) -> bool:
    return isinstance(value, list) and len(value) == 5 and all(type(v) is int and v >= 1 for v in value)


def _calibration(value: object) -> bool:
    """``build.calibration``: null, a path (manifests before the calibration facts) or the facts' object."""
    return value is None or isinstance(value, (str, dict))


_TYPES = (  # (field, check, what it should be): the fields engine info, check_against and the TensorRT backend read
    ("plan.sha256", lambda v: isinstance(v, str), "a sha256 string"),
    ("plan.bytes", lambda v: type(v) is int and v >= 0, "a number of bytes"),
    ("model.onnx_sha256", lambda v: isinstance(v, str), "a sha256 string"),
    ("model.model_id", lambda v: v is None or isinstance(v, str), "a model id string or null"),
    ("library.name", lambda v: isinstance(v, str), "a library name"),
    ("library.version", lambda v: isinstance(v, (str, int, float)) and not isinstance(v, bool), "a version"),
    ("device.compute_capability", lambda v: v is None or _is_cc(v), 'a compute capability such as "8.7"'),
    ("precision", lambda v: isinstance(v, str), "fp32, fp16 or int8"),
    ("input.name", lambda v: isinstance(v, str), "the input's name"),
    ("input.min", _dims, "5 positive integers [N, C, T, V, M]"),
    ("input.opt", _dims, "5 positive integers [N, C, T, V, M]"),
    ("input.max", _dims, "5 positive integers [N, C, T, V, M]"),
    (
        "outputs",
        lambda v: isinstance(v, list) and all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in v),
        'a list of {"name", "shape"} objects',
    ),
    ("workspace_mb", lambda v: type(v) is int and v >= 1, "a number of MiB"),
    ("build", lambda v: isinstance(v, dict), "an object of build facts"),
    (
        "build.batch_sizes",
        lambda v: isinstance(v, list) and len(v) == 3 and all(type(b) is int and b >= 1 for b in v),
        "3 positive integers [MIN, OPT, MAX]",
    ),
    ("build.calibration", _calibration, 'null or {"windows", "cache", "algorithm", ...}'),
)


def manifest_mismatches(
    manifest: Mapping, runtime: Mapping, model: str | None = None, plan_sha256: str | None = None
) -> list[str]:
    """Why a plan does not fit here, one phrase per differing field (empty: it fits). Pure.

    Args:
        manifest: the plan's manifest.
        runtime: :func:`runtime_info`'s dict (library, library_version, gpu, compute_capability).
        model: the model the caller expects: a bundle model id or an ONNX sha256; None skips the check.
        plan_sha256: sha256 of the plan file; None skips the check.
    """
    out = []
    lib = manifest["library"]
    dev = manifest["device"]
    if plan_sha256 is not None and plan_sha256 != manifest["plan"]["sha256"]:
        out.append("plan.sha256 differs from the plan file (the plan was replaced after its manifest was written)")
    if lib["name"] != runtime.get("library"):
        out.append(f"library.name is {lib['name']} but this runtime is {runtime.get('library')}")
    elif str(lib["version"]) != str(runtime.get("library_version")):
        out.append(f"library.version is {lib['version']} but {lib['name']} here is {runtime.get('library_version')}")
    here_cc = runtime.get("compute_capability")
    if here_cc is not None:
        here_cc = normalize_compute_capability(here_cc)
        built_cc = dev.get("compute_capability")
        target = dev.get("target")
        if target == "portable":
            if cc_tuple(here_cc) < RTX_PORTABLE_MIN_CC:
                out.append(f"device.target is portable (compute capability >= 8.0) but this GPU is {here_cc}")
        elif normalize_compute_capability(built_cc) != here_cc:
            out.append(f"device.compute_capability is {built_cc} but this GPU ({runtime.get('gpu')}) is {here_cc}")
        elif target is None and dev.get("gpu") and runtime.get("gpu") and dev["gpu"] != runtime["gpu"]:
            out.append(f"device.gpu is {dev['gpu']!r} but this GPU is {runtime['gpu']!r}")
    if model is not None:
        ids = {manifest["model"].get("model_id"), manifest["model"]["onnx_sha256"]} - {None}
        if model not in ids:
            out.append(
                f"model.model_id is {str(manifest['model'].get('model_id'))[:16]}... (ONNX "
                f"{manifest['model']['onnx_sha256'][:16]}...) but the model here is {model[:16]}..."
            )
    return out


def rebuild_hint(manifest: Mapping, runtime: Mapping | None = None, plan_path: str | Path | None = None) -> str:
    """The ``sadvae engine build`` command that rebuilds this plan for the machine described by ``runtime``.

    It repeats what the manifest records: batch sizes, workspace, int8's calibration (windows, cache, algorithm:
    a cache alone is replayed only by the TensorRT version that made it, so for another version the windows are
    asked for), the RTX target, and, from ``plan_path``, ``--out-dir`` and ``--name`` where they are not the
    defaults.
    """
    build = manifest.get("build")
    build = build if isinstance(build, Mapping) else {}
    onnx = manifest["model"].get("onnx") or "MODEL.onnx"
    precision = manifest["precision"]
    cmd = ["sadvae engine build --onnx", shlex.quote(str(onnx)), "--precision", str(precision)]
    batches = build.get("batch_sizes")
    if isinstance(batches, list) and batches:
        cmd += ["--batch", *(str(b) for b in batches)]
    workspace = manifest.get("workspace_mb")
    if type(workspace) is int and workspace != DEFAULT_WORKSPACE_MB:
        cmd += ["--workspace-mb", str(workspace)]
    if precision == "int8":
        same_library = runtime is None or str(runtime.get("library_version")) == str(manifest["library"]["version"])
        cmd += _calibration_flags(build.get("calibration"), same_library)
    if manifest["library"]["name"] == "tensorrt_rtx":
        cc = (runtime or {}).get("compute_capability") or manifest["device"].get("compute_capability")
        target = manifest["device"].get("target")
        cmd.append("--library tensorrt_rtx")
        if target not in (None, "portable") and cc is not None:
            cmd.append("--target SM" + normalize_compute_capability(cc).replace(".", ""))
    plan_file = Path(plan_path).name if plan_path is not None else manifest["plan"].get("file")
    if plan_path is not None and Path(plan_path).parent != Path(DEFAULT_OUT_DIR):
        cmd += ["--out-dir", shlex.quote(str(Path(plan_path).parent))]
    suffix = f".{precision}.plan"
    if isinstance(plan_file, str) and plan_file.endswith(suffix) and plan_file[: -len(suffix)] != Path(onnx).stem:
        cmd += ["--name", shlex.quote(plan_file[: -len(suffix)])]
    return " ".join(cmd)


def _calibration_flags(calibration: object, same_library: bool) -> list[str]:
    """The ``--calibration-*`` flags of an int8 plan's ``build.calibration`` (or its older form, a path)."""
    if isinstance(calibration, str):  # manifests before the calibration facts: the windows, the cache or neither
        calibration = (
            {"windows": calibration}
            if calibration.endswith(".npz")
            else {"cache": calibration if calibration != "calibrator" else None}
        )
    facts = calibration if isinstance(calibration, Mapping) else {}
    windows, cache, algorithm = facts.get("windows"), facts.get("cache"), facts.get("algorithm")
    flags = []
    if windows or not cache or not same_library:  # a cache alone fits only the TensorRT that made it
        flags += ["--calibration-data", shlex.quote(str(windows)) if windows else "WINDOWS.npz"]
    if cache:
        flags += ["--calibration-cache", shlex.quote(str(cache))]
    if algorithm == "minmax":
        flags += ["--calibration-algorithm", "minmax"]
    return flags


def check_against(
    manifest: Mapping,
    runtime: Mapping,
    plan_path: str | Path | None = None,
    model: str | None = None,
    plan_sha256: str | None = None,
) -> None:
    """Raise one :class:`EngineError` naming every field that differs (see :func:`manifest_mismatches`). Pure.

    ``plan_path`` (None: the messages say "plan") also gives the rebuild command its ``--out-dir`` and ``--name``.
    """
    where = plan_path
    if plan_path is None:
        plan_path = "plan"
    if runtime.get("compute_capability") is None:
        raise EngineError(
            f"{plan_path}: a {manifest['library']['name']} plan runs on a CUDA GPU and none was found "
            "here (pycuda, cuda-python and nvidia-smi see no device); run it on the GPU it was built "
            "for, or use the onnxruntime backend"
        )
    reasons = manifest_mismatches(manifest, runtime, model, plan_sha256)
    if reasons:
        if any(r.startswith("model.") for r in reasons):  # the plan's own ONNX is another model's: not that one
            other = {**manifest, "model": {**manifest["model"], "onnx": "MODEL.onnx"}}
            fix = (
                "Export the model you run (`sadvae export BUNDLE.pt --out MODEL.onnx`) and build its plan with "
                f"`{rebuild_hint(other, runtime, where)}`, or pass the plan built for it"
            )
        else:
            fix = f"Rebuild it on this machine with `{rebuild_hint(manifest, runtime, where)}`"
        raise EngineError(f"{plan_path} does not fit here: " + "; ".join(reasons) + ". " + fix)


def check_manifest(
    plan_path: str | Path,
    *,
    onnx_or_model_id: str | Path | None = None,
    device: Mapping[str, object] | None = None,
    device_index: int = 0,
) -> dict:
    """Read a plan's manifest and refuse the plan unless it fits this library, GPU and model.

    Args:
        plan_path: the ``.plan`` file (its manifest is the ``.json`` beside it).
        onnx_or_model_id: the model the caller expects: a path to the ONNX export (or the bundle), or a
            model id / ONNX sha256 string; None skips the model check.
        device: ``{"gpu", "compute_capability"}`` of the target, or a full :func:`runtime_info` dict
            (then no library is imported); None queries GPU ``device_index``.
        device_index: the CUDA device the plan will run on.

    Returns:
        the manifest.

    Raises:
        EngineError: missing plan or manifest, or a field that differs (the message names it and the fix).
        DataFormatError: an unreadable manifest.
        MissingDependencyError: the plan's library is not installed.
    """
    plan_path = Path(plan_path)
    manifest = read_manifest(plan_path)
    if device is not None and "library" in device:
        runtime = dict(device)
    else:
        runtime = runtime_info(manifest["library"]["name"], device_index, device)
    model = None
    if onnx_or_model_id is not None:
        model = str(onnx_or_model_id)
        if Path(model).is_file():
            model = file_sha256(model)
    check_against(manifest, runtime, plan_path, model, file_sha256(plan_path))
    return manifest
