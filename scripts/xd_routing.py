"""Cross-dataset `fused`: how much is lost routing clips between covered and new labels, and can a rule recover it?

`fused` (docs/cross_dataset.md) scores a label that names a trained class by that class's probability and every
other ("new") label by text transfer, all in one argmax. A clip of a new-label class often lands on a covered label
(MSR's "pick up & throw" sink). This script measures, on each target's test side, with `fused`'s features, head and
source-selected setting (read from a finished `sadvae benchmark --protocol cross-dataset --methods fused` run):

- ``oracle``: each clip scored only among the labels of its own kind (covered or new): the ceiling of any routing;
- ``shift``: the covered labels' scores shifted by ``gamma`` against the new ones (calibrated stacking), a curve;
- ``distance``: a clip goes to the new labels when its standardised feature is farther than a quantile from every
  covered source class's mean feature (the GZSL ``novelty`` rule of `sadvae benchmark zsl`), a curve over quantiles;
- ``router``: a logistic regression (confidence ratio, both distances, covered mass, share of covered labels) trained
  leave-one-source-out on the sources only (is the clip's class covered?), applied to the target: hard and soft.

The curves look at the target and so are diagnostics, not a selection; only ``router`` is a method (sources only).
Command, from the project root, after the benchmark run (features cached)::

    sadvae benchmark --protocol cross-dataset --target all --methods fused --window 64 --stride 32 --out runs/nov/xd64
    python scripts/xd_routing.py runs/nov/xd64 --json runs/nov/xd64_routing.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sadvae.train import cross_dataset as xd  # noqa: E402  (after the sys.path line)

TARGETS = ("msr_action3d", "nw_ucla", "utkinect", "hdm05", "bandai_namco")


def _unit(a: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
    z = (a - mu) / sd
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)


def clip_statistics(train, lin, feats, logits, labels, text, setting, ntu) -> dict[str, np.ndarray]:
    """`fused`'s scores of some clips plus the routing statistics (module docstring)."""
    probs, vocab = xd._vocab_probs(train, lin, feats, logits, setting["alpha"], ntu)
    covered, _, _ = xd.match_matrix(labels, vocab, text.raw, setting["match"])
    s = probs @ xd.transfer_matrix(covered, xd.class_label_similarity(vocab, labels, text), setting["tau"])
    cov = covered.any(axis=1)
    sc, sn = np.where(cov[None], s, 0.0), np.where(~cov[None], s, 0.0)
    mu, sd = train.feats.mean(axis=0), train.feats.std(axis=0) + 1e-6
    z, zs = _unit(feats, mu, sd), _unit(train.feats, mu, sd)
    cent = np.stack([zs[train.labels == c].mean(axis=0) for c in range(len(train.names))])
    cos = z @ (cent / np.linalg.norm(cent, axis=1, keepdims=True)).T
    src_cov = covered[:, : len(train.names)].any(axis=0)  # source classes that some label covers
    d_cov = 1.0 - cos[:, src_cov].max(axis=1) if src_cov.any() else np.ones(len(z))
    ratio = np.log(sn.max(axis=1) + 1e-9) - np.log(sc.max(axis=1) + 1e-9)
    router_x = np.column_stack(
        [ratio, d_cov, 1.0 - cos.max(axis=1), np.log(sc.sum(axis=1) + 1e-9), np.full(len(z), cov.mean())]
    )
    return {"scores": s, "covered": cov, "ratio": ratio, "d_cov": d_cov, "router_x": router_x}


def _only(s: np.ndarray, keep: np.ndarray) -> np.ndarray:
    out = np.where(keep[None], s, 0.0)
    return out / np.maximum(out.sum(axis=1, keepdims=True), 1e-12)


