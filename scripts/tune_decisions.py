"""Choose the live decision defaults (minimum window, smoothing, hysteresis) on labelled replays of the TRAINING side.

Issue 14 item 5. The reported numbers (``sadvae bench accuracy``) come from each set's standard test side and from
real videos; nothing here looks at either.

1. **Record** (cached under ``runs/head/``): the *inner-validation* clips of the training side of MSR Action3D,
   NW-UCLA and UTKinect, and with ``--datasets`` of the mocap sets HDM05 and Bandai-Namco too
   (:func:`sadvae.train.default_shiftgcn.inner_validation`: whole subjects the recipe holds out of its own choices)
   are replayed through the real live pipeline as the benchmark replays its test sides
   (:func:`realtime.sources.replay.aligned_piece`: a person appears, acts and leaves, the first and last pose held
   ``--hold`` seconds, every clip started on the pipeline's stride so its windows do not depend on the clips before
   it; before 6 December 2026 a fixed gap), with partial windows from ``min(--min-window)`` frames on and each window
   cut to the span in which the person moves (``--trim-still``, sadvae-live's default). Every window's backend outputs
   and its number of real frames (before the cut) are kept.
2. **Simulate**: a setting's minimum window keeps the windows with at least that many frames (the pipeline
   emits exactly those windows at exactly those times with that setting), the live head
   (:class:`realtime.head.zero_shot.HeadBuilder`, the same matching and calibration as ``sadvae-live``) scores
   them, and :class:`realtime.decisions.DecisionMaker` runs over each track. Per clip: *live* = the label held
   longest is the truth (no decision = wrong), *vote* = the label with the highest mean probability over the
   clip's windows, *first correct* = seconds from the clip's start to the first ``start`` of the truth. False
   events: ``start`` events per minute on clips of classes left out of random half lists of the set's names
   ("none of these" clips).
3. **Choose**: the setting with the best mean live top-1 over sets and holds whose false-start rate on the
   half-list clips is at most ``--max-false`` per minute (ties: the earlier first correct event). The report's
   ``frontier`` gives, per family of rules (two leading windows; with instant starts; with whole motions; all), the
   best mean live top-1 within 1 / 1.5 / 2 / 3 false starts a minute.

Score the replays with the *inner model* (``scripts/train_default --inner-only``): the same recipe with its final
head and SA-DVAE trained on the training side minus inner validation, so it never saw these clips. The packaged
model was refitted on the whole training side, these clips included; its scores on them are more confident than
on unseen clips, and thresholds chosen on them leave the live decision undecided too often on the test sides. The
report says which model scored (``model_scope``: "inner" or "full", from ``<stem>.metrics.json``) and whether its
head calibration (``<stem>.head.json``, which "no action" needs) was found; without one the script stops. The
benchmark on the test sides stays the check.

Usage (project root, real data in ../shared/data)::

    scripts/train_default --threads 1 --inner-only --out runs/default_v2_inner/default_model.pt
    python scripts/tune_decisions.py --model runs/default_v2_inner/default_model.pt --json runs/head/tune_inner.json
"""

from __future__ import annotations

import argparse
import hashlib
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

DATASETS = ("msr_action3d", "nw_ucla", "utkinect")  # the default selection ground: the three Kinect v1 sets
MOCAP = ("hdm05", "bandai_namco")  # the recipe's other training sets (``--datasets``): optical mocap, another body
GRID = {  # 840 settings (instant starts only with 2 start windows), well under a second each on the 2-core machine
    "min_window": (16, 24, 32, 40, 48, 64, 96),
    "ema_alpha": (0.5, 0.7),
    "start_score": (0.4, 0.5, 0.6),
    "start_windows": (1, 2),
    "end_windows": (2,),
    "segment_score": (0.0, 0.3, 0.4, 0.5),  # decisions on a whole motion (0 = off)
    "instant_score": (0.0, 0.75, 0.85, 0.95),  # a start in one window at this score (0 = off)
}


def replay_clips(dataset: str, data_root: Path, side: str):
    """(sequences, class names as users write them, truth index per sequence, names of the classes present)."""
    from realtime.bench.accuracy.runner import dataset_class_names
    from sadvae.data.registry import DATASETS as REG
    from sadvae.data.registry import load_dataset
    from sadvae.data.splits import test_side_mask
    from sadvae.train.default_shiftgcn import inner_validation
    from sadvae.train.protocol import dataset_arrays

    ds = load_dataset(dataset, data_root / REG[dataset].default_root)
    labels, subjects, views = dataset_arrays(ds)
    test = test_side_mask(ds, dataset)
    mask = inner_validation(labels, subjects, views, test) if side == "inner-val" else ~test
    idx = np.flatnonzero(mask & (labels >= 0))
    names = dataset_class_names(dataset, ds)
    present = sorted({int(labels[i]) for i in idx})
    return (
        [ds.sequences[i] for i in idx],
        tuple(names[c] for c in present),
        [present.index(int(labels[i])) for i in idx],
    )


