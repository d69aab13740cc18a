"""Compare cross-dataset runs by their selection criterion: the best source-LODO mean top-1 per target and method.

Usage: ``python scripts/xd_selection_compare.py runs/xd_all_v4 runs/xd_tpl_label [--methods linear fused]``.
Reads each run's ``<target>/methods/<method>.json`` (written by ``sadvae benchmark --protocol cross-dataset``);
prints one line per target: best mean top-1 over the leave-one-source-out folds (never the target), and, in
brackets, the target's test top-1 of the selected setting (reported, never used to choose). The last line per
target, ``selected``: the (run, method) with the best criterion over every run and method given (runs that differ
in window or checkpoint make those a dimension of the selection), with its test top-1 / top-5.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

TARGETS = ("msr_action3d", "nw_ucla", "utkinect", "hdm05", "bandai_namco")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--methods", nargs="+", default=["linear", "fused"])
    args = p.parse_args()
    for target in TARGETS:
        cells, best_cell = [target], None
        for run in args.runs:
            for m in args.methods:
                path = run / target / "methods" / f"{m}.json"
                if not path.exists():
                    cells.append(f"{run.parent.name}/{run.name}:{m}=-")
                    continue
                d = json.loads(path.read_text())
                grid = ((d.get("info") or {}).get("selection") or {}).get("grid", [])
                best = max((g["mean_top1"] for g in grid), default=float("nan"))
                cells.append(f"{run.parent.name}/{run.name}:{m}={100 * best:.1f} (test {100 * d['top1']:.1f})")
                if best == best and (best_cell is None or best > best_cell[0]):  # NaN (no grid) never selected
                    best_cell = (best, f"{run}:{m}", d["top1"], d["top5"])
        print(" | ".join(cells))
        if best_cell is not None:
            c, name, t1, t5 = best_cell
            print(f"  selected: {name} (criterion {100 * c:.1f}): test top-1 / top-5 {100 * t1:.1f} / {100 * t5:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
