"""``sadvae engine build``: a TensorRT plan from the ONNX export; ``sadvae engine info PLAN``: its manifest.

``sadvae engine build --onnx engines/model.onnx --precision fp16`` writes
``engines/model.fp16.plan`` and ``engines/model.fp16.json`` (the manifest: library version, GPU,
model, shapes). ``--precision int8`` needs ``--calibration-data windows.npz`` (see
calibration/README.md; ``--calibration-algorithm minmax`` for TensorRT's min-max calibrator) or an
existing ``--calibration-cache``. ``--library tensorrt_rtx --target SM80`` builds ahead of time
without a GPU (fp32 only). ``sadvae engine info PLAN`` prints the manifest and says whether the plan
fits this machine (exit status 1 when it does not).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["register", "format_manifest"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("engine", help="build TensorRT plans from the ONNX export; show and check a plan's manifest")
    esub = p.add_subparsers(dest="engine_command", required=True, metavar="{build,info}")
    b = esub.add_parser(
        "build",
        help="build <out-dir>/<name>.<precision>.plan and its manifest from an ONNX export",
        description="Parse the ONNX export with TensorRT (or TensorRT-RTX), build a plan for one optimisation "
        "profile over the batch axis and write it with a JSON manifest naming the library version, GPU, model "
        "and shapes. A plan runs only where its manifest matches; rebuild it on each device.",
    )
    b.add_argument("--onnx", type=Path, required=True, help="ONNX file from `sadvae export`")
    b.add_argument("--precision", choices=("fp32", "fp16", "int8"), default="fp16", help="default fp16")
    b.add_argument(
        "--batch",
        type=int,
        nargs="+",
        default=[1, 4, 16],
        metavar="N",
        help="MIN OPT MAX batch of the optimisation profile (default 1 4 16), or one value N: a fixed batch "
        "(N N N); two values are refused",
    )
    b.add_argument("--workspace-mb", type=int, default=1024, help="builder workspace limit in MiB (default 1024)")
    b.add_argument("--timing-cache", type=Path, help="TensorRT timing cache: read if present, written after the build")
    b.add_argument(
        "--calibration-data", type=Path, metavar="WINDOWS.npz", help="int8: calibration windows (calibration/README.md)"
    )
    b.add_argument(
        "--calibration-cache",
        type=Path,
        help="int8: calibration cache to read and write (alone: replay it without windows; its sidecar must name "
        "this model and this TensorRT version)",
    )
    b.add_argument(
        "--calibration-algorithm",
        choices=("entropy", "minmax"),
        help="int8: TensorRT's calibrator, entropy (IInt8EntropyCalibrator2, the default when calibrating) or "
        "minmax (IInt8MinMaxCalibrator; calibration/README.md says when); replaying a cache: its own",
    )
    b.add_argument(
        "--library",
        choices=("auto", "tensorrt", "tensorrt_rtx"),
        default="auto",
        help="auto: tensorrt, else tensorrt_rtx (default auto; --target implies tensorrt_rtx)",
    )
    b.add_argument(
        "--target",
        metavar="SM80",
        help="TensorRT-RTX ahead-of-time compute capability (SM80, SM86, SM89, ...); no GPU needed",
    )
    b.add_argument("--out-dir", type=Path, default=Path("engines"), help="where to write (default engines/)")
    b.add_argument("--name", help="plan name (default: the ONNX file's stem)")
    b.set_defaults(func=_build)
    i = esub.add_parser("info", help="print a plan's manifest and check it against this machine")
    i.add_argument("plan", type=Path, help="a .plan file (its manifest is the .json beside it)")
    i.add_argument("--json", action="store_true", help="print the whole manifest as JSON")
    i.add_argument(
        "--check",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="check library, GPU and plan hash against this machine (default: on)",
    )
    i.add_argument("--model", help="also check the model: the ONNX export, the bundle or a model id")
    i.set_defaults(func=_info)


def format_manifest(manifest: dict) -> str:
    """A few lines summarising a plan manifest."""
    dev, inp, build = manifest["device"], manifest["input"], manifest.get("build", {})
    target = dev.get("target")
    device = (
        f"{dev.get('gpu')} (compute capability {dev.get('compute_capability')})"
        if not target
        else f"ahead of time for {target}"
    )
    outs = ", ".join(f"{o['name']} {o['shape']}" for o in manifest.get("outputs", []))
    model = manifest["model"]
    return "\n".join(
        [
            f"plan        {manifest['plan'].get('file')} ({manifest['plan'].get('bytes', 0) / 1e6:.1f} MB)",
            f"precision   {manifest['precision']}",
            f"library     {manifest['library']['name']} {manifest['library']['version']}",
            f"device      {device}",
            f"model       {model.get('model_id')}",
            f"onnx        {model.get('onnx')} (sha256 {model['onnx_sha256'][:16]}...)",
            f"input       {inp['name']} min {inp['min']} opt {inp['opt']} max {inp['max']}",
            f"outputs     {outs}",
            f"workspace   {manifest.get('workspace_mb')} MiB",
            f"built       {build.get('timestamp')} on {build.get('host')} in {build.get('seconds')} s",
        ]
    )


def _build(args: argparse.Namespace) -> int:
    from sadvae.engine.builder import build_engine, check_build_request, resolve_library
    from sadvae.errors import ConfigError
    from sadvae.onnx_metadata import read_onnx_metadata

    library = "tensorrt_rtx" if args.target and args.library == "auto" else args.library
    # the flags' own errors first (no library imported yet), so a missing library does not hide them
    if args.target is not None and args.library == "tensorrt":
        raise ConfigError(
            "--target builds ahead of time with TensorRT-RTX, and --library tensorrt builds for the GPU it runs on; "
            "drop --target, or use --library tensorrt_rtx (the default with --target)"
        )
    calibration_flags = (
        ("--calibration-data", args.calibration_data),
        ("--calibration-cache", args.calibration_cache),
        ("--calibration-algorithm", args.calibration_algorithm),
    )
    for flag, value in calibration_flags:
        if value is not None and args.precision != "int8":
            raise ConfigError(
                f"{flag} is for --precision int8 (this build is {args.precision}); drop it or add --precision int8"
            )
    if args.calibration_data is not None and not args.calibration_data.is_file():
        what = "is a folder" if args.calibration_data.is_dir() else "calibration windows not found"
        raise ConfigError(
            f"--calibration-data {args.calibration_data}: {what}; pass the windows .npz that calibration/sample.py "
            "draws (calibration/README.md)"
        )
    sizes = check_build_request(
        args.onnx,
        args.precision,
        args.batch,
        args.workspace_mb,
        library,
        args.target,
        out_dir=args.out_dir,
        name=args.name,
        timing_cache=args.timing_cache,
        calibration_cache=args.calibration_cache,
        calibrated=args.calibration_data is not None,
        calibration_algorithm=args.calibration_algorithm,
    )
    calibrator = None
    if args.calibration_data is not None:
        trt, library, _ = resolve_library(library, args.precision, args.target)  # refuses int8 on TensorRT-RTX
        from sadvae.engine.calibrator import make_calibrator

        model_id = read_onnx_metadata(args.onnx).get("model_id")
        calibrator = make_calibrator(
            trt,
            args.calibration_data,
            args.calibration_cache,
            sizes[2],
            expected_model_id=model_id if isinstance(model_id, str) else None,
            algorithm=args.calibration_algorithm or "entropy",
        )
    try:
        report = build_engine(
            args.onnx,
            args.out_dir,
            precision=args.precision,
            batch_sizes=sizes,
            workspace_mb=args.workspace_mb,
            timing_cache=args.timing_cache,
            calibrator=calibrator,
            calibration_cache=args.calibration_cache,
            library=library,
            compute_capability=args.target,
            name=args.name,
            calibration_algorithm=args.calibration_algorithm,
        )
    finally:
        close = getattr(calibrator, "close", None)
        if close is not None:
            close()
    print(
        f"wrote {report.plan} ({report.plan_bytes / 1e6:.1f} MB, {report.library}, {report.precision}, "
        f"{report.seconds:.1f} s) and {report.manifest_path}"
    )
    return 0


def _info(args: argparse.Namespace) -> int:
    from sadvae.engine.manifest import check_manifest, read_manifest
    from sadvae.errors import EngineError, MissingDependencyError

    if args.model is not None:
        _check_model_arg(args.model)
    manifest = read_manifest(args.plan)
    print(json.dumps(manifest, indent=1, sort_keys=True) if args.json else format_manifest(manifest))
    if not args.check:
        return 0
    try:
        check_manifest(args.plan, onnx_or_model_id=args.model)
    except (EngineError, MissingDependencyError) as e:
        print(f"check       does not fit this machine: {e}")
        return 1
    print("check       fits this machine")
    return 0


def _check_model_arg(model: str) -> None:
    """``engine info --model``: a file (the export or the bundle) or a model id; a folder or a missing path is
    refused here instead of being compared as a model id."""
    from sadvae.errors import ConfigError

    path = Path(model)
    if path.is_dir():
        raise ConfigError(f"--model {model}: is a folder; pass the ONNX export or the bundle .pt file, or a model id")
    looks_like_a_path = "/" in model or "\\" in model or path.suffix.lower() in (".pt", ".onnx")
    if looks_like_a_path and not path.is_file():
        raise ConfigError(f"--model {model}: file not found; pass the ONNX export or the bundle .pt, or a model id")
