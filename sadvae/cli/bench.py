"""``sadvae bench``: recognizer and live-pipeline latency as tables, JSON and a PNG; ``sadvae bench compare``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="latency of the recognizer backends and the live pipeline (tables, JSON, PNG); `bench compare`",
        description="Time the recognizer under each backend (onnxruntime, torch, tensorrt with --engine) for every "
        "batch size and person count, and with --video/--replay the whole live pipeline stage by stage. "
        "Unavailable backends are reported as skipped. `sadvae bench compare A.json B.json` puts results from "
        "different machines side by side.",
    )
    p.add_argument("--model", type=Path, help="model bundle .pt (default: the packaged default model)")
    p.add_argument("--backend", nargs="+", default=["onnxruntime", "torch", "tensorrt"],
                   help="backends to time (default: onnxruntime torch tensorrt; missing ones are skipped)")  # fmt: skip
    p.add_argument("--engine", type=Path, help="TensorRT plan built from the model's export (for --backend tensorrt)")
    p.add_argument("--batch", nargs="+", type=int, default=[1, 4, 8], help="batch sizes (default 1 4 8)")
    p.add_argument("--persons", nargs="+", type=int, default=[1, 2],
                   help="persons present per window, up to the model's M (default 1 2)")  # fmt: skip
    p.add_argument("--iters", type=int, default=100, help="timed calls per case (default 100)")
    p.add_argument("--warmup", type=int, default=10, help="untimed calls first (default 10)")
    p.add_argument("--threads", type=int, default=0, help="intra-op CPU threads (default 0: library default)")
    p.add_argument("--ort-opt", choices=("disable", "basic", "extended", "all"), default="all",
                   help="ONNX Runtime graph optimisation level (default all)")  # fmt: skip
    p.add_argument("--spin", action="store_true", help="let ONNX Runtime threads busy-wait between runs")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--video", type=Path, help="also run the live pipeline on this video (MediaPipe pose)")
    src.add_argument("--replay", type=Path, help="also run the live pipeline on this skeleton file (no pose)")
    p.add_argument("--frames", type=int, default=300, help="pipeline frames per backend (default 300; loops)")
    p.add_argument("--stride", type=int, default=8, help="pipeline frames between inference batches (default 8)")
    p.add_argument("--num-poses", type=int, default=2, help="most persons MediaPipe detects per frame (default 2)")
    p.add_argument("--pose-variant", choices=("lite", "full", "heavy"), default="full", help="MediaPipe model")
    p.add_argument("--labels", type=Path, help="labels file for the pipeline's head (default: a built-in mix)")
    p.add_argument("--no-recognizer", action="store_true", help="skip the recognizer micro-benchmark")
    p.add_argument("--out", type=Path, help="write the result as JSON here")
    p.add_argument("--plot", type=Path, help="write a PNG latency plot here (needs matplotlib)")
    p.set_defaults(func=_bench)
    inner = p.add_subparsers(dest="bench_command", metavar="compare")
    c = inner.add_parser("compare", help="put several `sadvae bench --out` files side by side",
                         description="Print results from several machines or settings side by side.")  # fmt: skip
    c.add_argument("files", nargs="+", type=Path, help="JSON files written by `sadvae bench --out`")
    c.add_argument("--names", nargs="+", help="a column title per file (default A, B, ...)")
    c.add_argument("--plot", dest="compare_plot", type=Path, help="write a PNG of all of them here")
    c.set_defaults(func=_compare)


def _plot(docs: list, path: Path, names: list[str] | None = None) -> None:
    from realtime.bench_report import PLOT_INSTALL_HINT, plot

    if plot(docs, path, names) is None:
        print(f"plot not written: {PLOT_INSTALL_HINT}", file=sys.stderr)
    else:
        print(f"wrote {path}")


def _bench(args: argparse.Namespace) -> int:
    from realtime.bench import BenchOptions, run_bench, write_json
    from realtime.bench_report import format_result

    source = args.video or args.replay
    opts = BenchOptions(
        backends=tuple(args.backend), batches=tuple(args.batch), persons=tuple(args.persons), iters=args.iters,
        warmup=args.warmup, threads=args.threads, optimization=args.ort_opt, spin=args.spin,
        engine=str(args.engine) if args.engine else None, recognizer=not args.no_recognizer,
        source=str(source) if source else None, frames=args.frames, stride=args.stride,
        pose_variant=args.pose_variant, num_poses=args.num_poses, labels=str(args.labels) if args.labels else None,
    )  # fmt: skip
    if opts.source and os.name == "posix" and not args.verbose:  # MediaPipe's native console chatter
        from realtime.cli import NativeLogFilter

        with NativeLogFilter():
            doc = run_bench(args.model, opts, command=" ".join(["sadvae", *sys.argv[1:]]))
    else:
        doc = run_bench(args.model, opts, command=" ".join(["sadvae", *sys.argv[1:]]))
    print(format_result(doc))
    if args.out:
        print(f"wrote {write_json(doc, args.out)}")
    if args.plot:
        _plot([doc], args.plot)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from realtime.bench import load_result
    from realtime.bench_report import compare

    docs = [load_result(f) for f in args.files]
    if args.names and len(args.names) != len(docs):
        from sadvae.errors import ConfigError

        raise ConfigError(f"--names needs one name per file: {len(docs)} files, {len(args.names)} names")
    print(compare(docs, args.names))
    if args.compare_plot:
        _plot(docs, args.compare_plot, args.names)
    return 0
