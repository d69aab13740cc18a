"""``sadvae bench latency`` / ``accuracy`` / ``compare``: how fast and how right the live side is.

``sadvae bench latency`` times the recognizer under each backend and, with ``--video``/``--replay``, the
whole live pipeline stage by stage (:mod:`realtime.bench.latency`); ``sadvae bench accuracy`` scores the live
decisions on annotated videos and held-out replays (:mod:`realtime.bench.accuracy`); ``sadvae bench compare``
puts ``latency --out`` files side by side. ``sadvae bench [flags]`` without a subcommand is the old
spelling of ``sadvae bench latency [flags]`` (kept for one release, with a note on stderr).

A plug-in of the ``sadvae`` command (:mod:`realtime.commands`); the work is imported when a command runs.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from pathlib import Path
from typing import Any

from realtime.backends import BACKEND_NAMES
from sadvae.errors import ConfigError
from sadvae.head.handedness import HANDEDNESS
from sadvae.paths import PROJECT_ROOT, SHARED_DATA

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="live-side benchmarks: `bench latency`, `bench accuracy`, `bench compare`",
        description="Benchmarks of the live side: `latency` (recognizer backends and the live pipeline), "
        "`accuracy` (live decisions on annotated videos and held-out replays), `compare` (latency results "
        "side by side). `sadvae bench [flags]` without a subcommand still runs `latency` for one release.",
    )
    p.set_defaults(sadvae_default_subcommand="latency")  # the old spelling, read by sadvae.cli.main
    inner = p.add_subparsers(dest="bench_command", required=True, metavar="{latency,accuracy,compare}")
    _register_latency(inner)
    _register_accuracy(inner)
    c = inner.add_parser(
        "compare",
        help="put several `sadvae bench latency --out` files side by side",
        description="Print results from several machines or settings side by side.",
    )
    c.add_argument("files", nargs="+", type=Path, help="JSON files written by `sadvae bench latency --out`")
    c.add_argument("--names", nargs="+", help="a column title per file (default A, B, ...)")
    c.add_argument("--plot", dest="compare_plot", type=Path, help="write a PNG of all of them here")
    c.set_defaults(func=_compare)


def _register_latency(inner: argparse._SubParsersAction) -> None:
    p = inner.add_parser(
        "latency",
        help="latency of the recognizer backends and the live pipeline (tables, JSON, PNG)",
        description="Time the recognizer under each backend (onnxruntime, torch, tensorrt with --engine) for every "
        "batch size and person count, and with --video/--replay the whole live pipeline stage by stage. "
        "Unavailable backends are reported as skipped. `sadvae bench compare A.json B.json` puts results from "
        "different machines side by side.",
    )
    p.add_argument("--model", type=Path, help="model bundle .pt (default: the packaged default model)")
    p.add_argument(
        "--backend",
        nargs="+",
        default=list(BACKEND_NAMES),
        help="backends to time (default: onnxruntime torch tensorrt; missing ones are skipped)",
    )
    p.add_argument("--engine", type=Path, help="TensorRT plan built from the model's export (for --backend tensorrt)")
    p.add_argument(
        "--onnx",
        type=Path,
        help="an ONNX export of --model to time under onnxruntime, e.g. an INT8 one from calibration/ (default: the "
        "bundle's own export)",
    )
    p.add_argument("--batch", nargs="+", type=int, default=[1, 4, 8], help="batch sizes (default 1 4 8)")
    p.add_argument(
        "--persons",
        nargs="+",
        type=int,
        default=[1, 2],
        help="persons present per window, up to the model's M (default 1 2)",
    )
    p.add_argument("--iters", type=int, default=100, help="timed calls per case (default 100)")
    p.add_argument("--warmup", type=int, default=10, help="untimed calls first (default 10)")
    p.add_argument("--threads", type=int, default=0, help="intra-op CPU threads (default 0: library default)")
    p.add_argument(
        "--ort-opt",
        choices=("disable", "basic", "extended", "all"),
        default="all",
        help="ONNX Runtime graph optimisation level (default all)",
    )
    p.add_argument("--spin", action="store_true", help="let ONNX Runtime threads busy-wait between runs")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--video", type=Path, help="also run the live pipeline on this video (MediaPipe pose)")
    src.add_argument("--replay", type=Path, help="also run the live pipeline on this skeleton file (no pose)")
    p.add_argument("--frames", type=int, default=300, help="pipeline frames per backend (default 300; loops)")
    p.add_argument(
        "--stride",
        type=int,
        default=None,
        help="pipeline frames between inference batches (default: the model's live stride, else 8)",
    )
    p.add_argument(
        "--num-poses",
        type=int,
        default=1,
        help="most persons MediaPipe detects per frame (default 1, sadvae-live's; until 7 December 2026, late, 2, "
        "which cut the frame rate by a third against sadvae-live's on a one-person video: docs/benchmark.md)",
    )
    p.add_argument(
        "--no-roi",
        dest="roi",
        action="store_false",
        help="no region-of-interest crops in the pose stage (by default small people are estimated on a crop "
        "around them, with any --num-poses: one crop per tracked person)",
    )
    p.add_argument(
        "--pose-variant", choices=("lite", "full", "heavy"), default=None, help="MediaPipe model (default full)"
    )
    p.add_argument(
        "--pose-model",
        type=Path,
        metavar="PATH",
        help="a pose_landmarker_*.task file (sadvae-live --pose-model; default: resolved from --pose-variant)",
    )
    p.add_argument("--labels", type=Path, help="labels file for the pipeline's head (default: a built-in mix)")
    p.add_argument(
        "--handedness",
        choices=HANDEDNESS,
        default=None,
        help="the pipeline head's handedness pooling (sadvae-live --handedness; default: sadvae-live's)",
    )
    p.add_argument("--no-recognizer", action="store_true", help="skip the recognizer micro-benchmark")
    p.add_argument("--out", type=Path, help="write the result as JSON here")
    p.add_argument("--plot", type=Path, help="write a PNG latency plot here (needs matplotlib)")
    p.set_defaults(func=_bench, pipeline_defaults={dest: p.get_default(dest) for dest in _PIPELINE_FLAGS})


# flags that only the pipeline part reads (dest -> flag): without --video/--replay they would change nothing
_PIPELINE_FLAGS = {
    "frames": "--frames",
    "stride": "--stride",
    "num_poses": "--num-poses",
    "roi": "--no-roi",
    "pose_variant": "--pose-variant",
    "pose_model": "--pose-model",
    "labels": "--labels",
    "handedness": "--handedness",
}


def _check_threads(threads: int) -> None:
    """Named as the flag, not as BackendOptions.threads (a benchmark audit of 7 December 2026)."""
    if threads < 0:
        raise ConfigError(f"--threads must be >= 0 (0: the library's default), got {threads}")


def _check_pose_flags(pose_model: Path | None, pose_variant: str | None) -> None:
    """As sadvae-live: a model file and a variant are not given together (the variant was ignored, unsaid)."""
    if pose_model is not None and pose_variant is not None:
        raise ConfigError(f"--pose-model gives the pose model and --pose-variant {pose_variant} picks one: drop one")


def _is_bench_result(path: Path) -> bool:
    """Whether ``path`` holds a latency result (which a rerun may replace), read without trusting it."""
    import json

    from realtime.bench.report import FORMAT

    try:
        return json.loads(path.read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return False


def _check_inputs(args: argparse.Namespace) -> None:
    """The files the run reads, checked before any timing (a benchmark audit of 7 December 2026, late: a missing
    video, labels file, ONNX export or pose model failed after minutes of recogniser timing, every result lost)."""
    from realtime.head.labels import parse_labels

    for flag, path in (("--video", args.video), ("--replay", args.replay), ("--onnx", args.onnx)):
        if path is not None and not Path(path).exists():
            raise ConfigError(f"{flag} {path}: not found")
    if getattr(args, "labels", None) is not None:
        parse_labels(args.labels)  # missing, empty or malformed: its own one-line error
    if args.video or args.replay:
        from realtime.pose.model import check_task_file

        if args.pose_model is not None:
            check_task_file(args.pose_model)
        elif args.video:
            _check_pose_variant(args.pose_variant or "full")


def _check_pose_variant(variant: str) -> None:
    """The pose model of ``variant`` is found (cached, or buildable offline) before anything is timed."""
    from realtime.pose.model import resolve_pose_model
    from realtime.pose.stage import PoseOptions

    resolve_pose_model(variant=variant, download=PoseOptions().download)


def _check_pipeline_flags(args: argparse.Namespace) -> None:
    """Pipeline flags without a source, or ``--no-recognizer`` without one (nothing would be measured)."""
    if args.video or args.replay:
        return
    given = [flag for dest, flag in _PIPELINE_FLAGS.items() if getattr(args, dest) != args.pipeline_defaults[dest]]
    if given:
        raise ConfigError(
            f"{', '.join(given)} {'sets' if len(given) == 1 else 'set'} the live pipeline run, which needs "
            "--video PATH or --replay PATH: add one, or drop the flag(s)"
        )
    if args.no_recognizer:
        raise ConfigError(
            "--no-recognizer without --video or --replay measures nothing: add --video PATH or --replay PATH, "
            "or drop --no-recognizer"
        )


def _plot(docs: list, path: Path, names: list[str] | None = None) -> None:
    from realtime.bench.report import PLOT_INSTALL_HINT, plot

    if plot(docs, path, names) is None:
        print(f"plot not written: {PLOT_INSTALL_HINT}", file=sys.stderr)
    else:
        print(f"wrote {path}")


def _check_source_kind(video: Path | None, replay: Path | None) -> None:
    """``--video`` takes a video and ``--replay`` a skeleton file: the pipeline picks its source by the file's suffix,
    so a skeleton file given as ``--video`` would be timed without the pose stage, silently."""
    from realtime.sources.video import _NOT_VIDEO, REPLAY_SUFFIXES

    if video is not None and (video.suffix.lower() in REPLAY_SUFFIXES or video.is_dir()):
        what = "a folder" if video.is_dir() else _NOT_VIDEO.get(video.suffix.lower(), "a skeleton file")
        raise ConfigError(  # what the file is, as sadvae-live says it (a labels .txt was called a skeleton file)
            f"--video {video}: {what}, not a video (a skeleton file or folder would be timed without the pose "
            "stage: pass it with --replay); give a video file"
        )
    if replay is not None and not (replay.suffix.lower() in REPLAY_SUFFIXES or replay.is_dir()):
        raise ConfigError(
            f"--replay {replay}: not a skeleton file (expected one of {', '.join(REPLAY_SUFFIXES)} or a folder); "
            "pass a video with --video"
        )


def _bench(args: argparse.Namespace) -> int:
    _check_threads(args.threads)
    _check_pose_flags(args.pose_model, args.pose_variant)
    _check_pipeline_flags(args)
    from realtime.bench.latency import BenchOptions, run_bench, write_json
    from realtime.bench.report import format_result

    source = args.video or args.replay
    _check_source_kind(args.video, args.replay)
    from sadvae.fileio import output_problem

    for flag, path in (("--out", args.out), ("--plot", args.plot)):  # found now, not after minutes of timing
        if path and (problem := output_problem(path)):
            raise ConfigError(f"{flag} {path}: {problem}; pass a file name in a folder that can be written")
    _check_inputs(args)
    if args.out is not None and args.out.is_file() and not _is_bench_result(args.out):
        # overwritten without a word until 7 December 2026, late (a benchmark audit lost a labels file that way)
        raise ConfigError(f"--out {args.out}: exists and is no sadvae bench result; choose another file or remove it")
    opts = BenchOptions(
        backends=tuple(args.backend),
        batches=tuple(args.batch),
        persons=tuple(args.persons),
        iters=args.iters,
        warmup=args.warmup,
        threads=args.threads,
        optimization=args.ort_opt,
        spin=args.spin,
        engine=str(args.engine) if args.engine else None,
        onnx=str(args.onnx) if args.onnx else None,
        recognizer=not args.no_recognizer,
        source=str(source) if source else None,
        frames=args.frames,
        stride=args.stride,
        pose_variant=args.pose_variant or "full",
        pose_model=str(args.pose_model) if args.pose_model else None,
        num_poses=args.num_poses,
        labels=str(args.labels) if args.labels else None,
        roi=args.roi,
    )
    from realtime.head.zero_shot import HeadOptions

    head = HeadOptions() if args.handedness is None else HeadOptions(handedness=args.handedness)
    command = " ".join(["sadvae", *sys.argv[1:]])
    if opts.source and os.name == "posix" and not args.verbose:  # MediaPipe's native console chatter
        from realtime.cli import NativeLogFilter

        with NativeLogFilter():
            doc = run_bench(args.model, opts, command=command, head=head)
    else:
        doc = run_bench(args.model, opts, command=command, head=head)
    print(format_result(doc))
    measured = (doc.get("recognizer") or {}).get("results") or (doc.get("pipeline") or {}).get("runs")
    if not measured:  # until 7 December 2026 this wrote an empty result and exited 0
        raise ConfigError(
            "nothing was measured: every case asked for was skipped (the reasons are listed above); change "
            "--backend, --batch or --persons, or add --video / --replay for the pipeline"
        )
    if args.out:
        print(f"wrote {write_json(doc, args.out)}")
    if args.plot:
        _plot([doc], args.plot)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from realtime.bench.latency import load_result
    from realtime.bench.report import compare
    from sadvae.fileio import output_problem

    if args.compare_plot and (problem := output_problem(args.compare_plot)):  # as `bench latency --plot` does
        raise ConfigError(f"--plot {args.compare_plot}: {problem}; pass a file name in a folder that can be written")
    docs = [load_result(f) for f in args.files]
    if args.names and len(args.names) != len(docs):
        raise ConfigError(f"--names needs one name per file: {len(docs)} files, {len(args.names)} names")
    print(compare(docs, args.names))
    if args.compare_plot:
        _plot(docs, args.compare_plot, args.names)
    return 0


def _non_negative(unit: str, zero: str):
    """An argparse type: a finite number of ``unit`` >= 0; ``zero`` says what 0 means."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number of {unit}, got {text!r}") from None
        if not math.isfinite(value) or value < 0:
            raise argparse.ArgumentTypeError(f"expected a finite number of {unit} >= 0 (0 = {zero}), got {text!r}")
        return value

    return parse


