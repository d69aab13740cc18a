"""Where a cross-dataset run loses: labels that reach a trained class vs new labels, per target.

Usage: ``python scripts/xd_coverage.py runs/hx/xd_w96 [--method joint]``.

Reads each ``<run>/<target>/report.json`` (``sadvae benchmark --protocol cross-dataset``) and, for the method's
trained vocabulary (``info.trained_classes``, plus the NTU-120 names for ``fused``) and its selected matcher
threshold, says which labels the matcher maps to a trained class (*covered*) and which are *new* (scored only by
text transfer). Prints per target: the share of test clips with a covered label, top-1 on covered and on new
clips, and two bounds that follow from them: the top-1 if every covered clip were right (new clips as measured),
and the top-1 on new clips that the issue-12 goal would need if covered clips stayed as measured.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

TARGETS = ("msr_action3d", "nw_ucla", "utkinect", "hdm05", "bandai_namco")
GOALS = {"msr_action3d": 0.35, "nw_ucla": 0.60, "utkinect": 0.75}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path)
    p.add_argument("--method", default="joint")
    args = p.parse_args()

    from sadvae.text import TextConfig
    from sadvae.train.cross_dataset import LabelEntry, _ntu_names, _Text, match_matrix

    text = None
    print(
        "| target | covered labels (clips) | top-1 covered | top-1 new | top-1 if covered all right | "
        "new top-1 needed for the goal | new labels |"
    )
    print("|---|---|---|---|---|---|---|")
    for target in TARGETS:
        path = args.run / target / "report.json"
        if not path.is_file():
            continue
        rep = json.loads(path.read_text())
        m = rep["methods"].get(args.method)
        if m is None:
            continue
        if text is None:
            text = _Text(TextConfig(template=rep["template"]))
        labels = [LabelEntry(lab["name"], lab.get("description")) for lab in rep["labels"]]
        vocab = list(m["info"]["trained_classes"])
        if args.method in ("fused", "fused_sadvae"):  # they also score the 120 NTU names (Shift-GCN's fc)
            vocab += _ntu_names()
        thr = m["info"]["selection"]["setting"].get("match", rep["config"]["near_threshold"])
        covered = match_matrix(labels, vocab, text.raw, thr)[0].any(1)
        cm = np.asarray(m["confusion"])
        n, hits = cm.sum(1), np.diag(cm)
        c, nw = covered & (n > 0), ~covered & (n > 0)
        acc_c = hits[c].sum() / max(n[c].sum(), 1)
        acc_n = hits[nw].sum() / max(n[nw].sum(), 1)
        share = n[c].sum() / n.sum()
        best = share + (1 - share) * acc_n
        goal = GOALS.get(target)
        need = "–" if goal is None else f"{100 * (goal - share * acc_c) / max(1 - share, 1e-9):.0f}"
        new_names = ", ".join(lab.name for lab, k in zip(labels, covered, strict=True) if not k)
        print(
            f"| {target} | {covered.sum()} of {len(labels)} ({100 * share:.0f} %) | {100 * acc_c:.1f} | "
            f"{100 * acc_n:.1f} | {100 * best:.1f} | {need} | {new_names} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