def replay_keys(datasets, holds) -> list[tuple[str, float]]:
    """The (set, hold) recordings of a run, each set once, in the order given (``--datasets``, ``--hold``)."""
    return [(d, float(h)) for d in dict.fromkeys(datasets) for h in dict.fromkeys(holds)]


def record(dataset: str, hold_s: float, model_path: Path | None, args, cache: Path) -> dict:
    """Replay the chosen clips of ``dataset`` through the pipeline; per-window backend outputs (cached)."""
    from realtime.backends import BackendOptions
    from realtime.backends.live_model import load_live_model
    from realtime.bench.accuracy.runner import replay_stride
    from realtime.decisions import DecisionOptions
    from realtime.events.publisher import PublisherOptions
    from realtime.head.zero_shot import HeadOptions
    from realtime.pipeline import Pipeline, PipelineOptions
    from realtime.sources.replay import ReplaySource, aligned_piece
    from sadvae.hashing import file_sha256

    model = load_live_model(model_path, "onnxruntime", options=BackendOptions(threads=1))
    path = model_path or model.bundle.path
    pool = args.handedness == "pool"  # the mirror images' outputs are recorded too (the windows' are the same)
    every = f"_every{args.every:g}" if args.every else ""  # the model's live stride: the key of earlier recordings
    trim = still_trim(args)
    # every setting of the cut in the key (recordings before it have none: whole windows)
    cut = f"_trim{hashlib.sha256(json.dumps(asdict(trim), sort_keys=True).encode()).hexdigest()[:8]}" if trim else ""
    key = (
        f"{dataset}_{hold_s:g}_{args.side}_m{min(GRID['min_window'])}_{file_sha256(path)[:8]}{'_pool' if pool else ''}"
        f"{every}{'_mirror' if args.mirror else ''}{cut}_mv_al"  # _mv: with each window's moving flag; _al: aligned
    )
    out = cache / f"replay_windows_{key}.npz"
    if out.is_file():
        model.close()
        z = np.load(out, allow_pickle=False)
        return {k: z[k] for k in z.files}
    seqs, names, truth = replay_clips(dataset, args.data_root, args.side)
    if args.mirror:  # left-handed performers: each clip's mirror image, a side-named class judged by its mirror
        from sadvae.head.handedness import mirror_columns
        from sadvae.skeleton import mirror_joints

        truth = [int(mirror_columns(names)[c]) for c in truth]
    # every clip starts on the pipeline's stride, as the benchmark replays its test sides (runner.heldout_stream):
    # its windows then do not depend on the clips played before it
    fps = float(seqs[0].fps)
    stride = replay_stride(model, fps, max(1, round(args.every * fps)) if args.every else None)
    chunks, times, seq_start, seq_stop, t0, played = [], [], [], [], 0.0, 0
    for seq in seqs:
        seq_start.append(t0)
        joints, t, _, t0 = aligned_piece(seq, t0, hold_s, played, stride)
        played += len(joints)
        seq_stop.append(t0)
        if args.mirror:
            joints = mirror_joints(joints)
        chunks.append(joints)
        times.append(t)
    rows: list[tuple] = []

    def on_batch(b) -> None:
        m = b.mirror_outputs
        for r, tid in enumerate(b.track_ids):
            t = b.times[r]
            out = (b.outputs["latent"][r], b.outputs["seen_logits"][r])
            rows.append(
                (
                    tid,
                    t[0] * 1000.0,
                    t[-1] * 1000.0,
                    len(t),
                    bool(b.moving[r]),
                    *out,
                    *((m["latent"][r], m["seen_logits"][r]) if m else ()),
                )
            )

    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        labels = Path(tmp) / "labels.txt"
        labels.write_text("\n".join(names) + "\n", encoding="utf-8")
        src = ReplaySource.from_arrays(np.concatenate(chunks), np.concatenate(times), name=dataset)
        opts = PipelineOptions(
            handle_signals=False,
            head=HeadOptions(handedness=args.handedness),
            min_window_frames=min(GRID["min_window"]),
            trim_still=trim,
            # on only so that the pipeline reads every window's motion for the recording (WindowBatch.moving), also
            # with whole windows; the decisions made while recording are not kept
            decisions=DecisionOptions(segment_score=0.5),
            stride=stride,
            publisher=PublisherOptions(endpoint="tcp://127.0.0.1:*", sndhwm=100_000),
        )
        Pipeline(src, model, labels, opts, on_batch=on_batch).run()
    log.info(
        "%s hold %gs: %d clips, %d windows in %.0f s", dataset, hold_s, len(seqs), len(rows), time.monotonic() - start
    )
    res = {
        "track": np.array([r[0] for r in rows], np.int64),
        "start_ms": np.array([r[1] for r in rows]),
        "end_ms": np.array([r[2] for r in rows]),
        "frames": np.array([r[3] for r in rows], np.int64),
        "moving": np.array([r[4] for r in rows], bool),
        "latent": np.array([r[5] for r in rows], np.float32),
        "seen_logits": np.array([r[6] for r in rows], np.float32),
        **(
            {
                "mirror_latent": np.array([r[7] for r in rows], np.float32),
                "mirror_seen_logits": np.array([r[8] for r in rows], np.float32),
            }
            if pool
            else {}
        ),
        "seq_start_s": np.array(seq_start),
        "seq_stop_s": np.array(seq_stop),
        "truth": np.array(truth, np.int64),
        "names": np.array(names),
    }
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(out, **res)
    return res


