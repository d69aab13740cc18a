"""How accurate the pose stage's landmarks are for small people, with and without the region-of-interest crops.

``scripts/small_figures.py`` measures how often a small person's pose is found; this measures where its joints land.
The one video here with its own Kinect skeleton, NTU A001 (``S001C001P001R001A001_rgb.avi``, 103 frames, 1920x1080,
the person about 406 px tall), gives ground truth: Kinect's colour-image coordinates of each joint it tracked
(trackingState 2). The frames are shrunk so the person is N px tall, either as a low-resolution camera (``lowres``:
the whole frame shrunk) or as a wide shot (``wide``: the shrunk frame pasted at the centre of a grey 1280x720 frame),
and run through the full-frame stage and the ROI stage with MediaPipe's crop landmarker in VIDEO mode (the default:
it tracks between crops), the same with the crop window held in place while the person stays well inside it
(``RoiOptions.hold``), and in IMAGE mode (its detector on every crop). The error of each tracked limb joint
(shoulders, elbows, wrists, hips, knees, ankles) is the distance of the mapped NTU-25 image point from Kinect's, in
the original frame's pixels, as a share of the person's height; a frame without a pose counts in "found" only.

    python scripts/roi_accuracy.py --json runs/roi_accuracy.json      # about 1 min on 2 cores

One clip, one person, one motion (she lifts a cup): read it as a measurement of the stages, not of MediaPipe at large.
Kinect's own colour registration is off by a few pixels at 1080p, which is under 1 % of her height.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

CLIP = "ntu/S001C001P001R001A001"
FIGURE_PX = 406.0  # her median height in the 1080p frames (MediaPipe's landmarks; docs/small_figures.md's rule)
LIMBS = (4, 5, 6, 8, 9, 10, 12, 13, 14, 16, 17, 18)  # NTU-25 shoulders, elbows, wrists, hips, knees, ankles
WIDE = (1280, 720)


def errors(stage, frames, truth, tracked, prep, unmap) -> tuple[int, np.ndarray]:
    """(frames with a pose, the limb joints' errors as shares of the figure height) of one stage on the clip."""
    found, out = 0, []
    limbs = np.zeros(25, bool)
    limbs[list(LIMBS)] = True
    try:
        for t, f in enumerate(frames):
            img = prep(f.image)
            people = stage(img, f.timestamp_ms)
            if not people:
                continue
            found += 1
            pts, _ = people[0].ntu25_image(0.5)
            d = np.linalg.norm(unmap(pts * [img.shape[1], img.shape[0]]) - truth[t], axis=1)
            out.extend((d[tracked[t] & limbs] / FIGURE_PX).tolist())
    finally:
        stage.close()
    return found, np.asarray(out)


def main(argv: list[str] | None = None) -> int:
    import cv2
    from check_mapping import kinect_tracking_state
    from report_out import write_report

    from realtime.pose.roi import RoiOptions
    from realtime.pose.stage import PoseEstimator, PoseOptions, RoiPoseEstimator
    from realtime.sources.video import VideoSource
    from sadvae.data.ntu_skeleton import read_ntu_skeleton_color
    from sadvae.paths import SHARED_DATA

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--heights", type=int, nargs="+", default=[80, 120], help="person heights in px (default 80 120)")
    ap.add_argument("--json", type=Path, help="write the table as JSON")
    args = ap.parse_args(argv)
    video, skeleton = SHARED_DATA / f"{CLIP}_rgb.avi", SHARED_DATA / f"{CLIP}.skeleton"
    if not video.is_file() or not skeleton.is_file():
        sys.exit(f"roi_accuracy: needs {video} and {skeleton} (the shared NTU sample)")
    truth = read_ntu_skeleton_color(skeleton, max_persons=1)[:, 0]
    tracked = kinect_tracking_state(skeleton) == 2
    frames = list(VideoSource(str(video)))
    h, w = frames[0].image.shape[:2]
    opts = PoseOptions(download=False, mirror=True)  # NTU's colour video is mirrored (docs/mapping_check.md)
    full = replace(opts, roi=RoiOptions(enabled=False))
    rows = []

    def add(name, height, stage, prep, unmap):
        found, e = errors(stage, frames, truth, tracked, prep, unmap)
        row = {"input": name, "height_px": height, "found": found, "frames": len(frames)}
        if len(e):
            row |= {"median": float(np.median(e)), "mean": float(e.mean()), "p90": float(np.percentile(e, 90))}
        rows.append(row)
        print(json.dumps(row))

    add("original 1080p, full frame", int(FIGURE_PX), PoseEstimator(full), lambda im: im, lambda p: p)
    for height in args.heights:
        s = height / FIGURE_PX
        w2, h2 = round(w * s), round(h * s)
        ox, oy = (WIDE[0] - w2) // 2, (WIDE[1] - h2) // 2

        def shrink(im, w2=w2, h2=h2):
            return cv2.resize(im, (w2, h2), interpolation=cv2.INTER_AREA)

        def wide(im, ox=ox, oy=oy, w2=w2, h2=h2):
            canvas = np.full((WIDE[1], WIDE[0], 3), 128, np.uint8)
            canvas[oy : oy + h2, ox : ox + w2] = shrink(im)
            return canvas

        add("lowres, full frame", height, PoseEstimator(full), shrink, lambda p, s=s: p / s)
        add("wide, full frame", height, PoseEstimator(full), wide, lambda p, s=s, o=(ox, oy): (p - o) / s)
        for mode, hold in (("video", False), ("video", True), ("image", False)):
            stage = RoiPoseEstimator(opts, RoiOptions(crop_mode=mode, hold=hold))
            held = ", window held" if hold else ", window moving" if mode == "video" else ""
            name = f"wide, ROI crops ({mode} mode{held})"
            add(name, height, stage, wide, lambda p, s=s, o=(ox, oy): (p - o) / s)
    md = ["", "| input | height (px) | pose found | limb joint error, median / mean / p90 (% of height) |"]
    md.append("|---|---|---|---|")
    for r in rows:
        err = f"{100 * r['median']:.1f} / {100 * r['mean']:.1f} / {100 * r['p90']:.1f}" if "median" in r else "-"
        md.append(f"| {r['input']} | {r['height_px']} | {r['found']} / {r['frames']} | {err} |")
    write_report(rows, "\n".join(md), args.json, None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
