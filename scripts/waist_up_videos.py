"""The real videos as a desk webcam frames people: cut from the head to just above the hips.

For each clip of an annotation file (``benchmarks/videos.toml``) the people's MediaPipe image landmarks over the clip
give one fixed crop: the columns every landmark of the upper body reached (with a margin), the rows from the highest
upper-body landmark (a hand raised overhead included) down to above the highest the hips came (a margin of
``--cut`` torso lengths, so the hips stay out of the frame). The crop is scaled to a 480-pixel height and written as
MJPG; a copy of the annotations names the cut clips with every pairing and judgement unchanged, so that

    python scripts/waist_up_videos.py --out runs/waist/videos
    sadvae bench accuracy --annotations runs/waist/videos/videos.toml --out runs/waist/videos_bench

scores the live system on people seen from the waist up, by the same rules as the whole-frame clips (false events on
the "none of these" pairings, a correct event on the labelled ones). Clips whose camera moves (a hand-held pan) get
no fixed crop and are left out (``--clips`` chooses).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CLIPS = ("tai_chi", "clean_and_jerk", "drink_water", "hug")  # basketball: a panning hand-held camera
UPPER = list(range(23))  # MediaPipe landmarks 0-22: face, shoulders, arms, hands
HIPS = [23, 24]
SHOULDERS = [11, 12]


def crop_box(landmarks: list[np.ndarray], size: tuple[int, int], margin: float, cut: float) -> tuple[int, ...]:
    """(x0, y0, x1, y1) in pixels from every person's image landmarks ([33, 2] normalised, one array per person and
    frame) of a clip of frames ``size`` (width, height): see the module docstring."""
    w, h = size
    pts = np.stack(landmarks) * [w, h]  # (N, 33, 2)
    upper = pts[:, UPPER]
    torso = np.median(np.abs(pts[:, HIPS, 1].mean(1) - pts[:, SHOULDERS, 1].mean(1)))
    x0, x1 = upper[..., 0].min() - margin * torso, upper[..., 0].max() + margin * torso
    y0 = upper[..., 1].min() - margin * torso
    y1 = pts[:, HIPS, 1].min() - cut * torso  # above the highest the hips came
    x0, y0 = max(0, int(x0)), max(0, int(y0))
    x1, y1 = min(w, int(np.ceil(x1))), min(h, int(y1))
    if y1 - y0 < 0.5 * torso or x1 - x0 < 0.5 * torso:
        raise ValueError(f"no upper-body crop: box {(x0, y0, x1, y1)} for a torso of {torso:.0f} px")
    return x0, y0, x1, y1


def main(argv: list[str] | None = None) -> int:
    from sadvae.errors import SadvaeError
    from sadvae.paths import SHARED_DATA

    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--annotations", type=Path, default=ROOT / "benchmarks" / "videos.toml")
    ap.add_argument("--data-root", type=Path, default=SHARED_DATA, help="the clips' root (default ../shared/data)")
    ap.add_argument("--clips", nargs="+", default=list(DEFAULT_CLIPS), help=f"default: {' '.join(DEFAULT_CLIPS)}")
    ap.add_argument("--margin", type=float, default=0.25, help="margin around the upper body, in torso lengths")
    ap.add_argument("--cut", type=float, default=0.12, help="how far above the highest hips the frame ends (torsos)")
    ap.add_argument("--out", type=Path, required=True, help="folder for the cut clips and their videos.toml")
    args = ap.parse_args(argv)
    try:
        return _cut(args)
    except (SadvaeError, ValueError) as e:  # a bad annotation file, a clip without a person: one line, no traceback
        print(f"waist_up_videos: {e}", file=sys.stderr)
        return 2


def _cut(args: argparse.Namespace) -> int:
    import cv2
    import tomllib

    from realtime.bench.accuracy.annotations import load_annotations
    from realtime.pose.roi import RoiOptions
    from realtime.pose.stage import PoseEstimator, PoseOptions
    from realtime.sources.video import VideoSource

    clips = {c.name: c for c in load_annotations(args.annotations, args.data_root, ROOT)}
    unknown = sorted(set(args.clips) - set(clips))
    if unknown:
        raise ValueError(f"{', '.join(unknown)} not in {args.annotations}; known: {', '.join(clips)}")
    doc = tomllib.loads(args.annotations.read_text(encoding="utf-8"))
    args.out.mkdir(parents=True, exist_ok=True)
    entries = []
    for name in args.clips:
        clip = clips[name]
        source = VideoSource(str(clip.path))
        frames = list(source)
        opts = PoseOptions(download=False, mirror=clip.mirror, num_poses=clip.num_poses, roi=RoiOptions(enabled=False))
        stage = PoseEstimator(opts)
        try:
            marks = [p.image for f in frames for p in stage(f.image, f.timestamp_ms)]
        finally:
            stage.close()
        h, w = frames[0].image.shape[:2]  # the landmarks are in the frame as given, mirrored clips included
        if not marks:
            raise ValueError(f"{name}: MediaPipe found nobody in {clip.path}; no crop to make")
        x0, y0, x1, y1 = crop_box(marks, (w, h), args.margin, args.cut)
        scale = 480 / (y1 - y0)
        size = (int(round((x1 - x0) * scale / 2)) * 2, 480)
        path = args.out / f"{name}_waist_up.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), float(source.fps or 30.0), size)
        for f in frames:
            writer.write(cv2.resize(f.image[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA))
        writer.release()
        print(f"{name}: {len(marks)} poses in {len(frames)} frames; crop x {x0}-{x1}, y {y0}-{y1} of {w}x{h} -> {path}")
        entry = next(c for c in doc["clip"] if c["name"] == name)
        entries.append({**entry, "name": f"{name}_waist_up", "path": str(path.resolve())})
    toml = [f"# {args.annotations.name} cut to waist-up views by scripts/waist_up_videos.py", "version = 1", ""]
    for e in entries:
        toml.append("[[clip]]")
        for key, value in e.items():
            if key == "judge":
                continue
            toml.append(f"{key} = {_toml(value)}")
        toml.append("judge = [")
        for j in e["judge"]:
            toml.append("  {" + ", ".join(f"{k} = {_toml(v)}" for k, v in j.items()) + "},")
        toml += ["]", ""]
    (args.out / "videos.toml").write_text("\n".join(toml), encoding="utf-8")
    load_annotations(args.out / "videos.toml", args.data_root, ROOT)  # what the benchmark will read parses
    print(f"wrote {args.out / 'videos.toml'}: sadvae bench accuracy --annotations {args.out / 'videos.toml'} --out ...")
    return 0


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


if __name__ == "__main__":
    sys.exit(main())
