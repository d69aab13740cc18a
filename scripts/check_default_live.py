"""Check the packaged default model *live*: real recordings through the real pipeline, and what fires.

Two checks, both through :class:`realtime.pipeline.Pipeline` exactly as ``sadvae-live`` runs it
(ring buffer, stride, preprocessing, ONNX Runtime, head, smoothing and hysteresis, ZeroMQ):

1. **Held-out replays.** Every held-out sequence of the three training sets (the side the model
   never trained on: MSR and UTKinect even subjects, NW-UCLA view 3) plays as one person who walks
   in, acts and leaves (1.5 s of empty frames between sequences, so each gets its own track). The
   labels file is the dataset's own class names. Per track, the label the pipeline held longest
   (``start`` -> ``end``) is compared with the truth; the offline held-out top-1 of the same model
   (model card) is printed beside it. The replay and its scoring are ``sadvae bench accuracy
   --replay-dataset``'s (:func:`realtime.bench.accuracy.runner.run_replay_dataset`).
2. **Videos of people** (MediaPipe pose): which labels of ``labels/everyday.txt`` and
   ``labels/fitness.txt`` start, when, with what score.

Usage (from the project root, real data in ../shared/data)::

    python scripts/check_default_live.py --markdown docs/default_model_live.md
"""

from __future__ import annotations

import argparse
import logging
from collections import defaultdict
from pathlib import Path

from sadvae.paths import SHARED_DATA

log = logging.getLogger("check_default_live")

VIDEOS = ("ta_chi.mp4", "clean_and_jerk.mp4", "test_video_structuralize.mp4")
VIDEO_LABELS = ("everyday.txt", "fitness.txt")


def _run(source, labels: Path, threads: int) -> list[dict]:
    """Run the pipeline over ``source`` with ``labels`` (the packaged model, ONNX Runtime); every action event."""
    from realtime.bench.accuracy.runner import RunOptions, run_pipeline

    return run_pipeline(source, labels, RunOptions(threads=threads)).events


def _held_time(events: list[dict]) -> dict[int, dict[str, float]]:
    """Per track: seconds each label was held (start/update -> next event of the track)."""
    held: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    last: dict[int, tuple[str | None, float]] = {}
    for e in events:
        t, tid = e["window"]["end_ms"] / 1000.0, e["track_id"]
        if tid in last and last[tid][0] is not None:
            held[tid][last[tid][0]] += t - last[tid][1]
        last[tid] = (e["label"] if e["type"] != "end" else None, t)
    return held


def check_replays(data_root: Path, threads: int, hold_s: float = 0.0) -> list[dict]:
    """The held-out sequences of each training set, live; one row per dataset.

    The replay and its scoring are ``sadvae bench accuracy --replay-dataset``'s
    (:func:`realtime.bench.accuracy.runner.run_replay_dataset`, definitions in :mod:`realtime.bench.accuracy.metrics`).
    """
    from realtime.bench.accuracy.runner import RunOptions, run_replay_dataset
    from sadvae.train.default_model import DATASET_NAMES

    rows = []
    for name in DATASET_NAMES:
        scores, info = run_replay_dataset(name, data_root, RunOptions(threads=threads), hold_s=hold_s)
        n = len(scores)
        decided = sum(s.held_longest is not None for s in scores)
        correct = sum(s.held_correct for s in scores)
        rows.append(
            {
                "dataset": name,
                "hold_s": hold_s,
                "sequences": n,
                "classes": info["classes"],
                "with_windows": sum(s.windows > 0 for s in scores),
                "window_vote_top1": sum(bool(s.vote_top1) for s in scores) / max(1, n),
                "decided": decided,
                "live_top1": correct / max(1, n),
                "live_top1_decided": correct / max(1, decided),
                "wall_s": info["wall_s"],
            }
        )
        log.info("%s: %s", name, rows[-1])
    return rows


def check_videos(data_root: Path, threads: int) -> list[dict]:
    """Which labels start on the real videos, per labels file."""
    from realtime.sources.video import VideoSource

    root = Path(__file__).resolve().parents[1]
    rows = []
    for video in VIDEOS:
        path = data_root / "videos" / video
        if not path.is_file():
            log.warning("skipping %s: not found", path)
            continue
        for labels in VIDEO_LABELS:
            events = _run(VideoSource(path), root / "labels" / labels, threads)
            starts = [(e["window"]["end_ms"] / 1000.0, e["label"], e["score"]) for e in events if e["type"] == "start"]
            held = _held_time(events)
            total = defaultdict(float)
            for per in held.values():
                for label, s in per.items():
                    total[label] += s
            rows.append({"video": video, "labels": labels, "starts": starts, "held_s": dict(total)})
            log.info("%s / %s: %s", video, labels, starts)
    return rows


