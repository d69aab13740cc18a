"""The pose stage: MediaPipe PoseLandmarker (Tasks API) on frames -> :class:`Skeleton` per person in view.

``PoseEstimator(opts)(frame) -> list[Skeleton]``. VIDEO mode runs ``detect_for_video`` synchronously
(files, benchmarks, tests: deterministic); LIVE mode runs ``detect_async`` and returns the latest
result MediaPipe delivered (cameras: MediaPipe may drop frames to keep up). Timestamps are integer
milliseconds and must increase; a timestamp that does not is moved to one past the previous (logged
once), since MediaPipe refuses it.

A :class:`Skeleton` keeps MediaPipe's 33 landmarks as numpy arrays (world metres, normalised image
coordinates, visibility, presence); :meth:`Skeleton.ntu25` maps them to the NTU-25 layout with
:func:`realtime.mapping.mediapipe_to_ntu25`. Joints are gated on **presence** by default (the
landmark lies in the frame) rather than visibility (it is also not occluded): Kinect reports
inferred positions for occluded joints too, and MediaPipe places occluded limbs sensibly; see
``docs/mapping_check.md`` for the measurement behind this choice.

``mediapipe`` is imported only when a :class:`PoseEstimator` is built.
"""

from __future__ import annotations

import enum
import logging
import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from realtime.mapping import MEDIAPIPE_TO_NTU_AXES, NUM_MEDIAPIPE_LANDMARKS, mediapipe_to_ntu25
from realtime.pose_model import VARIANTS, PoseModel, resolve_pose_model
from sadvae.errors import ConfigError, MissingDependencyError, SourceError

__all__ = ["RunningMode", "PoseOptions", "Skeleton", "PoseEstimator", "GATES"]

log = logging.getLogger(__name__)

GATES = ("presence", "visibility")
_AXES_2D = np.asarray(MEDIAPIPE_TO_NTU_AXES[:2], dtype=np.float32)


class RunningMode(enum.Enum):
    """VIDEO: synchronous ``detect_for_video``; LIVE: ``detect_async`` with a callback, latest result returned."""

    VIDEO = "video"
    LIVE = "live"


