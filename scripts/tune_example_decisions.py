"""Choose the start score of labels taught by example on the TRAINING sides of sets the deciding model never saw.

The decision defaults (``scripts/tune_decisions.py``) were chosen for labels scored by name; a taught label's
calibrated probability is spread over its look-alikes, so at the same start score it rarely starts (docs/head.md
section 8). This script picks the start score of taught labels by the defaults' own rule, on data no reported number
comes from:

1. **Models that never saw the set** (``runs/lodo/<set>/default_model.pt``: the default recipe retrained without it,
   its taught-label constants fitted on the other sets by ``scripts/fit_example_curve.py``). Each set's **training
   side** (the benchmark judges the test side) is replayed through the live pipeline (``tune_decisions.record``,
   cached under ``runs/head/``), first and last pose held 0 and 1 s.
2. **Examples as the benchmark draws them** (``sadvae bench accuracy --examples-per-label K``, here on the training
   side): per class, K sequences of its first performer teach the label (their windows of the 1 s recording, as
   :func:`realtime.teaching.clip_windows` holds an example 1 s, with the live minimum window); that performer's
   sequences of the class are not judged.
3. **Simulate** with the real :class:`realtime.head.zero_shot.HeadBuilder` (every label of the list taught) and
   :class:`realtime.decisions.DecisionMaker` (``tune_decisions.simulate``) for each start score (keep and min score
   scale with it, 0.7x and 0.4x, as the defaults do; every other decision option and the minimum window at their
   defaults). Per (set, hold, K): live top-1 over the judged clips with every class taught, window vote, and false
   starts per minute on judged clips of the classes left out of ``--halves`` random half lists (near misses: their
   label is not taught, a sibling's is).
4. **Choose**: the highest start score whose mean live top-1 is within ``--tolerance`` points of the best among the
   scores with at most ``--max-false`` false starts a minute (the defaults' limit), so no threshold is lowered for
   less than a point; ties go to the fewer false starts.

Usage (project root, real data in ../shared/data; the three LODO models as in docs/head.md section 8)::

    python scripts/tune_example_decisions.py --json runs/examples/tune_taught.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
import tune_decisions as td  # noqa: E402  (after the sys.path lines)

from sadvae.paths import SHARED_DATA  # noqa: E402

log = logging.getLogger("tune_example_decisions")

TARGETS = ("msr_action3d", "nw_ucla", "utkinect")
SHORT = {"msr_action3d": "msr", "nw_ucla": "ucla", "utkinect": "utk"}  # the fits' file names
START_SCORES = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6)


def training_subjects(dataset: str, data_root: Path) -> np.ndarray:
    """The performer of each training-side sequence, in the order ``tune_decisions.replay_clips`` replays them."""
    from sadvae.data.registry import DATASETS as REG
    from sadvae.data.registry import load_dataset
    from sadvae.data.splits import dataset_arrays, test_side_mask

    ds = load_dataset(dataset, data_root / REG[dataset].default_root)
    labels, subjects, _ = dataset_arrays(ds)
    idx = np.flatnonzero(~test_side_mask(ds, dataset) & (labels >= 0))
    return subjects[idx]


def recordings(target: str, models: Path, data_root: Path):
    """One set's training side scored by the model that never saw it: (the model, open: the caller closes it; its live
    minimum window; {hold: recording} for holds 0 and 1 s, ``tune_decisions.record``, cached; each recorded
    sequence's performer; the class names)."""
    from realtime.backends.live_model import load_live_model
    from realtime.pipeline import MIN_WINDOW_FRAMES
    from sadvae.data.motion import StillTrim

    rec_args = argparse.Namespace(
        handedness="off", every=None, mirror=False, trim_still=StillTrim().threshold_m, trim_tail=None,
        trim_min=None, side="train", data_root=data_root,
    )  # fmt: skip
    model_path = models / target / "default_model.pt"
    model = load_live_model(model_path, "onnxruntime")
    try:
        min_window = min(MIN_WINDOW_FRAMES, int(model.preprocess.window))
        recs = {h: td.record(target, h, model_path, rec_args, ROOT / "runs" / "head") for h in (0.0, 1.0)}
        subjects = training_subjects(target, data_root)
    except BaseException:
        model.close()
        raise
    return model, min_window, recs, subjects, [str(n) for n in recs[1.0]["names"]]


