"""Skeleton replay: pre-computed NTU-25 joints as a frame source, bypassing pose estimation (numpy only).

:class:`ReplaySource` plays any file or folder :func:`sadvae.data.registry.read_path` reads (NTU
``.skeleton``, txt2npy, CTR-GCN ``.npz``, PKU-MMD, the Kinect-v1 sets) or a *recording*: an ``.npz``
with ``joints`` float32 [T, M, 25, 3] (metres, NTU camera frame) and ``times`` float64 [T] (seconds,
strictly increasing), as :func:`save_recording` writes it. Frames carry ``image=None`` and
``skeletons`` [M, 25, 3]; sequences of a dataset play one after another with time running on, each followed by
``GAP_S`` of empty frames (the person of one ends before the next appears).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from realtime.frames import Frame, Source
from sadvae.data.numpy_files import NUMPY_READ_ERRORS, check_numpy_file
from sadvae.data.user_format import TIMESTAMP_FPS_RANGE, check_metres, check_tracks, timestamp_rate
from sadvae.errors import DataFormatError, SourceError
from sadvae.fileio import atomic_path, output_problem
from sadvae.skeleton import NUM_JOINTS

__all__ = [
    "ReplaySource",
    "TrackRecorder",
    "save_recording",
    "load_recording",
    "recording_tracks",
    "RECORDING_KEYS",
    "MAX_RECORDING_BYTES",
    "GAP_S",
    "stream_piece",
    "hold_time",
]

log = logging.getLogger(__name__)

RECORDING_KEYS = ("joints", "times")
# uncompressed size a recording may declare (an hour of two people at 30 fps is about 70 MB): refuses zip bombs
MAX_RECORDING_BYTES = 1 << 30
RECORDING_MIN_FPS = 0.1  # slower frame times in a recording are a unit mistake (milliseconds: 0.03 fps at 30 fps)


def save_recording(path: str | Path, joints: np.ndarray, times_s: np.ndarray, tracks: np.ndarray | None = None) -> Path:
    """Write a skeleton recording that :class:`ReplaySource` plays.

    Args:
        path: the ``.npz`` to write.
        joints: [T, M, 25, 3] NTU-25 joints in metres.
        times_s: [T] frame times in seconds, strictly increasing.
        tracks: optional int [T, M]: which track each person column holds in each frame (-1: nobody), for
            recordings whose columns are shared by tracks that follow each other (:class:`TrackRecorder`).
    """
    p = Path(path)
    joints = np.asarray(joints, dtype=np.float32)
    times = np.asarray(times_s, dtype=np.float64)
    _check_recording(p, joints, times)
    arrays = {"joints": joints, "times": times}
    if tracks is not None:
        tracks = np.asarray(tracks)
        check_tracks(p, tracks, joints)  # as `sadvae data import` will read it
        arrays["tracks"] = tracks.astype(np.int32)
    with atomic_path(p, make_parents=False, suffix=".npz") as tmp:  # a failed write leaves no partial file
        np.savez_compressed(tmp, **arrays)
    return p


def _check_recording(path: Path, joints: np.ndarray, times: np.ndarray) -> None:
    if joints.ndim != 4 or joints.shape[2:] != (NUM_JOINTS, 3) or joints.shape[0] < 1 or joints.shape[1] < 1:
        raise DataFormatError(path, "joints", f"expected shape [T>=1, M>=1, 25, 3], found {list(joints.shape)}")
    if not np.isfinite(joints).all():
        raise DataFormatError(path, "joints", "expected finite numbers, found NaN or inf")
    if times.shape != (joints.shape[0],):
        raise DataFormatError(
            path, "times", f"expected shape [{joints.shape[0]}] (one per frame), found {list(times.shape)}"
        )
    if not np.isfinite(times).all() or (len(times) > 1 and not (np.diff(times) > 0).all()):
        raise DataFormatError(path, "times", "expected finite seconds that increase strictly from frame to frame")


def _array_bytes(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """Bytes numpy would allocate for one ``.npy`` member, from its header (a small file can declare 1e9 rows)."""
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
    return int(np.prod(shape, dtype=object)) * dtype.itemsize


def load_recording(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a recording: ``(joints float32 [T, M, 25, 3], times float64 [T] seconds)``.

    Raises:
        DataFormatError: not an ``.npz``, keys missing, wrong shapes or times.
    """
    p = Path(path)
    check_numpy_file(p, ".npz", "record it again (realtime.sources.replay.save_recording writes recordings)")
    try:
        with zipfile.ZipFile(p) as zf:  # sizes from the zip directory and from each array's own header
            declared = max(sum(i.file_size for i in zf.infolist()), sum(_array_bytes(zf, i) for i in zf.infolist()))
        if declared > MAX_RECORDING_BYTES:
            raise DataFormatError(
                p, None, f"archive unpacks to {declared} bytes, more than the {MAX_RECORDING_BYTES}-byte limit"
            )
        with np.load(p, allow_pickle=False) as z:
            missing = [k for k in RECORDING_KEYS if k not in z.files]
            if missing:
                raise DataFormatError(p, f"keys {missing}", f"missing; a recording holds {list(RECORDING_KEYS)}")
            joints, times = z["joints"], z["times"]
    except DataFormatError:
        raise
    except NUMPY_READ_ERRORS as e:
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise DataFormatError(p, None, f"not a readable .npz archive ({type(e).__name__}: {first})") from None
    for name, value in (("joints", joints), ("times", times)):
        if value.dtype.kind not in "fiu":  # strings or objects: refused by name, not a conversion traceback
            raise DataFormatError(p, name, f"expected numbers, found {value.dtype}")
    joints, times = np.asarray(joints, np.float32), np.asarray(times, np.float64)
    _check_recording(p, joints, times)
    # a recording in millimetres or with times in milliseconds replayed as "no person tracked" (a review of
    # 7 December 2026): the clip format's unit checks apply to recordings read (not to the ones a run writes),
    # down to a frame every 10 s: a run whose pose stage is slow records under a frame a second, and replays it
    check_metres(p, joints)
    if len(times) > 1:
        timestamp_rate(p, times, "times", (RECORDING_MIN_FPS, TIMESTAMP_FPS_RANGE[1]))
    return joints, times


