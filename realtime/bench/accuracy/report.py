"""The accuracy benchmark's driver and reports: JSON, markdown and a PNG plot."""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from realtime.bench.accuracy.metrics import SegmentScore, summarise

__all__ = ["AccuracyOptions", "run_accuracy", "markdown", "plot", "write_outputs"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AccuracyOptions:
    """What ``sadvae bench accuracy`` runs.

    Attributes:
        annotations: the annotation file (None: no videos).
        clips: only these clip names (empty: all).
        labels: only pairings with these labels files (resolved paths; empty: all).
        replay_datasets: dataset names whose held-out side is replayed.
        hold_s: seconds the first/last pose is held around each replayed sequence (several: one run each).
        limit: first n held-out sequences per dataset (None: all).
        mirror: replay the sequences' left-right mirror images (left-handed performers).
        examples_per_label: teach each replayed dataset's labels by this many of its test-side sequences (one
            performer per class; :func:`realtime.bench.accuracy.runner.example_split`); 0: no examples.
        teach: False leaves the example performers' sequences out as with examples but scores the labels by their
            names (the baseline on the same replayed sequences).
        teach_every: n > 1 teaches only every n-th label of the list, the others scored by their names (a mixed
            list; the report then also summarises the sequences of taught and of named labels apart).
        replay_labels: per replayed dataset, a file that words its classes as a user may
            (:func:`realtime.bench.accuracy.runner.read_reworded`); the others keep their class names.
        data_root: ``../shared/data``; project_root: where labels paths start.
    """

    annotations: Path | None
    data_root: Path
    project_root: Path
    clips: tuple[str, ...] = ()
    labels: tuple[Path, ...] = ()
    replay_datasets: tuple[str, ...] = ()
    hold_s: tuple[float, ...] = (0.0,)
    limit: int | None = None
    mirror: bool = False
    examples_per_label: int = 0
    teach: bool = True
    teach_every: int = 1
    replay_labels: dict[str, Path] = field(default_factory=dict)
    run: Any = field(default=None)  # realtime.bench.accuracy.runner.RunOptions


def _machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}"


def _trim_setting(trim: Any) -> dict[str, Any] | None:
    """The still-pose cut the runs used, for the report: its settings, or None for whole windows."""
    from dataclasses import asdict

    from realtime.pipeline import PipelineOptions

    trim = PipelineOptions().trim_still if trim is None else (trim or None)
    return asdict(trim) if trim is not None else None


def _decision_setting(decisions: Any) -> dict[str, Any]:
    """The decision options the runs used (sadvae-live's defaults unless the run set others), for the report."""
    from dataclasses import asdict

    from realtime.decisions import DecisionOptions

    return asdict(decisions if decisions is not None else DecisionOptions())


