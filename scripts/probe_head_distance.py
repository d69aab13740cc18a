"""Would the live head gain from the window's distance to the trained classes? A measurement for docs/head.md.

`sadvae benchmark zsl --gzsl stacking+novelty` decides seen vs unseen from the clip's distance to the seen classes'
mean features as well as the classifiers' confidence (docs/results.md). The live head has two decisions of the same
kind, both fitted by :func:`sadvae.head.fit.fit_head_calibration` from the backbone's softmax and the zero-shot
cosines only:

- ``rejection``: "no action" for a list of trained labels (P(listed) from the listed classes' softmax mass);
- ``mixed``: how a list that mixes trained and new labels is shared between the two branches (calibrated stacking).

This script adds the distance of the window's semantic latent (what the live graph outputs) to the nearest listed
trained class's mean latent and measures both decisions with and without it, on the default recipe's inner model:
extra head and SA-DVAE trained on inner-train windows, every free number fitted on inner-validation windows, the
numbers read on the test sides (windows no part of this saw). Label lists as :mod:`sadvae.head.fit` simulates them;
for ``rejection`` they are half of one set's own class names (the other half are the near misses a user's list
leaves out). It also measures the listed margin (the best listed class against the best unlisted one) as a
"no action" statistic, and the head calibration's rejection fitted as before 5 December 2026 (listed mass, random
lists) and as now (mass and margin, random and sibling lists), read on the test sides (docs/head.md section 7).
Run from the project root with real data in ../shared/data (the window features are the recipe's
cache under runs/features/windows; the first run trains the inner head and SA-DVAE, about 3 min on 2 cores)::

    python scripts/probe_head_distance.py --json runs/head/probe_distance.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sadvae.head.calibration import fit_temperature, logit  # noqa: E402  (after the sys.path line)
from sadvae.head.fit import (  # noqa: E402
    class_centroids,
    mixed_list_accuracy,
    mixed_list_pieces,
    simulate_lists,
)
from sadvae.head.zeroshot import softmax  # noqa: E402

ARRAYS = ROOT / "runs" / "head" / "probe_distance_arrays.npz"


def inner_arrays(path: Path = ARRAYS, threads: int = 2) -> dict[str, np.ndarray]:
    """Latents, logits and classes of every window under the inner model (cached in ``path``)."""
    if path.is_file():
        return dict(np.load(path))
    import torch

    from sadvae.train import default_shiftgcn as recipe
    from sadvae.train.class_table import class_table

    torch.set_num_threads(threads)
    cfg = recipe.ShiftGCNDefaultConfig(threads=threads)
    table = class_table()
    data = recipe.load_window_data(cfg, table)
    itr, iva, te = data.rows(~data.test & ~data.inner_val), data.rows(data.inner_val), data.rows(data.test)
    heads = recipe._fit_heads(data, table, cfg, itr, te)
    zsl = recipe._fit_zero_shot(data, table, cfg, itr, te)
    out = {
        "latent": recipe._latents(zsl["model"], data.feats),
        "logits": heads["logits"],
        "column": data.column,
        "dataset": data.dataset,
        "inner_train": itr,
        "inner_val": iva,
        "test": te,
        "prototypes": zsl["protos"],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return out


class Probe:
    def __init__(self, a: dict[str, np.ndarray]):
        self.a = a
        lg, col, itr = np.asarray(a["logits"], np.float64), a["column"], a["inner_train"]
        self.col, self.k = col, lg.shape[1]
        self.p = softmax(lg / fit_temperature(lg[a["inner_val"]], col[a["inner_val"]]))
        lat = np.asarray(a["latent"], np.float64)
        self.unit = lat / np.linalg.norm(lat, axis=1, keepdims=True)
        self.centroids = class_centroids(lat[itr], col[itr], self.k)
        self.trained = np.unique(col[itr])

    def distance(self, rows: np.ndarray, listed: np.ndarray) -> np.ndarray:
        return 1.0 - (self.unit[rows] @ self.centroids[listed].T).max(axis=1)

    # ---------------------------------------------------------------- rejection
    def set_lists(self, n: int, seed: int) -> list[tuple[int, np.ndarray]]:
        rng, ds, out = np.random.default_rng(seed), self.a["dataset"], []
        for _ in range(n):
            d = int(rng.integers(ds.max() + 1))
            own = np.unique(self.col[ds == d])
            own = own[np.isin(own, self.trained)]
            out.append((d, rng.choice(own, size=max(2, len(own) // 2), replace=False)))
        return out

    def rejection_stats(self, rows: np.ndarray, lists) -> dict[str, np.ndarray]:
        ds, parts = self.a["dataset"], []
        for d, listed in lists:
            r = rows[ds[rows] == d]
            pr = self.p[r]
            unlisted = np.setdiff1d(np.arange(self.k), listed)
            parts.append(
                {
                    "mass": logit(pr[:, listed].sum(axis=1)),
                    # the best listed class against the model's best unlisted one (an unlisted sibling that the model
                    # prefers is a near miss even when the listed classes together hold much of the mass)
                    "margin": np.log(pr[:, listed].max(axis=1)) - np.log(pr[:, unlisted].max(axis=1)),
                    "distance": self.distance(r, listed),
                    "positive": np.isin(self.col[r], listed),
                }
            )
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def rejection(self, lists_fit: int = 120, lists_test: int = 120) -> dict:
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import roc_auc_score

        fit = self.rejection_stats(self.a["inner_val"], self.set_lists(lists_fit, 0))
        ev = self.rejection_stats(self.a["test"], self.set_lists(lists_test, 1))
        out = {}
        for name, cols in {
            "mass (current)": ["mass"],
            "distance": ["distance"],
            "mass + distance": ["mass", "distance"],
            "margin": ["margin"],
            "mass + margin": ["mass", "margin"],
        }.items():
            mu = np.array([fit[c].mean() for c in cols])
            sd = np.array([fit[c].std() for c in cols])
            x_fit = (np.column_stack([fit[c] for c in cols]) - mu) / sd
            x_ev = (np.column_stack([ev[c] for c in cols]) - mu) / sd
            clf = LogisticRegression(C=1e6, max_iter=5000).fit(x_fit, fit["positive"])  # unregularised
            s_ev = clf.decision_function(x_ev)
            thr = np.quantile(s_ev[ev["positive"]], 0.2)  # keep 80 % of the listed test windows
            out[name] = {
                "auroc_inner_val": float(roc_auc_score(fit["positive"], clf.decision_function(x_fit))),
                "auroc_test": float(roc_auc_score(ev["positive"], s_ev)),
                "false_accept_test_at_80pc_kept": float((s_ev[~ev["positive"]] > thr).mean()),
            }
        return out

    # ---------------------------------------------------------------- mixed lists
    def mixed(self, cal) -> dict:
        """Mixed lists as :func:`sadvae.head.fit.fit_head_calibration` simulates and scores them; three rules for
        the new labels' weight, each with its weight and offset chosen by H on inner validation."""
        a, col = self.a, self.col
        lat, lg, protos = a["latent"], a["logits"], a["prototypes"]

        def pieces(rows, lists, seed):
            return mixed_list_pieces(lat[rows], lg[rows], col[rows], protos, lists, cal, seed, self.centroids)

        fit = pieces(a["inner_val"], simulate_lists(self.k, 200, (4, 12), 1), 0)
        ev = pieces(a["test"], simulate_lists(self.k, 200, (4, 12), 7), 3)
        mu, sd = fit["distance"][fit["in_tr"]].mean(), fit["distance"][fit["in_tr"]].std()
        rules = {
            "stacking (current)": lambda d, c: d["stack"],
            "distance": lambda d, c: c * (d["distance"] - mu) / sd,
            "stacking + distance": lambda d, c: d["stack"] + c * (d["distance"] - mu) / sd,
        }
        gammas = np.round(np.arange(-6.0, 6.01, 0.25), 2)

        def scored(d, z):
            tr, nw = mixed_list_accuracy(d, z)
            return tr, nw, 2 * tr * nw / max(tr + nw, 1e-12)

        out = {}
        for name, rule in rules.items():  # weight c and gamma: best H on inner validation
            h, c, g = max(
                (scored(fit, rule(fit, c) - g)[2], c, float(g))
                for c in ((1.0,) if name == "stacking (current)" else (0.5, 1.0, 2.0, 4.0))  # the current rule has none
                for g in gammas
            )
            tr, nw, hh = scored(ev, rule(ev, c) - g)
            out[name] = {"weight": c, "gamma": g, "H_inner_val": h, "test_trained": tr, "test_new": nw, "test_H": hh}
        return out


