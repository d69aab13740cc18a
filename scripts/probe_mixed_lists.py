"""Probe: lists that mix labels taught by example with labels scored by name, on TRAINING sides the model never saw.

A user teaches the labels whose names fail and keeps the others by name. Both kinds must then share one scale
(``sadvae.head.examples.mix_with_examples``): each kind's head says how likely one of its labels is happening (a
calibrated P(action): ``a_taught`` from the best similarity to the examples, ``a_named`` from the named labels' head),
the taught labels' share of a window's probability is ``w = a_taught / (a_taught + a_named)`` (the first version), and
the decisions read ``probs * P(one of my labels)``. Ways to get that last factor (and, last, the share) compared:

- ``average``: ``w * a_taught + (1 - w) * a_named`` (the first version);
- ``union``: ``min(1, a_taught + a_named)``, the probability of one of two disjoint events (an action is of one kind
  or the other), so a taught action's score is ``p(label | taught) * a_taught`` unless the two heads together claim
  more than certainty;
- ``max``: ``max(a_taught, a_named)``, the other bound of the union (the two heads' claims fully overlapping; added
  after the first two were seen, when ``union`` fired more than the rule allows);
- ``max, best-label share``: ``max`` with the share weighed by each kind's best label as well, ``w = a_taught *
  best_taught / (a_taught * best_taught + a_named * best_named)`` (``best_*``: the kind's highest probability among
  its own labels), so that a window whose named label is clear does not give half its probability to taught labels
  whose curve is merely unsure (added after ``max`` was adopted, when labels by name beside taught ones still rarely
  decided);
- ``max, fitted share``: ``max`` with ``w = sigmoid(c . [logit a_taught, logit a_named, log best_taught, log
  best_named] + c0)`` fitted (logistic regression, classes weighted equally) on the windows of the two OTHER sets'
  mixed lists, whose truth is taught or named: a share learned from data, cross-fitted so no set's own windows set it
  (added last).

On the recordings of ``scripts/tune_example_decisions.py`` (each set's training side, the models of ``runs/lodo/``,
pose held 0 and 1 s, K = 1 or 3 examples per taught label from its first performer, whose sequences of the class are
not judged), every other class of the set's list is taught (the others by name), and the live decisions run with
their defaults (taught labels at ``taught_start_score``). Per cell: window vote and live top-1 of the judged
sequences of taught and of named classes, and false starts a minute on judged clips of classes left out of 4 random
half lists (near misses). Rule, fixed before looking: the variant with the higher mean live top-1 over the cells
among those with at most 1 false start a minute.

    python scripts/probe_mixed_lists.py --json runs/taught/probe_mixed.json
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
import tune_decisions as td  # noqa: E402  (after the sys.path lines)
import tune_example_decisions as ted  # noqa: E402

from sadvae.paths import SHARED_DATA  # noqa: E402

VARIANTS = ("average", "union", "max", "max, best-label share", "max, fitted share")


def share_features(a_taught, a_named, best_taught, best_named) -> np.ndarray:
    """[N, 4] what the fitted share reads: both kinds' P(action) as logits, both best label probabilities as logs."""
    eps = 1e-6
    a_t, a_n = np.clip(a_taught, eps, 1 - eps), np.clip(a_named, eps, 1 - eps)
    return np.column_stack(
        [np.log(a_t / (1 - a_t)), np.log(a_n / (1 - a_n)), np.log(np.maximum(best_taught, eps)),
         np.log(np.maximum(best_named, eps))]
    )  # fmt: skip


