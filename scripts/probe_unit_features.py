"""Probe: features of Shift-GCN's earlier units, pooled, beside (or instead of) the last unit's.

The frozen network's last unit is trained to separate NTU's 120 classes; earlier units describe motion more
generally, and may carry what the target sets' actions need across capture systems (the open lever "features that
separate the targets' actions", docs/cross_dataset.md). One extraction pools every unit's output (mean over time
and joints, person slots averaged as ``ShiftGCN.forward_features`` does, empty slots included) for every clip of
the five sets (x-sub NTU-120 checkpoint, T = 96 windows every 48 frames, clip = window mean):
``runs/features/units_pooled``. Its last 256 columns are the usual feature (checked against the plain cache).

Two measurements on that cache:

- ``probe``: a linear probe per unit set, trained on each set's own training side, top-1 on its test side: how
  much of each set's distinctions a feature holds (not a zero-shot number);
- ``xd UNITS``: the cross-dataset protocol (``sadvae benchmark zsl --protocol cross-dataset``, methods ``linear``
  and ``fused``, every setting chosen on the sources) with the clip feature = the given units side by side; compare
  with the plain run by the source criterion (``scripts/xd_selection_compare.py``).

    python scripts/probe_unit_features.py probe                       # extracts first (~10-20 min on 2 cores)
    python scripts/probe_unit_features.py xd 9 10 --out runs/units/xd_u9_10
    python scripts/xd_selection_compare.py runs/retarget/xd_w96_plain runs/units/xd_u9_10 --methods fused
    python scripts/probe_unit_features.py zsl 8 9 10 --dataset msr_action3d --unseen 5 --splits 3 \\
        --backbone shiftgcn-ntu120 --variants tc --unseen-scorer matched --out runs/units/zsl_msr_u8_9_10

- ``zsl UNITS ...``: ``sadvae benchmark zsl`` (the single-dataset protocol; its own arguments follow) with the
  clip feature = the given units side by side (extracted at the protocol's window into the same cache folder).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SETS = ("msr_action3d", "nw_ucla", "utkinect", "hdm05", "bandai_namco")
CACHE = ROOT / "runs" / "features" / "units_pooled"


def unit_extractor(window: int = 96, stride: int = 48):
    """A ``ShiftGCNExtractor`` (x-sub NTU-120) whose clip feature is every unit's pooled output, side by side."""
    import torch

    from sadvae.features import ShiftGCNExtractor
    from sadvae.models.pretrained import resolve_shiftgcn_weights
    from sadvae.train.cross_dataset import CrossDatasetConfig

    class UnitPooled(ShiftGCNExtractor):
        def __init__(self):
            super().__init__(resolve_shiftgcn_weights(CrossDatasetConfig.weights), window, stride)
            self.settings = dict(self.settings, output="pooled output of every unit, side by side")
            self._zero = {}

        def _trunk(self, h):
            pooled = []
            for unit in self.model.units:
                h = unit(h)
                pooled.append(h.mean(dim=(2, 3)))
            return torch.cat(pooled, dim=1)

        def encode(self, windows):
            model = self.model.eval()
            x_all = torch.as_tensor(np.asarray(windows, np.float32))
            feats, logits = [], []
            with torch.inference_mode():
                for a in range(0, len(x_all), self.batch_size):
                    x = x_all[a : a + self.batch_size]
                    n, slots = x.shape[0], x.shape[4]
                    present = x.abs().amax(dim=(1, 2, 3)) > 0
                    total = None
                    for m in range(slots):
                        key = (x.shape[2], m)
                        if key not in self._zero:
                            zeros = torch.zeros(1, *x.shape[1:])
                            self._zero[key] = self._trunk(model._slot_input(zeros, m))[0]
                        f = self._zero[key].expand(n, -1).clone()
                        rows = torch.nonzero(present[:, m]).flatten()
                        if len(rows):
                            f[rows] = self._trunk(model._slot_input(x[rows], m))
                        total = f if total is None else total + f
                    total = total / slots
                    feats.append(total.numpy())
                    logits.append(model.forward_head(total[:, -model.feature_dim :]).numpy())
            return np.concatenate(feats), np.concatenate(logits)

    return UnitPooled()


