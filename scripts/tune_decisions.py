"""Re-tune the live decision rules (realtime/decisions.py) on labelled held-out replays, honestly.

1. **Record**: every held-out sequence of the default model's three training sets is replayed through the
   real live pipeline (as ``scripts/check_default_live.py`` does: a person who appears, acts and leaves;
   labels = the dataset's class names; the first and last pose held ``--hold`` seconds), and every window's
   head output (probabilities, P(action)) is kept per track (cached under runs/head/).
2. **Simulate**: the decisions are a pure function of those windows, so :class:`realtime.decisions.DecisionMaker`
   runs offline over them for every setting of a grid, and gives the live top-1 (the label held longest per
   clip is the truth; a clip without a decision is wrong) beside the window vote (the label with the highest
   mean probability over the clip's windows, no smoothing, no thresholds).
3. **Choose without looking at the numbers reported**: the held-out subjects are split in two folds
   (subjects 2, 6, 10 | the others); a setting is chosen on one fold (best mean live top-1 over the three
   sets) and reported on the other, both ways. The defaults proposed are those chosen on fold A.

Usage (project root, real data in ../shared/data)::

    python scripts/tune_decisions.py --json runs/head/tune.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from sadvae.paths import SHARED_DATA  # noqa: E402  (after the sys.path line)

log = logging.getLogger("tune_decisions")


def record(dataset: str, hold_s: float, data_root: Path, cache: Path, merged_cache: dict) -> dict:
    """Replay the held-out side of ``dataset`` through the pipeline; per-window head outputs per track."""
    from sadvae.hashing import file_sha256

    model_hash = file_sha256(ROOT / "sadvae" / "assets" / "default_model.pt")[:8]
    out = cache / f"replay_raw_{dataset}_{hold_s:g}_{model_hash}.npz"
    if out.is_file():
        z = np.load(out, allow_pickle=False)
        return {k: z[k] for k in z.files}
    from realtime.backends import BackendOptions
    from realtime.backends.live_model import load_live_model
    from realtime.bench.accuracy.runner import stream_piece
    from realtime.events.publisher import PublisherOptions
    from realtime.pipeline import Pipeline, PipelineOptions
    from realtime.sources.replay import ReplaySource
    from sadvae.data.registry import DATASETS, load_dataset
    from sadvae.train.default_model import CLASS_NAMES, DATASET_NAMES, merge_datasets

    d = DATASET_NAMES.index(dataset)
    if "merged" not in merged_cache:
        sets = {n: load_dataset(n, data_root / DATASETS[n].default_root) for n in DATASET_NAMES}
        merged_cache["merged"] = merge_datasets(sets)
    merged = merged_cache["merged"]
    idx = np.flatnonzero(merged.holdout & (merged.dataset == d))
    classes = sorted({int(merged.labels[i]) for i in idx})
    chunks, times, seq_start, truth, subject, t0 = [], [], [], [], [], 0.0
    for i in idx:
        seq = merged.sequences[i]
        seq_start.append(t0)
        joints, t, _, t0_next = stream_piece(seq, t0, hold_s)  # realtime.bench.accuracy.runner.GAP_S between sequences
        chunks.append(joints)
        times.append(t)
        t0 = t0_next
        truth.append(classes.index(int(merged.labels[i])))
        subject.append(-1 if seq.subject is None else int(seq.subject))
    rows: list[tuple] = []

    def on_batch(b) -> None:
        for r, tid in enumerate(b.track_ids):
            rows.append(
                (
                    tid,
                    b.times[r][0] * 1000.0,
                    b.times[r][-1] * 1000.0,
                    b.outputs["latent"][r],
                    b.outputs["seen_logits"][r],
                )
            )

    with tempfile.TemporaryDirectory() as tmp:
        labels = Path(tmp) / "labels.txt"
        labels.write_text("\n".join(CLASS_NAMES[c] for c in classes) + "\n", encoding="utf-8")
        src = ReplaySource.from_arrays(np.concatenate(chunks), np.concatenate(times), name=dataset)
        model = load_live_model(None, "onnxruntime", options=BackendOptions(threads=1))
        opts = PipelineOptions(handle_signals=False, publisher=PublisherOptions(endpoint="tcp://127.0.0.1:*"))
        Pipeline(src, model, labels, opts, on_batch=on_batch).run()
    res = {
        "track": np.array([r[0] for r in rows], np.int64),
        "start_ms": np.array([r[1] for r in rows]),
        "end_ms": np.array([r[2] for r in rows]),
        "latent": np.array([r[3] for r in rows]),
        "seen_logits": np.array([r[4] for r in rows]),
        "seq_start_s": np.array(seq_start),
        "truth": np.array(truth),
        "subject": np.array(subject),
        "names": np.array([CLASS_NAMES[c] for c in classes]),
    }
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(out, **res)
    return res


def head_for(names: list[str], vocabulary: tuple[str, ...], calibration, reject: bool):
    """The live head's scoring core for a label list, matched as the live builder matches exact lists."""
    from sadvae.head import HeadCore, match_labels

    m = match_labels(names, vocabulary, None)
    return HeadCore(names, [x.classes for x in m.matches], len(vocabulary), 0, None, calibration, reject=reject)


