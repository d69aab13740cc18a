"""Where a small person's joints land on every shared video: the region-of-interest crops against the full-size frame.

``scripts/roi_accuracy.py`` has ground truth (Kinect) for one clip only. This takes MediaPipe on the full-size
frames of each video of ``scripts/small_figures.py`` as the reference, shrinks the videos as that script does (the
person 80-150 px tall, in a 1280x720 wide shot or as a low-resolution camera) and measures how far the limb
landmarks (shoulders, elbows, wrists, hips, knees, ankles) of the small versions land from the reference's, as a
share of the person's height, on the frames where both found the same person:

- ``lowres, full frame``: the whole frame shrunk, the plain pose stage (what a small image costs by itself);
- ``wide, ROI crops (...)``: the wide shot through the region-of-interest stage, one row per setting (``--variant``).

It reads and fills the landmark cache of ``scripts/small_figures.py`` (same keys), so rows that script has already
computed cost nothing.

    python scripts/roi_agreement.py --json runs/hold/roi_agreement.json

The reference is an estimate too (MediaPipe at 256-1080 px of height): read the rows against each other, not as
absolute errors. Two people: the basketball clip and the NTU hug hold two; a frame counts only where the small
version's torso lies within a third of the person's height of the reference's (the same person).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from pose_cache import video_landmarks  # noqa: E402
from report_out import write_report  # noqa: E402
from small_figures import CANVAS, ROI_CODE, VIDEOS, figure_height, roi_factory  # noqa: E402

LIMBS = (11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)  # MediaPipe's shoulders, elbows, wrists, hips, knees, ankles
TORSO = (11, 12, 23, 24)
VARIANTS = {  # RoiOptions fields of each row; the moving window was the default until 6 December 2026
    "video mode": {"hold": False},
    "video mode, window held": {"hold": True},
    "image mode": {"crop_mode": "image", "hold": False},
}


def _to_original(lm: dict, scale: float, canvas: tuple[int, int] | None, w0: int, h0: int) -> np.ndarray:
    """[T, 33, 2] image landmarks of a transformed video, in the original frame's pixels."""
    size = np.asarray(lm["frame_size"], np.float64)
    p = lm["image"].astype(np.float64) * size
    if canvas is not None:  # pose_cache.transform_frame pastes the shrunk frame at the canvas's centre
        w, h = max(1, round(w0 * scale)), max(1, round(h0 * scale))
        p = p - [(canvas[0] - w) // 2, (canvas[1] - h) // 2]
    return p / scale


def errors(ref: dict, ref_px: np.ndarray, small_px: np.ndarray, found: np.ndarray, height: float) -> np.ndarray:
    """Limb landmark distances / ``height`` on frames where both found the same person."""
    out = []
    for t in np.flatnonzero(ref["found"] & found):
        torso = np.linalg.norm(np.nanmean(small_px[t, TORSO], 0) - np.nanmean(ref_px[t, TORSO], 0))
        if not torso < height / 3:
            continue
        ok = np.zeros(33, bool)
        ok[list(LIMBS)] = True
        ok &= ref["presence"][t] >= 0.5
        out.extend((np.linalg.norm(small_px[t, ok] - ref_px[t, ok], axis=1) / height).tolist())
    return np.asarray(out)


def main(argv: list[str] | None = None) -> int:
    from realtime.pose.roi import RoiOptions

    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--heights", type=int, nargs="+", default=[80, 100, 120, 150], help="person heights in px")
    ap.add_argument("--frames", type=int, default=150, help="frames per video (default 150, as small_figures.py)")
    ap.add_argument("--videos", nargs="+", default=list(VIDEOS), choices=list(VIDEOS))
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--json", type=Path, help="write the rows as JSON")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    rows = []
    for name in args.videos:
        path, mirror = VIDEOS[name]
        if not path.is_file():
            print(f"{name}: {path} missing, skipped")
            continue
        ref = video_landmarks(path, mirror=mirror, max_frames=args.frames)
        w0, h0 = (int(v) for v in ref["frame_size"])
        height = figure_height(ref)
        ref_px = _to_original(ref, 1.0, None, w0, h0)
        for target in args.heights:
            s = target / height
            cases = [("lowres, full frame", None, {})]
            cases += [(f"wide, ROI crops ({v})", CANVAS, VARIANTS[v]) for v in args.variants]
            for label, canvas, change in cases:
                kw = dict(scale=s, canvas=canvas, mirror=mirror, max_frames=args.frames)
                if canvas is None:
                    lm = video_landmarks(path, **kw)
                else:
                    roi = RoiOptions(**change)
                    key = {"roi": dataclasses.asdict(roi), "roi_code": ROI_CODE}
                    lm = video_landmarks(path, estimator_factory=roi_factory(roi), extra_key=key, **kw)
                e = errors(ref, ref_px, _to_original(lm, s, canvas, w0, h0), lm["found"].astype(bool), height)
                row = {"video": name, "height_px": target, "input": label, "found": int(lm["found"].sum())}
                row |= {"frames": len(lm["found"]), "compared_joints": len(e)}
                if len(e):
                    row |= {"median": float(np.median(e)), "mean": float(e.mean()), "p90": float(np.percentile(e, 90))}
                rows.append(row)
                print(json.dumps(row), flush=True)
    labels = list(dict.fromkeys(r["input"] for r in rows))
    md = ["", "| video | input | " + " | ".join(f"{h} px" for h in args.heights) + " |"]
    md.append("|---|---|" + "---|" * len(args.heights))
    for name in dict.fromkeys(r["video"] for r in rows):
        for label in labels:
            cells = []
            for h in args.heights:
                r = next((r for r in rows if r["video"] == name and r["input"] == label and r["height_px"] == h), None)
                cells.append(f"{100 * r['p90']:.1f} ({r['found']})" if r and "p90" in r else "-")
            md.append(f"| {name} | {label} | " + " | ".join(cells) + " |")
    md += [
        "",
        "cells: p90 of the limb landmarks' distance from the full-size frame's, % of the person's height "
        f"(frames with a pose of the {args.frames})",
        "",
        "| input | median | mean | p90 | joints compared |",
        "|---|---|---|---|---|",
    ]
    for label in labels:
        sel = [r for r in rows if r["input"] == label and "p90" in r]
        if sel:
            p90 = np.mean([r["p90"] for r in sel])
            med, mean = np.mean([r["median"] for r in sel]), np.mean([r["mean"] for r in sel])
            n = sum(r["compared_joints"] for r in sel)
            md.append(f"| {label} | {100 * med:.1f} | {100 * mean:.1f} | {100 * p90:.1f} | {n} |")
    write_report(rows, "\n".join(md), args.json, None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
