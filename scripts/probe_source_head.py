"""Probe: two textbook changes to the sources' linear head of the cross-dataset ``linear`` / ``fused`` rows.

- ``rownorm``: each standardised feature scaled to the norm sqrt(d) (a cosine-style classifier): a clip's feature
  norm, which shifts with the capture system, no longer sets its confidence.
- ``balanced``: the cross-entropy weights every class equally (weights inversely proportional to class counts):
  the sources' classes have 10-450 clips each, so the head's prior leans to the large sets' classes.

Runs the cross-dataset protocol with ``sadvae.train.cross_dataset.fit_linear`` so changed (the NTU part untouched);
compare with the plain run (docs/cross_dataset.md round 10) on the source criterion:

    python scripts/probe_source_head.py rownorm --out runs/head_probe/rownorm      # ~1 min, features cached
    python scripts/probe_source_head.py balanced --out runs/head_probe/balanced
    python scripts/xd_selection_compare.py runs/retarget/xd_w96_plain runs/head_probe/rownorm --methods fused
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def fit(x: np.ndarray, y: np.ndarray, seed: int, mode: str, weight_decay: float = 1e-3, steps: int = 200):
    """``sadvae.train.cross_dataset.fit_linear`` with the probe's change (same optimiser and regularisation)."""
    import torch

    torch.manual_seed(seed)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    d = x.shape[1]

    def prep(z: np.ndarray) -> np.ndarray:
        s = (z - mu) / sd
        if mode == "rownorm":
            s = s * (np.sqrt(d) / np.maximum(np.linalg.norm(s, axis=1, keepdims=True), 1e-6))
        return s

    xt = torch.as_tensor(prep(x), dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.long)
    k = int(y.max()) + 1
    counts = np.bincount(y, minlength=k).astype(np.float64)
    weight = None
    if mode == "balanced":
        w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / (counts > 0).sum(), 0.0)
        weight = torch.as_tensor(w, dtype=torch.float32)
    lin = torch.nn.Linear(d, k)
    torch.nn.init.zeros_(lin.weight)
    torch.nn.init.zeros_(lin.bias)
    opt = torch.optim.LBFGS(lin.parameters(), lr=1.0, max_iter=steps, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        ce = torch.nn.functional.cross_entropy(lin(xt), yt, weight=weight)
        loss = ce + weight_decay * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    w_, b = lin.weight.detach().numpy().T.copy(), lin.bias.detach().numpy().copy()
    present = counts > 0

    def logits(z: np.ndarray) -> np.ndarray:
        out = prep(z) @ w_ + b
        out[:, ~present] = -1e9
        return out

    return logits


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("rownorm", "balanced"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    from sadvae.cli import main as sadvae_main
    from sadvae.train import cross_dataset as xd

    xd.fit_linear = lambda x, y, seed, weight_decay=1e-3, steps=200: fit(x, y, seed, args.mode, weight_decay, steps)
    argv = ["benchmark", "zsl", "--protocol", "cross-dataset", "--target", "all", "--methods", "linear", "fused"]
    argv += ["--window", "96", "--stride", "48", "--threads", str(args.threads)]
    return sadvae_main([*argv, "--out", str(args.out)])


if __name__ == "__main__":
    raise SystemExit(main())
