"""Probe: does the frozen NTU-120 Shift-GCN read MediaPipe skeletons of real people better with its BatchNorm
statistics re-estimated on *other* MediaPipe recordings? (AdaBN for the camera gap; not part of any model.)

cross_dataset.md round 22 found a Kinect v1 set's own statistics lift NTU ConSE on that set. The camera gap
(camera_gap.md) is a change of input statistics too. The only real videos with an NTU action here are the NTU
drink-water video (A001) and the NTU hug sample (A055); each is scored with the statistics of the *other* four
shared videos' MediaPipe skeletons (leave one video out: no window of the scored clip is read), against NTU's
released statistics. Recordings come from the live pipeline's own mapping:

    sadvae-live --video VIDEO --labels labels/everyday.txt --no-display [--mirror] [--num-poses 2] \
        --record-skeleton runs/camstats/NAME.npz     # a new file: an earlier recording is never overwritten
    python scripts/probe_camera_adabn.py --recordings runs/camstats --json runs/camstats/probe.json

Nothing is chosen on these two clips; the probe says only whether the lever is worth building.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from probe_adabn import adapt_bn  # noqa: E402
from report_out import write_report  # noqa: E402

TRUTH = {"drink_water": "drink water", "hug": "hugging other person"}


def main(argv: list[str] | None = None) -> int:
    import torch

    from realtime.sources.replay import load_recording
    from sadvae.data.ntu import read_ntu_skeleton
    from sadvae.data.record import SkeletonSequence
    from sadvae.features import shiftgcn_extractor
    from sadvae.models.pretrained import resolve_shiftgcn_weights
    from sadvae.models.shiftgcn import shiftgcn_features
    from sadvae.train.cross_dataset import _ntu_names, _softmax, shared_data_root

    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--recordings", type=Path, default=ROOT / "runs" / "camstats")
    ap.add_argument("--weights", default="ntu120_xsub")
    ap.add_argument("--window", type=int, default=96)
    ap.add_argument("--stride", type=int, default=8)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    ext = shiftgcn_extractor(args.weights, args.window, args.stride, resolve=resolve_shiftgcn_weights)
    names = [n.lower() for n in _ntu_names()]
    wins: dict[str, np.ndarray] = {}
    for f in sorted(args.recordings.glob("*.npz")):
        joints, times = load_recording(f)
        seq = SkeletonSequence(joints=joints, fps=30.0, source=str(f), timestamps=times - times[0])
        wins[f.stem] = np.stack(ext.windows(seq)).astype(np.float32)
    kinect = read_ntu_skeleton(shared_data_root() / "ntu/S001C001P001R001A001.skeleton")
    wins["drink_water (Kinect v2)"] = np.stack(ext.windows(kinect)).astype(np.float32)

    def rank(model, w: np.ndarray, truth: str) -> tuple[int, float, str]:
        _, logits = shiftgcn_features(model, w, 16, threads=None)
        p = _softmax(logits).mean(0)
        k = names.index(truth)
        return int((p > p[k]).sum()) + 1, float(p[k]), names[int(p.argmax())]

    head = "| clip | truth | released statistics | other videos' MediaPipe statistics | all five videos' |"
    rows, md = [], ["", head, "|---|---|---|---|---|"]
    every = np.concatenate([w for k, w in wins.items() if "Kinect" not in k])
    adapted_all = adapt_bn(ext.model, every)
    for clip in ("drink_water", "hug", "drink_water (Kinect v2)"):
        truth = TRUTH[clip.split(" ")[0]]
        others = np.concatenate([w for k, w in wins.items() if k != clip.split(" ")[0] and "Kinect" not in k])
        row = {"clip": clip, "truth": truth, "windows": len(wins[clip]), "stat_windows": len(others)}
        for tag, model in (("released", ext.model), ("others", adapt_bn(ext.model, others)), ("all", adapted_all)):
            r, p, top = rank(model, wins[clip], truth)
            row[tag] = {"rank": r, "p": round(p, 3), "top": top}
        rows.append(row)
        print(row, flush=True)
        cells = [f"#{row[t]['rank']} ({row[t]['p']:.2f}; top {row[t]['top']})" for t in ("released", "others", "all")]
        md.append(f"| {clip} | {truth} | " + " | ".join(cells) + " |")
    write_report(rows, "\n".join(md), args.json, None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
