"""Optional OpenCV overlay: skeletons, track ids, the current label and score, fps; a window and/or an mp4.

Nothing here runs unless ``--display`` or ``--record`` asks for it, and a window is never opened on a
headless machine (:func:`has_display`). OpenCV is imported when an :class:`Overlay` is built.
"""

from __future__ import annotations

import collections
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sadvae.errors import ConfigError, SourceError

__all__ = ["OverlayOptions", "Overlay", "has_display", "POSE_EDGES"]

log = logging.getLogger(__name__)

# MediaPipe Pose landmark pairs drawn as bones (face outline left out: nose to shoulders gives the head)
POSE_EDGES: tuple[tuple[int, int], ...] = (
    (11, 12), (11, 13), (13, 15), (12, 14), (14, 16), (11, 23), (12, 24), (23, 24), (23, 25), (25, 27),
    (24, 26), (26, 28), (27, 29), (29, 31), (27, 31), (28, 30), (30, 32), (28, 32), (15, 19), (16, 20),
    (0, 7), (0, 8),
)  # fmt: skip
_COLOURS = ((0, 200, 255), (255, 160, 0), (120, 255, 120), (255, 80, 200), (80, 80, 255), (255, 255, 80))
_KEYS_QUIT = (ord("q"), 27)  # q, Esc
WINDOW = "sadvae-live"


def has_display() -> bool:
    """Whether a window can be opened: always on Windows and macOS, on Linux only with $DISPLAY or $WAYLAND_DISPLAY."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@dataclass(frozen=True)
class OverlayOptions:
    """What the overlay does.

    Attributes:
        display: show a window (``q`` or Esc closes it and stops the pipeline).
        record: write the annotated frames to this video file (``.mp4`` or ``.avi``), or None.
        fps: frame rate written into the recording.
    """

    display: bool = False
    record: str | None = None
    fps: float = 30.0

    def __post_init__(self) -> None:
        if self.record is not None:
            p = Path(self.record)
            if p.suffix.lower() not in (".mp4", ".avi"):
                raise ConfigError(f"--record {p}: expected a .mp4 or .avi file name")
            if not p.parent.is_dir():
                raise ConfigError(f"--record {p}: folder {p.parent} does not exist")
        if self.display and not has_display():
            raise ConfigError("--display needs a screen, but this machine has none ($DISPLAY is not set); "
                              "use --no-display or --record out.mp4")  # fmt: skip
        if not self.fps > 0:
            raise ConfigError(f"overlay fps must be > 0, got {self.fps!r}")


class Overlay:
    """Draws on frames and shows and/or records them.

    Args:
        opts: window and recording settings.

    Raises:
        MissingDependencyError: no OpenCV; SourceError: the recording cannot be opened.
    """

    def __init__(self, opts: OverlayOptions):
        from realtime.sources import _cv2

        self.opts, self._cv2 = opts, _cv2()
        self._writer: Any = None
        self._window = False
        self._times: collections.deque[float] = collections.deque(maxlen=30)
        self.frames = 0

    def draw(self, image: np.ndarray, items: list[tuple[int, Any, str | None, float]], fps: float) -> np.ndarray:
        """Annotate a copy of ``image`` (BGR [H, W, 3]).

        Args:
            items: per person ``(track_id, image landmarks [33, 2] normalised or None, label or None, score)``.
            fps: frames per second to print.
        """
        cv2, out = self._cv2, image.copy()
        h, w = out.shape[:2]
        for track_id, landmarks, label, score in items:
            colour = _COLOURS[track_id % len(_COLOURS)]
            if landmarks is None:
                continue
            pts = np.round(np.asarray(landmarks)[:, :2] * (w, h)).astype(np.int32)  # (K, 2) pixels
            for a, b in POSE_EDGES:
                if a < len(pts) and b < len(pts):
                    cv2.line(out, tuple(map(int, pts[a])), tuple(map(int, pts[b])), colour, 2, cv2.LINE_AA)
            for p in pts[11:]:
                cv2.circle(out, tuple(map(int, p)), 3, colour, -1, cv2.LINE_AA)
            x, y = int(pts[:, 0].min()), max(int(pts[:, 1].min()) - 8, 14)
            text = f"#{track_id} {label} {score:.2f}" if label else f"#{track_id}"
            cv2.putText(out, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(out, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
        cv2.putText(out, f"{fps:.1f} fps", (8, h - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        return out

    def show(self, image: np.ndarray, items: list[tuple[int, Any, str | None, float]]) -> bool:
        """Draw (with the frame rate of the latest 30 calls), record and display one frame.

        Returns:
            False when the user closed the window (``q``, Esc or the close button), else True.
        """
        self._times.append(time.monotonic())
        span = self._times[-1] - self._times[0]
        out = self.draw(image, items, (len(self._times) - 1) / span if span > 0 else 0.0)
        self.frames += 1
        if self.opts.record is not None:
            if self._writer is None:
                self._writer = self._open_writer(out.shape[1], out.shape[0])
            self._writer.write(out)
        if self.opts.display:
            cv2 = self._cv2
            cv2.imshow(WINDOW, out)
            self._window = True
            key = cv2.waitKey(1) & 0xFF
            if key in _KEYS_QUIT or cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:
                return False
        return True

    def _open_writer(self, width: int, height: int) -> Any:
        cv2, path = self._cv2, str(self.opts.record)
        codec = "mp4v" if path.lower().endswith(".mp4") else "MJPG"
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*codec), float(self.opts.fps), (width, height))
        if not writer.isOpened():
            raise SourceError(f"cannot write the recording {path} (OpenCV has no {codec} encoder here)")
        log.info("recording the overlay to %s (%dx%d, %g fps)", path, width, height, self.opts.fps)
        return writer

    def close(self) -> None:
        """Finish the recording and close the window; idempotent."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._window:
            self._cv2.destroyWindow(WINDOW)
            self._window = False
