"""Round 26 of docs/cross_dataset.md: ``fused_adapt`` with balanced pseudo-labels as one more dimension of its grid.

Self-labelling (``sadvae.train.cross_dataset.adapt_scores``) gives each unlabelled clip its best label, so a label that
never wins a clip is never taught (MSR Action3D: 13 of 20 labels in the live self-teaching, docs/head.md section 9).
``balance`` rescales the pool's scores first so that every label holds an equal share of the clips
(:func:`sadvae.train.cross_dataset.balanced_shares`). This runs the cross-dataset protocol's ``fused_adapt`` for every
target with :data:`ADAPT_GRID` doubled (each point with and without ``balance``), selected on the sources as ever, and
prints per target: the selected point, the best criterion without and with ``balance``, and the test side's top-1 /
top-5 of the selected point.

    python scripts/probe_balanced_adapt.py --batchnorm released --out runs/s18/balanced_released
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import sadvae.train.cross_dataset as xd


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batchnorm", choices=tuple(xd.BATCHNORM_WORDS), default="released")
    ap.add_argument("--out", type=Path, required=True, help="a folder for the runs' reports (one per target)")
    ap.add_argument("--targets", nargs="+", default=list(xd.SHARED_SETS))
    args = ap.parse_args(argv)
    xd.ADAPT_GRID = xd.ADAPT_GRID[:1] + tuple(dict(g, balance=b) for b in (False, True) for g in xd.ADAPT_GRID[1:])
    rows = []
    for target in args.targets:
        cfg = xd.CrossDatasetConfig(
            target=target,
            methods=("fused_adapt",),
            weights="ntu120_xsub+ntu120_xsetup",
            window=96,
            stride=48,
            batchnorm=args.batchnorm,
            threads=1,
        )
        report = xd.run_cross_dataset(cfg, args.out / target)
        r = report["methods"]["fused_adapt"]
        grid = r["info"]["adaptation"]["grid"]
        best = {
            b: max((g for g in grid if g["setting"].get("balance", False) == b), key=lambda g: g["mean_top1"])
            for b in (False, True)
        }
        rows.append(
            {
                "target": target,
                "selected": r["info"]["adaptation"]["setting"],
                "criterion_unbalanced": best[False]["mean_top1"],
                "criterion_balanced": best[True]["mean_top1"],
                "top1": r["top1"],
                "top5": r["top5"],
            }
        )
    print(f"batchnorm {args.batchnorm}: criterion best unbalanced / balanced; selected point; test top-1 / top-5 (%)")
    for row in rows:
        print(
            f"  {row['target']}: {100 * row['criterion_unbalanced']:.1f} / {100 * row['criterion_balanced']:.1f}; "
            f"{row['selected']}; {100 * row['top1']:.1f} / {100 * row['top5']:.1f}"
        )
    (args.out / "summary.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
