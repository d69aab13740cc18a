"""The live pipeline: one plain loop on the main thread from frames to ZeroMQ events.

Per frame: source -> pose (skipped for replayed skeletons) -> NTU-25 mapping -> tracking -> one
:class:`realtime.buffer.JointBuffer` per track. The tracker and the buffers get the time of the frame the pose
result was estimated on (``Skeleton.timestamp_ms``): in LIVE pose mode that is an earlier frame than the one just
read (:meth:`Pipeline._pose_time`). Every ``stride`` frames the windows of all tracks
that received frames since their last window go into ONE batch: each is resampled by its buffer,
cut to the span in which the person moves (:func:`sadvae.data.motion.trim_still`, ``trim_still``),
then passes through :func:`sadvae.data.preprocess.preprocess` (``crop="end"``, the bundle's
config: the same function offline evaluation uses), the backend, the zero-shot head and the
track's :class:`realtime.decisions.DecisionMaker`; decisions become action events. A status
heartbeat (fps, per-stage latency, drop counts) goes out every ``status_interval_s``.

Windows hold ``persons`` (M) skeletons per frame as the model was trained: the track itself first,
then (M = 2) the nearest other person matched in the same frame, or zeros.

The labels file is watched; a changed file is turned into a new head on a worker thread (a fit can
take seconds) and swapped in when ready, so the loop never stalls; active actions then end with
reason ``labels_changed``. SIGINT / SIGTERM stop the loop after the current frame; every active
action ends with an ``end`` event, and the publisher is closed in ``finally``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from realtime.backends import BackendOptions
from realtime.backends.live_model import LiveModel
from realtime.buffer import MIN_WINDOW_FRAMES, JointBuffer
from realtime.decisions import Decision, DecisionMaker, DecisionOptions
from realtime.events.emit import Emitter
from realtime.events.format import MAX_TEXT_CHARS, STOP_REASONS
from realtime.events.publisher import Publisher, PublisherOptions
from realtime.head.labels import LabelSet, LabelWatcher
from realtime.head.reload import HeadReloader
from realtime.head.zero_shot import HeadBuilder, HeadOptions, HeadResult, ZeroShotHead
from realtime.pose.stage import PoseOptions
from realtime.signals import stop_on_signals
from realtime.stats import StageStats
from realtime.tracking import Detection, Track, Tracker, TrackerOptions, nearest_others
from realtime.view import TrackView, head_no_action, head_scores, make_view, out_of_view, parts_unseen
from sadvae.data.motion import StillTrim, moving_span, trim_still
from sadvae.data.preprocess import preprocess
from sadvae.errors import ConfigError, SourceError, SourceLostError
from sadvae.skeleton import NUM_JOINTS, mirror_windows

__all__ = ["PipelineOptions", "WindowBatch", "Pipeline", "DEFAULT_STRIDE", "MIN_WINDOW_FRAMES", "model_stride"]

log = logging.getLogger(__name__)
_now_ns = time.perf_counter_ns
DEFAULT_STRIDE = 8  # source frames between batches when neither the options nor the model say


def model_stride(model: LiveModel, source_fps: float | None) -> int:
    """Source frames between inference batches that the model asks for.

    The bundle's live stride (``model.bundle.live.stride``) counts frames at the model's rate; at a
    known source rate it becomes ``round(stride * source_fps / model_fps)`` source frames (at least 1).
    Without a live stride: :data:`DEFAULT_STRIDE`.
    """
    live = getattr(model.bundle, "live", None)
    stride = getattr(live, "stride", None)
    if stride is None:
        return DEFAULT_STRIDE
    if source_fps and source_fps > 0:
        return max(1, int(round(stride * float(source_fps) / model.preprocess.fps)))
    return int(stride)


@dataclass(frozen=True)
class PipelineOptions:
    """Everything the live loop needs besides the source, the model and the labels file.

    Attributes:
        source_name: names the event topics ``sadvae.<source>.*``; None = the source's own name.
        stride: source frames between two inference batches; None = the model's (:func:`model_stride`).
        status_interval_s: seconds between status heartbeats.
        labels_poll_s: seconds between two looks at the labels file.
        latency_window: recent calls per stage kept for status events (None keeps all: benchmarks).
        max_frames: stop after this many frames (None: run until the source ends or a signal).
        buffer_seconds: raw history per track, in windows (capacity = this x the window's span at the input rate).
        max_gap_s: a track's buffer restarts after a pause longer than this (no window across a gap). None (the
            default): the tracker's ``max_missed_ms``, so a pause the tracker bridges (the same person, the same
            id) is bridged by the window's resampling too, as lost frames are; until 7 December 2026 it was 0.5 s,
            and a person unseen for 0.5-0.7 s kept their id but lost their window history, so their next window
            came only ``min_window_frames`` later and the action's end was published then, backdated.
        min_window_frames: frames (at the model's rate) a track needs before its first window; fewer than the
            model's window gives partial windows, padded by ``preprocess`` as training pads short clips
            (:class:`realtime.buffer.JointBuffer`); None or >= the window: whole windows only.
        trim_still: cut each window to the span in which the person moves before ``preprocess``
            (:func:`sadvae.data.motion.trim_still`), as the training clips are cut to their action; None: whole
            windows (round 1 to 5 December 2026). The hook's ``joints`` / ``times`` stay the buffer's whole window.
        handle_signals: stop cleanly on SIGINT / SIGTERM (main thread only).
        pose, tracker, decisions, head, backend, publisher: the stages' own options.
    """

    source_name: str | None = None
    stride: int | None = None
    status_interval_s: float = 1.0
    labels_poll_s: float = 1.0
    latency_window: int | None = 256
    max_frames: int | None = None
    buffer_seconds: float = 1.5
    max_gap_s: float | None = None
    min_window_frames: int | None = MIN_WINDOW_FRAMES
    trim_still: StillTrim | None = field(default_factory=StillTrim)
    handle_signals: bool = True
    pose: PoseOptions = field(default_factory=PoseOptions)
    tracker: TrackerOptions = field(default_factory=TrackerOptions)
    decisions: DecisionOptions = field(default_factory=DecisionOptions)
    head: HeadOptions = field(default_factory=HeadOptions)
    backend: BackendOptions = field(default_factory=BackendOptions)
    publisher: PublisherOptions = field(default_factory=PublisherOptions)

    def __post_init__(self) -> None:
        if self.stride is not None and not (isinstance(self.stride, int) and self.stride >= 1):
            raise ConfigError(f"stride must be an integer >= 1, got {self.stride!r} (None: the model's)")
        if self.max_frames is not None and self.max_frames < 1:
            raise ConfigError(f"max_frames must be >= 1, got {self.max_frames!r}")
        if self.max_gap_s is None:  # frozen: set once, here
            object.__setattr__(self, "max_gap_s", self.tracker.max_missed_ms / 1000.0)
        for name in ("status_interval_s", "labels_poll_s", "max_gap_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not self.buffer_seconds >= 1.0:
            raise ConfigError(f"buffer_seconds must be >= 1 (one window), got {self.buffer_seconds!r}")
        if self.min_window_frames is not None and not (
            isinstance(self.min_window_frames, int) and self.min_window_frames >= 2
        ):
            raise ConfigError(f"min_window_frames must be an integer >= 2, got {self.min_window_frames!r}")
        if self.trim_still is not None and not isinstance(self.trim_still, StillTrim):
            raise ConfigError(
                f"trim_still must be a sadvae.data.motion.StillTrim or None (whole windows), got {self.trim_still!r}"
            )


@dataclass(frozen=True)
class WindowBatch:
    """One inference batch, as handed to the ``on_batch`` hook.

    Attributes:
        t_ms: time of the frame that triggered it; track_ids: the tracks, in batch order.
        joints, times: per track, the buffer's resampled window float32 [T, M, 25, 3] and its grid
            times float64 [T] in seconds (T < the model's window for a partial one), before the still-pose cut
            (``PipelineOptions.trim_still``; ``views[i].moving_ms`` is the span the model read when it cut).
        windows: float32 [N, 3, T, 25, M] the preprocessed batch; outputs: the backend's
            ``{"latent": [N, d_r], "seen_logits": [N, K]}``; result: the head's scores over ``labels``.
        views: per track (batch order), what the model sees after this window (:class:`realtime.view.TrackView`).
        mirror_outputs: the backend's outputs for the windows' left-right mirror images (same keys and order) when
            the head pools handedness (``HeadOptions.handedness = "pool"``), else None.
        moving: per track, whether the person still moves at the window's end (what the decisions on a whole
            motion read, ``DecisionOptions.segment_score``); all False when neither the still-pose cut nor those
            decisions are on (the motion is then not read).
    """

    t_ms: int
    track_ids: tuple[int, ...]
    joints: tuple[np.ndarray, ...]
    times: tuple[np.ndarray, ...]
    windows: np.ndarray
    outputs: dict[str, np.ndarray]
    result: HeadResult
    labels: LabelSet
    views: tuple[TrackView, ...] = ()
    mirror_outputs: dict[str, np.ndarray] | None = None
    moving: tuple[bool, ...] = ()


@dataclass
class _TrackState:
    buffer: JointBuffer
    decider: DecisionMaker
    fresh: int = 0  # frames pushed since the last window
    label: str | None = None
    score: float = 0.0
    view: TrackView | None = None  # the latest window as the model saw it
    unseen: list[tuple[float, np.ndarray]] = field(default_factory=list)  # (time s, parts unseen) per pushed frame


def _copied(det: Detection) -> tuple[np.ndarray, np.ndarray | None]:
    """A detection's joints and joint confidences, kept past the frame (a source may reuse its arrays)."""
    conf = None if det.joint_conf is None else np.array(det.joint_conf, np.float32)
    return np.array(det.joints, np.float32), conf


class Pipeline:
    """The live loop (module docstring). It owns and closes everything it is given.

    Args:
        source: a :mod:`realtime.sources.video` source (iterator of frames with ``close()``).
        model: the loaded :class:`realtime.backends.live_model.LiveModel`.
        labels: the labels file (watched for changes).
        opts: the options.
        publisher: a ready publisher; None = one from ``opts.publisher``.
        pose: a pose stage (``pose(frame) -> list[Skeleton]``); None = a MediaPipe
            :class:`realtime.pose.stage.PoseEstimator`, built when the first image arrives. The skeletons'
            ``timestamp_ms`` (when they have one) is the time the tracker and the buffers get (:meth:`_pose_time`).
        text_encoder: for :class:`realtime.head.zero_shot.HeadBuilder` (None = the bundle's encoder).
        overlay: a :class:`realtime.overlay.Overlay` or None.
        on_batch: called with every :class:`WindowBatch` (tests, recording).
        on_event: called with every action event dict after it is published (``sadvae-live --print``).
        on_labels: called with the new head after an edited labels file took effect (``sadvae-live`` prints its
            mapping, as at start-up).
        recorder: gets ``add(t_s, [(track id, joints [25, 3])])`` for every tracked frame, ``add_earlier(track id,
            [(t_s, joints)])`` with a person's frames before the tracker confirmed them, and is closed with the
            pipeline (:class:`realtime.sources.replay.TrackRecorder`, ``sadvae-live --record-skeleton``).
        examples: prototypes of labels taught by example (:func:`realtime.teaching.embed_examples`,
            ``sadvae-live --examples``), or None.

    Attributes:
        stride: source frames between inference batches (the options', else :func:`model_stride`);
        stats: per-stage latency; frames: frames processed; head: the head in use;
        last_batch: the latest :class:`WindowBatch`; stop_reason: why :meth:`run` returned.

    Raises:
        ConfigError: a bad labels file or option; what the head, publisher and pose raise.
    """

    def __init__(
        self,
        source: Any,
        model: LiveModel,
        labels: str | Path,
        opts: PipelineOptions | None = None,
        *,
        publisher: Publisher | None = None,
        pose: Callable[[Any], list] | None = None,
        text_encoder: Any = None,
        overlay: Any = None,
        on_batch: Callable[[WindowBatch], None] | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        on_labels: Callable[[Any], None] | None = None,
        recorder: Any = None,
        examples: Any = None,
    ):
        self.opts = opts = opts or PipelineOptions()
        self.source, self.model, self.overlay, self.on_batch = source, model, overlay, on_batch
        self.on_labels = on_labels
        self.recorder = recorder
        self._unconfirmed: dict = {}  # tentative track -> its (t_s, joints, joint confidences) so far
        self._pose, self.pose_model = pose, getattr(pose, "model", None)
        self._closed, self._stop = False, threading.Event()
        self._outage_read = False  # the next frame's read spans a source's outage (set at source_reconnected)
        self.stop_reason: str | None = None
        self.stats = StageStats(opts.latency_window)
        self.frames, self.windows, self.pose_stale = 0, 0, 0
        self.starts = 0  # action start events published
        # the nearest a label came to a start since the labels were (re)loaded: (label, smoothed score, window end s,
        # track id, taught by example); what a run without a start reports (sadvae-live's last lines)
        self.best_window: tuple[str, float, float, int, bool] | None = None
        self.first_frame_ms: int | None = None  # the first frame's source time (a camera's: the monotonic clock)
        self.last_batch: WindowBatch | None = None
        self._tracks: dict[int, _TrackState] = {}
        self._tracker = Tracker(opts.tracker)
        self._cfg = model.preprocess
        m, w = self._cfg.persons, self._cfg.window
        in_fps = max(float(getattr(source, "fps", None) or 60.0), self._cfg.fps)
        self.stride = opts.stride if opts.stride is not None else model_stride(model, getattr(source, "fps", None))
        self._capacity = int(np.ceil(opts.buffer_seconds * (w - 1) * in_fps / self._cfg.fps)) + 2
        self._slot = np.zeros((m, NUM_JOINTS, 3), np.float32)  # one frame of a track's window, reused
        self._min_window = None if opts.min_window_frames is None else min(opts.min_window_frames, w)
        watcher = LabelWatcher(labels, poll_s=opts.labels_poll_s)
        builder = HeadBuilder(
            model.bundle, opts.head, model_id=model.model_id, text_encoder=text_encoder, examples=examples
        )
        self.head: ZeroShotHead = builder.build(watcher.current)
        self._reloader = HeadReloader(watcher, builder)
        self.publisher = publisher or Publisher(opts.publisher, opts.source_name or getattr(source, "name", "source"))
        if getattr(source, "on_status", False) is None:  # cameras and streams report reconnects to us
            source.on_status = self._on_source_status
        if getattr(source, "on_idle", False) is None:  # and let us send heartbeats while they wait for frames
            source.on_idle = self._on_source_idle
        self._emit = Emitter(
            self.publisher, model.model_id, model.backend.precision, on_event, status_interval_s=opts.status_interval_s
        )
        self._t_ms = 0
        self._pose_ms: int | None = None  # the time of the latest pose result pushed to the buffers
        self._pose_lag_ms = 0  # how far that result lagged its frame (LIVE mode), for results with nobody in them
        self._tracker_ms: int | None = None  # the tracker's latest time in pose mode (it must not go back)

    def ensure_pose(self) -> Any:
        """Build the MediaPipe pose stage now (it is otherwise built on the first image)."""
        if self._pose is None:
            from realtime.pose.stage import make_pose_stage

            self._pose = make_pose_stage(self.opts.pose)
            self.pose_model = self._pose.model
        return self._pose

    @property
    def labels(self) -> LabelSet:
        return self.head.labels

    def request_stop(self, reason: str = "stop") -> None:
        """Ask the loop to stop after the current frame (thread- and signal-safe)."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self._stop.set()

    def run(self) -> str:
        """Process frames until the source ends, ``max_frames``, a signal or :meth:`request_stop`.

        Returns:
            Why it stopped: "end", "max_frames", "sigint", "sigterm", "window_closed" or the reason given. An
            exception that ends the run propagates; the last status event then says ``stop_reason`` "source_lost"
            (a :class:`SourceError`) or "error" (:data:`realtime.events.format.STOP_REASONS`).
        """
        from realtime.sources.capture import CameraSource, StreamSource
        from realtime.sources.replay import ReplaySource

        src = getattr(self.source, "wrapped", self.source)  # the camera behind a source shared with --teach
        # may wait long for a frame (a paced replay: a gap in the recording): closing it wakes it
        live = isinstance(src, CameraSource | StreamSource) or (isinstance(src, ReplaySource) and src.pace)
        guard = stop_on_signals(self.request_stop, src.close if live else None, lambda: self._closed)
        with guard if self.opts.handle_signals else contextlib.nullcontext():
            try:
                self._status("started", "started")
                it = iter(self.source)
                while not self._stop.is_set():
                    t0 = _now_ns()
                    frame = next(it, None)
                    if frame is None:
                        if self.frames % self.stride:  # frames after the last batch: scored once, not dropped
                            self._infer(self._t_ms, _now_ns(), after_frame=False)
                        self.request_stop("end")
                        break
                    t1 = _now_ns()
                    if self._outage_read:
                        self._outage_read = False
                    else:
                        self.stats.add("read", t1 - t0)
                    self.step(frame, t1)
                    if self.opts.max_frames is not None and self.frames >= self.opts.max_frames:
                        self.request_stop("max_frames")
                return self.stop_reason or "end"
            except SourceError as e:  # the source failed mid-run (a camera or stream given up: source_gave_up first)
                self.stop_reason = "source_lost"
                raise e if isinstance(e, SourceLostError) else SourceLostError(str(e)) from e
            except KeyboardInterrupt:  # Ctrl-C without the pipeline's own signal handlers
                self.stop_reason = "sigint"
                raise
            except BaseException:
                self.stop_reason = "error"
                raise
            finally:
                self.close()

    def step(self, frame: Any, start_ns: int | None = None) -> None:
        """Process one frame (the body of :meth:`run`)."""
        s, t0 = self.stats, start_ns or _now_ns()
        self._t_ms = t_ms = int(frame.timestamp_ms)
        if self.first_frame_ms is None:
            self.first_frame_ms = t_ms
        at_ms = push_ms = t_ms  # tracker and buffer times: the frame's, or the pose result's (LIVE: an earlier frame)
        skeletons = None
        if frame.skeletons is not None:  # a replay: NTU-25 joints already, one camera frame (no pose)
            t1 = t0
            ids = getattr(frame, "identities", None)
            ids = [None] * len(frame.skeletons) if ids is None else [int(i) if i >= 0 else None for i in ids]
            dets = [Detection(joints=j, identity=i) for j, i in zip(frame.skeletons, ids, strict=True) if j.any()]
        else:
            skeletons = self.ensure_pose()(frame)
            t1 = _now_ns()
            s.add("pose", t1 - t0)
            times = self._pose_time(skeletons, t_ms) if getattr(self._pose, "fresh", True) else None
            if times is None:  # LIVE mode: no new result since the last frame (or one older than the last pushed)
                self.pose_stale += 1
                self._housekeeping(frame, t0, None)
                return
            at_ms, push_ms = times
            dets = [Detection.from_skeleton(k) for k in skeletons]
        t2 = _now_ns()
        s.add("mapping", t2 - t1)
        matched = self._tracker.update(dets, at_ms)
        for tr in self._tracker.ended:
            self._end_track(tr.id, at_ms, "track_end")
        for tr in self._tracker.started:
            buf = JointBuffer(
                self._capacity,
                self._cfg.window,
                self._cfg.fps,
                self._cfg.persons,
                max_gap_s=self.opts.max_gap_s,
                min_window=self._min_window,
                # sized from the rate the source declares; a camera that delivers more frames than it declares grows
                # it (up to 16x: 480 frames/s declared as 30) instead of giving partial windows for ever
                max_capacity=16 * self._capacity,
            )
            decider = DecisionMaker(self.labels.names, self.opts.decisions, tr.id, self.head.is_taught)
            self._tracks[tr.id] = _TrackState(buf, decider)
        t3 = _now_ns()
        s.add("tracking", t3 - t2)
        self._push_earlier()
        self._push(matched, push_ms / 1000.0)
        if self.recorder is not None:
            self._record(matched, push_ms / 1000.0)
        self._unconfirmed = {
            tr: [*self._unconfirmed.get(tr, []), (push_ms / 1000.0, *_copied(tr.detection))]
            for tr in self._tracker.tentative
        }
        s.add("buffer", _now_ns() - t3)
        self.frames += 1
        if self.frames % self.stride == 0:
            self._infer(t_ms, t0)
        self._housekeeping(frame, t0, matched if skeletons is not None else None)

    def _push_earlier(self) -> None:
        """A person's frames before the tracker confirmed them (``min_hits``, kept aside while tentative) into the
        new track's buffer, ahead of the frame that confirmed them: a window holds every frame of the person, as a
        training window holds every frame of its clip (until 7 December 2026 the first was never buffered, so a
        clip shorter than a window was scored as another window than it was trained as: a review found top-1 of
        the two agreeing on 80-95 % of such clips). The nearest other person's slot stays empty for these frames."""
        slot = self._slot
        for tr in self._tracker.started:
            state = self._tracks[tr.id]
            for t_s, joints, conf in self._unconfirmed.get(tr, []):
                slot[:] = 0.0
                slot[0] = joints
                state.buffer.push(slot, t_s)
                state.unseen.append((t_s, parts_unseen(conf)))

    def _record(self, matched: list, t_s: float) -> None:
        """This frame's tracked skeletons into the ``--record-skeleton`` recording, and a new track's frames from
        before the tracker confirmed it under its id (until 7 December 2026 each track's first frame was lost, one
        more every time a recording was replayed and recorded again)."""
        self.recorder.add(t_s, [(tr.id, tr.detection.joints) for tr in matched])
        for tr in self._tracker.started:
            self.recorder.add_earlier(tr.id, [(t, joints) for t, joints, _ in self._unconfirmed.get(tr, [])])

    def _pose_time(self, skeletons: list, frame_ms: int) -> tuple[int, int] | None:
        """(tracker time, buffer time) in ms for a fresh pose result, or None to skip it as stale.

        A skeleton's ``timestamp_ms`` is the frame it was estimated on: the frame just read in VIDEO mode, an earlier
        one in LIVE mode (MediaPipe answers asynchronously, 100-300 ms late), whose time the joints must carry or the
        windows are time-warped. A result with nobody in it has no skeleton to say when it is from: the tracker gets
        the frame's time less the latest result's lag (it ends tracks by time). Skeletons without ``timestamp_ms``
        take the frame's time. A result not after the last one pushed (a LIVE full-frame result older than a
        region-of-interest crop's) is skipped, so every track's buffer times increase strictly; the tracker's time
        never goes back.
        """
        stamps = [int(t) for k in skeletons if (t := getattr(k, "timestamp_ms", None)) is not None]
        if stamps:
            t = max(stamps)
            if self._pose_ms is not None and t <= self._pose_ms:
                return None
            self._pose_ms, self._pose_lag_ms = t, frame_ms - t
        else:
            t = frame_ms if skeletons else frame_ms - self._pose_lag_ms
        track = t if self._tracker_ms is None else max(t, self._tracker_ms)
        self._tracker_ms = track
        return track, t

    def _push(self, matched: list[Track], t_s: float) -> None:
        slot, m = self._slot, self._cfg.persons
        # the nearest other person takes the second slot (distances in frame heights: the same in every direction)
        nearest = nearest_others(matched) if m > 1 else None
        for i, tr in enumerate(matched):
            state = self._tracks[tr.id]
            slot[0] = tr.detection.joints
            if m > 1:
                slot[1:] = 0.0
                if nearest[i] >= 0:
                    slot[1] = matched[nearest[i]].detection.joints
            state.buffer.push(slot, t_s)
            state.fresh += 1
            state.unseen.append((t_s, parts_unseen(tr.detection.joint_conf)))
            # the frames the buffer still holds (it grows past its first capacity for a source faster than declared,
            # and empties on a gap): trimmed by time, so that the out-of-view check sees the whole window
            first = state.buffer.first_time
            drop = 0
            while drop < len(state.unseen) and state.unseen[drop][0] < first:
                drop += 1
            if drop:
                del state.unseen[:drop]

    def _infer(self, t_ms: int, t0: int, after_frame: bool = True) -> None:
        """Score every track with new frames. ``t0``: when the frame that triggered the batch started; a batch after
        the source ended (``after_frame`` False) ran on no frame of its own, so its latency has no ``pose``."""
        due = [(tid, st) for tid, st in self._tracks.items() if st.fresh and st.buffer.ready]
        if not due:
            return
        s, cfg = self.stats, self._cfg
        ta = _now_ns()
        batch = np.empty((len(due), 3, cfg.window, NUM_JOINTS, cfg.persons), np.float32)
        joints, times, read, moving_now = [], [], [], []
        segments = self.opts.decisions.segment_score > 0
        watch = self.opts.trim_still is not None or segments
        for i, (_, st) in enumerate(due):
            j, t = st.buffer.window()
            # the moving span: the still-pose cut, and whether the person still moves at the window's end (read by
            # the decisions on a whole motion); computed once, only when one of them is on
            span = moving_span(j, cfg.fps, self.opts.trim_still or StillTrim()) if watch else None
            moving_now.append(span is not None and span[1] == len(j) - 1)
            moving = trim_still(j, t, cfg.fps, self.opts.trim_still, span=span) if self.opts.trim_still else (j, t)
            batch[i] = preprocess(*moving, cfg, crop="end")  # the one preprocessing path
            joints.append(j)
            times.append(t)
            cut = moving[1]
            read.append(None if len(cut) == len(t) else (max(cut[0] * 1000.0, 0.0), max(cut[-1] * 1000.0, 0.0)))
            st.fresh = 0
        tb = _now_ns()
        s.add("window", tb - ta)
        head, n = self.head, len(due)
        pool = head.handedness == "pool"  # the windows and their mirror images in one batch
        out = self.model.backend.run(np.concatenate([batch, mirror_windows(batch)]) if pool else batch)
        mirror_out = {k: v[n:] for k, v in out.items()} if pool else None
        out = {k: v[:n] for k, v in out.items()} if pool else out
        tc = _now_ns()
        s.add("model", tc - tb)
        mirror = (mirror_out["latent"], mirror_out["seen_logits"]) if pool else None
        result = head(out["latent"], out["seen_logits"], mirror)
        td = _now_ns()
        s.add("head", td - tc)
        self.windows += len(due)
        latency = {"window": (tb - ta) / 1e6, "model": (tc - tb) / 1e6, "head": (td - tc) / 1e6}
        if after_frame and s.recent["pose"]:
            latency["pose"] = s.recent["pose"][-1] / 1e6
        decisions: list[tuple[Decision, _TrackState]] = []
        for i, (tid, st) in enumerate(due):
            span = (max(times[i][0] * 1000.0, 0.0), max(times[i][-1] * 1000.0, 0.0))
            step = st.decider.update(
                result.scores[i], int(round(span[1])), span, moving=moving_now[i] if segments else None
            )
            decisions += [(d, st) for d in step]
            smoothed = st.decider.smoothed
            k = int(np.argmax(smoothed))
            if self.best_window is None or smoothed[k] > self.best_window[1]:
                taught = bool(head.is_taught[k])
                self.best_window = (head.labels.names[k], float(smoothed[k]), span[1] / 1000.0, int(tid), taught)
        te = _now_ns()
        s.add("decide", te - td)
        latency["total"] = (te - t0) / 1e6
        for d, st in decisions:
            st.label, st.score = (None, 0.0) if d.type == "end" else (d.label, d.score)
            self._publish_decision(d, latency)
        s.add("publish", _now_ns() - te)
        views = []
        for i, (tid, st) in enumerate(due):
            span = (max(times[i][0] * 1000.0, 0.0), max(times[i][-1] * 1000.0, 0.0))
            st.view = make_view(
                tid,
                head_scores(result, i),
                head.labels.names,
                no_action=head_no_action(result, i),
                min_score=self.opts.decisions.min_score,
                decided=st.label,
                decided_score=st.score,
                window_ms=span,
                out_of_view=out_of_view([u for t, u in st.unseen if times[i][0] - 1e-6 <= t <= times[i][-1] + 1e-6]),
                moving_ms=read[i],
            )
            views.append(st.view)
        self.last_batch = WindowBatch(
            t_ms,
            tuple(tid for tid, _ in due),
            tuple(joints),
            tuple(times),
            batch,
            out,
            result,
            head.labels,
            tuple(views),
            mirror_out,
            tuple(moving_now),
        )
        if self.on_batch is not None:
            self.on_batch(self.last_batch)

    def _housekeeping(self, frame: Any, t0: int, matched: list[Track] | None) -> None:
        """Overlay, labels reload, heartbeat; closes the frame's 'total'."""
        if self.overlay is not None and frame.image is not None:
            ta = _now_ns()
            items = [
                (tr.id, tr.detection.landmarks, self._tracks[tr.id].view)
                for tr in (matched or [])
                if tr.id in self._tracks
            ]
            if not self.overlay.show(frame.image, items, index=frame.index):
                self.request_stop("window_closed")
            self.stats.add("overlay", _now_ns() - ta)
        self.stats.frames = self.frames
        self.stats.add("total", _now_ns() - t0)
        self._emit.frames += 1
        now = time.monotonic()
        head = self._reloader.poll(now)
        if head is not None:
            self._swap_head(head)
        elif (error := self._reloader.take_rejection()) is not None:
            self._labels_rejected(error)
        if now - self._emit.last_status >= self.opts.status_interval_s:
            self._status("heartbeat", None, now=now)

    def _swap_head(self, head: ZeroShotHead) -> None:
        old = self.head
        for st in self._tracks.values():
            for d in st.decider.set_labels(head.labels.names, taught=head.is_taught):
                self._publish_decision(d, {}, old)
            st.label, st.score, st.view = None, 0.0, None
        self.head, self.best_window = head, None
        if self.overlay is not None:  # its panels name labels by their place when its font cannot draw them
            self.overlay.set_labels(head.labels.names)
        path = self._reloader.watcher.path
        details = {
            "labels": len(head.labels),
            "labels_hash": head.labels.sha256,
            "labels_path": str(path),
            "head_mode": str(head.mode),
        }
        self._status(
            "labels_reloaded", f"labels reloaded from {path}: {len(head.labels)} actions ({head.mode})", details
        )
        if self.on_labels is not None:
            self.on_labels(head)

    def _labels_rejected(self, error: str) -> None:
        """Tell subscribers that an edit of the labels file is not applied, and why (until 7 December 2026 only the
        log said it): a program that writes the file learns that its labels are not the ones in use."""
        path = self._reloader.watcher.path
        labels = self.head.labels
        error = error if len(error) <= MAX_TEXT_CHARS else error[: MAX_TEXT_CHARS - 3] + "..."
        details = {"labels": len(labels), "labels_hash": labels.sha256, "labels_path": str(path), "error": error}
        message = f"labels from {path} not applied, still using the {len(labels)} in use: {error}"
        self._status("labels_rejected", message, details)

    def _publish_decision(self, d: Decision, latency: dict[str, float], head: ZeroShotHead | None = None) -> None:
        self.starts += d.type == "start"
        self._emit.action(d, (head or self.head).labels.sha256, latency)

    def views(self) -> list[TrackView]:
        """What the model sees now: the latest :class:`realtime.view.TrackView` of every track that had a window."""
        return [st.view for st in self._tracks.values() if st.view is not None]

    def _status(self, reason: str, message: str | None, details: dict | None = None, now: float | None = None) -> None:
        dropped = {"frames": int(getattr(self.source, "dropped", 0)), "pose_stale": self.pose_stale}
        self._emit.status(
            message,
            self.stats.recent_mean_ms(),
            dropped,
            len(self._tracks),
            now,
            reason=reason,
            details=details,
            persons=self.views(),
        )

    def _on_source_status(self, status: Any) -> None:
        details = {"attempt": status.attempt, "delay_s": status.delay_s}
        self._status(f"source_{status.state}", status.message, details)
        # an operator reading the service's log sees a camera go and come back (until 7 December 2026, late, only
        # subscribers learnt of it); each attempt between the two stays at debug level
        if status.state in ("disconnected", "reconnected"):
            log.warning("%s", status.message)
        else:
            log.debug("%s", status.message)
        if status.state == "reconnected":  # the read that spans the outage is no frame interval: left out of the mean
            self._outage_read = True
        if status.state == "disconnected":  # nobody is seen while the source is away: their actions end now (with
            # heartbeats going on through the reconnect, they would otherwise stay decided until frames return)
            for tr in self._tracker.end_all():
                self._end_track(tr.id, self._t_ms, "source_disconnected")
            for tid in list(self._tracks):
                self._end_track(tid, self._t_ms, "source_disconnected")

    def _on_source_idle(self) -> float:
        """No frame yet (a camera reconnecting, up to 10 s between attempts): the heartbeat stays on time, so the
        liveness rule of docs/live.md (no status for 3 intervals: the publisher is gone) holds during the wait.
        Returns the seconds until the next heartbeat is due (the source calls again by then)."""
        now = time.monotonic()
        if not self._closed and now - self._emit.last_status >= self.opts.status_interval_s:
            self._status("heartbeat", None, now=now)
        return self.opts.status_interval_s - (now - self._emit.last_status)

    def _end_track(self, track_id: int, t_ms: int, reason: str) -> None:
        st = self._tracks.pop(track_id, None)
        if st is None:
            return
        for d in st.decider.end_track(t_ms):
            self._publish_decision(d, {})
        log.debug("track %d ended (%s)", track_id, reason)

    def close(self) -> None:
        """End every track (final ``end`` events), send a last status, release everything; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            for tr in self._tracker.end_all():
                self._end_track(tr.id, self._t_ms, "stop")
            for tid in list(self._tracks):
                self._end_track(tid, self._t_ms, "stop")
            said = self.stop_reason or "closed"
            why = said if said in STOP_REASONS else "stop"  # a reason of a program's own: its message says it
            details = {"stop_reason": why, "frames": self.frames, "windows": self.windows}
            self._status("stopped", f"stopped ({said}) after {self.frames} frames", details)
        finally:
            # every part is closed whatever another's close raised (a Ctrl-C while the overlay's recording finished
            # left the model and the --record-skeleton recording unclosed until 7 December 2026); the first error
            # is raised once all are closed. The skeleton recording is written first: it is quick, cannot be made
            # again, and a Ctrl-C that cuts the overlay's encoding short comes after it
            first: BaseException | None = None
            for part in (
                self._reloader,
                self.source,
                self.recorder,
                self._pose,
                self.overlay,
                self.model,
                self.publisher,
            ):
                if part is None or not hasattr(part, "close"):
                    continue
                try:
                    part.close()
                except BaseException as e:
                    if first is not None:  # said, not lost (e.g. where the --record-skeleton recording went)
                        log.error("closing %s: %s%s", type(part).__name__, type(e).__name__, f": {e}" if str(e) else "")
                    first = first or e
            if first is not None:
                raise first
