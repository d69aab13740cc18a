#!/usr/bin/env python
"""A model bundle around the released Shift-GCN NTU weights, for the live loop and ``sadvae bench``.

Usage:
    python scripts/make_shiftgcn_bundle.py [--weights ntu120_xsub] [--out runs/shiftgcn_ntu120.pt]
        [--extra-classes N] [--window 64] [--stride 16] [--live-persons 1] [--export]

The bundle holds the pretrained Shift-GCN (frozen, its fc scores the NTU class names from
``../shared/data/labels``), optionally an extra linear head of N classes (``extra class 1..N``, random:
it stands in for the trained Kinect/mocap classes and costs what they will), an UNTRAINED SA-DVAE of the
default model's sizes (256 -> 64-d semantic latent, 384-d MiniLM text side) and a neutral gate. Its
window config is the NTU one (30 fps, ``--window`` frames, 2 slots, ``normalization="ntu"``), its
live config ``--stride`` model frames and ``--live-persons`` slots, and its terms record the
weights' CC BY-NC 4.0 licence.

It measures cost (every layer is the real size) and runs the pretrained NTU classes live; the
zero-shot side is untrained, so scores of new labels mean nothing. The file derives from CC BY-NC
weights: it is written under runs/ (ignored), never into the package. ``--export`` also writes
``<out>.onnx`` beside it (``sadvae export``: TensorRT operator check and ONNX Runtime parity), which
``sadvae-live`` and ``sadvae bench`` then use instead of exporting into their cache.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TERMS = {
    "license": "CC-BY-NC-4.0",
    "notice": "The Shift-GCN backbone weights are the released NTU RGB+D joint-stream checkpoint of Cheng et al. "
    "(GitHub kchengiva/Shift-GCN, CC BY-NC 4.0); this model derives from them and inherits the licence: "
    "non-commercial use only, with attribution.",
    "attribution": "Ke Cheng et al., Skeleton-Based Action Recognition with Shift Graph Convolutional Network, "
    "CVPR 2020; NTU RGB+D 120 (Liu et al., TPAMI 2019) and NTU RGB+D (Shahroudy et al., CVPR 2016).",
}


def build(weights: str, out: Path, extra: int, window: int, stride: int | None, live_persons: int | None) -> Path:
    import numpy as np
    import torch

    from sadvae.bundle import LiveConfig, save_bundle
    from sadvae.data.preprocess import PreprocessConfig
    from sadvae.evaluate import Gate
    from sadvae.models.extra_head import ExtraHeadBackbone
    from sadvae.models.pretrained import load_pretrained_shiftgcn, ntu_class_names, shiftgcn_weights_path
    from sadvae.models.sadvae import SADVAE, SADVAEConfig
    from sadvae.text import TextConfig

    torch.manual_seed(0)
    net = load_pretrained_shiftgcn(weights)
    names = list(ntu_class_names(net.cfg.num_classes))
    backbone = net
    if extra:
        backbone = ExtraHeadBackbone(net, torch.nn.Linear(net.feature_dim, extra))
        names += [f"extra class {i + 1}" for i in range(extra)]
    sadvae = SADVAE(SADVAEConfig(feature_dim=net.feature_dim, text_dim=384, semantic_dim=64, style_dim=8))
    gate = Gate(temperature=1.0, threshold=0.5, k=3, coef=np.zeros(6), intercept=0.0)
    return save_bundle(
        out,
        backbone=backbone.eval(),
        sadvae=sadvae.eval(),
        gate=gate,
        class_names=tuple(names),
        seen_classes=tuple(range(len(names))),
        unseen_classes=(),
        encoder_id="sentence-transformers/all-MiniLM-L6-v2",
        text_cfg=TextConfig(),
        preprocess=PreprocessConfig(window=window, fps=30.0, persons=2, normalization="ntu"),
        metrics={},
        terms=TERMS,
        live=LiveConfig(stride=stride, persons=live_persons),
        provenance={
            "backbone_weights": str(shiftgcn_weights_path(weights).name),
            "sadvae": "untrained (cost only)",
            "extra_head": f"{extra} random classes (cost only)" if extra else "none",
            "script": "scripts/make_shiftgcn_bundle.py",
        },
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", default="ntu120_xsub", help="Shift-GCN checkpoint short name or .pt path")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "shiftgcn_ntu120.pt")
    ap.add_argument("--extra-classes", type=int, default=0, help="size of a random extra head (default 0)")
    ap.add_argument("--window", type=int, default=64, help="window length T at 30 fps (a multiple of 4; default 64)")
    ap.add_argument("--stride", type=int, default=16, help="live stride in model frames (default 16)")
    ap.add_argument("--live-persons", type=int, default=1, help="live person slots: 1 (one-person graph) or 2")
    ap.add_argument("--export", action="store_true", help="also export <out>.onnx beside it")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    import torch

    torch.set_num_threads(2)
    path = build(args.weights, args.out, args.extra_classes, args.window, args.stride, args.live_persons)
    print(f"wrote {path}")
    if args.export:
        from sadvae.cli.export import format_report
        from sadvae.export import export_onnx

        print(format_report(export_onnx(path, path.with_suffix(".onnx"))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
