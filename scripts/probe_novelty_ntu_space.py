"""Probe: the GZSL novelty rules' distance read in NTU-120 log-probability space instead of the feature space.

``sadvae benchmark zsl --gzsl stacking+novelty`` routes a clip to the zero-shot branch when its standardised 256-d
Shift-GCN feature is far from every seen class's mean. The same distance (``--novelty-distance``, default the
class mean) is here read after the frozen network's own NTU-120 layer: log_softmax(W f + b) of the clip's feature
(the layer is linear, so on a clip's mean feature it gives the NTU scores of the clip). A clip of an unseen class
that NTU names as some other NTU action may stand out more there. Everything else is the benchmark as it is; compare
with ``runs/novdist/<set>_centroid`` (docs/results.md, "Other distances from the seen classes"):

    python scripts/probe_novelty_ntu_space.py benchmark zsl --dataset nw_ucla --unseen 3 --splits 3 \\
        --backbone shiftgcn-ntu120 --variants tc --unseen-scorer matched --gzsl stacking+novelty novelty stacking \\
        --aux-classes --threads 1 --out runs/novntu/nw_ucla
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    import torch

    from sadvae import evaluate
    from sadvae.cli import main as sadvae_main
    from sadvae.models.pretrained import load_pretrained_shiftgcn
    from sadvae.train import protocol

    fc = load_pretrained_shiftgcn("ntu120_xsub").fc
    w, b = fc.weight.detach().numpy().astype(np.float64), fc.bias.detach().numpy().astype(np.float64)
    if w.shape[1] != 256:
        raise SystemExit(f"expected the x-sub checkpoint's 256-d features, got {w.shape}")
    del torch

    def ntu_space(feats: np.ndarray) -> np.ndarray:
        z = np.asarray(feats, np.float64) @ w.T + b
        z -= z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    plain_fit, plain_call = evaluate.fit_seen_distance, evaluate.SeenDistance.__call__

    def fit(train_feats, train_labels, kind="centroid"):
        return plain_fit(ntu_space(train_feats), train_labels, kind)

    evaluate.fit_seen_distance = fit
    evaluate.SeenDistance.__call__ = lambda self, feats: plain_call(self, ntu_space(feats))
    assert protocol.fit_novelty is evaluate.fit_novelty  # which reads evaluate.fit_seen_distance at call time
    return sadvae_main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
