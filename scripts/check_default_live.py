"""Check the packaged default model *live*: real recordings through the real pipeline, and what fires.

Two checks, both through :class:`realtime.pipeline.Pipeline` exactly as ``sadvae-live`` runs it
(ring buffer, stride, preprocessing, ONNX Runtime, head, smoothing and hysteresis, ZeroMQ):

1. **Held-out replays.** Every held-out sequence of the model's training sets (the side it never
   trained on; for the packaged ``shiftgcn-v2`` model: MSR and UTKinect even subjects, NW-UCLA view 3,
   HDM05 actors mm and tr, Bandai-Namco's 7 held-out styles) plays as one person who walks in, acts
   and leaves (1.5 s of empty frames between sequences, so each gets its own track). The labels file
   is the dataset's own class names. Per track, the label the pipeline held longest (``start`` ->
   ``end``) is compared with the truth; the offline held-out top-1 of the same model over the set's own
   names (model card) is printed beside it. The replay and its scoring are ``sadvae bench accuracy
   --replay-dataset``'s (:func:`realtime.bench.accuracy.runner.run_replay_dataset`).
2. **Videos of people** (MediaPipe pose): which labels of ``labels/everyday.txt`` and
   ``labels/fitness.txt`` start, when, with what score.

Usage (from the project root, real data in ../shared/data)::

    python scripts/check_default_live.py --markdown docs/default_model_live.md
    python scripts/check_default_live.py --model runs/default_v1/default_model.pt --datasets utkinect  # another bundle
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


def _run(source, labels: Path, threads: int, model: Path | None = None) -> list[dict]:
    """Run the pipeline over ``source`` with ``labels`` (the model, ONNX Runtime); every action event."""
    from realtime.bench.accuracy.runner import RunOptions, run_pipeline

    return run_pipeline(source, labels, RunOptions(model=model, threads=threads)).events


def model_facts(bundle) -> dict:
    """What the report says about a bundle: its sets, offline held-out top-1 per set, window and stride."""
    from sadvae.train.default_model import DATASET_NAMES

    h = bundle.metrics.get("holdout", {})
    if "per_dataset_top1" in h:  # round-1 recipe stgcn-v1: one centre window, all 33 classes
        sets, offline, how = list(DATASET_NAMES), dict(h["per_dataset_top1"]), "one centre window, all 33 classes"
    else:  # shiftgcn-v2: mean over the clip's windows, the set's own names
        sets = [n for n in h if n != "mean_over_sets"]
        offline = {n: h[n]["clips_own"]["top1"] for n in sets}
        how = "mean of the clip's windows, the set's own names"
    pre, live = bundle.preprocess, bundle.live
    return {
        "datasets": sets,
        "offline": offline,
        "offline_how": how,
        "window_s": pre.window / pre.fps,
        "stride": f"{live.stride} frames at {pre.fps:g} fps" if live.stride else "8 source frames",
    }


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


def check_replays(
    data_root: Path,
    threads: int,
    hold_s: float = 0.0,
    datasets: list[str] | None = None,
    model: Path | None = None,
) -> list[dict]:
    """The held-out sequences of each training set (``datasets``; None: the round-1 three), live; one row each.

    The replay and its scoring are ``sadvae bench accuracy --replay-dataset``'s
    (:func:`realtime.bench.accuracy.runner.run_replay_dataset`, definitions in :mod:`realtime.bench.accuracy.metrics`).
    """
    from realtime.bench.accuracy.runner import RunOptions, run_replay_dataset
    from sadvae.train.default_model import DATASET_NAMES

    rows = []
    for name in datasets or DATASET_NAMES:
        scores, info = run_replay_dataset(name, data_root, RunOptions(model=model, threads=threads), hold_s=hold_s)
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


def check_videos(data_root: Path, threads: int, model: Path | None = None) -> list[dict]:
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
            events = _run(VideoSource(path), root / "labels" / labels, threads, model)
            starts = [(e["window"]["end_ms"] / 1000.0, e["label"], e["score"]) for e in events if e["type"] == "start"]
            held = _held_time(events)
            total = defaultdict(float)
            for per in held.values():
                for label, s in per.items():
                    total[label] += s
            rows.append({"video": video, "labels": labels, "starts": starts, "held_s": dict(total)})
            log.info("%s / %s: %s", video, labels, starts)
    return rows


def markdown(replays: list[dict], videos: list[dict], facts: dict, command: str, machine: str, model: str) -> str:
    offline = facts["offline"]
    out = [
        "# The default model, live",
        "",
        "Real recordings through the real live pipeline (`realtime.pipeline.Pipeline`, ONNX Runtime on CPU, "
        f"{model}, default decision settings; window {facts['window_s']:.1f} s, a window every "
        f"{facts['stride']}). Generated by",
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
        "(no window or no decision = wrong). *offline top-1*: the model card's held-out accuracy "
        f"({facts['offline_how']}). A decision needs a full {facts['window_s']:.1f} s window and then windows "
        "whose smoothed score leads (docs/live.md), and many clips are shorter than the window, so each "
        "also runs with the person standing still for 1 s before and after (first and last pose held, as "
        "the training pads short clips).",
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
    ap.add_argument("--model", type=Path, help="model bundle .pt (default: the packaged default model)")
    ap.add_argument("--datasets", nargs="+", help="sets to replay (default: the model's training sets)")
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
        facts = model_facts(load_bundle(args.model or default_bundle_path()))
        sets = args.datasets or facts["datasets"]
        replays = [row for h in args.hold for row in check_replays(args.data_root, args.threads, h, sets, args.model)]
        videos = [] if args.skip_videos else check_videos(args.data_root, args.threads, args.model)
    except SadvaeError as e:
        print(f"check_default_live: error: {e}", file=sys.stderr)
        return 2
    command = shlex.join(["python", "scripts/check_default_live.py", *(sys.argv[1:] if argv is None else argv)])
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    model = f"`{args.model}`" if args.model else "the packaged `sadvae/assets/default_model.pt`"
    text = markdown(replays, videos, facts, command, machine, model)
    print(text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps({"replays": replays, "videos": videos}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