def measure_target(run: Path, target: str, text_cache: dict) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    rep = json.loads((run / target / "report.json").read_text())
    fields = xd.CrossDatasetConfig.__dataclass_fields__
    cfg = xd.CrossDatasetConfig(
        **{k: v for k, v in rep["config"].items() if k in fields and k not in ("text", "finetune", "zsl")}
    )
    sources = tuple(rep["sources"])
    setting = json.loads((run / target / "methods" / "fused.json").read_text())["info"]["selection"]["setting"]
    feats = xd.load_features(cfg, (target, *sources), xd.feature_extractor(cfg))
    text = text_cache.setdefault("text", xd._Text(cfg.text))
    ntu = xd._ntu_names()

    # the router: leave-one-source-out on the sources only
    xs, ys = [], []
    for held in sources:
        train = xd._pool([feats[n] for n in sources if n != held])
        lin = xd.fit_linear(train.feats, train.labels, cfg.seed)
        fs = feats[held]
        t = fs.subset(fs.test_side & (fs.labels >= 0))
        st = clip_statistics(
            train, lin, t.feats, t.logits, [xd.LabelEntry(c) for c in fs.class_names], text, setting, ntu
        )
        if st["covered"].all() or not st["covered"].any():
            continue
        xs.append(st["router_x"])
        ys.append(st["covered"][t.labels])
    rx, ry = np.concatenate(xs), np.concatenate(ys)
    mu, sd = rx.mean(axis=0), rx.std(axis=0) + 1e-9
    router = LogisticRegression(C=1.0, max_iter=5000, class_weight="balanced").fit((rx - mu) / sd, ry)

    tfs = feats[target]
    test = tfs.subset(tfs.test_side & (tfs.labels >= 0))
    truth = test.labels
    train = xd._pool([feats[n] for n in sources])
    lin = xd.fit_linear(train.feats, train.labels, cfg.seed)
    labels = [xd.LabelEntry(c) for c in tfs.class_names]
    st = clip_statistics(train, lin, test.feats, test.logits, labels, text, setting, ntu)
    s, cov = st["scores"], st["covered"]
    sc, sn = _only(s, cov), _only(s, ~cov)
    in_cov = cov[truth]

    def top1(pred: np.ndarray) -> float:
        return float(np.mean(pred == truth))

    oracle = np.where(in_cov, sc.argmax(axis=1), sn.argmax(axis=1))
    shift = {
        f"{g:+.1f}": top1(np.where(st["ratio"] > g, sn.argmax(axis=1), sc.argmax(axis=1)))
        for g in np.arange(-2.0, 2.01, 0.5)
    }
    qs = np.linspace(0.05, 0.95, 19)
    dist = {
        f"{q:.2f}": top1(np.where(st["d_cov"] > np.quantile(st["d_cov"], q), sn.argmax(axis=1), sc.argmax(axis=1)))
        for q in qs
    }
    p_cov = router.predict_proba((st["router_x"] - mu) / sd)[:, 1]
    soft = p_cov[:, None] * sc + (1 - p_cov[:, None]) * sn
    both_kinds = 0 < in_cov.mean() < 1
    return {
        "fused": top1(s.argmax(axis=1)),
        "covered_labels": int(cov.sum()),
        "labels": int(len(cov)),
        "covered_clip_share": float(in_cov.mean()),
        "oracle": top1(oracle),
        "oracle_covered_part": float(np.mean(oracle[in_cov] == truth[in_cov])) if in_cov.any() else None,
        "oracle_new_part": float(np.mean(oracle[~in_cov] == truth[~in_cov])) if (~in_cov).any() else None,
        "shift_curve": shift,
        "distance_curve_by_quantile": dist,
        "router_soft": top1(soft.argmax(axis=1)),
        "router_hard": top1(np.where(p_cov[:, None] > 0.5, sc, sn).argmax(axis=1)),
        "router_auroc_target": float(roc_auc_score(in_cov, p_cov)) if both_kinds else None,
        "router_auroc_sources": float(roc_auc_score(ry, router.predict_proba((rx - mu) / sd)[:, 1])),
        "router_source_clips": int(len(ry)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", type=Path, help="a finished cross-dataset run folder with the fused method")
    ap.add_argument("--targets", nargs="+", default=list(TARGETS))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    cache: dict = {}
    out = {t: measure_target(args.run, t, cache) for t in args.targets}
    print(
        "| target | fused | oracle routing (covered / new part) | best shift | best distance quantile "
        "| router soft / hard |"
    )
    print("|---|---|---|---|---|---|")
    for t, r in out.items():
        bs = max(r["shift_curve"].items(), key=lambda kv: kv[1])
        bd = max(r["distance_curve_by_quantile"].items(), key=lambda kv: kv[1])

        def pct(x):
            return "-" if x is None else f"{100 * x:.1f}"

        print(
            f"| {t} | {pct(r['fused'])} | {pct(r['oracle'])} ({pct(r['oracle_covered_part'])} / "
            f"{pct(r['oracle_new_part'])}) | {pct(bs[1])} (gamma {bs[0]}) | {pct(bd[1])} (q {bd[0]}) | "
            f"{pct(r['router_soft'])} / {pct(r['router_hard'])} |"
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
