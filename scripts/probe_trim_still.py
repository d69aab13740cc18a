"""What the still-pose cut (``sadvae-live --trim-still``, :mod:`sadvae.data.motion`) sees in clips and on video.

The measurements behind docs/live.md ("Still poses cut from the window"):

- ``clips``: how much of each shared set's clips the rule would cut (every ``--every``-th clip, resampled to 30 fps):
  the share of clips it touches and of frames it removes, and how short the sets' clips are (``StillTrim.min_s``).
  The sets are cut to their actions by their annotators, so the rule should remove little there: that is why it
  runs in the live pipeline only. Also the cut's cost per one-person 96-frame window (the live window).
- ``video``: the motion statistic (the ``joints``-th largest displacement over ``lag_s``, body frame, cm) per
  frame of a real video through the live pipeline (MediaPipe, mapping, buffer), to compare with the threshold: a
  person standing still should stay under it.
- ``demo``: the synthetic demo (``sadvae-live --demo --labels labels/demo.txt``) with the cut's minimum moving span
  at 1 s (the default) and at 0.5 s: each ``start`` event's time and label, to see what a short minimum does to a
  short gesture (a looped fragment of it is read as the whole action).
- ``replays``: a person who stands still long after acting. Test-side clips replayed with the pose held ``--hold``
  seconds (4 by default: longer than the benchmark's 1 s) through the live pipeline, whole windows against cut
  ones, and cut ones whose still tail is read whole once it lasts more than 1 s (``StillTrim.max_tail_s``; the
  packaged model, the set's own names): how long the true label stays decided after the motion stops (its ``end``
  event's time minus the clip's last frame, median over the clips where it started) and how many ``start`` events
  come while the person stands still afterwards.

Usage (project root, real data in ../shared/data)::

    python scripts/probe_trim_still.py clips
    python scripts/probe_trim_still.py replays --hold 4 --limit 40
    python scripts/probe_trim_still.py demo
    python scripts/probe_trim_still.py video ../shared/data/ntu/S001C001P001R001A001_rgb.avi \
        ../shared/data/videos/clean_and_jerk.mp4
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from sadvae.data.motion import StillTrim  # noqa: E402  (after the sys.path line)
from sadvae.paths import SHARED_DATA  # noqa: E402

SETS = ("msr_action3d", "nw_ucla", "utkinect", "hdm05", "bandai_namco")


def motion_statistic(joints: np.ndarray, fps: float, trim: StillTrim) -> np.ndarray:
    """Per frame (from ``lag`` on), the first person's ``joints``-th largest displacement over ``lag_s`` (metres):
    the frame moves when it exceeds the threshold (:func:`sadvae.data.motion.moving_span`)."""
    from sadvae.skeleton import NTUJoint as J

    person = joints[:, 0].astype(np.float64)
    lag = max(1, int(round(trim.lag_s * fps)))
    body = person - person[:, J.SPINE_BASE : J.SPINE_BASE + 1]
    disp = np.linalg.norm(body[lag:] - body[:-lag], axis=-1)
    return -np.partition(-disp, trim.joints - 1, axis=1)[:, trim.joints - 1]


def clips(args: argparse.Namespace) -> None:
    from sadvae.data.motion import trim_still
    from sadvae.data.preprocess import resample
    from sadvae.data.registry import DATASETS as REG
    from sadvae.data.registry import load_dataset

    trim = StillTrim(threshold_m=args.threshold)
    print(f"threshold {trim.threshold_m:g} m")
    print("| set | clips | touched | frames cut (mean / median) | clips losing > 25 % | duration, 5th percentile |")
    print("|---|---|---|---|---|---|")
    windows = []
    for name in SETS:
        ds = load_dataset(name, args.data_root / REG[name].default_root)
        short = np.percentile([seq.times()[-1] - seq.times()[0] for seq in ds.sequences], 5)  # every clip
        cut = []
        for seq in ds.sequences[:: args.every]:
            j = resample(seq.joints[:, :1], seq.times(), 30.0)
            kept, _ = trim_still(j, np.arange(len(j)) / 30.0, 30.0, trim)  # as the live pipeline would cut it
            cut.append(1.0 - len(kept) / len(j))
            if len(j) >= 96:
                windows.append(np.ascontiguousarray(j[:96]))
        c = np.array(cut)
        touched, mean, median = 100 * np.mean(c > 1e-9), 100 * c.mean(), 100 * np.median(c)
        big = 100 * np.mean(c > 0.25)
        print(f"| {name} | {len(c)} | {touched:.0f} % | {mean:.1f} / {median:.1f} % | {big:.0f} % | {short:.2f} s |")
    grid = np.arange(96) / 30.0
    start = time.perf_counter()
    for w in windows:
        trim_still(w, grid, 30.0, trim)
    ms = 1000.0 * (time.perf_counter() - start) / max(len(windows), 1)
    print(f"cost of the cut: {ms:.3f} ms per one-person 96-frame window (mean over {len(windows)} clip windows)")


def video(args: argparse.Namespace) -> None:
    from realtime.backends import BackendOptions
    from realtime.backends.live_model import load_live_model
    from realtime.events.publisher import PublisherOptions
    from realtime.pipeline import Pipeline, PipelineOptions
    from realtime.sources.video import open_source

    trim = StillTrim(threshold_m=args.threshold)
    for path in args.videos:
        model = load_live_model(None, "onnxruntime", options=BackendOptions(threads=1))
        fps = float(model.preprocess.fps)
        series: dict[float, float] = {}

        def on_batch(b, fps=fps, series=series) -> None:
            for j, t in zip(b.joints, b.times, strict=True):
                lag = max(1, int(round(trim.lag_s * fps)))
                newest = max(series, default=-np.inf)  # each frame once: the windows overlap
                for tt, v in zip(t[lag:], motion_statistic(j, fps, trim), strict=True):
                    if tt > newest + 1e-6:
                        series[float(tt)] = float(v)

        opts = PipelineOptions(handle_signals=False, publisher=PublisherOptions(endpoint="tcp://127.0.0.1:*"))
        Pipeline(open_source(path), model, ROOT / "labels" / "everyday.txt", opts, on_batch=on_batch).run()
        times = sorted(series)
        values = 100.0 * np.array([series[t] for t in times])
        print(f"{path}: motion statistic per frame, cm (threshold {100 * trim.threshold_m:g} cm), one row per second")
        for a in range(0, len(times), int(fps)):
            print(f"  {times[a]:5.1f} s: " + " ".join(f"{v:.0f}" for v in values[a : a + int(fps)]))


def demo(args: argparse.Namespace) -> None:
    from realtime.bench.accuracy.metrics import event_time_s
    from realtime.bench.accuracy.runner import RunOptions, run_pipeline
    from realtime.sources.demo import demo_source

    for min_s in (StillTrim().min_s, 0.5):
        trim = StillTrim(threshold_m=args.threshold, min_s=min_s)
        source = demo_source(loop=False, pace=False)
        res = run_pipeline(source, ROOT / "labels" / "demo.txt", RunOptions(trim_still=trim))
        starts = [f"{event_time_s(e):.1f} s {e['label']}" for e in res.events if e["type"] == "start"]
        print(f"minimum moving span {min_s:g} s: starts " + (", ".join(starts) or "none"))


def replays(args: argparse.Namespace) -> None:
    import tempfile

    from realtime.bench.accuracy.metrics import event_time_s
    from realtime.bench.accuracy.runner import RunOptions, heldout_stream, run_pipeline
    from realtime.sources.replay import ReplaySource

    cut = StillTrim(threshold_m=args.threshold)
    print(f"pose held {args.hold:g} s after each clip; cut: {cut}")
    print(
        "| set | clips | windows | true label decided | still decided after the motion (median) | starts while still |"
    )
    print("|---|---|---|---|---|---|")
    for name in args.datasets:
        stream = heldout_stream(name, args.data_root, args.hold, args.limit)
        variants = (("whole", False), ("cut", cut), ("cut, tails over 1 s whole", replace(cut, max_tail_s=1.0)))
        for label, trim in variants:
            with tempfile.TemporaryDirectory() as tmp:
                labels = Path(tmp) / "labels.txt"
                labels.write_text("\n".join(stream.class_names) + "\n", encoding="utf-8")
                src = ReplaySource.from_arrays(stream.joints, stream.times, name=name)
                res = run_pipeline(src, labels, RunOptions(trim_still=trim))
            after, still_starts, decided = [], 0, 0
            for seg in stream.segments:
                stop = seg.action[1] - args.hold  # the clip's last frame: the person stands still from here
                mine = sorted((e for e in res.events if seg.t0 <= event_time_s(e) < seg.t1), key=event_time_s)
                still_starts += sum(e["type"] == "start" and event_time_s(e) > stop for e in mine)
                starts = [e for e in mine if e["type"] == "start" and e["label"] == seg.truth]
                if not starts:
                    continue
                decided += 1
                tid = starts[-1]["track_id"]
                ends = [event_time_s(e) for e in mine if e["type"] == "end" and e["track_id"] == tid]
                ends = [t for t in ends if t >= event_time_s(starts[-1])]
                after.append(max((ends[0] if ends else seg.t1) - stop, 0.0))
            med = f"{np.median(after):.2f} s" if after else "-"
            row = (f"{name}, {label}", len(stream.segments), len(res.windows), decided, med, still_starts)
            print("| " + " | ".join(str(c) for c in row) + " |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--threshold", type=float, default=StillTrim().threshold_m, help="metres (default: the live default)"
    )
    ap.add_argument("--data-root", type=Path, default=SHARED_DATA)
    sub = ap.add_subparsers(dest="what", required=True)
    c = sub.add_parser("clips", help="how much of the shared sets' clips the rule would cut")
    c.add_argument("--every", type=int, default=3, help="every N-th clip (default 3)")
    v = sub.add_parser("video", help="the motion statistic per frame of real videos through the live pipeline")
    v.add_argument("videos", nargs="+", type=Path)
    sub.add_parser("demo", help="the synthetic demo's starts with the minimum moving span at 1 s and at 0.5 s")
    r = sub.add_parser("replays", help="how long the label stays after the motion stops, whole vs cut windows")
    r.add_argument("--datasets", nargs="+", default=["utkinect", "msr_action3d"])
    r.add_argument("--hold", type=float, default=4.0, help="seconds the last pose is held (default 4)")
    r.add_argument("--limit", type=int, default=40, help="first N test-side clips per set (default 40)")
    args = ap.parse_args(argv)
    if not args.threshold > 0:
        ap.error(f"--threshold must be > 0 metres, got {args.threshold}")
    if getattr(args, "every", 1) < 1 or getattr(args, "limit", 1) < 1 or getattr(args, "hold", 0.0) < 0:
        ap.error("--every and --limit must be >= 1 and --hold >= 0")
    from sadvae.errors import SadvaeError

    try:
        {"clips": clips, "video": video, "replays": replays, "demo": demo}[args.what](args)
    except SadvaeError as e:  # a missing video or dataset: one line, not a traceback
        print(f"probe_trim_still: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
