"""Does dividing out a label's prior fix the cross-dataset "sink" labels? (a measurement, not a method in use)

Usage: ``python scripts/xd_label_prior.py runs/tta/w96`` (a ``sadvae benchmark zsl --protocol cross-dataset --target
all --methods fused --window 96 --stride 48`` run; its clip-feature cache is read, nothing is extracted anew).

Some labels take most clips of a target (MSR's "pick up & throw", UTKinect's "throw"): every unfamiliar motion looks
most like them. The usual remedy in zero-shot learning divides each label's score by its mean score over a
reference set of motions, ``s(x, l) / ref(l) ** lam``. Two references per target, with ``fused`` at the setting its
source selection picked:

- ``xfit`` (usable live: computed from the training sets only): the mean over every source clip of the label scores
  given by the head trained *without* that clip's set (cross-fitted, so the reference motions are unseen ones);
- ``trans`` (transductive, for comparison only: a live system has no test batch): the mean over the target's own
  test clips.

Prints top-1 (%) on the target's test side for lam = 0, 0.25, 0.5, 0.75, 1 (lam = 0 is ``fused`` as reported) and
the labels with the largest reference score.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

TARGETS = ("msr_action3d", "nw_ucla", "utkinect", "hdm05", "bandai_namco")
LAMS = (0.0, 0.25, 0.5, 0.75, 1.0)


def main() -> int:
    from sadvae.train import cross_dataset as xd

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path)
    p.add_argument("--window", type=int, default=96)
    p.add_argument("--stride", type=int, default=48)
    args = p.parse_args()
    present = xd.available_sets(xd.shared_data_root())
    print("| target | setting | reference | " + " | ".join(f"lam {v}" for v in LAMS) + " | largest reference |")
    print("|---|---|---|" + "---|" * len(LAMS) + "---|")
    for t in TARGETS:
        cfg = xd.CrossDatasetConfig(target=t, window=args.window, stride=args.stride, features="clips")
        sources = [n for n in present if n != t]
        feats = xd.load_features(cfg, (t, *sources), xd.feature_extractor(cfg))
        tfs = feats[t]
        labels = [xd.LabelEntry(c) for c in tfs.class_names]
        test = tfs.subset(tfs.test_side & (tfs.labels >= 0))
        text, ntu = xd._Text(cfg.text), xd._ntu_names()
        st = json.loads((args.run / t / "methods" / "fused.json").read_text())["info"]["selection"]["setting"]

        def score(train, lin, fs, st=st, labels=labels, text=text, ntu=ntu):
            probs, vocab = xd._vocab_probs(train, lin, fs.feats, fs.logits, st["alpha"], ntu)
            return xd._transfer_scores(probs, vocab, text, labels, st["tau"], st["match"])

        train = xd._pool([feats[s] for s in sources])
        s = score(train, xd.fit_linear(train.feats, train.labels, cfg.seed), test)
        refs = []
        for held in sources:
            rest = xd._pool([feats[n] for n in sources if n != held])
            hf = feats[held].subset(feats[held].labels >= 0)
            refs.append(score(rest, xd.fit_linear(rest.feats, rest.labels, cfg.seed), hf).mean(0))
        for name, ref in (("xfit", np.mean(refs, 0)), ("trans", s.mean(0))):
            accs = [100 * float(((s / ref[None] ** lam).argmax(1) == test.labels).mean()) for lam in LAMS]
            top = ", ".join(f"{labels[i].name} {ref[i]:.2f}" for i in np.argsort(-ref)[:3])
            cells = " | ".join(f"{a:.1f}" for a in accs)
            print(f"| {t} | {json.dumps(st, sort_keys=True)} | {name} | {cells} | {top} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
