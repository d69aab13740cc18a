"""Probe: does test-time speed augmentation (each clip also played 0.8x and 1.25x as fast) help cross-dataset?

Performers of different datasets act at different speeds. The frozen Shift-GCN's clip feature and NTU logits are
averaged over the clip played at rates 0.8, 1 and 1.25 (resampled to 30 fps from frame times divided by the rate;
the rates fixed before any run), for every clip of every set, sources and target alike. Runs

    sadvae benchmark zsl --protocol cross-dataset --target all --methods ntu_conse linear fused --window 96 --stride 48

with that extractor and its own feature cache (``--feature-dir``, default ``runs/speed_tta/features``); compare with
the same command without it (``runs/retarget/xd_w96_plain``, docs/cross_dataset.md round 10) on the source criterion
(``python scripts/xd_selection_compare.py <plain run> <this run> --methods fused``) and the test sides.

    python scripts/probe_speed_tta.py --out runs/speed_tta/xd_w96     # ~8 min on the 2-core CPU (3x extraction)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RATES = (0.8, 1.0, 1.25)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "speed_tta" / "xd_w96")
    ap.add_argument("--feature-dir", type=Path, default=ROOT / "runs" / "speed_tta" / "features")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    from sadvae.data.preprocess import PreprocessConfig, preprocess, resample
    from sadvae.features import ShiftGCNExtractor

    def windows_at(self, seq, rate: float) -> list[np.ndarray]:
        cfg = PreprocessConfig(window=self.window, fps=30.0, persons=2, normalization="ntu")
        joints = resample(seq.joints, seq.times() / rate, cfg.fps) if seq.num_frames > 1 else seq.joints
        t, w = joints.shape[0], self.window
        starts = [0] if t <= w else sorted(set(range(0, t - w + 1, self.stride)) | {t - w})
        return [preprocess(joints[a : a + w], None, cfg) for a in starts]

    def call(self, seqs):
        feats, logits = [], []
        for rate in RATES:
            wins, owner = [], []
            for i, s in enumerate(seqs):
                w = windows_at(self, s, rate)
                wins += w
                owner += [i] * len(w)
            owner = np.asarray(owner)
            f, lg = self.encode(np.stack(wins))
            feats.append(np.stack([f[owner == i].mean(0) for i in range(len(seqs))]))
            logits.append(np.stack([lg[owner == i].mean(0) for i in range(len(seqs))]))
        return np.mean(feats, 0).astype(np.float32), np.mean(logits, 0).astype(np.float32)

    ShiftGCNExtractor.__call__ = call
    from sadvae.cli import main as sadvae_main

    argv = ["benchmark", "zsl", "--protocol", "cross-dataset", "--target", "all", "--methods", "ntu_conse", "linear"]
    argv += ["fused", "--window", "96", "--stride", "48", "--threads", str(args.threads)]
    return sadvae_main([*argv, "--feature-dir", str(args.feature_dir), "--out", str(args.out)])


if __name__ == "__main__":
    raise SystemExit(main())
