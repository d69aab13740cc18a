"""Frame-by-frame trace of the region-of-interest pose stage on a shrunk video (how docs/small_figures.md's tracker
faults were found).

For each frame: where the result came from (``full`` / ``crop`` / ``tile`` / ``none``), and every crop or tile the
stage tried, with the box MediaPipe returned there, its mean presence, and the checks that accept it (plausible box,
centre inside the crop, size against the tracked person's). Run it on an older commit's tree to see an old
behaviour (the script only reads the stage's attributes).

Usage::

    python scripts/roi_trace.py --video basketball --height 80 --mode wide --first 0 --last 30
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pose_cache import transform_frame, video_landmarks  # noqa: E402
from small_figures import CANVAS, VIDEOS, figure_height  # noqa: E402


def trace(video: str, height: int, mode: str, first: int, last: int) -> None:
    from realtime.pose.model import resolve_pose_model
    from realtime.pose.roi import RoiOptions, box_in_window, landmark_box, plausible_box
    from realtime.pose.stage import PoseOptions, RoiPoseEstimator
    from realtime.sources.video import VideoSource

    path, mirror = VIDEOS[video]
    # the figure height over the first 150 frames, as scripts/small_figures.py measures it (the same shrink factor)
    full = video_landmarks(path, mirror=mirror, max_frames=150)
    scale = height / figure_height(full)
    canvas = CANVAS if mode == "wide" else None
    model = resolve_pose_model(None)
    est = RoiPoseEstimator(PoseOptions(model_path=str(model.path), mirror=mirror), RoiOptions())
    tries: list[str] = []
    on_crop = est._on_crop

    def logged(image: np.ndarray, window: tuple[int, int, int], ts: int, tile: bool = False) -> list:
        found = on_crop(image, window, ts, tile)
        size = (image.shape[1], image.shape[0])
        box = landmark_box(found[0].image, size, found[0].presence) if found else None
        what = "detector" if tile else "tracking"
        if box is None:
            tries.append(f"    {what} window {window}: nobody")
        else:
            side = max(box[2] - box[0], box[3] - box[1])
            tries.append(
                f"    {what} window {window}: box {np.round(box).astype(int).tolist()}, presence "
                f"{np.nanmean(found[0].presence):.2f}, plausible {plausible_box(box)}, centred "
                f"{box_in_window(box, window)}, size {side:.0f} px (person {est._ref:.0f} px)"
            )
        return found

    est._on_crop = logged
    try:
        with VideoSource(path) as src:
            for frame in src:
                if frame.index > last:
                    break
                tries.clear()
                found = est(transform_frame(frame.image, scale, canvas), frame.timestamp_ms)
                if frame.index >= first:
                    runs = "" if found else f" (missed {est._missing} frame(s) in a row)"
                    print(f"frame {frame.index}: {est.last_source}{runs}")
                    print("\n".join(tries))
    finally:
        est.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--video", choices=list(VIDEOS), default="basketball")
    ap.add_argument("--height", type=int, default=80, help="figure height in pixels (default 80)")
    ap.add_argument("--mode", choices=("wide", "lowres"), default="wide")
    ap.add_argument("--first", type=int, default=0, help="first frame printed")
    ap.add_argument("--last", type=int, default=30, help="last frame run and printed")
    args = ap.parse_args(argv)
    if not 0 <= args.first <= args.last:
        ap.error(f"--first {args.first} and --last {args.last}: expected 0 <= first <= last")
    if not 20 <= args.height <= 1000:
        ap.error(f"--height {args.height}: expected a figure height of 20-1000 pixels")
    trace(args.video, args.height, args.mode, args.first, args.last)
    return 0


if __name__ == "__main__":
    sys.exit(main())