def still_trim(args):
    """The cut of ``--trim-still`` / ``--trim-tail`` (None for ``--trim-still 0``: whole windows)."""
    from sadvae.data.motion import StillTrim

    if not args.trim_still:
        return None
    tail = None if args.trim_tail is None or args.trim_tail < 0 else args.trim_tail
    shortest = StillTrim().min_s if args.trim_min is None else args.trim_min
    return StillTrim(threshold_m=args.trim_still, max_tail_s=tail, min_s=shortest)


def simulate(
    rec: dict, names: list[str], probs: np.ndarray, scores: np.ndarray, opts, min_window: int, taught=None
) -> dict:
    """Decisions over the recorded windows with at least ``min_window`` frames, per clip.

    Args:
        rec: a recording (:func:`record`); names: the label list; probs, scores: the head's ``probs`` and
            ``scores`` [N, L] for every recorded window; opts: :class:`realtime.decisions.DecisionOptions`;
            taught: per label, whether it is taught by example (the head's ``is_taught``; None: none is).

    Returns:
        per clip: ``live`` (label held longest, "" without a decision), ``vote`` ("" without a window),
        ``starts`` (start events), ``first`` (seconds from the clip's start to the first start of each label,
        ``{label: s}``), ``started`` (start events per label, ``{label: n}``).
    """
    from realtime.decisions import DecisionMaker

    seq_start = rec["seq_start_s"]
    n_seq = len(seq_start)
    live, vote = np.full(n_seq, "", dtype=object), np.full(n_seq, "", dtype=object)
    starts, first = np.zeros(n_seq, int), [dict() for _ in range(n_seq)]
    started: list[dict[str, int]] = [defaultdict(int) for _ in range(n_seq)]
    keep = np.flatnonzero(rec["frames"] >= min_window)
    seq_of = np.searchsorted(seq_start, rec["end_ms"] / 1000.0, side="right") - 1
    for k in np.unique(seq_of[keep]):
        rows = keep[seq_of[keep] == k]
        vote[k] = names[int(probs[rows].mean(0).argmax())]
    held_by_clip: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for tid in np.unique(rec["track"][keep]):
        rows = keep[rec["track"][keep] == tid]
        dm = DecisionMaker(names, opts, int(tid), taught)
        events = []
        moving = rec["moving"] if "moving" in rec else None  # recordings before 5 December 2026 have none
        for w in rows:
            span = (rec["start_ms"][w], rec["end_ms"][w])
            events += dm.update(
                scores[w], int(round(rec["end_ms"][w])), span, None if moving is None else bool(moving[w])
            )
        events += dm.end_track(int(round(rec["end_ms"][rows[-1]])))
        if not events:
            continue
        k = int(seq_of[rows[0]])
        held = held_by_clip[k]  # summed over the clip's tracks, as the benchmark's held_seconds sums them
        last = None
        for e in events:
            if e.type == "start":
                starts[k] += 1
                started[k][e.label] += 1
                first[k].setdefault(e.label, e.t_ms / 1000.0 - seq_start[k])
            if last is not None and last[0] is not None:
                held[last[0]] += e.t_ms - last[1]
            last = (e.label if e.type != "end" else None, e.t_ms)
    for k, held in held_by_clip.items():  # until 6 December 2026 a clip's last track alone decided it
        if held:
            live[k] = min(held.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    return {"live": live, "vote": vote, "starts": starts, "first": first, "started": started}


def score_lists(rec: dict, builder, halves: int, seed: int = 0) -> list[dict]:
    """The head's outputs on every recorded window for the full name list and ``halves`` random half lists."""
    from realtime.head.labels import parse_labels_text

    names = [str(n) for n in rec["names"]]
    rng = np.random.default_rng(seed)
    lists = [names] + [
        sorted(rng.choice(names, size=max(2, len(names) // 2), replace=False).tolist()) for _ in range(halves)
    ]
    out = []
    for listed in lists:
        head = builder.build(parse_labels_text("\n".join(listed) + "\n"))
        r = head(rec["latent"], rec["seen_logits"], _mirror(rec))
        out.append({"names": listed, "probs": np.asarray(r.probs), "scores": np.asarray(r.scores)})
    return out


def score_cross(recs: dict, builder) -> dict:
    """ "None of these" clips from the other sets: each set's full name list scored on the other sets' recordings.

    A clip of set B is a none clip for set A's list when the trained classes its own label reaches (the live
    matcher's columns) share nothing with the classes A's labels reach: an action of another vocabulary, as on
    the real videos of people doing something unlisted. Only the windows of those clips are kept.

    Returns:
        ``{(A, hold): {"names": A's names, "parts": [{"rec", "probs", "scores"}, ...]}}`` with each part a
        recording of another set (same hold) cut to its none clips.
    """
    from realtime.head.labels import parse_labels_text

    heads = {}
    for (d, _), rec in recs.items():
        if d not in heads:
            names = [str(n) for n in rec["names"]]
            head = builder.build(parse_labels_text("\n".join(names) + "\n"))
            heads[d] = (names, head, [set(cs) for cs in head.classes])
    out = {}
    for a, h in recs:
        names_a, head_a, cols_a = heads[a]
        covered = set().union(*cols_a)
        parts = []
        for (b, hb), rb in recs.items():
            if b == a or hb != h:
                continue
            cols_b = heads[b][2]
            none = np.array([bool(cols_b[t]) and not (cols_b[t] & covered) for t in rb["truth"]])
            seq_of = np.searchsorted(rb["seq_start_s"], rb["end_ms"] / 1000.0, side="right") - 1
            keep = none[seq_of]
            sub = {k: (v[keep] if k in _WINDOW_KEYS else v) for k, v in rb.items()}
            sub["none"] = none
            r = head_a(sub["latent"], sub["seen_logits"], _mirror(sub))
            parts.append({"rec": sub, "probs": np.asarray(r.probs), "scores": np.asarray(r.scores)})
        out[(a, h)] = {"names": names_a, "parts": parts}
    return out


_WINDOW_KEYS = (
    "track",
    "start_ms",
    "end_ms",
    "frames",
    "moving",
    "latent",
    "seen_logits",
    "mirror_latent",
    "mirror_seen_logits",
)


def _mirror(rec: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """The recorded mirror images' outputs (handedness pooling) when the recording has them."""
    return (rec["mirror_latent"], rec["mirror_seen_logits"]) if "mirror_latent" in rec else None


def cross_false_rate(cross: dict, key: tuple, opts, min_window: int) -> float:
    """Start events per minute on the other sets' none clips (:func:`score_cross`) for one (set, hold)."""
    starts, minutes = 0, 0.0
    c = cross[key]
    for part in c["parts"]:
        rb = part["rec"]
        sim = simulate(rb, c["names"], part["probs"], part["scores"], opts, min_window)
        dur = judged_seconds(rb)
        starts += int(sim["starts"][rb["none"]].sum())
        minutes += float(dur[rb["none"]].sum()) / 60.0
    return starts / max(minutes, 1e-9)


def judged_seconds(rec: dict) -> np.ndarray:
    """Seconds each replayed clip counts for in a false-start rate: from its start to the next clip's (held poses
    and the gap included), the judged span of ``sadvae bench accuracy``. Recordings made before the clips were
    aligned lack ``seq_stop_s``: the last clip counted 3 s there."""
    if "seq_stop_s" not in rec:
        return np.diff(np.append(rec["seq_start_s"], rec["seq_start_s"][-1] + 3.0))
    return rec["seq_stop_s"] - rec["seq_start_s"]


def evaluate(recs: dict, scored: dict, opts, min_window: int, cross: dict | None = None) -> dict:
    """Per (set, hold): live and vote top-1 (full list), median first correct (s), false starts / min (half lists;
    with ``cross``, also on the other sets' none clips: ``cross_false_starts_per_min``)."""
    out = {}
    for key, rec in recs.items():
        full, halves = scored[key][0], scored[key][1:]
        names = full["names"]
        truth = np.array([names[t] for t in rec["truth"]], dtype=object)
        sim = simulate(rec, names, full["probs"], full["scores"], opts, min_window)
        firsts = [f[t] for f, t in zip(sim["first"], truth, strict=True) if t in f]
        dur = judged_seconds(rec)
        false_starts, minutes = 0, 0.0
        for h in halves:
            sub = simulate(rec, h["names"], h["probs"], h["scores"], opts, min_window)
            unlisted = ~np.isin(truth, h["names"])
            false_starts += int(sub["starts"][unlisted].sum())
            minutes += float(dur[unlisted].sum()) / 60.0
        out[f"{key[0]}@{key[1]:g}s"] = {
            "clips": int(len(truth)),
            "live": float(np.mean(sim["live"] == truth)),
            "vote": float(np.mean(sim["vote"] == truth)),
            "first_correct_s": float(np.median(firsts)) if firsts else None,
            "with_correct_event": float(len(firsts) / len(truth)),
            "false_starts_per_min": false_starts / max(minutes, 1e-9),
        }
        if cross is not None:
            out[f"{key[0]}@{key[1]:g}s"]["cross_false_starts_per_min"] = cross_false_rate(cross, key, opts, min_window)
    return out


def why_missed(recs: dict, scored: dict, opts, min_window: int) -> dict:
    """Where live top-1 loses to the window vote, per (set, hold), with the full name list: of the clips whose vote
    is right, how many the live decision gets right, leaves undecided (no start event at all) or gives to another
    label; and, for the undecided ones, the median over clips of the truth's best unsmoothed window score (how far
    below ``start_score`` the evidence stayed)."""
    out = {}
    for key, rec in recs.items():
        full = scored[key][0]
        names = full["names"]
        truth = np.array([names[t] for t in rec["truth"]], dtype=object)
        sim = simulate(rec, names, full["probs"], full["scores"], opts, min_window)
        vote_ok = sim["vote"] == truth
        live_ok = sim["live"] == truth
        undecided = vote_ok & ~live_ok & (sim["live"] == "")
        keep = np.flatnonzero(rec["frames"] >= min_window)
        seq_of = np.searchsorted(rec["seq_start_s"], rec["end_ms"] / 1000.0, side="right") - 1
        best = [
            float(full["scores"][keep[seq_of[keep] == k], rec["truth"][k]].max()) for k in np.flatnonzero(undecided)
        ]
        out[f"{key[0]}@{key[1]:g}s"] = {
            "vote_right": int(vote_ok.sum()),
            "live_right": int((vote_ok & live_ok).sum()),
            "undecided": int(undecided.sum()),
            "other_label": int((vote_ok & ~live_ok & (sim["live"] != "")).sum()),
            "undecided_truth_best_score_median": float(np.median(best)) if best else None,
        }
    return out


def near_miss_starts(recs: dict, scored: dict, opts, min_window: int) -> dict:
    """What the false starts on near misses are, per set over its holds and half lists: ``{set: {"unlisted class ->
    started label": n}}``, most frequent first (the starts :func:`evaluate` counts as false)."""
    out: dict[str, dict[str, int]] = {}
    for key, rec in recs.items():
        names = scored[key][0]["names"]
        truth = np.array([names[t] for t in rec["truth"]], dtype=object)
        pairs = out.setdefault(key[0], {})
        for h in scored[key][1:]:
            sim = simulate(rec, h["names"], h["probs"], h["scores"], opts, min_window)
            for k in np.flatnonzero(~np.isin(truth, h["names"])):
                for label, n in sim["started"][k].items():
                    pair = f"{truth[k]} -> {label}"
                    pairs[pair] = pairs.get(pair, 0) + n
    return {d: dict(sorted(p.items(), key=lambda kv: (-kv[1], kv[0]))) for d, p in out.items()}


def why_markdown(why: dict, start_score: float) -> str:
    """:func:`why_missed` as a markdown table."""
    lines = [
        "| set @ hold | vote right | live right too | undecided | another label | undecided: truth's best window "
        f"score, median (start {start_score:g}) |",
        "|---|---|---|---|---|---|",
    ]
    for k, v in why.items():
        med = v["undecided_truth_best_score_median"]
        lines.append(
            f"| {k} | {v['vote_right']} | {v['live_right']} | {v['undecided']} | {v['other_label']} | "
            f"{'-' if med is None else f'{med:.2f}'} |"
        )
    return "\n".join(lines)


def default_recordings(model_path: Path, halves: int = 2) -> tuple[dict, dict]:
    """The recordings and scored half lists of the live defaults (still-pose cut on, handedness off) for the
    inner-validation replays held 0 and 1 s: what the probes of single decision rules read (``(recs, scored)`` as
    :func:`main` builds them; recordings cached under ``runs/head/``, made on a miss)."""
    from realtime.backends.live_model import load_live_model
    from realtime.head.zero_shot import HeadBuilder, HeadOptions
    from sadvae.data.motion import StillTrim

    rec_args = argparse.Namespace(
        handedness="off", every=None, mirror=False, trim_still=StillTrim().threshold_m, trim_tail=None,
        trim_min=None, side="inner-val", data_root=SHARED_DATA,
    )  # fmt: skip
    model = load_live_model(model_path, "onnxruntime")
    try:
        builder = HeadBuilder(model.bundle, HeadOptions(handedness="off"), model_id=model.model_id)
        recs = {(d, h): record(d, h, model_path, rec_args, ROOT / "runs" / "head") for d in DATASETS for h in (0, 1)}
        scored = {k: score_lists(r, builder, halves) for k, r in recs.items()}
    finally:
        model.close()
    return recs, scored


def options(
    ema_alpha: float,
    start_score: float,
    start_windows: int,
    end_windows: int,
    segment_score: float = 0.0,
    instant_score: float = 0.0,
):
    """Decision options of one grid point: keep and min score scale with the start score as the defaults do."""
    from realtime.decisions import DecisionOptions

    return DecisionOptions(
        ema_alpha=ema_alpha,
        start_score=start_score,
        keep_score=round(0.7 * start_score, 3),
        min_score=round(0.4 * start_score, 3),
        start_windows=start_windows,
        end_windows=end_windows,
        segment_score=segment_score,
        instant_score=instant_score,
    )


def model_scope(model_path: Path) -> str:
    """``inner`` when ``<stem>.metrics.json`` says the model's final head never saw inner validation, else ``full``."""
    metrics = model_path.with_name(model_path.stem + ".metrics.json")
    if metrics.is_file():
        return str(json.loads(metrics.read_text()).get("metrics", {}).get("model", "full"))
    return "full"


def row_markdown(name: str, res: dict) -> str:
    """One table row: per (set, hold) live / vote top-1 (%), median first correct start (s), false starts / min."""
    cells = [
        f"{100 * v['live']:.0f} / {100 * v['vote']:.0f}, "
        + (f"{v['first_correct_s']:.1f} s" if v["first_correct_s"] is not None else "never")
        + f", {v['false_starts_per_min']:.1f}"
        for v in res.values()
    ]
    live, false, _ = summary(res)
    cf = cross_false(res)
    return (
        f"| {name} | "
        + " | ".join(cells)
        + f" | {100 * live:.1f} | {false:.2f} |"
        + (f" {cf:.2f} |" if cf is not None else "")
    )


def table_markdown(report: dict) -> str:
    """The current defaults, whole windows and the chosen setting as a markdown table."""
    keys = list(report["defaults"]["result"])
    with_cross = cross_false(report["defaults"]["result"]) is not None
    lines = [
        "| setting | "
        + " | ".join(keys)
        + " | mean live | mean false / min |"
        + (" mean false / min, other sets' clips |" if with_cross else ""),
        "|---|" + "---|" * (len(keys) + 2 + with_cross),
    ]
    d = report["defaults"]
    lines.append(
        row_markdown(
            f"current defaults (min window {d['min_window']}, start {d['options']['start_score']})", d["result"]
        )
    )
    r1 = report["round1"]
    lines.append(row_markdown(f"current thresholds, whole windows ({r1['min_window']})", r1["result"]))
    if "chosen" in report:
        c, o = report["chosen"], report["chosen"]["options"]
        name = (
            f"**chosen** (min window {c['min_window']}, smoothing {o['ema_alpha']}, start {o['start_score']} "
            f"(keep {o['keep_score']}, min {o['min_score']}), {o['start_windows']} start / {o['end_windows']} end"
            f"{', whole motions ' + format(o['segment_score'], 'g') if o.get('segment_score') else ''}"
            f"{', instant start ' + format(o['instant_score'], 'g') if o.get('instant_score') else ''})"
        )
        lines.append(row_markdown(name, c["result"]))
    return "\n".join(lines)


FRONTIER_LIMITS = (1.0, 1.5, 2.0, 3.0)
# families of the grid: which decision rules a setting may use
FAMILIES = {
    "two leading windows (no whole motions, no instant starts)": lambda o: (
        not o["segment_score"] and not o["instant_score"]
    ),
    "with instant starts": lambda o: not o["segment_score"],
    "with whole motions": lambda o: not o["instant_score"],
    "all": lambda o: True,
}


def frontier(grid: list[dict], limit: str) -> dict:
    """Per family of rules and false-start limit: the best mean live top-1 of the grid within the limit."""
    out = {}
    for fam, keep in FAMILIES.items():
        row = {}
        for cap in FRONTIER_LIMITS:
            ok = [g for g in grid if keep(g["options"]) and g[limit] <= cap]
            row[f"{cap:g}"] = round(100 * max(g["live"] for g in ok), 1) if ok else None
        out[fam] = row
    return out


def frontier_markdown(front: dict) -> str:
    caps = list(next(iter(front.values())))
    lines = [
        "| best mean live top-1 (%) with at most ... false starts a minute | " + " | ".join(caps) + " |",
        "|---|" + "---|" * len(caps),
    ]
    for fam, row in front.items():
        lines.append(f"| {fam} | " + " | ".join("-" if v is None else f"{v:.1f}" for v in row.values()) + " |")
    return "\n".join(lines)


def summary(res: dict) -> tuple[float, float, float]:
    """(mean live top-1, mean false starts / min, mean median first correct) over sets and holds."""
    live = float(np.mean([v["live"] for v in res.values()]))
    false = float(np.mean([v["false_starts_per_min"] for v in res.values()]))
    first = float(np.mean([v["first_correct_s"] if v["first_correct_s"] is not None else 10.0 for v in res.values()]))
    return live, false, first


def cross_false(res: dict) -> float | None:
    """Mean false starts / min on the other sets' none clips over sets and holds (None when not measured)."""
    vals = [v["cross_false_starts_per_min"] for v in res.values() if "cross_false_starts_per_min" in v]
    return float(np.mean(vals)) if vals else None


def main(argv=None) -> int:
    from sadvae.data.motion import StillTrim
    from sadvae.head.handedness import HANDEDNESS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, help="model bundle .pt (default: the packaged model)")
    ap.add_argument("--data-root", type=Path, default=SHARED_DATA)
    ap.add_argument(
        "--side", choices=("inner-val", "train"), default="inner-val", help="clips replayed (default inner-val)"
    )
    ap.add_argument(
        "--datasets",
        nargs="+",
        choices=DATASETS + MOCAP,
        default=list(DATASETS),
        help="training sets whose clips are replayed (default: the three Kinect v1 sets; the choices of 4-6 December "
        f"2026 were made on them); add {' '.join(MOCAP)} for the recipe's mocap sets (the cross false-start rate "
        "then counts their clips too, so it compares only with runs of the same sets)",
    )
    ap.add_argument("--hold", type=float, nargs="+", default=[0.0, 1.0])
    ap.add_argument("--halves", type=int, default=2, help="random half lists per set for the false-start rate")
    ap.add_argument(
        "--every",
        type=float,
        metavar="S",
        help="seconds between windows while recording (sadvae-live --stride in seconds; default: the model's live "
        "stride, 0.8 s for the packaged model)",
    )
    ap.add_argument("--max-false", type=float, default=1.0, help="false starts per minute allowed (default 1)")
    ap.add_argument(
        "--false-source",
        choices=("halves", "cross"),
        default="halves",
        help="clips the false-start limit counts on: 'halves' (default) = clips of a set's classes left out of random "
        "half lists of its own names (near misses); 'cross' = clips of the other sets whose classes no label of "
        "the list reaches (unlisted actions of another vocabulary). Both rates are reported",
    )
    ap.add_argument(
        "--handedness",
        choices=HANDEDNESS,
        default="off",
        help="the head's handedness pooling (sadvae-live --handedness; default off): pool records the windows' "
        "mirror images too",
    )
    ap.add_argument(
        "--mirror", action="store_true", help="replay the clips' left-right mirror images (left-handed performers)"
    )
    ap.add_argument(
        "--trim-still",
        type=float,
        default=StillTrim().threshold_m,
        metavar="M",
        help="cut each window to the span in which the person moves, threshold M metres (sadvae-live --trim-still; "
        f"default {StillTrim().threshold_m:g}, 0 = whole windows: the recordings made before 5 December 2026)",
    )
    ap.add_argument(
        "--trim-tail",
        type=float,
        metavar="S",
        help="still poses after the motion are cut only while they last at most S seconds (default: always, "
        "as sadvae.data.motion.StillTrim.max_tail_s; negative: always)",
    )
    ap.add_argument(
        "--trim-min",
        type=float,
        metavar="S",
        help="a moving span shorter than S seconds leaves the window whole (default: StillTrim.min_s)",
    )
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if args.trim_still < 0:
        ap.error(f"--trim-still must be >= 0 metres (0 = whole windows), got {args.trim_still}")
    try:
        still_trim(args)
    except ValueError as e:  # --trim-min / --trim-tail out of range: one line before any model is loaded
        ap.error(f"--trim-min / --trim-tail: {e}")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from realtime.backends.live_model import load_live_model
    from realtime.decisions import DecisionOptions
    from realtime.head.zero_shot import HeadBuilder, HeadOptions
    from realtime.pipeline import MIN_WINDOW_FRAMES

    t0 = time.time()
    model = load_live_model(args.model, "onnxruntime")
    builder = HeadBuilder(model.bundle, HeadOptions(handedness=args.handedness), model_id=model.model_id)
    if not builder.calibrated:
        model.close()
        print(
            f"tune_decisions: error: no head calibration for {args.model or model.bundle.path} (<stem>.head.json "
            "beside the bundle): 'no action' would be off and the thresholds meaningless",
            file=sys.stderr,
        )
        return 2
    scope = model_scope(Path(args.model or model.bundle_path or ""))
    if scope != "inner" and args.side == "inner-val":
        log.warning("the model is not the inner model: it was trained on the replayed clips (over-confident scores)")
    cache = ROOT / "runs" / "head"
    recs = {(d, h): record(d, h, args.model, args, cache) for d, h in replay_keys(args.datasets, args.hold)}
    log.info("recorded in %.0f s", time.time() - t0)
    scored = {k: score_lists(r, builder, args.halves) for k, r in recs.items()}
    cross = score_cross(recs, builder)
    model.close()
    window = int(model.preprocess.window)
    report: dict = {
        "model": str(args.model or model.bundle.path),
        "model_id": model.model_id,
        "model_scope": scope,
        "calibrated": True,
        "side": args.side,
        "handedness": args.handedness,
        "every_s": args.every,
        "mirror": args.mirror,
        "trim_still": asdict(still_trim(args)) if still_trim(args) else None,
        "datasets": list(dict.fromkeys(args.datasets)),
        "clips": {f"{k[0]}@{k[1]:g}s": int(len(r["truth"])) for k, r in recs.items()},
        "round1": {"options": asdict(DecisionOptions()), "min_window": window},
        "false_source": args.false_source,
    }
    report["round1"]["result"] = evaluate(recs, scored, DecisionOptions(), window, cross)
    # the live defaults as they stand (decision defaults, --min-window-frames default)
    report["defaults"] = {"options": asdict(DecisionOptions()), "min_window": min(MIN_WINDOW_FRAMES, window)}
    report["defaults"]["result"] = evaluate(recs, scored, DecisionOptions(), report["defaults"]["min_window"], cross)
    report["defaults"]["why_missed"] = why_missed(recs, scored, DecisionOptions(), report["defaults"]["min_window"])
    report["defaults"]["near_miss_starts"] = near_miss_starts(
        recs, scored, DecisionOptions(), report["defaults"]["min_window"]
    )
    grid = []
    for mw, a, s, sw, ew, seg, inst in itertools.product(*GRID.values()):
        if mw > window or (inst and sw == 1):  # with one start window an instant start changes nothing
            continue
        o = options(a, s, sw, ew, seg, inst)
        res = evaluate(recs, scored, o, mw, cross)
        live, false, first = summary(res)
        grid.append(
            {
                "min_window": mw,
                "options": asdict(o),
                "live": live,
                "false": false,
                "cross_false": cross_false(res),
                "first": first,
            }
        )
    limit = "false" if args.false_source == "halves" else "cross_false"
    report["frontier"] = frontier(grid, limit)
    ok = [g for g in grid if g[limit] <= args.max_false]
    best = max(ok, key=lambda g: (round(g["live"], 4), -g["first"])) if ok else None
    report["grid"] = grid
    if best is not None:
        report["chosen"] = {
            **best,
            "result": evaluate(recs, scored, DecisionOptions(**best["options"]), best["min_window"], cross),
        }
        log.info("chosen: min_window %d, %s", best["min_window"], best["options"])
        # the decision defaults with only the minimum window changed, for comparison
        report["defaults_with_chosen_min_window"] = evaluate(recs, scored, DecisionOptions(), best["min_window"], cross)
    report["seconds"] = round(time.time() - t0, 1)
    report["table"] = table_markdown(report)
    text = json.dumps(report, indent=1, default=str)
    print(json.dumps({k: v for k, v in report.items() if k not in ("grid", "table")}, indent=1, default=str))
    print("\n" + report["table"])
    print("\n" + frontier_markdown(report["frontier"]))
    print("\nWhere live loses to the vote at the current defaults:\n")
    print(why_markdown(report["defaults"]["why_missed"], DecisionOptions().start_score))
    print("\nFalse starts on near misses at the current defaults (unlisted class -> label started), per set:\n")
    for d, pairs in report["defaults"]["near_miss_starts"].items():
        top = ", ".join(f"{p} {n}" for p, n in list(pairs.items())[:5])
        print(f"- {d}: {sum(pairs.values())} starts{': ' + top if top else ''}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
