"""Probe: NTU-120 class descriptions on the class side of the cross-dataset transfer (``linear`` / ``fused``).

The transfer shares a trained class's probability among the labels by the text cosine of class and label
(``sadvae.train.cross_dataset.class_label_similarity``); with a description, a class's cosine is the mean of its
name's and its description's. Round 3 measured the LLM descriptions for the ``joint`` head only. Here every NTU-120
class gets a description of one kind for ``fused`` (source classes keep their names):

- ``llm``: ``labels/smie/ntu120_des.txt`` (one LLM sentence per action, SMIE / SA-DVAE);
- ``ad``: ``labels/msf/ad_120.csv`` (dictionary-style definitions, MSF);
- ``md``: ``labels/msf/md_120.csv`` (body-movement descriptions, MSF: "fist and move the hand up to the head ...").

Any cross-dataset command runs with it (the kind is the first argument), e.g. with the target's names and with the
described labels of round 14; compare on the source criterion (``scripts/xd_selection_compare.py``):

    python scripts/probe_class_descriptions_xd.py md benchmark zsl --protocol cross-dataset --target all \\
        --methods fused --window 96 --stride 48 --weights ntu120_xsub+ntu120_xsetup --out runs/classdesc/md
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FILES = {"llm": "labels/smie/ntu120_des.txt", "ad": "labels/msf/ad_120.csv", "md": "labels/msf/md_120.csv"}


def ntu_class_descriptions(kind: str) -> dict[str, str]:
    """NTU-120 name -> description of ``kind``."""
    from sadvae.paths import SHARED_DATA
    from sadvae.text import load_descriptions
    from sadvae.train.cross_dataset import _ntu_names

    path = SHARED_DATA / FILES[kind]
    if kind == "md":  # header idx,dcp (load_descriptions reads idx,label)
        with path.open(encoding="utf-8") as fh:
            rows = list(csv.reader(fh))[1:]
        desc = [r[1].strip() for r in rows if len(r) >= 2]
    else:
        desc = load_descriptions(path)
    names = _ntu_names()
    if len(desc) != len(names):
        raise SystemExit(f"{path}: {len(desc)} descriptions for {len(names)} NTU-120 classes")
    return dict(zip(names, desc, strict=True))


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in FILES:
        raise SystemExit(f"usage: probe_class_descriptions_xd.py {{{','.join(FILES)}}} <sadvae arguments>")
    from sadvae.cli import main as sadvae_main
    from sadvae.train import cross_dataset as xd

    described = ntu_class_descriptions(sys.argv[1])
    plain = xd._transfer_scores

    def transfer(probs, vocab, text, labels, tau, threshold, descriptions=None):
        return plain(probs, vocab, text, labels, tau, threshold, described if descriptions is None else descriptions)

    xd._transfer_scores = transfer
    return sadvae_main(sys.argv[2:])


if __name__ == "__main__":
    raise SystemExit(main())