def example_split(truth: np.ndarray, subjects: np.ndarray, k: int) -> tuple[dict[int, list[int]], np.ndarray]:
    """The benchmark's rule (``realtime.bench.accuracy.runner.teaching_sequences``) over the recorded sequences.

    Returns:
        ({class: example sequence positions}, bool [n] judged: not by a performer who teaches its class).
    """
    from realtime.bench.accuracy.runner import teaching_sequences

    examples, skip = teaching_sequences(truth, subjects, np.arange(len(truth)), k)
    judged = np.ones(len(truth), dtype=bool)
    judged[sorted(skip)] = False
    return examples, judged


def prototypes(rec_taught: dict, examples: dict[int, list[int]], names: list[str], min_window: int):
    """The taught labels' prototypes from the example sequences' windows of the 1 s recording."""
    from sadvae.head.examples import ExamplePrototypes

    seq_of = np.searchsorted(rec_taught["seq_start_s"], rec_taught["end_ms"] / 1000.0, side="right") - 1
    keep = rec_taught["frames"] >= min_window
    windows, latents, clips = {}, {}, {}
    for c, seqs in examples.items():
        rows = np.flatnonzero(keep & np.isin(seq_of, seqs))
        if len(rows):
            windows[names[c]] = rec_taught["seen_logits"][rows].astype(np.float64)
            latents[names[c]] = rec_taught["latent"][rows].astype(np.float64)
            clips[names[c]] = len(seqs)
    return ExamplePrototypes.from_windows(windows, clips, latents)


def score_taught(rec: dict, builder, listed: list[str]) -> dict:
    """The head's probs and scores on every window with the labels ``listed``, all of them taught."""
    from realtime.head.labels import parse_labels_text

    head = builder.build(parse_labels_text("\n".join(listed) + "\n"))
    if head.mode != "examples":
        raise RuntimeError(f"expected every label taught, got head mode {head.mode!r}")
    r = head(rec["latent"], rec["seen_logits"])
    return {"names": listed, "probs": np.asarray(r.probs), "scores": np.asarray(r.scores)}


def evaluate(rec: dict, judged: np.ndarray, full: dict, halves: list[dict], opts, min_window: int) -> dict:
    """Live / vote top-1 over judged clips (full list); false starts / min on judged clips of unlisted classes."""
    names = full["names"]
    truth = np.array([str(rec["names"][t]) for t in rec["truth"]], dtype=object)
    sim = td.simulate(rec, names, full["probs"], full["scores"], opts, min_window, full.get("taught"))
    firsts = [f[t] for f, t, j in zip(sim["first"], truth, judged, strict=True) if j and t in f]
    dur = np.diff(np.append(rec["seq_start_s"], rec["seq_start_s"][-1] + 3.0))
    false_starts, minutes = 0, 0.0
    for h in halves:
        sub = td.simulate(rec, h["names"], h["probs"], h["scores"], opts, min_window, h.get("taught"))
        unlisted = judged & ~np.isin(truth, h["names"])
        false_starts += int(sub["starts"][unlisted].sum())
        minutes += float(dur[unlisted].sum()) / 60.0
    return {
        "clips": int(judged.sum()),
        "live": float(np.mean(sim["live"][judged] == truth[judged])),
        "vote": float(np.mean(sim["vote"][judged] == truth[judged])),
        "decided": float(np.mean(sim["live"][judged] != "")),
        "first_correct_s": float(np.median(firsts)) if firsts else None,
        "false_starts_per_min": false_starts / max(minutes, 1e-9),
    }


