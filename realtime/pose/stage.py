"""The pose stage: MediaPipe PoseLandmarker (Tasks API) on frames -> :class:`Skeleton` per person in view.

``PoseEstimator(opts)(frame) -> list[Skeleton]``. VIDEO mode runs ``detect_for_video`` synchronously
(files, benchmarks, tests: deterministic); LIVE mode runs ``detect_async`` and returns the latest
result MediaPipe delivered (cameras: MediaPipe may drop frames to keep up). Timestamps are integer
milliseconds and must increase; a timestamp that does not is moved to one past the previous (logged
once), since MediaPipe refuses it.

A :class:`Skeleton` keeps MediaPipe's 33 landmarks as numpy arrays (world metres, normalised image
coordinates, visibility, presence); :meth:`Skeleton.ntu25` maps them to the NTU-25 layout with
:func:`realtime.pose.mapping.mediapipe_to_ntu25`. Joints are gated on **presence** by default (the
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
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from realtime.pose.mapping import (
    CORRECTIONS,
    MEDIAPIPE_TO_NTU_AXES,
    NUM_MEDIAPIPE_LANDMARKS,
    XY_SOURCES,
    image_xy_world,
    mediapipe_to_ntu25,
)
from realtime.pose.model import VARIANTS, PoseModel, resolve_pose_model
from realtime.pose.roi import (
    RoiOptions,
    box_in_window,
    box_overlap,
    crop_to_frame,
    crop_window,
    keep_window,
    landmark_box,
    plausible_box,
    predict_box,
    tile_windows,
)
from sadvae.errors import ConfigError, MissingDependencyError, SourceError

__all__ = [
    "RunningMode",
    "PoseOptions",
    "Skeleton",
    "PoseEstimator",
    "RoiPoseEstimator",
    "MultiRoiPoseEstimator",
    "GATES",
    "make_pose_stage",
]

log = logging.getLogger(__name__)

GATES = ("presence", "visibility")
# LIVE mode answers asynchronously, a frame or two behind; an answer older than this (the stage was not called for a
# while: crops followed the person, or frames stalled) is not returned as the current frame's people
LIVE_MAX_AGE_MS = 500
_TORSO = [11, 12, 23, 24]  # MediaPipe's shoulders and hips
_AXES_2D = np.asarray(MEDIAPIPE_TO_NTU_AXES[:2], dtype=np.float32)


MAX_POSES = 10  # people tracked at once: each runs its own landmarker, so the cost grows with the count


class RunningMode(enum.Enum):
    """VIDEO: synchronous ``detect_for_video``; LIVE: ``detect_async`` with a callback, latest result returned;
    IMAGE: synchronous ``detect``, every frame on its own (the person detector runs on every call: no tracking
    from the previous frame, which is what crops that move from frame to frame need)."""

    VIDEO = "video"
    LIVE = "live"
    IMAGE = "image"


@dataclass(frozen=True)
class PoseOptions:
    """Options of the pose stage.

    Attributes:
        model_path: an explicit ``.task`` file (``--pose-model``); None resolves one (:mod:`realtime.pose.model`).
        variant: "lite", "full" or "heavy" when no path is given.
        mode: :class:`RunningMode` (a "video"/"live" string is accepted).
        num_poses: most persons detected per frame.
        min_detection_confidence: person detector threshold.
        min_presence_confidence: landmark model's pose presence threshold.
        min_tracking_confidence: below it MediaPipe re-runs the detector instead of tracking.
        visibility_threshold: landmarks scoring below it are unseen in :meth:`Skeleton.ntu25`.
        gate: which landmark score is compared with ``visibility_threshold``: "presence" or "visibility".
        xy_source: where :meth:`Skeleton.ntu25` takes the joints' x and y from: "image" (the image
            landmarks, scaled into the world frame on the shoulders and hips, with the world depth:
            :func:`realtime.pose.mapping.image_xy_world`) or "world" (MediaPipe's world landmarks as they are).
            "image" is the default: on the paired NTU clip it is closer to Kinect (5.4 vs 5.9 cm median,
            arms 5.7 vs 6.3 cm) and the NTU-pretrained recogniser ranks the true action 2nd instead of
            5th (docs/camera_gap.md).
        correction: name of a body-frame correction of the mapped joints
            (:data:`realtime.pose.mapping.CORRECTIONS`; "none", the default, adds nothing).
        mirror: the input is mirrored (a selfie preview, the raw NTU/Kinect v2 colour video): frames are
            flipped before estimation so that left and right come out right; image landmarks are
            returned in the coordinates of the frame as given.
        download: allow the official model download when the model is not cached.
        roi: region-of-interest stage for small and far people (:class:`realtime.pose.roi.RoiOptions`; used by
            :func:`make_pose_stage`, one crop per tracked person for every ``num_poses``).
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
    xy_source: str = "image"
    correction: str = "none"
    mirror: bool = False
    download: bool = True
    roi: RoiOptions = field(default_factory=RoiOptions)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "mode", RunningMode(self.mode))
        except ValueError:
            raise ConfigError(f"pose mode must be one of {[m.value for m in RunningMode]}, got {self.mode!r}") from None
        if self.variant not in VARIANTS:
            raise ConfigError(f"pose variant must be one of {list(VARIANTS)}, got {self.variant!r}")
        if self.gate not in GATES:
            raise ConfigError(f"pose gate must be one of {list(GATES)}, got {self.gate!r}")
        if self.xy_source not in XY_SOURCES:
            raise ConfigError(f"pose xy_source must be one of {list(XY_SOURCES)}, got {self.xy_source!r}")
        if self.correction not in CORRECTIONS:
            raise ConfigError(f"pose correction must be one of {list(CORRECTIONS)}, got {self.correction!r}")
        if not (isinstance(self.num_poses, int) and 1 <= self.num_poses <= MAX_POSES):
            raise ConfigError(
                f"PoseOptions.num_poses must be an integer from 1 to {MAX_POSES} (each person tracked runs its own "
                "landmarker), "
                f"got {self.num_poses!r}"
            )
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
        image_size: (width, height) in pixels of the frame, or None when unknown (then :meth:`ntu25`
            can only use the world x/y).
        mirrored: the frame was flipped before estimation (``image`` is in the unflipped frame).
        xy_source: default for :meth:`ntu25`: "image" or "world" (see :class:`PoseOptions`).
        correction: the mapping correction :meth:`ntu25` applies (a :data:`realtime.pose.mapping.CORRECTIONS` name).
    """

    world: np.ndarray
    image: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    timestamp_ms: int
    gate: str = "presence"
    min_score: float = 0.5
    image_size: tuple[int, int] | None = None
    mirrored: bool = False
    xy_source: str = "world"
    correction: str = "none"

    def __post_init__(self) -> None:
        n = NUM_MEDIAPIPE_LANDMARKS
        object.__setattr__(self, "world", _array(self.world, (n, 3), "world"))
        object.__setattr__(self, "image", _array(self.image, (n, 2), "image"))
        object.__setattr__(self, "visibility", _array(self.visibility, (n,), "visibility"))
        object.__setattr__(self, "presence", _array(self.presence, (n,), "presence"))
        if self.gate not in GATES:
            raise ValueError(f"gate must be one of {list(GATES)}, got {self.gate!r}")
        if self.xy_source not in XY_SOURCES:
            raise ValueError(f"xy_source must be one of {list(XY_SOURCES)}, got {self.xy_source!r}")
        if self.correction not in CORRECTIONS:
            raise ValueError(f"correction must be one of {list(CORRECTIONS)}, got {self.correction!r}")
        if self.image_size is not None:
            object.__setattr__(self, "image_size", (int(self.image_size[0]), int(self.image_size[1])))

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
        image_size: tuple[int, int] | None = None,
        xy_source: str = "world",
        correction: str = "none",
    ) -> Skeleton:
        """Build from one pose of a ``PoseLandmarkerResult`` (duck-typed: objects with x, y, z, visibility, presence).

        Args:
            world_landmarks: ``result.pose_world_landmarks[i]``, 33 landmarks.
            image_landmarks: ``result.pose_landmarks[i]``, 33 landmarks (their scores are used).
            timestamp_ms: the frame's timestamp.
            mirrored: the landmarks were estimated on a horizontally flipped frame: image x becomes 1 - x.
            gate: see :class:`Skeleton`.
            min_score: see :class:`Skeleton`.
            image_size: (width, height) of the frame; xy_source, correction: see :class:`Skeleton`.
        """
        world = np.array([(p.x, p.y, p.z) for p in world_landmarks], dtype=np.float32).reshape(-1, 3)
        rows = [(p.x, p.y, p.visibility, p.presence) for p in image_landmarks]
        img = np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=np.float32).reshape(-1, 4)
        if mirrored:
            img[:, 0] = 1.0 - img[:, 0]
        scores = np.nan_to_num(img[:, 2:], nan=1.0)  # a model without scores: trust every landmark
        return cls(
            world,
            img[:, :2],
            scores[:, 0],
            scores[:, 1],
            int(timestamp_ms),
            gate,
            min_score,
            image_size,
            mirrored,
            xy_source,
            correction,
        )

    def scores(self, gate: str | None = None) -> np.ndarray:
        """float32 [33]: the presence or visibility scores (``gate``, default the skeleton's own)."""
        g = self.gate if gate is None else gate
        if g not in GATES:
            raise ValueError(f"gate must be one of {list(GATES)}, got {g!r}")
        return self.presence if g == "presence" else self.visibility

    def metric_landmarks(self, xy_source: str | None = None) -> np.ndarray:
        """float32 [33, 3] the landmarks :meth:`ntu25` maps: the world landmarks, or (``xy_source`` "image",
        when the frame size is known) their x/y replaced by the scaled image landmarks
        (:func:`realtime.pose.mapping.image_xy_world`)."""
        src = self.xy_source if xy_source is None else xy_source
        if src not in XY_SOURCES:
            raise ValueError(f"xy_source must be one of {list(XY_SOURCES)}, got {src!r}")
        if src == "world" or self.image_size is None:
            return self.world
        img = self.image.copy()
        if self.mirrored:  # back to the flipped frame MediaPipe saw, whose x matches the world x
            img[:, 0] = 1.0 - img[:, 0]
        return image_xy_world(self.world, img * np.asarray(self.image_size, np.float32))

    def ntu25(
        self, min_score: float | None = None, gate: str | None = None, xy_source: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The NTU-25 joints in metres, NTU camera frame (+y up), hip-centred.

        Args:
            min_score: threshold on the gate's score (default the skeleton's).
            gate: "presence" or "visibility" (default the skeleton's).
            xy_source: "image" or "world" (default the skeleton's; see :meth:`metric_landmarks`).

        Returns:
            ``(joints float32 [25, 3], conf float32 [25])``; unseen joints sit on their nearest seen
            ancestor with confidence 0 (:func:`realtime.pose.mapping.mediapipe_to_ntu25`).
        """
        thr = self.min_score if min_score is None else min_score
        corr = CORRECTIONS[self.correction]
        return mediapipe_to_ntu25(self.metric_landmarks(xy_source), self.scores(gate), thr, correction=corr)

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
            running_mode=getattr(vision.RunningMode, "LIVE_STREAM" if live else opts.mode.name),
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

    def _convert(self, result: Any, timestamp_ms: int, size: tuple[int, int] | None = None) -> list[Skeleton]:
        o = self.opts
        return [
            Skeleton.from_mediapipe(
                w,
                i,
                timestamp_ms,
                mirrored=o.mirror,
                gate=o.gate,
                min_score=o.visibility_threshold,
                image_size=size,
                xy_source=o.xy_source,
                correction=o.correction,
            )
            for w, i in zip(result.pose_world_landmarks, result.pose_landmarks, strict=True)
        ]

    def _on_result(self, result: Any, image: Any, timestamp_ms: int) -> None:
        """LIVE-mode callback (MediaPipe's thread): keep the newest result only."""
        size = (int(image.width), int(image.height)) if hasattr(image, "width") else None
        skeletons = self._convert(result, int(timestamp_ms), size)
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
            frame: a :class:`realtime.sources.video.Frame` (its ``image`` and ``timestamp_ms`` are used) or a
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
        # VIDEO and LIVE graphs need increasing timestamps; IMAGE mode has none, and the search tiles that several
        # trackers share (--num-poses 2) may run twice on one frame (it warned "timestamp N ms is not after N ms")
        ts = self._timestamp(int(ts)) if self.opts.mode is not RunningMode.IMAGE else int(ts)
        try:
            if self.opts.mode is not RunningMode.LIVE:
                self.fresh = True
                size = (rgb.shape[1], rgb.shape[0])
                if self.opts.mode is RunningMode.IMAGE:
                    return self._convert(self._landmarker.detect(mp_image), ts, size)
                return self._convert(self._landmarker.detect_for_video(mp_image, ts), ts, size)
            self._landmarker.detect_async(mp_image, ts)
        except (RuntimeError, ValueError) as e:
            raise SourceError(f"pose estimation failed on the frame at {ts} ms: {e}") from None
        with self._lock:
            latest, latest_ts = self._latest, self._latest_ts
        if ts - latest_ts > LIVE_MAX_AGE_MS:  # MediaPipe's last answer is of a frame long past (the stage was not
            self.fresh = False  # called for a while, e.g. while crops followed the person): not this frame's people
            return []
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


class RoiPoseEstimator:
    """A :class:`PoseEstimator` with a region-of-interest second pass (see :mod:`realtime.pose.roi`).

    Three MediaPipe landmarkers share the model: the full-frame one (``opts`` as given), the crop one
    (``roi.crop_mode``, VIDEO by default: it tracks between crops; one person) and the detector one (IMAGE mode: its
    person detector runs on every call; tiles and retries).

    Args:
        opts: the pose options.
        roi: the region-of-interest options.
        model: a resolved pose model (None: resolved from ``opts``).
        full, tile_stage: landmarkers shared with other people's trackers (:class:`MultiRoiPoseEstimator`); None
            creates this tracker's own.

    Attributes:
        last_source: "full", "crop", "tile" or "none": where the latest result came from (for measurements).
        crops: crop and tile estimations run; full_runs: full-frame ones; retries: crops searched again by the
            detector landmarker; landmarker_runs: all of them.
    """

    def __init__(
        self,
        opts: Any = None,
        roi: RoiOptions | None = None,
        model: Any = None,
        *,
        full: Any = None,
        tile_stage: Any = None,
    ):
        self.opts = opts or PoseOptions()
        self.roi = roi or RoiOptions()
        self.full = full if full is not None else PoseEstimator(self.opts, model)
        crop_opts = replace(self.opts, mode=RunningMode(self.roi.crop_mode), num_poses=1, mirror=False)
        if self.roi.crop_confidence is not None:  # the crop is placed on the person already: a lower bar is safe
            c = self.roi.crop_confidence
            crop_opts = replace(
                crop_opts, min_detection_confidence=c, min_presence_confidence=c, min_tracking_confidence=c
            )
        self.crop_stage = PoseEstimator(crop_opts, self.full.model) if self.roi.enabled else None
        # tiles jump across the frame: MediaPipe's tracking from the previous call (another place) would only mislead
        # it, so they get their own landmarker with the detector on every call (and leave the crops' tracking alone)
        tile_opts = replace(crop_opts, mode=RunningMode.IMAGE)
        if tile_stage is None and self.roi.enabled and self.roi.tile_frac > 0:
            tile_stage = PoseEstimator(tile_opts, self.full.model)
        self.tile_stage = tile_stage
        self._box: np.ndarray | None = None
        self._prev: np.ndarray | None = None
        self._elapsed = 1  # frames between _prev and _box
        self._missing = 0
        self._ref = 0.0  # the tracked person's recent size: longer side of their box in pixels
        self._last_seen: tuple[np.ndarray, float] | None = None  # (centre, size) of the last person lost
        self._tile = 0
        self._crop_ts = -1
        self._window: tuple[int, int, int] | None = None  # the crop window held in place (RoiOptions.hold)
        self.last_source = "none"
        self.crops = 0
        self.full_runs = 0
        self.retries = 0
        self.fresh = True

    @property
    def model(self) -> Any:
        return self.full.model

    @property
    def landmarker_runs(self) -> int:
        """MediaPipe calls so far, full frame and crops together (the ROI stage's cost in model runs)."""
        return self.full_runs + self.crops

    def _remember(self, box: np.ndarray | None, source: str = "crop") -> None:
        if box is None:
            self._missing += 1
            if self._missing >= self.roi.lost_after:
                if self._box is not None:  # where and how big the person was: the search starts there, at that scale
                    self._last_seen = ((self._box[:2] + self._box[2:]) / 2, self._ref)
                self._box = self._prev = self._window = None
                self._ref = 0.0
            return
        if source != "crop":
            self._window = None
        long_side = float(max(box[2] - box[0], box[3] - box[1]))
        self._ref = long_side if self._ref <= 0 else max(0.8 * self._ref + 0.2 * long_side, long_side)
        # the velocity is the displacement per frame since the last box, gaps included; a person found by the tile
        # search is a new detection (often another person than the one lost): no velocity from the old box, which
        # would predict a jump of the whole distance between the two places
        self._prev = None if source == "tile" else self._box
        self._elapsed = self._missing + 1
        self._box, self._missing = box, 0
        if source != "tile":  # confirmed by a crop or the full frame: the next search starts at the nearest tile
            self._tile = 0  # (a tile find keeps the round going, or an unconfirmed false find would be found again)

    def _forget(self) -> None:
        """Track nobody (the person followed turned out to be someone another tracker holds)."""
        self._box = self._prev = self._last_seen = self._window = None
        self._ref, self._missing, self._tile = 0.0, 0, 0

    def _search_tiles(self, size: tuple[int, int]) -> list[tuple[int, int, int]]:
        """The search grid: for a person seen before, tiles about 4 times their size (a small person in a coarse tile
        is too small for the detector), nearest to where they were first; else ``tile_frac`` of the frame, then
        finer grids (``tile_scales``), coarse first."""
        short = min(size)
        seen = self._last_seen if self._box is None else ((self._box[:2] + self._box[2:]) / 2, self._ref)
        frac = self.roi.tile_frac
        if seen is not None and seen[1] > 0:
            tiles = tile_windows(size, min(frac, max(4.0 * seen[1], 160.0) / short))
        else:
            tiles = [t for k in range(self.roi.tile_scales) for t in tile_windows(size, frac / 2**k)]
        if seen is not None:
            c = seen[0]
            tiles.sort(key=lambda t: float(np.hypot(t[0] + t[2] / 2 - c[0], t[1] + t[2] / 2 - c[1])))
        return tiles

    def _steady(self, box: np.ndarray) -> np.ndarray:
        """``box`` grown about its centre to at least the person's recent size (a poor estimate that covers only the
        upper body must not shrink the next crop until the person no longer fits it)."""
        long_side = float(max(box[2] - box[0], box[3] - box[1]))
        if long_side >= self._ref:
            return box
        c, half = (box[:2] + box[2:]) / 2, self._ref / 2
        return np.array([c[0] - half, c[1] - half, c[0] + half, c[1] + half])

    def _on_crop(self, image: np.ndarray, window: tuple[int, int, int], ts: int, tile: bool = False) -> list[Any]:
        import cv2

        left, top, side = window
        crop = image[top : top + side, left : left + side]
        if self.opts.mirror:
            crop = crop[:, ::-1]
        n = self.roi.crop_size
        crop = cv2.resize(np.ascontiguousarray(crop), (n, n), interpolation=cv2.INTER_LINEAR)
        self.crops += 1
        self._crop_ts = max(self._crop_ts + 1, ts)  # a crop and a tile may run on the same frame
        stage = self.tile_stage if tile and self.tile_stage is not None else self.crop_stage
        found = stage(crop, self._crop_ts)
        if not found:
            return []
        size = (image.shape[1], image.shape[0])
        out = []
        for sk in found:
            img = sk.image.copy()
            if self.opts.mirror:
                img[:, 0] = 1.0 - img[:, 0]
            img = crop_to_frame(img, window, size)
            out.append(replace(sk, image=img, image_size=size, mirrored=self.opts.mirror))
        return out

    def _box_of(self, sk: Any, size: tuple[int, int]) -> np.ndarray | None:
        return landmark_box(sk.image, size, sk.presence)

    def _accept(
        self, found: list[Any], box: np.ndarray | None, source: str, window: tuple[int, int, int] | None = None
    ) -> list[Any] | None:
        """``found`` as the frame's result when its box is plausible and (for a crop) centred inside the crop
        ``window`` (then it is the tracked box), else None."""
        if not plausible_box(box) or (window is not None and not box_in_window(box, window)):
            return None
        if (
            window is not None
            and self._ref > 0
            and max(box[2] - box[0], box[3] - box[1]) < self.roi.min_size_ratio * self._ref
        ):
            return None  # a crop's pose far smaller than the person tracked: a part of them or a thing, not them
        self._remember(box, source)
        self.last_source = source
        self.fresh = True
        return found

    def _try_crop(
        self, image: np.ndarray, box: np.ndarray, margin: float, ts: int, source: str, hold: bool = False
    ) -> list[Any] | None:
        """Estimate on the square crop around ``box`` (grown by ``margin``); the result if accepted, else None.
        ``hold``: the window of the previous accepted crop is kept while ``box`` lies well inside it
        (``RoiOptions.hold``)."""
        size = (image.shape[1], image.shape[0])
        steady = self._steady(box)
        win = crop_window(steady, size, margin)
        if win is None:
            self._window = None
            return None
        if hold and self._window is not None and keep_window(self._window, steady, win):
            win = self._window
        found = self._on_crop(image, win, ts)
        box = self._box_of(found[0], size) if found else None
        if (accepted := self._accept(found, box, source, win)) is not None or not self.roi.retry:
            self._window = win if accepted is not None and hold else None
            return accepted
        # MediaPipe (VIDEO mode) tracks from its previous result: when that yields nobody, it runs its detector only
        # on the NEXT call, and when it yields a wrong pose (a barbell, a part of the person) it keeps tracking that.
        # Search the same crop at once with the detector (the tile landmarker runs it on every call).
        self.retries += 1
        found = self._on_crop(image, win, ts, tile=True)
        box = self._box_of(found[0], size) if found else None
        accepted = self._accept(found, box, source, win)
        self._window = win if accepted is not None and hold else None
        return accepted

    def _small(self, box: np.ndarray | None, size: tuple[int, int]) -> bool:
        return box is not None and box[3] - box[1] < self.roi.max_height_frac * size[1]

    def _follow(self, image: np.ndarray, ts: int) -> list[Any] | None:
        """The tracked person estimated on the crop around their predicted box (then a wider one), when they are
        small; None when nobody is tracked, they are large, or neither crop holds an accepted pose."""
        if not self._small(self._box, (image.shape[1], image.shape[0])):
            return None
        pred = predict_box(self._box, self._prev, elapsed=self._elapsed, max_speed=self.roi.max_speed)
        margins = (self.roi.margin, self.roi.margin * self.roi.search_growth) if self.roi.search_growth > 1 else ()
        for i, margin in enumerate(margins or (self.roi.margin,)):
            if (accepted := self._try_crop(image, pred, margin, ts, "crop", hold=self.roi.hold and i == 0)) is not None:
                return accepted
        return None

    def __call__(self, frame: Any, timestamp_ms: int | None = None) -> list[Any]:
        """Estimate the poses in one frame (the same contract as :class:`realtime.pose.stage.PoseEstimator`)."""
        image = getattr(frame, "image", frame)
        ts = getattr(frame, "timestamp_ms", None) if timestamp_ms is None else timestamp_ms
        if image is None or self.crop_stage is None:
            self.full_runs += 1
            out = self.full(frame, timestamp_ms)
            self.fresh = self.full.fresh
            self.last_source = "full" if out else "none"
            return out
        if ts is None:
            raise ValueError("a bare image needs timestamp_ms")
        size = (image.shape[1], image.shape[0])
        if (accepted := self._follow(image, int(ts))) is not None:
            return accepted
        self.full_runs += 1
        found = self.full(frame, timestamp_ms)
        self.fresh = self.full.fresh
        if found:
            box = self._box_of(found[0], size)
            if box is not None and box[3] - box[1] < min(self.roi.min_box, self.roi.max_height_frac * size[1]):
                if (accepted := self._try_crop(image, box, self.roi.margin, int(ts), "crop")) is not None:
                    return accepted
            self._remember(box, "full")
            self.last_source = "full"
            return found
        searching = self._box is None or self._missing >= 1  # nobody tracked, or the track was just lost
        if searching and min(size) >= self.roi.tile_min_side:
            tiles = self._search_tiles(size)
            if tiles:
                win = tiles[self._tile % len(tiles)]
                self._tile += 1
                found = self._on_crop(image, win, int(ts), tile=True)
                box = self._box_of(found[0], size) if found else None
                if plausible_box(box) and box_in_window(box, win):
                    # a person found in a coarse tile is refined at once on a crop around them (the tile's estimate
                    # of a small person is poor), and the tile's own result kept when the crop finds nobody
                    if (accepted := self._try_crop(image, box, self.roi.margin, int(ts), "tile")) is not None:
                        return accepted
                    if (accepted := self._accept(found, box, "tile", win)) is not None:
                        return accepted
        self._remember(None)
        self.last_source = "none"
        return []

    def close(self) -> None:
        self.full.close()
        for stage in (self.crop_stage, self.tile_stage):
            if stage is not None:
                stage.close()

    def __enter__(self) -> RoiPoseEstimator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MultiRoiPoseEstimator:
    """The region-of-interest stage for up to ``opts.num_poses`` people (``--num-poses`` 2 or more).

    One :class:`RoiPoseEstimator` per person slot, each with its own crop landmarker (MediaPipe's VIDEO mode tracks
    one person between calls), sharing the full-frame landmarker (``num_poses`` people) and the detector one. Per
    frame: every small person tracked is estimated on the crop around their predicted box, as with one person;
    the full frame runs too (unlike one person, whose crop replaces it: anyone may step in; while every person tracked
    is followed by their crop, only on every ``roi.full_every``-th frame), and each of
    its people not already found by a crop goes to the slot tracking them (nearest box within the person's size)
    or to a free slot, and is refined on a crop when small; when nobody at all is found, one tile of the search grid
    is searched (for a slot whose person was just lost first, near where they were), as with one person. Two slots never
    hold the same person: a crop's pose that is another slot's person (boxes overlapping by more than
    ``SAME_PERSON_IOU``, or shoulders and hips within half a torso: :meth:`_same`) is dropped and its slot freed.
    Known limit: a "person" MediaPipe itself finds on a background object (the plain stage too) has a different
    garbage pose in every estimate, so two slots can both hold it (seen by hand on the mirrored left part of the NTU
    hug video); real people's estimates agree and are held once.

    Args:
        opts: the pose options (``num_poses`` >= 1).
        roi: the region-of-interest options.
        model: a resolved pose model (None: resolved from ``opts``).

    Attributes:
        trackers: one :class:`RoiPoseEstimator` per person slot (their ``full_runs`` stay 0: the full frame is
            this object's).
        last_source: where the first person of the latest result came from ("full", "crop", "tile", "none").
    """

    SAME_PERSON_IOU = 0.6

    def __init__(self, opts: Any = None, roi: RoiOptions | None = None, model: Any = None):
        self.opts = opts or PoseOptions()
        self.roi = roi or RoiOptions()
        self.full = PoseEstimator(self.opts, model)
        first = RoiPoseEstimator(self.opts, self.roi, full=self.full)
        self.trackers = [first] + [
            RoiPoseEstimator(self.opts, self.roi, full=self.full, tile_stage=first.tile_stage)
            for _ in range(self.opts.num_poses - 1)
        ]
        self.full_runs = 0
        self._frames = 0
        self.last_source = "none"
        self.fresh = True

    @property
    def model(self) -> Any:
        return self.full.model

    @property
    def crops(self) -> int:
        return sum(t.crops for t in self.trackers)

    @property
    def retries(self) -> int:
        return sum(t.retries for t in self.trackers)

    @property
    def landmarker_runs(self) -> int:
        """MediaPipe calls so far, full frame and crops together."""
        return self.full_runs + self.crops

    @staticmethod
    def _torso(sk: Any) -> np.ndarray:
        """Shoulders and hips [4, 2] in pixels."""
        return np.asarray(sk.image, np.float64)[_TORSO] * np.asarray(sk.image_size, np.float64)

    def _same(self, sk: Any, taken: list[Any]) -> bool:
        """Is ``sk`` one of the people in ``taken``: their boxes overlap by more than ``SAME_PERSON_IOU``, or their
        shoulders and hips lie within half a torso of each other (two estimates of one person differ in the limbs,
        which move the box: a wide tai chi stance gave boxes overlapping by only 0.41; two people, even hugging,
        have torsos apart)."""
        size = sk.image_size
        box = landmark_box(sk.image, size, sk.presence)
        torso = self._torso(sk)
        for other in taken:
            ob = landmark_box(other.image, other.image_size, other.presence)
            if box is not None and ob is not None and box_overlap(box, ob) > self.SAME_PERSON_IOU:
                return True
            ot = self._torso(other)
            height = float(np.hypot(*(ot[:2].mean(0) - ot[2:].mean(0))))
            if float(np.hypot(*(torso - ot).T).mean()) < 0.5 * max(height, 1.0):
                return True
        return False

    def _slot_for(self, box: np.ndarray, busy: set[int]) -> int | None:
        """The slot tracking the person at ``box`` (nearest box centre within the larger of the two sizes), else a
        free slot, else None."""
        centre, best, best_d = (box[:2] + box[2:]) / 2, None, np.inf
        for k, t in enumerate(self.trackers):
            if k in busy or t._box is None:
                continue
            d = float(np.hypot(*((t._box[:2] + t._box[2:]) / 2 - centre)))
            if d < max(t._ref, float(max(box[2] - box[0], box[3] - box[1]))) and d < best_d:
                best, best_d = k, d
        if best is None:
            best = next((k for k, t in enumerate(self.trackers) if k not in busy and t._box is None), None)
        return best

    def _search(self, image: np.ndarray, ts: int, results: dict[int, list[Any]], taken: list[Any]) -> None:
        """One tile of the search grid when nobody was found this frame, for a slot whose person was just lost
        first. Not while someone is in view: on the NTU hug clip (large people) a search for a second person found
        a 70 px "person" in the background and followed it (a phantom track the recogniser would score); with
        nobody in view the search is the one-person stage's."""
        size = (image.shape[1], image.shape[0])
        idle = [k for k in range(len(self.trackers)) if k not in results]
        if results or not idle or min(size) < self.roi.tile_min_side or self.trackers[0].tile_stage is None:
            return
        k = min(idle, key=lambda i: (self.trackers[i]._box is None, self.trackers[i]._last_seen is None))
        t = self.trackers[k]
        tiles = t._search_tiles(size)
        if not tiles:
            return
        win = tiles[t._tile % len(tiles)]
        t._tile += 1
        found = t._on_crop(image, win, ts, tile=True)
        box = t._box_of(found[0], size) if found else None
        if not (plausible_box(box) and box_in_window(box, win)) or self._same(found[0], taken):
            return
        accepted = t._try_crop(image, box, self.roi.margin, ts, "tile")
        if accepted is not None and self._same(accepted[0], taken):
            t._forget()
            return
        if accepted is None:
            accepted = t._accept(found, box, "tile", win)
        if accepted is not None:
            results[k] = accepted
            taken.append(accepted[0])

    def __call__(self, frame: Any, timestamp_ms: int | None = None) -> list[Any]:
        """Estimate the poses in one frame (the same contract as :class:`realtime.pose.stage.PoseEstimator`)."""
        image = getattr(frame, "image", frame)
        ts = getattr(frame, "timestamp_ms", None) if timestamp_ms is None else timestamp_ms
        self._frames += 1
        if image is None or not self.roi.enabled:
            self.full_runs += 1
            out = self.full(frame, timestamp_ms)
            self.fresh = self.full.fresh
            self.last_source = "full" if out else "none"
            return out
        size, ts = (image.shape[1], image.shape[0]), int(ts)
        results: dict[int, list[Any]] = {}
        taken: list[Any] = []  # the first skeleton of each slot's result
        for k, t in enumerate(self.trackers):  # small people: their own crops
            if (accepted := t._follow(image, ts)) is None:
                continue
            if self._same(accepted[0], taken):  # this slot's crop found another slot's person: let go
                t._forget()
                continue
            results[k] = accepted
            taken.append(accepted[0])
        followed = bool(results) and all(k in results for k, t in enumerate(self.trackers) if t._box is not None)
        if followed and self._frames % self.roi.full_every:  # everyone tracked is on their crop: skip the full frame
            found, self.fresh = [], True
        else:
            self.full_runs += 1
            found = self.full(frame, timestamp_ms)
            self.fresh = self.full.fresh
        for sk in found:
            box = landmark_box(sk.image, size, sk.presence)
            if not plausible_box(box) or self._same(sk, taken):
                continue
            k = self._slot_for(box, set(results))
            if k is None:
                continue
            t = self.trackers[k]
            accepted = None
            if box[3] - box[1] < min(self.roi.min_box, self.roi.max_height_frac * size[1]):
                accepted = t._try_crop(image, box, self.roi.margin, ts, "crop")
            if accepted is None:
                t._remember(box, "full")
                t.last_source, accepted = "full", [sk]
            results[k] = accepted
            taken.append(accepted[0])
        self._search(image, ts, results, taken)
        for k, t in enumerate(self.trackers):
            if k not in results:
                t._remember(None)
                t.last_source = "none"
        order = sorted(results)
        self.last_source = self.trackers[order[0]].last_source if order else "none"
        return [sk for k in order for sk in results[k]]

    def close(self) -> None:
        for t in self.trackers:  # each closes the shared full-frame and tile stages too; closing is idempotent
            t.close()

    def __enter__(self) -> MultiRoiPoseEstimator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_pose_stage(opts: PoseOptions | None = None, model: PoseModel | None = None) -> Any:
    """The pose stage the pipeline runs: with ``opts.roi`` enabled a :class:`RoiPoseEstimator` (``num_poses`` 1)
    or a :class:`MultiRoiPoseEstimator` (more), else a plain :class:`PoseEstimator`. All are
    ``stage(frame) -> list[Skeleton]`` with ``model``, ``fresh`` and ``close()``."""
    opts = opts or PoseOptions()
    if not opts.roi.enabled:
        return PoseEstimator(opts, model)
    if opts.num_poses == 1:
        return RoiPoseEstimator(opts, opts.roi, model)
    return MultiRoiPoseEstimator(opts, opts.roi, model)