def recording_tracks(path: str | Path, joints: np.ndarray) -> np.ndarray | None:
    """A recording's ``tracks`` [T, M] (the track id each person column holds per frame, -1 for nobody, as
    :class:`TrackRecorder` writes it), checked against its ``joints``; None when the file has none.

    A replay hands them to the tracker as the people's identities: recorded MediaPipe joints are hip-centred, so
    where a person stands no longer tells people apart (:mod:`realtime.tracking`).

    Raises:
        DataFormatError: a ``tracks`` array that does not fit the joints.
    """
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as z:
            tracks = z["tracks"] if "tracks" in z.files else None
    except NUMPY_READ_ERRORS as e:
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise DataFormatError(p, "tracks", f"not readable ({type(e).__name__}: {first}); record it again") from None
    if tracks is None:
        return None
    check_tracks(p, tracks, joints)
    return tracks.astype(np.int64)


def _is_recording(p: Path) -> bool:
    if p.suffix != ".npz" or not p.is_file():
        return False
    try:
        with np.load(p, allow_pickle=False) as z:
            keys = set(z.files)
    except NUMPY_READ_ERRORS:
        return False  # the dataset readers then report what is wrong with the file
    # a `sadvae data prepare` cache ("format", "offsets") and a clip of a clip folder ("label") hold joints and times
    # too, per sequence: sadvae.data.registry.read_path reads them as datasets, every sequence in turn
    return set(RECORDING_KEYS) <= keys and not keys & {"format", "offsets", "label"}


