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

__all__ = [
    "AccuracyOptions",
    "fired_pairs",
    "run_accuracy",
    "markdown",
    "plot",
    "write_outputs",
    "output_problem",
    "code_version",
    "OUTPUT_FILES",
    "PHASE_KEYS",
]

OUTPUT_FILES = ("accuracy.json", "accuracy.md", "accuracy.png")
# the totals a replay row gives over its phases (mean, min, max), of the labelled sequences and (those present) of the
# unlisted ones ("none": sequences of the classes a half list leaves out)
PHASE_KEYS = (
    "held_top1",
    "vote_top1",
    "vote_top5",
    "false_per_min",
    "false_per_action_min",
    "with_window",
    "decided",
    "with_correct_event",
    "first_correct_s_median",
    "no_event",
    "held_ok",
)

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
        self_teach: self-teach every label of a replayed dataset from its training side, unlabelled
            (:func:`realtime.self_teaching.self_teach`; ``sadvae-live --self-teach``).
        self_teach_from: recordings (``sadvae-live --self-teach`` paths) that self-teach every video pairing's labels
            first; empty: the videos' labels are scored by name.
        replay_labels: per replayed dataset, a file that words its classes as a user may
            (:func:`realtime.bench.accuracy.runner.read_reworded`); the others keep their class names.
        side: the part of each replayed dataset that is replayed: "test" (its test side) or "inner" (the training
            side's inner-validation subjects, the rest of the training side self-teaching;
            :func:`realtime.bench.accuracy.runner.replay_sides`).
        half_lists: one replay per seed with a labels file of half the dataset's classes
            (:func:`realtime.bench.accuracy.runner.half_list`), the other classes' sequences replayed as clips of no
            listed action; empty: every class listed.
        phases: replay each dataset this many times, every sequence shifted by ``k * stride / phases`` frames in run
            k (:func:`realtime.bench.accuracy.runner.run_replay_phases`); a replay row then gives the mean over the
            runs with their min and max. 1: one run, every sequence started on the pipeline's stride.
        data_root: ``../shared/data``; project_root: where labels paths start (and the code version is read).
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
    self_teach: bool = False
    self_teach_from: tuple[Path, ...] = ()
    replay_labels: dict[str, Path] = field(default_factory=dict)
    half_lists: tuple[int, ...] = ()
    side: str = "test"
    phases: int = 1
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


def code_version(root: Path) -> str:
    """The checkout at ``root`` as ``<short commit>[-dirty]``, or "unknown" (no git, not a checkout)."""
    from realtime.bench.machine import git_state

    state = git_state(root)
    return "unknown" if state is None else state["commit"][:7] + ("-dirty" if state["dirty"] else "")


def output_problem(out_dir: Path) -> str | None:
    """Why the report cannot be written into ``out_dir`` (checked before the runs), or None."""
    from sadvae.fileio import output_problem as problem

    if found := problem(out_dir, folder=True):
        return found
    for name in OUTPUT_FILES:
        if (out_dir / name).exists() and (found := problem(out_dir / name)):
            return found
    return None


def _head_setting(head: Any) -> dict[str, Any]:
    """The head options the runs used (sadvae-live's defaults unless the run set others), for the report."""
    from dataclasses import asdict

    from realtime.head.zero_shot import HeadOptions

    return asdict(head if head is not None else HeadOptions())


def _spread(values: list[float | None]) -> dict[str, float] | None:
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return None
    return {"mean": sum(xs) / len(xs), "min": min(xs), "max": max(xs)}


