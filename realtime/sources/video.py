"""Frame sources of the live pipeline: camera, video file, network stream, skeleton replay.

A source is an iterator of :class:`Frame` with an idempotent ``close()`` and ``with`` support.
Timestamps are integer milliseconds that increase strictly: the container's presentation time for video
files (variable frame rates included, :class:`VideoSource`), ``round(index * 1000 / fps)`` for replays,
``time.monotonic_ns() // 1_000_000`` at capture for cameras and live streams (a recording given as a stream is
timed by its container too: :class:`realtime.sources.capture.StreamSource`). A file ends cleanly at its last frame
(``loop=True`` plays it again, timestamps continuing).

This module holds :class:`VideoSource` and :func:`open_source`, and re-exports the frame type and the
source base (:mod:`realtime.frames`) and the other sources: :class:`CameraSource` and
:class:`StreamSource` (reader thread, drop-oldest queue, reconnect with backoff and status reports)
from :mod:`realtime.sources.capture`, and :class:`ReplaySource` (pre-computed NTU-25 skeletons, ``image=None``,
bypassing pose estimation) from :mod:`realtime.sources.replay`. Those modules import :mod:`realtime.frames`,
never this one. OpenCV is imported only when a video source is opened.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from realtime.frames import Frame, Source, opencv, quiet_opencv
from realtime.sources.capture import CameraSource, ReconnectPolicy, SourceStatus, StreamSource
from realtime.sources.clock import MAX_GAP_MS, ContainerClock, measured_fps
from realtime.sources.replay import ReplaySource, save_recording
from sadvae.errors import SourceError

__all__ = [
    "Frame",
    "SourceStatus",
    "ReconnectPolicy",
    "Source",
    "VideoSource",
    "CameraSource",
    "StreamSource",
    "ReplaySource",
    "save_recording",
    "open_source",
]

log = logging.getLogger(__name__)

STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt")
REPLAY_SUFFIXES = (".skeleton", ".npz", ".npy", ".json", ".txt")
DEFAULT_FPS = 30.0
FPS_PROBE_FRAMES = 12  # frames whose container times check the declared frame rate
TRUNCATED_FRACTION = 0.98  # a pass that decodes fewer of the frames the container declares is reported


# files a user may pass to --video by mistake, which OpenCV's FFmpeg opens anyway (its tty demuxer reads text as a
# screen of characters): named by what they are and where they go
_NOT_VIDEO = {
    ".txt": "a text file (a labels file goes to --labels)",
    ".md": "a text file",
    ".json": "a JSON file",
    ".toml": "a TOML file",
    ".csv": "a CSV file",
    ".yaml": "a YAML file",
    ".yml": "a YAML file",
    ".npz": "a numpy archive (a skeleton recording goes to --replay)",
    ".npy": "a numpy array (skeletons go to --replay)",
    ".skeleton": "an NTU skeleton file (it goes to --replay)",
    ".pt": "a model bundle (it goes to --model)",
    ".onnx": "an ONNX model (it goes to --model)",
}


class VideoSource(Source):
    """A video file read with OpenCV, each frame timed by its container's presentation time.

    Phones record at a variable frame rate (fewer frames a second in dim light); timing such a file by its
    average rate (``index * 1000 / fps``) plays its fast parts slowed down and its slow parts sped up, and the
    recogniser reads a different motion. The time OpenCV reports for each frame (``CAP_PROP_POS_MSEC``) is used,
    relative to the first frame's (some containers start late); where it is missing, does not increase (AVI
    files report 0 for their last frame) or jumps more than :data:`MAX_GAP_MS` ahead, the frame comes one nominal
    frame after the previous one, and the frames after it follow the container again from there
    (:class:`realtime.sources.clock.ContainerClock`).

    The nominal rate is the container's declared one unless the first :data:`FPS_PROBE_FRAMES` frames' times show
    a rate more than twice as high or low (browser recordings declare 1000 fps): the measured rate is used then,
    with a warning. A pass that decodes fewer than :data:`TRUNCATED_FRACTION` of the frames the container declares
    logs a warning (a truncated or corrupt file ends early, not silently).

    Args:
        path: the file.
        loop: play it again at the end (timestamps and indices keep increasing).
        capture_factory: ``path -> capture`` (an object like ``cv2.VideoCapture``), for tests.
        timestamps: "container" (the default) or "nominal": ``round(index * 1000 / fps)`` with the container's
            average rate, as before 6 December 2026.

    Raises:
        SourceError: the file is missing or OpenCV cannot decode it.
    """

    def __init__(
        self,
        path: str | Path,
        loop: bool = False,
        capture_factory: Callable[[str], Any] | None = None,
        timestamps: str = "container",
    ):
        if timestamps not in ("container", "nominal"):
            raise ValueError(f"timestamps must be 'container' or 'nominal', got {timestamps!r}")
        self.path = Path(path)
        self.name = self.path.stem
        self.loop = loop
        self.timestamps = timestamps
        if self.path.is_dir():
            raise SourceError(f"video {self.path}: is a folder; pass a video file")
        if not self.path.is_file():
            url = re.sub(r"^([a-z][a-z0-9+.-]*):/(?=[^/])", r"\1://", str(path))  # Path() made rtsp:// rtsp:/
            if "://" in url and not url.startswith("file:"):
                raise SourceError(f"video file {url} not found: a URL is a network stream; pass --stream {url}")
            if url.startswith("file:"):  # Path() turned file:///a/b.mp4 into file:/a/b.mp4
                local = Path(re.sub(r"^file:/+", "/", url))
                raise SourceError(f"--video takes a path, not a file: URL; pass --video {local}")
            raise SourceError(f"video file {self.path} not found")
        kind = _NOT_VIDEO.get(self.path.suffix.lower())
        if kind is not None:  # FFmpeg "decodes" a text file as ANSI art: a run on it reported frames of nothing
            raise SourceError(f"--video {self.path}: {kind}, not a video; pass a video file (.mp4, .avi, .mkv, ...)")
        self._factory = capture_factory or (lambda p: opencv().VideoCapture(p))
        self._cap = self._open()
        self.declared_frames = self.frame_count
        fps = float(self._cap.get(opencv().CAP_PROP_FPS) or 0.0)
        declared = fps if math.isfinite(fps) and 0.0 < fps <= 1000.0 else None
        measured = self._measure_fps() if timestamps == "container" else None
        self.fps_corrected = False  # the declared rate was replaced by the one the frames' times show
        if measured is not None and (declared is None or not 0.5 <= declared / measured <= 2.0):
            if declared is not None:
                log.warning(
                    "video %s: the container declares %g fps but its frames are %.3g ms apart (%.4g fps); using "
                    "%.4g fps",
                    self.path,
                    declared,
                    1000.0 / measured,
                    measured,
                    measured,
                )
            fps, self.fps_corrected = measured, declared is not None
        elif declared is None:
            log.warning("%s: frame rate unknown (%r); assuming %g fps", self.path, fps, DEFAULT_FPS)
            fps = DEFAULT_FPS
        self.fps = fps

    def _measure_fps(self) -> float | None:
        """The rate the first :data:`FPS_PROBE_FRAMES` frames' container times show (None: too few times); the
        file is opened again afterwards, so iteration starts at its first frame."""
        times: list[float | None] = []
        for _ in range(FPS_PROBE_FRAMES):
            ok, image = self._cap.read()
            if not ok or image is None:
                break
            times.append(self._container_ms())
        if not times:
            return None  # nothing to read: __iter__ says so
        self._cap.release()
        self._cap = self._open()
        return measured_fps(times)

    @property
    def frame_count(self) -> int:
        """Frames the container declares (0 when it does not say; some streams and files do not)."""
        if self._cap is None:
            return 0
        try:
            n = float(self._cap.get(opencv().CAP_PROP_FRAME_COUNT))
        except (TypeError, ValueError):
            return 0
        return int(n) if math.isfinite(n) and n > 0 else 0

    def _open(self) -> Any:
        with quiet_opencv():
            cap = self._factory(str(self.path))
        if not cap.isOpened():
            raise SourceError(f"cannot open video {self.path}: OpenCV could not decode it (not a video, or corrupt)")
        return cap

    def _container_ms(self) -> float | None:
        """The presentation time in ms of the frame just read, as the container gives it; None if it gives none."""
        if self.timestamps != "container":
            return None
        try:
            t = float(self._cap.get(opencv().CAP_PROP_POS_MSEC))
        except (TypeError, ValueError):
            return None
        return t if math.isfinite(t) and t >= 0.0 else None

    def __iter__(self) -> Iterator[Frame]:
        index, step = 0, 1000.0 / self.fps
        clock = ContainerClock(step, MAX_GAP_MS)
        passes = 0
        while self._cap is not None:
            in_pass = 0
            clock.new_pass()
            while self._cap is not None:
                ok, image = self._cap.read()
                if not ok or image is None:
                    break
                if self.timestamps == "nominal":
                    ms = max(round(index * step), clock.last_ms + 1)
                    clock.last_ms = ms
                else:
                    ms = clock.tick(self._container_ms())
                yield Frame(image, ms, index)
                index += 1
                in_pass += 1
            if in_pass == 0:
                raise SourceError(f"video {self.path}: no frame could be decoded")
            passes += 1
            if passes == 1 and self._cap is not None:
                self._check_length(in_pass)
            if not self.loop or self._cap is None:
                break
            self._cap.release()
            self._cap = self._open()
        self.close()

    def _check_length(self, decoded: int) -> None:
        """Warn when a pass ended well before the frames the container declares (a truncated or corrupt file)."""
        declared = self.declared_frames
        if declared > 0 and decoded < TRUNCATED_FRACTION * declared and not self.fps_corrected:
            log.warning(
                "video %s: decoded %d of %d frames the container declares (truncated or corrupt); the run covers "
                "%.1f s of it",
                self.path,
                decoded,
                declared,
                decoded / self.fps,
            )

    def close(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()


def open_source(
    spec: str | int | Path,
    *,
    loop: bool = False,
    fps: float | None = None,
    reconnect: ReconnectPolicy | None = None,
    on_status: Callable[[SourceStatus], None] | None = None,
) -> Source:
    """Open a source from a CLI-style spec.

    ``0`` / ``"0"`` / ``"camera:0"`` -> :class:`CameraSource`; ``rtsp://...``, ``http(s)://...`` (and the
    other :data:`STREAM_SCHEMES`) -> :class:`StreamSource`; ``"replay:PATH"``, a folder, or a file ending
    in one of :data:`REPLAY_SUFFIXES` -> :class:`realtime.sources.replay.ReplaySource`; ``"video:PATH"`` or any
    other existing file -> :class:`VideoSource`.

    Args:
        spec: the spec; loop: replay files and videos from the start at the end; fps: replay frame rate;
        reconnect, on_status: for cameras and streams.

    Raises:
        SourceError: nothing matches the spec, or opening it fails.
    """
    live = dict(reconnect=reconnect, on_status=on_status)
    text = str(spec).strip()
    kind, _, rest = text.partition(":")
    if isinstance(spec, int) or text.isdigit() or (kind == "camera" and rest.isdigit()):
        return CameraSource(int(rest if kind == "camera" else text), **live)
    if "://" in text and kind.lower() in STREAM_SCHEMES:
        return StreamSource(text, **live)
    if kind == "replay":
        return ReplaySource(rest, fps=fps, loop=loop)
    if kind == "video":
        return VideoSource(rest, loop=loop)
    p = Path(text)
    if p.is_dir() or (p.is_file() and p.name.lower().endswith(REPLAY_SUFFIXES)):
        return ReplaySource(p, fps=fps, loop=loop)
    if p.is_file():
        return VideoSource(p, loop=loop)
    raise SourceError(
        f"source {text!r} not found: expected a camera index, a stream URL ({', '.join(STREAM_SCHEMES[:4])}, ...), "
        "a video file, or a skeleton file"
    )