class ReplaySource(Source):
    """Replays skeletons as frames (``image=None``, ``skeletons`` [M, 25, 3]).

    Args:
        path: a recording ``.npz`` or anything :func:`sadvae.data.registry.read_path` reads.
        fps: space frames ``1000 / fps`` ms apart; None keeps the file's own timing.
        loop: start again after the last frame (time keeps increasing).
        pace: sleep so that frames come out in real time (as a camera would); False = as fast as read.

    Raises:
        SourceError: the path does not exist. DataFormatError / ConfigError from the readers for bad files.
    """

    def __init__(self, path: str | Path, fps: float | None = None, loop: bool = False, pace: bool = False):
        self.path = Path(path)
        self.name = self.path.name.split(".")[0] or "replay"
        if not self.path.exists():
            raise SourceError(f"skeleton file {self.path} not found")
        if fps is not None and not fps > 0:
            raise SourceError(f"replay fps must be positive, got {fps!r}")
        self.loop, self.pace = loop, pace
        self._seqs: list[tuple[np.ndarray, np.ndarray]] = []  # (joints [T, M, 25, 3], times [T] s)
        self._ids: list[np.ndarray | None] = []  # per sequence: its track ids [T, M] (-1: nobody), or None
        if _is_recording(self.path):
            joints, times = load_recording(self.path)
            self._seqs.append((joints, times - times[0]))
            self._ids.append(recording_tracks(self.path, joints))
            native = 1.0 / float(np.median(np.diff(times))) if len(times) > 1 else 30.0
        else:
            from sadvae.data.registry import read_path

            data = read_path(self.path)
            if not data.sequences:
                raise SourceError(f"{self.path}: no usable skeleton sequence ({len(data.rejected)} rejected)")
            self._seqs = [(s.joints, s.times()) for s in data.sequences]
            self._ids = [None] * len(self._seqs)
            native = float(data.sequences[0].fps)
        self._setup(native, fps)

    @classmethod
    def from_arrays(
        cls, joints: np.ndarray, times_s: np.ndarray, name: str = "replay", loop: bool = False, pace: bool = False
    ) -> ReplaySource:
        """A replay of in-memory joints [T, M, 25, 3] (metres) at ``times_s`` [T] (seconds, increasing)."""
        self = cls.__new__(cls)
        self.path, self.name, self.loop, self.pace = Path(f"<{name}>"), name, loop, pace
        joints, times = np.asarray(joints, np.float32), np.asarray(times_s, np.float64)
        _check_recording(self.path, joints, times)
        self._seqs, self._ids = [(joints, times - times[0])], [None]
        self._setup(1.0 / float(np.median(np.diff(times))) if len(times) > 1 else 30.0, None)
        return self

    def _setup(self, native: float, fps: float | None) -> None:
        m = max(j.shape[1] for j, _ in self._seqs)
        self.persons = m
        self._seqs = [(np.pad(j, ((0, 0), (0, m - j.shape[1]), (0, 0), (0, 0))), t) for j, t in self._seqs]
        self._ids = [
            None if i is None else np.pad(i, ((0, 0), (0, m - i.shape[1])), constant_values=-1) for i in self._ids
        ]
        self.fps = float(fps) if fps is not None else native
        self._fixed_fps = fps is not None
        self._closed = False
        # called while a paced replay waits long for its next frame (a recorded outage): heartbeats stay on time
        self.on_idle: Callable[[], float | None] | None = None
        log.info("replay %s: %d sequence(s), %d frames, M=%d", self.path, len(self._seqs), self.num_frames, m)

    @property
    def num_frames(self) -> int:
        return sum(len(t) for _, t in self._seqs)

    def __iter__(self) -> Iterator[Frame]:
        index, offset_s, last_ms = 0, 0.0, -1
        start = time.monotonic()
        empty = np.zeros((self.persons, NUM_JOINTS, 3), np.float32)
        gap = np.arange(1, round(GAP_S * self.fps) + 1) / self.fps if len(self._seqs) > 1 else np.zeros(0)
        while not self._closed:
            for n, ((joints, times), ids) in enumerate(zip(self._seqs, self._ids, strict=True)):
                local = np.arange(len(times)) / self.fps if self._fixed_fps else times
                # between two sequences (other people, other takes): GAP_S of empty frames, so the person of one
                # ends (track_end) and the next is a new track instead of one track running across both
                frames = [(float(local[k]), joints[k], None if ids is None else ids[k]) for k in range(len(times))]
                if self.loop or n + 1 < len(self._seqs):
                    frames += [(float(local[-1]) + g, empty, None) for g in gap]
                for t_local, skel, who in frames:
                    if self._closed:
                        return
                    t_s = offset_s + t_local
                    if self.pace:
                        self._wait_until(start + t_s)
                        if self._closed:  # closed during the wait (Ctrl-C): the frame is not handed out
                            return
                    ts = max(round(t_s * 1000.0), last_ms + 1)
                    yield Frame(None, ts, index, skel, who)
                    index, last_ms = index + 1, ts
                offset_s += frames[-1][0] + 1.0 / self.fps
            if not self.loop:
                break

    def _wait_until(self, deadline: float) -> None:
        """Sleep until ``deadline`` (``time.monotonic()``) or :meth:`close`, looking every 0.5 s at most, and calling
        :attr:`on_idle` through a long wait as a live source does while it waits for frames (until 7 December 2026 a
        gap in a recording silenced the heartbeats, and a subscriber's liveness rule took the publisher for gone)."""
        while not self._closed:
            left = deadline - time.monotonic()
            if left <= 0.0:
                return
            if left < _IDLE_CHECK_S:
                time.sleep(left)
                return
            wanted = self.on_idle() if self.on_idle is not None else None
            time.sleep(min(left, 0.5 if wanted is None else min(0.5, max(0.01, float(wanted)))))

    def close(self) -> None:
        self._closed = True


