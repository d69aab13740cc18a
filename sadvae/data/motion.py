"""Where a window's motion is: trimming the still poses around an action (numpy only).

The skeleton sets a model learns from are cut to the action: a clip starts when the motion starts and ends
when it ends, and a clip shorter than the window is padded (:func:`sadvae.data.preprocess.preprocess`).
A live window is cut by the clock instead: a person who stands still for a second, drinks and stands still
again gives windows that are partly a held pose, which no training clip looks like. :func:`trim_still`
cuts such a window to the span where the body moves, so that the model sees it as it saw its training
clips (the remaining frames then go through the same ``preprocess`` as a short clip).

Motion is read in the body's own frame (each frame centred on the spine base), so a person who walks
still moves and one who only drifts in the image does not: a frame moves when at least ``joints`` joints
are displaced more than ``threshold_m`` over ``lag_s`` (five joints: one arm, elbow to fingertips, is
enough; one jittery hand tip is not). With two persons in the window the span covers the motion of both.

An edge is cut only when at least a lag's worth of frames would go (fewer is a motion reversing, not a pause:
cutting it would only add a seam). A person who stands still after acting keeps seeing the action read from the window
until it leaves the window (one window's length, as without the cut, but undiluted); ``max_tail_s`` can stop
cutting a still tail longer than that many seconds (the window is then read whole from the motion's start and
the action fades as it did without the cut). It is off by default: on labelled replays it cost live accuracy
and shortened the label's hold after the motion by at most 0.3 s (docs/live.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sadvae.skeleton import NTUJoint as J

__all__ = ["StillTrim", "moving_span", "trim_still"]


@dataclass(frozen=True)
class StillTrim:
    """How still poses are trimmed from a window.

    Attributes:
        threshold_m: a joint moves in a frame when it is displaced more than this over ``lag_s`` (body frame, metres).
        lag_s: the time over which a displacement is measured (longer is steadier against jitter).
        joints: a frame moves when at least this many joints move (5: one arm, elbow to fingertips).
        min_s: a moving span shorter than this is no action: the window is left whole.
        max_tail_s: still poses after the motion are cut only while they last at most this long; None (default): always.
    """

    threshold_m: float = 0.05
    lag_s: float = 0.25
    joints: int = 5
    min_s: float = 1.0
    max_tail_s: float | None = None

    def __post_init__(self) -> None:
        if not self.threshold_m > 0:
            raise ValueError(f"threshold_m must be > 0, got {self.threshold_m!r}")
        if not self.lag_s > 0:
            raise ValueError(f"lag_s must be > 0, got {self.lag_s!r}")
        if not 1 <= self.joints <= 25:
            raise ValueError(f"joints must be in [1, 25], got {self.joints!r}")
        if not self.min_s >= 0:
            raise ValueError(f"min_s must be >= 0, got {self.min_s!r}")
        if self.max_tail_s is not None and not self.max_tail_s >= 0:
            raise ValueError(f"max_tail_s must be >= 0 or None, got {self.max_tail_s!r}")


def _moving_frames(joints: np.ndarray, lag: int, trim: StillTrim) -> np.ndarray:
    """bool [T - lag]: the displacement from frame t to t + lag moves (any person present in both frames)."""
    person = np.asarray(joints, dtype=np.float64).transpose(1, 0, 2, 3)  # (M, T, 25, 3)
    present = np.abs(person).reshape(person.shape[0], person.shape[1], -1).max(axis=2) > 0  # (M, T)
    body = person - person[:, :, J.SPINE_BASE : J.SPINE_BASE + 1]
    disp = np.linalg.norm(body[:, lag:] - body[:, :-lag], axis=-1)  # (M, T - lag, 25)
    moved = (disp > trim.threshold_m).sum(axis=2) >= trim.joints
    return (moved & present[:, lag:] & present[:, :-lag]).any(axis=0)


def moving_span(joints: np.ndarray, fps: float, trim: StillTrim) -> tuple[int, int] | None:
    """The first and last frame (inclusive) of the span in which the persons of a window move.

    Args:
        joints: float [T, M, 25, 3] on a uniform grid at ``fps``; absent persons and frames are zeros.
        fps: the grid's rate.
        trim: the motion rule.

    Returns:
        ``(a, b)``, or None when nobody moves (or nobody is there). A displacement from frame t to t + lag that
        moves puts both frames in the span; an edge of fewer than ``lag`` frames outside the span is kept in it
        (a reversal, not a pause).
    """
    lag = max(1, int(round(trim.lag_s * fps)))
    t = int(np.shape(joints)[0])
    if t <= lag:
        return None
    idx = np.flatnonzero(_moving_frames(joints, lag, trim))
    if idx.size == 0:
        return None
    a, b = int(idx[0]), int(idx[-1]) + lag
    return (0 if a < lag else a), (t - 1 if t - 1 - b < lag else b)


def trim_still(
    joints: np.ndarray,
    times: np.ndarray,
    fps: float,
    trim: StillTrim,
    span: tuple[int, int] | None | str = "compute",
) -> tuple[np.ndarray, np.ndarray]:
    """A window cut to the span in which its persons move (module docstring for the edges left alone).

    Args:
        joints: float [T, M, 25, 3] on a uniform grid at ``fps``; times: its [T] grid times.
        fps: the grid's rate; trim: the motion rule.
        span: :func:`moving_span` of the same window under the same rule when the caller has it already.

    Returns:
        ``(joints, times)`` of the moving span (views of the inputs), or the inputs themselves when nobody moves,
        the span is shorter than ``min_s`` or it is the whole window.
    """
    if isinstance(span, str):
        span = moving_span(joints, fps, trim)
    if span is None:
        return joints, times
    a, b = span
    if (b - a + 1) < trim.min_s * fps:
        return joints, times
    if trim.max_tail_s is not None and len(joints) - 1 - b > trim.max_tail_s * fps:
        b = len(joints) - 1  # a long still tail: the action is over, read it fading as before
    if a == 0 and b == len(joints) - 1:
        return joints, times
    return joints[a : b + 1], times[a : b + 1]