def main(argv=None) -> int:
    from realtime.decisions import DecisionOptions

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", type=Path, default=SHARED_DATA)
    ap.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS)
    ap.add_argument("--models", type=Path, default=ROOT / "runs" / "lodo", help="folder of <set>/default_model.pt")
    ap.add_argument("--examples-per-label", type=int, nargs="+", default=[1, 3], dest="ks")
    ap.add_argument("--halves", type=int, default=4, help="random half lists per set for the false-start rate")
    ap.add_argument("--max-false", type=float, default=1.0, help="false starts per minute allowed (default 1)")
    ap.add_argument("--tolerance", type=float, default=1.0, help="points of mean live top-1 (default 1)")
    ap.add_argument(
        "--logits-only",
        type=Path,
        metavar="DIR",
        help="the first version (until 5 December 2026, late): prototypes of the logits alone, with the taught-label "
        "constants fitted for them, read from DIR/fit_lodo_<msr|ucla|utk>.json (runs/examples: what "
        "scripts/fit_example_curve.py wrote then)",
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from realtime.head.zero_shot import HeadBuilder, HeadOptions

    t0 = time.time()
    rows: dict[str, dict] = {}
    defaults = DecisionOptions()
    for target in args.targets:
        model, min_window, recs, subjects, names = recordings(target, args.models, args.data_root)
        try:
            rng = np.random.default_rng(0)
            halves = [
                sorted(rng.choice(names, size=max(2, len(names) // 2), replace=False).tolist())
                for _ in range(args.halves)
            ]
            for k in args.ks:
                examples, judged = example_split(recs[1.0]["truth"], subjects, k)
                protos = prototypes(recs[1.0], examples, names, min_window)
                if args.logits_only:  # the first version: no latent prototypes, the constants fitted for logits
                    protos = replace(protos, latent_prototypes=None)
                builder = HeadBuilder(
                    model.bundle, HeadOptions(handedness="off"), model_id=model.model_id, examples=protos
                )
                if not builder.calibrated:
                    raise SystemExit(f"{args.models / target}: no head calibration beside the model")
                if args.logits_only:
                    fit = json.loads((args.logits_only / f"fit_lodo_{SHORT[target]}.json").read_text())
                    builder.calibration = replace(
                        builder.calibration, **{k: fit[k] for k in ("example_a", "example_b", "example_temperature")}
                    )
                for h, rec in recs.items():
                    full = score_taught(rec, builder, names)
                    scored = [score_taught(rec, builder, half) for half in halves]
                    per_score = {}
                    for s in START_SCORES:
                        o = td.options(defaults.ema_alpha, s, defaults.start_windows, defaults.end_windows)
                        per_score[f"{s:g}"] = evaluate(rec, judged, full, scored, o, min_window)
                    rows[f"{target}@{h:g}s K{k}"] = per_score
                    log.info("%s hold %g K %d: %d judged clips", target, h, k, int(judged.sum()))
        finally:
            model.close()
    grid = []
    for s in START_SCORES:
        cells = [r[f"{s:g}"] for r in rows.values()]
        grid.append(
            {
                "start_score": s,
                "live": float(np.mean([c["live"] for c in cells])),
                "vote": float(np.mean([c["vote"] for c in cells])),
                "false": float(np.mean([c["false_starts_per_min"] for c in cells])),
            }
        )
    ok = [g for g in grid if g["false"] <= args.max_false]
    chosen = None
    if ok:
        best = max(g["live"] for g in ok)
        near = [g for g in ok if g["live"] >= best - args.tolerance / 100.0]
        chosen = max(near, key=lambda g: (g["start_score"], -g["false"]))
    report = {
        "targets": args.targets,
        "side": "train",
        "examples_per_label": args.ks,
        "halves": args.halves,
        "max_false": args.max_false,
        "tolerance_points": args.tolerance,
        "decision_defaults": {"ema_alpha": defaults.ema_alpha, "start_windows": defaults.start_windows},
        "grid": grid,
        "chosen": chosen,
        "rows": rows,
        "seconds": round(time.time() - t0, 1),
    }
    lines = ["| start score (keep, min) | " + " | ".join(rows) + " | mean live | mean vote | mean false / min |"]
    lines.append("|---|" + "---|" * (len(rows) + 3))
    for g in grid:
        s = g["start_score"]
        cells = [f"{100 * r[f'{s:g}']['live']:.0f}, {r[f'{s:g}']['false_starts_per_min']:.1f}" for r in rows.values()]
        mark = "**" if chosen and s == chosen["start_score"] else ""
        lines.append(
            f"| {mark}{s:g}{mark} ({0.7 * s:.3g}, {0.4 * s:.3g}) | "
            + " | ".join(cells)
            + f" | {100 * g['live']:.1f} | {100 * g['vote']:.1f} | {g['false']:.2f} |"
        )
    report["table"] = "\n".join(lines)
    print(report["table"])
    print(f"\nchosen: {chosen}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
