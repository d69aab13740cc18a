"""Live capture: cameras and network streams read by a reader thread, reopened with backoff when they drop.

The reader thread keeps a queue of ``queue_size`` frames (2 by default) that drops the oldest when full, so a
pipeline slower than the camera gets frames at most ``queue_size - 1`` behind the newest, in order (one frame of
latency is traded for fewer dropped frames in the joint buffer; ``Frame.index`` counts captured frames: a gap
shows how many were dropped).
Timestamps are ``time.monotonic_ns() // 1_000_000`` at capture, made strictly increasing (a recording read as
a stream is timed by its container instead: :class:`StreamSource`). When the device or stream drops, the reader
reopens it with exponential backoff (:class:`ReconnectPolicy`; the attempts count until a frame arrives, not
until an open succeeds) and reports each step as a :class:`SourceStatus`; the ``on_status`` callback runs on the
thread that iterates the source, never on the reader thread, so it may publish events. Opening fails with one
:class:`sadvae.errors.SourceError` line (no OpenCV console noise), and so does an error in the reader thread
(raised where the source is iterated). Stream credentials are redacted from every message (:func:`redact_url`).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realtime.frames import Frame, Source, opencv, quiet_opencv
from realtime.sources.clock import ContainerClock
from sadvae.errors import SourceError

__all__ = ["SourceStatus", "ReconnectPolicy", "CameraSource", "StreamSource", "redact_url"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceStatus:
    """A change in a live source's connection, for status events.

    Attributes:
        source: the source's name.
        state: "disconnected", "reconnecting" (before attempt ``attempt``, after ``delay_s``),
            "reconnected" or "gave_up".
        attempt: 1-based reconnect attempt (0 for "disconnected").
        delay_s: the wait before this attempt.
        message: one line for humans.
    """

    source: str
    state: str
    attempt: int
    delay_s: float
    message: str


@dataclass(frozen=True)
class ReconnectPolicy:
    """Exponential backoff: attempt n waits ``min(initial_delay_s * factor**(n-1), max_delay_s)``.

    Attributes:
        initial_delay_s: wait before the first attempt.
        factor: growth per attempt.
        max_delay_s: cap on the wait.
        max_attempts: give up (SourceError) after this many failed attempts; None retries forever.
    """

    initial_delay_s: float = 0.5
    factor: float = 2.0
    max_delay_s: float = 10.0
    max_attempts: int | None = None

    def delay(self, attempt: int) -> float:
        return min(self.initial_delay_s * self.factor ** (attempt - 1), self.max_delay_s)


def redact_url(url: str) -> str:
    """``url`` without its credentials, for errors, logs and status events: the user-info part (``user:pass@``)
    becomes ``***@`` and the values of query parameters that carry secrets (``password=``, ``token=``, ...)
    ``***``."""
    text = _USERINFO.sub(r"\g<scheme>***@", str(url), count=1)
    return _SECRET_PARAM.sub(r"\g<key>=***", text)


_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")
_SECRET_PARAM = re.compile(
    r"(?P<key>[?&;](?:password|passwd|pwd|pass|token|access_token|auth|key|secret|signature|sig))=[^&;#]*", re.I
)


class _LiveSource(Source):
    """A camera or stream: reader thread, drop-oldest queue, reconnect with backoff.

    The reader thread owns the capture once it runs: it releases it when it stops (``close()`` only asks it to),
    so a read that outlasts :attr:`join_timeout_s` cannot leave the device open or crash the thread. An
    exception in the reader ends the iteration with one :class:`SourceError` naming the source.
    """

    live = True  # a camera, or a stream without a length; False for a recording read through StreamSource
    join_timeout_s = 5.0  # how long close() waits for the reader thread (it releases the capture itself)

    def __init__(
        self,
        what: str,
        opener: Callable[[], Any],
        reconnect: ReconnectPolicy | None,
        on_status: Callable[[SourceStatus], None] | None,
        queue_size: int,
    ):
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        self._what = what
        self._opener = opener
        self.policy = reconnect or ReconnectPolicy()
        self.on_status = on_status
        # called on the iterating thread while no frame comes (a reconnect's backoff, a stalled camera), at most 0.5 s
        # apart and sooner when it returns the seconds until it wants the next call: a pipeline keeps its status
        # heartbeats going, so subscribers can tell a wait from a dead publisher
        self.on_idle: Callable[[], float | None] | None = None
        self._idle_s = 0.5
        self.dropped = 0
        self._frames: collections.deque[Frame] = collections.deque(maxlen=queue_size)
        # each status with the index of the first frame read after it: it is delivered before that frame and after
        # every frame read before it, however long the frames wait in the queue
        self._statuses: collections.deque[tuple[int, SourceStatus]] = collections.deque()
        self._next_index = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._error: SourceError | None = None
        self._thread: threading.Thread | None = None
        self._attempt = 0  # reconnect attempts since the last frame read: reset by a frame, not by an open
        with quiet_opencv():
            self._cap = opener()
        if self._cap is None or not self._cap.isOpened():
            if self._cap is not None:
                self._cap.release()
            raise SourceError(self._open_failure())
        fps = float(self._cap.get(opencv().CAP_PROP_FPS) or 0.0)
        self.fps = fps if math.isfinite(fps) and fps > 0 else None

    def _open_failure(self) -> str:
        return f"cannot open {self._what}"

    def _status(self, state: str, attempt: int, delay_s: float, message: str) -> None:
        log.debug("%s: %s", self.name, message)  # said by the pipeline (drops and returns at WARNING)
        with self._cond:
            self._statuses.append((self._next_index, SourceStatus(self.name, state, attempt, delay_s, message)))
            self._cond.notify()

    def _reopen(self) -> Any | None:
        """Reopen with backoff until it works (the new capture) or the source is closed or gives up (None).

        The attempts count on from the previous reopen until a frame has been read: a stream that opens but
        delivers nothing still reaches ``max_attempts`` and the longer delays.
        """
        if self._attempt == 0:
            self._status("disconnected", 0, 0.0, f"{self._what} dropped")
        while not self._stop.is_set():
            self._attempt += 1
            attempt = self._attempt
            if self.policy.max_attempts is not None and attempt > self.policy.max_attempts:
                n = self.policy.max_attempts
                msg = f"{self._what} lost: gave up after {n} reconnect attempt{'s' if n != 1 else ''}"
                self._status("gave_up", attempt - 1, 0.0, msg)
                self._error = SourceError(msg)
                return None
            delay = self.policy.delay(attempt)
            self._status(
                "reconnecting", attempt, delay, f"reconnecting to {self._what} (attempt {attempt}, {delay:g} s)"
            )
            if self._stop.wait(delay):
                return None
            with quiet_opencv():
                cap = self._opener()
            if cap is not None and cap.isOpened() and not self._stop.is_set():
                self._status("reconnected", attempt, delay, f"{self._what} reconnected after {attempt} attempt(s)")
                return cap
            if cap is not None:  # failed, or the source was closed while it opened: never leak it
                cap.release()
        return None

    def _read_loop(self, cap: Any) -> None:
        index = 0
        timing = self._timing()
        try:
            while not self._stop.is_set():
                ok, image = cap.read()
                if self._stop.is_set():
                    break
                if not ok or image is None:
                    if not self.live:  # a recording ends at its last frame: no reconnect (it would start over)
                        self._ended(index)
                        break
                    cap.release()
                    cap = None  # released: not again in finally, should reopening raise
                    cap = self._reopen()
                    if cap is None:
                        break
                    continue
                self._attempt = 0
                ts = timing(cap)
                with self._cond:
                    if len(self._frames) == self._frames.maxlen:
                        self.dropped += 1
                    self._frames.append(Frame(image, ts, index))
                    self._next_index = index + 1
                    self._cond.notify()
                index += 1
        except Exception as e:  # a driver or decoder error: one SourceError for the iterating thread
            log.debug("%s: reader failed", self.name, exc_info=True)
            kind = type(e).__name__ if type(e).__module__ == "builtins" else f"{type(e).__module__}.{type(e).__name__}"
            detail = " ".join(str(e).split()) or "no message"
            self._error = SourceError(f"{self._what} failed while reading: {kind}: {detail}")
        finally:
            if cap is not None:
                with contextlib.suppress(Exception):
                    cap.release()
            with self._cond:
                self._stop.set()
                self._cond.notify_all()

    def _timing(self) -> Callable[[Any], int]:
        """``capture -> timestamp ms`` of the frame just read: the monotonic clock at capture, strictly
        increasing (StreamSource times a recording by its container instead)."""
        last = -1

        def stamp(cap: Any) -> int:
            nonlocal last
            last = max(time.monotonic_ns() // 1_000_000, last + 1)
            return last

        return stamp

    def _ended(self, frames: int) -> None:
        """A recording (``live`` False) ended after ``frames`` frames."""

    def _drain_statuses(self, before: int | None = None) -> None:
        """Report the queued statuses (``before``: only those that came before frame ``before`` was read)."""
        while True:
            with self._cond:
                if not self._statuses or (before is not None and self._statuses[0][0] > before):
                    return
                _, status = self._statuses.popleft()
            if self.on_status is not None:
                self.on_status(status)

    def __iter__(self) -> Iterator[Frame]:
        if self._thread is None and self._cap is not None and not self._stop.is_set():
            cap, self._cap = self._cap, None  # the reader thread owns it from now on and releases it
            self._thread = threading.Thread(
                target=self._read_loop, args=(cap,), name=f"sadvae-{self.name}", daemon=True
            )
            self._thread.start()
        while True:
            with self._cond:
                if not self._frames and not self._statuses and not self._stop.is_set():
                    self._cond.wait(self._idle_s)
                frame = self._frames.popleft() if self._frames else None
            if frame is not None:  # a drop's news after the frames read before it, a reconnect's before the next one
                if self._statuses:  # rare: no lock taken per frame for nothing
                    self._drain_statuses(before=frame.index)
                yield frame
                continue
            self._drain_statuses()
            with self._cond:
                done = self._stop.is_set() and not self._frames and not self._statuses
            if done:
                break
            if self.on_idle is not None:
                wanted = self.on_idle()
                self._idle_s = 0.5 if wanted is None else min(0.5, max(0.01, float(wanted)))
        self._drain_statuses()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.join_timeout_s)
        cap, self._cap = self._cap, None  # never handed to a reader thread
        if cap is not None:
            cap.release()


class CameraSource(_LiveSource):
    """A local camera by index (V4L2 on Linux).

    Args:
        index: the camera index (``/dev/video<index>`` on Linux).
        width, height, fps: requested capture format (None = the camera's default).
        reconnect: backoff when the camera drops; on_status: receives each :class:`SourceStatus`.
        queue_size: frames kept (1-2); older ones are dropped.
        capture_factory: ``index -> capture``, for tests.

    Raises:
        SourceError: no camera at that index, or it cannot be opened.
    """

    def __init__(
        self,
        index: int = 0,
        *,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        reconnect: ReconnectPolicy | None = None,
        on_status: Callable[[SourceStatus], None] | None = None,
        queue_size: int = 2,
        capture_factory: Callable[[int], Any] | None = None,
    ):
        self.index = int(index)
        self.name = f"camera{int(index)}"

        def opener() -> Any:
            cv2 = opencv()
            if capture_factory is not None:
                cap = capture_factory(self.index)
            else:
                backend = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
                cap = cv2.VideoCapture(self.index, backend)
            for prop, value in ((cv2.CAP_PROP_FRAME_WIDTH, width), (cv2.CAP_PROP_FRAME_HEIGHT, height)):
                if value and cap.isOpened():
                    cap.set(prop, value)
            if fps and cap.isOpened():
                cap.set(cv2.CAP_PROP_FPS, fps)
            return cap

        super().__init__(f"camera {self.index}", opener, reconnect, on_status, queue_size)

    def _open_failure(self) -> str:
        if sys.platform.startswith("linux"):
            found = sorted(str(p) for p in Path("/dev").glob("video*"))
            if not Path(f"/dev/video{self.index}").exists():
                have = ", ".join(found) if found else "none"
                return (
                    f"no camera at index {self.index}: /dev/video{self.index} does not exist (video devices: {have}); "
                    "connect a camera, or use --video FILE or --stream URL"
                )
        return f"camera {self.index} could not be opened (in use by another program, or no permission on the device)"


class StreamSource(_LiveSource):
    """A network stream (RTSP, HTTP, ...) read with OpenCV's FFmpeg backend.

    A live stream has no length (OpenCV reports no frame count); its frames are timed by the monotonic clock at
    capture, and a failed read is a drop: the stream is reopened with backoff. An address that turns out to be a
    recording (a file, a video-on-demand URL: it declares ``CAP_PROP_FRAME_COUNT`` > 0) is no live stream: with
    one warning, ``live`` is False, its frames are timed by the container (``CAP_PROP_POS_MSEC``, as
    :class:`realtime.sources.video.VideoSource` times a file) and delivered at that pace (a slower pipeline still
    loses the oldest frames, as from a live stream), and its end is the end of the source, not a drop.

    The URL's credentials (``user:pass@``) never appear in errors, logs or status messages (:func:`redact_url`).

    Args:
        url: the stream address (anything ``cv2.VideoCapture`` opens).
        reconnect, on_status, queue_size: as for :class:`CameraSource`.
        timeout_s: open and read timeout passed to FFmpeg.
        capture_factory: ``url -> capture``, for tests.

    Raises:
        SourceError: the stream cannot be opened.
    """

    def __init__(
        self,
        url: str,
        *,
        reconnect: ReconnectPolicy | None = None,
        on_status: Callable[[SourceStatus], None] | None = None,
        queue_size: int = 2,
        timeout_s: float = 5.0,
        capture_factory: Callable[[str], Any] | None = None,
    ):
        self.url = str(url)
        self.safe_url = redact_url(self.url)
        rest = self.url.split("://", 1)[-1].split("?", 1)[0].split("#", 1)[0]
        host, _, path = rest.partition("/")
        # the path's last part too, when it is a plain name: two streams of one recorder (/cam1, /cam2) published on
        # one topic until 7 December 2026, late. Never more: cameras put credentials in paths too
        # (/user=admin&password=X&channel=1), and a topic is sent to every subscriber
        last = path.rstrip("/").rsplit("/", 1)[-1]
        plain = re.fullmatch(r"[A-Za-z0-9_.-]{1,32}", last) is not None
        self.name = "_".join(p for p in (host.split("@")[-1].replace(":", "_"), last if plain else "") if p) or "stream"

        def opener() -> Any:
            if capture_factory is not None:
                return capture_factory(self.url)
            cv2 = opencv()
            ms = int(timeout_s * 1000)
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
            return cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)

        super().__init__(f"stream {self.safe_url}", opener, reconnect, on_status, queue_size)
        self.declared_frames = _frame_count(self._cap)
        if self.declared_frames:
            self.live = False
            log.warning(
                "stream %s is a recording, not a live stream (it declares %d frames): its frames are timed by the "
                "recording and paced at its rate, and it ends at its last frame; for a file, --video reads every "
                "frame",
                self.safe_url,
                self.declared_frames,
            )

    def _open_failure(self) -> str:
        return (
            f"cannot open stream {self.safe_url}: unreachable, wrong address or credentials, or a format FFmpeg does "
            "not read (--log-level debug shows FFmpeg's own reason)"
        )

    def _timing(self) -> Callable[[Any], int]:
        if self.live:
            return super()._timing()
        clock = ContainerClock(1000.0 / (self.fps or 30.0))
        start: float | None = None  # monotonic seconds of the recording's time 0

        def stamp(cap: Any) -> int:
            nonlocal start
            try:
                t: float | None = float(cap.get(opencv().CAP_PROP_POS_MSEC))
            except (TypeError, ValueError):
                t = None
            ms = clock.tick(t)
            now = time.monotonic()
            if start is None or now - (start + ms / 1000.0) > _PACE_SLACK_S:  # first frame, or fell behind
                start = now - ms / 1000.0
            self._stop.wait(max(0.0, start + ms / 1000.0 - now))  # the recording's pace; close() ends the wait
            return ms

        return stamp

    def _ended(self, frames: int) -> None:
        log.info("%s: the recording ended after %d frames", self.name, frames)
        if frames == 0:
            self._error = SourceError(
                f"{self._what}: opened, but no frame could be decoded from it (it declares {self.declared_frames} "
                "frames); check that FFmpeg plays it"
            )
        elif frames < _TRUNCATED_FRACTION * self.declared_frames:
            log.warning(
                "stream %s: decoded %d of %d frames the recording declares (truncated, corrupt, or the connection "
                "dropped)",
                self.safe_url,
                frames,
                self.declared_frames,
            )


_PACE_SLACK_S = 0.5  # a recording read this far behind its pace starts its pace again from the frame just read
_TRUNCATED_FRACTION = 0.98


def _frame_count(cap: Any) -> int:
    """The frames a capture declares; 0 for a live stream (OpenCV reports 0 or a negative count)."""
    try:
        n = float(cap.get(opencv().CAP_PROP_FRAME_COUNT))
    except (TypeError, ValueError):
        return 0
    return int(n) if math.isfinite(n) and n > 0 else 0
