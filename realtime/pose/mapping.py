"""MediaPipe Pose (33 landmarks) -> NTU RGB+D / Kinect v2 (25 joints), numpy only.

Axes. MediaPipe world landmarks are metres with the origin between the hips; x grows to the image
right, y grows down and z grows away from the camera (negative z is between the hips and the
camera), i.e. the OpenCV camera frame. The NTU frame (:mod:`sadvae.skeleton`) has +y up, +z away
from the sensor and +x to the sensor's left, which for an unmirrored image is the image left and
the right-hand side of a person facing the camera. The conversion is a 180 degree rotation about z:
``(x, y, z)_ntu = (-x, -y, z)_mp`` (determinant +1, so left and right are never swapped). Depth stays
hip-relative: MediaPipe gives no distance to the camera, and the shared preprocessing centres every
skeleton on its spine base anyway.

Landmark names refer to the person's own left and right, as do NTU's. An input image that is
mirrored (a "selfie" preview, or the NTU RGB videos, whose colorX puts a person's right shoulder on
the image right) must be flipped back before pose estimation, or every joint comes out mirrored.

Joints. Direct: shoulders, elbows, wrists, hips, knees, ankles, feet (MediaPipe foot index) and
thumbs. Derived:

- spine base = mid-hip; spine shoulder = mid-shoulder;
- spine mid = spine base + 0.574 (spine shoulder - spine base) (median ratio on the six NTU samples
  in ``../shared/data/ntu``: 0.573-0.575);
- head = mean of the two ears. Kinect's head joint is the centre of the skull: the ears are level
  with it and on its mid-line in depth, whereas the nose sits about 10 cm in front of it. When only
  one ear passes ``min_visibility`` that ear is used; with neither, the nose;
- neck = spine shoulder + 0.33 (head - spine shoulder) (:data:`sadvae.skeleton.NECK_FRACTION`);
- hand = mean of the index and pinky knuckles (MediaPipe 19/17 left, 20/18 right), about 8 cm from
  the wrist (Kinect: 5-8 cm);
- hand tip = hand + 0.5 (hand - wrist), shorter than the 0.8 of :func:`sadvae.skeleton.kinect_v1_to_ntu25`
  (the NTU samples' median) because this "hand" sits at the knuckles, further out than Kinect's: on the paired
  A001 clip 0.5 and 0.8 differ by 0.3 cm at the tracked right tip. Kinect's tip is 2-6 cm beyond the hand along
  the wrist->hand axis (wrist->tip about 10 cm on the NTU samples); MediaPipe's index landmark is a knuckle only
  ~2 cm from the hand, mostly sideways.

Camera gap (issue 13, docs/camera_gap.md). :func:`image_xy_world` rebuilds the world landmarks' x and
y from the image landmarks (the pose stage's default, ``PoseOptions.xy_source="image"``): closer to
Kinect than MediaPipe's own world x/y. :class:`MappingCorrection` adds constant body-frame offsets to
mapped joints (``correction=``; named ones in :data:`CORRECTIONS`, chosen by ``PoseOptions.correction``, none
applied by default: they do not change recognition on the paired clip, docs/camera_gap.md). Both act
in the mapping only: training data (Kinect, mocap) never passes through it, so nothing is applied on
one side silently; the training-side counterpart is ``sadvae.train.augment.AUGMENTS["camera"]``.

Low visibility. A landmark counts as seen when it is finite and its score (MediaPipe ``visibility`` or
``presence``; pass ``presence`` to keep occluded-but-in-frame joints, which MediaPipe still places sensibly,
as Kinect does with its "inferred" joints) is at least ``min_visibility``. A derived joint needs all its
landmarks. A joint that is not seen is placed on its nearest seen ancestor in :data:`sadvae.skeleton.PARENTS`,
and its confidence is 0. An unseen spine base (hips out of the frame) is put :data:`UNSEEN_TORSO_M` straight
below a seen spine shoulder, with the spine mid between them, so that the torso the normalisation turns
upright exists; with the shoulders unseen too, at the origin (MediaPipe's mid-hip). A joint whose value
overflows float32 (finite landmarks beyond about 1e38, never real) is unseen too. The output never contains
NaN or inf.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from sadvae.skeleton import NECK_FRACTION, NUM_JOINTS, PARENTS
from sadvae.skeleton import NTUJoint as J

__all__ = [
    "MediaPipeLandmark",
    "MEDIAPIPE_LANDMARKS",
    "NUM_MEDIAPIPE_LANDMARKS",
    "MEDIAPIPE_TO_NTU_AXES",
    "NTU25_FROM_MEDIAPIPE",
    "NTU25_WEIGHTS",
    "SPINE_MID_FRACTION",
    "HAND_TIP_EXTENSION",
    "mediapipe_to_ntu25",
    "MappingCorrection",
    "BODY_AXES",
    "body_frame",
    "CORRECTIONS",
    "XY_SOURCES",
    "XY_ANCHORS",
    "image_xy_world",
    "place_unseen",
    "UNSEEN_TORSO_M",
]


class MediaPipeLandmark(enum.IntEnum):
    """The 33 BlazePose landmarks in MediaPipe order; left/right are the person's own."""

    NOSE = 0
    LEFT_EYE_INNER = 1
    LEFT_EYE = 2
    LEFT_EYE_OUTER = 3
    RIGHT_EYE_INNER = 4
    RIGHT_EYE = 5
    RIGHT_EYE_OUTER = 6
    LEFT_EAR = 7
    RIGHT_EAR = 8
    MOUTH_LEFT = 9
    MOUTH_RIGHT = 10
    LEFT_SHOULDER = 11
    RIGHT_SHOULDER = 12
    LEFT_ELBOW = 13
    RIGHT_ELBOW = 14
    LEFT_WRIST = 15
    RIGHT_WRIST = 16
    LEFT_PINKY = 17  # first (MCP) knuckle
    RIGHT_PINKY = 18
    LEFT_INDEX = 19  # first (MCP) knuckle
    RIGHT_INDEX = 20
    LEFT_THUMB = 21
    RIGHT_THUMB = 22
    LEFT_HIP = 23
    RIGHT_HIP = 24
    LEFT_KNEE = 25
    RIGHT_KNEE = 26
    LEFT_ANKLE = 27
    RIGHT_ANKLE = 28
    LEFT_HEEL = 29
    RIGHT_HEEL = 30
    LEFT_FOOT_INDEX = 31
    RIGHT_FOOT_INDEX = 32


