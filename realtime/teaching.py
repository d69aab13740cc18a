"""Labels taught by example: each example recording played through the live pipeline (``sadvae-live --examples``).

An example is read exactly as a live person is: its clip is replayed through :class:`realtime.pipeline.Pipeline`
with the run's model and options (windowing, resampling to the model's rate, the still-pose cut, preprocessing),
with its first and last pose held :data:`HOLD_S` (a person who stands still before and after the action), and the
trained-class logits and the latent of each of its windows are kept. Each taught label's prototype is made of them
(:class:`sadvae.head.examples.ExamplePrototypes`); :class:`realtime.head.examples.ExampleHead` scores with it.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from realtime.head.examples import ExampleClips
from sadvae.errors import ConfigError
from sadvae.head.examples import ExamplePrototypes
from sadvae.labels import duplicate_key

__all__ = [
    "HOLD_S",
    "ExampleRecorder",
    "SharedSource",
    "check_take",
    "clip_windows",
    "embed_examples",
    "min_take_seconds",
    "record_example",
    "save_example",
    "take_sequence",
    "teach_folder_labels",
]

log = logging.getLogger(__name__)

NO_INFERENCE_STRIDE = 2**31 - 1  # the teaching run's stride: it never reaches a batch

# each example is played with its first and last pose held this long, as a person who stands still before and after
# the action: a short clip then still fills a window, and the still-pose cut keeps the model on the motion
HOLD_S = 1.0


class _Borrowed:
    """The run's model (or overlay), lent to another pipeline: closing that pipeline must not close it."""

    def __init__(self, model: Any):
        self._model = model

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def close(self) -> None:
        pass


def clip_windows(
    model: Any, clips: Sequence[Any], opts: Any = None, labels: str | Path | None = None
) -> list[dict[str, np.ndarray]]:
    """The outputs of every window the live pipeline makes of each clip: per clip, in order, ``{"seen_logits": float64
    [n_i, K], "latent": float64 [n_i, D]}`` (n_i may be 0), and with ``labels`` (a labels file) ``"scores"``: float64
    [n_i, L], what the head of those labels gives each window (``probs * p_action``, what decisions smooth), and
    ``"no_action"``: bool [n_i], the windows that head calls "no action".

    Each clip is played as a person who appears, stands still :data:`HOLD_S`, acts, stands still and leaves, through
    :class:`realtime.pipeline.Pipeline` with the run's model and ``opts`` (:class:`realtime.pipeline.PipelineOptions`,
    None: the defaults).
    """
    from realtime.events.publisher import PublisherOptions
    from realtime.pipeline import Pipeline, PipelineOptions
    from realtime.sources.replay import ReplaySource, stream_piece

    if not clips:
        return []
    opts = opts or PipelineOptions()
    opts = replace(
        opts,
        handle_signals=False,
        max_frames=None,
        publisher=PublisherOptions(endpoint="tcp://127.0.0.1:*", sndhwm=100_000),
    )
    chunks, times, spans, t0 = [], [], [], 0.0
    for seq in clips:
        joints, t, _, t_next = stream_piece(seq, t0, hold_s=HOLD_S)
        chunks.append(joints)
        times.append(t)
        spans.append((t0, t_next))
        t0 = t_next
    per_clip: list[list[tuple[np.ndarray, np.ndarray, np.ndarray, bool]]] = [[] for _ in clips]
    starts = np.array([a for a, _ in spans])

    def collect(batch: Any) -> None:
        logits = np.asarray(batch.outputs["seen_logits"], np.float64)
        latent = np.asarray(batch.outputs["latent"], np.float64)
        scores = np.asarray(batch.result.scores, np.float64)
        no_action = np.asarray(batch.result.no_action, bool)
        for i in range(len(batch.track_ids)):
            end = float(batch.times[i][-1])
            k = int(np.searchsorted(starts, end, side="right")) - 1
            if 0 <= k < len(clips) and end <= spans[k][1]:
                per_clip[k].append((logits[i], latent[i], scores[i], bool(no_action[i])))

    seen = model.bundle.seen_names
    with tempfile.TemporaryDirectory(prefix="sadvae-examples-") as tmp:
        scored = labels is not None
        if not scored:
            labels = Path(tmp) / "labels.txt"  # trained classes: the head needs no fit to run
            labels.write_text(f"{seen[0]}\n{seen[1]}\n", encoding="utf-8")
        source = ReplaySource.from_arrays(np.concatenate(chunks), np.concatenate(times), name="examples")
        pipe = Pipeline(source, _Borrowed(model), labels, opts, on_batch=collect)
        num_labels = len(pipe.labels.names)
        pipe.run()
    width, dim = len(seen), int(model.bundle.semantic_dim)
    out = []
    for rows in per_clip:
        one = {
            "seen_logits": np.stack([r[0] for r in rows]) if rows else np.zeros((0, width)),
            "latent": np.stack([r[1] for r in rows]) if rows else np.zeros((0, dim)),
        }
        if scored:
            one["scores"] = np.stack([r[2] for r in rows]) if rows else np.zeros((0, num_labels))
            one["no_action"] = np.array([r[3] for r in rows], bool)
        out.append(one)
    return out