def markdown(replays: list[dict], videos: list[dict], offline: dict, command: str, machine: str) -> str:
    out = [
        "# The default model, live",
        "",
        "Real recordings through the real live pipeline (`realtime.pipeline.Pipeline`, ONNX Runtime on CPU, "
        "the packaged `sadvae/assets/default_model.pt`, default decision settings). Generated by",
        "",
        f"```\n{command}\n```",
        "",
        f"on {machine}.",
        "",
        "## Held-out replays",
        "",
        "Every held-out sequence (never trained on) replayed as a person who appears, acts and leaves; "
        "labels = that dataset's classes. *with a window*: clips long enough for at least one inference; "
        "*window vote*: the label with the highest mean score over the windows that ended inside the clip, "
        "before smoothing and thresholds; *decided*: clips that got a decision (a `start` event); *live "
        "top-1*: the label the pipeline held longest is the true one. Both top-1 columns count every clip "
        "(no window or no decision = wrong). *offline top-1*: the model card's held-out accuracy (one "
        "centre window per clip, all 33 classes). A decision needs a full 2.1 s window and then two "
        "windows 8 frames apart whose smoothed score leads with at least 0.5, and most clips are shorter "
        "than 2.5 s, so each also runs with the person standing still for 1 s before and after (first "
        "and last pose held, as the training pads short clips).",
        "",
        "| dataset | pose held | sequences | classes | with a window | window vote | decided | live top-1 "
        "| top-1 of decided | offline top-1 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in replays:
        out.append(
            f"| {r['dataset']} | {r['hold_s']:g} s | {r['sequences']} | {r['classes']} | {r['with_windows']} "
            f"| {100 * r['window_vote_top1']:.1f} % | {r['decided']} "
            f"| {100 * r['live_top1']:.1f} % "
            f"| {100 * r['live_top1_decided']:.1f} % | {100 * offline.get(r['dataset'], float('nan')):.1f} % |"
        )
    out += [
        "",
        "## Videos of people (MediaPipe pose)",
        "",
        "Labels that started (time of the window's end in the clip, score); *held*: seconds each label was the "
        "decision.",
        "",
    ]
    for r in videos:
        starts = ", ".join(f"{label} at {t:.1f} s ({s:.2f})" for t, label, s in r["starts"]) or "none"
        held = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(r["held_s"].items(), key=lambda kv: -kv[1])) or "-"
        out.append(f"- `{r['video']}` with `labels/{r['labels']}`: started {starts}; held {held}.")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    import json
    import os
    import platform
    import shlex
    import sys

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", type=Path, default=SHARED_DATA, help="default ../shared/data")
    ap.add_argument("--threads", type=int, default=1, help="inference threads (default 1)")
    ap.add_argument("--skip-videos", action="store_true", help="only the held-out replays")
    ap.add_argument(
        "--hold",
        type=float,
        nargs="+",
        default=[0.0, 1.0],
        help="seconds the first and last pose are held around each clip (default: 0 and 1)",
    )
    ap.add_argument("--markdown", type=Path, help="write the report here")
    ap.add_argument("--json", type=Path, help="write the raw results here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    from sadvae.assets import default_bundle_path
    from sadvae.bundle import load_bundle
    from sadvae.errors import SadvaeError

    try:
        offline = load_bundle(default_bundle_path()).metrics["holdout"]["per_dataset_top1"]
        replays = [row for h in args.hold for row in check_replays(args.data_root, args.threads, h)]
        videos = [] if args.skip_videos else check_videos(args.data_root, args.threads)
    except SadvaeError as e:
        print(f"check_default_live: error: {e}", file=sys.stderr)
        return 2
    command = shlex.join(["python", "scripts/check_default_live.py", *(sys.argv[1:] if argv is None else argv)])
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    text = markdown(replays, videos, offline, command, machine)
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps({"replays": replays, "videos": videos}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
