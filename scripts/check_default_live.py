"""Check the packaged default model *live*: real recordings through the real pipeline, and what fires.

Two checks, both through :class:`realtime.pipeline.Pipeline` exactly as ``sadvae-live`` runs it
(ring buffer, stride, preprocessing, ONNX Runtime, head, smoothing and hysteresis, ZeroMQ):

1. **Held-out replays.** Every held-out sequence of the three training sets (the side the model
   never trained on: MSR and UTKinect even subjects, NW-UCLA view 3) plays as one person who walks
   in, acts and leaves (1.5 s of empty frames between sequences, so each gets its own track). The
   labels file is the dataset's own class names. Per track, the label the pipeline held longest
   (``start`` -> ``end``) is compared with the truth; the offline held-out top-1 of the same model
   (model card) is printed beside it.
2. **Videos of people** (MediaPipe pose): which labels of ``labels/everyday.txt`` and
   ``labels/fitness.txt`` start, when, with what score.

Usage (from the project root, real data in ../shared/data)::

    python scripts/check_default_live.py --markdown docs/default_model_live.md
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

log = logging.getLogger("check_default_live")

GAP_S = 1.5  # empty frames between two replayed sequences: the track ends, the next person is new
VIDEOS = ("ta_chi.mp4", "clean_and_jerk.mp4", "test_video_structuralize.mp4")
VIDEO_LABELS = ("everyday.txt", "fitness.txt")


def _options(endpoint: str = "tcp://127.0.0.1:*"):
    from realtime.events import PublisherOptions
    from realtime.pipeline import PipelineOptions

    return PipelineOptions(handle_signals=False, publisher=PublisherOptions(endpoint=endpoint, sndhwm=100_000))


def _run(source, labels: Path, threads: int, windows: list | None = None) -> list[dict]:
    """Run the pipeline over ``source`` with ``labels``; returns every action event.

    ``windows`` (optional) collects ``(time_s, probs [N, L], label names)`` of every inference batch.
    """
    from realtime.backends import BackendOptions
    from realtime.model import load_live_model
    from realtime.pipeline import Pipeline

    events: list[dict] = []
    model = load_live_model(None, "onnxruntime", options=BackendOptions(threads=threads))
    on_batch = None
    if windows is not None:

        def on_batch(b) -> None:
            windows.append((b.t_ms / 1000.0, b.result.probs, pipe.head.labels.names))

    pipe = Pipeline(source, model, labels, _options(), on_event=events.append, on_batch=on_batch)
    pipe.run()
    return events


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
    """The held-out sequences of each training set, live; one row per dataset."""
    from realtime.replay import ReplaySource
    from sadvae.data.registry import load_dataset
    from sadvae.train.default_model import CLASS_NAMES, DATASET_NAMES, merge_datasets

    sets = {name: load_dataset(name, data_root / "skeleton_sets" / folder) for name, folder in
            zip(DATASET_NAMES, ("msr_action3d", "nw_ucla", "utkinect_action3d"), strict=True)}  # fmt: skip
    merged = merge_datasets(sets)
    rows = []
    for d, name in enumerate(DATASET_NAMES):
        idx = np.flatnonzero(merged.holdout & (merged.dataset == d))
        classes = sorted({int(merged.labels[i]) for i in idx})
        chunks, times, truth, seq_start, t0 = [], [], [], [], 0.0
        for i in idx:
            seq = merged.sequences[i]
            seq_start.append(t0)
            j, t = seq.joints[:, :1], seq.times() - seq.times()[0]
            if hold_s > 0:  # the person stands still for hold_s before and after the clip (first / last pose)
                n, dt = round(hold_s * seq.fps), 1.0 / seq.fps
                j = np.concatenate([np.repeat(j[:1], n, 0), j, np.repeat(j[-1:], n, 0)])
                t = np.concatenate([np.arange(n) * dt, n * dt + t, n * dt + t[-1] + np.arange(1, n + 1) * dt])
            gap = np.arange(1, round(GAP_S * seq.fps) + 1) / seq.fps
            chunks += [j, np.zeros((len(gap), 1, 25, 3), np.float32)]
            times += [t0 + t, t0 + t[-1] + gap]
            t0 += t[-1] + gap[-1] + 1.0 / seq.fps
            truth.append(CLASS_NAMES[merged.labels[i]])
        with tempfile.TemporaryDirectory() as tmp:
            labels = Path(tmp) / "labels.txt"
            labels.write_text("\n".join(CLASS_NAMES[c] for c in classes) + "\n", encoding="utf-8")
            src = ReplaySource.from_arrays(np.concatenate(chunks), np.concatenate(times), name=name)
            start = time.monotonic()
            batches: list = []
            events = _run(src, labels, threads, batches)
            wall = time.monotonic() - start
        held = _held_time(events)
        tracks = sorted({e["track_id"] for e in events})
        fired = {tid: max(held[tid].items(), key=lambda kv: kv[1])[0] for tid in tracks if held[tid]}
        # a sequence with no decision has no events: map tracks to sequences by their first event's time
        by_seq: dict[int, str] = {}
        for tid in fired:
            first = min(e["window"]["end_ms"] for e in events if e["track_id"] == tid) / 1000.0
            k = int(np.searchsorted(seq_start, first, side="right") - 1)
            by_seq.setdefault(k, fired[tid])
        correct = sum(by_seq.get(k) == truth[k] for k in range(len(truth)))
        # per-window scores without smoothing or thresholds: mean over the windows that end inside the clip
        votes: dict[int, list] = defaultdict(list)
        for t_s, probs, _ in batches:
            votes[int(np.searchsorted(seq_start, t_s, side="right") - 1)].extend(probs)
        names = batches[0][2] if batches else ()
        voted = sum(names[int(np.mean(votes[k], 0).argmax())] == truth[k] for k in votes if votes[k])
        rows.append({
            "dataset": name, "hold_s": hold_s, "sequences": len(truth), "classes": len(classes),
            "tracks": len(tracks), "with_windows": len(votes), "window_vote_top1": voted / len(truth),
            "decided": len(by_seq), "live_top1": correct / len(truth),
            "live_top1_decided": correct / max(1, len(by_seq)), "wall_s": wall,
        })  # fmt: skip
        log.info("%s: %s", name, rows[-1])
    return rows


def check_videos(data_root: Path, threads: int) -> list[dict]:
    """Which labels start on the real videos, per labels file."""
    from realtime.sources import VideoSource

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
    out += ["", "## Videos of people (MediaPipe pose)", "",
            "Labels that started (time of the window's end in the clip, score); *held*: seconds each label was the "
            "decision.", ""]  # fmt: skip
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
    ap.add_argument("--data-root", type=Path, default=Path("../shared/data"), help="default ../shared/data")
    ap.add_argument("--threads", type=int, default=1, help="inference threads (default 1)")
    ap.add_argument("--skip-videos", action="store_true", help="only the held-out replays")
    ap.add_argument("--hold", type=float, nargs="+", default=[0.0, 1.0],
                    help="seconds the first and last pose are held around each clip (default: 0 and 1)")  # fmt: skip
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