_IDLE_CHECK_S = 0.1  # a shorter wait (a frame's) sleeps through: the pipeline checks the heartbeat on every frame


class TrackRecorder:
    """Collects the tracked skeletons of a live run and writes them as a recording (``sadvae-live --record-skeleton``).

    Each track gets a person column (zeros while it is absent); a track that appears at least :data:`GAP_S` after
    a column's last track left takes that column over, and ``tracks`` [T, K] names the track each column holds, so
    the file replays with ``sadvae-live --replay`` (a person gone that long ends their track) and converts with
    ``sadvae data import FILE --label NAME``, which cuts one clip per track. Until 7 December 2026 every track had
    a column of its own: an hour of a camera that saw 360 passers-by needed 12 GB to write, and the file was
    refused on replay. Frames without any tracked person are kept only between frames that have one.

    Args:
        path: the ``.npz`` written by :meth:`close` (also on Ctrl-C: the pipeline closes its parts).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.suffix != ".npz":
            raise SourceError(f"--record-skeleton {self.path}: the recording is an .npz file; end the name in .npz")
        if self.path.is_dir():
            raise SourceError(f"--record-skeleton {self.path}: is a folder; pass a file name ending in .npz")
        if problem := output_problem(self.path):  # found now, not when the session's recording is to be saved
            raise SourceError(f"--record-skeleton {self.path}: {problem}; pass a path that can be written")
        self._columns: dict[int, int] = {}
        self._frames: list[tuple[float, list[tuple[int, np.ndarray]]]] = []
        self._closed = False
        self.written: Path | None = None

    def add(self, t_s: float, tracks: list[tuple[int, np.ndarray]]) -> None:
        """One frame: (track id, joints [25, 3]) of every tracked person, at source time ``t_s`` seconds."""
        if self._frames and t_s <= self._frames[-1][0]:
            return  # a source that repeats a timestamp: keep the first frame
        for tid, _ in tracks:
            self._columns.setdefault(tid, len(self._columns))
        self._frames.append((t_s, [(tid, np.array(j, np.float32)) for tid, j in tracks]))

    def add_earlier(self, tid: int, frames: list[tuple[float, np.ndarray]]) -> None:
        """A person's skeletons in frames already added, under an id given later (the tracker confirms a person
        after a few frames): each ``(t_s, joints [25, 3])`` joins the frame added at that time (none: dropped)."""
        if not frames:
            return
        self._columns.setdefault(tid, len(self._columns))
        for t_s, joints in frames:
            k = len(self._frames) - 1
            while k >= 0 and self._frames[k][0] > t_s:  # the frames are a few steps back: search from the end
                k -= 1
            if k >= 0 and self._frames[k][0] == t_s and all(other != tid for other, _ in self._frames[k][1]):
                self._frames[k][1].append((tid, np.array(joints, np.float32)))

    @property
    def frames(self) -> int:
        return len(self._frames)

    def close(self) -> Path | None:
        """Write the file (once); returns its path, or None when no person was ever tracked."""
        if self._closed:
            return None
        self._closed = True
        busy = [i for i, (_, tr) in enumerate(self._frames) if tr]
        if not busy:
            log.warning("--record-skeleton: no person was tracked; %s not written", self.path)
            return None
        frames = self._frames[busy[0] : busy[-1] + 1]
        times = np.array([t for t, _ in frames], np.float64)
        column = self._share_columns(frames, times)
        width = max(column.values()) + 1
        joints = np.zeros((len(frames), width, NUM_JOINTS, 3), np.float32)
        tracks = np.full((len(frames), width), -1, np.int32)
        for k, (_, present) in enumerate(frames):
            for tid, j in present:
                joints[k, column[tid]] = j
                tracks[k, column[tid]] = self._columns[tid]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            save_recording(self.path, joints, times - times[0], tracks)
        except OSError as e:  # the place became unwritable during the run: say so, and keep what can be kept
            spare = Path(tempfile.gettempdir()) / f"sadvae-recording-{os.getpid()}.npz"
            save_recording(spare, joints, times - times[0], tracks)
            raise SourceError(
                f"--record-skeleton {self.path}: cannot be written ({e.strerror or e}); the recording was saved "
                f"to {spare} instead"
            ) from None
        log.info("recorded %d frames of %d tracks to %s", len(frames), len(self._columns), self.path)
        self.written = self.path
        return self.path

    def _share_columns(self, frames: list, times: np.ndarray) -> dict[int, int]:
        """Track id -> person column: in the order the ids were given, each takes the first column whose last track
        left at least :data:`GAP_S` before it appeared, else a new one (tracks in a column never overlap: a column's
        last track is also the one that left last)."""
        span: dict[int, list[int]] = {}
        for k, (_, present) in enumerate(frames):
            for tid, _ in present:
                span.setdefault(tid, [k, k])[1] = k
        column: dict[int, int] = {}
        left: list[float] = []  # per column: when its last track was last seen
        for tid in sorted(span, key=self._columns.__getitem__):
            first, last = span[tid]
            free = next((c for c, t in enumerate(left) if times[first] - t >= GAP_S), len(left))
            if free == len(left):
                left.append(0.0)
            column[tid], left[free] = free, float(times[last])
        return column


GAP_S = 1.5  # empty frames between two replayed sequences: the track ends, the next person is a new track


def _held_frames(seq, hold_s: float) -> int:
    """Frames :func:`stream_piece` repeats the first (and the last) pose for: ``hold_s`` in whole frames at its rate."""
    return round(hold_s * seq.fps) if hold_s > 0 else 0


def hold_time(seq, hold_s: float) -> float:
    """Seconds :func:`stream_piece` holds the first pose before the sequence's motion (whole frames at its rate)."""
    return _held_frames(seq, hold_s) / seq.fps