def simulate(rec: dict, names: list[str], truth_names: list[str | None], core, opts) -> dict[str, np.ndarray]:
    """Per clip: the live label (held longest, "" when none), the window vote ("" without a window), and the
    number of starts. ``truth_names`` [clips] is each clip's class name (None: not one of ``names``)."""
    from realtime.decisions import DecisionMaker

    seq_start = rec["seq_start_s"]
    n_seq = len(seq_start)
    live, vote, starts = np.full(n_seq, "", dtype=object), np.full(n_seq, "", dtype=object), np.zeros(n_seq, int)
    r = core(np.zeros((len(rec["track"]), 0), np.float32), rec["seen_logits"])
    seq_of_window = np.searchsorted(seq_start, rec["end_ms"] / 1000.0, side="right") - 1
    for k in np.unique(seq_of_window):
        vote[k] = names[int(r.probs[seq_of_window == k].mean(0).argmax())]
    for tid in np.unique(rec["track"]):
        rows = np.flatnonzero(rec["track"] == tid)
        dm = DecisionMaker(names, opts, int(tid))
        events = []
        for w in rows:
            events += dm.update(r.scores[w], int(round(rec["end_ms"][w])), (rec["start_ms"][w], rec["end_ms"][w]))
        events += dm.end_track(int(round(rec["end_ms"][rows[-1]])))
        if not events:
            continue
        k = int(np.searchsorted(seq_start, events[0].t_ms / 1000.0, side="right") - 1)
        starts[k] += sum(e.type == "start" for e in events)
        held: dict[str, float] = defaultdict(float)
        last = None
        for e in events:
            if last is not None and last[0] is not None:
                held[last[0]] += e.t_ms - last[1]
            last = (e.label if e.type != "end" else None, e.t_ms)
        if held and not live[k]:
            live[k] = max(held.items(), key=lambda kv: kv[1])[0]
    return {"live": live, "vote": vote, "starts": starts}


GRID = {
    "ema_alpha": (0.5, 0.7, 1.0),
    "start_score": (0.2, 0.3, 0.4, 0.5, 0.6),
    "start_windows": (1, 2, 3),
    "end_windows": (1, 2),
}


def options(ema_alpha, start_score, start_windows, end_windows):
    from realtime.decisions import DecisionOptions

    return DecisionOptions(
        ema_alpha=ema_alpha,
        start_score=start_score,
        keep_score=round(0.7 * start_score, 3),
        min_score=round(0.4 * start_score, 3),
        start_windows=start_windows,
        end_windows=end_windows,
    )


