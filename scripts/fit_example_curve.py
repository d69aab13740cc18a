"""Fit the head's constants for labels taught by example (``sadvae-live --examples``) on a model's own windows.

Labels taught by example (``sadvae.head.examples``) need two numbers from the deployed model: the softmax
temperature of the similarities to the taught labels' prototypes (the mean of two cosines, logits' and latent's:
``ExamplePrototypes.similarity``), and the curve ``P(a taught action) = sigmoid(a * s + b)`` of the best similarity
that "no action" reads. Both are fitted here on windows the live pipeline makes of the
**training side** of the sets the model was trained on (never a test side), each sequence played as
``sadvae-live --examples`` plays an example (first and last pose held 1 s), in simulated episodes:

- a list of 3-10 classes, each taught by 1-3 sequences of one performer (prototypes and similarity as the live head
  builds them, :class:`sadvae.head.examples.ExamplePrototypes`);
  as the head's other constants are fitted (``sadvae.head.fit``), half the lists are of one set's classes and scored
  on that set's sequences (an unlisted sibling is a near miss), half are drawn from every set's classes and scored
  on a sample of every set's sequences;
- a window of a listed class is a positive (the teaching performer's sequences of it are left out), any other
  window a negative; the curve is fitted on the best similarity (classes weighted equally), the temperature on the
  positives' similarities to the listed prototypes.

The model's training side is what its extra head was fitted on, so its logits there are surer than on new people:
the fitted curve errs towards "no action". The result is written into the model's head calibration
(``<bundle stem>.head.json``; the other constants are left as they are) unless ``--dry-run``.

    python scripts/fit_example_curve.py                                   # the packaged model, ~2 min
    python scripts/fit_example_curve.py --model runs/lodo/msr_action3d/default_model.pt
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sadvae.errors import ConfigError  # noqa: E402  (the project root is on the path from here)

EPISODES = 300
LIST_SIZES = (3, 10)
SHOTS = (1, 2, 3)


class TooFewClasses(ConfigError):
    """The sets hold too few classes for the fit (a user's small folder): the model is complete without it."""


def set_windows(model, name: str, data_root: Path, opts) -> dict:
    """The training side of one set through the live pipeline: per sequence its windows' logits, class, subject."""
    from realtime.teaching import clip_windows
    from sadvae.data.registry import dataset_source
    from sadvae.train.protocol import dataset_arrays, test_side_mask

    src = dataset_source(name, data_root)  # a registered set or a clip folder of the user's
    ds = src.load()
    labels, subjects, _ = dataset_arrays(ds)
    idx = np.flatnonzero(~test_side_mask(ds, src.key) & (labels >= 0))
    outs = clip_windows(model, [ds.sequences[i] for i in idx], opts)
    return {
        "windows": [o["seen_logits"] for o in outs],
        "latents": [o["latent"] for o in outs],
        "label": labels[idx],
        "subject": subjects[idx],
        "classes": len(ds.class_names),
    }


def pooled(sets: list[dict]) -> dict:
    """Several sets' windows as one: classes and performers made distinct per set."""
    lab = np.concatenate([d["label"] + 1000 * i for i, d in enumerate(sets)])
    subj = np.concatenate([d["subject"] + 1000 * i for i, d in enumerate(sets)])
    where = np.concatenate([np.full(len(d["label"]), i) for i, d in enumerate(sets)])
    return {
        "windows": [w for d in sets for w in d["windows"]],
        "latents": [z for d in sets for z in d["latents"]],
        "label": lab,
        "subject": subj,
        "set": where,
    }


def episode(data: dict, listed: np.ndarray, queries: np.ndarray, k: int, rng: np.random.Generator):
    """(best similarity [W], is a listed class [W], similarities [W_pos, L], truth [W_pos]) of one simulated list:
    each listed class taught by ``k`` sequences of one performer; the windows of the ``queries`` sequences are
    scored, except the teaching performers' sequences of the class they taught."""
    from sadvae.head.examples import ExamplePrototypes

    lab, subj, wins, lats = data["label"], data["subject"], data["windows"], data["latents"]
    has = np.array([len(w) > 0 for w in wins])
    taught, taught_lat, taught_by = {}, {}, {}
    for c in listed:
        mine = np.flatnonzero((lab == c) & has)
        s = int(rng.choice(np.unique(subj[mine])))
        taught_by[int(c)] = s
        pick = mine[subj[mine] == s][:k]
        taught[str(c)] = np.concatenate([wins[i] for i in pick])
        taught_lat[str(c)] = np.concatenate([lats[i] for i in pick])
    protos = ExamplePrototypes.from_windows(taught, latents=taught_lat)  # the live head's prototypes
    rows, row_lats, y, truth = [], [], [], []
    for i in queries:
        c = int(lab[i])
        if not has[i] or taught_by.get(c) == subj[i]:
            continue
        rows.append(wins[i])
        row_lats.append(lats[i])
        pos = c in taught_by
        y += [pos] * len(wins[i])
        truth += [int(np.flatnonzero(listed == c)[0]) if pos else -1] * len(wins[i])
    sims = protos.similarity(np.concatenate(rows), np.concatenate(row_lats))
    y, truth = np.asarray(y), np.asarray(truth)
    return sims.max(axis=1), y, sims[y], truth[y]


def episodes(data: dict, rng: np.random.Generator, n: int):
    """``n`` simulated lists, as the head's other constants are fitted (``sadvae.head.fit``): half of them lists of
    one set's classes scored on that set's sequences (near misses: unlisted siblings), half lists drawn from every
    set's classes scored on a sample of every set's sequences (the other sets' actions as misses)."""
    lab, where = data["label"], data["set"]
    everything = np.arange(len(lab))
    for e in range(n):
        k = int(rng.choice(SHOTS))
        if e % 2 == 0:
            s = int(rng.integers(where.max() + 1))
            present = np.unique(lab[where == s])
            queries = np.flatnonzero(where == s)
        else:
            present = np.unique(lab)
            queries = np.sort(rng.choice(everything, size=min(len(everything), 600), replace=False))
        size = int(rng.integers(LIST_SIZES[0], min(LIST_SIZES[1], len(present)) + 1))
        listed = rng.choice(present, size=size, replace=False)
        if e % 2:  # the listed classes' sequences are all scored, so positives are not rare
            queries = np.union1d(queries, np.flatnonzero(np.isin(lab, listed)))
        yield episode(data, listed, queries, k, rng)


def fit_example_constants(
    bundle: Path | None = None,
    datasets: list[str] | None = None,
    data_root: Path | None = None,
    seed: int = 0,
    write: bool = True,
    json_path: Path | None = None,
    command: str | None = None,
) -> dict:
    """Fit the constants of labels taught by example on ``bundle``'s (default: the packaged model's) windows of
    ``datasets``' training sides, print the fit, write it into the bundle's head calibration (unless not ``write``)
    and to ``json_path``; returns the fit."""
    from realtime.backends.live_model import load_live_model
    from sadvae.assets import default_bundle_path
    from sadvae.fileio import atomic_write
    from sadvae.head.calibration import POOLED_KEY, calibration_path, fit_logistic, fit_temperature, sigmoid
    from sadvae.paths import shared_data_root
    from sadvae.train.default_shiftgcn import ShiftGCNDefaultConfig

    bundle = bundle or default_bundle_path()
    cal_path = calibration_path(bundle)
    if not cal_path.is_file():
        raise SystemExit(f"{cal_path}: no head calibration to add to; fit one first (scripts/train_default)")
    model = load_live_model(bundle, "onnxruntime")
    datasets = list(datasets or ShiftGCNDefaultConfig().datasets)
    root = data_root or shared_data_root()
    rng = np.random.default_rng(seed)
    best, pos, sims, truth = [], [], [], []
    stats, sets = {}, []
    for name in datasets:
        data = set_windows(model, name, root, None)
        n_windows = sum(len(w) for w in data["windows"])
        stats[name] = {"sequences": len(data["windows"]), "windows": n_windows}
        print(f"{name}: {len(data['windows'])} training-side sequences, {n_windows} windows", flush=True)
        sets.append(data)
    classes = sum(d["classes"] for d in sets)
    if classes <= LIST_SIZES[0]:  # every simulated list would hold every class: no unlisted action to reject
        raise TooFewClasses(
            f"the constants of labels taught by example are fitted on lists of {LIST_SIZES[0]} or more classes with "
            f"other classes left out, and {', '.join(datasets)} hold {classes}; labels taught by example keep the "
            "built-in constants (a set of four or more classes fits them)"
        )
    for b, y, s, t in episodes(pooled(sets), rng, EPISODES):
        best.append(b)
        pos.append(y)
        sims.append(s)
        truth.append(t)
    best, pos = np.concatenate(best), np.concatenate(pos)
    a, b = fit_logistic(best, pos.astype(float))
    width = max(s.shape[1] for s in sims)
    padded = np.full((sum(len(s) for s in sims), width), -1e9)  # lists differ in size: absent labels never win
    row = 0
    for s in sims:
        padded[row : row + len(s), : s.shape[1]] = s
        row += len(s)
    temperature = fit_temperature(padded, np.concatenate(truth))
    p = sigmoid(a * best + b)
    fit = {
        "example_a": round(a, 4),
        "example_b": round(b, 4),
        "example_temperature": round(temperature, 5),
        "positives": int(pos.sum()),
        "negatives": int((~pos).sum()),
        "kept_positives_at_0.5": round(float((p[pos] >= 0.5).mean()), 4),
        "rejected_negatives_at_0.5": round(float((p[~pos] < 0.5).mean()), 4),
        "best_cos_median_positive_negative": [
            round(float(np.median(best[pos])), 4),
            round(float(np.median(best[~pos])), 4),
        ],
        "datasets": stats,
        "episodes": EPISODES,
        "seed": seed,
        "command": command or " ".join(["python", *sys.argv]),
    }
    print(json.dumps(fit, indent=1))
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(fit, indent=1) + "\n")
    if write:
        d = json.loads(cal_path.read_text(encoding="utf-8"))
        d.update({k: fit[k] for k in ("example_a", "example_b", "example_temperature")})
        pool_cal = d.get(POOLED_KEY)
        if isinstance(pool_cal, dict):  # handedness pooling reads these from the single-window calibration
            d[POOLED_KEY] = {k: v for k, v in pool_cal.items() if not k.startswith("example_")}
        d["fit_example_curve"] = {k: v for k, v in fit.items() if not k.startswith("example_")}
        atomic_write(cal_path, (json.dumps(d, indent=1) + "\n").encode("utf-8"))
        print(f"wrote {cal_path}")
        _record_in_metrics(bundle, d)
    return fit


