"""Probe: the single-dataset ZSL benchmark with the checkpoint pair's averaged NTU logits but the x-sub features only.

docs/cross_dataset.md, "Round 9": SA-DVAE does worse on the pair's 512-d features; this asks whether the averaged
logits alone help (``matched`` reads them). Runs ``sadvae benchmark`` with every argument given, the frozen clip
features cut to the first member's 256 columns (the pair's cache is read or filled as by
``--weights ntu120_xsub+ntu120_xsetup``)::

    python scripts/probe_ensemble_zsl.py benchmark zsl --dataset msr_action3d --unseen 5 --splits 3 \\
        --backbone shiftgcn-ntu120 --weights ntu120_xsub+ntu120_xsetup --variants tc \\
        --unseen-scorer matched sadvae fused --threads 1 --out runs/ens/msr_first
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sadvae.train.protocol as protocol  # noqa: E402
from sadvae.cli import main  # noqa: E402

FIRST = 256  # the x-sub Shift-GCN's feature width: the pair's first member

_frozen_clip_features = protocol.frozen_clip_features


def _first_member(ds, dataset, frozen, extractor=None):
    fs = _frozen_clip_features(ds, dataset, frozen, extractor)
    return dataclasses.replace(fs, feats=fs.feats[:, :FIRST].copy())


if __name__ == "__main__":
    protocol.frozen_clip_features = _first_member
    raise SystemExit(main(sys.argv[1:]))