def score(builder, rec: dict, listed: list[str], fit=None) -> dict:
    """The head's probs, its P(action) of each variant and which labels are taught, for the list ``listed``
    (``fit``: the fitted share's (weights, bias); None: that variant falls back to the best-label share).
    ``features``: what the fitted share reads, per window (None for a list of one kind)."""
    from realtime.head.labels import parse_labels_text

    head = builder.build(parse_labels_text("\n".join(listed) + "\n"))
    r = head(rec["latent"], rec["seen_logits"])
    taught = np.asarray(head.is_taught)
    out = {"names": listed, "taught": taught, "features": None}
    if taught.all() or not taught.any():  # one kind: every variant is the head's own
        out["probs"] = {v: np.asarray(r.probs) for v in VARIANTS}
        out["scores"] = {v: np.asarray(r.scores) for v in VARIANTS}
        return out
    from sadvae.head.zeroshot import softmax

    sim = head.examples.similarity(rec["seen_logits"], rec["latent"])
    p_taught = softmax(sim / head.calibration.example_temperature)
    a_taught = head.calibration.p_action_examples(sim.max(axis=1))
    rest = head.rest(rec["latent"], rec["seen_logits"])
    p_named, a_named = np.asarray(rest.probs), np.asarray(rest.p_action)
    ex, other = list(head.example_idx), list(head.rest_idx)

    def mixed(w: np.ndarray) -> np.ndarray:
        probs = np.zeros((len(w), len(listed)))
        probs[:, ex] = p_taught * w[:, None]
        probs[:, other] = p_named * (1.0 - w)[:, None]
        return probs

    ratio = a_taught / np.maximum(a_taught + a_named, 1e-300)  # the taught labels' share, as the head computes it
    q_taught, q_named = a_taught * p_taught.max(axis=1), a_named * p_named.max(axis=1)
    best = q_taught / np.maximum(q_taught + q_named, 1e-300)
    out["features"] = share_features(a_taught, a_named, p_taught.max(axis=1), p_named.max(axis=1))
    fitted = best if fit is None else 1.0 / (1.0 + np.exp(-(out["features"] @ fit[0] + fit[1])))
    share = {"average": ratio, "union": ratio, "max": ratio, "max, best-label share": best, "max, fitted share": fitted}
    action = {
        "average": ratio * a_taught + (1.0 - ratio) * a_named,
        "union": np.minimum(1.0, a_taught + a_named),
        "max": np.maximum(a_taught, a_named),
        "max, best-label share": np.maximum(a_taught, a_named),
        "max, fitted share": np.maximum(a_taught, a_named),
    }
    out["probs"] = {v: mixed(share[v]) for v in VARIANTS}
    out["scores"] = {v: out["probs"][v] * action[v][:, None] for v in VARIANTS}
    return out


def cross_fitted_shares(args) -> dict:
    """Per set, the fitted share's (weights, bias) from the windows of the other sets' full mixed lists (both holds,
    K 1 and 3, the judged sequences with at least the minimum window), truth taught = 1, named = 0."""
    from realtime.head.zero_shot import HeadBuilder, HeadOptions
    from sadvae.head.calibration import fit_logistic_nd

    data = {}
    for target in ted.TARGETS:
        model, min_window, recs, subjects, names = ted.recordings(target, args.models, args.data_root)
        try:
            taught_names, xs, ys = names[::2], [], []
            for k in (1, 3):
                examples, judged = ted.example_split(recs[1.0]["truth"], subjects, k)
                protos = ted.prototypes(recs[1.0], examples, names, min_window).select(taught_names)
                builder = HeadBuilder(
                    model.bundle, HeadOptions(handedness="off"), model_id=model.model_id, examples=protos
                )
                for rec in recs.values():
                    seq_of = np.searchsorted(rec["seq_start_s"], rec["end_ms"] / 1000.0, side="right") - 1
                    keep = (rec["frames"] >= min_window) & judged[seq_of]
                    feats = score(builder, rec, names)["features"]
                    truth = np.array([names[t] for t in rec["truth"]], dtype=object)[seq_of]
                    xs.append(feats[keep])
                    ys.append(np.isin(truth[keep], taught_names))
            data[target] = (np.concatenate(xs), np.concatenate(ys))
        finally:
            model.close()
    fits = {}
    for target in ted.TARGETS:
        x = np.concatenate([data[o][0] for o in ted.TARGETS if o != target])
        y = np.concatenate([data[o][1] for o in ted.TARGETS if o != target])
        fits[target] = fit_logistic_nd(x, y.astype(float))
        w, b = fits[target]
        print(f"fitted share for {target} (from the other sets): weights {np.round(w, 3)}, bias {b:.3f}")
    return fits