MP = MediaPipeLandmark
NUM_MEDIAPIPE_LANDMARKS = len(MediaPipeLandmark)
MEDIAPIPE_LANDMARKS: tuple[str, ...] = tuple(m.name.lower() for m in MediaPipeLandmark)

# (x, y, z)_ntu = (x, y, z)_mp * MEDIAPIPE_TO_NTU_AXES
MEDIAPIPE_TO_NTU_AXES: tuple[float, float, float] = (-1.0, -1.0, 1.0)

SPINE_MID_FRACTION = 0.574
HAND_TIP_EXTENSION = 0.5


def _mid(a: int, b: int) -> dict[int, float]:
    return {a: 0.5, b: 0.5}


def _lerp(a: dict[int, float], b: dict[int, float], f: float) -> dict[int, float]:
    """Weights of a + f (b - a) for two linear combinations of landmarks."""
    out: dict[int, float] = {}
    for k, w in a.items():
        out[k] = out.get(k, 0.0) + (1.0 - f) * w
    for k, w in b.items():
        out[k] = out.get(k, 0.0) + f * w
    return out


_HIPS = _mid(MP.LEFT_HIP, MP.RIGHT_HIP)
_SHOULDERS = _mid(MP.LEFT_SHOULDER, MP.RIGHT_SHOULDER)
_EARS = _mid(MP.LEFT_EAR, MP.RIGHT_EAR)
_HAND_L, _HAND_R = _mid(MP.LEFT_INDEX, MP.LEFT_PINKY), _mid(MP.RIGHT_INDEX, MP.RIGHT_PINKY)

