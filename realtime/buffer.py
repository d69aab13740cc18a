"""Per-track ring buffer of timestamped NTU-25 skeletons, resampled to the model's frame rate (numpy only).

Frames arrive at the camera's rate, which drifts and stutters; the model wants exactly ``window``
frames at ``fps``. The buffer keeps the raw frames with their times in a preallocated array and,
on request, interpolates the most recent ``(window - 1) / fps`` seconds onto a uniform grid that
ends at the newest frame, using the same :func:`sadvae.data.preprocess.resample` as training.

With ``min_window`` < ``window`` the buffer also hands out *partial* windows: once it holds at least
``min_window`` frames' worth of time (at the model's rate) but less than a full window, :meth:`JointBuffer.window`
returns every frame it has, resampled the same way (fewer than ``window`` frames). The caller pads them
with :func:`sadvae.data.preprocess.preprocess`, exactly as training pads a clip shorter than a window
(official NTU normalisation: written from frame 0 and loop-filled), so a person's first seconds and
short actions are scored without waiting for a full window.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from sadvae.data.preprocess import resample
from sadvae.errors import SourceError
from sadvae.skeleton import NUM_JOINTS

__all__ = ["JointBuffer", "MIN_WINDOW_FRAMES"]

#: Default of ``sadvae-live --min-window-frames`` (frames at the model's rate before a track's first, partial,
#: window); None = whole windows only. Chosen on labelled replays of the training side (docs/live.md).
MIN_WINDOW_FRAMES: int | None = 64

log = logging.getLogger(__name__)

_EPS = 1e-6  # the tolerance resample() uses when it counts grid frames


class JointBuffer:
    """Fixed-capacity ring of skeleton frames [M, 25, 3] with monotonic timestamps in seconds.

    Args:
        capacity: raw frames kept; must cover a window at the input rate, i.e. at least
            ``(window - 1) * input_fps / fps + 1`` (a warning is logged once when it does not).
        window: frames per model window (T_w).
        fps: the model's frame rate; windows are resampled to it.
        persons: persons per frame (M); an absent person is all zeros.
        stride: a window is due every ``stride`` pushes once the buffer spans a window.
        max_gap_s: a push more than this many seconds after the previous one (a person lost and
            found again, a stalled source) empties the buffer first, so that no window is
            interpolated across the gap.
        min_window: frames (at ``fps``) the buffer must span before it hands out a window, in
            ``[2, window]``; below ``window`` the first windows are partial (module docstring).
            None = ``window`` (full windows only).
        max_capacity: frames the ring may grow to when frames come faster than ``capacity`` was sized for (a camera
            that declares 30 frames/s and delivers 60): full, yet spanning less than a window, it doubles, up to
            this; None = never grows (the warning only).

    Attributes:
        window_size: frames per window (the ``window`` argument).
        min_window: frames of the shortest window handed out.
        span_s: seconds from a window's first to its last frame, ``(window - 1) / fps``.
        resets: how many times a gap emptied the buffer.
    """

    def __init__(
        self,
        capacity: int,
        window: int,
        fps: float,
        persons: int = 1,
        *,
        stride: int = 1,
        max_gap_s: float = 0.5,
        min_window: int | None = None,
        max_capacity: int | None = None,
    ):
        if window < 2:
            raise ValueError(f"window must be >= 2 frames, got {window}")
        if min_window is not None and not 2 <= min_window <= window:
            raise ValueError(f"min_window must be in [2, window={window}] frames, got {min_window}")
        if capacity < window:
            raise ValueError(f"capacity must be >= window ({window}), got {capacity}")
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if persons < 1:
            raise ValueError(f"persons must be >= 1, got {persons}")
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        if not max_gap_s > 0:
            raise ValueError(f"max_gap_s must be positive, got {max_gap_s}")
        self.capacity, self.window_size, self.fps, self.persons = int(capacity), int(window), float(fps), int(persons)
        self.stride, self.max_gap_s = int(stride), float(max_gap_s)
        self.min_window = self.window_size if min_window is None else int(min_window)
        self.span_s = (self.window_size - 1) / self.fps  # time covered by one window, first to last frame
        self._joints = np.zeros((self.capacity, self.persons, NUM_JOINTS, 3), dtype=np.float32)
        self._times = np.zeros(self.capacity, dtype=np.float64)
        self._next = 0  # write index
        self._count = 0  # frames held
        self._since_ready = -1  # pushes since the buffer first spanned a window (-1: not yet)
        self._warned_capacity = False
        self.max_capacity = self.capacity if max_capacity is None else max(int(max_capacity), self.capacity)
        self.resets = 0

    def __len__(self) -> int:
        return self._count

    @property
    def last_time(self) -> float | None:
        """Timestamp (s) of the newest frame, or None when empty."""
        return float(self._times[self._next - 1]) if self._count else None

    @property
    def first_time(self) -> float | None:
        """Timestamp (s) of the oldest frame held, or None when empty."""
        return float(self._times[(self._next - self._count) % self.capacity]) if self._count else None

    def _spans(self, frames: int) -> bool:
        """True when the frames held span at least ``frames`` frames at ``fps``."""
        return self._count >= 2 and (self.last_time - self.first_time) * self.fps + _EPS >= frames - 1

    @property
    def ready(self) -> bool:
        """True when a window can be handed out: the frames held span at least ``min_window`` frames."""
        return self._spans(self.min_window)

    @property
    def full(self) -> bool:
        """True when the frames held span at least one whole window."""
        return self._spans(self.window_size)

    def reset(self) -> None:
        """Forget every frame (the arrays stay allocated)."""
        self._next = self._count = 0
        self._since_ready = -1

    def push(self, joints: np.ndarray, t_s: float) -> bool:
        """Append one frame.

        Args:
            joints: float [M, 25, 3] (M = ``persons``), metres; zeros for an absent person.
            t_s: frame time in seconds from a monotonic clock; must increase strictly.

        Returns:
            True when a window is due after this push (the same as :meth:`should_emit`).

        Raises:
            ValueError: wrong shape or non-finite joints.
            SourceError: ``t_s`` is not after the previous frame's time.
        """
        joints = np.asarray(joints)
        if joints.shape != (self.persons, NUM_JOINTS, 3):
            raise ValueError(f"expected joints of shape ({self.persons}, {NUM_JOINTS}, 3), got {joints.shape}")
        if not np.isfinite(joints).all():
            raise ValueError("joints contain NaN or inf; place unseen joints at finite positions first")
        t = float(t_s)
        if not math.isfinite(t):
            raise SourceError(f"frame time must be a finite number of seconds, got {t_s!r}")
        last = self.last_time
        if last is not None:
            if t <= last:
                raise SourceError(
                    f"frame time {t:.6f} s is not after the previous frame's {last:.6f} s; "
                    "timestamps must strictly increase (use a monotonic clock, or drop duplicate frames)"
                )
            if (
                t - last > self.max_gap_s + 1e-6
            ):  # a gap of exactly max_gap_s (in whole ms) is bridged, as the tracker does
                log.debug("gap of %.3f s > max_gap_s=%.3f s: buffer reset", t - last, self.max_gap_s)
                self.reset()
                self.resets += 1
        self._joints[self._next] = joints
        self._times[self._next] = t
        self._next = (self._next + 1) % self.capacity
        self._count = min(self._count + 1, self.capacity)
        if self._since_ready >= 0:
            self._since_ready += 1
        elif self.ready:
            self._since_ready = 0
        if self._count == self.capacity and not self.full:
            if self.capacity < self.max_capacity:
                self._grow(min(2 * self.capacity, self.max_capacity))
            elif not self._warned_capacity:
                self._warn_capacity()
        return self.should_emit()

    def _grow(self, capacity: int) -> None:
        """Re-allocate the ring with room for ``capacity`` frames, the frames held kept in order."""
        joints, times = self.frames()
        n = len(times)
        self._joints = np.zeros((capacity, self.persons, NUM_JOINTS, 3), dtype=np.float32)
        self._times = np.zeros(capacity, dtype=np.float64)
        self._joints[:n], self._times[:n] = joints, times
        self.capacity, self._next = int(capacity), n % capacity
        log.info(
            "JointBuffer: frames come faster than it was sized for (%.1f frames/s); grown to %d frames",
            (n - 1) / max(times[-1] - times[0], 1e-9),
            capacity,
        )

    def _warn_capacity(self) -> None:
        self._warned_capacity = True
        held_s = self.last_time - self.first_time
        rate = (self._count - 1) / max(held_s, 1e-9)
        log.warning(
            "JointBuffer: %d frames span only %.3f s at %.1f frames/s, less than one window (%.3f s); "
            "raise capacity to at least %d",
            self._count,
            held_s,
            rate,
            self.span_s,
            math.ceil(self.span_s * rate - 1e-6) + 2,  # frames for one span, plus one for jitter
        )

    def should_emit(self) -> bool:
        """True on the push that first spans ``min_window`` frames and on every ``stride``-th push after it."""
        return self._since_ready >= 0 and self._since_ready % self.stride == 0

    def frames(self) -> tuple[np.ndarray, np.ndarray]:
        """Every frame held, oldest first, as copies: (joints float32 [n, M, 25, 3], times float64 [n] seconds)."""
        idx = (self._next - self._count + np.arange(self._count)) % self.capacity
        return self._joints[idx], self._times[idx]

    def window(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The most recent window, resampled to ``fps``.

        Returns:
            ``(joints, times)``: float32 [T, M, 25, 3] on a uniform grid at ``fps`` whose last frame is
            the newest pushed frame, and float64 [T] grid times in seconds; T = ``window`` once the
            buffer spans a window, else (a partial window, ``min_window`` < ``window``) every frame
            that fits on the grid, ``min_window <= T < window``. None until the buffer spans
            ``min_window`` frames.
        """
        if not self.ready:
            return None
        order = (self._next - self._count + np.arange(self._count)) % self.capacity  # oldest first
        held = self._times[order]
        newest = held[-1]
        if self.full:
            size = self.window_size
            start = newest - self.span_s - _EPS / self.fps
            # the frames inside the span plus the one at or before its start (full guarantees it exists)
            n = min(int(np.count_nonzero(held > start)) + 1, self._count)
        else:  # a partial window: every frame held, as many grid frames as they span
            n = self._count
            size = min(int(np.floor((newest - held[0]) * self.fps + _EPS)) + 1, self.window_size)
        joints, t = self._joints[order[-n:]], held[-n:]
        # resample() anchors its grid on the first time: run it backwards so that the grid ends on the newest frame
        back = resample(joints[::-1], -t[::-1], self.fps)  # (>= size, M, 25, 3), newest first
        out = np.ascontiguousarray(back[size - 1 :: -1])
        grid = newest - (size - 1 - np.arange(size)) / self.fps
        return out, grid
