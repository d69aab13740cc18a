"""Probe: which text a described label should be read by, chosen on the sources (cross-dataset, ``fused``).

Round 14 of docs/cross_dataset.md gave the targets' labels one-line descriptions: new labels gained (a term of art
becomes recognisable) and covered labels lost (their text also shares the uncovered classes' probability). Three
ways to read a labels file's text (the first argument):

- ``names``: every label by its name (descriptions ignored);
- ``described``: every label by its description (how the transfer read a labels file until 5 December 2026);
- ``hybrid``: a label the matcher maps onto trained classes by its name, every other (new) label by its description
  (as the live head reads a labels file; ``sadvae.train.cross_dataset.read_as_live``, the transfer's reading since).

The hybrid was suggested by round 14's per-class test results, so it must be chosen without them: every dataset
with a file in ``benchmarks/labels/described/`` is described in its source folds too (MSR, NW-UCLA and UTKinect; the
mocap sets' names are already sentences), and the source criterion of each target compares the three modes
(``python scripts/xd_selection_compare.py runs/describedsrc/names runs/describedsrc/described
runs/describedsrc/hybrid --methods fused``). The target is read with its described file in every mode:

    python scripts/probe_described_sources.py hybrid --out runs/describedsrc/hybrid    # ~2 min, features cached
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODES = ("names", "described", "hybrid")
DESCRIBED = ROOT / "benchmarks" / "labels" / "described"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=MODES)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    from sadvae.cli import main as sadvae_main
    from sadvae.train import cross_dataset as xd

    files = {}
    for path in sorted(DESCRIBED.glob("*.txt")):
        entries = xd.read_labels(path)
        files[frozenset(xd.normalise_name(e.name) for e in entries)] = {
            xd.normalise_name(e.name): e.description for e in entries
        }
    plain = xd._transfer_scores

    def transfer(probs, vocab, text, labels, tau, threshold, descriptions=None):
        desc = files.get(frozenset(xd.normalise_name(lab.name) for lab in labels), {})
        labels = [
            xd.LabelEntry(lab.name, None if args.mode == "names" else lab.description or desc.get(xd.normalise_name(
                lab.name)))
            for lab in labels
        ]  # fmt: skip
        return plain(probs, vocab, text, labels, tau, threshold, descriptions)

    xd._transfer_scores = transfer
    if args.mode != "hybrid":  # the transfer reads covered labels by their names (hybrid) unless told otherwise
        xd.read_as_live = lambda labels, covered: list(labels)
    code = 0
    for target in ("msr_action3d", "nw_ucla", "utkinect", "hdm05", "bandai_namco"):
        argv = ["benchmark", "zsl", "--protocol", "cross-dataset", "--target", target, "--methods", "fused"]
        argv += ["--window", "96", "--stride", "48", "--threads", str(args.threads)]
        argv += ["--weights", "ntu120_xsub+ntu120_xsetup", "--out", str(args.out / target)]
        if (DESCRIBED / f"{target}.txt").is_file():
            argv += ["--labels", str(DESCRIBED / f"{target}.txt")]
        code = code or sadvae_main(argv)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
