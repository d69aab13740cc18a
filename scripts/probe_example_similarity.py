"""Probe: what a window of a taught label should be compared by, on the TRAINING sides of sets the model never saw.

For labels taught by example (docs/head.md section 8), on the recordings of ``scripts/tune_example_decisions.py``
(each set's training side replayed through the live pipeline by the model retrained without it, pose held 0 and 1 s;
made there on a miss), with every class taught by K sequences of its first performer (those performers' sequences
of the class not judged) and the live minimum window:

- **window top-1**: every class taught, the label of the highest similarity;
- **AUROC**: over 20 random half lists of the classes, the best similarity to a listed label for windows of listed
  classes against windows of the others (near misses: what "no action" has to tell apart), averaged.

Similarities: ``logits`` (the prototype cosine of the trained-class logits: the first version), ``nearest`` (the
best cosine to any one example window instead of the mean), ``latent`` (the prototype cosine of the semantic latent),
``logits+latent`` (the mean of the two prototype cosines: what ``ExamplePrototypes`` computes since 5 December 2026).

    python scripts/probe_example_similarity.py     # about a minute with the recordings made
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
import tune_example_decisions as ted  # noqa: E402

from sadvae.paths import SHARED_DATA  # noqa: E402


def similarities(rec_taught: dict, rec: dict, examples: dict, judged: np.ndarray, min_window: int):
    """({variant: [W, C] similarity}, truth [W]) over the judged windows of ``rec``."""
    from sadvae.head.examples import ExamplePrototypes, unit_rows

    protos = ted.prototypes(rec_taught, examples, [str(n) for n in rec_taught["names"]], min_window)
    seq_of_t = np.searchsorted(rec_taught["seq_start_s"], rec_taught["end_ms"] / 1000.0, side="right") - 1
    keep_t = rec_taught["frames"] >= min_window
    seq_of = np.searchsorted(rec["seq_start_s"], rec["end_ms"] / 1000.0, side="right") - 1
    w = (rec["frames"] >= min_window) & judged[seq_of]
    logits, latent = rec["seen_logits"][w].astype(np.float64), rec["latent"][w].astype(np.float64)
    z = unit_rows(logits)
    nearest = np.stack(
        [(z @ unit_rows(rec_taught["seen_logits"][keep_t & np.isin(seq_of_t, s)]).T).max(1) for s in examples.values()],
        axis=1,
    )
    logits_only = ExamplePrototypes(protos.names, protos.prototypes, protos.windows, protos.clips)
    return {
        "logits": logits_only.similarity(logits),
        "nearest": nearest,
        "latent": unit_rows(latent) @ protos.latent_prototypes.T,
        "logits+latent": protos.similarity(logits, latent),
    }, rec["truth"][seq_of[w]]


def main() -> int:
    from sklearn.metrics import roc_auc_score

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", type=Path, default=SHARED_DATA)
    ap.add_argument("--models", type=Path, default=ROOT / "runs" / "lodo", help="folder of <set>/default_model.pt")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    out = {}
    print("| set, hold, K | " + " | ".join(("logits", "nearest", "latent", "logits+latent")) + " |  (top-1 %, AUROC)")
    for target in ted.TARGETS:
        model, min_window, recs, subjects, _ = ted.recordings(target, args.models, args.data_root)
        model.close()
        classes = len(recs[1.0]["names"])
        rng = np.random.default_rng(0)
        halves = [rng.choice(classes, classes // 2, replace=False) for _ in range(20)]
        for h, rec in recs.items():
            for k in (1, 3):
                examples, judged = ted.example_split(recs[1.0]["truth"], subjects, k)
                sims, truth = similarities(recs[1.0], rec, examples, judged, min_window)
                cells = {}
                for name, s in sims.items():
                    top1 = float(np.mean(s.argmax(1) == truth))
                    auc = float(np.mean([roc_auc_score(np.isin(truth, half), s[:, half].max(1)) for half in halves]))
                    cells[name] = {"top1": top1, "auroc": auc}
                out[f"{target}@{h:g}s K{k}"] = cells
                print(
                    f"| {target}, {h:g} s, {k} | "
                    + " | ".join(f"{100 * c['top1']:.1f}, {c['auroc']:.3f}" for c in cells.values())
                    + " |",
                    flush=True,
                )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