def _run_facts(doc: dict[str, Any], run: Any, phases: int) -> None:
    """What ran, at the top of the document: model, head, pose variant, strides, first-window frames, phases."""
    rows = [*doc["videos"], *doc["replays"]]
    facts = next((r["model_facts"] for r in rows if r.get("model_facts")), {})
    model_id = next((r["model_id"] for r in rows if r.get("model_id")), "")
    doc["model_id"] = model_id
    doc["model_id_short"] = model_id[:12]
    doc["head"] = _head_setting(run.head)
    doc["pose_variant"] = run.pose_variant if doc["videos"] and run.pose_model is None else None
    doc["pose_model"] = run.pose_model if doc["videos"] else None
    doc["stride"] = {
        "live_stride": facts.get("live_stride"),  # frames at the model's rate (None: the pipeline's default)
        "model_fps": facts.get("model_fps"),
        "given": run.stride,  # an explicit stride (None: the model's, converted to each source's rate)
        "replays": {r["dataset"]: r["stride"] for r in doc["replays"] if "stride" in r},
        "videos": sorted({r["stride"] for r in doc["videos"] if "stride" in r}),
    }
    doc["min_window_frames"] = facts.get("min_window_frames")
    doc["phases"] = phases


def run_accuracy(opts: AccuracyOptions, command: str = "") -> dict[str, Any]:
    """Run every selected video pairing and replayed dataset; returns the result document (JSON-ready)."""
    from tqdm import tqdm

    from realtime.bench.accuracy.annotations import load_annotations
    from realtime.bench.accuracy.runner import RunOptions, run_clip, run_replay_phases
    from sadvae.errors import ConfigError

    run = opts.run or RunOptions()
    t_start = time.monotonic()
    doc: dict[str, Any] = {
        "command": command,
        "machine": _machine(),
        "code_version": code_version(opts.project_root),
        "model": str(run.model or "packaged default"),
        **dict.fromkeys(
            ("model_id", "model_id_short", "head", "pose_variant", "pose_model", "stride", "min_window_frames")
        ),
        "phases": opts.phases,  # the facts of what ran come first (filled in once it has run)
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
                if not p.is_file():  # said as such (a benchmark audit of 7 December 2026, late: "not paired")
                    raise ConfigError(
                        f"--labels {p}: no such file (a path on the command line is read from the "
                        "current folder; the annotation file's labels paths from the project root)"
                    )
                raise ConfigError(
                    f"--labels {p} is not paired with any selected clip in {opts.annotations}: add a "
                    "judge entry { labels = ..., truth = ... } to the clips it applies to (the annotation file's "
                    f"labels paths are read from the project root, {opts.project_root}, else beside the file)"
                )
            clips = [
                c.__class__(**{**c.__dict__, "judge": tuple(j for j in c.judge if j.labels.resolve() in want)})
                for c in clips
            ]
            clips = [c for c in clips if c.judge]
        doc["annotations"] = str(opts.annotations)
        rows: list[dict[str, Any]] = []
        unlabelled = None
        if opts.self_teach_from:
            from realtime.self_teaching import read_unlabelled

            unlabelled = read_unlabelled(opts.self_teach_from, "--self-teach-from")
            doc["self_teach_from"] = [str(p) for p in opts.self_teach_from]
        for clip in tqdm(clips, desc="videos", unit="clip"):
            rows += run_clip(clip, run, unlabelled)
        doc["videos"] = rows
        scores = [SegmentScore(**r["score"]) for r in rows]
        doc["video_summary"] = summarise(scores)
        by_labels: dict[str, list[SegmentScore]] = {}
        for r, s in zip(rows, scores, strict=True):
            by_labels.setdefault(r["labels"], []).append(s)
        doc["video_summary_by_labels"] = {k: summarise(v) for k, v in by_labels.items()}
    for name in tqdm(opts.replay_datasets, desc="replays", unit="dataset", disable=not opts.replay_datasets):
        for hold, seed in ((h, s) for h in opts.hold_s for s in (opts.half_lists or (None,))):
            runs = run_replay_phases(
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
                self_teach=opts.self_teach,
                phases=opts.phases,
                half_seed=seed,
                side=opts.side,
            )
            doc["replays"].append(_replay_entry(runs, opts.teach_every))
            half = "" if seed is None else f", half list {seed}"
            log.info("%s hold %g%s: %s", name, hold, half, doc["replays"][-1]["over_phases"])
    _run_facts(doc, run, opts.phases)
    doc["wall_s"] = round(time.monotonic() - t_start, 1)
    return doc


def _replay_entry(runs: list[tuple[list[SegmentScore], dict[str, Any]]], teach_every: int) -> dict[str, Any]:
    """One replay row of the document from its phase runs (phase 0, the aligned run, first).

    ``summary`` and ``sequences_detail`` are phase 0's (every sequence started on the stride); ``phase_runs`` holds
    each run's offset, summary and action events (about 150 bytes each in the JSON: some 1,000 on NW-UCLA with 1 s
    held); ``over_phases`` the mean, min and max of :data:`PHASE_KEYS` over the runs (with one phase: that run's
    values); ``wall_s`` and ``frames`` are the runs' sums.
    """
    scores, info = runs[0]
    keep = {k: v for k, v in info.items() if k not in ("phase", "offset_frames", "events")}
    entry = {**keep, "summary": summarise(scores), "sequences_detail": [s.to_dict() for s in scores]}
    summaries = [summarise(sc) for sc, _ in runs]
    entry["phase_runs"] = [
        {
            "offset_frames": i["offset_frames"],
            "frames": i["frames"],
            "wall_s": i["wall_s"],
            "summary": sm,
            "events": i.get("events", []),
        }
        for (_, i), sm in zip(runs, summaries, strict=True)
    ]
    entry["over_phases"] = {
        group: {
            key: _spread([sm[group].get(key) for sm in summaries]) for key in PHASE_KEYS if key in summaries[0][group]
        }
        for group in ("labelled", "none")
    }
    entry["wall_s"] = round(sum(i["wall_s"] for _, i in runs), 2)
    entry["frames"] = sum(i["frames"] for _, i in runs)
    if teach_every > 1 and info["taught"]:  # a mixed list: its two kinds of labels apart (phase 0)
        mine = set(info["taught_labels"])
        entry["summary_taught"] = summarise([s for s in scores if s.truth in mine])
        entry["summary_named"] = summarise([s for s in scores if s.truth not in mine])
    return entry


def _count(x: float) -> str:
    """A count, or a mean of counts over phases (one decimal)."""
    return f"{x:g}" if float(x).is_integer() else f"{x:.1f}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def _num(x: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if x is None else fmt.format(x)


def _self_taught_videos(doc: dict[str, Any]) -> str:
    """What the video pairings' self-teaching (--self-teach-from) taught, in a sentence."""
    taught = [(r.get("self_taught") or {}).get("labels", 0) for r in doc.get("videos") or []]
    return (
        f"Every video pairing's labels were self-taught first from the unlabelled recordings "
        f"{', '.join(doc['self_teach_from'])} (sadvae-live --self-teach): "
        + (
            f"{sum(t > 0 for t in taught)} of {len(taught)} pairings got taught labels ({sum(taught)} labels in all)."
            if any(taught)
            else "nothing was taught (the head called every window of them 'no action' for each list)."
        )
    )


def _half_note(r: dict[str, Any]) -> str:
    side = " (training side, inner-validation subjects)" if r.get("side", "test") != "test" else ""
    if r.get("half_list_seed") is None:
        return side
    listed = r.get("classes", 0)
    return (
        f"{side} (half list {r['half_list_seed']}: {listed} of {listed + len(r.get('unlisted') or [])} classes listed)"
    )


def _examples_note(r: dict[str, Any]) -> str:
    k = r.get("examples_per_label", 0)
    if r.get("self_taught"):
        used = r.get("examples_used") or {}
        return (
            f" (labels self-taught from the training side, unlabelled: {used.get('labels', 0)} of "
            f"{r.get('classes', '?')} labels, {used.get('windows', 0)} windows of {used.get('recordings', 0)} "
            "sequences)"
        )
    if r.get("reworded"):
        return f" (labels: {Path(r['reworded']).name})"
    if not k:
        return ""
    if r.get("taught") and r.get("teach_every", 1) > 1:
        return f" (one label in {r['teach_every']} taught by {k} example(s), the others by name)"
    if r.get("taught"):
        return f" (labels taught by {k} example(s) each)"
    return f" (names; the {k}-example runs' example performers left out)"


def _facts_line(doc: dict[str, Any]) -> str:
    """What ran, in a sentence: model id, head options, pose variant, stride, first window, phases, code version."""
    from realtime.head.zero_shot import HeadOptions

    head = doc.get("head") or {}
    default = _head_setting(HeadOptions())
    others = [f"{k} {v}" for k, v in head.items() if k not in ("handedness", "cache_dir") and default.get(k) != v]
    head_text = f"handedness {head.get('handedness', '?')}" + (f", {', '.join(others)}" if others else "")
    st = doc.get("stride") or {}
    if st.get("given") is not None:
        stride = f"stride {st['given']} source frames (given)"
    elif st.get("live_stride") is not None:
        stride = f"stride {st['live_stride']} frames at the model's {st.get('model_fps', 0):g} fps"
    else:
        stride = "stride: the pipeline's default"
    per = [f"{k} {v}" for k, v in (st.get("replays") or {}).items()]
    if st.get("videos"):
        per.append(f"videos {'/'.join(str(v) for v in st['videos'])}")
    if per:
        stride += f" ({', '.join(per)} source frames)"
    pose = f"pose variant {doc['pose_variant']} (videos); " if doc.get("pose_variant") else ""
    pose = f"pose model {doc['pose_model']} (videos); " if doc.get("pose_model") else pose
    return (
        f"Model `{doc.get('model_id_short') or '?'}` (sha256 {doc.get('model_id') or '?'}); head: {head_text}; "
        f"{pose}{stride}; first window after {doc.get('min_window_frames', '?')} frames at the model's rate; "
        f"phases {doc.get('phases', 1)}; code `{doc.get('code_version', 'unknown')}`."
    )


def _cell(over: dict[str, Any], key: str, fmt: Any, phases: int) -> str:
    """A replay cell: the value (one phase), or the mean over the phases and their range."""
    v = over.get(key)
    if v is None:
        return "-"
    if phases <= 1 or v["min"] == v["max"]:
        return fmt(v["mean"])
    return f"{fmt(v['mean'])} ({fmt(v['min'])}–{fmt(v['max'])})"


def _replay_heading(doc: dict[str, Any]) -> list[str]:
    renamed = [f"{r['dataset']} by {r['reworded']}" for r in doc["replays"] if r.get("reworded")]
    names = "labels = the dataset's class names"
    if renamed:
        names += f", renamed by --replay-labels for {', '.join(dict.fromkeys(renamed))}"
    phases = int(doc.get("phases", 1) or 1)
    lines = [f"## Held-out skeleton replays (no pose; {names})", ""]
    aligned = (
        "Every sequence starts on the pipeline's stride (the gap after the one before it lengthened to reach it), "
        "so its windows are scored alike whatever was replayed before it."
    )
    if phases > 1:
        aligned += (
            f" Each dataset was replayed {phases} times, run k with every sequence shifted by k x stride / {phases} "
            "frames: a cell is the mean over the runs (min–max in brackets); *with a window*, *decided* and *first "
            "correct* too."
        )
    return [*lines, aligned, ""]


def markdown(doc: dict[str, Any]) -> str:
    """The report as markdown: what ran, per-clip table, totals, replay table."""
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
        _facts_line(doc),
        "",
        *([_self_taught_videos(doc), ""] if doc.get("self_teach_from") else []),
        '*held longest*: the label the live decisions held for the most seconds (✓ = the truth; on a "none" '
        "row ✓ = nothing, or only a tolerated label, held; a tie goes to the label decided first); *window vote*: "
        "the label with the highest mean head score over the windows that end inside the action, before smoothing "
        "and thresholds (rank of the truth); *starts*: action `start` events; *false / min*: starts whose label is "
        "neither the truth nor tolerated, per minute of the judged time (a whole video; a replayed sequence with its "
        "held poses and the gap after it); *false / action min*: the same starts per minute of the action span only "
        "(the annotated start to end; a replayed sequence without its held first pose and the gap); *first "
        "correct*: seconds from the action's start to the first `start` of the true label; *first starts*: the "
        "labels of the first three `start` events, in order. "
        "Definitions: `realtime/bench/accuracy/metrics.py`.",
        "",
    ]
    if doc.get("videos"):
        out += [
            "## Real videos (MediaPipe pose, the whole live pipeline)",
            "",
            "| clip | labels | truth | held longest | window vote (rank) | starts | false / min | false / action min "
            "| first correct | first starts |",
            "|---|---|---|---|---|---|---|---|---|---|",
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
                f"| {s['false_per_min']:.1f} | {_num(s.get('false_per_action_min'), '{:.1f}')} | {first} "
                f"| {', '.join(s['first_labels']) or '-'} |"
            )
        sm = doc["video_summary"]
        lab, non = sm["labelled"], sm["none"]
        out += [
            "",
            f"Labelled pairings: {lab['segments']}; label held longest right {_pct(lab['held_top1'])}, "
            f"window vote top-1 {_pct(lab['vote_top1'])}, top-5 {_pct(lab['vote_top5'])}, a correct event in "
            f"{lab['with_correct_event']} (mean {_num(lab['first_correct_s_mean'], '{:.1f} s')} after the action "
            f"starts), false events {_num(lab['false_per_min'], '{:.1f}')} / min "
            f"({_num(lab.get('false_per_action_min'), '{:.1f}')} / min of action).",
            f'"None of these" pairings: {non["segments"]}; false events {_num(non["false_per_min"], "{:.1f}")} '
            f"/ min ({non['false_starts']} in all), {non['no_event']} without any event. "
            f"Pairings with no event at all: {sm['no_event']} of {sm['segments']}.",
            "",
        ]
    if doc.get("replays"):
        out += _replay_heading(doc)
        out += [
            "| dataset | pose held | sequences | classes | with a window | live top-1 (held longest) "
            "| window vote top-1 | window vote top-5 | decided | false / min (judged: with held poses and gap) "
            "| false / action min | first correct (median) | stride | wall |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        pct, one, count = _pct, (lambda x: _num(x, "{:.1f}")), _count
        for r in doc["replays"]:
            name = f"{r['dataset']}{' (mirrored)' if r.get('mirror') else ''}{_examples_note(r)}{_half_note(r)}"
            phases = int(r.get("phases", 1) or 1)
            over = (r.get("over_phases") or _over_one(r["summary"]))["labelled"]
            stride = f"{r['stride']}" if "stride" in r else "-"
            if phases > 1:
                stride += f", offsets {'/'.join(str(p['offset_frames']) for p in r['phase_runs'])}"
            listed = r["summary"]["labelled"]["segments"] if r.get("half_list_seed") is not None else r["sequences"]
            parts = [(name, over, listed, stride, f"{r['wall_s']:.0f} s", phases)]
            for key, what in (("summary_taught", "taught"), ("summary_named", "by name")):
                if key in r:  # a mixed list: the sequences of each kind of label apart (the aligned run)
                    label = f"{r['dataset']}: sequences of the labels {what}" + (" (phase 0)" if phases > 1 else "")
                    parts.append((label, _over_one(r[key])["labelled"], r[key]["segments"], "", "", 1))
            for label, ov, sequences, strd, wall, n in parts:
                out.append(
                    f"| {label} | {r['hold_s']:g} s | {sequences} | {r['classes']} "
                    f"| {_cell(ov, 'with_window', count, n)} | {_cell(ov, 'held_top1', pct, n)} "
                    f"| {_cell(ov, 'vote_top1', pct, n)} | {_cell(ov, 'vote_top5', pct, n)} "
                    f"| {_cell(ov, 'decided', count, n)} | {_cell(ov, 'false_per_min', one, n)} "
                    f"| {_cell(ov, 'false_per_action_min', one, n)} "
                    f"| {_cell(ov, 'first_correct_s_median', lambda x: _num(x, '{:.1f} s'), n)} | {strd} | {wall} |"
                )
        unlisted = [r for r in doc["replays"] if r.get("half_list_seed") is not None]
        if unlisted:
            out += [
                "",
                "Sequences of the classes a half list leaves out (clips of no listed action: every start is false; "
                "*silent*: no label held; *what fired*: the false starts of the first phase as class replayed -> "
                'label started and their number, most frequent first; "N more": the other pairs\' starts):',
                "",
                "| dataset | pose held | unlisted classes | sequences | false / min | false / action min | silent "
                "| what fired |",
                "|---|---|---|---|---|---|---|---|",
            ]
        for r in unlisted:
            phases = int(r.get("phases", 1) or 1)
            non = (r.get("over_phases") or _over_one(r["summary"]))["none"]
            out.append(
                f"| {r['dataset']}{_examples_note(r)}{_half_note(r)} | {r['hold_s']:g} s "
                f"| {', '.join(r.get('unlisted') or []) or '-'} | {r['summary']['none']['segments']} "
                f"| {_cell(non, 'false_per_min', one, phases)} | {_cell(non, 'false_per_action_min', one, phases)} "
                f"| {_cell(non, 'held_ok', pct, phases)} | {fired_pairs(r['sequences_detail'])} |"
            )
        out.append("")
    return "\n".join(out) + "\n"


def fired_pairs(detail: list[dict[str, Any]], most: int = 4) -> str:
    """The false starts on the unlisted sequences as "class -> label n" pairs, most frequent first; "none" without
    any ("-" for documents written before 7 December 2026, which lack the fields)."""
    if not any("false_labels" in d for d in detail):
        return "-"
    pairs: dict[str, int] = {}
    for d in detail:
        if d.get("truth") is None and d.get("performed"):
            for label in d.get("false_labels") or []:
                key = f"{d['performed']} -> {label}"
                pairs[key] = pairs.get(key, 0) + 1
    if not pairs:
        return "none"
    ranked = sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
    more = sum(n for _, n in ranked[most:])
    return ", ".join(f"{k} {n}" for k, n in ranked[:most]) + (f", {more} more" if more else "")


def _over_one(summary: dict[str, Any]) -> dict[str, Any]:
    """``over_phases`` of one run's summary (documents written before --phases, and the mixed lists' halves)."""
    return {g: {k: _spread([summary[g].get(k)]) for k in PHASE_KEYS if k in summary[g]} for g in ("labelled", "none")}


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

        def bars(key: str) -> tuple[list[float], list[list[float]]]:
            spreads = [(r.get("over_phases") or _over_one(r["summary"]))["labelled"].get(key) for r in reps]
            mean = [100 * (v["mean"] if v else 0.0) for v in spreads]
            lo = [max(m - 100 * v["min"], 0.0) if v else 0.0 for m, v in zip(mean, spreads, strict=True)]
            hi = [max(100 * v["max"] - m, 0.0) if v else 0.0 for m, v in zip(mean, spreads, strict=True)]
            return mean, [lo, hi]

        (live, live_err), (vote, vote_err) = bars("held_top1"), bars("vote_top1")
        ax.bar([i - 0.2 for i in x], live, 0.4, yerr=live_err, label="live decision (held longest)")
        ax.bar([i + 0.2 for i in x], vote, 0.4, yerr=vote_err, label="offline window vote")
        ax.set_xticks(list(x), [f"{r['dataset']}\nhold {r['hold_s']:g} s" for r in reps], fontsize=8)
        ax.set_ylabel("top-1 (%; bars: min-max over phases)")
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