_metres = _non_negative("metres", "whole windows")  # --trim-still
_seconds = _non_negative("seconds", "no hold")  # --hold


def _phases(text: str) -> int:
    """An integer >= 1 (``--phases``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of runs >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of runs >= 1 (1 = one aligned run), got {text!r}")
    return value


def _head_options(args: argparse.Namespace) -> Any:
    """The accuracy runs' head options: sadvae-live's, but for the flags given."""
    from realtime.head.zero_shot import HeadOptions

    given = {"handedness": args.handedness, "self_taught_no_action": args.self_taught_no_action}
    return HeadOptions(**{k: v for k, v in given.items() if v is not None})


def _once(values: list, flag: str) -> list:
    """``values`` without repeats (in their order), with a note on stderr when there were any."""
    kept = list(dict.fromkeys(values))
    if len(kept) < len(values):
        twice = sorted({f"{v:g}" if isinstance(v, float) else str(v) for v in values if values.count(v) > 1})
        print(f"note: {flag} {' '.join(twice)} given more than once; each runs once", file=sys.stderr)
    return kept


def _unit_score(text: str) -> float:
    """A score in [0, 1] (``--segment-score``; 0 = off)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise argparse.ArgumentTypeError(f"expected a score in [0, 1] (0 = off), got {text!r}")
    return value


