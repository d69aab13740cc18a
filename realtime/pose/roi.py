"""Region of interest for small and far people: crop around the tracked person, upscale, estimate, map back.

MediaPipe's pose detector looks at the whole frame letterboxed to 224x224, so a person 80 px tall in a
640x480 frame is ~35 px tall where the detector looks, and detection fails. :class:`realtime.pose.RoiPoseEstimator`
wraps a :class:`realtime.pose.stage.PoseEstimator` (the full-frame stage, unchanged) with a second landmarker
that runs on a crop:

1. when the previous frame had a pose, the crop is the person's landmark box predicted one frame ahead
   (constant velocity of the box centre, :func:`predict_box`), never smaller than the person's recent size
   (a poor estimate covering only the upper body does not shrink the next crop), expanded by ``margin`` and
   made square (:func:`crop_window`); it is resized so that its side is ``crop_size`` px (upscaled for small
   people), and the pose is estimated on it by a landmarker that tracks between crops (MediaPipe VIDEO mode);
   when that finds nobody or a pose that is not accepted (below), the same crop goes at once to a second
   landmarker that runs its person detector on every call (``retry``); landmarks are mapped back to the frame
   (:func:`crop_to_frame`);
2. when that finds nobody, a crop ``search_growth`` times wider around the same prediction is tried
   (re-detection from the tracker's prediction);
3. when that finds nobody too (or there is no previous pose), the full frame is tried as before;
4. a full-frame result whose person is smaller than ``min_box`` px is refined at once on its crop;
5. when nobody is tracked (or the track was lost in the previous frame) and the full frame finds nobody,
   one tile of a grid over the frame is searched per frame, in turn (:func:`tile_windows`), by the detector
   landmarker: re-detection of people too small for the full-frame detector, at the cost of one more landmarker
   run on frames where nobody is found. For a person seen before, the tiles are about 4 times their size and
   searched nearest to where they were first; a person found in a tile is refined at once on a crop around
   them. Detections from crops and tiles must have a plausible box (:func:`plausible_box`) centred inside their
   crop (:func:`box_in_window`) and, for crops, not far smaller than the person tracked (``min_size_ratio``).

A person taller than ``max_height_frac`` of the frame height uses the full frame only. A tracked smaller
person costs one landmarker run on the crop instead of one on the full frame, plus a resize. The world
landmarks do not depend on the crop; image landmarks come back in the frame's normalised coordinates,
so everything downstream (mapping, overlay, tracking) is unchanged. With ``num_poses`` 2 or more,
:class:`realtime.pose.stage.MultiRoiPoseEstimator` runs one such tracker per person beside the full frame (which
then runs on every frame, or every ``full_every``-th while each person is followed by a crop), and searches tiles
only while nobody is found.
This module holds the options and the geometry (numpy only); the estimator that uses them lives beside
:class:`realtime.pose.stage.PoseEstimator` in :mod:`realtime.pose.stage`, which imports this module (one way).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sadvae.errors import ConfigError

__all__ = [
    "RoiOptions",
    "landmark_box",
    "plausible_box",
    "box_in_window",
    "box_overlap",
    "predict_box",
    "crop_window",
    "keep_window",
    "crop_to_frame",
    "tile_windows",
]


@dataclass(frozen=True)
class RoiOptions:
    """Settings of the region-of-interest stage.

    Attributes:
        enabled: use crops at all (``--roi`` / ``--no-roi``).
        margin: the crop is the landmark box grown by this factor around its centre (1.6: room for raised
            arms and a step between frames).
        crop_size: side in pixels the square crop is resized to before estimation (256 = the landmark
            model's input, so a small person is upscaled to fill it).
        max_height_frac: people taller than this share of the frame height are estimated on the full frame
            only: the full-frame detector finds them (100 % of frames on the shrunk "lowres" videos of
            docs/small_figures.md), and a crop costs more than MediaPipe's own tracking on the full frame.
        min_box: a full-frame pose whose box height is below this many pixels is refined on its crop.
        lost_after: frames without a pose after which the last box is forgotten.
        tile_frac: side of the search tiles as a share of the frame's shorter side (0 disables the search).
        tile_min_side: frames whose shorter side is below this many pixels are not searched by tiles.
        tile_scales: while nobody has been seen, the search grid is walked at ``tile_frac`` and then at half
            that side, and so on, this many sizes: a person under about a fifth of a coarse tile is too small for
            the detector there (MediaPipe looks at a tile through a 224 px letterbox) and is found by a finer one.
        retry: when the crop landmarker finds nobody or a pose that is not accepted, search the same crop at once
            with the detector landmarker. In VIDEO mode MediaPipe tracks from its previous result: when that fails
            it runs its person detector only on the next call (on small figures every other frame was lost), and
            when it tracks a wrong pose (a barbell) it keeps tracking it.
        search_growth: when the crop around the predicted box finds nobody, a second crop this many times wider
            around the same prediction (re-detection from the tracker's prediction; 1 disables it).
        crop_confidence: detection / presence / tracking thresholds of the crop landmarker (None: the pose
            options' own).
        crop_mode: "video" (MediaPipe tracks between crops) or "image" (its detector runs on every crop; measured
            worse on the basketball clip, 67-80 % vs 80-95 % at 80-150 px).
        min_size_ratio: a pose found in a crop whose box's longer side is below this share of the tracked person's
            recent size is rejected (people do not halve in size from one frame to the next; such boxes are
            a hand, a ball, a part of the person).
        full_every: with several people (``num_poses`` > 1), while every person tracked is followed by their own
            crop, the full frame runs only on every this-many-th frame (to find people who step in); 1 = every frame.
        max_speed: the predicted box moves at most this many person sizes (the box's longer side) per frame. A
            sprinter at 30 fps covers about 0.15 of their height per frame; a larger step comes from a wrong
            estimate, and following it sends the next crop off the person.
        hold: the crop window stays where it is while the person's predicted box still lies well inside it
            (:func:`keep_window`) instead of moving and resizing with every frame's box. In VIDEO mode MediaPipe
            carries its previous pose into the next crop in the crop's own coordinates, which a moving window
            misplaces: held, the limb joints of 80-150 px people land at p90 5.1 % of their height from the
            full-size frame's (9.6 % moving; IMAGE mode 14.4 %) and at 5.2-5.3 % from Kinect's on NTU A001 (6.5-7.0
            % moving), with the same detection rates (docs/camera_gap.md section 8, 6 December 2026).
    """

    enabled: bool = True
    margin: float = 1.6
    crop_size: int = 256
    max_height_frac: float = 0.25
    min_box: int = 160
    lost_after: int = 15
    tile_frac: float = 0.6
    tile_min_side: int = 360
    tile_scales: int = 2
    retry: bool = True
    search_growth: float = 1.75
    crop_confidence: float | None = None
    crop_mode: str = "video"
    min_size_ratio: float = 0.5
    max_speed: float = 0.25
    full_every: int = 4
    hold: bool = True

    def __post_init__(self) -> None:
        if not self.margin >= 1.0:
            raise ConfigError(f"RoiOptions.margin must be >= 1, got {self.margin!r}")
        if not (isinstance(self.crop_size, int) and 64 <= self.crop_size <= 2048):
            raise ConfigError(f"RoiOptions.crop_size must be an integer in [64, 2048], got {self.crop_size!r}")
        if not 0.0 < self.max_height_frac <= 1.0:
            raise ConfigError(f"RoiOptions.max_height_frac must be in (0, 1], got {self.max_height_frac!r}")
        if not 0.0 <= self.tile_frac <= 1.0:
            raise ConfigError(f"RoiOptions.tile_frac must be in [0, 1], got {self.tile_frac!r}")
        if isinstance(self.tile_scales, bool) or not (isinstance(self.tile_scales, int) and 1 <= self.tile_scales <= 4):
            raise ConfigError(f"RoiOptions.tile_scales must be an integer in [1, 4], got {self.tile_scales!r}")
        if self.lost_after < 1 or self.min_box < 0:
            raise ConfigError("RoiOptions.lost_after must be >= 1 and min_box >= 0")
        if not self.search_growth >= 1.0:
            raise ConfigError(
                f"RoiOptions.search_growth must be >= 1 (1 = no wider search), got {self.search_growth!r}"
            )
        if self.crop_confidence is not None and not 0.0 <= self.crop_confidence <= 1.0:
            raise ConfigError(f"RoiOptions.crop_confidence must be in [0, 1] or None, got {self.crop_confidence!r}")
        if not 0.0 <= self.min_size_ratio < 1.0:
            raise ConfigError(f"RoiOptions.min_size_ratio must be in [0, 1), got {self.min_size_ratio!r}")
        if not self.max_speed > 0.0:
            raise ConfigError(f"RoiOptions.max_speed must be > 0 person sizes per frame, got {self.max_speed!r}")
        if isinstance(self.full_every, bool) or not (isinstance(self.full_every, int) and self.full_every >= 1):
            raise ConfigError(f"RoiOptions.full_every must be an integer >= 1, got {self.full_every!r}")
        if self.crop_mode not in ("video", "image"):
            raise ConfigError(f"RoiOptions.crop_mode must be 'video' or 'image', got {self.crop_mode!r}")


def landmark_box(
    image_xy: np.ndarray, size: tuple[int, int], scores: np.ndarray | None = None, min_score: float = 0.3
) -> np.ndarray | None:
    """The box [x0, y0, x1, y1] in pixels around one person's image landmarks.

    Args:
        image_xy: [33, 2] normalised image landmarks (x right, y down).
        size: (width, height) of the frame.
        scores: [33] presence scores; landmarks below ``min_score`` are ignored (all used when None).
        min_score: see ``scores``.

    Returns:
        float64 [4], or None when fewer than 4 usable landmarks remain.
    """
    p = np.asarray(image_xy, dtype=np.float64)
    ok = np.isfinite(p).all(axis=-1)
    if scores is not None:
        ok &= np.asarray(scores) >= min_score
    if ok.sum() < 4:
        return None
    q = p[ok] * np.asarray(size, dtype=np.float64)
    return np.array([q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max()])


def plausible_box(box: np.ndarray | None, min_side: float = 24.0, min_aspect: float = 0.15) -> bool:
    """Whether a landmark box can be a person: its longer side is at least ``min_side`` px and its shorter side
    at least ``min_aspect`` of the longer (a person standing with the arms down is about 0.25 as wide as tall;
    not a sliver or a dot). Crops
    and tiles see small images, where MediaPipe now and then "finds" a person in a barbell or a shadow."""
    if box is None:
        return False
    w, h = float(box[2] - box[0]), float(box[3] - box[1])
    return max(w, h) >= min_side and min(w, h) >= min_aspect * max(w, h)


def box_in_window(box: np.ndarray, window: tuple[int, int, int]) -> bool:
    """Whether the centre of ``box`` [x0, y0, x1, y1] lies inside the square crop ``window`` (x0, y0, side): a pose
    the landmark model "found" in a crop but placed mostly outside it is an extrapolation, not a person."""
    left, top, side = window
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return bool(left <= cx <= left + side and top <= cy <= top + side)


def box_overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boxes [x0, y0, x1, y1] (the tracker's ``box_iou`` is pairwise over sets; the
    pose stage may not import the tracking stage)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(float(w), 0.0) * max(float(h), 0.0)
    union = float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])) - inter
    return inter / union if union > 0 else 0.0


def predict_box(
    box: np.ndarray, prev: np.ndarray | None, steps: int = 1, elapsed: int = 1, max_speed: float | None = None
) -> np.ndarray:
    """``box`` moved ``steps`` frames ahead by the velocity of its centre since ``prev`` (constant velocity).

    ``elapsed``: frames from ``prev`` to ``box`` (more than 1 when frames without a pose lie between them: the
    velocity is the displacement per frame). ``max_speed``: the speed is clipped to this many box sizes (longer
    side) per frame. The size is kept; with no previous box the box is returned unchanged.
    """
    box = np.asarray(box, dtype=np.float64)
    if prev is None:
        return box.copy()
    if elapsed < 1:
        raise ValueError(f"elapsed must be >= 1 frame, got {elapsed}")
    c, c0 = (box[:2] + box[2:]) / 2, (prev[:2] + prev[2:]) / 2
    v = (c - c0) / elapsed
    if max_speed is not None:
        limit = max_speed * float(max(box[2] - box[0], box[3] - box[1]))
        speed = float(np.hypot(*v))
        if speed > limit:
            v = v * (limit / speed)
    v = v * steps
    return box + np.concatenate([v, v])


def crop_window(box: np.ndarray, size: tuple[int, int], margin: float) -> tuple[int, int, int] | None:
    """The square crop (x0, y0, side) in pixels around ``box`` grown by ``margin``, kept inside the frame.

    The side is ``margin`` times the box's longer side, at least 16 px and at most the frame's shorter side;
    the square is shifted (not shrunk) to stay inside the frame. None when the box lies entirely outside.
    """
    w, h = size
    x0, y0, x1, y1 = (float(v) for v in box)
    if x1 < 0 or y1 < 0 or x0 > w or y0 > h:
        return None
    side = int(round(min(max(16.0, margin * max(x1 - x0, y1 - y0)), min(w, h))))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left = int(round(min(max(cx - side / 2, 0.0), w - side)))
    top = int(round(min(max(cy - side / 2, 0.0), h - side)))
    return left, top, side


def keep_window(
    window: tuple[int, int, int],
    box: np.ndarray,
    new: tuple[int, int, int],
    inner: float = 1.25,
    min_ratio: float = 0.8,
) -> bool:
    """Whether the crop ``window`` (x0, y0, side) can stay in place for ``box`` instead of moving to ``new`` (the
    window :func:`crop_window` makes around ``box``): ``box`` grown by ``inner`` about its centre lies inside
    ``window``, and ``new`` is not much smaller (``min_ratio`` of the side: a person who shrank gets the
    upscaling back)."""
    left, top, side = window
    if new[2] < min_ratio * side:
        return False
    c = (np.asarray(box[:2], np.float64) + np.asarray(box[2:], np.float64)) / 2
    half = inner * (np.asarray(box[2:], np.float64) - np.asarray(box[:2], np.float64)) / 2
    lo, hi = c - half, c + half
    return bool(lo[0] >= left and lo[1] >= top and hi[0] <= left + side and hi[1] <= top + side)


def crop_to_frame(image_xy: np.ndarray, window: tuple[int, int, int], size: tuple[int, int]) -> np.ndarray:
    """Landmarks normalised to the crop [..., 2] -> normalised to the frame (the inverse of the crop)."""
    left, top, side = window
    p = np.asarray(image_xy, dtype=np.float32)
    out = np.empty_like(p)
    out[..., 0] = (p[..., 0] * side + left) / size[0]
    out[..., 1] = (p[..., 1] * side + top) / size[1]
    return out


def tile_windows(size: tuple[int, int], frac: float, overlap: float = 0.25) -> list[tuple[int, int, int]]:
    """Square search tiles (x0, y0, side) covering a frame, row by row.

    The side is ``frac`` times the frame's shorter side; neighbouring tiles overlap by at least ``overlap``
    of the side, and the last tile of each row and column touches the frame's edge. [] when ``frac`` is 0.
    """
    w, h = size
    side = int(round(frac * min(w, h)))
    if side < 1:
        return []
    step = max(1.0, side * (1.0 - overlap))

    def starts(extent: int) -> list[int]:
        if extent <= side:
            return [0]
        n = int(np.ceil((extent - side) / step)) + 1
        return [int(round(i * (extent - side) / (n - 1))) for i in range(n)]

    return [(x, y, side) for y in starts(h) for x in starts(w)]