@dataclass(frozen=True)
class PoseOptions:
    """Options of the pose stage.

    Attributes:
        model_path: an explicit ``.task`` file (``--pose-model``); None resolves one (:mod:`realtime.pose_model`).
        variant: "lite", "full" or "heavy" when no path is given.
        mode: :class:`RunningMode` (a "video"/"live" string is accepted).
        num_poses: most persons detected per frame.
        min_detection_confidence: person detector threshold.
        min_presence_confidence: landmark model's pose presence threshold.
        min_tracking_confidence: below it MediaPipe re-runs the detector instead of tracking.
        visibility_threshold: landmarks scoring below it are unseen in :meth:`Skeleton.ntu25`.
        gate: which landmark score is compared with ``visibility_threshold``: "presence" or "visibility".
        mirror: the input is mirrored (a selfie preview, the raw NTU/Kinect v2 colour video): frames are
            flipped before estimation so that left and right come out right; image landmarks are
            returned in the coordinates of the frame as given.
        download: allow the official model download when the model is not cached.
    """

    model_path: str | None = None
    variant: str = "full"
    mode: RunningMode = RunningMode.VIDEO
    num_poses: int = 1
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    visibility_threshold: float = 0.5
    gate: str = "presence"
    mirror: bool = False
    download: bool = True

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "mode", RunningMode(self.mode))
        except ValueError:
            raise ConfigError(f"pose mode must be one of {[m.value for m in RunningMode]}, got {self.mode!r}") from None
        if self.variant not in VARIANTS:
            raise ConfigError(f"pose variant must be one of {list(VARIANTS)}, got {self.variant!r}")
        if self.gate not in GATES:
            raise ConfigError(f"pose gate must be one of {list(GATES)}, got {self.gate!r}")
        if not (isinstance(self.num_poses, int) and self.num_poses >= 1):
            raise ConfigError(f"num_poses must be an integer >= 1, got {self.num_poses!r}")
        for name in ("min_detection_confidence", "min_presence_confidence", "min_tracking_confidence"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        if not 0.0 <= self.visibility_threshold <= 1.0:
            raise ConfigError(f"visibility_threshold must be in [0, 1], got {self.visibility_threshold!r}")


def _array(value: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    a = np.asarray(value, dtype=np.float32)
    if a.shape != shape:
        raise ValueError(f"expected {name} shape {shape}, got {a.shape}")
    return a


@dataclass(frozen=True)
class Skeleton:
    """One person's MediaPipe pose in one frame.

    Attributes:
        world: float32 [33, 3] world landmarks in metres: origin between the hips, x to the image
            right, y down, z away from the camera (MediaPipe's frame; :meth:`ntu25` converts).
        image: float32 [33, 2] image landmarks normalised to [0, 1] by width and height, in the
            coordinates of the frame as given (may fall slightly outside [0, 1]).
        visibility: float32 [33] probability that the landmark is in frame and not occluded.
        presence: float32 [33] probability that the landmark is in frame.
        timestamp_ms: timestamp of the frame it was estimated on.
        gate: default score for :meth:`ntu25`: "presence" or "visibility".
        min_score: default threshold for :meth:`ntu25`.
    """

    world: np.ndarray
    image: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    timestamp_ms: int
    gate: str = "presence"
    min_score: float = 0.5

    def __post_init__(self) -> None:
        n = NUM_MEDIAPIPE_LANDMARKS
        object.__setattr__(self, "world", _array(self.world, (n, 3), "world"))
        object.__setattr__(self, "image", _array(self.image, (n, 2), "image"))
        object.__setattr__(self, "visibility", _array(self.visibility, (n,), "visibility"))
        object.__setattr__(self, "presence", _array(self.presence, (n,), "presence"))
        if self.gate not in GATES:
            raise ValueError(f"gate must be one of {list(GATES)}, got {self.gate!r}")

    @classmethod
    def from_mediapipe(
        cls,
        world_landmarks: Any,
        image_landmarks: Any,
        timestamp_ms: int,
        *,
        mirrored: bool = False,
        gate: str = "presence",
        min_score: float = 0.5,
    ) -> Skeleton:
        """Build from one pose of a ``PoseLandmarkerResult`` (duck-typed: objects with x, y, z, visibility, presence).

        Args:
            world_landmarks: ``result.pose_world_landmarks[i]``, 33 landmarks.
            image_landmarks: ``result.pose_landmarks[i]``, 33 landmarks (their scores are used).
            timestamp_ms: the frame's timestamp.
            mirrored: the landmarks were estimated on a horizontally flipped frame: image x becomes 1 - x.
            gate: see :class:`Skeleton`.
            min_score: see :class:`Skeleton`.
        """
        world = np.array([(p.x, p.y, p.z) for p in world_landmarks], dtype=np.float32).reshape(-1, 3)
        rows = [(p.x, p.y, p.visibility, p.presence) for p in image_landmarks]
        img = np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=np.float32).reshape(-1, 4)
        if mirrored:
            img[:, 0] = 1.0 - img[:, 0]
        scores = np.nan_to_num(img[:, 2:], nan=1.0)  # a model without scores: trust every landmark
        return cls(world, img[:, :2], scores[:, 0], scores[:, 1], int(timestamp_ms), gate, min_score)

    def scores(self, gate: str | None = None) -> np.ndarray:
        """float32 [33]: the presence or visibility scores (``gate``, default the skeleton's own)."""
        g = self.gate if gate is None else gate
        if g not in GATES:
            raise ValueError(f"gate must be one of {list(GATES)}, got {g!r}")
        return self.presence if g == "presence" else self.visibility

    def ntu25(self, min_score: float | None = None, gate: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The NTU-25 joints in metres, NTU camera frame (+y up), hip-centred.

        Returns:
            ``(joints float32 [25, 3], conf float32 [25])``; unseen joints sit on their nearest seen
            ancestor with confidence 0 (:func:`realtime.mapping.mediapipe_to_ntu25`).
        """
        thr = self.min_score if min_score is None else min_score
        return mediapipe_to_ntu25(self.world, self.scores(gate), thr)

    def ntu25_image(self, min_score: float | None = None, gate: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The NTU-25 joints in normalised image coordinates (x right, y down), for overlays and the mapping check.

        Returns:
            ``(points float32 [25, 2], conf float32 [25])``, built by the same rules as :meth:`ntu25`.
        """
        thr = self.min_score if min_score is None else min_score
        flat = np.concatenate([self.image, np.zeros((NUM_MEDIAPIPE_LANDMARKS, 1), np.float32)], axis=1)
        pts, conf = mediapipe_to_ntu25(flat, self.scores(gate), thr)
        return pts[:, :2] * _AXES_2D, conf  # undo the axis change: image axes stay image axes


def _import_mediapipe() -> tuple[Any, Any, Any]:
    try:
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision
    except ImportError:
        raise MissingDependencyError("mediapipe", "live") from None
    return mp, vision, BaseOptions


class PoseEstimator:
    """MediaPipe PoseLandmarker as a pipeline stage: ``estimator(frame) -> list[Skeleton]``.

    Args:
        opts: the options; None = :class:`PoseOptions` defaults.
        model: an already resolved model; None resolves ``opts.model_path`` / ``opts.variant``.

    Attributes:
        model: the model in use and where it came from.
        fresh: after a LIVE call, whether the returned skeletons are a result not returned before
            (always True in VIDEO mode).

    Raises:
        MissingDependencyError: mediapipe is not installed.
        SourceError: no pose model could be found, or MediaPipe refuses it.
    """

    def __init__(self, opts: PoseOptions | None = None, model: PoseModel | None = None):
        self._landmarker: Any = None
        self.opts = opts = opts or PoseOptions()
        mp, vision, base_options = _import_mediapipe()
        self._mp = mp
        self.model = model or resolve_pose_model(opts.model_path, opts.variant, download=opts.download)
        live = opts.mode is RunningMode.LIVE
        options = vision.PoseLandmarkerOptions(
            base_options=base_options(model_asset_path=str(self.model.path)),
            running_mode=vision.RunningMode.LIVE_STREAM if live else vision.RunningMode.VIDEO,
            num_poses=opts.num_poses,
            min_pose_detection_confidence=opts.min_detection_confidence,
            min_pose_presence_confidence=opts.min_presence_confidence,
            min_tracking_confidence=opts.min_tracking_confidence,
            result_callback=self._on_result if live else None,
        )
        self._lock = threading.Lock()
        self._latest: list[Skeleton] = []
        self._latest_ts = -1
        self._returned_ts = -1
        self._last_ts = -1
        self._warned_ts = False
        self.fresh = False
        try:
            self._landmarker = vision.PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError, OSError) as e:
            why = f"MediaPipe cannot load pose model {self.model.path}: {e}"
            raise SourceError(f"{why}; pass a PoseLandmarker .task file with --pose-model") from None
        # closes MediaPipe's graph at garbage collection or interpreter exit, before its modules are torn down
        self._finalizer = weakref.finalize(self, self._landmarker.close)

    def _convert(self, result: Any, timestamp_ms: int) -> list[Skeleton]:
        o = self.opts
        return [
            Skeleton.from_mediapipe(
                w, i, timestamp_ms, mirrored=o.mirror, gate=o.gate, min_score=o.visibility_threshold
            )
            for w, i in zip(result.pose_world_landmarks, result.pose_landmarks, strict=True)
        ]

    def _on_result(self, result: Any, image: Any, timestamp_ms: int) -> None:
        """LIVE-mode callback (MediaPipe's thread): keep the newest result only."""
        skeletons = self._convert(result, int(timestamp_ms))
        with self._lock:
            if timestamp_ms > self._latest_ts:
                self._latest, self._latest_ts = skeletons, int(timestamp_ms)

    def _timestamp(self, ts: int) -> int:
        if ts <= self._last_ts:
            if not self._warned_ts:
                log.warning("pose: timestamp %d ms is not after %d ms; using %d", ts, self._last_ts, self._last_ts + 1)
                self._warned_ts = True
            ts = self._last_ts + 1
        self._last_ts = ts
        return ts

    def __call__(self, frame: Any, timestamp_ms: int | None = None) -> list[Skeleton]:
        """Estimate the poses in one frame.

        Args:
            frame: a :class:`realtime.sources.Frame` (its ``image`` and ``timestamp_ms`` are used) or a
                BGR uint8 image [H, W, 3].
            timestamp_ms: required with a bare image; overrides the frame's timestamp otherwise.

        Returns:
            One :class:`Skeleton` per person (at most ``num_poses``); [] when nobody is in view or the
            frame has no image. In LIVE mode, the newest result MediaPipe has delivered so far (see ``fresh``).

        Raises:
            SourceError: the estimator is closed, or MediaPipe fails on the frame.
            ValueError: the image is not [H, W, 3] uint8, or a bare image has no timestamp.
        """
        if self._landmarker is None:
            raise SourceError("the pose estimator is closed")
        image = getattr(frame, "image", frame)
        ts = getattr(frame, "timestamp_ms", None) if timestamp_ms is None else timestamp_ms
        if image is None:
            self.fresh = False
            return []
        if ts is None:
            raise ValueError("a bare image needs timestamp_ms")
        if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3):
            raise ValueError(f"expected a BGR uint8 image [H, W, 3], got {getattr(image, 'shape', type(image))}")
        import cv2

        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        if self.opts.mirror:
            rgb = cv2.flip(rgb, 1)
        mp_image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb)
        ts = self._timestamp(int(ts))
        try:
            if self.opts.mode is RunningMode.VIDEO:
                self.fresh = True
                return self._convert(self._landmarker.detect_for_video(mp_image, ts), ts)
            self._landmarker.detect_async(mp_image, ts)
        except (RuntimeError, ValueError) as e:
            raise SourceError(f"pose estimation failed on the frame at {ts} ms: {e}") from None
        with self._lock:
            latest, latest_ts = self._latest, self._latest_ts
        self.fresh = latest_ts > self._returned_ts
        self._returned_ts = max(self._returned_ts, latest_ts)
        return list(latest)

    def close(self) -> None:
        """Release MediaPipe's graph; safe to call twice."""
        if self._landmarker is not None:
            self._landmarker = None
            self._finalizer()

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