def evaluate(recs: dict, vocabulary, calibration, reject: bool, opts, fold: str, halves: int = 4) -> dict:
    """On one fold of clips: live and vote top-1 with the full class list, and with half lists the starts per
    minute on clips of unlisted classes ("none of these")."""
    out = {}
    for key, rec in recs.items():
        names = [str(n) for n in rec["names"]]
        truth = np.array([names[t] for t in rec["truth"]], dtype=object)
        mask = (rec["subject"] % 4 == 2) if fold == "A" else (rec["subject"] % 4 != 2)
        core = head_for(names, vocabulary, calibration, reject)
        sim = simulate(rec, names, list(truth), core, opts)
        live = float(np.mean(sim["live"][mask] == truth[mask]))
        vote = float(np.mean(sim["vote"][mask] == truth[mask]))
        rng = np.random.default_rng(0)
        false_starts, minutes = 0, 0.0
        dur = np.diff(np.append(rec["seq_start_s"], rec["seq_start_s"][-1] + 3.0))  # clip + gap, seconds
        for _ in range(halves):
            listed = list(rng.choice(names, size=max(2, len(names) // 2), replace=False))
            sub = simulate(rec, listed, [], head_for(listed, vocabulary, calibration, reject), opts)
            unl = mask & ~np.isin(truth, listed)
            false_starts += int(sub["starts"][unl].sum())
            minutes += float(dur[unl].sum()) / 60.0
        out[f"{key[0]}@{key[1]:g}s"] = {"live": live, "vote": vote, "false_starts_per_min": false_starts / minutes}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", type=Path, default=SHARED_DATA)
    ap.add_argument("--hold", type=float, nargs="+", default=[0.0, 1.0])
    ap.add_argument("--max-false", type=float, default=1.0, help="false starts per minute allowed (default 1)")
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--compare",
        action="store_true",
        help="only compare fixed settings (round 1 with and without 'no action', a middle one) on both folds",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from realtime.decisions import DecisionOptions
    from sadvae.assets import default_bundle_path
    from sadvae.head import read_calibration
    from sadvae.head.calibration import calibration_path
    from sadvae.train.default_model import CLASS_NAMES, DATASET_NAMES

    t0 = time.time()
    merged: dict = {}
    cache = ROOT / "runs" / "head"
    recs = {(d, h): record(d, h, args.data_root, cache, merged) for d in DATASET_NAMES for h in args.hold}
    log.info("recorded in %.0f s", time.time() - t0)
    cal = read_calibration(calibration_path(default_bundle_path()))
    vocab = tuple(CLASS_NAMES)
    if args.compare:
        cands = {
            "round 1, no rejection": (DecisionOptions(), False),
            "round 1 + no action": (DecisionOptions(), True),
            "smoothing 0.7, start 0.4 + no action": (options(0.7, 0.4, 2, 1), True),
        }
        report = {
            name: {f: evaluate(recs, vocab, cal, rej, o, f) for f in ("A", "B")} for name, (o, rej) in cands.items()
        }
        text = json.dumps(report, indent=1)
        print(text)
        if args.json:
            args.json.write_text(text + "\n", encoding="utf-8")
        return 0
    settings = [(o, rej) for o in (options(*v) for v in itertools.product(*GRID.values())) for rej in (True, False)]
    report: dict = {"round1": {f: evaluate(recs, vocab, cal, False, DecisionOptions(), f) for f in ("A", "B")}}

    def summary(res):
        live = np.mean([v["live"] for v in res.values()])
        false = np.mean([v["false_starts_per_min"] for v in res.values()])
        return live, false

    for chosen_on, report_on in (("A", "B"), ("B", "A")):
        best, best_live = None, -1.0
        for o, rej in settings:
            live, false = summary(evaluate(recs, vocab, cal, rej, o, chosen_on, halves=2))
            if false <= args.max_false and live > best_live:
                best, best_live = (o, rej), live
        o, rej = best
        report[f"chosen_on_{chosen_on}"] = {
            "options": asdict(o),
            "reject": rej,
            "fit_live_mean": best_live,
            f"fold_{report_on}": evaluate(recs, vocab, cal, rej, o, report_on),
        }
        log.info("chosen on %s: %s reject=%s", chosen_on, o, rej)
    report["seconds"] = round(time.time() - t0, 1)
    text = json.dumps(report, indent=1, default=str)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