# Each NTU joint as a weighted sum of MediaPipe landmarks (the default, both-ears head).
_LINEAR: dict[int, dict[int, float]] = {
    J.SPINE_BASE: _HIPS,
    J.SPINE_MID: _lerp(_HIPS, _SHOULDERS, SPINE_MID_FRACTION),
    J.NECK: _lerp(_SHOULDERS, _EARS, NECK_FRACTION),
    J.HEAD: _EARS,
    J.SHOULDER_LEFT: {MP.LEFT_SHOULDER: 1.0},
    J.ELBOW_LEFT: {MP.LEFT_ELBOW: 1.0},
    J.WRIST_LEFT: {MP.LEFT_WRIST: 1.0},
    J.HAND_LEFT: _HAND_L,
    J.SHOULDER_RIGHT: {MP.RIGHT_SHOULDER: 1.0},
    J.ELBOW_RIGHT: {MP.RIGHT_ELBOW: 1.0},
    J.WRIST_RIGHT: {MP.RIGHT_WRIST: 1.0},
    J.HAND_RIGHT: _HAND_R,
    J.HIP_LEFT: {MP.LEFT_HIP: 1.0},
    J.KNEE_LEFT: {MP.LEFT_KNEE: 1.0},
    J.ANKLE_LEFT: {MP.LEFT_ANKLE: 1.0},
    J.FOOT_LEFT: {MP.LEFT_FOOT_INDEX: 1.0},
    J.HIP_RIGHT: {MP.RIGHT_HIP: 1.0},
    J.KNEE_RIGHT: {MP.RIGHT_KNEE: 1.0},
    J.ANKLE_RIGHT: {MP.RIGHT_ANKLE: 1.0},
    J.FOOT_RIGHT: {MP.RIGHT_FOOT_INDEX: 1.0},
    J.SPINE_SHOULDER: _SHOULDERS,
    J.HAND_TIP_LEFT: _lerp({MP.LEFT_WRIST: 1.0}, _HAND_L, 1.0 + HAND_TIP_EXTENSION),
    J.THUMB_LEFT: {MP.LEFT_THUMB: 1.0},
    J.HAND_TIP_RIGHT: _lerp({MP.RIGHT_WRIST: 1.0}, _HAND_R, 1.0 + HAND_TIP_EXTENSION),
    J.THUMB_RIGHT: {MP.RIGHT_THUMB: 1.0},
}

# NTU joint -> the MediaPipe landmarks it is built from (all must be seen; the head needs one ear or the nose).
NTU25_FROM_MEDIAPIPE: dict[int, tuple[int, ...]] = {
    j: tuple(sorted(int(k) for k, w in _LINEAR[j].items() if w != 0.0)) for j in range(NUM_JOINTS)
}

# float32 [25, 33]: ntu = NTU25_WEIGHTS @ landmarks, before the axis change.
NTU25_WEIGHTS = np.zeros((NUM_JOINTS, NUM_MEDIAPIPE_LANDMARKS), dtype=np.float32)
for _j, _w in _LINEAR.items():
    for _k, _v in _w.items():
        NTU25_WEIGHTS[_j, _k] = _v
NTU25_WEIGHTS.setflags(write=False)

# [25, 4] landmark indices per joint, padded by repetition, for a vectorised min over visibilities
_REQ = np.array([(s * 4)[:4] for s in (NTU25_FROM_MEDIAPIPE[j] for j in range(NUM_JOINTS))], dtype=np.intp)
_AXES = np.asarray(MEDIAPIPE_TO_NTU_AXES, dtype=np.float32)
_HUGE = 1e37  # |landmark| above which a weighted sum (weights up to 1.5 in size) may overflow float32


def _ancestor_table() -> np.ndarray:
    """[25, D] each joint followed by its ancestors up to the root, padded with the root."""
    chains = []
    for j in range(NUM_JOINTS):
        chain = [j]
        while PARENTS[chain[-1]] >= 0:
            chain.append(PARENTS[chain[-1]])
        chains.append(chain)
    depth = max(len(c) for c in chains)
    return np.array([c + [c[-1]] * (depth - len(c)) for c in chains], dtype=np.intp)