def _record_in_metrics(bundle: Path, calibration: dict) -> None:
    """Mirror the fitted constants into ``<stem>.metrics.json`` where the recipe wrote one, so that its calibration
    section says what the head file holds (the bundle's own copy of its metrics, and its model id, stay as trained)."""
    from sadvae.fileio import atomic_write
    from sadvae.head.calibration import POOLED_KEY

    path = bundle.with_name(bundle.stem + ".metrics.json")
    if not path.is_file():
        return
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:  # the head file is written: say so, go on
        print(f"{path}: not updated, not a readable metrics file ({e}); the fit is in the head file")
        return
    section = doc.get("metrics", {}).get("calibration") if isinstance(doc, dict) else None
    if not isinstance(section, dict) or not isinstance(section.get("calibration"), dict):
        return
    section["calibration"].update({k: calibration[k] for k in ("example_a", "example_b", "example_temperature")})
    section["calibration"]["fit_example_curve"] = calibration["fit_example_curve"]
    pool = section.get(POOLED_KEY, {}).get("calibration")
    if isinstance(pool, dict):  # as in the head file: pooling reads the single-window calibration's constants
        for k in [k for k in pool if k.startswith("example_")]:
            del pool[k]
    atomic_write(path, (json.dumps(doc, indent=1) + "\n").encode("utf-8"))
    print(f"wrote {path}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, help="bundle .pt (default: the packaged model)")
    ap.add_argument(
        "--datasets",
        nargs="+",
        help="sets whose training side is read: the model's training sets (default: the recipe's)",
    )
    ap.add_argument("--data-root", type=Path, help="default ../shared/data")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dry-run", action="store_true", help="print the fit, write nothing")
    ap.add_argument("--json", type=Path, help="also write the fit and its statistics here")
    args = ap.parse_args()
    fit_example_constants(args.model, args.datasets, args.data_root, args.seed, not args.dry_run, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