def calibrations(a: dict[str, np.ndarray]) -> dict[str, dict]:
    """The head calibration's "no action" fitted on inner validation as before 5 December 2026 (listed mass alone,
    random lists) and as now (mass and listed margin, random and sibling lists), read on the test sides."""
    from dataclasses import replace

    from sadvae.head.calibration import fit_logistic
    from sadvae.head.fit import evaluate_calibration, fit_head_calibration, window_statistics

    def groups(rows):
        return [np.unique(a["column"][rows][a["dataset"][rows] == d]) for d in np.unique(a["dataset"])]

    iva, te = a["inner_val"], a["test"]
    fit = (a["latent"][iva], a["logits"][iva], a["column"][iva], a["prototypes"])
    now, _ = fit_head_calibration(*fit, seed=0, class_groups=groups(iva))
    random_only, _ = fit_head_calibration(*fit, seed=0)
    lists = simulate_lists(a["logits"].shape[1], 200, (3, 12), 0)
    st = window_statistics(*fit, lists, random_only.seen_temperature)
    a_s, b_s = fit_logistic(logit(st["mass"]), st["pos"])
    before = replace(random_only, reject_seen_a=a_s, reject_seen_b=b_s, reject_seen_margin=0.0)
    out = {}
    for name, cal in (
        ("before (listed mass, random lists)", before),
        ("mass + margin, random lists", random_only),
        ("now (mass + margin, random and sibling lists)", now),
    ):
        out[name] = evaluate_calibration(
            cal, a["latent"][te], a["logits"][te], a["column"][te], a["prototypes"], class_groups=groups(te)
        )
        out[name]["calibration"] = {k: v for k, v in cal.to_dict().items() if k.startswith("reject_seen")}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", type=Path, help="write the numbers here")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    from sadvae.head.calibration import HeadCalibration
    from sadvae.head.fit import fit_head_calibration

    a = inner_arrays(threads=args.threads)
    iva = a["inner_val"]
    cal, _ = fit_head_calibration(a["latent"][iva], a["logits"][iva], a["column"][iva], a["prototypes"], seed=0)
    assert isinstance(cal, HeadCalibration)
    probe = Probe(a)
    report = {"rejection": probe.rejection(), "mixed": probe.mixed(cal), "calibrations": calibrations(a)}
    print("no action for trained labels (half of one set's names listed; test sides):")
    for name, r in report["rejection"].items():
        print(
            f"  {name:18s} AUROC inner-val {r['auroc_inner_val']:.3f}  test {r['auroc_test']:.3f}  "
            f"false accept at 80 % kept {r['false_accept_test_at_80pc_kept']:.3f}"
        )
    print("mixed lists (half trained, half new; test sides):")
    for name, r in report["mixed"].items():
        print(
            f"  {name:20s} trained {100 * r['test_trained']:.1f}  new {100 * r['test_new']:.1f}  "
            f"H {100 * r['test_H']:.1f}  (weight {r['weight']}, gamma {r['gamma']}; "
            f"inner-val H {100 * r['H_inner_val']:.1f})"
        )
    print("the head calibration's 'no action' for trained labels (test sides; kept / falsely accepted, %):")
    for name, r in report["calibrations"].items():
        print(
            f"  {name:44s} random lists {100 * r['trained']['kept']:.1f} / {100 * r['trained']['false_accept']:.1f}"
            f"   sibling lists {100 * r['trained_siblings']['kept']:.1f} / "
            f"{100 * r['trained_siblings']['false_accept']:.1f}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
