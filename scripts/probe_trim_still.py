"""What the still-pose cut (``sadvae-live --trim-still``, :mod:`sadvae.data.motion`) sees in clips and on video.

Two measurements behind docs/live.md ("Still poses cut from the window"):

- ``clips``: how much of each shared set's clips the rule would cut (every ``--every``-th clip, resampled to 30 fps):
  the share of clips it touches and of frames it removes. The sets are cut to their actions by their annotators,
  so the rule should remove little there: that is why it runs in the live pipeline only.
- ``video``: the motion statistic (the ``quantile`` of the joints' displacements over ``lag_s``, body frame, cm) per
  frame of a real video through the live pipeline (MediaPipe, mapping, buffer), to compare with the threshold: a
  person standing still should stay under it.

Usage (project root, real data in ../shared/data)::

    python scripts/probe_trim_still.py clips
    python scripts/probe_trim_still.py video ../shared/data/ntu/S001C001P001R001A001_rgb.avi \
        ../shared/data/videos/clean_and_jerk.mp4
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from sadvae.data.motion import StillTrim, moving_span  # noqa: E402  (after the sys.path line)
from sadvae.paths import SHARED_DATA  # noqa: E402

SETS = ("msr_action3d", "nw_ucla", "utkinect", "hdm05", "bandai_namco")


def motion_statistic(joints: np.ndarray, fps: float, trim: StillTrim) -> np.ndarray:
    """Per frame (from ``lag`` on), the statistic :func:`sadvae.data.motion.moving_span` thresholds, metres."""
    from sadvae.skeleton import NTUJoint as J

    person = joints[:, 0].astype(np.float64)
    lag = max(1, int(round(trim.lag_s * fps)))
    body = person - person[:, J.SPINE_BASE : J.SPINE_BASE + 1]
    return np.quantile(np.linalg.norm(body[lag:] - body[:-lag], axis=-1), trim.quantile, axis=1)


def clips(args: argparse.Namespace) -> None:
    from sadvae.data.preprocess import resample
    from sadvae.data.registry import DATASETS as REG
    from sadvae.data.registry import load_dataset

    trim = StillTrim(threshold_m=args.threshold)
    print(f"threshold {trim.threshold_m:g} m")
    print("| set | clips | touched | frames cut (mean / median) | clips losing > 25 % |")
    print("|---|---|---|---|---|")
    for name in SETS:
        ds = load_dataset(name, args.data_root / REG[name].default_root)
        cut = []
        for seq in ds.sequences[:: args.every]:
            j = resample(seq.joints[:, :1], seq.times(), 30.0)
            span = moving_span(j, 30.0, trim)
            cut.append(1.0 if span is None else 1.0 - (span[1] - span[0] + 1) / len(j))
        c = np.array(cut)
        touched, mean, median = 100 * np.mean(c > 1e-9), 100 * c.mean(), 100 * np.median(c)
        big = 100 * np.mean(c > 0.25)
        print(f"| {name} | {len(c)} | {touched:.0f} % | {mean:.1f} / {median:.1f} % | {big:.0f} % |")


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
    args = ap.parse_args(argv)
    clips(args) if args.what == "clips" else video(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