def embed_examples(model: Any, examples: ExampleClips, opts: Any = None, skip_empty: bool = False) -> ExamplePrototypes:
    """Each example clip played through the live pipeline (:func:`clip_windows`); each taught label's prototype from
    its windows' logits.

    Args:
        model: the run's :class:`realtime.backends.live_model.LiveModel` (not closed here).
        examples: from :func:`read_examples`.
        opts: the run's :class:`realtime.pipeline.PipelineOptions` (None: the defaults); its windowing, still-pose
            cut and preprocessing are what the examples go through.
        skip_empty: drop a clip that gives no window (logged) instead of refusing it; a label left without any
            is not taught (benchmarks, where the examples are drawn from a dataset).

    Raises:
        ConfigError: a clip gives no window (no person tracked in it), naming the file (unless ``skip_empty``).
    """
    order = [
        (name, seq, f)
        for name in examples.clips
        for seq, f in zip(examples.clips[name], examples.files[name], strict=True)
    ]
    per_clip = clip_windows(model, [seq for _, seq, _ in order], opts)
    windows: dict[str, list[np.ndarray]] = {}
    latents: dict[str, list[np.ndarray]] = {}
    for (name, seq, f), out in zip(order, per_clip, strict=True):
        rows = out["seen_logits"]
        if not len(rows) and skip_empty:
            log.warning("%s: this example of %r gave the model no window; left out", f, name)
            continue
        if not len(rows):
            from realtime.pipeline import PipelineOptions

            span = float(seq.times()[-1] - seq.times()[0])
            shortest = min_take_seconds(model, opts if opts is not None else PipelineOptions())
            why = f"shorter than the {shortest:.1f} s a window needs" if span < shortest else "no person found in it?"
            # an imported recording of several people gives a clip per track, short ones too (the teaching audit)
            raise ConfigError(
                f"{f}: this example of {name!r} gave the model no window ({seq.num_frames} frames, {span:.1f} s, "
                f"{why}); delete the file or replace it with a longer recording of the whole body"
            )
        windows.setdefault(name, []).append(rows)
        latents.setdefault(name, []).append(out["latent"])
    counts = {n: len(w) for n, w in windows.items()}
    protos = ExamplePrototypes.from_windows(
        {n: np.concatenate(w) for n, w in windows.items()},
        counts,
        {n: np.concatenate(z) for n, z in latents.items()},
    )
    for n, c, w in zip(protos.names, protos.clips, protos.windows, strict=True):
        log.info("example label %r: %d clip(s), %d window(s)", n, c, w)
    return protos


# ---------------------------------------------------------------- teaching from the live source (--teach)


_PIPELINE_CALLBACKS = ("on_status", "on_idle")  # what a pipeline installs on a live source (realtime.pipeline)


