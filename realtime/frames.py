"""The frame type and the source contract every live source implements (numpy only; OpenCV on first use).

A source is an iterator of :class:`Frame` with an idempotent ``close()`` and ``with`` support (see
:mod:`realtime.sources.video` for the timestamp rules and :func:`realtime.sources.video.open_source`). The video,
camera, stream and replay sources (:mod:`realtime.sources.video`, :mod:`realtime.sources.capture`,
:mod:`realtime.sources.replay`) build on this module, which imports none of them, so they import each other
one way only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from sadvae.errors import MissingDependencyError

__all__ = ["Frame", "Source", "opencv", "quiet_opencv"]


@dataclass(frozen=True)
class Frame:
    """One frame.

    Attributes:
        image: BGR uint8 [H, W, 3], or None for a replayed skeleton.
        timestamp_ms: strictly increasing integer milliseconds.
        index: 0-based count of frames the source produced (captured, for cameras), gaps = drops.
        skeletons: float32 [M, 25, 3] pre-computed NTU-25 joints (replay only), else None.
        identities: int [M], the person each skeleton is as the source knows it (a recording's track ids; -1 for
            none), or None: the tracker matches people by where they are.
    """

    image: np.ndarray | None
    timestamp_ms: int
    index: int
    skeletons: np.ndarray | None = None
    identities: np.ndarray | None = None


def opencv() -> Any:
    """The ``cv2`` module, imported on first use.

    Raises:
        MissingDependencyError: OpenCV is not installed.
    """
    try:
        import cv2
    except ImportError:
        raise MissingDependencyError("opencv (cv2)", "live") from None
    return cv2


@contextlib.contextmanager
def quiet_opencv() -> Iterator[Any]:
    """OpenCV without its WARN/ERROR console lines while it probes backends (our error says it better)."""
    cv2 = opencv()
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield cv2
    finally:
        cv2.utils.logging.setLogLevel(level)


class Source:
    """Base of all sources: iterate for frames; ``close()`` is idempotent; a context manager."""

    name: str = "source"
    fps: float | None = None

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