def run_accuracy(opts: AccuracyOptions, command: str = "") -> dict[str, Any]:
    """Run every selected video pairing and replayed dataset; returns the result document (JSON-ready)."""
    from tqdm import tqdm

    from realtime.bench.accuracy.annotations import load_annotations
    from realtime.bench.accuracy.runner import RunOptions, run_clip, run_replay_dataset
    from sadvae.errors import ConfigError

    run = opts.run or RunOptions()
    t_start = time.monotonic()
    doc: dict[str, Any] = {
        "command": command,
        "machine": _machine(),
        "model": str(run.model or "packaged default"),
        "backend": run.backend,
        "threads": run.threads,
        "trim_still": _trim_setting(run.trim_still),
        "decisions": _decision_setting(run.decisions),
        "videos": [],
        "replays": [],
    }
    if opts.annotations is not None:
        clips = load_annotations(opts.annotations, opts.data_root, opts.project_root)
        if opts.clips:
            unknown = sorted(set(opts.clips) - {c.name for c in clips})
            if unknown:
                raise ConfigError(
                    f"--clip {unknown[0]!r} is not in {opts.annotations}; its clips: {', '.join(c.name for c in clips)}"
                )
            clips = [c for c in clips if c.name in opts.clips]
        if opts.labels:
            want = {p.resolve() for p in opts.labels}
            paired = {j.labels.resolve() for c in clips for j in c.judge}
            for p in sorted(want - paired):
                raise ConfigError(
                    f"--labels {p} is not paired with any selected clip in {opts.annotations}: add a "
                    "judge entry { labels = ..., truth = ... } to the clips it applies to"
                )
            clips = [
                c.__class__(**{**c.__dict__, "judge": tuple(j for j in c.judge if j.labels.resolve() in want)})
                for c in clips
            ]
            clips = [c for c in clips if c.judge]
        doc["annotations"] = str(opts.annotations)
        rows: list[dict[str, Any]] = []
        for clip in tqdm(clips, desc="videos", unit="clip"):
            rows += run_clip(clip, run)
        doc["videos"] = rows
        scores = [SegmentScore(**r["score"]) for r in rows]
        doc["video_summary"] = summarise(scores)
        by_labels: dict[str, list[SegmentScore]] = {}
        for r, s in zip(rows, scores, strict=True):
            by_labels.setdefault(r["labels"], []).append(s)
        doc["video_summary_by_labels"] = {k: summarise(v) for k, v in by_labels.items()}
    for name in tqdm(opts.replay_datasets, desc="replays", unit="dataset", disable=not opts.replay_datasets):
        for hold in opts.hold_s:
            scores, info = run_replay_dataset(
                name,
                opts.data_root,
                run,
                hold,
                opts.limit,
                mirror=opts.mirror,
                examples_per_label=opts.examples_per_label,
                teach=opts.teach,
                teach_every=opts.teach_every,
                reworded=opts.replay_labels.get(name),
            )
            entry = {**info, "summary": summarise(scores), "sequences_detail": [s.to_dict() for s in scores]}
            if opts.teach_every > 1 and info["taught"]:  # a mixed list: its two kinds of labels apart
                mine = set(info["taught_labels"])
                entry["summary_taught"] = summarise([s for s in scores if s.truth in mine])
                entry["summary_named"] = summarise([s for s in scores if s.truth not in mine])
            doc["replays"].append(entry)
            log.info("%s hold %g: %s", name, hold, doc["replays"][-1]["summary"]["labelled"])
    doc["wall_s"] = round(time.monotonic() - t_start, 1)
    return doc


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def _num(x: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if x is None else fmt.format(x)


def _examples_note(r: dict[str, Any]) -> str:
    k = r.get("examples_per_label", 0)
    if r.get("reworded"):
        return f" (labels: {Path(r['reworded']).name})"
    if not k:
        return ""
    if r.get("taught") and r.get("teach_every", 1) > 1:
        return f" (one label in {r['teach_every']} taught by {k} example(s), the others by name)"
    if r.get("taught"):
        return f" (labels taught by {k} example(s) each)"
    return f" (names; the {k}-example runs' example performers left out)"


def markdown(doc: dict[str, Any]) -> str:
    """The report as markdown: per-clip table, totals, replay table."""
    trim = doc.get("trim_still")
    cut = "whole windows" if trim is None else f"windows cut to the moving span ({trim['threshold_m']:g} m)"
    seg = (doc.get("decisions") or {}).get("segment_score", 0.0)
    if seg:
        cut += f", whole motions decided at {seg:g}"
    instant = (doc.get("decisions") or {}).get("instant_score", 0.0)
    if instant:
        cut += f", instant starts at {instant:g}"
    out = [
        "# Live accuracy benchmark",
        "",
        f"`{doc['command']}` on {doc['machine']}, model {doc['model']} "
        f"({doc['backend']}, {doc['threads']} thread(s), {cut}), {doc['wall_s']:.0f} s in all.",
        "",
        '*held longest*: the label the live decisions held for the most seconds (✓ = the truth; on a "none" '
        "row ✓ = nothing, or only a tolerated label, held); *window vote*: the label with the highest mean head "
        "score over the windows that end inside the action, before smoothing and thresholds (rank of the truth); "
        "*starts*: action `start` events; *false / min*: starts whose label is neither the truth nor tolerated, "
        "per minute; *first correct*: seconds from the action's start to the first `start` of the true label. "
        "Definitions: `realtime/bench/accuracy/metrics.py`.",
        "",
    ]
    if doc.get("videos"):
        out += [
            "## Real videos (MediaPipe pose, the whole live pipeline)",
            "",
            "| clip | labels | truth | held longest | window vote (rank) | starts | false / min "
            "| first correct | first starts |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in doc["videos"]:
            s = r["score"]
            ok = "✓" if s["held_correct"] else "✗"
            vote = "-" if s["vote_label"] is None else f"{s['vote_label']} ({s['vote_rank'] or '-'})"
            first = (
                "-"
                if s["truth"] is None
                else _num(s["first_correct_s"], "{:.1f} s")
                if s["first_correct_s"] is not None
                else "never"
            )
            out.append(
                f"| {r['clip']} | {Path(r['labels']).name} | {s['truth'] or 'none'} "
                f"| {s['held_longest'] or '(nothing)'} {ok} | {vote} | {s['starts']} "
                f"| {s['false_per_min']:.1f} | {first} | {', '.join(s['first_labels']) or '-'} |"
            )
        sm = doc["video_summary"]
        lab, non = sm["labelled"], sm["none"]
        out += [
            "",
            f"Labelled pairings: {lab['segments']}; label held longest right {_pct(lab['held_top1'])}, "
            f"window vote top-1 {_pct(lab['vote_top1'])}, top-5 {_pct(lab['vote_top5'])}, a correct event in "
            f"{lab['with_correct_event']} (mean {_num(lab['first_correct_s_mean'], '{:.1f} s')} after the action "
            f"starts), false events {_num(lab['false_per_min'], '{:.1f}')} / min.",
            f'"None of these" pairings: {non["segments"]}; false events {_num(non["false_per_min"], "{:.1f}")} '
            f"/ min ({non['false_starts']} in all), {non['no_event']} without any event. "
            f"Pairings with no event at all: {sm['no_event']} of {sm['segments']}.",
            "",
        ]
    if doc.get("replays"):
        out += [
            "## Held-out skeleton replays (no pose; labels = the dataset's class names)",
            "",
            "| dataset | pose held | sequences | classes | with a window | live top-1 (held longest) "
            "| window vote top-1 | window vote top-5 | decided | false / min | first correct (median) | wall |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in doc["replays"]:
            name = f"{r['dataset']}{' (mirrored)' if r.get('mirror') else ''}{_examples_note(r)}"
            parts = [(name, r["summary"], r["sequences"], f"{r['wall_s']:.0f} s")]
            for key, what in (("summary_taught", "taught"), ("summary_named", "by name")):
                if key in r:  # a mixed list: the sequences of each kind of label apart
                    parts.append((f"{r['dataset']}: sequences of the labels {what}", r[key], r[key]["segments"], ""))
            for label, summary, sequences, wall in parts:
                lab = summary["labelled"]
                out.append(
                    f"| {label} | {r['hold_s']:g} s | {sequences} | {r['classes']} "
                    f"| {lab['with_window']} | {_pct(lab['held_top1'])} | {_pct(lab['vote_top1'])} "
                    f"| {_pct(lab['vote_top5'])} "
                    f"| {lab['decided']} | {_num(lab['false_per_min'], '{:.1f}')} "
                    f"| {_num(lab['first_correct_s_median'], '{:.1f} s')} | {wall} |"
                )
        out.append("")
    return "\n".join(out) + "\n"


def plot(doc: dict[str, Any], path: Path) -> Path | None:
    """A PNG: per video pairing false events per minute and held-longest right/wrong; replays live vs vote."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    panels = int(bool(doc.get("videos"))) + int(bool(doc.get("replays")))
    if not panels:
        return None
    fig, axes = plt.subplots(1, panels, figsize=(7 * panels, 4.5), squeeze=False)
    k = 0
    if doc.get("videos"):
        ax = axes[0][k]
        k += 1
        rows = doc["videos"]
        names = [f"{r['clip']}\n{Path(r['labels']).stem}" for r in rows]
        fpm = [r["score"]["false_per_min"] for r in rows]
        colors = ["tab:green" if r["score"]["held_correct"] else "tab:red" for r in rows]
        ax.barh(range(len(rows)), fpm, color=colors)
        ax.set_yticks(range(len(rows)), names, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("false events per minute (green: label held longest right)")
        ax.set_title("real videos")
    if doc.get("replays"):
        ax = axes[0][k]
        reps = doc["replays"]
        x = range(len(reps))
        live = [100 * (r["summary"]["labelled"]["held_top1"] or 0) for r in reps]
        vote = [100 * (r["summary"]["labelled"]["vote_top1"] or 0) for r in reps]
        ax.bar([i - 0.2 for i in x], live, 0.4, label="live decision (held longest)")
        ax.bar([i + 0.2 for i in x], vote, 0.4, label="offline window vote")
        ax.set_xticks(list(x), [f"{r['dataset']}\nhold {r['hold_s']:g} s" for r in reps], fontsize=8)
        ax.set_ylabel("top-1 (%)")
        ax.set_ylim(0, 100)
        ax.legend(fontsize=8)
        ax.set_title("held-out replays")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_outputs(doc: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write ``accuracy.json``, ``accuracy.md`` and (with matplotlib) ``accuracy.png`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    j = out_dir / "accuracy.json"
    j.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    m = out_dir / "accuracy.md"
    m.write_text(markdown(doc), encoding="utf-8")
    written += [j, m]
    png = plot(doc, out_dir / "accuracy.png")
    if png is not None:
        written.append(png)
    return written
