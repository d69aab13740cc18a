"""``sadvae export BUNDLE --out model.onnx``: the recognizer graph to ONNX, checked for TensorRT and parity."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register", "format_report"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a model bundle's recognizer to ONNX (TensorRT operator check + ONNX Runtime parity)",
        description="Write the live recognizer graph (window [N,3,T,25,M] -> latent, seen_logits) to ONNX with a "
        "dynamic batch axis and the bundle's facts in its metadata. With --check (default) the export fails "
        "when a node is not a TensorRT operator or ONNX Runtime differs from torch by more than --atol.",
    )
    p.add_argument("bundle", type=Path, help="model bundle (.pt) from `sadvae train zsl`")
    p.add_argument("--out", type=Path, required=True, help="ONNX file to write, e.g. engines/model.onnx (not a folder)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset, >= 17 (default 17: TensorRT 8.5/8.6)")
    p.add_argument(
        "--check",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="TensorRT operator check and ONNX Runtime parity at batch 1 and 4 (default: on)",
    )
    p.add_argument(
        "--atol",
        type=_positive_float,
        default=1e-4,
        help="parity tolerance, > 0 (default 1e-4): the largest accepted max |onnxruntime - torch| of an output "
        "within [-1, 1]; an output reaching larger magnitudes is held to ATOL times its largest magnitude (fp32 "
        "rounding grows with the values)",
    )
    p.add_argument(
        "--exporter",
        choices=("dynamo", "torchscript"),
        default="dynamo",
        help="torch exporter (default dynamo: a clean graph with a dynamic batch)",
    )
    p.add_argument(
        "--persons",
        type=_persons,
        default=None,
        help="person slots of the exported window (default: the bundle's live config, else the model's; "
        "1 on a two-slot Shift-GCN: its one-person graph, half the cost)",
    )
    p.set_defaults(func=_export)


def _positive_float(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(
            f"expected a number > 0 (the largest accepted |onnxruntime - torch|, e.g. 1e-4), got {text!r}; "
            "--no-check skips the parity check"
        )
    return value


def _persons(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a whole number >= 1 (person slots of the exported window), got {text!r}"
        )
    return value


def format_report(report) -> str:
    """Human-readable summary of a ``sadvae.export.ExportReport``: op histogram and parity."""
    lines = [
        f"wrote {report.path} (opset {report.opset}, {report.exporter} exporter, "
        f"{sum(report.op_histogram.values())} nodes, {report.seconds:.1f} s)",
        f"model id {report.model_id}",
        "operators:",
    ]
    width = max((len(op) for op in report.op_histogram), default=0)
    lines += [f"  {op:<{width}}  {count}" for op, count in report.op_histogram.items()]
    if report.parity:
        lines.append("parity, max |onnxruntime - torch| (fp32):")
        for batch, errs in report.parity.items():
            lines.append(f"  batch {batch}: " + ", ".join(f"{name} {err:.2e}" for name, err in errs.items()))
    else:
        lines.append("checks skipped (--no-check)")
    return "\n".join(lines)


def _export(args: argparse.Namespace) -> int:
    from sadvae.export import export_onnx

    report = export_onnx(
        args.bundle,
        args.out,
        opset=args.opset,
        check=args.check,
        exporter=args.exporter,
        atol=args.atol,
        persons=args.persons,
    )
    print(format_report(report))
    return 0