def _start_score(text: str) -> float:
    """A start score in (0, 1] (``--taught-start-score``)."""
    value = _unit_score(text)
    if value == 0.0:
        raise argparse.ArgumentTypeError(f"expected a score in (0, 1] (0 would start on anything), got {text!r}")
    return value


def _decision_options(args: argparse.Namespace) -> Any:
    """sadvae-live's decision options with the ones the accuracy flags set (None: all sadvae-live's)."""
    from realtime.cli import _flag_error
    from realtime.decisions import DecisionOptions

    keys = ("segment_score", "instant_score", "taught_start_score")
    set_ = {k: getattr(args, k) for k in keys if getattr(args, k) is not None}
    try:
        return DecisionOptions(**set_) if set_ else None
    except ConfigError as e:  # named by its flag, as sadvae-live names it
        raise _flag_error(DecisionOptions, e, {}) from None


def _register_accuracy(inner: argparse._SubParsersAction) -> None:
    a = inner.add_parser(
        "accuracy",
        help="accuracy of the live decisions on annotated real videos and held-out skeleton replays",
        description="Run annotated real videos (MediaPipe pose) and/or a dataset's held-out side (skeleton replay) "
        "through the real live pipeline and score its events: the label held longest vs the truth, the offline "
        "window vote top-1/top-5, time from the action's start to the first correct event, false events per "
        "minute (on 'none of these labels' clips every event is false) and clips with no event. Writes "
        "accuracy.json, accuracy.md and accuracy.png into --out.",
    )
    a.add_argument(
        "--annotations",
        type=Path,
        default=PROJECT_ROOT / "benchmarks" / "videos.toml",
        help="annotation file of the videos (default benchmarks/videos.toml)",
    )
    a.add_argument("--no-videos", action="store_true", help="skip the videos (only --replay-dataset)")
    a.add_argument("--clip", nargs="+", default=[], help="only these clips of the annotation file (by name)")
    a.add_argument(
        "--labels",
        nargs="+",
        type=Path,
        default=[],
        help="only the pairings with these labels files (default: every pairing)",
    )
    a.add_argument(
        "--replay-dataset",
        nargs="+",
        default=[],
        metavar="NAME",
        help="also replay these datasets' held-out (test-side) sequences with their own class names "
        "as labels, e.g. msr_action3d nw_ucla utkinect, or a clip folder of your own (docs/data_format.md)",
    )
    a.add_argument(
        "--replay-labels",
        nargs="+",
        default=[],
        metavar="NAME=FILE",
        help="judge a replayed dataset against its classes worded as a user may: FILE holds one 'class "
        "name<TAB>label' line per class (e.g. benchmarks/labels/reworded/utkinect.tsv); default: the class names",
    )
    a.add_argument(
        "--hold",
        type=_seconds,
        nargs="+",
        default=[0.0],
        help="seconds the first/last pose is held around each replayed sequence, one run per value (default 0)",
    )
    a.add_argument(
        "--phases",
        type=_phases,
        default=1,
        metavar="N",
        help="replay each dataset N times, run k with every sequence shifted by k x stride / N frames (the "
        "pipeline scores every stride frames): each replay row gives the mean over the runs and their min-max "
        "(default 1: one run, every sequence started on the stride)",
    )
    a.add_argument("--limit", type=int, help="replay only the first N held-out sequences per dataset (quick runs)")
    a.add_argument(
        "--mirror",
        action="store_true",
        help="replay the held-out sequences' left-right mirror images (left-handed performers; a class naming a "
        "side is judged through its mirror class)",
    )
    a.add_argument(
        "--examples-per-label",
        type=int,
        default=0,
        metavar="K",
        help="teach every label of a replayed dataset by K example recordings (sadvae-live --examples): K test-side "
        "sequences per class from its first performer (the next ones when it has fewer), whose sequences of that "
        "class are then not replayed (default 0: no examples)",
    )
    a.add_argument(
        "--self-teach",
        nargs="?",
        const="action",
        choices=["action", "all"],
        help="self-teach every label of a replayed dataset from its training side, unlabelled (sadvae-live "
        "--self-teach: the dataset's own recordings of the place, labels never read; with --limit N its first N "
        "training-side sequences); the test side is replayed as ever (the baseline: the same command without the "
        "flag). 'all': every window teaches, also those the head calls 'no action' (self-teaching as first built, "
        "7 December 2026)",
    )
    a.add_argument(
        "--self-teach-from",
        type=Path,
        nargs="+",
        default=[],
        metavar="PATH",
        help="self-teach every video pairing's labels from these unlabelled recordings first (sadvae-live "
        "--self-teach PATH: --record-skeleton files, clips, or folders of them); default: the videos' labels by name",
    )
    a.add_argument(
        "--self-taught-no-action",
        choices=["examples", "names"],
        help="with --self-teach or --self-teach-from: where 'no action' of self-taught labels comes from: "
        "'examples' (their best cosine, as labels taught by example) or 'names' (the head of the labels by name) "
        "(default: sadvae-live's)",
    )
    a.add_argument(
        "--replay-side",
        choices=["test", "inner"],
        default="test",
        help="which sequences of a replayed dataset are replayed: 'test' (its test side, default) or 'inner' (the "
        "training side's inner-validation subjects of the default recipe; with --self-teach the rest of the "
        "training side teaches): a setting is chosen there, on a set the model never saw, without its test side",
    )
    a.add_argument(
        "--half-lists",
        type=int,
        nargs="+",
        default=[],
        metavar="SEED",
        help="one replay per seed with a labels file of half the dataset's classes, drawn by the seed (numpy "
        "default_rng); the other classes' sequences are replayed as clips of no listed action, every start on "
        "them false (actions the place shows and the list leaves out); default: every class listed",
    )
    a.add_argument(
        "--teach-every",
        type=int,
        default=1,
        metavar="N",
        help="with --examples-per-label: teach only every N-th label of the list (in its order), the others scored by "
        "their names: a list that mixes both kinds, on the same sequences (default 1: every label)",
    )
    a.add_argument(
        "--names-only",
        action="store_true",
        help="with --examples-per-label: replay the same sequences (those of the example performers left out) but "
        "score every label by its name, as without examples: the baseline on the same sequences",
    )
    a.add_argument(
        "--handedness",
        choices=HANDEDNESS,
        default=None,
        help="the head's handedness pooling (sadvae-live --handedness; default: sadvae-live's)",
    )
    a.add_argument(
        "--trim-still",
        type=_metres,
        metavar="M",
        help="sadvae-live --trim-still: cut windows to the span in which the person moves, threshold M metres "
        "(default: sadvae-live's; 0 = whole windows)",
    )
    a.add_argument(
        "--segment-score",
        type=_unit_score,
        metavar="S",
        help="sadvae-live --segment-score: decide a motion no label started on when it ends, at a mean score of S "
        "(default: sadvae-live's; 0 = off)",
    )
    a.add_argument(
        "--instant-score",
        type=_unit_score,
        metavar="S",
        help="sadvae-live --instant-score: a label leading with a smoothed score of S starts in one window "
        "(default: sadvae-live's; 0 = off, else at least the start score)",
    )
    a.add_argument(
        "--taught-start-score",
        type=_start_score,
        metavar="S",
        help="sadvae-live --taught-start-score: the start score of labels taught by example (default: sadvae-live's)",
    )
    a.add_argument("--model", dest="acc_model", type=Path, help="model bundle .pt (default: the packaged model)")
    a.add_argument("--backend", dest="acc_backend", default="onnxruntime", help="backend (default onnxruntime)")
    a.add_argument("--threads", dest="acc_threads", type=int, default=1, help="inference threads (default 1)")
    a.add_argument(
        "--pose-variant",
        dest="acc_pose_variant",
        choices=("lite", "full", "heavy"),
        default=None,
        help="MediaPipe model for the videos (default full)",
    )
    a.add_argument(
        "--pose-model",
        dest="acc_pose_model",
        type=Path,
        metavar="PATH",
        help="a pose_landmarker_*.task file for the videos (sadvae-live --pose-model; default: --pose-variant's)",
    )
    a.add_argument(
        "--data-root",
        type=Path,
        default=SHARED_DATA,
        help="where clip paths and datasets start (default ../shared/data)",
    )
    a.add_argument(
        "--out", dest="acc_out", type=Path, default=Path("runs/accuracy"), help="output folder (default runs/accuracy)"
    )
    a.set_defaults(func=_accuracy)


