"""Build a TensorRT plan from a ``sadvae export`` ONNX file, with its manifest.

One code path serves TensorRT 8.5/8.6 (JetPack 5, JetPack 6.0), TensorRT 10.x (JetPack 6, desktops) and
TensorRT-RTX; every difference between them is decided once, in :func:`_api`:

- TensorRT 8.x needs the EXPLICIT_BATCH network flag (deprecated, and implied, on 10.x; RTX has none);
- the workspace is ``set_memory_pool_limit`` where it exists, ``max_workspace_size`` before 8.4;
- TensorRT-RTX builds strongly typed networks: the precision is the ONNX graph's (fp32 for
  ``sadvae export``) and it has no FP16/INT8 builder flags and no INT8 calibration, so it builds
  ``fp32`` only; in exchange it builds without a GPU, ahead of time, for a compute capability
  (``compute_capability="SM80"``) or, by default, portably for every GPU from Ampere (8.0) on. Its
  timing cache calls are no-ops, so none is read or written.

``fp32`` clears TF32 so that an fp32 plan computes in fp32 (parity within 1e-3 of ONNX Runtime);
``int8`` sets INT8 and FP16 (layers that do not quantise fall back to fp16, as on Jetson).

The libraries are imported lazily: :func:`load_library` raises
:class:`~sadvae.errors.MissingDependencyError` when the one asked for is not installed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sadvae.engine.manifest import make_manifest, manifest_path, write_manifest
from sadvae.engine.probe import current_device, normalize_compute_capability
from sadvae.engine.trt_common import (
    CALIBRATORS,
    LIBRARIES,
    dtype_name,
    load_library,
    parser_errors,
    read_cache_sidecar,
    replay_calibrator,
    trt_logger,
)
from sadvae.errors import ConfigError, EngineError, MissingDependencyError
from sadvae.fileio import atomic_write, output_problem
from sadvae.onnx_metadata import onnx_model_problem, read_onnx_metadata

__all__ = [
    "PRECISIONS",
    "LIBRARIES",
    "BuildReport",
    "load_library",  # re-exported: its home is sadvae.engine.trt_common
    "normalize_batch_sizes",
    "check_build_request",
    "check_onnx_file",
    "resolve_library",
    "build_engine",
]

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class BuildReport:
    """What :func:`build_engine` wrote.

    Attributes:
        plan: the ``.plan`` file.
        manifest_path: its ``.json`` manifest.
        manifest: the manifest's content.
        seconds: wall time of parse + build.
        plan_bytes: size of the plan.
    """

    plan: Path
    manifest_path: Path
    manifest: dict
    seconds: float
    plan_bytes: int

    @property
    def precision(self) -> str:
        return self.manifest["precision"]

    @property
    def library(self) -> str:
        return f"{self.manifest['library']['name']} {self.manifest['library']['version']}"


@dataclass(frozen=True)
class _Api:
    """The version-dependent choices for one imported library (see the module docstring)."""

    name: str
    version: str
    rtx: bool
    network_flags: int
    precisions: tuple[str, ...]
    timing_cache: bool


def _api(trt: Any, name: str) -> _Api:
    version = str(trt.__version__)
    rtx = name == "tensorrt_rtx"
    flags = 0
    if not rtx and int(version.split(".")[0]) < 10:
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    has_flag = {p: hasattr(trt.BuilderFlag, p.upper()) for p in ("fp16", "int8")}
    precisions = ("fp32",) + tuple(p for p in ("fp16", "int8") if has_flag[p] and not rtx)
    return _Api(name, version, rtx, flags, precisions, timing_cache=not rtx)


def _set_workspace(config: Any, trt: Any, nbytes: int) -> None:
    if hasattr(config, "set_memory_pool_limit"):
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, nbytes)
    else:  # TensorRT < 8.4
        config.max_workspace_size = nbytes


def normalize_batch_sizes(batch_sizes: tuple[int, ...] | list[int]) -> tuple[int, int, int]:
    """(b,) -> (b, b, b), a fixed batch; (min, opt, max) as is, checked 1 <= min <= opt <= max.

    Two values are refused: whether ``1 8`` means MIN OPT or MIN MAX is a guess (it used to become
    ``1 8 8`` without a word), so the message shows the three values to write.
    """
    sizes = tuple(int(b) for b in batch_sizes)
    if len(sizes) == 1:
        sizes = sizes * 3
    if len(sizes) != 3:
        lo, hi = (min(sizes), max(sizes)) if sizes else (1, 16)  # "--batch 4 1": batches 1 to 4, not "4 1 1"
        raise ConfigError(
            f"--batch takes one value (a fixed batch) or three (MIN OPT MAX), got {len(sizes)}: {list(batch_sizes)}; "
            f"write all three, e.g. --batch {lo} {hi} {hi} for batches {lo} to {hi} tuned for {hi}"
        )
    if not 1 <= sizes[0] <= sizes[1] <= sizes[2]:
        raise ConfigError(f"batch sizes must be MIN OPT MAX with 1 <= MIN <= OPT <= MAX, got {list(batch_sizes)}")
    return sizes  # type: ignore[return-value]


def build_engine(
    onnx_path: str | Path,
    out_dir: str | Path = "engines",
    *,
    precision: str = "fp16",
    batch_sizes: tuple[int, ...] = (1, 4, 16),
    workspace_mb: int = 1024,
    timing_cache: str | Path | None = None,
    calibrator: Any = None,
    calibration_cache: str | Path | None = None,
    library: str = "auto",
    compute_capability: str | None = None,
    name: str | None = None,
    calibration_algorithm: str | None = None,
) -> BuildReport:
    """Build ``<out_dir>/<name>.<precision>.plan`` and its manifest ``<name>.<precision>.json``.

    Args:
        onnx_path: a ``sadvae export`` ONNX file (input [N, 3, T, 25, M] with a dynamic batch axis).
        out_dir: where to write the plan and the manifest (both atomically); a folder, made if missing.
        precision: "fp32", "fp16" or "int8" (TensorRT-RTX: fp32 only, see the module docstring).
        batch_sizes: (min, opt, max) of the optimisation profile over the batch axis.
        workspace_mb: builder workspace limit in MiB.
        timing_cache: a TensorRT timing cache file, read if present and written after the plan.
        calibrator: an ``IInt8Calibrator`` (e.g. ``sadvae.engine.calibrator.make_calibrator``); int8 only.
        calibration_cache: int8 without a calibrator: replay this cache (its sidecar must name the model, the
            algorithm and this TensorRT version); with one: the cache it reads and writes (recorded in the manifest).
        library: "tensorrt", "tensorrt_rtx" or "auto".
        compute_capability: TensorRT-RTX ahead-of-time target ("SM80", "8.9"); None: portable (RTX) or
            this GPU (TensorRT).
        name: plan name; default the ONNX file's stem.
        calibration_algorithm: int8 replaying a cache: "entropy" or "minmax", which the cache must have been
            made with (None: the cache's own; a ``calibrator`` brings its own algorithm).

    Returns:
        a :class:`BuildReport`.

    Raises:
        ConfigError: a bad value, or a precision, target or option this library does not support.
        EngineError: the ONNX file is missing or not an ONNX model, the parser rejects it (the message lists
            the parser's errors) or the build fails.
        MissingDependencyError: the library is not installed (for "auto" building fp16/int8 without TensorRT:
            the message says so, even when TensorRT-RTX is installed).

    Everything that needs no library (:func:`check_build_request`: the flags, the ONNX file, the output paths,
    int8's calibration) is checked before one is imported, and the library's own refusals
    (:func:`resolve_library`) come before the ONNX is parsed.
    """
    onnx_path = Path(onnx_path)
    out_dir = Path(out_dir)
    sizes = check_build_request(
        onnx_path,
        precision,
        batch_sizes,
        workspace_mb,
        library,
        compute_capability,
        out_dir=out_dir,
        name=name,
        timing_cache=timing_cache,
        calibration_cache=calibration_cache,
        calibrated=calibrator is not None,
        calibration_algorithm=calibration_algorithm,
    )
    trt, lib, target = resolve_library(library, precision, compute_capability)
    api = _api(trt, lib)
    if precision == "int8" and calibrator is None:
        calibrator = replay_calibrator(trt, Path(calibration_cache), _model_id(onnx_path), calibration_algorithm)
    device = None if api.rtx else _this_gpu()

    start = time.perf_counter()
    logger = trt_logger(trt)
    builder = trt.Builder(logger)
    network, parser = _parse_onnx(trt, api, builder, logger, onnx_path)  # the parser holds the weights: keep it
    inp, dims = _window_input(network, onnx_path, sizes)
    shapes = {k: [b, *dims[1:]] for k, b in zip(("min", "opt", "max"), sizes, strict=True)}
    config = builder.create_builder_config()
    _set_workspace(config, trt, workspace_mb << 20)
    profile = builder.create_optimization_profile()
    profile.set_shape(inp.name, shapes["min"], shapes["opt"], shapes["max"])
    config.add_optimization_profile(profile)
    _set_precision(trt, builder, config, precision, calibrator, inp.name, dims)
    if api.rtx and compute_capability is not None:
        config.num_compute_capabilities = 1
        config.set_compute_capability(getattr(trt.ComputeCapability, target), 0)
    cache_file = _load_timing_cache(config, api, timing_cache)
    plan = _serialize(builder, network, config, logger, api, onnx_path, precision)
    del parser
    seconds = time.perf_counter() - start

    plan_path = _plan_path(out_dir, name, onnx_path, precision)
    build = {
        "seconds": round(seconds, 3),
        "batch_sizes": list(sizes),
        "timing_cache": cache_file and str(cache_file),
        "calibration": _calibration_facts(calibrator, calibration_cache) if precision == "int8" else None,
    }
    manifest = make_manifest(
        plan,
        plan_path,
        onnx_path,
        library={"name": lib, "version": api.version},
        device=_device_facts(device, target),
        precision=precision,
        io=_io_facts(network, inp, shapes),
        workspace_mb=workspace_mb,
        build=build,
    )
    try:  # the plan first: the timing cache only speeds up the next build
        atomic_write(plan_path, plan)
        mpath = write_manifest(plan_path, manifest)
    except OSError as e:
        raise EngineError(
            f"{plan_path}: cannot write the plan or its manifest ({e.strerror or e}); pass --out-dir a folder "
            "that can be written"
        ) from None
    if cache_file is not None:
        try:
            atomic_write(cache_file, bytes(memoryview(config.get_timing_cache().serialize())))
        except OSError as e:
            log.warning("could not write the timing cache %s (%s); the plan is written", cache_file, e.strerror or e)
    log.info(
        "built %s (%s %s, %s, %.1f MB) in %.1f s", plan_path, lib, api.version, precision, len(plan) / 1e6, seconds
    )
    return BuildReport(plan_path, mpath, manifest, seconds, len(plan))


def check_build_request(
    onnx_path: str | Path,
    precision: str = "fp16",
    batch_sizes: tuple[int, ...] | list[int] = (1, 4, 16),
    workspace_mb: int = 1024,
    library: str = "auto",
    compute_capability: str | None = None,
    *,
    out_dir: str | Path | None = None,
    name: str | None = None,
    timing_cache: str | Path | None = None,
    calibration_cache: str | Path | None = None,
    calibrated: bool = False,
    calibration_algorithm: str | None = None,
) -> tuple[int, int, int]:
    """Check what needs no TensorRT library (before any is imported); returns the (min, opt, max) batch sizes.

    In order: the precision and library names, the batch sizes, the workspace, the ONNX file (a file,
    and an ONNX model: a protobuf with a graph), the spelling of the compute capability target, int8's
    calibration (``calibrated``: a calibrator with windows is given; else ``calibration_cache`` must be a
    cache whose sidecar names this model, see :func:`sadvae.engine.trt_common.read_cache_sidecar`) and the
    paths written (``out_dir`` a folder, the plan and manifest in it, ``timing_cache``, and ``calibration_cache``
    when it is calibrated afresh), so that a bad one fails before the build, not after it. A None path is not
    checked.

    Raises:
        ConfigError: a bad value; the message names it and the fix.
        EngineError: the ONNX file is missing, a folder or not an ONNX model.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}; valid: {list(PRECISIONS)}")
    if library not in ("auto", *LIBRARIES):
        raise ConfigError(f"unknown TensorRT library {library!r}; valid: {['auto', *LIBRARIES]}")
    if calibration_algorithm is not None and calibration_algorithm not in CALIBRATORS:
        raise ConfigError(f"unknown calibration algorithm {calibration_algorithm!r}; valid: {sorted(CALIBRATORS)}")
    sizes = normalize_batch_sizes(batch_sizes)
    if workspace_mb < 1:
        raise ConfigError(f"workspace must be >= 1 MiB, got {workspace_mb}")
    calibrate = precision == "int8" and library != "tensorrt_rtx"  # RTX: resolve_library refuses int8 itself
    if calibrate and not calibrated and calibration_cache is None:
        raise ConfigError(
            "int8 needs calibration: give --calibration-data WINDOWS.npz (see calibration/README.md) "
            "or an existing --calibration-cache"
        )
    onnx_path = Path(onnx_path)
    check_onnx_file(onnx_path)
    if compute_capability is not None:
        try:
            normalize_compute_capability(compute_capability)
        except EngineError:
            raise ConfigError(
                f"--target {compute_capability!r} is not a compute capability; write it as SM86 or 8.6"
            ) from None
        if library == "tensorrt":
            raise ConfigError(
                "a compute capability target needs --library tensorrt_rtx; TensorRT builds for the GPU it runs on "
                "(drop --target, or build ahead of time with --library tensorrt_rtx)"
            )
    if calibrate and not calibrated:  # replay: the cache and its sidecar are read before any library
        read_cache_sidecar(Path(calibration_cache), _model_id(onnx_path), calibration_algorithm)
    _check_outputs(onnx_path, precision, out_dir, name, timing_cache, calibration_cache if calibrated else None)
    return sizes


def _check_outputs(
    onnx_path: Path,
    precision: str,
    out_dir: str | Path | None,
    name: str | None,
    timing_cache: str | Path | None,
    calibration_cache: str | Path | None,
) -> None:
    """Refuse an output path that cannot be written (see :func:`sadvae.fileio.output_problem`), naming the flag."""
    file_fix = "pass a file path that can be written"
    checks: list[tuple[str, Path, bool, str]] = []
    if out_dir is not None:
        plan = _plan_path(Path(out_dir), name, onnx_path, precision)
        other = "pass another --out-dir or --name"
        checks += [
            ("--out-dir", Path(out_dir), True, "pass a folder that can be written"),
            ("the plan", plan, False, other),
            ("the manifest", manifest_path(plan), False, other),
        ]
    if timing_cache is not None:
        checks.append(("--timing-cache", Path(timing_cache), False, file_fix))
    if calibration_cache is not None:  # written after calibrating, with its sidecar
        cache = Path(calibration_cache)
        checks += [
            ("--calibration-cache", cache, False, file_fix),
            ("its sidecar", cache.with_name(cache.name + ".json"), False, "pass another --calibration-cache"),
        ]
    for what, path, folder, fix in checks:
        problem = output_problem(path, folder=folder)
        if problem is not None:
            raise ConfigError(f"{what} {path}: {problem}; {fix}")


def _plan_path(out_dir: Path, name: str | None, onnx_path: Path, precision: str) -> Path:
    return out_dir / f"{name or onnx_path.stem}.{precision}.plan"


def _model_id(onnx_path: Path) -> str | None:
    """The ONNX's ``sadvae.model_id``, or None when it records none."""
    model_id = read_onnx_metadata(onnx_path).get("model_id")
    return model_id if isinstance(model_id, str) else None


def _calibration_facts(calibrator: Any, calibration_cache: str | Path | None) -> dict:
    """The manifest's ``build.calibration`` of an int8 build: what calibrated it, and how."""
    windows = getattr(calibrator, "windows_npz", None)
    cache = getattr(calibrator, "cache_path", None) or calibration_cache
    batch = getattr(calibrator, "batch_size", None)
    if batch is None and windows is not None:
        batch = int(calibrator.get_batch_size())
    return {
        "windows": str(windows) if windows is not None else None,
        "windows_sha256": getattr(calibrator, "windows_sha256", None),
        "cache": str(cache) if cache is not None else None,
        "algorithm": getattr(calibrator, "algorithm", None),
        "batch_size": batch,
    }


def check_onnx_file(path: Path) -> None:
    """Refuse a missing file, a folder or a file that is not an ONNX model (read, not parsed by TensorRT).

    Raises:
        EngineError: the message names the file and the fix.
    """
    fix = f"export it with `sadvae export BUNDLE.pt --out {path.with_suffix('.onnx')}`"
    if path.is_dir():
        found = sorted(p.name for p in path.glob("*.onnx"))[:5]
        inside = f" (it holds {', '.join(found)})" if found else ""
        raise EngineError(f"{path}: is a folder{inside}; pass --onnx the .onnx file `sadvae export` wrote")
    if not path.is_file():
        raise EngineError(f"{path}: ONNX model not found; {fix}")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise EngineError(f"{path}: cannot read the ONNX model ({e.strerror or e}); {fix}") from None
    if data.startswith(b"PK\x03\x04"):  # a zip, as torch.save writes
        raise EngineError(
            f"{path}: is a zip archive (a model bundle .pt?), not an ONNX model; export the bundle with "
            "`sadvae export BUNDLE.pt --out MODEL.onnx` and pass --onnx MODEL.onnx"
        )
    problem = onnx_model_problem(data)
    if problem is not None:
        raise EngineError(f"{path}: not an ONNX model ({problem}); {fix}")


def resolve_library(library: str, precision: str, compute_capability: str | None = None) -> tuple[Any, str, str | None]:
    """Import the library ``library`` names and check that it can build ``precision`` for the target.

    Returns:
        ``(module, name, target)``: target is TensorRT-RTX's ahead-of-time target ("portable", "SM86"),
        None for TensorRT (it builds for the GPU it runs on).

    Raises:
        MissingDependencyError: the library is not installed, or "auto" fell back to TensorRT-RTX for a
            precision only TensorRT builds (the message says TensorRT is missing and how to install it).
        ConfigError: a target or precision this library cannot build (the target is checked first).
    """
    trt, lib = load_library(library)
    api = _api(trt, lib)
    target = _rtx_target(trt, api, compute_capability)  # before the precision: a bad target is named as such
    _check_library_can(api, precision, compute_capability, fell_back=library == "auto" and api.rtx)
    if library == "auto" and api.rtx:
        log.info("TensorRT is not installed; building with %s %s (ahead of time, fp32)", lib, api.version)
    return trt, lib, target


def _check_library_can(api: _Api, precision: str, compute_capability: str | None, fell_back: bool = False) -> None:
    """Refuse a precision or a compute capability target the imported library cannot build."""
    if precision not in api.precisions:
        rtx_why = (
            "TensorRT-RTX builds strongly typed networks (the precision is the ONNX graph's) and has no FP16/INT8 "
            "builder flags or INT8 calibration"
        )
        if fell_back:  # --library auto: TensorRT is missing, which is the real problem
            raise MissingDependencyError(
                "tensorrt",
                "trt",
                f"TensorRT is not installed, so --library auto fell back to TensorRT-RTX ({api.name} {api.version}), "
                "which builds fp32 only: its networks are strongly typed (the precision is the ONNX graph's), with "
                f"no FP16/INT8 builder flags or INT8 calibration; to build {precision}, install TensorRT where the "
                "plan will run "
                "(JetPack ships it; on a desktop `pip install tensorrt`, plus the trt extra "
                "`pip install 'sadvae-live[trt]'` for pycuda) and build there, or build a portable fp32 plan here "
                "with --precision fp32",
            )
        why = rtx_why if api.rtx else f"TensorRT {api.version} has no {precision} flag"
        raise ConfigError(
            f"{api.name} cannot build {precision}: {why}; build {' or '.join(api.precisions)}"
            + (", or use --library tensorrt on the target device" if api.rtx else "")
        )
    if compute_capability is not None and not api.rtx:
        raise ConfigError(
            "a compute capability target needs --library tensorrt_rtx; TensorRT builds for the GPU it runs on"
        )


def _rtx_target(trt: Any, api: _Api, compute_capability: str | None) -> str | None:
    """TensorRT-RTX's ahead-of-time target ("portable" or "SM86", checked against the library's list); None for
    TensorRT."""
    if not api.rtx:
        return None
    if compute_capability is None:
        return "portable"
    target = "SM" + normalize_compute_capability(compute_capability).replace(".", "")
    if getattr(trt.ComputeCapability, target, None) is None:
        valid = [k for k in trt.ComputeCapability.__members__ if k.startswith("SM")]
        raise ConfigError(f"{api.name} {api.version} cannot target {compute_capability}; valid targets: {valid}")
    return target


def _this_gpu() -> dict:
    """TensorRT builds for the GPU it runs on: that GPU's facts, or a clear error without one."""
    device = current_device(0)
    if device is None:
        raise EngineError(
            "TensorRT builds for the GPU it runs on and no CUDA GPU was found (asked pycuda, cuda-python "
            "and nvidia-smi; install pycuda with `pip install 'sadvae-live[trt]'`); build on the device, or "
            "ahead of time with --library tensorrt_rtx --target SM86"
        )
    return device


def _parse_onnx(trt: Any, api: _Api, builder: Any, logger: Any, onnx_path: Path) -> tuple[Any, Any]:
    """(network, parser) from ``onnx_path``; a parse failure lists the parser's errors.

    The parser owns the weights the network points to: keep it alive until the plan is built.
    """
    network = builder.create_network(api.network_flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = parser_errors(parser) or logger.errors or ["(the parser gave no message)"]
        raise EngineError(
            f"{onnx_path}: {api.name} {api.version} cannot parse the ONNX model:\n  - "
            + "\n  - ".join(errors)
            + "\nExport it again with `sadvae export` (its TensorRT operator check names the node)"
        )
    return network, parser


def _window_input(network: Any, onnx_path: Path, sizes: tuple[int, int, int]) -> tuple[Any, list[int]]:
    """The network's one input [N, 3, T, 25, M] and its dims; refuses a fixed batch the sizes do not fit."""
    if network.num_inputs != 1:
        raise EngineError(f"{onnx_path}: expected one input (window [N, 3, T, 25, M]), found {network.num_inputs}")
    inp = network.get_input(0)
    dims = [int(d) for d in inp.shape]
    if len(dims) != 5 or any(d < 1 for d in dims[1:]):
        raise EngineError(
            f"{onnx_path}: input {inp.name!r} has shape {dims}; expected [N, 3, T, 25, M] with only the batch dynamic"
        )
    if dims[0] >= 1 and sizes != (dims[0],) * 3:
        raise ConfigError(
            f"{onnx_path}: the batch axis is fixed at {dims[0]}; export with a dynamic batch "
            f"(`sadvae export`) or build with --batch {dims[0]}"
        )
    return inp, dims


def _set_precision(
    trt: Any, builder: Any, config: Any, precision: str, calibrator: Any, input_name: str, dims: list[int]
) -> None:
    """Builder flags of ``precision``; for int8 also the calibrator and its calibration profile."""
    if precision == "fp32" and hasattr(trt.BuilderFlag, "TF32"):
        config.clear_flag(trt.BuilderFlag.TF32)
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
    if precision != "int8":
        return
    config.set_flag(trt.BuilderFlag.INT8)
    fed = getattr(getattr(calibrator, "feeder", None), "batches", None)  # make_calibrator's window batches
    if fed is not None and tuple(fed.batch_shape[1:]) != tuple(int(d) for d in dims[1:]):
        raise ConfigError(  # TensorRT would read the calibration buffer with the network's shape
            f"calibration windows {list(fed.batch_shape[1:])} do not fit the network's input {list(dims[1:])}; "
            f"draw them for this export with `python calibration/sample.py --bundle BUNDLE.pt --persons {dims[4]}`"
        )
    config.int8_calibrator = calibrator
    if hasattr(config, "set_calibration_profile"):
        cal_shape = [int(calibrator.get_batch_size()), *dims[1:]]
        cal = builder.create_optimization_profile()
        cal.set_shape(input_name, cal_shape, cal_shape, cal_shape)
        config.set_calibration_profile(cal)


def _serialize(
    builder: Any, network: Any, config: Any, logger: Any, api: _Api, onnx_path: Path, precision: str
) -> bytes:
    """Build the plan; a failed build names the library's last errors."""
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        detail = "; ".join(logger.errors[-5:]) or "no message"
        raise EngineError(
            f"{onnx_path}: {api.name} {api.version} could not build a {precision} plan ({detail}); try a "
            "larger --workspace-mb or another precision"
        )
    return bytes(memoryview(serialized))


def _device_facts(device: dict | None, target: str | None) -> dict:
    """The manifest's ``device``: the GPU built on (TensorRT), or the RTX ahead-of-time target."""
    if device is not None:
        cc = device["compute_capability"]
    else:  # RTX: the AOT target's compute capability; none for a portable plan
        cc = None if target == "portable" else normalize_compute_capability(target)
    return {"gpu": device and device["gpu"], "compute_capability": cc, "target": target}


def _io_facts(network: Any, inp: Any, shapes: dict[str, list[int]]) -> dict:
    """The manifest's ``io``: the input with its profile shapes, and every output."""
    outputs = [network.get_output(i) for i in range(network.num_outputs)]
    return {
        "input": {"name": inp.name, "dtype": dtype_name(inp.dtype), **shapes},
        "outputs": [
            {"name": o.name, "shape": [int(d) for d in o.shape], "dtype": dtype_name(o.dtype)} for o in outputs
        ],
    }


def _load_timing_cache(config: Any, api: _Api, timing_cache: str | Path | None) -> Path | None:
    """Give ``config`` the timing cache at ``timing_cache`` (fresh if absent or unfit); None: no cache used."""
    if timing_cache is None:
        return None
    cache_file = Path(timing_cache)
    if not api.timing_cache:
        log.info("%s has no timing cache (its calls are no-ops); ignoring %s", api.name, cache_file)
        return None
    cache = config.create_timing_cache(cache_file.read_bytes() if cache_file.is_file() else b"")
    if not config.set_timing_cache(cache, False):
        log.warning("timing cache %s does not fit this GPU / TensorRT; starting a fresh one", cache_file)
        config.set_timing_cache(config.create_timing_cache(b""), False)
    return cache_file
