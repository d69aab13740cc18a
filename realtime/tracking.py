"""Multi-person tracking: stable integer ids across frames (numpy only).

Every frame the pose stage gives one :class:`Detection` per person in view. The tracker matches
them to its tracks by an exact minimum-cost assignment (:func:`assign`, the Hungarian method) on
a cost that mixes

- box overlap, ``1 - IoU`` of the detection's box and the track's *predicted* box (the last box
  moved by the track's velocity: two people who cross paths differ in where each was heading);
- centre distance, in mean box diagonals (scale-free: near and far people alike). Normalised image
  coordinates divide x by the frame's width and y by its height, so the tracker first scales x by
  the detection's :attr:`Detection.aspect` (width / height): distances and diagonals are then in
  units of the frame height, the same in every direction (on a 16:9 frame a sideways step is not
  worth 1.78x less than the same step up or down);
- posture distance: mean joint distance (metres, over ``pose_scale_m``) between the detection's
  NTU-25 joints and the track's last ones. MediaPipe world joints are hip-centred, so this
  compares postures, not positions: it separates people whose boxes coincide.

Pairs further apart than ``max_centre_distance`` or costing more than ``max_cost`` never match.
Confirmed tracks are matched first, tentative ones take what is left. A new detection opens a
tentative track; after ``min_hits`` matched frames it gets the next integer id (0, 1, 2, ...) and
is reported in :attr:`Tracker.started`. A confirmed track ends after ``max_missed_ms`` without a
detection (:attr:`Tracker.ended`); a shorter gap (occlusion, a missed pose) keeps its id. A
tentative track that misses a frame is dropped silently.

Boxes are ``(x0, y0, x1, y1)`` in normalised image coordinates. A detection without a box gets
the extent of its image landmarks, else the x/y extent of its joints (meaningful only when the
joints share one camera frame, as in Kinect recordings). A detection whose frame size is unknown
(replays, demos: metric joints) has ``aspect`` 1: its coordinates are used as they are.

A detection that carries an :attr:`Detection.identity` (a replayed ``--record-skeleton`` recording's track id)
matches the track of that identity and no other, whatever the geometry: recorded MediaPipe joints are hip-centred,
so every person's box sits at the origin and boxes cannot tell them apart (until 7 December 2026 a replay of two
people swapped frames between them, and its decisions differed from the live run's).

A pair whose cost is NaN or infinite (a broken input) is treated like a gated pair and never
matches; :func:`assign` itself refuses non-finite costs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from sadvae.errors import ConfigError, SourceError
from sadvae.skeleton import NUM_JOINTS

__all__ = ["Detection", "Track", "TrackerOptions", "Tracker", "assign", "box_iou", "nearest_others"]

log = logging.getLogger(__name__)

_INF_COST = 1e6  # stands for "never match" inside the assignment (finite, so every row has a solution)
_MIN_SIZE = 1e-3  # boxes are at least this wide and tall (normalised units)
_MIN_SHARED_JOINTS = 5  # the posture distance reads the joints both detections saw when they share this many


def _seen(conf: np.ndarray | None) -> np.ndarray:
    """bool [25]: the joints a detection saw (every joint where it carries no confidences: a replay's)."""
    return np.ones(NUM_JOINTS, dtype=bool) if conf is None else np.asarray(conf) > 0


@dataclass(frozen=True)
class Detection:
    """One person in one frame, as the pose stage reports it.

    Attributes:
        joints: float32 [25, 3] NTU-25 joints in metres (hip-centred for MediaPipe), or None.
        landmarks: float [33, 2] (or [K, 2]) image landmarks in normalised coordinates, or None.
        bbox: float [4] ``(x0, y0, x1, y1)`` in normalised image coordinates, or None to derive it.
        confidence: detection score in [0, 1].
        joint_conf: float32 [25] per-joint confidences of ``joints`` (0 = unseen, placed on an ancestor by the
            mapping), or None when the source has none (skeleton replays).
        aspect: the frame's width / height, by which the tracker scales x so that distances are the same in
            every direction (see the module docstring); 1 when the coordinates are metric or the frame size
            is unknown.
        identity: the person's id as the source knows it (a recording's track id), or None: with one, the
            detection matches only the track opened by that identity.
    """

    joints: np.ndarray | None = None
    landmarks: np.ndarray | None = None
    bbox: np.ndarray | None = None
    confidence: float = 1.0
    joint_conf: np.ndarray | None = None
    aspect: float = 1.0
    identity: int | None = None

    def __post_init__(self) -> None:
        if self.joints is not None:
            j = np.asarray(self.joints, dtype=np.float32)
            if j.shape != (NUM_JOINTS, 3):
                raise ValueError(f"expected joints of shape ({NUM_JOINTS}, 3), got {j.shape}")
            if not np.isfinite(j).all():
                bad = sorted({int(k) for k in np.flatnonzero(~np.isfinite(j).all(axis=1))})
                raise ValueError(
                    f"joints must be finite, got NaN or inf in joints {bad}; place unseen joints on a seen one "
                    "(as the pose mapping does) or leave joints None"
                )
            object.__setattr__(self, "joints", j)
        if self.landmarks is not None:
            lm = np.asarray(self.landmarks, dtype=np.float32)
            if lm.ndim != 2 or lm.shape[1] < 2 or lm.shape[0] < 1:
                raise ValueError(f"expected image landmarks of shape (K, 2), got {lm.shape}")
            object.__setattr__(self, "landmarks", lm[:, :2])
        if self.bbox is not None:
            b = np.asarray(self.bbox, dtype=np.float64).reshape(-1)
            if b.shape != (4,) or not np.isfinite(b).all() or b[2] < b[0] or b[3] < b[1]:
                raise ValueError(f"expected bbox (x0, y0, x1, y1) with x0 <= x1 and y0 <= y1, got {self.bbox!r}")
            object.__setattr__(self, "bbox", b)
        if self.joints is None and self.landmarks is None and self.bbox is None:
            raise ValueError("a detection needs joints, image landmarks or a bbox")
        if not 0.0 <= float(self.confidence) <= 1.0:
            raise ValueError(f"confidence must be in [0, 1], got {self.confidence!r}")
        if self.joint_conf is not None:
            c = np.asarray(self.joint_conf, dtype=np.float32).reshape(-1)
            if c.shape != (NUM_JOINTS,):
                raise ValueError(f"expected joint_conf of shape ({NUM_JOINTS},), got {c.shape}")
            object.__setattr__(self, "joint_conf", c)
        if not 0.0 < float(self.aspect) < np.inf:
            raise ValueError(
                f"aspect must be a finite number > 0 (the frame's width / height, 1 for metric coordinates), "
                f"got {self.aspect!r}"
            )
        object.__setattr__(self, "aspect", float(self.aspect))

    @classmethod
    def from_skeleton(cls, skeleton: Any, min_score: float = 0.5) -> Detection:
        """From a :class:`realtime.pose.stage.Skeleton` (duck-typed: ``ntu25()``, ``image``, ``scores()``,
        optionally ``image_size``).

        The box spans the image landmarks scoring at least ``min_score`` (all when fewer than two
        do): MediaPipe still places off-screen landmarks. The confidence is the mean score. The
        aspect is the frame's width / height from ``image_size`` (1 when it is None or missing).
        """
        joints, conf = skeleton.ntu25()
        image, scores = np.asarray(skeleton.image, np.float64), np.asarray(skeleton.scores(), np.float64)
        seen = image[scores >= min_score] if np.count_nonzero(scores >= min_score) >= 2 else image
        box = np.concatenate([seen.min(axis=0), seen.max(axis=0)])
        confidence = float(np.clip(scores.mean(), 0.0, 1.0))
        size = getattr(skeleton, "image_size", None)
        aspect = size[0] / size[1] if size is not None and size[0] > 0 and size[1] > 0 else 1.0
        return cls(joints=joints, landmarks=image, bbox=box, confidence=confidence, joint_conf=conf, aspect=aspect)

    def box(self) -> np.ndarray:
        """The detection's box, float64 [4] ``(x0, y0, x1, y1)`` (see the module docstring)."""
        if self.bbox is not None:
            return self.bbox
        pts = self.landmarks if self.landmarks is not None else self.joints[:, :2]
        if not np.isfinite(pts).all():
            pts = pts[np.isfinite(pts).all(axis=1)]
            if len(pts) == 0:
                return np.zeros(4)
        return np.concatenate([pts.min(axis=0), pts.max(axis=0)]).astype(np.float64)


@dataclass(eq=False)
class Track:
    """A person followed across frames; owned and updated in place by the :class:`Tracker`.

    Attributes:
        id: stable integer id (>= 0), assigned on confirmation; -1 while tentative.
        first_ms, last_ms: times of the first and the latest matched detection.
        hits: frames matched so far; age: tracker updates since the track was opened.
        box: float64 [4] latest matched box (normalised image coordinates, as the detection gave it).
        velocity: float64 [2] box-centre velocity in box units per millisecond (smoothed).
        joints: float32 [25, 3] latest matched joints, or None.
        detection: the detection matched in the latest update, or None when the track coasted.
        detection_index: its index in that update's list, or -1.
        aspect: the latest matched detection's :attr:`Detection.aspect`.
        identity: the :attr:`Detection.identity` the track was opened by, or None.
    """

    id: int
    first_ms: int
    last_ms: int
    hits: int
    age: int
    box: np.ndarray
    velocity: np.ndarray
    joints: np.ndarray | None
    detection: Detection | None
    detection_index: int
    aspect: float = 1.0
    identity: int | None = None
    joint_conf: np.ndarray | None = None  # the latest matched detection's :attr:`Detection.joint_conf`

    def missed_ms(self, t_ms: int) -> int:
        """Milliseconds since the latest matched detection."""
        return int(t_ms) - self.last_ms

    def centre(self) -> np.ndarray:
        """float64 [2] the box centre with x scaled by :attr:`aspect`: in units of the frame height, so that
        distances between centres are the same in every direction (the tracker's distance)."""
        return np.array([0.5 * (self.box[0] + self.box[2]) * self.aspect, 0.5 * (self.box[1] + self.box[3])])


def nearest_others(tracks: list[Track]) -> list[int]:
    """For each track, the index of the track nearest to it (:meth:`Track.centre`), or -1 when it is alone."""
    if len(tracks) < 2:
        return [-1] * len(tracks)
    c = np.array([tr.centre() for tr in tracks])  # (n, 2)
    d = np.sum((c[:, None] - c[None]) ** 2, axis=-1)
    np.fill_diagonal(d, np.inf)
    return [int(k) for k in np.argmin(d, axis=1)]


@dataclass(frozen=True)
class TrackerOptions:
    """Tracker settings (NaN is refused for every one of them; the weights must also be finite).

    Attributes:
        max_missed_ms: a confirmed track ends after this long without a detection.
        min_hits: matched frames before a track is confirmed (gets an id and a ``started`` report).
        min_confidence: detections scoring below this are ignored.
        iou_weight: weight of ``1 - IoU`` (predicted track box vs detection box) in the cost.
        centre_weight: weight of the centre distance (in mean box diagonals) in the cost.
        pose_weight: weight of the posture distance (mean joint distance / ``pose_scale_m``).
        pose_scale_m: joint distance (metres) that costs ``pose_weight``.
        max_centre_distance: gate: pairs with centres further apart (mean box diagonals) never match.
        max_cost: gate: pairs whose total cost exceeds this never match.
        velocity_alpha: weight of the newest measurement in the box-centre velocity average.
        max_predict_ms: the prediction extrapolates the velocity for at most this long.
    """

    max_missed_ms: int = 700
    min_hits: int = 2
    min_confidence: float = 0.0
    iou_weight: float = 1.0
    centre_weight: float = 1.0
    pose_weight: float = 0.5
    pose_scale_m: float = 0.25
    max_centre_distance: float = 1.0
    max_cost: float = 2.5
    velocity_alpha: float = 0.6
    max_predict_ms: int = 300

    def __post_init__(self) -> None:
        # written as `not x >= limit` so that NaN (for which every comparison is False) is refused too
        if not self.min_hits >= 1:
            raise ConfigError(f"TrackerOptions.min_hits must be >= 1, got {self.min_hits}")
        for name in ("max_missed_ms", "max_predict_ms"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"TrackerOptions.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("iou_weight", "centre_weight", "pose_weight"):
            if not 0 <= getattr(self, name) < float("inf"):
                raise ConfigError(f"TrackerOptions.{name} must be a finite number >= 0, got {getattr(self, name)}")
        for name in ("pose_scale_m", "max_centre_distance", "max_cost"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"TrackerOptions.{name} must be > 0, got {getattr(self, name)}")
        if not 0.0 < self.velocity_alpha <= 1.0:
            raise ConfigError(f"TrackerOptions.velocity_alpha must be in (0, 1], got {self.velocity_alpha}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ConfigError(f"TrackerOptions.min_confidence must be in [0, 1], got {self.min_confidence}")


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union [n, m] of every pair of boxes ``(x0, y0, x1, y1)`` a [n, 4] and b [m, 4]."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])  # (n, m, 2)
    wh = np.clip(np.minimum(a[:, None, 2:], b[None, :, 2:]) - lo, 0.0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return inter / np.maximum(union, 1e-12)


def assign(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost one-to-one assignment (Hungarian method with potentials, O(n^2 m), exact).

    Written for the few people a camera sees (pure Python beats scipy's import cost and numpy's
    per-call overhead at these sizes).

    Args:
        cost: [n, m] finite costs; give a pair that must never match a large finite cost (the tracker
            uses 1e6) and drop such pairs from the result.

    Returns:
        ``(rows, cols)``: intp arrays of the min(n, m) assigned pairs, sorted by row.

    Raises:
        ValueError: a cost is NaN or infinite (the search would never finish on a row of them).
    """
    c = np.asarray(cost, dtype=np.float64)
    if c.size == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    if not np.isfinite(c).all():
        bad = np.argwhere(~np.isfinite(c))
        raise ValueError(
            f"assign needs finite costs, got {len(bad)} NaN or inf (first at row {bad[0][0]}, column {bad[0][1]}); "
            "give pairs that must never match a large finite cost instead"
        )
    if c.shape[0] == 1:
        return np.zeros(1, np.intp), np.array([int(np.argmin(c[0]))], np.intp)
    if c.shape[1] == 1:
        return np.array([int(np.argmin(c[:, 0]))], np.intp), np.zeros(1, np.intp)
    flip = c.shape[0] > c.shape[1]
    rows = (c.T if flip else c).tolist()  # n <= m from here on
    n, m = len(rows), len(rows[0])
    inf = float("inf")
    u, v = [0.0] * (n + 1), [0.0] * (m + 1)
    owner, way = [0] * (m + 1), [0] * (m + 1)  # owner[j]: 1-based row holding column j (0: free)
    for i in range(1, n + 1):
        owner[0], j0 = i, 0
        minv, used = [inf] * (m + 1), [False] * (m + 1)
        while True:  # grow an alternating tree from row i until it reaches a free column
            used[j0] = True
            delta, j1 = inf, 0
            row, ui0 = rows[owner[j0] - 1], u[owner[j0]]  # the row that holds column j0
            for j in range(1, m + 1):
                if not used[j]:
                    cur = row[j - 1] - ui0 - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(m + 1):
                if used[j]:
                    u[owner[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:  # flip the augmenting path
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    cols = np.array([j - 1 for j in range(1, m + 1) if owner[j]], np.intp)
    held = np.array([owner[j + 1] - 1 for j in cols], np.intp)  # the row holding each of them
    r, k = (cols, held) if flip else (held, cols)
    order = np.argsort(r)
    return r[order], k[order]


class Tracker:
    """Gives every person in view a stable integer id.

    Args:
        opts: tracker settings.

    Attributes:
        tracks: the live confirmed tracks (matched or coasting), oldest first.
        started: tracks confirmed by the latest :meth:`update`.
        ended: tracks ended by the latest :meth:`update` (or :meth:`end_all`).
    """

    def __init__(self, opts: TrackerOptions | None = None):
        self.opts = opts or TrackerOptions()
        self.tracks: list[Track] = []
        self.started: list[Track] = []
        self.ended: list[Track] = []
        self._tentative: list[Track] = []
        self._next_id = 0
        self._last_t: int | None = None

    def reset(self) -> None:
        """Forget every track (ids keep counting up, so an id is never reused)."""
        self.tracks, self._tentative, self.started, self.ended = [], [], [], []
        self._last_t = None

    def update(self, detections: list[Detection], t_ms: int) -> list[Track]:
        """Match one frame's detections to the tracks.

        Args:
            detections: the people in this frame (any order; may be empty).
            t_ms: the frame's time in integer milliseconds; must not go backwards.

        Returns:
            The confirmed tracks matched in this frame, in detection order; each carries its
            ``detection`` and ``detection_index``. :attr:`started` and :attr:`ended` report the
            tracks confirmed and ended by this call.

        Raises:
            SourceError: ``t_ms`` is earlier than the previous frame's.
        """
        t = int(t_ms)
        if self._last_t is not None and t < self._last_t:
            raise SourceError(
                f"tracker frame time {t} ms is before the previous frame's {self._last_t} ms; "
                "timestamps must not go backwards (use a monotonic clock)"
            )
        self._last_t = t
        self.started = []
        # a track unseen for longer than max_missed_ms has ended even if no frame came in between (a stalled or
        # reconnecting camera, a recording with a hole): the next person must not inherit its id and decisions
        self.ended = [tr for tr in self.tracks if tr.missed_ms(t) > self.opts.max_missed_ms]
        self.tracks = [tr for tr in self.tracks if tr not in self.ended]
        self._tentative = [tr for tr in self._tentative if tr.missed_ms(t) <= self.opts.max_missed_ms]
        dets = [d for d in detections if d.confidence >= self.opts.min_confidence]
        index = [i for i, d in enumerate(detections) if d.confidence >= self.opts.min_confidence]
        boxes = np.array([d.box() for d in dets], dtype=np.float64).reshape(-1, 4)
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + _MIN_SIZE)  # a single point still has an area
        for tr in self.tracks + self._tentative:
            tr.age += 1
            tr.detection, tr.detection_index = None, -1
        free = list(range(len(dets)))
        for group in (self.tracks, self._tentative):
            if group and free:
                free = self._match(group, [dets[i] for i in free], boxes[free], free, index, t)
        # tentative tracks that missed this frame are dropped; matched and new ones may be confirmed
        candidates = [tr for tr in self._tentative if tr.detection is not None]
        candidates += [self._open(dets[i], boxes[i], index[i], t) for i in free]
        self._tentative = []
        for tr in candidates:
            (self._confirm if tr.hits >= self.opts.min_hits else self._tentative.append)(tr)
        late = [tr for tr in self.tracks if tr.detection is None and tr.missed_ms(t) > self.opts.max_missed_ms]
        self.ended += late
        self.tracks = [tr for tr in self.tracks if tr not in late]
        matched = [tr for tr in self.tracks if tr.detection is not None]
        matched.sort(key=lambda tr: tr.detection_index)
        return matched

    @property
    def tentative(self) -> list[Track]:
        """The tracks not yet confirmed, each matched in the latest :meth:`update` (id -1): a person seen for fewer
        than ``min_hits`` frames. The same objects become confirmed tracks (and appear in :attr:`started`)."""
        return list(self._tentative)

    def end_all(self) -> list[Track]:
        """End every confirmed track (end of stream); returns them, also in :attr:`ended`."""
        self.ended, self.started = list(self.tracks), []
        self.tracks, self._tentative = [], []
        return self.ended

    def _open(self, det: Detection, box: np.ndarray, index: int, t: int) -> Track:
        return Track(
            id=-1,
            first_ms=t,
            last_ms=t,
            hits=1,
            age=0,
            box=box.copy(),
            velocity=np.zeros(2),
            joints=det.joints,
            detection=det,
            detection_index=index,
            aspect=det.aspect,
            identity=det.identity,
            joint_conf=det.joint_conf,
        )

    def _confirm(self, tr: Track) -> None:
        tr.id = self._next_id
        self._next_id += 1
        self.tracks.append(tr)
        self.started.append(tr)
        log.debug("track %d started", tr.id)

    def _predicted(self, tracks: list[Track], t: int) -> np.ndarray:
        boxes = np.array([tr.box for tr in tracks], dtype=np.float64)  # (n, 4)
        vel = np.array([tr.velocity for tr in tracks], dtype=np.float64)  # (n, 2)
        dt = np.minimum(np.array([t - tr.last_ms for tr in tracks], dtype=np.float64), self.opts.max_predict_ms)
        shift = vel * dt[:, None]
        return boxes + np.concatenate([shift, shift], axis=1)

    def _cost(self, tracks: list[Track], dets: list[Detection], boxes: np.ndarray, t: int) -> np.ndarray:
        o = self.opts
        pred = self._predicted(tracks, t)  # (n, 4)
        # distances with x in units of the frame height (x * width / height): the same in every direction. The
        # detection's frame sets the scale of each pair; IoU needs none (a ratio of areas, each scaled alike)
        aspect = np.array([d.aspect for d in dets], dtype=np.float64)  # (m,)
        pred_c, det_c = 0.5 * (pred[:, :2] + pred[:, 2:]), 0.5 * (boxes[:, :2] + boxes[:, 2:])  # centres
        pred_wh, det_wh = pred[:, 2:] - pred[:, :2], boxes[:, 2:] - boxes[:, :2]
        size_p = np.maximum(np.hypot(pred_wh[:, None, 0] * aspect[None], pred_wh[:, None, 1]), _MIN_SIZE)  # (n, m)
        size_d = np.maximum(np.hypot(det_wh[:, 0] * aspect, det_wh[:, 1]), _MIN_SIZE)  # (m,) diagonals
        gap = pred_c[:, None] - det_c[None]  # (n, m, 2)
        dist = np.hypot(gap[..., 0] * aspect[None], gap[..., 1]) / (0.5 * (size_p + size_d[None]))
        cost = o.iou_weight * (1.0 - box_iou(pred, boxes)) + o.centre_weight * dist
        if o.pose_weight > 0:
            ti = [i for i, tr in enumerate(tracks) if tr.joints is not None]
            dj = [j for j, d in enumerate(dets) if d.joints is not None]
            if ti and dj:
                tj = np.stack([tracks[i].joints for i in ti])  # (n', 25, 3)
                dd = np.stack([dets[j].joints for j in dj])  # (m', 25, 3)
                diff = tj[:, None] - dd[None]  # (n', m', 25, 3)
                dist_v = np.sqrt(np.einsum("nmvc,nmvc->nmv", diff, diff))  # (n', m', 25) metres
                # over the joints both saw: an unseen joint sits on an ancestor, so a person whose legs leave the
                # picture for a frame moved them by a leg's length and lost their id (a pose audit of 7 December
                # 2026, late: one player took three ids in 0.17 s)
                seen_t = np.stack([_seen(tracks[i].joint_conf) for i in ti])  # (n', 25)
                seen_d = np.stack([_seen(dets[j].joint_conf) for j in dj])  # (m', 25)
                both = seen_t[:, None] & seen_d[None]  # (n', m', 25)
                count = both.sum(axis=-1)
                pose = np.where(
                    count >= _MIN_SHARED_JOINTS,
                    (dist_v * both).sum(axis=-1) / np.maximum(count, 1),
                    dist_v.mean(axis=-1),
                )  # (n', m') metres
                pose *= o.pose_weight / o.pose_scale_m
                if len(ti) == len(tracks) and len(dj) == len(dets):
                    cost += pose
                else:
                    cost[np.ix_(ti, dj)] += pose
        # a non-finite cost (NaN compares False with every gate) never matches, like a gated pair
        cost[~np.isfinite(cost) | (dist > o.max_centre_distance) | (cost > o.max_cost)] = _INF_COST
        return cost

    def _match(
        self, tracks: list[Track], dets: list[Detection], boxes: np.ndarray, free: list[int], index: list[int], t: int
    ) -> list[int]:
        """Assign ``dets`` (positions ``free`` in this frame's filtered list) to ``tracks``; returns what is left."""
        cost = self._cost(tracks, dets, boxes, t)
        for r, tr in enumerate(tracks):  # a known identity decides alone (see the module docstring)
            for c, det in enumerate(dets):
                if tr.identity is not None or det.identity is not None:
                    cost[r, c] = 0.0 if tr.identity == det.identity else _INF_COST
        used: set[int] = set()
        for r, c in zip(*assign(cost), strict=True):
            if cost[r, c] >= _INF_COST:
                continue
            self._apply(tracks[r], dets[c], boxes[c], index[free[c]], t)
            used.add(int(c))
        return [f for k, f in enumerate(free) if k not in used]

    def _apply(self, tr: Track, det: Detection, box: np.ndarray, index: int, t: int) -> None:
        dt = t - tr.last_ms
        if dt > 0:
            step = (0.5 * (box[:2] + box[2:]) - 0.5 * (tr.box[:2] + tr.box[2:])) / dt
            a = self.opts.velocity_alpha if tr.hits > 1 else 1.0
            tr.velocity = a * step + (1.0 - a) * tr.velocity
        tr.box = box.copy()
        tr.aspect = det.aspect
        tr.last_ms = t
        tr.hits += 1
        if det.joints is not None:
            tr.joints, tr.joint_conf = det.joints, det.joint_conf
        tr.detection, tr.detection_index = det, index