def _accuracy(args: argparse.Namespace) -> int:
    from realtime.bench.accuracy.report import AccuracyOptions, markdown, output_problem, run_accuracy, write_outputs
    from realtime.bench.accuracy.runner import RunOptions
    from realtime.cli import still_trim_option
    from sadvae.errors import ConfigError

    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be >= 1, got {args.limit}")
    _check_threads(args.acc_threads)
    _check_pose_flags(args.acc_pose_model, args.acc_pose_variant)
    if args.acc_pose_model is not None:  # checked before the runs, as bench latency checks it
        from realtime.pose.model import check_task_file

        check_task_file(args.acc_pose_model)
    if args.no_videos and not args.replay_dataset:
        raise ConfigError("--no-videos leaves nothing to run: add --replay-dataset NAME")
    video_flags = [flag for flag, v in (("--clip", args.clip), ("--labels", args.labels)) if v]
    video_flags += ["--pose-variant"] if args.acc_pose_variant is not None else []
    video_flags += ["--pose-model"] if args.acc_pose_model is not None else []
    if args.no_videos and video_flags:
        raise ConfigError(
            f"{', '.join(video_flags)} {'selects' if len(video_flags) == 1 else 'select'} the videos, which "
            "--no-videos skips: drop --no-videos or the flag(s)"
        )
    if args.phases > 1 and not args.replay_dataset:
        raise ConfigError("--phases N shifts the replayed sequences and there are none: add --replay-dataset NAME")
    if problem := output_problem(args.acc_out):  # found now, not after the runs
        raise ConfigError(f"--out {args.acc_out}: {problem}; pass a folder that can be written")
    hold = _once(args.hold, "--hold")
    from sadvae.data.registry import dataset_key

    datasets = _once([dataset_key(d) for d in args.replay_dataset], "--replay-dataset")  # a clip folder: its path
    if args.mirror and not args.replay_dataset:
        raise ConfigError("--mirror mirrors the replayed datasets and there are none: add --replay-dataset NAME")
    if args.examples_per_label < 0 or (args.examples_per_label and not args.replay_dataset):
        raise ConfigError(
            "--examples-per-label K needs K >= 1 and --replay-dataset NAME (the examples are its sequences)"
        )
    if args.teach_every < 1 or (args.teach_every > 1 and (not args.examples_per_label or args.names_only)):
        raise ConfigError("--teach-every N needs N >= 1, and with N > 1 --examples-per-label K without --names-only")
    if args.names_only and not args.examples_per_label:
        raise ConfigError("--names-only is the baseline of --examples-per-label K: add it")
    if args.examples_per_label and args.mirror:
        raise ConfigError("--examples-per-label is measured on sequences as recorded: drop --mirror")
    if args.self_teach_from and args.no_videos:
        raise ConfigError("--self-teach-from teaches the videos' labels and --no-videos skips them: drop one")
    if args.self_taught_no_action is not None and not (args.self_teach or args.self_teach_from):
        raise ConfigError(
            "--self-taught-no-action sets how self-taught labels say 'no action': add --self-teach or --self-teach-from"
        )
    if args.self_teach and (not args.replay_dataset or args.examples_per_label or args.mirror):
        raise ConfigError(
            "--self-teach teaches from a replayed dataset's training side as recorded: add --replay-dataset NAME, "
            "and drop --examples-per-label (labels taught by labelled examples) and --mirror"
        )
    if args.replay_side != "test" and (not args.replay_dataset or args.examples_per_label):
        raise ConfigError(
            f"--replay-side {args.replay_side} replays part of a dataset's training side: add --replay-dataset NAME "
            "and drop --examples-per-label (its examples are test-side sequences)"
        )
    if args.half_lists and args.examples_per_label:
        raise ConfigError("--half-lists and --examples-per-label: labels taught by example teach every class; drop one")
    if args.half_lists and not args.replay_dataset:
        raise ConfigError("--half-lists draws the labels of replayed datasets and there are none: add --replay-dataset")
    if any(seed < 0 for seed in args.half_lists):
        raise ConfigError(f"--half-lists takes seeds >= 0, got {' '.join(map(str, args.half_lists))}")
    half_lists = _once(args.half_lists, "--half-lists")
    replay_labels = {}
    for item in args.replay_labels:
        name, eq, file = item.partition("=")
        if not eq or not name or not file:
            raise ConfigError(f"--replay-labels takes NAME=FILE (e.g. utkinect=labels.tsv), got {item!r}")
        if dataset_key(name) not in datasets:
            raise ConfigError(f"--replay-labels {item}: {name!r} is not replayed; add --replay-dataset {name}")
        name = dataset_key(name)
        if not Path(file).is_file():
            raise ConfigError(f"--replay-labels {item}: no file {file}")
        replay_labels[name] = Path(file)
    if replay_labels and args.examples_per_label:
        raise ConfigError("--replay-labels and --examples-per-label: labels taught by example keep the class names")
    opts = AccuracyOptions(
        annotations=None if args.no_videos else args.annotations,
        data_root=args.data_root,
        project_root=PROJECT_ROOT,
        clips=tuple(args.clip),
        labels=tuple(args.labels),
        replay_datasets=tuple(datasets),
        hold_s=tuple(hold),
        limit=args.limit,
        mirror=args.mirror,
        examples_per_label=args.examples_per_label,
        teach=not args.names_only,
        teach_every=args.teach_every,
        self_teach=bool(args.self_teach),
        self_teach_from=tuple(args.self_teach_from),
        replay_labels=replay_labels,
        side=args.replay_side,
        half_lists=tuple(half_lists),
        phases=args.phases,
        run=RunOptions(
            model=args.acc_model,
            backend=args.acc_backend,
            threads=args.acc_threads,
            pose_variant=args.acc_pose_variant or "full",
            pose_model=str(args.acc_pose_model) if args.acc_pose_model else None,
            head=_head_options(args),
            trim_still=None if args.trim_still is None else (still_trim_option(args.trim_still) or False),
            decisions=_decision_options(args),
            self_teach_every_window=args.self_teach == "all",
        ),
    )
    command = " ".join(["sadvae", *sys.argv[1:]])
    if os.name == "posix" and not args.verbose:  # MediaPipe's native console chatter
        from realtime.cli import NativeLogFilter

        with NativeLogFilter():
            doc = run_accuracy(opts, command)
    else:
        doc = run_accuracy(opts, command)
    print(markdown(doc))
    for path in write_outputs(doc, args.acc_out):
        print(f"wrote {path}")
    return 0
