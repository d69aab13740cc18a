"""Probe: a few examples of each label (few-shot prototypes) beside the zero-shot scores, on the cross-dataset sets.

What a user could give besides a label's name: k recordings of the action. Each label's prototype is the mean of
its k examples' frozen Shift-GCN clip features (standardised with the sources' statistics, so nothing of the
target beyond the k examples is read); a test clip scores every label by the cosine to its prototype, softmax at
temperature 0.1 (fixed in advance). Rows: the zero-shot ``fused`` scores of the cross-dataset protocol (its
setting chosen on the sources, as in the status table), the prototypes alone, and both (the product of the two
probabilities). Examples come from the target's training side (other subjects or views than the test side), drawn
10 times per k; the table gives the mean test top-1.

    python scripts/probe_few_shot.py --out runs/fewshot        # ~2 min with the features cached
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGETS = ("msr_action3d", "nw_ucla", "utkinect", "hdm05", "bandai_namco")
SHOTS = (1, 3, 5)
DRAWS = 10
TEMPERATURE = 0.1


def zero_shot_scores(target: str, weights: str, threads: int) -> tuple[np.ndarray, np.ndarray]:
    """``fused`` scores [n_test, labels] and truth of one target, by the protocol's own code."""
    from sadvae.cli import main as sadvae_main
    from sadvae.train import cross_dataset as xd

    captured = {}
    original = xd.metrics

    def capture(scores, truth, names):
        captured["scores"], captured["truth"] = np.asarray(scores), np.asarray(truth)
        return original(scores, truth, names)

    xd.metrics = capture
    try:
        with tempfile.TemporaryDirectory() as out:
            argv = ["benchmark", "zsl", "--protocol", "cross-dataset", "--target", target, "--methods", "fused"]
            argv += ["--window", "96", "--stride", "48", "--threads", str(threads), "--weights", weights, "--out", out]
            if sadvae_main(argv) != 0:
                raise SystemExit(f"{target}: the cross-dataset run failed")
    finally:
        xd.metrics = original
    return captured["scores"], captured["truth"]


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--weights", default="ntu120_xsub", help="checkpoint(s), as --weights of the protocol")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--space",
        choices=("features", "ntu_logits"),
        default="features",
        help="what a prototype averages: the pooled clip feature, or the NTU-120 classifier's logits (what the "
        "live model's export outputs)",
    )
    ap.add_argument(
        "--norm",
        choices=("sources", "support", "none"),
        default="sources",
        help="centre and scale with the sources' statistics, centre on the examples' own mean (what a live system "
        "has), or neither; then each vector is scaled to unit length",
    )
    args = ap.parse_args()

    from sadvae.train.cross_dataset import CrossDatasetConfig, feature_extractor, load_features

    args.out.mkdir(parents=True, exist_ok=True)
    cfg = CrossDatasetConfig(target="all", weights=args.weights, window=96, stride=48)
    sets = load_features(cfg, TARGETS, feature_extractor(cfg))
    report = {
        "space": args.space,
        "weights": args.weights,
        "shots": SHOTS,
        "draws": DRAWS,
        "temperature": TEMPERATURE,
        "targets": {},
    }
    rows = []
    for target in TARGETS:
        zs, truth = zero_shot_scores(target, args.weights, args.threads)
        fs = sets[target]
        if args.space == "ntu_logits":
            fs = replace(fs, feats=fs.logits)
        src = np.concatenate(
            [getattr(sets[s], "logits" if args.space == "ntu_logits" else "feats") for s in TARGETS if s != target]
        )

        def unit(x: np.ndarray, mu: np.ndarray, sd: np.ndarray | float) -> np.ndarray:
            z = (x - mu) / sd
            return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-9)

        test = fs.test_side & (fs.labels >= 0)
        if not np.array_equal(fs.labels[test], truth):
            raise SystemExit(f"{target}: test rows of the feature cache and the protocol disagree")
        p_zero = softmax(np.log(np.clip(zs, 1e-12, None))) if np.all(zs >= 0) else softmax(zs)
        train_idx = np.flatnonzero(~fs.test_side & (fs.labels >= 0))
        k_classes = len(fs.class_names)
        entry = {"zero_shot": float((zs.argmax(1) == truth).mean())}
        for k in SHOTS:
            alone, both = [], []
            for draw in range(DRAWS):
                rng = np.random.default_rng(1000 * k + draw)
                picks = []
                for c in range(k_classes):
                    pool = train_idx[fs.labels[train_idx] == c]
                    picks.append(rng.choice(pool, size=min(k, len(pool)), replace=False))
                if args.norm == "sources":
                    mu, sd = src.mean(0), src.std(0) + 1e-6
                elif args.norm == "support":
                    mu, sd = fs.feats[np.concatenate(picks)].mean(0), 1.0
                else:
                    mu, sd = 0.0, 1.0
                protos = np.stack([unit(fs.feats[pick], mu, sd).mean(0) for pick in picks])
                protos /= np.maximum(np.linalg.norm(protos, axis=1, keepdims=True), 1e-9)
                p_proto = softmax(unit(fs.feats[test], mu, sd) @ protos.T / TEMPERATURE)
                alone.append(float((p_proto.argmax(1) == truth).mean()))
                both.append(float(((np.log(p_proto + 1e-12) + np.log(p_zero + 1e-12)).argmax(1) == truth).mean()))
            entry[f"{k}-shot"] = float(np.mean(alone))
            entry[f"{k}-shot + zero-shot"] = float(np.mean(both))
            entry[f"{k}-shot + zero-shot, std"] = float(np.std(both))
        report["targets"][target] = entry
        rows.append((target, entry))
        print(target, json.dumps({a: round(100 * b, 1) for a, b in entry.items()}), flush=True)
    cols = ["zero_shot"] + [c for k in SHOTS for c in (f"{k}-shot", f"{k}-shot + zero-shot")]
    lines = ["| target | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    lines += [f"| {t} | " + " | ".join(f"{100 * e[c]:.1f}" for c in cols) + " |" for t, e in rows]
    (args.out / "few_shot.md").write_text("\n".join(lines) + "\n")
    (args.out / "few_shot.json").write_text(json.dumps(report, indent=1))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