_ANCESTORS = _ancestor_table()
_EAR_IDX = np.array([MP.LEFT_EAR, MP.RIGHT_EAR], dtype=np.intp)
# (left ear, right ear) sources by which ears are seen: none -> nose, left only, right only, both
_EAR_SOURCE = np.array(
    [[MP.NOSE, MP.NOSE], [MP.LEFT_EAR, MP.LEFT_EAR], [MP.RIGHT_EAR, MP.RIGHT_EAR], [MP.LEFT_EAR, MP.RIGHT_EAR]],
    dtype=np.intp,
)


BODY_AXES = ("right", "up", "forward")


@dataclass(frozen=True)
class MappingCorrection:
    """Constant offsets of mapped joints in the person's body frame (metres at MediaPipe's world scale).

    Kinect's joints are joint centres; MediaPipe's landmarks are learned surface-ish points (the shoulder
    landmarks sit on the top of the shoulder). A correction moves a joint by ``right * r + up * u +
    forward * f`` where the axes come from the mapped skeleton itself in every frame: right = left hip ->
    right hip, up = spine base -> spine shoulder made orthogonal to right, forward = up x right (towards
    the camera for a person facing it). Fitted on paired data by ``scripts/camera_gap.py``.

    Attributes:
        name: short id (logged, written to docs).
        offsets: ``((ntu_joint_index, (right, up, forward)), ...)`` in metres.
        note: how it was fitted.
    """

    name: str
    offsets: tuple[tuple[int, tuple[float, float, float]], ...] = ()
    note: str = ""

    def __post_init__(self) -> None:
        for j, off in self.offsets:
            if not (0 <= int(j) < NUM_JOINTS) or len(off) != 3 or not all(np.isfinite(off)):
                raise ValueError(f"correction {self.name!r}: bad entry {(j, off)!r}; need (joint 0-24, (r, u, f))")

    def table(self) -> np.ndarray:
        """float32 [25, 3] offsets (right, up, forward), zero for joints without one."""
        t = np.zeros((NUM_JOINTS, 3), np.float32)
        for j, off in self.offsets:
            t[int(j)] = off
        return t

    def apply(self, joints: np.ndarray, seen: np.ndarray | None = None) -> np.ndarray:
        """Add the offsets to ``joints`` [N, 25, 3] (NTU axes) where ``seen`` [N, 25] (default all).

        Rows whose body frame is undefined (hips or spine unseen or coincident) are left as they are.
        Returns a new array.
        """
        j = np.asarray(joints, dtype=np.float32)
        frame, ok = body_frame(j)  # (N, 3, 3), (N,)
        if seen is not None:
            ok = ok & seen[:, [J.HIP_LEFT, J.HIP_RIGHT, J.SPINE_BASE, J.SPINE_SHOULDER]].all(axis=1)
        delta = np.einsum("jk,nkc->njc", self.table(), frame)  # (N, 25, 3): offsets in NTU axes
        mask = ok[:, None] if seen is None else ok[:, None] & seen
        return j + np.where(mask[..., None], delta, np.float32(0.0))


# Named corrections (``PoseOptions.correction``). "none" is the default: see docs/camera_gap.md for what each
# does to the geometry and to recognition on the paired NTU clip.
# Fitted on the paired NTU A001 clip (scripts/camera_gap.py; the same values to +-0.5 cm from either half of its
# frames): MediaPipe's shoulder landmarks sit on top of the shoulder, 4 cm above, 2.5 cm behind and 1.5 cm outside
# Kinect's shoulder joint centre; its hip landmarks 3 cm outside and 2 cm behind Kinect's hip joints.
# Offsets are (right, up, forward) of the person's LEFT joint; the right joint's mirror it (right negated).
_SHOULDERS = ((J.SHOULDER_LEFT, (0.015, -0.040, 0.025)), (J.SHOULDER_RIGHT, (-0.015, -0.040, 0.025)))
_HIPS = ((J.HIP_LEFT, (0.030, 0.0, 0.020)), (J.HIP_RIGHT, (-0.030, 0.0, 0.020)))
CORRECTIONS: dict[str, MappingCorrection | None] = {
    "none": None,
    "shoulders": MappingCorrection("shoulders", _SHOULDERS, "shoulder landmarks -> joint centres, NTU A001 fit"),
    "joint_centres": MappingCorrection(
        "joint_centres", _SHOULDERS + _HIPS, "shoulder and hip landmarks -> joint centres, NTU A001 fit"
    ),
}


