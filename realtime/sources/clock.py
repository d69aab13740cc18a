"""Frame times from a container's presentation times, shared by video files and recorded (not live) streams.

:class:`ContainerClock` turns the time OpenCV reports for each frame (``CAP_PROP_POS_MSEC``) into strictly
increasing integer milliseconds: relative to the first frame's time (some containers start late), and where a
time is missing, does not increase or jumps more than :data:`MAX_GAP_MS` ahead, one nominal frame after the
previous one; the frames after it follow the container again (from the old anchor after a single bad time,
from the new one after a reset or a hole in a motion-triggered recording), so one bad time no longer times the rest
of the file at the nominal rate.
:func:`measured_fps` reads a rate off the first frames' times, to check the rate a container declares.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["MAX_GAP_MS", "ContainerClock", "measured_fps"]

MAX_GAP_MS = 10_000.0  # a container time further than this after the previous frame's is taken as corrupt


class ContainerClock:
    """Strictly increasing frame times from container times (module docstring).

    A frame whose time the anchor (the container time of an earlier frame, and that frame's time) does not explain
    comes one nominal step after the previous frame and becomes a candidate anchor. The next frame that the old
    anchor explains again keeps it (one bad time: a duplicate, a glitch); the next that only the candidate explains
    makes it the anchor (a discontinuity: a reset, a hole of more than ``max_gap_ms``).

    Args:
        step_ms: the nominal frame step (``1000 / fps``).
        max_gap_ms: the largest step taken from the container.
    """

    def __init__(self, step_ms: float, max_gap_ms: float = MAX_GAP_MS):
        self.step_ms = float(step_ms)
        self.max_gap_ms = float(max_gap_ms)
        self.last: float | None = None  # the previous frame's time in ms, before rounding
        self.last_ms = -1
        self._anchor: tuple[float, float] | None = None  # (container time, frame time) the frames follow
        self._candidate: tuple[float, float] | None = None  # the anchor after a frame the anchor did not explain

    def new_pass(self) -> None:
        """The file starts again (``loop``): its next frame comes one nominal step after the previous pass's end."""
        self._anchor = self._candidate = None

    def _follows(self, anchor: tuple[float, float] | None, t: float | None) -> float | None:
        """The frame time ``anchor`` gives container time ``t``, if it is a plausible next frame time."""
        if anchor is None or t is None or self.last is None:
            return None
        cand = anchor[1] + t - anchor[0]
        return cand if self.last < cand <= self.last + self.max_gap_ms else None

    def tick(self, t: float | None) -> int:
        """The time in ms of the next frame, whose container time is ``t`` (None: the container gives none)."""
        if t is not None and not (math.isfinite(t) and t >= 0.0):
            t = None
        if self.last is None:
            now = 0.0
        elif self._anchor is None:  # the first frame of a later pass (or no frame had a time yet)
            now = self.last + self.step_ms
        elif (cand := self._follows(self._anchor, t)) is not None:
            now, self._candidate = cand, None
        elif (cand := self._follows(self._candidate, t)) is not None:
            now, self._anchor, self._candidate = cand, self._candidate, None
        else:
            now = self.last + self.step_ms
            if t is not None:
                self._candidate = (t, now)
        if self._anchor is None and t is not None:
            self._anchor = (t, now)
        ms = max(round(now), self.last_ms + 1)
        self.last, self.last_ms = now, ms
        return ms


def measured_fps(times: Sequence[float | None], min_steps: int = 4) -> float | None:
    """The frame rate the container times of consecutive frames show (the median step), or None.

    Args:
        times: container times in ms of the first frames (None or not finite where it gives none).
        min_steps: fewest increasing steps between two valid consecutive times needed for an answer.
    """
    steps = [
        b - a
        for a, b in zip(times, times[1:], strict=False)
        if a is not None and b is not None and math.isfinite(a) and math.isfinite(b) and a >= 0.0 and b > a
    ]
    if len(steps) < min_steps:
        return None
    steps.sort()
    mid = len(steps) // 2
    median = steps[mid] if len(steps) % 2 else 0.5 * (steps[mid - 1] + steps[mid])
    fps = 1000.0 / median
    return fps if 0.5 <= fps <= 1000.0 else None
