"""Live capture: cameras and network streams read by a reader thread, reopened with backoff when they drop.

The reader thread keeps a queue of ``queue_size`` frames (2 by default) that drops the oldest when full, so a
pipeline slower than the camera gets frames at most ``queue_size - 1`` behind the newest, in order (one frame of
latency is traded for fewer dropped frames in the joint buffer; ``Frame.index`` counts captured frames: a gap
shows how many were dropped).
Timestamps are ``time.monotonic_ns() // 1_000_000`` at capture, made strictly increasing. When the
device or stream drops, the reader reopens it with exponential backoff (:class:`ReconnectPolicy`)
and reports each step as a :class:`SourceStatus`; the ``on_status`` callback runs on the thread that
iterates the source, never on the reader thread, so it may publish events. Opening fails with one
:class:`sadvae.errors.SourceError` line (no OpenCV console noise).
"""

from __future__ import annotations

import collections
import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realtime.frames import Frame, Source, opencv, quiet_opencv
from sadvae.errors import SourceError

__all__ = ["SourceStatus", "ReconnectPolicy", "CameraSource", "StreamSource"]

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


class _LiveSource(Source):
    """A camera or stream: reader thread, drop-oldest queue, reconnect with backoff."""

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
        self.dropped = 0
        self._frames: collections.deque[Frame] = collections.deque(maxlen=queue_size)
        self._statuses: collections.deque[SourceStatus] = collections.deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._error: SourceError | None = None
        self._thread: threading.Thread | None = None
        with quiet_opencv():
            self._cap = opener()
        if self._cap is None or not self._cap.isOpened():
            raise SourceError(self._open_failure())
        fps = float(self._cap.get(opencv().CAP_PROP_FPS) or 0.0)
        self.fps = fps if math.isfinite(fps) and fps > 0 else None

    def _open_failure(self) -> str:
        return f"cannot open {self._what}"

    def _status(self, state: str, attempt: int, delay_s: float, message: str) -> None:
        log.info("%s: %s", self.name, message)
        with self._cond:
            self._statuses.append(SourceStatus(self.name, state, attempt, delay_s, message))
            self._cond.notify()

    def _reopen(self) -> bool:
        """Reopen with backoff until it works (True) or the source is closed or gives up (False)."""
        self._status("disconnected", 0, 0.0, f"{self._what} dropped")
        attempt = 0
        while not self._stop.is_set():
            attempt += 1
            if self.policy.max_attempts is not None and attempt > self.policy.max_attempts:
                msg = f"{self._what} lost: gave up after {self.policy.max_attempts} reconnect attempts"
                self._status("gave_up", attempt - 1, 0.0, msg)
                self._error = SourceError(msg)
                return False
            delay = self.policy.delay(attempt)
            self._status(
                "reconnecting", attempt, delay, f"reconnecting to {self._what} (attempt {attempt}, {delay:g} s)"
            )
            if self._stop.wait(delay):
                return False
            with quiet_opencv():
                cap = self._opener()
            if cap is not None and cap.isOpened():
                self._cap = cap
                self._status("reconnected", attempt, delay, f"{self._what} reconnected after {attempt} attempt(s)")
                return True
            if cap is not None:
                cap.release()
        return False

    def _read_loop(self) -> None:
        index = 0
        last_ts = -1
        try:
            while not self._stop.is_set():
                ok, image = self._cap.read()
                if not ok or image is None:
                    self._cap.release()
                    if not self._reopen():
                        break
                    continue
                last_ts = max(time.monotonic_ns() // 1_000_000, last_ts + 1)
                with self._cond:
                    if len(self._frames) == self._frames.maxlen:
                        self.dropped += 1
                    self._frames.append(Frame(image, last_ts, index))
                    self._cond.notify()
                index += 1
        finally:
            with self._cond:
                self._stop.set()
                self._cond.notify_all()

    def _drain_statuses(self) -> None:
        while True:
            with self._cond:
                if not self._statuses:
                    return
                status = self._statuses.popleft()
            if self.on_status is not None:
                self.on_status(status)

    def __iter__(self) -> Iterator[Frame]:
        if self._thread is None and self._cap is not None:
            self._thread = threading.Thread(target=self._read_loop, name=f"sadvae-{self.name}", daemon=True)
            self._thread.start()
        while True:
            self._drain_statuses()
            with self._cond:
                while not self._frames and not self._statuses and not self._stop.is_set():
                    self._cond.wait(0.5)
                frame = self._frames.popleft() if self._frames else None
                done = self._stop.is_set() and not self._frames and not self._statuses
            if frame is not None:
                yield frame
            elif done:
                break
        self._drain_statuses()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        cap, self._cap = self._cap, None
        if cap is not None and (self._thread is None or not self._thread.is_alive()):
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

    Args:
        url: the stream address (anything ``cv2.VideoCapture`` opens, a file path included).
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
        host = self.url.split("://", 1)[-1].split("/", 1)[0].split("@")[-1]
        self.name = host.replace(":", "_") or "stream"

        def opener() -> Any:
            if capture_factory is not None:
                return capture_factory(self.url)
            cv2 = opencv()
            ms = int(timeout_s * 1000)
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
            return cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)

        super().__init__(f"stream {self.url}", opener, reconnect, on_status, queue_size)

    def _open_failure(self) -> str:
        return f"cannot open stream {self.url}: unreachable, wrong address, or a format FFmpeg does not read"