def body_frame(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The body frame of NTU-25 skeletons.

    Args:
        joints: [..., 25, 3] in NTU axes.

    Returns:
        ``(axes [..., 3, 3], ok [...])``: rows are the unit right, up and forward vectors (see
        :class:`MappingCorrection`); where the hips or the spine are degenerate the rows are zero and ok False.
    """
    j = np.asarray(joints, dtype=np.float32)
    r = j[..., J.HIP_RIGHT, :] - j[..., J.HIP_LEFT, :]
    u = j[..., J.SPINE_SHOULDER, :] - j[..., J.SPINE_BASE, :]
    rn = np.linalg.norm(r, axis=-1, keepdims=True)
    ok = rn[..., 0] > 1e-6
    r = r / np.where(rn > 1e-6, rn, 1.0)
    u = u - (u * r).sum(-1, keepdims=True) * r
    un = np.linalg.norm(u, axis=-1, keepdims=True)
    ok &= un[..., 0] > 1e-6
    u = u / np.where(un > 1e-6, un, 1.0)
    axes = np.stack([r, u, np.cross(u, r)], axis=-2)
    return np.where(ok[..., None, None], axes, np.float32(0.0)).astype(np.float32), ok


XY_SOURCES = ("world", "image")
# landmarks the image -> world similarity is fitted on: shoulders and hips (always present when a pose is)
XY_ANCHORS = (MP.LEFT_SHOULDER, MP.RIGHT_SHOULDER, MP.LEFT_HIP, MP.RIGHT_HIP)


def image_xy_world(world: np.ndarray, image_px: np.ndarray, anchors: tuple[int, ...] = XY_ANCHORS) -> np.ndarray:
    """World landmarks whose x and y come from the image landmarks (depth stays MediaPipe's world z).

    MediaPipe predicts its image landmarks (accurate to about 9 px against Kinect, docs/mapping_check.md)
    and its world landmarks with separate heads, and the world x/y of the arms disagree with the image.
    Here the image points, in pixels of the frame the pose was estimated on, are mapped into the world
    frame by a scale and translation that match the world x/y of ``anchors`` (the centroids matched, the scale
    the ratio of their root-mean-square spreads, within 0.3 % of a least-squares scale on the paired A001 clip; no
    rotation: both have x right and y down), so the in-plane geometry is the camera's and the units are
    MediaPipe's metres. Ignores perspective (fine for people a few metres away). Rows whose anchors are
    degenerate (coincident or not finite) are returned unchanged.

    Args:
        world: [..., 33, 3] MediaPipe world landmarks.
        image_px: [..., 33, 2] image landmarks in pixels (x right, y down) of the frame MediaPipe saw
            (un-mirrored if the frame was flipped before estimation).
        anchors: landmark indices the scale and translation are fitted on.

    Returns:
        float32 [..., 33, 3].
    """
    w = np.asarray(world, dtype=np.float32)
    p = np.asarray(image_px, dtype=np.float32)
    if p.shape != w.shape[:-1] + (2,):
        raise ValueError(f"expected image landmarks of shape {w.shape[:-1] + (2,)}, got {p.shape}")
    a = list(anchors)
    q = w[..., a, :2]  # (..., A, 2)
    pa = p[..., a, :]
    pc, qc = pa.mean(-2, keepdims=True), q.mean(-2, keepdims=True)
    dp, dq = pa - pc, q - qc
    var = (dp * dp).sum((-1, -2))
    ok = np.isfinite(var) & (var > 1e-9) & np.isfinite(dq).all((-1, -2))
    s = np.where(ok, np.sqrt((dq * dq).sum((-1, -2)) / np.where(ok, var, 1.0)), 0.0)  # scale (metres / px)
    xy = (p - pc) * s[..., None, None] + qc
    out = w.copy()
    out[..., :2] = np.where(ok[..., None, None], xy, w[..., :2])
    return out


def _check_shapes(world: np.ndarray, visibility: np.ndarray | None) -> None:
    if world.ndim < 2 or world.shape[-2:] != (NUM_MEDIAPIPE_LANDMARKS, 3):
        raise ValueError(f"expected MediaPipe world landmarks of shape (..., 33, 3), got {world.shape}")
    if visibility is not None and visibility.shape != world.shape[:-1]:
        raise ValueError(f"expected visibility of shape {world.shape[:-1]}, got {visibility.shape}")


def _substitute_ears(pos: np.ndarray, vis: np.ndarray, min_visibility: float) -> np.ndarray:
    """Where an ear is unseen, copy the other ear into it, or the nose when neither ear is seen.

    The head (mean of the ears) then sits on the one seen ear or on the nose, and the neck follows
    it through the same linear map. Updates ``pos`` [N, 33, 3] in place; returns the scores [N, 33]
    (a copy when anything changed). No-op when every row sees both ears.
    """
    ears_ok = vis[:, _EAR_IDX] >= min_visibility  # (N, 2)
    if ears_ok.all():
        return vis
    code = ears_ok[:, 0] + 2 * ears_ok[:, 1].astype(np.intp)  # 0 none, 1 left only, 2 right only, 3 both
    src = _EAR_SOURCE[code]  # (N, 2)
    rows = np.arange(pos.shape[0])[:, None]
    pos[:, _EAR_IDX] = pos[rows, src]
    vis = vis.copy()
    vis[:, _EAR_IDX] = vis[rows, src]
    return vis


def mediapipe_to_ntu25(
    world: np.ndarray,
    visibility: np.ndarray | None = None,
    min_visibility: float = 0.5,
    correction: MappingCorrection | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Map MediaPipe Pose world landmarks to the NTU-25 joint layout in the NTU camera frame.

    Args:
        world: [..., 33, 3] MediaPipe world landmarks (metres, origin between the hips, y down),
            e.g. [33, 3] for one person in one frame or [T, 33, 3]. NaN/inf landmarks count as unseen.
        visibility: [..., 33] per-landmark scores in [0, 1] (MediaPipe ``visibility`` or ``presence``),
            or None to treat every finite landmark as seen.
        min_visibility: landmarks scoring below this are unseen (0 keeps every finite landmark).
        correction: body-frame offsets added to the mapped joints (:class:`MappingCorrection`); None = no
            correction. Only for metric world landmarks, never for image coordinates.

    Returns:
        ``(joints, conf)``: float32 [..., 25, 3] in metres, +y up, +x the person's right when facing
        the camera, +z away from the camera; and float32 [..., 25] confidences in [0, 1], 0 where the
        joint was unseen and placed on its nearest seen ancestor (see the module docstring).

    Raises:
        ValueError: on wrong shapes or a ``min_visibility`` outside [0, 1].
    """
    if not 0.0 <= min_visibility <= 1.0:
        raise ValueError(f"min_visibility must be in [0, 1], got {min_visibility}")
    w = np.asarray(world, dtype=np.float32)
    vis_in = None if visibility is None else np.asarray(visibility, dtype=np.float32)
    _check_shapes(w, vis_in)
    lead = w.shape[:-2]
    w = w.reshape(-1, NUM_MEDIAPIPE_LANDMARKS, 3)  # (N, 33, 3)
    finite = np.isfinite(w).all(axis=-1)  # (N, 33)
    all_finite = bool(finite.all())
    if not all_finite:
        w = np.where(finite[..., None], w, np.float32(0.0))
    # effective score: -1 for non-finite landmarks so that they fail any threshold, 0 included
    if vis_in is None:
        vis = finite.astype(np.float32) if all_finite else np.where(finite, np.float32(1.0), np.float32(-1.0))
    else:
        vis = vis_in.reshape(-1, NUM_MEDIAPIPE_LANDMARKS)
        good = finite & np.isfinite(vis)
        if not good.all():
            vis = np.where(good, vis, np.float32(-1.0))
    pos = w * _AXES  # (N, 33, 3) in NTU axes
    vis = _substitute_ears(pos, vis, min_visibility)
    huge = bool(np.abs(pos).max(initial=0.0) > _HUGE)  # only then can a derived joint overflow float32
    with np.errstate(over="ignore" if huge else "warn"):
        joints = np.matmul(NTU25_WEIGHTS, pos)  # (N, 25, 3)
    conf = vis[:, _REQ].min(axis=-1)  # (N, 25)
    seen = conf >= min_visibility  # (N, 25)
    if correction is not None and correction.offsets:
        joints = correction.apply(joints, seen)
    if huge:  # finite landmarks so large that a derived joint overflowed: unseen
        seen &= np.isfinite(joints).all(axis=-1)
    if not seen.all():
        joints, conf = _fall_back(joints, conf, seen)
    else:
        np.clip(conf, 0.0, 1.0, out=conf)
    return joints.reshape(lead + (NUM_JOINTS, 3)), conf.reshape(lead + (NUM_JOINTS,))


def place_unseen(joints: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """NTU-25 joints [N, 25, 3] with each unseen joint (``seen`` bool [N, 25] False) placed on its nearest seen
    ancestor, as :func:`mediapipe_to_ntu25` places them (an unseen spine base below a seen spine shoulder, else at the
    origin)."""
    joints = np.array(joints, dtype=np.float32, copy=True)
    return _fall_back(joints, np.ones(joints.shape[:2], np.float32), np.asarray(seen, dtype=bool))[0]


# An unseen spine base under seen shoulders (hips out of the frame: a desk webcam) is put this far straight below the
# spine shoulder, along the camera's up axis: the median spine base -> spine shoulder length of the six NTU samples in
# ../shared/data/ntu is 0.43-0.52 m, about along +y. At the origin, as before 7 December 2026, the spine base and the
# spine mid that falls back on it were both exactly (0, 0, 0): the NTU normalisation reads exact zeros as absent joints
# and a zero spine as no spine, so the window was never turned upright and kept the camera's axes (NTU A001 "drink
# water" with its hips hidden: rank 1 -> "playing with phone" first).
UNSEEN_TORSO_M = 0.47


def _fall_back(joints: np.ndarray, conf: np.ndarray, seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Place each unseen joint on its nearest seen ancestor. An unseen root sits :data:`UNSEEN_TORSO_M` below a seen
    spine shoulder, with an unseen spine mid on the line between them as the mapping would derive it (the torso
    stays upright for the normalisation), or at the origin when the shoulders are unseen too."""
    base_unseen = ~seen[:, J.SPINE_BASE]
    joints[base_unseen, J.SPINE_BASE] = 0.0
    usable = seen.copy()
    anchored = base_unseen & seen[:, J.SPINE_SHOULDER]
    if anchored.any():
        shoulder = joints[anchored, J.SPINE_SHOULDER]
        base = shoulder - np.float32([0.0, UNSEEN_TORSO_M, 0.0])
        joints[anchored, J.SPINE_BASE] = base
        mid = anchored & ~seen[:, J.SPINE_MID]
        joints[mid, J.SPINE_MID] = joints[mid, J.SPINE_BASE] + np.float32(SPINE_MID_FRACTION) * (
            joints[mid, J.SPINE_SHOULDER] - joints[mid, J.SPINE_BASE]
        )
        usable[mid, J.SPINE_MID] = True
    usable[:, J.SPINE_BASE] = True  # every chain ends at the root
    first = usable[:, _ANCESTORS].argmax(axis=-1)  # (N, 25): first usable entry of each chain
    src = _ANCESTORS[np.arange(NUM_JOINTS), first]  # (N, 25) joint to copy from
    joints = joints[np.arange(joints.shape[0])[:, None], src]
    conf = np.where(seen, np.clip(conf, 0.0, 1.0), np.float32(0.0)).astype(np.float32, copy=False)
    return joints, conf
