"""Probes around the two-checkpoint backbone of the cross-dataset protocol (docs/cross_dataset.md, "Round 9").

Each probe scores ``fused`` on every target's test side with features built from the per-clip caches of
``sadvae benchmark --protocol cross-dataset --weights ntu120_xsub+ntu120_xsetup`` (extracted on a cache miss) and
prints, per target, the test top-1 and the source-LODO criterion the protocol selects by (never the target). A
probe is a variant to compare by that criterion with the pair at T = 96 (criterion 42.6 / 33.3 / 30.9 / 37.3 /
37.8), not a result.

- ``ntu60``: the NTU-60 x-sub and x-view checkpoints' features beside the pair's (1024-d); logits: the pair's.
- ``scales``: the pair's T = 96 and T = 300 clip features side by side, their logits averaged.
- ``weight-decay``: the pair at T = 96 with the sources' head fitted at weight decay 1e-4 and 1e-2 (the protocol's
  is 1e-3).

    python scripts/xd_ensemble_probes.py ntu60 scales weight-decay     # minutes with the features cached
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sadvae.train import cross_dataset as xd  # noqa: E402

SETS = ("msr_action3d", "nw_ucla", "utkinect", "hdm05", "bandai_namco")
PAIR = "ntu120_xsub+ntu120_xsetup"


def _features(window: int, weights: str = PAIR) -> tuple[xd.CrossDatasetConfig, dict]:
    cfg = xd.CrossDatasetConfig(target=SETS[0], window=window, stride=window // 2, weights=weights)
    return cfg, xd.load_features(cfg, SETS, xd.feature_extractor(cfg))


def _score(name: str, cfg: xd.CrossDatasetConfig, feats: dict) -> None:
    """``fused`` on every target with the others as sources: test top-1 and the selection criterion."""
    text, ntu, cells = xd._Text(cfg.text), xd._ntu_names(), []
    for t in SETS:
        test = feats[t].subset(feats[t].test_side & (feats[t].labels >= 0))
        labels = [xd.LabelEntry(c) for c in feats[t].class_names]
        sources = {n: feats[n] for n in SETS if n != t}
        s, info = xd._method_scores("fused", cfg, test, sources, labels, text, ntu)
        crit = max(g["mean_top1"] for g in info["selection"]["grid"])
        cells.append(f"{t} {100 * float((s.argmax(1) == test.labels).mean()):.1f} (criterion {100 * crit:.1f})")
    print(f"{name}: " + " | ".join(cells), flush=True)


def probe_ntu60() -> None:
    cfg, pair = _features(96)
    extra = [_features(96, w)[1] for w in ("ntu60_xsub", "ntu60_xview")]
    feats = {
        n: dataclasses.replace(f, feats=np.concatenate([f.feats] + [e[n].feats for e in extra], 1))
        for n, f in pair.items()
    }
    _score("pair + NTU-60 x-sub + x-view features, T 96", cfg, feats)


def probe_scales() -> None:
    cfg, f96 = _features(96)
    _, f300 = _features(300)
    feats = {
        n: dataclasses.replace(
            f, feats=np.concatenate([f.feats, f300[n].feats], 1), logits=(f.logits + f300[n].logits) / 2
        )
        for n, f in f96.items()
    }
    _score("pair, T 96 + T 300 features", cfg, feats)


def probe_weight_decay() -> None:
    cfg, feats = _features(96)
    fit = xd.fit_linear
    try:
        for wd in (1e-4, 1e-2):
            xd.fit_linear = functools.partial(fit, weight_decay=wd)
            _score(f"pair, T 96, sources' head weight decay {wd:g}", cfg, feats)
    finally:
        xd.fit_linear = fit


PROBES = {"ntu60": probe_ntu60, "scales": probe_scales, "weight-decay": probe_weight_decay}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("probes", nargs="+", choices=tuple(PROBES))
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    for name in args.probes:
        PROBES[name]()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
