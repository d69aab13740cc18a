"""Probe: does retargeting every skeleton to one body (NTU's bone lengths) close the dataset and camera gaps?

Every bone keeps its direction and gets the median length of that bone over the shared NTU RGB+D samples' first
persons (the data the released Shift-GCN was trained on), walking the kinematic tree from the spine base; absent
persons stay zeros. Two measurements, each against the same code path without retargeting:

    python scripts/probe_retarget.py a001        # the paired A001 clip: Kinect and MediaPipe skeletons, ~1 min

``a001`` also rebuilds the depth of MediaPipe's arm joints from the image x/y and the person's own bone lengths
(median over the clip; each bone keeps the sign of its depth step), a camera-side variant of the same idea, and
gives each input's 3D error against the Kinect skeleton (cm, arms and all joints, ``camera_gap.error_3d``).
    python scripts/probe_retarget.py cross-dataset --out runs/retarget/xd_w96    # ~3 min with a 2-core CPU

``cross-dataset`` runs ``sadvae benchmark zsl --protocol cross-dataset --target all --methods ntu_conse linear fused
--window 96 --stride 48`` with retargeting applied inside ``sadvae.data.preprocess.preprocess`` (its own feature
cache, ``--feature-dir``, default ``runs/retarget/features``, so the normal caches are never touched); compare with
the same command's run without it (docs/cross_dataset.md round 4, ``runs/tta/w96``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from sadvae.paths import SHARED_DATA  # noqa: E402
from sadvae.skeleton import NUM_JOINTS, PARENTS  # noqa: E402


def tree_order() -> list[int]:
    """Joints with every parent before its children."""
    order, frontier = [], [PARENTS.index(-1)]
    while frontier:
        j = frontier.pop(0)
        order.append(j)
        frontier += [c for c, p in enumerate(PARENTS) if p == j]
    return order


def retarget(joints: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """[..., 25, 3] -> the same motion with bone lengths ``lengths`` [25] (the bone from each joint's parent)."""
    x = np.asarray(joints, np.float32)
    out = x.copy()
    for c in tree_order()[1:]:
        bone = x[..., c, :] - x[..., PARENTS[c], :]
        norm = np.linalg.norm(bone, axis=-1, keepdims=True)
        step = np.where(norm > 1e-6, bone * (lengths[c] / np.maximum(norm, 1e-6)), bone)
        out[..., c, :] = out[..., PARENTS[c], :] + step
    out[np.abs(x).max(axis=(-2, -1)) == 0] = 0.0
    return out


def ntu_bone_lengths() -> np.ndarray:
    """[25] median length of each joint's bone over the shared NTU samples' first persons (root: 0)."""
    from sadvae.data.ntu import read_ntu_skeleton

    rows = []
    for f in sorted((SHARED_DATA / "ntu").glob("*.skeleton")):
        j = read_ntu_skeleton(f, max_persons=1).joints[:, 0]
        j = j[np.abs(j).max((1, 2)) > 0]
        rows.append(np.stack([np.linalg.norm(j[:, c] - j[:, max(p, 0)], axis=-1) for c, p in enumerate(PARENTS)], 1))
    if not rows:
        raise SystemExit(f"no NTU samples under {SHARED_DATA / 'ntu'}")
    lengths = np.median(np.concatenate(rows), 0).astype(np.float32)
    lengths[PARENTS.index(-1)] = 0.0
    assert lengths.shape == (NUM_JOINTS,)
    return lengths


# (parent, child) of the arm bones, shoulder to hand tip and thumb, both sides (NTU-25 indices)
ARM_BONES = ((4, 5), (5, 6), (6, 7), (7, 21), (7, 22), (8, 9), (9, 10), (10, 11), (11, 23), (11, 24))


def depth_from_lengths(joints: np.ndarray, depth_axis: int = 2) -> np.ndarray:
    """[T, 25, 3] with the arm joints' depth rebuilt from x/y and each bone's median length over the frames."""
    j = np.array(joints, np.float32)
    for p, c in ARM_BONES:
        length = np.nanmedian(np.linalg.norm(j[:, c] - j[:, p], axis=-1))
        d = j[:, c] - j[:, p]
        planar = np.sum(np.delete(d, depth_axis, axis=-1) ** 2, axis=-1)
        step = np.sqrt(np.maximum(length**2 - planar, 0.0))
        j[:, c, depth_axis] = j[:, p, depth_axis] + np.where(d[:, depth_axis] >= 0, 1.0, -1.0) * step
    return j


def a001(lengths: np.ndarray) -> None:
    import camera_gap as cg
    from pose_cache import video_landmarks

    from sadvae.data.ntu import read_ntu_skeleton

    lm = video_landmarks(cg.DEFAULT_VIDEO, mirror=True)
    kin = read_ntu_skeleton(cg.DEFAULT_SKELETON, max_persons=1).joints[:, 0]
    mp = cg.fill_missing(cg.skeleton_joints(lm, "image"))
    rec = cg.ShiftGCNRecogniser()
    target = rec.names.index("drink water")
    tracked = cg.kinect_tracking_state(cg.DEFAULT_SKELETON) == 2
    print("| input | Shift-GCN, clip | Shift-GCN, live T=96 | 3D error arms / all (cm) |\n|---|---|---|---|")
    rows = [("Kinect v2", kin), ("MediaPipe (live mapping)", mp)]
    for name, x in rows:
        variants = [("", x), (", retargeted", retarget(x, lengths))]
        if x is mp:
            variants.append((", arm depth from its own bone lengths", depth_from_lengths(mp)))
        for tag, y in variants:
            err = cg.error_3d(y, kin, tracked)
            cells = []
            for proto in ("clip", "live"):
                p = rec.probs(y, 30.0, proto)
                rank = int((p > p[target]).sum()) + 1
                cells.append(f"{p[target]:.2f} (#{rank}); top {rec.names[int(p.argmax())]} {p.max():.2f}")
            cells.append(f"{err['arms']:.1f} / {err['all']:.1f}")
            print(f"| {name}{tag} | " + " | ".join(cells) + " |")


def cross_dataset(lengths: np.ndarray, out: Path, feature_dir: Path, threads: int) -> int:
    pp = importlib.import_module("sadvae.data.preprocess")  # the package re-exports a function of the same name
    plain = pp.preprocess

    def retargeted(joints, times, cfg, crop="center", rng=None):
        return plain(retarget(joints, lengths), times, cfg, crop, rng)

    pp.preprocess = retargeted
    from sadvae.cli import main

    argv = ["benchmark", "zsl", "--protocol", "cross-dataset", "--target", "all", "--methods", "ntu_conse", "linear"]
    argv += ["fused", "--window", "96", "--stride", "48", "--threads", str(threads), "--feature-dir", str(feature_dir)]
    return main([*argv, "--out", str(out)])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("a001", "cross-dataset"))
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "retarget" / "xd_w96")
    ap.add_argument("--feature-dir", type=Path, default=ROOT / "runs" / "retarget" / "features")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    lengths = ntu_bone_lengths()
    print("NTU bone lengths (m):", " ".join(f"{v:.3f}" for v in lengths))
    if args.what == "a001":
        a001(lengths)
        return 0
    return cross_dataset(lengths, args.out, args.feature_dir, args.threads)


if __name__ == "__main__":
    raise SystemExit(main())
