"""The one record every reader returns."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

import numpy as np

from sadvae.skeleton import NUM_JOINTS

__all__ = ["SkeletonSequence", "Dataset", "clip_fingerprint", "warn_unread"]


@dataclass(frozen=True)
class SkeletonSequence:
    """One skeleton sequence in the NTU-25 layout.

    Attributes:
        joints: float32 [T, M, 25, 3], metres, Kinect camera frame (+y up). An absent person is zeros.
        fps: nominal frame rate of the recording (frames per second).
        source: path of the file it came from (plus ``#segment`` for clips cut from a longer file).
        label: 0-based class index within the dataset's class list, or None when unlabelled.
        label_name: the dataset's name for that class, or None.
        subject: performer id as the dataset numbers it, or None.
        view: camera / view / setup id as the dataset numbers it, or None.
        timestamps: float64 [T] seconds from the first frame, when the recording has irregular
            timing (e.g. UTKinect frame ids); None means frames are evenly spaced at ``fps``.
        defects: human-readable notes on what the reader repaired or dropped.
        split: "train" / "test" when the file names its side of the train/test protocol (the clip format of
            ``sadvae.data.user_format``), else None (the dataset's protocol decides from subject or view).
    """

    joints: np.ndarray
    fps: float
    source: str
    label: int | None = None
    label_name: str | None = None
    subject: int | None = None
    view: int | None = None
    timestamps: np.ndarray | None = None
    defects: tuple[str, ...] = field(default_factory=tuple)
    split: str | None = None

    def __post_init__(self) -> None:
        j = self.joints
        if not isinstance(j, np.ndarray) or j.dtype != np.float32:
            raise TypeError(f"{self.source}: joints must be a float32 numpy array, got {type(j).__name__}")
        if j.ndim != 4 or j.shape[2:] != (NUM_JOINTS, 3) or j.shape[0] < 1 or j.shape[1] < 1:
            raise ValueError(f"{self.source}: expected joints shape (T>=1, M>=1, 25, 3), got {j.shape}")
        if not np.isfinite(j).all():
            raise ValueError(f"{self.source}: joints contain NaN or inf")
        if self.timestamps is not None and self.timestamps.shape != (j.shape[0],):
            raise ValueError(f"{self.source}: timestamps shape {self.timestamps.shape} != ({j.shape[0]},)")
        if self.fps <= 0:
            raise ValueError(f"{self.source}: fps must be positive, got {self.fps}")

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])

    @property
    def num_persons(self) -> int:
        """Persons with at least one non-zero frame."""
        return int((np.abs(self.joints).reshape(self.joints.shape[0], self.joints.shape[1], -1).sum((0, 2)) > 0).sum())

    def times(self) -> np.ndarray:
        """Frame times in seconds from the first frame, [T] float64."""
        if self.timestamps is not None:
            return self.timestamps
        return np.arange(self.num_frames, dtype=np.float64) / self.fps


@dataclass(frozen=True)
class Dataset:
    """A whole dataset as the readers load it.

    Attributes:
        name: registry name ("msr_action3d", "nw_ucla", ...).
        class_names: names indexed by ``SkeletonSequence.label``.
        sequences: the usable sequences, in a deterministic order.
        rejected: (source, reason) for every file or segment the reader refused, so nothing is lost silently.
        protocol: short description of the dataset's standard evaluation protocol.
    """

    name: str
    class_names: tuple[str, ...]
    sequences: list[SkeletonSequence]
    rejected: list[tuple[str, str]] = field(default_factory=list)
    protocol: str = ""


def warn_unread(log: logging.Logger, name: str, unread: list[str], expected: str) -> None:
    """One warning on ``log`` naming the files of dataset ``name`` its loader does not read (the first ten), and
    what it reads instead: nothing is skipped without a word."""
    if unread:
        shown = ", ".join(unread[:10]) + (f", ... ({len(unread) - 10} more)" if len(unread) > 10 else "")
        log.warning("%s: %d files not read (expected %s; rename or move them): %s", name, len(unread), expected, shown)


def clip_fingerprint(joints: np.ndarray) -> str:
    """The identity of a clip's content: sha256 (hex) of its joints' shape and float32 values.

    A clip read back from a clip folder has the fingerprint of the sequence it was written from, wherever the
    file lies and whatever it is named, so importing the same recording twice is caught.
    """
    j = np.ascontiguousarray(joints, dtype=np.float32)
    h = hashlib.sha256(repr(j.shape).encode())
    h.update(j.tobytes())
    return h.hexdigest()
