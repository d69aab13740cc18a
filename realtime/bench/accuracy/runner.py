"""Runs of the real live pipeline for the accuracy benchmark: videos (MediaPipe pose) and held-out replays.

Every run goes through :class:`realtime.pipeline.Pipeline` exactly as ``sadvae-live`` builds it (pose
-> mapping -> tracking -> buffer -> backend -> head -> decisions -> events), with the pipeline's own
default options; events are collected with ``on_event`` and every window's head output with
``on_batch``. Nothing here re-implements a stage. A replay passes the stride explicitly: the model's
(:func:`realtime.pipeline.model_stride`, what the pipeline would take), the one every replayed sequence starts on
(:func:`heldout_stream`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from realtime.bench.accuracy.annotations import ClipAnnotation
from realtime.bench.accuracy.metrics import EMITTED, Segment, SegmentScore, WindowScore, event_time_s, score_segment
from realtime.sources.replay import GAP_S, aligned_piece, hold_time, stream_piece, whole_ms
from sadvae.errors import ConfigError, DataFormatError

__all__ = [
    "RunOptions",
    "RunResult",
    "run_pipeline",
    "run_clip",
    "heldout_stream",
    "stream_piece",
    "run_replay_dataset",
    "example_split",
    "dataset_class_names",
    "read_reworded",
    "reword",
    "half_list",
    "GAP_S",
]

log = logging.getLogger(__name__)

# labels self-taught in this process, by (model, labels, unlabelled clips, pipeline options): the holds and phases of a
# replay teach the same labels from the same clips with the same model, once
_SELF_TAUGHT: dict[tuple, Any] = {}


@dataclass(frozen=True)
class RunOptions:
    """Settings of the benchmark runs.

    Attributes:
        model: model bundle ``.pt`` (None: the packaged default model).
        backend: inference backend name; threads: its intra-op threads (1: deterministic and fair on shared CPUs).
        pose_variant: MediaPipe model for videos; pose_model: an explicit ``.task`` file (None: the variant's).
        decisions, head: :class:`realtime.decisions.DecisionOptions` / :class:`realtime.head.zero_shot.HeadOptions` to
            try other settings (None: the pipeline's defaults, which are ``sadvae-live``'s defaults).
        trim_still: :class:`sadvae.data.motion.StillTrim`, False for whole windows, None: the pipeline's default.
        stride: source frames between inference batches (None: the model's, :func:`realtime.pipeline.model_stride`;
            the replays pass the one their sequences are aligned on).
        self_teach_every_window: self-teaching reads every window, "no action" or not (as first built, 7 December
            2026); False: windows the head calls "no action" teach nothing (``sadvae-live --self-teach``).
    """

    model: Path | None = None
    backend: str = "onnxruntime"
    threads: int = 1
    pose_variant: str = "full"
    pose_model: str | None = None
    decisions: Any = None
    head: Any = None
    trim_still: Any = None
    stride: int | None = None
    self_teach_every_window: bool = False


@dataclass
class RunResult:
    """What one pipeline run produced: action events, scored windows, label names, frames and wall time."""

    events: list[dict[str, Any]] = field(default_factory=list)
    windows: list[WindowScore] = field(default_factory=list)
    labels: tuple[str, ...] = ()
    frames: int = 0
    wall_s: float = 0.0
    model_id: str = ""
    examples: dict[str, int] | None = None  # what the taught labels were made of: labels, clips, windows
    stride: int = 0  # source frames between inference batches
    # the model's live stride (frames at its own rate), its rate, window and the frames a track needs for a first
    # window (at the model's rate; the pipeline's min_window_frames, at most the window)
    model_facts: dict[str, Any] = field(default_factory=dict)


def load_model(opts: RunOptions) -> Any:
    """The live model of ``opts`` (a :class:`realtime.backends.live_model.LiveModel`; the pipeline closes it)."""
    from realtime.backends import BackendOptions
    from realtime.backends.live_model import load_live_model

    return load_live_model(opts.model, opts.backend, options=BackendOptions(threads=opts.threads))


def run_pipeline(
    source: Any,
    labels: Path,
    opts: RunOptions,
    pose_options: Any = None,
    examples: Any = None,
    model: Any = None,
    unlabelled: Any = None,
) -> RunResult:
    """Run the live pipeline over ``source`` with ``labels`` until the source ends.

    Args:
        source: a :mod:`realtime.sources.video` source (video or replay).
        labels: the labels file.
        opts: model and backend settings.
        pose_options: :class:`realtime.pose.stage.PoseOptions` for videos (None: the pipeline's default).
        examples: :class:`realtime.head.examples.ExampleClips` that teach labels (``sadvae-live --examples``), embedded
            with the run's model and options first (a clip that gives no window is left out, logged); None: none.
        model: the model of ``opts``, loaded already (:func:`load_model`; the run closes it); None: loaded here.
        unlabelled: clips that self-teach the labels (:func:`realtime.self_teaching.self_teach`, with the run's model,
            options and labels, ``sadvae-live --self-teach``); None: none.
    """
    from realtime.events.publisher import PublisherOptions
    from realtime.pipeline import Pipeline, PipelineOptions

    res = RunResult()
    model = model if model is not None else load_model(opts)
    res.model_id = model.model_id
    given = {"pose": pose_options, "decisions": opts.decisions, "head": opts.head, "stride": opts.stride}
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

    taught = None
    if examples is not None:
        from realtime.teaching import embed_examples

        taught = embed_examples(model, examples, popts, skip_empty=True)
        res.examples = {"labels": len(taught), "clips": int(sum(taught.clips)), "windows": int(sum(taught.windows))}
    if unlabelled is not None:
        from realtime.self_teaching import self_teach

        key = (
            model.model_id,
            Path(labels).read_text(encoding="utf-8"),
            tuple((str(c.source), int(c.num_frames)) for c in unlabelled),
            repr(replace(popts, pose=None)),  # recordings are replayed: no pose stage (a video's pose options differ)
            opts.self_teach_every_window,
        )
        if key not in _SELF_TAUGHT:
            _SELF_TAUGHT[key] = self_teach(
                model, unlabelled, labels, popts, refuse_empty=False, every_window=opts.self_teach_every_window
            )
        taught = _SELF_TAUGHT[key]
        res.examples = {
            "self_taught": True,
            "recordings": len(unlabelled),
            "labels": 0 if taught is None else len(taught),
            "windows": 0 if taught is None else int(sum(taught.windows)),
        }
    start = time.monotonic()  # the replay alone: the examples' embedding is not part of a run's time
    pipe = Pipeline(watched, model, labels, popts, on_event=on_event, on_batch=on_batch, examples=taught)
    res.labels = tuple(pipe.labels.names)
    res.stride = int(pipe.stride)
    window = int(model.preprocess.window)
    res.model_facts = {
        "live_stride": getattr(getattr(model.bundle, "live", None), "stride", None),
        "model_fps": float(model.preprocess.fps),
        "window": window,
        "min_window_frames": window if popts.min_window_frames is None else min(popts.min_window_frames, window),
    }
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


def run_clip(clip: ClipAnnotation, opts: RunOptions, unlabelled: Any = None) -> list[dict[str, Any]]:
    """Run one annotated video once per labels file it is judged against; one row per pairing (``unlabelled``: clips
    that self-teach each pairing's labels first, :func:`run_pipeline`).

    Returns:
        Rows ``{"clip", "labels", "truth", "tolerated", "score": SegmentScore dict, "events", "frames", "wall_s"}``.
    """
    from realtime.pose.stage import PoseOptions
    from realtime.sources.video import VideoSource

    rows = []
    annotations = clip.source if clip.source is not None else clip.path  # the file to fix
    for j in clip.judge:
        source = VideoSource(clip.path)
        fps = source.fps
        frames = source.frame_count
        if frames:  # the container's frame count: checked before the pipeline runs
            _check_span(clip, annotations, frames / fps)
        pose = PoseOptions(
            model_path=opts.pose_model, variant=opts.pose_variant, num_poses=clip.num_poses, mirror=clip.mirror
        )
        res = run_pipeline(source, j.labels, opts, pose, unlabelled=unlabelled)
        duration = res.frames / fps
        seg = Segment(clip.name, j.truth, res.labels, 0.0, duration + 1e-6, clip.start, clip.end, j.tolerated)
        _check_span(clip, annotations, duration)  # a container without a frame count: the frames decoded
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
                "model_facts": res.model_facts,
                "fps": fps,
                "stride": res.stride,
                "self_taught": res.examples,
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


def _check_span(clip: ClipAnnotation, annotations: Path, duration: float) -> None:
    """The clip's action span lies in the video (``duration`` seconds; an end up to 0.5 s late is taken)."""
    if clip.start is not None and clip.start >= duration:
        raise DataFormatError(
            annotations,
            f"clip {clip.name!r}.start",
            f"start {clip.start} s is not before the video's end ({duration:.2f} s); fix or drop it",
        )
    if clip.end is not None and clip.end > duration + 0.5:
        raise DataFormatError(
            annotations,
            f"clip {clip.name!r}.end",
            f"end {clip.end} s is after the video's end ({duration:.2f} s); fix or drop it",
        )


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
    unlisted: tuple[str, ...] = ()  # classes replayed but left out of the labels (a half list)


def dataset_class_names(name: str, ds: Any) -> tuple[str, ...]:
    """The dataset's class names as users write them: the default model's merged names where it has one."""
    from sadvae.train.default_model import MERGE_TABLE

    lookup = {member: merged for merged, members in MERGE_TABLE for member in members}
    return tuple(lookup.get((name, c), c) for c in ds.class_names)


def heldout_stream(
    name: str,
    data_root: Path,
    hold_s: float = 0.0,
    limit: int | None = None,
    mirror: bool = False,
    skip: Any = (),
    ds: Any = None,
    stride: int | None = None,
    offset: int = 0,
    half_seed: int | None = None,
    side: str = "test",
) -> HeldoutStream:
    """Every test-side sequence of a registered dataset (its standard protocol; ``side`` "inner": the training side's
    inner-validation subjects) played as one person each.

    Each sequence appears, acts and leaves, with :data:`GAP_S` of empty frames after it so the next one is
    a new track (as ``scripts/check_default_live.py`` replays them). ``hold_s`` > 0 holds the first and
    last pose that long around each sequence (short clips otherwise end before a decision can form).

    The pipeline scores its windows every ``stride`` frames of the whole stream (a frame counter, not a clock), so
    with a fixed gap which frames of a sequence are scored would depend on the lengths of every sequence before it
    (leaving one sequence out changed the scores of 60 of UTKinect's 98 others). With ``stride`` each gap is
    lengthened (never shortened below :data:`GAP_S`) so that the stream holds ``offset`` + a multiple of ``stride``
    frames before every sequence, and every sequence starts on a whole millisecond: its windows are then scored
    alike whatever was played before it. ``offset`` frames of empty lead-in start the stream: the inference phase
    of every sequence (``sadvae bench accuracy --phases``).

    Args:
        name: a key of :data:`sadvae.data.registry.DATASETS`.
        data_root: the folder holding the dataset's default location (``../shared/data``).
        hold_s: seconds the first/last pose is held; limit: keep the first n test sequences (quick runs).
        mirror: play each sequence's left-right mirror image (a left-handed performer); a class that names a side
            is then the truth through its mirror class ("wave the left hand" -> "wave the right hand").
        skip: sequence indices not to play (e.g. the examples of :func:`example_split`); ds: the loaded dataset (None:
            loaded here).
        stride: the pipeline's stride in source frames (:func:`replay_stride`) to start every sequence on; None: a
            fixed :data:`GAP_S` after each sequence (before 6 December 2026 the benchmark's only way).
        offset: empty frames before the first sequence, each sequence's frames before its first scoring then
            ``stride - offset`` (with ``stride``: 0 <= offset < stride).
        half_seed: list only the half of the classes :func:`half_list` draws with this seed; the sequences of the
            other classes are then clips of no listed action (truth None: every start on them is false). None: every
            class is listed.
        side: "test" (the dataset's test side) or "inner": the training side's inner-validation subjects
            (:func:`replay_sides`), to choose a setting on a set that a model never saw without reading its test side.
    """
    from sadvae.data.registry import dataset_source
    from sadvae.head.handedness import mirror_columns
    from sadvae.skeleton import mirror_joints
    from sadvae.train.protocol import dataset_arrays

    src = dataset_source(name, data_root)  # a registered set or a clip folder of the user's (its absolute path)
    name = src.key
    ds = ds if ds is not None else src.load()
    labels, _, _ = dataset_arrays(ds)
    names = dataset_class_names(name, ds)
    replayed = replay_sides(name, ds, side)[0]
    idx = np.flatnonzero(replayed)
    left_out = np.fromiter(skip, dtype=np.intp, count=len(skip))
    # the labels: the classes of every sequence that would be replayed without --limit (a limited run chose among
    # the first sequences' classes only: fewer labels, higher numbers; MSR's first ten held one class, and were
    # refused)
    present = sorted({int(labels[i]) for i in idx[~np.isin(idx, left_out)]})
    copies = _test_copies(ds, replayed) if side == "test" else np.zeros(len(replayed), bool)
    idx = idx[~copies[idx]]  # a test clip that repeats a training clip is no held-out clip (its class stays listed)
    if limit is not None:
        idx = idx[:limit]
    idx = idx[~np.isin(idx, left_out)]
    if not len(idx):
        why = " and the test sequences that repeat training sequences" if copies.any() else ""
        raise ConfigError(
            f"{name}: no held-out sequence left to replay once the example performers' sequences{why} are left out"
            f"{'' if limit is None else f' of the first {limit}'}; raise --limit or lower --examples-per-label"
        )
    if stride is not None and not (isinstance(stride, int) and stride >= 1 and 0 <= offset < stride):
        raise ConfigError(
            f"{name}: aligning on a stride needs stride >= 1 and 0 <= offset < stride, got {stride}, {offset}"
        )
    if stride is None and offset:
        raise ConfigError(f"{name}: an offset of {offset} frame(s) needs the stride it shifts the sequences within")
    label_names = tuple(names[c] for c in present)
    unlisted: tuple[str, ...] = ()
    if half_seed is not None:
        listed = half_list(label_names, half_seed)
        unlisted = tuple(c for c in label_names if c not in listed)
        label_names = listed
    chunks, times, segs, t0 = [], [], [], 0.0
    if offset:  # the phase: empty frames before the first sequence (and, the gaps aligned, before every one)
        rate = float(ds.sequences[int(idx[0])].fps)
        chunks.append(np.zeros((offset, 1, 25, 3), np.float32))
        times.append(np.arange(offset) / rate)
        t0 = whole_ms(offset / rate)
    played = offset  # frames of the stream so far
    mirror_of = dict(zip(names, (names[j] for j in mirror_columns(names)), strict=True))
    for i in idx:
        seq = ds.sequences[i]
        if stride is not None:
            joints, t, end, t_next = aligned_piece(seq, t0, hold_s, played, stride, offset)
        else:
            joints, t, end, t_next = stream_piece(seq, t0, hold_s)
        played += len(joints)
        truth = names[int(labels[i])]
        if mirror:
            joints = mirror_joints(joints)
            truth = mirror_of[truth]
        performed = None
        if half_seed is not None and truth not in label_names:  # a class the half list leaves out: no listed action
            truth, performed = None, truth
        chunks.append(joints)
        times.append(t)
        # the action starts with the motion, after the held first pose (until 6 December 2026 at t0, so "first
        # correct" on held rows counted the hold too); it ends with the held last pose, which windows still span
        start = t0 + hold_time(ds.sequences[i], hold_s)
        segs.append(Segment(f"{name}#{int(i)}", truth, label_names, t0, t_next, start, end, performed=performed))
        t0 = t_next
    return HeldoutStream(np.concatenate(chunks).astype(np.float32), np.concatenate(times), segs, label_names, unlisted)


REPLAY_SIDES = ("test", "inner")


def _test_copies(ds: Any, test: np.ndarray) -> np.ndarray:
    """bool [n]: the test sequences that repeat a training sequence to the bit (NW-UCLA's release has 95,
    :func:`sadvae.data.splits.copies_of_training`): a model trained on the training side has seen them, so they are
    neither replayed nor drawn as taught examples."""
    from sadvae.data.splits import copies_of_training

    copies = copies_of_training(ds, test)
    if copies.any():
        log.info("%s: %d test sequence(s) repeat a training sequence; not replayed", ds.name, int(copies.sum()))
    return copies


def replay_sides(name: str, ds: Any, side: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """bool masks (replayed, self-teaching) of the sequences of ``ds``: for "test" the test side and the training side;
    for "inner" the training side's inner-validation subjects (:func:`sadvae.train.default_shiftgcn.inner_validation`,
    the recipe's own split) and the rest of the training side. The two never share a subject (a view or a style where
    the set's training side has fewer than three subjects).

    Raises:
        ConfigError: an unknown side.
    """
    from sadvae.data.splits import test_side_mask

    if side not in REPLAY_SIDES:
        raise ConfigError(f"unknown replay side {side!r}; choose one of {', '.join(REPLAY_SIDES)}")
    test = test_side_mask(ds, name)
    if side == "test":
        return test, ~test
    from sadvae.train.default_shiftgcn import inner_validation  # the recipe's split (a large module: only here)
    from sadvae.train.protocol import dataset_arrays

    inner = inner_validation(*dataset_arrays(ds), test)
    return inner, ~test & ~inner


def half_list(names: tuple[str, ...], seed: int) -> tuple[str, ...]:
    """The labels of a half list: ``ceil(n / 2)`` of the ``n`` names drawn by ``numpy.random.default_rng(seed)``,
    in their own order (the other names are actions the place shows and the list leaves out)."""
    keep = np.sort(np.random.default_rng(seed).permutation(len(names))[: (len(names) + 1) // 2])
    return tuple(names[i] for i in keep)


def read_reworded(path: Path, class_names: tuple[str, ...]) -> dict[str, str]:
    """A file that words a replayed dataset's classes as a user may: one ``class name<TAB>label`` line per class
    (``#`` comments, blank lines). Every class of ``class_names`` (as :func:`dataset_class_names` gives them) needs
    exactly one label, and no two classes may share one.

    Raises:
        DataFormatError: naming the file, the line and the fix.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(path, None, f"cannot read it as UTF-8 text ({exc})") from exc
    words: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cls, tab, label = line.partition("\t")
        cls, label = cls.strip(), label.strip()
        if not tab or not cls or not label or "\t" in label:
            raise DataFormatError(path, f"line {n}", f"expected 'class name<TAB>label', got {line!r}")
        if cls not in class_names:
            raise DataFormatError(path, f"line {n}", f"{cls!r} is no class of this dataset; its classes: {class_names}")
        if cls in words:
            raise DataFormatError(path, f"line {n}", f"{cls!r} is worded twice; keep one line per class")
        words[cls] = label
    missing = [c for c in class_names if c not in words]
    if missing:
        raise DataFormatError(path, None, f"no label for the class(es) {missing}; add a 'class<TAB>label' line each")
    labels = list(words.values())
    twice = sorted({x for x in labels if labels.count(x) > 1})
    if twice:
        raise DataFormatError(path, None, f"the label(s) {twice} word more than one class; give each class its own")
    return words


def reword(stream: HeldoutStream, words: dict[str, str]) -> HeldoutStream:
    """The same replay judged against the classes' labels of ``words`` (:func:`read_reworded`) instead of their
    names: the truths and the label lists renamed, the frames as they are."""
    labels = tuple(words[c] for c in stream.class_names)
    segments = [
        replace(
            s,
            truth=None if s.truth is None else words[s.truth],
            labels=labels,
            performed=None if s.performed is None else words[s.performed],
        )
        for s in stream.segments
    ]
    return HeldoutStream(stream.joints, stream.times, segments, labels, tuple(words[c] for c in stream.unlisted))


def example_split(name: str, ds: Any, k: int, limit: int | None = None) -> tuple[dict[str, list[int]], set[int]]:
    """Which test-side sequences teach each class, and which are then not replayed.

    Per class: the first performer (lowest subject id) with a test-side sequence of it gives up to ``k`` of them (the
    next performers when it has fewer); every test-side sequence of that class by those performers is then left out of
    the replay, so no performer is judged on an action they taught (another person's, as a user's own recordings would
    be of someone else than the next person in front of the camera).

    Returns:
        ({class name: example sequence indices}, the indices not to replay).
    """
    from sadvae.train.protocol import dataset_arrays, test_side_mask

    labels, subjects, _ = dataset_arrays(ds)
    names = dataset_class_names(name, ds)
    test = test_side_mask(ds, name)
    idx = np.flatnonzero(test & ~_test_copies(ds, test))  # as the replay: no example is a training clip
    if limit is not None:
        idx = idx[:limit]
    chosen, skip = teaching_sequences(labels, subjects, idx, k)
    return {names[c]: ix for c, ix in chosen.items()}, skip


def teaching_sequences(
    labels: np.ndarray, subjects: np.ndarray, idx: Any, k: int
) -> tuple[dict[int, list[int]], set[int]]:
    """:func:`example_split`'s rule over the sequences ``idx``: ({class: up to ``k`` sequences of its first
    performers}, every sequence of a class by a performer who teaches it)."""
    examples: dict[int, list[int]] = {}
    skip: set[int] = set()
    for c in sorted({int(labels[i]) for i in idx}):
        mine = [int(i) for i in idx if labels[i] == c]
        chosen: list[int] = []
        for subj in sorted({int(subjects[i]) for i in mine}):
            if len(chosen) >= k:
                break
            of_subject = [i for i in mine if subjects[i] == subj]
            chosen += of_subject[: k - len(chosen)]
            skip.update(of_subject)
        examples[c] = chosen
    return examples, skip


def replay_fps(name: str, ds: Any, idx: Any = None) -> float:
    """The frame rate a replay of ``ds`` plays at (its sequences' rate; the commonest one if they differ)."""
    rates = [float(ds.sequences[int(i)].fps) for i in (range(len(ds.sequences)) if idx is None else idx)]
    if not rates:
        raise ConfigError(f"{name}: no sequence to replay")
    values, counts = np.unique(rates, return_counts=True)
    return float(values[int(np.argmax(counts))])


def replay_stride(model: Any, fps: float, stride: int | None = None) -> int:
    """Source frames between the pipeline's inference batches on a replay at ``fps``: ``stride`` when given (an
    explicit ``--stride``), else the model's (:func:`realtime.pipeline.model_stride`, what ``sadvae-live`` uses)."""
    from realtime.pipeline import model_stride

    return int(stride) if stride is not None else model_stride(model, fps)


def phase_offsets(stride: int, phases: int) -> list[int]:
    """The lead-in frames of each of ``phases`` runs: ``k * stride / phases`` (rounded down), k = 0 .. phases - 1.

    Raises:
        ConfigError: ``phases`` < 1 or more than ``stride`` (fewer distinct phases exist).
    """
    if not (isinstance(phases, int) and 1 <= phases <= stride):
        raise ConfigError(
            f"--phases {phases}: needs 1 <= N <= the stride ({stride} source frames here): a stride has only "
            f"{stride} distinct phases"
        )
    return [k * stride // phases for k in range(phases)]


def run_replay_dataset(
    name: str,
    data_root: Path,
    opts: RunOptions,
    hold_s: float = 0.0,
    limit: int | None = None,
    tmp_dir: Path | None = None,
    mirror: bool = False,
    examples_per_label: int = 0,
    teach: bool = True,
    teach_every: int = 1,
    reworded: Path | None = None,
    self_teach: bool = False,
    half_seed: int | None = None,
    side: str = "test",
) -> tuple[list[SegmentScore], dict[str, Any]]:
    """One replay of a dataset's held-out side, every sequence started on the pipeline's stride
    (:func:`run_replay_phases` with one phase; the arguments are its own).

    Returns:
        (one :class:`SegmentScore` per sequence, run info ``{"dataset", "sequences", "classes", "frames", "wall_s",
        "stride", "offset_frames", ...}``).
    """
    (run,) = run_replay_phases(
        name,
        data_root,
        opts,
        hold_s,
        limit,
        tmp_dir,
        mirror,
        examples_per_label,
        teach,
        teach_every,
        reworded,
        self_teach=self_teach,
        half_seed=half_seed,
        side=side,
    )
    return run


def run_replay_phases(
    name: str,
    data_root: Path,
    opts: RunOptions,
    hold_s: float = 0.0,
    limit: int | None = None,
    tmp_dir: Path | None = None,
    mirror: bool = False,
    examples_per_label: int = 0,
    teach: bool = True,
    teach_every: int = 1,
    reworded: Path | None = None,
    phases: int = 1,
    self_teach: bool = False,
    half_seed: int | None = None,
    side: str = "test",
) -> list[tuple[list[SegmentScore], dict[str, Any]]]:
    """Replay a dataset's held-out side through the live pipeline with its own class names as labels, or with the
    labels of ``reworded`` (:func:`read_reworded`: the classes worded as a user may)
    (``mirror``: their left-right mirror images, :func:`heldout_stream`; ``examples_per_label``: every label taught
    by that many test-side sequences, :func:`example_split`, which are not replayed with their performers' others;
    ``teach`` False: the same sequences left out, the labels scored by their names: the baseline; ``teach_every``
    n > 1: only every n-th label of the list is taught, the others scored by their names: a mixed list, the same
    sequences replayed; ``self_teach``: every label self-taught from the dataset's training side, unlabelled,
    :func:`realtime.self_teaching.self_teach`, its sequences of every class, listed or not; ``half_seed``: the labels
    are the half of the classes :func:`half_list` draws, the other classes' sequences replayed as clips of no listed
    action; ``side`` "inner": the training side's inner-validation subjects are replayed and the rest of the training
    side self-teaches, :func:`replay_sides`).

    Every sequence starts on the pipeline's stride (:func:`heldout_stream` with ``stride``), so its windows are the
    same whichever sequences come before it. ``phases`` N > 1 replays it N times, run k with ``k * stride / N`` empty
    frames first (:func:`phase_offsets`): every sequence scored at N different points of its frames, for the spread
    the choice of the inference phase alone gives.

    Returns:
        One (one :class:`SegmentScore` per sequence, run info) per phase, phase 0 (the aligned run) first. The info:
        ``{"dataset", "sequences", "classes", "frames", "wall_s", "stride", "fps", "phase", "offset_frames", "events",
        ...}``; ``events``: every action event of the run in brief (type, track, label, score, window end, time
        published, reason) with the sequence it was published in.
    """
    import tempfile

    from realtime.head.examples import ExampleClips
    from realtime.sources.replay import ReplaySource
    from sadvae.data.registry import dataset_source

    src = dataset_source(name, data_root)  # a registered set or a clip folder of the user's (its absolute path)
    name = src.key
    if reworded is not None and examples_per_label:
        raise ConfigError(f"{name}: labels taught by example keep the class names; drop the reworded labels")
    if self_teach and examples_per_label:
        raise ConfigError(f"{name}: self-teaching and labelled examples both teach the labels; choose one")
    if side != "test" and examples_per_label:
        raise ConfigError(f"{name}: labels taught by example are drawn from the test side; replay the test side")
    if half_seed is not None and examples_per_label:
        raise ConfigError(f"{name}: labels taught by example teach every class; drop the half lists")
    if teach_every < 1:
        raise ConfigError(f"teach every n-th label needs n >= 1, got {teach_every}")
    if not (isinstance(phases, int) and phases >= 1):
        raise ConfigError(f"--phases must be an integer >= 1, got {phases!r}")
    ds = src.load()
    words = read_reworded(reworded, dataset_class_names(name, ds)) if reworded is not None else None
    taught, skip = example_split(name, ds, examples_per_label, limit) if examples_per_label else ({}, set())
    unlabelled = None
    if self_teach:  # the training side (less the replayed subjects), its labels never read
        unlabelled = [ds.sequences[i] for i in np.flatnonzero(replay_sides(name, ds, side)[1])[:limit]]
    teaching: dict[str, list[int]] = {}
    clips = None
    fps = replay_fps(name, ds)
    runs: list[tuple[list[SegmentScore], dict[str, Any]]] = []
    offsets: list[int] = [0]
    for k in range(phases):
        model = load_model(opts)  # per run: the pipeline closes it
        try:
            stride = replay_stride(model, fps, opts.stride)
            if k == 0:
                offsets = phase_offsets(stride, phases)
            stream = heldout_stream(
                name,
                data_root,
                hold_s,
                limit,
                mirror,
                skip=skip,
                ds=ds,
                stride=stride,
                offset=offsets[k],
                half_seed=half_seed,
                side=side,
            )
        except BaseException:
            model.close()
            raise
        if k == 0 and teach:  # every n-th label of the list, in the list's order (the others keep their names)
            teaching = {c: taught[c] for c in stream.class_names[::teach_every] if c in taught}
        if k == 0 and teaching:
            clips = ExampleClips(
                Path(f"<{name} test side>"),
                {c: [ds.sequences[i] for i in ix] for c, ix in teaching.items()},
                {c: [Path(f"{name}#{i}") for i in ix] for c, ix in teaching.items()},
            )
        if words is not None:
            stream = reword(stream, words)
        with tempfile.TemporaryDirectory(dir=tmp_dir) as tmp:
            labels = Path(tmp) / "labels.txt"
            labels.write_text("\n".join(stream.class_names) + "\n", encoding="utf-8")
            source = ReplaySource.from_arrays(stream.joints, stream.times, name=Path(name).name)
            res = run_pipeline(
                source, labels, replace(opts, stride=stride), examples=clips, model=model, unlabelled=unlabelled
            )
        if res.labels != stream.class_names:
            raise ConfigError(f"{name}: the head's labels {res.labels} are not the dataset's {stream.class_names}")
        scores = [score_segment(res.events, res.windows, seg) for seg in stream.segments]
        starts = [seg.t0 for seg in stream.segments]
        events = []  # each action event, with the sequence whose judged span it was published in
        for e in res.events:
            t = event_time_s(e)
            at = int(np.searchsorted(starts, t, side="right")) - 1
            inside = at >= 0 and t < stream.segments[at].t1
            events.append({**_brief(e), "sequence": stream.segments[at].name if inside else None})
        info = {
            "dataset": name,
            "hold_s": hold_s,
            "mirror": bool(mirror),
            "examples_per_label": int(examples_per_label),
            "taught": bool(teaching),
            "teach_every": int(teach_every),
            "self_taught": bool(self_teach),
            "reworded": None if reworded is None else str(reworded),
            "half_list_seed": half_seed,
            "side": side,
            "unlisted": list(stream.unlisted),
            "taught_labels": sorted(teaching),
            "examples_used": res.examples,
            "example_sequences": sum(len(ix) for ix in taught.values()),
            "sequences": len(scores),
            "classes": len(stream.class_names),
            "frames": res.frames,
            "wall_s": round(res.wall_s, 2),
            "model_id": res.model_id,
            "model_facts": res.model_facts,
            "fps": fps,
            "stride": res.stride,
            "phase": k,
            "phases": phases,
            "offset_frames": offsets[k],
            "events": events,
        }
        runs.append((scores, info))
    return runs
