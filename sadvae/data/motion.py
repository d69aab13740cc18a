"""Where a window's motion is: trimming the still poses around an action (numpy only).

The skeleton sets a model learns from are cut to the action: a clip starts when the motion starts and ends
when it ends, and a clip shorter than the window is loop-filled (:func:`sadvae.data.preprocess.preprocess`).
A live window is cut by the clock instead: a person who stands still for a second, drinks and stands still
again gives windows that are partly a held pose, which no training clip looks like. :func:`trim_still`
cuts such a window to the span where the body moves, so that the model sees it as it saw its training
clips (the remaining frames then go through the same ``preprocess`` as a short clip).

Motion is read in the body's own frame (each frame centred on the spine base), so a person who walks
still moves and one who only drifts in the image does not: per frame, the displacement of every joint
over ``lag_s``, and the frame moves when the ``quantile`` of those displacements over the joints exceeds
``threshold_m`` (a quantile, not the mean: an arm moving alone is motion, one jittery hand tip is not).
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
        threshold_m: a frame moves when the ``quantile`` of its joints' displacements over ``lag_s`` (body frame,
            metres) exceeds this.
        lag_s: the time over which a displacement is measured (longer is steadier against jitter).
        quantile: which joint's displacement decides (0.8 of 25 joints: the 5th largest, so that one arm is enough).
        min_s: a moving span shorter than this is no action: the window is left whole.
    """

    threshold_m: float = 0.03
    lag_s: float = 0.25
    quantile: float = 0.8
    min_s: float = 0.5

    def __post_init__(self) -> None:
        if not self.threshold_m > 0:
            raise ValueError(f"threshold_m must be > 0, got {self.threshold_m!r}")
        if not self.lag_s > 0:
            raise ValueError(f"lag_s must be > 0, got {self.lag_s!r}")
        if not 0.0 <= self.quantile <= 1.0:
            raise ValueError(f"quantile must be in [0, 1], got {self.quantile!r}")
        if not self.min_s >= 0:
            raise ValueError(f"min_s must be >= 0, got {self.min_s!r}")


def moving_span(joints: np.ndarray, fps: float, trim: StillTrim) -> tuple[int, int] | None:
    """The first and last frame (inclusive) of the span in which the first person moves.

    Args:
        joints: float [T, M, 25, 3] on a uniform grid at ``fps``; absent frames are zeros.
        fps: the grid's rate.
        trim: the motion rule.

    Returns:
        ``(a, b)``, or None when the person never moves (or is absent): a frame moves when its displacement
        since ``lag_s`` earlier is above the threshold; the span reaches back to the start of the first such
        displacement.
    """
    person = np.asarray(joints[:, 0], dtype=np.float64)  # (T, 25, 3)
    lag = max(1, int(round(trim.lag_s * fps)))
    if person.shape[0] <= lag:
        return None
    present = np.abs(person).reshape(len(person), -1).max(axis=1) > 0
    body = person - person[:, J.SPINE_BASE : J.SPINE_BASE + 1]
    disp = np.linalg.norm(body[lag:] - body[:-lag], axis=-1)  # (T - lag, 25): frame t + lag against t
    moved = np.quantile(disp, trim.quantile, axis=1) > trim.threshold_m
    moved &= present[lag:] & present[:-lag]
    idx = np.flatnonzero(moved)
    if idx.size == 0:
        return None
    return int(idx[0]), int(idx[-1]) + lag


def trim_still(joints: np.ndarray, times: np.ndarray, fps: float, trim: StillTrim) -> tuple[np.ndarray, np.ndarray]:
    """A window cut to the span in which the person moves (unchanged when there is no such span, or it is short).

    Args:
        joints: float [T, M, 25, 3] on a uniform grid at ``fps``; times: its [T] grid times.
        fps: the grid's rate; trim: the motion rule.

    Returns:
        ``(joints, times)`` of the moving span (views of the inputs), or the inputs themselves.
    """
    span = moving_span(joints, fps, trim)
    if span is None:
        return joints, times
    a, b = span
    if (b - a + 1) < trim.min_s * fps or (a == 0 and b == len(joints) - 1):
        return joints, times
    return joints[a : b + 1], times[a : b + 1]
