"""Runs of the real live pipeline for the accuracy benchmark: videos (MediaPipe pose) and held-out replays.

Every run goes through :class:`realtime.pipeline.Pipeline` exactly as ``sadvae-live`` builds it (pose
-> mapping -> tracking -> buffer -> backend -> head -> decisions -> events), with the pipeline's own
default options; events are collected with ``on_event`` and every window's head output with
``on_batch``. Nothing here re-implements a stage.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from realtime.bench.accuracy.annotations import ClipAnnotation
from realtime.bench.accuracy.metrics import EMITTED, Segment, SegmentScore, WindowScore, score_segment
from sadvae.errors import ConfigError

__all__ = [
    "RunOptions",
    "RunResult",
    "run_pipeline",
    "run_clip",
    "heldout_stream",
    "stream_piece",
    "run_replay_dataset",
    "dataset_class_names",
    "GAP_S",
]

log = logging.getLogger(__name__)

GAP_S = 1.5  # empty frames between two replayed sequences: the track ends, the next person is a new track


@dataclass(frozen=True)
class RunOptions:
    """Settings of the benchmark runs.

    Attributes:
        model: model bundle ``.pt`` (None: the packaged default model).
        backend: inference backend name; threads: its intra-op threads (1: deterministic and fair on shared CPUs).
        pose_variant: MediaPipe model for videos.
        decisions, head: :class:`realtime.decisions.DecisionOptions` / :class:`realtime.head.zero_shot.HeadOptions` to
            try other settings (None: the pipeline's defaults, which are ``sadvae-live``'s defaults).
        trim_still: :class:`sadvae.data.motion.StillTrim`, False for whole windows, None: the pipeline's default.
    """

    model: Path | None = None
    backend: str = "onnxruntime"
    threads: int = 1
    pose_variant: str = "full"
    decisions: Any = None
    head: Any = None
    trim_still: Any = None


@dataclass
class RunResult:
    """What one pipeline run produced: action events, scored windows, label names, frames and wall time."""

    events: list[dict[str, Any]] = field(default_factory=list)
    windows: list[WindowScore] = field(default_factory=list)
    labels: tuple[str, ...] = ()
    frames: int = 0
    wall_s: float = 0.0
    model_id: str = ""


def run_pipeline(source: Any, labels: Path, opts: RunOptions, pose_options: Any = None) -> RunResult:
    """Run the live pipeline over ``source`` with ``labels`` until the source ends.

    Args:
        source: a :mod:`realtime.sources.video` source (video or replay).
        labels: the labels file.
        opts: model and backend settings.
        pose_options: :class:`realtime.pose.stage.PoseOptions` for videos (None: the pipeline's default).
    """
    from realtime.backends import BackendOptions
    from realtime.backends.live_model import load_live_model
    from realtime.events.publisher import PublisherOptions
    from realtime.pipeline import Pipeline, PipelineOptions

    res = RunResult()
    model = load_live_model(opts.model, opts.backend, options=BackendOptions(threads=opts.threads))
    res.model_id = model.model_id
    given = {"pose": pose_options, "decisions": opts.decisions, "head": opts.head}
    kw: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    if opts.trim_still is not None:
        kw["trim_still"] = opts.trim_still or None
    popts = PipelineOptions(
        handle_signals=False, publisher=PublisherOptions(endpoint="tcp://127.0.0.1:*", sndhwm=100_000), **kw
    )

    def on_batch(b: Any) -> None:
        probs = np.asarray(b.result.probs, dtype=np.float32)
        for i, tid in enumerate(b.track_ids):
            t = b.times[i]
            res.windows.append(WindowScore(int(tid), float(t[0]), float(t[-1]), probs[i].copy()))
        res.labels = tuple(b.labels.names)

    watched = _Watched(source)

    def on_event(e: dict[str, Any]) -> None:
        res.events.append({**e, EMITTED: watched.t_ms / 1000.0})  # when a subscriber gets it, on the source's clock

    start = time.monotonic()
    pipe = Pipeline(watched, model, labels, popts, on_event=on_event, on_batch=on_batch)
    res.labels = tuple(pipe.labels.names)
    pipe.run()
    res.frames, res.wall_s = pipe.frames, time.monotonic() - start
    return res


class _Watched:
    """A source that remembers the timestamp of the last frame it gave out (everything else is the source's)."""

    def __init__(self, source: Any):
        self._source, self.t_ms = source, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)

    def __iter__(self) -> Any:
        for frame in self._source:
            self.t_ms = int(frame.timestamp_ms)
            yield frame


def run_clip(clip: ClipAnnotation, opts: RunOptions) -> list[dict[str, Any]]:
    """Run one annotated video once per labels file it is judged against; one row per pairing.

    Returns:
        Rows ``{"clip", "labels", "truth", "tolerated", "score": SegmentScore dict, "events", "frames", "wall_s"}``.
    """
    from realtime.pose.stage import PoseOptions
    from realtime.sources.video import VideoSource

    rows = []
    for j in clip.judge:
        source = VideoSource(clip.path)
        fps = source.fps
        pose = PoseOptions(variant=opts.pose_variant, num_poses=clip.num_poses, mirror=clip.mirror)
        res = run_pipeline(source, j.labels, opts, pose)
        duration = res.frames / fps
        seg = Segment(clip.name, j.truth, res.labels, 0.0, duration + 1e-6, clip.start, clip.end, j.tolerated)
        if clip.end is not None and clip.end > duration + 0.5:
            raise ConfigError(f"clip {clip.name!r}: end {clip.end} s is after the video's end ({duration:.2f} s)")
        score = score_segment(res.events, res.windows, seg)
        rows.append(
            {
                "clip": clip.name,
                "path": str(clip.path),
                "labels": str(j.labels),
                "truth": j.truth,
                "tolerated": list(j.tolerated),
                "duration_s": round(duration, 3),
                "score": score.to_dict(),
                "events": [_brief(e) for e in res.events],
                "frames": res.frames,
                "wall_s": round(res.wall_s, 2),
                "model_id": res.model_id,
            }
        )
        log.info(
            "%s / %s: held %s (truth %s), false starts %d",
            clip.name,
            j.labels.name,
            score.held_longest,
            j.truth,
            score.false_starts,
        )
    return rows


def _brief(e: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": e["type"],
        "track_id": e["track_id"],
        "label": e.get("label"),
        "score": e.get("score"),
        "window_end_s": e["window"]["end_ms"] / 1000.0,
        "t_s": e[EMITTED],
        "reason": e.get("reason"),
    }


@dataclass
class HeldoutStream:
    """The held-out side of a dataset as one replay: joints, times and one segment per sequence."""

    joints: np.ndarray
    times: np.ndarray
    segments: list[Segment]
    class_names: tuple[str, ...]


def dataset_class_names(name: str, ds: Any) -> tuple[str, ...]:
    """The dataset's class names as users write them: the default model's merged names where it has one."""
    from sadvae.train.default_model import MERGE_TABLE

    lookup = {member: merged for merged, members in MERGE_TABLE for member in members}
    return tuple(lookup.get((name, c), c) for c in ds.class_names)


def stream_piece(
    seq: Any, t0: float, hold_s: float = 0.0, gap_s: float = GAP_S
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """One sequence's part of a replayed stream: its first person, then ``gap_s`` of empty frames.

    ``hold_s`` > 0 holds the first and last pose that long around the sequence.

    Args:
        seq: a :class:`sadvae.data.record.SkeletonSequence` (its first person slot is played).
        t0: the stream time (seconds) at which the sequence starts.

    Returns:
        (joints [n, 1, 25, 3] with the gap's zero frames last, stream times [n] in seconds, the time of the
        sequence's last frame, the time at which the next sequence starts).
    """
    j, t = seq.joints[:, :1], seq.times() - seq.times()[0]
    if hold_s > 0:
        n, dt = round(hold_s * seq.fps), 1.0 / seq.fps
        j = np.concatenate([np.repeat(j[:1], n, 0), j, np.repeat(j[-1:], n, 0)])
        t = np.concatenate([np.arange(n) * dt, n * dt + t, n * dt + t[-1] + np.arange(1, n + 1) * dt])
    gap = np.arange(1, round(gap_s * seq.fps) + 1) / seq.fps
    joints = np.concatenate([j, np.zeros((len(gap), j.shape[1], 25, 3), np.float32)])
    times = np.concatenate([t0 + t, t0 + t[-1] + gap])
    return joints, times, float(t0 + t[-1]), float(t0 + t[-1] + gap[-1] + 1.0 / seq.fps)


def heldout_stream(
    name: str, data_root: Path, hold_s: float = 0.0, limit: int | None = None, mirror: bool = False
) -> HeldoutStream:
    """Every test-side sequence of a registered dataset (its standard protocol) played as one person each.

    Each sequence appears, acts and leaves, with :data:`GAP_S` of empty frames after it so the next one is
    a new track (as ``scripts/check_default_live.py`` replays them). ``hold_s`` > 0 holds the first and
    last pose that long around each sequence (short clips otherwise end before a decision can form).

    Args:
        name: a key of :data:`sadvae.data.registry.DATASETS`.
        data_root: the folder holding the dataset's default location (``../shared/data``).
        hold_s: seconds the first/last pose is held; limit: keep the first n test sequences (quick runs).
        mirror: play each sequence's left-right mirror image (a left-handed performer); a class that names a side
            is then the truth through its mirror class ("wave the left hand" -> "wave the right hand").
    """
    from sadvae.data.registry import DATASETS, load_dataset
    from sadvae.head.handedness import mirror_columns
    from sadvae.skeleton import mirror_joints
    from sadvae.train.protocol import dataset_arrays, test_side_mask

    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r} for --replay-dataset; choose one of {sorted(DATASETS)}")
    ds = load_dataset(name, data_root / DATASETS[name].default_root)
    labels, _, _ = dataset_arrays(ds)
    names = dataset_class_names(name, ds)
    idx = np.flatnonzero(test_side_mask(ds, name))
    if limit is not None:
        idx = idx[:limit]
    present = sorted({int(labels[i]) for i in idx})
    label_names = tuple(names[c] for c in present)
    chunks, times, segs, t0 = [], [], [], 0.0
    mirror_of = dict(zip(names, (names[j] for j in mirror_columns(names)), strict=True))
    for i in idx:
        joints, t, end, t_next = stream_piece(ds.sequences[i], t0, hold_s)
        truth = names[int(labels[i])]
        if mirror:
            joints = mirror_joints(joints)
            truth = mirror_of[truth]
        chunks.append(joints)
        times.append(t)
        segs.append(Segment(f"{name}#{int(i)}", truth, label_names, t0, t_next, t0, end))
        t0 = t_next
    return HeldoutStream(np.concatenate(chunks).astype(np.float32), np.concatenate(times), segs, label_names)


def run_replay_dataset(
    name: str,
    data_root: Path,
    opts: RunOptions,
    hold_s: float = 0.0,
    limit: int | None = None,
    tmp_dir: Path | None = None,
    mirror: bool = False,
) -> tuple[list[SegmentScore], dict[str, Any]]:
    """Replay a dataset's held-out side through the live pipeline with its own class names as labels
    (``mirror``: their left-right mirror images, :func:`heldout_stream`).

    Returns:
        (one :class:`SegmentScore` per sequence, run info ``{"dataset", "sequences", "classes", "frames", "wall_s"}``).
    """
    import tempfile

    from realtime.sources.replay import ReplaySource

    stream = heldout_stream(name, data_root, hold_s, limit, mirror)
    with tempfile.TemporaryDirectory(dir=tmp_dir) as tmp:
        labels = Path(tmp) / f"{name}_labels.txt"
        labels.write_text("\n".join(stream.class_names) + "\n", encoding="utf-8")
        src = ReplaySource.from_arrays(stream.joints, stream.times, name=name)
        res = run_pipeline(src, labels, opts)
    if res.labels != stream.class_names:
        raise ConfigError(f"{name}: the head's labels {res.labels} are not the dataset's {stream.class_names}")
    scores = [score_segment(res.events, res.windows, seg) for seg in stream.segments]
    info = {
        "dataset": name,
        "hold_s": hold_s,
        "mirror": bool(mirror),
        "sequences": len(scores),
        "classes": len(stream.class_names),
        "frames": res.frames,
        "wall_s": round(res.wall_s, 2),
        "model_id": res.model_id,
    }
    return scores, info
