"""Probe: does the frozen NTU-120 Shift-GCN read another capture system's skeletons better with its BatchNorm
statistics re-estimated on that system's own (unlabelled) windows? (AdaBN; not part of any protocol yet.)

Every model here is the released NTU-120 Shift-GCN, whose BatchNorm layers normalise with NTU's Kinect v2 statistics.
The Kinect v1 sets (MSR Action3D, NW-UCLA, UTKinect) come from another sensor, other rooms and people. This script
re-estimates only the BatchNorm running means and variances (no weight changes, no labels) on the windows of a
set's **training side**, then scores the set's **test side** with NTU-120 ConSE (the cross-dataset protocol's
``ntu_conse`` row: no training on the set at all), with the released statistics and with the adapted ones:

    python scripts/probe_adabn.py --json runs/adabn/probe.json        # 5-10 min on 2 cores

It answers one question: is a set's own statistics a lever worth building into the protocol (each set normalised by
its own training side, sources and target alike) and, for the live model, into a "calibrate to my camera" step.
The test side's labels are used only to score; nothing is chosen on them.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from report_out import write_report  # noqa: E402

SETS = ("msr_action3d", "nw_ucla", "utkinect")


def adapt_bn(model, windows: np.ndarray, batch: int = 16):
    """A copy of ``model`` whose BatchNorm running statistics are the mean over ``windows`` [N, 3, T, 25, 2]
    (cumulative average over batches; weights unchanged)."""
    import torch

    adapted = copy.deepcopy(model)
    adapted.cache_empty_slot = False  # the empty person slot goes through the network as in NTU training
    bns = [m for m in adapted.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over every batch
    adapted.eval()
    for m in bns:
        m.train()
    with torch.no_grad():
        for i in range(0, len(windows), batch):
            adapted(torch.from_numpy(windows[i : i + batch]))
    adapted.eval()
    adapted._f0 = {}  # the empty slot's cached feature was made with the released statistics
    adapted.cache_empty_slot = True
    return adapted


def main(argv: list[str] | None = None) -> int:
    import torch

    from sadvae.data.registry import DATASETS
    from sadvae.data.splits import test_side_mask
    from sadvae.features import shiftgcn_extractor
    from sadvae.models.pretrained import resolve_shiftgcn_weights
    from sadvae.models.shiftgcn import shiftgcn_features
    from sadvae.text import TextConfig, TextEncoder
    from sadvae.train.cross_dataset import _ntu_names, _softmax, conse_scores, shared_data_root

    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=list(DATASETS))
    ap.add_argument("--weights", default="ntu120_xsub")
    ap.add_argument("--window", type=int, default=96)
    ap.add_argument("--stride", type=int, default=48)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    ext = shiftgcn_extractor(args.weights, args.window, args.stride, resolve=resolve_shiftgcn_weights)
    enc = TextEncoder(TextConfig())
    ntu = _ntu_names()
    ntu_emb = enc.encode_labels(ntu)
    rows = []
    for name in args.sets:
        t0 = time.time()
        ds = DATASETS[name].loader(shared_data_root() / DATASETS[name].default_root)
        test = test_side_mask(ds, name)
        wins, owner = [], []
        for i, seq in enumerate(ds.sequences):
            for w in ext.windows(seq):
                wins.append(w)
                owner.append(i)
        wins, owner = np.stack(wins).astype(np.float32), np.asarray(owner)
        train_w = wins[~test[owner]]
        test_rows = np.flatnonzero(test[owner])
        label_emb = enc.encode_labels(list(ds.class_names))
        truth = np.array([ds.sequences[i].label for i in np.flatnonzero(test)])
        row = {"set": name, "train_windows": len(train_w), "test_windows": len(test_rows), "test_clips": len(truth)}
        for tag, model in (("released", ext.model), ("adapted", adapt_bn(ext.model, train_w))):
            _, logits = shiftgcn_features(model, wins[test_rows], 16, threads=None)
            clip_logits = np.stack([logits[owner[test_rows] == i].mean(0) for i in np.flatnonzero(test)])
            scores = conse_scores(_softmax(clip_logits), ntu_emb, label_emb)
            order = np.argsort(-scores, 1)
            row[f"{tag}_top1"] = float((order[:, 0] == truth).mean())
            row[f"{tag}_top5"] = float((order[:, :5] == truth[:, None]).any(1).mean())
        row["seconds"] = round(time.time() - t0, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    md = [
        "",
        "| set | test clips | ConSE top-1 / top-5, released BN statistics | adapted on the training side |",
        "|---|---|---|---|",
    ]
    for r in rows:
        md.append(
            f"| {r['set']} | {r['test_clips']} | {100 * r['released_top1']:.1f} / {100 * r['released_top5']:.1f} | "
            f"{100 * r['adapted_top1']:.1f} / {100 * r['adapted_top5']:.1f} |"
        )
    write_report(rows, "\n".join(md), args.json, None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
