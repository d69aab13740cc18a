"""Quick probes of zero-shot levers on the cross-dataset features (docs/cross_dataset.md, "Round 5").

Each probe rescores the targets' test sides from the cached T = 96 window features (clip = window mean) and prints
top-1 against ``fused`` with the setting its own source-LODO selection chose in an earlier run (``--fused-run``, the
``runs/.../<target>/methods/fused.json`` files of ``sadvae benchmark --protocol cross-dataset --window 96 --stride
48``). Nothing is selected on a target: a probe's numbers are one fixed setting per row, so a row that looks better
on one target is a lead for the protocol's selection, not a result.

Probes:

- ``synth``: classifiers for labels no trained class covers, predicted from their text: a ridge regression from the
  templated NTU-120 names (MiniLM) to the rows of Shift-GCN's NTU fc (weights and bias); ``pure`` scores every label
  by its predicted classifier alone (against ConSE), ``redistribute`` keeps ``fused``'s mass on the new labels and
  shares it among them by ``softmax(predicted logits / T)``.
- ``domain``: per-dataset feature standardisation (each source by its own statistics, the target by its test side's:
  label-free but transductive), for the sources' head alone or for the NTU fc too; and mean shift only.
- ``transfer``: ``fused`` whose uncovered source classes give no mass (new labels are scored through NTU's classes).
- ``aux``: SA-DVAE on one set's seen classes, alone and with the other sets' classes added (any class whose name the
  head's matcher maps onto, or whose MiniLM cosine reaches 0.6 with, an unseen class is left out), ZSL top-1 over
  the unseen classes of the seeded random splits of the single-dataset protocol (last cycle, a fixed choice).

    python scripts/xd_probes.py --fused-run runs/tta/w96 synth domain transfer     # ~1 min with features cached
    python scripts/xd_probes.py aux --target msr_action3d --unseen 5               # ~7 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sadvae.train import cross_dataset as xd  # noqa: E402

SETS = ("msr_action3d", "nw_ucla", "utkinect", "hdm05", "bandai_namco")


def _acc(scores: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    ok = scores.argmax(1) == truth
    return 100 * float(ok[mask].mean() if mask is not None else ok.mean())


def _ridge(x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    xa = np.c_[x, np.ones(len(x))]
    a = xa.T @ xa + lam * np.eye(xa.shape[1])
    a[-1, -1] -= lam  # the intercept is not shrunk
    return np.linalg.solve(a, xa.T @ y)


class Context:
    def __init__(self, fused_run: Path | None):
        import torch

        torch.set_num_threads(2)
        self.cfg = xd.CrossDatasetConfig(target=SETS[0], window=96, stride=48, features="windows")
        ex = xd.feature_extractor(self.cfg)
        wins = xd.load_window_sets(self.cfg, SETS, ex)
        self.feats = {n: w.clip_set() for n, w in wins.items()}
        self.text = xd._Text(self.cfg.text)
        self.ntu = xd._ntu_names()
        fc = [m for m in ex.model.modules() if isinstance(m, torch.nn.Linear)][-1]
        self.fc = np.c_[fc.weight.detach().numpy(), fc.bias.detach().numpy()]  # [120, d + 1]
        self.fused_run = fused_run

    def target(self, n: str):
        fs = self.feats[n]
        te = fs.subset(fs.test_side & (fs.labels >= 0))
        labels = [xd.LabelEntry(c) for c in fs.class_names]
        src = [self.feats[s] for s in SETS if s != n]
        return te, labels, src

    def setting(self, n: str) -> dict:
        if self.fused_run is None:
            raise SystemExit("--fused-run is needed: the run whose fused.json gives each target's selected setting")
        path = self.fused_run / n / "methods" / "fused.json"
        return json.loads(path.read_text())["info"]["selection"]["setting"]


def probe_synth(ctx: Context) -> None:
    t_ntu = ctx.text(ctx.ntu)
    for n in SETS:
        te, labels, src = ctx.target(n)
        st = ctx.setting(n)
        lab = xd._label_emb(ctx.text, labels)
        con = xd.conse_scores(xd._softmax(te.logits), t_ntu, lab, 10)
        row = [f"{n:13s} pure: conse {_acc(con, te.labels):5.1f}"]
        for lam in (0.01, 0.1, 1.0):
            p = np.c_[lab, np.ones(len(lab))] @ _ridge(t_ntu, ctx.fc, lam)
            row.append(f"synth(lam {lam}) {_acc(te.feats @ p[:, :-1].T + p[:, -1], te.labels):5.1f}")
        train = xd._pool(src)
        lin = xd.fit_linear(train.feats, train.labels, 0)
        probs, vocab = xd._vocab_probs(train, lin, te.feats, te.logits, st["alpha"], ctx.ntu)
        base = xd._transfer_scores(probs, vocab, ctx.text, labels, st["tau"], st["match"])
        covered, _, _ = xd.match_matrix(labels, vocab, ctx.text.raw, st["match"])
        new = np.flatnonzero(~covered.any(1))
        on_new = np.isin(te.labels, new)
        row.append(f"| fused {_acc(base, te.labels):5.1f} (new labels {_acc(base, te.labels, on_new):4.1f})")
        for lam in (0.1, 1.0):
            p = np.c_[lab[new], np.ones(len(new))] @ _ridge(t_ntu, ctx.fc, lam)
            logits = te.feats @ p[:, :-1].T + p[:, -1]
            for temp in (1.0, 3.0):
                s = base.copy()
                s[:, new] = s[:, new].sum(1, keepdims=True) * xd._softmax(logits, temp)
                row.append(
                    f"redistribute(lam {lam}, T {temp}) {_acc(s, te.labels):5.1f} ({_acc(s, te.labels, on_new):4.1f})"
                )
        print(" ".join(row), flush=True)


def _fused_top1(ctx: Context, train, lin, x, logits, labels, st: dict, truth) -> float:
    probs, vocab = xd._vocab_probs(train, lin, x, logits, st["alpha"], ctx.ntu)
    return _acc(xd._transfer_scores(probs, vocab, ctx.text, labels, st["tau"], st["match"]), truth)


def _standardise(x, ref, mu, sd):
    return (x - ref.mean(0)) / (ref.std(0) + 1e-6) * sd + mu


def _mean_shift(x, ref, mu, sd):
    return x - ref.mean(0) + mu


def probe_domain(ctx: Context) -> None:
    w, b = ctx.fc[:, :-1], ctx.fc[:, -1]
    for n in SETS:
        te, labels, src = ctx.target(n)
        st = ctx.setting(n)
        train = xd._pool(src)
        base = _fused_top1(
            ctx, train, xd.fit_linear(train.feats, train.labels, 0), te.feats, te.logits, labels, st, te.labels
        )
        row = [f"{n:13s} fused {base:5.1f}"]
        pooled = np.concatenate([f.feats for f in src])
        mu, sd = pooled.mean(0), pooled.std(0) + 1e-6
        for name, norm in (("standardise", _standardise), ("mean shift", _mean_shift)):
            xs = np.concatenate([norm(f.feats[f.labels >= 0], f.feats, mu, sd) for f in src])
            lin = xd.fit_linear(xs, train.labels, 0)
            xt = norm(te.feats, te.feats, mu, sd)
            head = _fused_top1(ctx, train, lin, xt, te.logits, labels, st, te.labels)
            both = _fused_top1(ctx, train, lin, xt, xt @ w.T + b, labels, st, te.labels)
            row.append(f"{name}: sources' head {head:5.1f}, + NTU fc {both:5.1f}")
        print(" ".join(row), flush=True)


def probe_transfer(ctx: Context) -> None:
    for n in SETS:
        te, labels, src = ctx.target(n)
        st = ctx.setting(n)
        train = xd._pool(src)
        lin = xd.fit_linear(train.feats, train.labels, 0)
        probs, vocab = xd._vocab_probs(train, lin, te.feats, te.logits, st["alpha"], ctx.ntu)
        covered, _, _ = xd.match_matrix(labels, vocab, ctx.text.raw, st["match"])
        sim = xd.class_label_similarity(vocab, labels, ctx.text)
        row = [f"{n:13s}"]
        for tau in (0.02, 0.05, 0.1):
            t = xd.transfer_matrix(covered, sim, tau)
            off = t.copy()
            k = len(train.names)
            off[:k][~covered.T[:k].any(1)] = 0
            a, a_off = _acc(probs @ t, te.labels), _acc(probs @ off, te.labels)
            row.append(f"tau {tau}: fused {a:5.1f}, sources' uncovered off {a_off:5.1f}")
        print(" ".join(row), flush=True)


def probe_aux(ctx: Context, target: str, unseen: int, cycles: int) -> None:
    from sadvae.data.splits import random_split
    from sadvae.head.matching import match_labels
    from sadvae.train.zsl import ZSLTrainConfig, train_sadvae, zsl_probs

    fs = ctx.feats[target]
    names = list(fs.class_names)
    for seed in (0, 1, 2):
        split = random_split(len(names), unseen, seed)
        unseen_names = [names[i] for i in split.unseen]
        train_rows = (~fs.test_side) & np.isin(fs.labels, split.seen)
        test_rows = fs.test_side & np.isin(fs.labels, split.unseen)
        truth = np.searchsorted(np.array(split.unseen), fs.labels[test_rows])
        out = {}
        for mode in ("own", "aux"):
            xs, ys, vocab, left_out = [fs.feats[train_rows]], [fs.labels[train_rows]], list(names), []
            if mode == "aux":
                for other in SETS:
                    if other == target:
                        continue
                    af = ctx.feats[other]
                    matched = match_labels(list(af.class_names), unseen_names, ctx.text.raw, 0.7)
                    cos = ctx.text.raw(list(af.class_names)) @ ctx.text.raw(unseen_names).T
                    keep = []
                    for j, c in enumerate(af.class_names):
                        if matched.matches[j].classes or cos[j].max() >= 0.6:
                            left_out.append(c)
                        else:
                            keep.append(j)
                    rows = np.isin(af.labels, keep)
                    xs.append(af.feats[rows])
                    ys.append(af.labels[rows] + len(vocab))
                    vocab += list(af.class_names)
            runs = train_sadvae(
                np.concatenate(xs),
                np.concatenate(ys),
                ctx.text(vocab),
                split.unseen,
                ZSLTrainConfig(seed=seed, cycles=cycles),
            )
            out[mode] = _acc(zsl_probs(runs[-1].model, runs[-1].classifier, fs.feats[test_rows]), truth)
            out[mode + "_classes"] = len(set(np.concatenate(ys).tolist()))
        print(
            f"{target} split {seed} unseen {unseen_names}: own {out['own']:.1f} ({out['own_classes']} classes), "
            f"with other sets' classes {out['aux']:.1f} ({out['aux_classes']} classes; left out {left_out})",
            flush=True,
        )


def main() -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("probes", nargs="+", choices=("synth", "domain", "transfer", "aux"))
    p.add_argument("--fused-run", type=Path, help="a cross-dataset run dir at T = 96 (its fused.json per target)")
    p.add_argument("--target", default="msr_action3d", help="aux: the set whose splits are scored")
    p.add_argument("--unseen", type=int, default=5, help="aux: unseen classes per split (MSR 5, NW-UCLA 3)")
    p.add_argument("--cycles", type=int, default=10, help="aux: SA-DVAE cycles (default 10, the protocol's)")
    args = p.parse_args()
    ctx = Context(args.fused_run)
    for name in args.probes:
        print(f"== {name}")
        if name == "aux":
            probe_aux(ctx, xd.resolve_name(args.target), args.unseen, args.cycles)
        else:
            globals()[f"probe_{name}"](ctx)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