class SharedSource:
    """One source read by two pipelines in turn (the teaching run, then the run proper): they share one iterator, so
    the second continues where the first stopped, with the source's own timestamps. Closing it closes the source only
    when ``owner``. A camera's or stream's reconnect reports (``on_status``) and its calls while it waits for frames
    (``on_idle``: heartbeats) go to the pipeline that reads it now: :meth:`then` hands the source on without the
    teaching pipeline's callbacks, so the next pipeline installs its own.
    ``wrapped`` is the source itself (a pipeline reads it to know a camera that Ctrl-C must wake)."""

    def __init__(self, source: Any, it: Any = None, owner: bool = False):
        self._source, self._owner = source, owner
        self._it = it if it is not None else iter(source)
        self.name = getattr(source, "name", "source")
        self.fps = getattr(source, "fps", None)
        # None: a live source that reports to a pipeline (False: a source without that callback)
        self._initial = {name: getattr(source, name, False) for name in _PIPELINE_CALLBACKS}

    @property
    def wrapped(self) -> Any:
        return self._source

    def __iter__(self) -> Any:
        return self._it

    def __getattr__(self, name: str) -> Any:  # dropped frames, on_status, ...
        return getattr(self._source, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _PIPELINE_CALLBACKS:  # a pipeline installs its callbacks on the source itself, where it has them
            if hasattr(self._source, name):
                setattr(self._source, name, value)
            return
        super().__setattr__(name, value)

    def handoff(self) -> None:
        """The pipeline that read the source has closed: the next one installs its own callbacks."""
        for name, initial in self._initial.items():
            if initial is None:
                setattr(self._source, name, None)

    def then(self) -> SharedSource:
        """The same source for the run after this one (it owns the source: closing it closes the source)."""
        self.handoff()
        return SharedSource(self._source, self._it, owner=True)

    def close(self) -> None:
        if self._owner:
            self._source.close()


class ExampleRecorder:
    """A pipeline recorder (``add(t_s, tracks)``) that keeps the first tracked person's joints until they span
    ``seconds`` of source time; the person lost for more than ``lost_s`` starts it again with whoever is tracked next
    (``on_restart(track, span_s, last_seen_s)`` is called then, ``on_start(track, t_s)`` when a person is picked).
    ``on_done`` is called once when the span is reached (the teaching run stops there). :attr:`longest` remembers the
    longest take across restarts, for the message when none is long enough."""

    def __init__(
        self, seconds: float, on_done: Any = None, lost_s: float = 1.0, on_start: Any = None, on_restart: Any = None
    ):
        self.seconds, self.on_done, self.lost_s, self.on_start = float(seconds), on_done, float(lost_s), on_start
        self.on_restart = on_restart
        self.track: int | None = None
        self.times: list[float] = []
        self.joints: list[np.ndarray] = []
        self.restarts = 0
        self.stop_reason: str | None = None  # why the teaching run stopped ("taught" once done)
        self._last_seen = -np.inf
        self._lost: tuple[int, float] | None = None  # (track, span) of the longest take that was cut short

    @property
    def span(self) -> float:
        return self.times[-1] - self.times[0] if self.times else 0.0

    @property
    def done(self) -> bool:
        return self.span >= self.seconds

    @property
    def longest(self) -> tuple[int, float, bool] | None:
        """``(track, span_s, lost)`` of the longest take so far (``lost``: its person went out of view for more than
        ``lost_s`` and the take started again), or None when nobody was tracked."""
        now = (self.track, self.span, False) if self.track is not None else None
        before = (*self._lost, True) if self._lost is not None else None
        if now is None or (before is not None and before[1] > now[1]):
            return before
        return now

    def add(self, t_s: float, tracks: list[tuple[int, np.ndarray]]) -> None:
        if self.done:
            return
        present = any(tid == self.track for tid, _ in tracks)
        if self.track is not None and not present and t_s - self._last_seen > self.lost_s:
            lost, span, last = self.track, self.span, self.times[-1]
            if self._lost is None or span > self._lost[1]:
                self._lost = (lost, span)
            self.track, self.times, self.joints = None, [], []
            self.restarts += 1
            if self.on_restart is not None:
                self.on_restart(lost, span, last)
        for tid, joints in tracks:
            if self.track is None:
                self.track = tid
                if self.on_start is not None:
                    self.on_start(tid, t_s)
            if tid == self.track and (not self.times or t_s > self.times[-1]):
                self.times.append(float(t_s))
                self.joints.append(np.array(joints, np.float32))
                self._last_seen = t_s
        if self.done and self.on_done is not None:
            self.on_done()

    def add_earlier(self, tid: int, frames: list[tuple[float, np.ndarray]]) -> None:
        """A take starts at the frame its person was confirmed in (the pipeline offers the frames before): the
        take's length is counted from there, as the start-up message says."""

    def close(self) -> None:
        pass


def min_take_seconds(model: Any, opts: Any) -> float:
    """The shortest take (seconds) that gives the model a window: an example is played with :data:`HOLD_S` of still
    pose before and after it (:func:`clip_windows`), and a window needs ``opts.min_window_frames`` (None: the model's
    whole window) frames at the model's rate. 0 when the holds alone fill it."""
    pre = model.preprocess
    need = pre.window if opts.min_window_frames is None else min(int(opts.min_window_frames), pre.window)
    return max(0.0, need / float(pre.fps) - 2 * HOLD_S)


def take_sequence(recorder: ExampleRecorder, label: str, source_name: str) -> Any:
    """The recorded person as a :class:`sadvae.data.record.SkeletonSequence` of ``label`` (one person)."""
    from sadvae.data.record import SkeletonSequence

    t = np.asarray(recorder.times) - recorder.times[0]
    fps = float(1.0 / np.median(np.diff(t)))
    regular = np.allclose(t, np.arange(len(t)) / fps, atol=1e-3)
    return SkeletonSequence(
        np.stack(recorder.joints)[:, None],
        fps,
        f"{source_name}#taught",
        label=0,
        label_name=label,
        subject=1,
        timestamps=None if regular else t,
    )


def check_take(model: Any, seq: Any, opts: Any) -> int:
    """The number of windows the live pipeline makes of the take ``seq`` (as :func:`embed_examples` will play it);
    a take that gives none would make every later ``--examples`` run fail, so it must not be saved."""
    return len(clip_windows(model, [seq], opts)[0]["seen_logits"])


def record_example(
    source: SharedSource,
    model: Any,
    labels: Path,
    opts: Any,
    seconds: float,
    load_pose: bool = False,
    on_ready: Any = None,
    on_start: Any = None,
    overlay: Any = None,
    on_restart: Any = None,
) -> ExampleRecorder:
    """Run the live pipeline on ``source`` until the first tracked person has been recorded for ``seconds`` (the
    action being taught); the run's events go nowhere (a private endpoint). ``load_pose``: load the pose model first
    (a camera, video or stream; not a skeleton replay). ``on_ready()`` is called once the pipeline (and its pose
    model) is loaded, the moment to tell the person to start; ``on_start(track, t_s)`` when a person is picked,
    ``on_restart(track, span_s, last_seen_s)`` when they were lost and the take starts again.
    ``overlay``: the run's window and recording, lent (the run after the teaching goes on drawing into them).
    Returns the recorder; ``done`` False when the source ended or a signal stopped it first (its ``stop_reason`` says
    which)."""
    from realtime.events.publisher import PublisherOptions
    from realtime.pipeline import Pipeline

    publisher = PublisherOptions(endpoint="tcp://127.0.0.1:*", sndhwm=100_000)
    # pose, mapping and tracking make the take; no window is scored while teaching (a slow device keeps its frames)
    opts = replace(opts, max_frames=None, publisher=publisher, stride=NO_INFERENCE_STRIDE)
    recorder = ExampleRecorder(seconds, on_start=on_start, on_restart=on_restart)
    lent = _Borrowed(overlay) if overlay is not None else None
    pipeline = Pipeline(source, _Borrowed(model), labels, opts, recorder=recorder, overlay=lent)
    try:
        if load_pose:
            pipeline.ensure_pose()  # MediaPipe loads before the person is told to start, not on the first frame
    except BaseException:
        pipeline.close()
        raise
    recorder.on_done = lambda: pipeline.request_stop("taught")
    if on_ready is not None:
        on_ready()
    recorder.stop_reason = pipeline.run()
    return recorder


def teach_folder_labels(folder: Path, labels: Sequence[str]) -> list[str]:
    """Check, before anything is recorded, that taught clips can be added to the examples ``folder`` (absent, empty,
    or a clip folder that reads back), and return each label as the folder spells it (a folder that has "my_kick"
    gets the clip of the listed "my kick" under "my_kick", never a second class).

    Raises:
        ConfigError: ``folder`` is a file or a folder of something else, or its clips do not read back (one line
            naming the folder and the fix).
    """
    from sadvae.data.user_format import check_clip_output, read_clip_dataset
    from sadvae.errors import DataFormatError

    try:
        existing = check_clip_output(folder)
    except ConfigError as e:
        raise ConfigError(f"--teach: {e}".replace("pass a new --out folder", "pass a new --examples folder")) from None
    _check_writable(folder)
    if not existing:
        return list(labels)
    try:
        ds = read_clip_dataset(folder)
    except DataFormatError as e:
        raise ConfigError(
            f"--teach: {folder} cannot take a new clip ({e}); fix it with `sadvae data import` or teach into a new "
            "--examples folder"
        ) from None
    spelled = {duplicate_key(n): n for n in ds.class_names}
    return [spelled.get(duplicate_key(label), label) for label in labels]


def _check_writable(folder: Path) -> None:
    """Refuse, before a take is recorded, an examples folder whose clips cannot be written (a read-only folder or
    disk, a parent that cannot take the new folder): until 7 December 2026 that was found once the take was done, and
    the take was lost (the teaching audit)."""
    where = folder / "clips" if (folder / "clips").is_dir() else folder
    while not where.exists() and where.parent != where:
        where = where.parent  # the folder is made there when the take is saved
    try:
        with tempfile.NamedTemporaryFile(dir=where, prefix=".sadvae-write-check-"):
            pass
    except OSError as e:
        raise ConfigError(
            f"--teach: {folder}: its clips cannot be written ({where}: {e.strerror or e}); pass an --examples folder "
            "you can write"
        ) from None


def save_example(recorder: ExampleRecorder, label: str, folder: Path, source_name: str, seq: Any = None) -> Path:
    """Add the recorded person (``seq``, :func:`take_sequence`, made here when None) as one clip of ``label`` to the
    clip folder ``folder`` (made when absent; the label joins its ``classes.txt`` when new; :func:`teach_folder_labels`
    gives its spelling). Returns the clip's file.

    Raises:
        ConfigError: the folder already holds this very take (the same recording taught twice).
    """
    from sadvae.data.record import Dataset
    from sadvae.data.user_format import clip_fingerprint, is_clip_dataset, read_clip_dataset, write_clip_dataset

    if seq is None:
        seq = take_sequence(recorder, label, source_name)
    if is_clip_dataset(folder):
        held = {clip_fingerprint(s.joints): s.source for s in read_clip_dataset(folder).sequences}
        if (same := held.get(clip_fingerprint(seq.joints))) is not None:
            raise ConfigError(
                f"--teach {label!r}: {folder} already holds this very take ({same}): the same recording taught twice; "
                "nothing was added (teach from a new take)"
            )
    ds = Dataset("taught", (label,), [seq], [], "none")
    before = {p.name for p in (folder / "clips").glob("*.npz")} if (folder / "clips").is_dir() else set()
    write_clip_dataset(ds, folder, None, {"source": f"sadvae-live --teach ({source_name})", "protocol": "none"})
    new = sorted(p for p in (folder / "clips").glob("*.npz") if p.name not in before)
    return new[-1]