def main() -> int:
    from realtime.decisions import DecisionOptions
    from realtime.head.zero_shot import HeadBuilder, HeadOptions

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", type=Path, default=SHARED_DATA)
    ap.add_argument("--models", type=Path, default=ROOT / "runs" / "lodo", help="folder of <set>/default_model.pt")
    ap.add_argument("--halves", type=int, default=4)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    opts = DecisionOptions()
    rows: dict[str, dict] = {}
    fits = cross_fitted_shares(args)
    for target in ted.TARGETS:
        model, min_window, recs, subjects, names = ted.recordings(target, args.models, args.data_root)
        try:
            taught_names = names[::2]  # every other label of the list is taught, the others by name
            rng = np.random.default_rng(0)
            halves = [
                sorted(rng.choice(names, size=max(2, len(names) // 2), replace=False).tolist())
                for _ in range(args.halves)
            ]
            for k in (1, 3):
                examples, judged = ted.example_split(recs[1.0]["truth"], subjects, k)
                protos = ted.prototypes(recs[1.0], examples, names, min_window).select(taught_names)
                builder = HeadBuilder(
                    model.bundle, HeadOptions(handedness="off"), model_id=model.model_id, examples=protos
                )
                for h, rec in recs.items():
                    full = score(builder, rec, names, fits[target])
                    scored = [score(builder, rec, half, fits[target]) for half in halves]
                    truth = np.array([names[t] for t in rec["truth"]], dtype=object)
                    kind = np.isin(truth, taught_names)
                    cell = {}
                    for v in VARIANTS:
                        pick = lambda d, v=v: {**d, "probs": d["probs"][v], "scores": d["scores"][v]}  # noqa: E731
                        res = ted.evaluate(rec, judged, pick(full), [pick(s) for s in scored], opts, min_window)
                        sim = td.simulate(
                            rec, names, full["probs"][v], full["scores"][v], opts, min_window, full["taught"]
                        )
                        for part, mask in (("taught", judged & kind), ("named", judged & ~kind)):
                            res[f"live_{part}"] = float(np.mean(sim["live"][mask] == truth[mask]))
                            res[f"vote_{part}"] = float(np.mean(sim["vote"][mask] == truth[mask]))
                        cell[v] = res
                    rows[f"{target}@{h:g}s K{k}"] = cell
        finally:
            model.close()
    summary = {
        v: {
            key: float(np.mean([c[v][key] for c in rows.values()]))
            for key in ("live", "vote", "live_taught", "live_named", "false_starts_per_min")
        }
        for v in VARIANTS
    }
    ok = [v for v in VARIANTS if summary[v]["false_starts_per_min"] <= 1.0]
    chosen = max(ok, key=lambda v: summary[v]["live"]) if ok else None
    lines = [
        "| set @ hold, K | " + " | ".join(f"{v}: live (taught / named), vote, false / min" for v in VARIANTS) + " |",
        "|---|" + "---|" * len(VARIANTS),
    ]
    for key, cell in rows.items():
        lines.append(
            f"| {key} | "
            + " | ".join(
                f"{100 * c['live']:.1f} ({100 * c['live_taught']:.1f} / {100 * c['live_named']:.1f}), "
                f"{100 * c['vote']:.1f}, {c['false_starts_per_min']:.2f}"
                for c in cell.values()
            )
            + " |"
        )
    lines.append(
        "| **mean** | "
        + " | ".join(
            f"{100 * s['live']:.1f} ({100 * s['live_taught']:.1f} / {100 * s['live_named']:.1f}), "
            f"{100 * s['vote']:.1f}, {s['false_starts_per_min']:.2f}"
            for s in summary.values()
        )
        + " |"
    )
    table = "\n".join(lines)
    print(table)
    print(f"\nchosen: {chosen}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        doc = {"rows": rows, "summary": summary, "chosen": chosen, "table": table}
        args.json.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