def stream_piece(
    seq, t0: float, hold_s: float = 0.0, gap_s: float = GAP_S
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
        n, dt = _held_frames(seq, hold_s), 1.0 / seq.fps
        j = np.concatenate([np.repeat(j[:1], n, 0), j, np.repeat(j[-1:], n, 0)])
        t = np.concatenate([np.arange(n) * dt, n * dt + t, n * dt + t[-1] + np.arange(1, n + 1) * dt])
    gap = np.arange(1, round(gap_s * seq.fps) + 1) / seq.fps
    joints = np.concatenate([j, np.zeros((len(gap), j.shape[1], 25, 3), np.float32)])
    times = np.concatenate([t0 + t, t0 + t[-1] + gap])
    return joints, times, float(t0 + t[-1]), float(t0 + t[-1] + gap[-1] + 1.0 / seq.fps)


def whole_ms(t: float) -> float:
    """``t`` seconds rounded to a whole millisecond (the timestamps a replay gives frames are whole ms: a sequence
    that starts on one is timed alike wherever it lies in the stream)."""
    return round(t * 1000.0) / 1000.0


def aligned_piece(
    seq, t0: float, hold_s: float, played: int, stride: int, offset: int = 0
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """:func:`stream_piece` with its gap lengthened (never below :data:`GAP_S`) so that the next sequence starts
    on the pipeline's stride, at a whole millisecond.

    The pipeline scores its windows every ``stride`` frames of the whole stream (a frame counter, not a clock):
    with a fixed gap, which frames of a sequence are scored would depend on the lengths of every sequence before it.
    Played this way, every sequence finds ``offset`` + a multiple of ``stride`` frames before it, so its windows are
    the same whatever was played before it.

    Args:
        played: frames of the stream before this piece (``offset`` of empty lead-in included).
        stride: the pipeline's stride in source frames (>= 1); offset: the stream's empty lead-in, 0 <= offset < stride.

    Returns:
        as :func:`stream_piece`, the next sequence's start rounded to a whole millisecond.
    """
    joints, t, end, t_next = stream_piece(seq, t0, hold_s)
    short = -(played + len(joints) - offset) % stride  # frames the gap lacks to end on the stride
    if short:
        gap = round(GAP_S * seq.fps) + short  # stream_piece plays round(gap_s * fps) empty frames
        joints, t, end, t_next = stream_piece(seq, t0, hold_s, gap / seq.fps)
    assert (played + len(joints) - offset) % stride == 0, "the gap did not reach the stride"
    return joints, t, end, whole_ms(t_next)