def unit_columns(units: list[int]) -> np.ndarray:
    """Columns of the pooled cache holding the given units (1-based, Shift-GCN's l1..l10)."""
    from sadvae.models.shiftgcn import ShiftGCNConfig

    widths = ShiftGCNConfig(num_classes=120).channels
    edges = np.concatenate([[0], np.cumsum(widths)])
    return np.concatenate([np.arange(edges[u - 1], edges[u]) for u in units])


def load_all(threads: int):
    import torch

    from sadvae.train.cross_dataset import CrossDatasetConfig, load_features

    torch.set_num_threads(threads)
    cfg = CrossDatasetConfig(target="all", feature_dir=str(CACHE))
    return load_features(cfg, SETS, unit_extractor())


def probe(threads: int) -> None:
    from sadvae.train.cross_dataset import fit_linear

    sets = load_all(threads)
    combos = {
        "l10 (usual)": [10],
        "l9": [9],
        "l8": [8],
        "l7": [7],
        "l6": [6],
        "l5": [5],
        "l9+l10": [9, 10],
        "l8+l9+l10": [8, 9, 10],
        "l6+l8+l10": [6, 8, 10],
        "l5..l10": [5, 6, 7, 8, 9, 10],
    }
    print("| units | " + " | ".join(SETS) + " | mean |")
    print("|---|" + "---|" * (len(SETS) + 1))
    for name, units in combos.items():
        cols = unit_columns(units)
        accs = []
        for s in SETS:
            fs = sets[s]
            lab = fs.labels >= 0
            tr, te = lab & ~fs.test_side, lab & fs.test_side
            head = fit_linear(fs.feats[tr][:, cols], fs.labels[tr], seed=0)
            pred = head(fs.feats[te][:, cols]).argmax(1)
            accs.append(100 * float((pred == fs.labels[te]).mean()))
        print(f"| {name} | " + " | ".join(f"{a:.1f}" for a in accs) + f" | {np.mean(accs):.1f} |")


def cross_dataset(units: list[int], out: Path, threads: int) -> int:
    from dataclasses import replace

    from sadvae.cli import main as sadvae_main
    from sadvae.train import cross_dataset as xd

    cols = unit_columns(units)
    original = xd.load_features

    def load_units(cfg, names, extractor):
        sets = original(replace(cfg, feature_dir=str(CACHE)), names, unit_extractor())
        return {n: replace(fs, feats=np.ascontiguousarray(fs.feats[:, cols])) for n, fs in sets.items()}

    xd.load_features = load_units
    argv = ["benchmark", "zsl", "--protocol", "cross-dataset", "--target", "all", "--methods", "linear", "fused"]
    argv += ["--window", "96", "--stride", "48", "--threads", str(threads)]
    return sadvae_main([*argv, "--out", str(out)])


def zsl(units: list[int], rest: list[str]) -> int:
    """``sadvae benchmark zsl`` (single-dataset protocol, frozen Shift-GCN) with the clip feature = the units."""
    from dataclasses import replace

    from sadvae.cli import main as sadvae_main
    from sadvae.train import protocol

    cols = unit_columns(units)
    original = protocol.frozen_clip_features

    def units_features(ds, dataset, frozen, extractor=None):
        frozen = replace(frozen, feature_dir=str(CACHE))
        fs = original(ds, dataset, frozen, extractor=unit_extractor(frozen.window, frozen.stride))
        return replace(fs, feats=np.ascontiguousarray(fs.feats[:, cols]))

    protocol.frozen_clip_features = units_features
    return sadvae_main(["benchmark", "zsl", *rest])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("extract", "probe", "xd", "zsl"))
    ap.add_argument("units", nargs="*", type=int, help="xd: the units (1-10) whose pooled outputs make the feature")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--threads", type=int, default=2)
    args, rest = ap.parse_known_args()
    if args.what == "zsl":
        out = ["--out", str(args.out)] if args.out else []
        return zsl(sorted(set(args.units)), [*rest, *out])
    if rest:
        ap.error(f"unrecognised arguments: {' '.join(rest)}")
    if args.what == "extract":
        load_all(args.threads)
        return 0
    if args.what == "probe":
        probe(args.threads)
        return 0
    if not args.units or args.out is None or any(not 1 <= u <= 10 for u in args.units):
        ap.error("xd needs units in 1..10 and --out")
    return cross_dataset(sorted(set(args.units)), args.out, args.threads)


if __name__ == "__main__":
    raise SystemExit(main())
