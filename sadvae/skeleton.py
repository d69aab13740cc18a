"""The NTU RGB+D / Kinect v2 25-joint layout, its graph, and converters from other layouts (numpy only).

Coordinates everywhere are metres in a right-handed camera frame as Kinect reports it: +y up,
+z away from the sensor, +x to the sensor's left (the right-hand side of a person facing the camera).
Joint indices are 0-based in code; documentation uses the 1-based NTU numbers (index + 1).
"""

from __future__ import annotations

import enum

import numpy as np

__all__ = [
    "NTUJoint",
    "NUM_JOINTS",
    "JOINT_NAMES",
    "PARENTS",
    "BONES",
    "CENTER_JOINT",
    "LEFT_RIGHT_PAIRS",
    "FLIP_INDEX",
    "mirror_joints",
    "mirror_windows",
    "spatial_adjacency",
    "bone_lengths",
    "KinectV1Joint",
    "kinect_v1_to_ntu25",
    "KINECT_V1_TO_NTU25_DIRECT",
]


class NTUJoint(enum.IntEnum):
    """The 25 Kinect v2 joints in NTU RGB+D order (0-based)."""

    SPINE_BASE = 0
    SPINE_MID = 1
    NECK = 2
    HEAD = 3
    SHOULDER_LEFT = 4
    ELBOW_LEFT = 5
    WRIST_LEFT = 6
    HAND_LEFT = 7
    SHOULDER_RIGHT = 8
    ELBOW_RIGHT = 9
    WRIST_RIGHT = 10
    HAND_RIGHT = 11
    HIP_LEFT = 12
    KNEE_LEFT = 13
    ANKLE_LEFT = 14
    FOOT_LEFT = 15
    HIP_RIGHT = 16
    KNEE_RIGHT = 17
    ANKLE_RIGHT = 18
    FOOT_RIGHT = 19
    SPINE_SHOULDER = 20
    HAND_TIP_LEFT = 21
    THUMB_LEFT = 22
    HAND_TIP_RIGHT = 23
    THUMB_RIGHT = 24


J = NTUJoint
NUM_JOINTS = len(NTUJoint)
JOINT_NAMES: tuple[str, ...] = tuple(j.name.lower() for j in NTUJoint)

# Kinematic tree rooted at the spine base (-1 = root). Hand tips and thumbs hang off the hand.
PARENTS: tuple[int, ...] = (
    -1, J.SPINE_BASE, J.SPINE_SHOULDER, J.NECK,  # spine base, spine mid, neck, head
    J.SPINE_SHOULDER, J.SHOULDER_LEFT, J.ELBOW_LEFT, J.WRIST_LEFT,
    J.SPINE_SHOULDER, J.SHOULDER_RIGHT, J.ELBOW_RIGHT, J.WRIST_RIGHT,
    J.SPINE_BASE, J.HIP_LEFT, J.KNEE_LEFT, J.ANKLE_LEFT,
    J.SPINE_BASE, J.HIP_RIGHT, J.KNEE_RIGHT, J.ANKLE_RIGHT,
    J.SPINE_MID, J.HAND_LEFT, J.HAND_LEFT, J.HAND_RIGHT, J.HAND_RIGHT,
)  # fmt: skip

# (child, parent) pairs, one per non-root joint: 24 bones.
BONES: tuple[tuple[int, int], ...] = tuple((c, p) for c, p in enumerate(PARENTS) if p >= 0)

# ST-GCN's spatial partition measures distance to the spine shoulder (NTU joint 21).
CENTER_JOINT = int(J.SPINE_SHOULDER)

LEFT_RIGHT_PAIRS: tuple[tuple[int, int], ...] = (
    (J.SHOULDER_LEFT, J.SHOULDER_RIGHT), (J.ELBOW_LEFT, J.ELBOW_RIGHT),
    (J.WRIST_LEFT, J.WRIST_RIGHT), (J.HAND_LEFT, J.HAND_RIGHT),
    (J.HIP_LEFT, J.HIP_RIGHT), (J.KNEE_LEFT, J.KNEE_RIGHT),
    (J.ANKLE_LEFT, J.ANKLE_RIGHT), (J.FOOT_LEFT, J.FOOT_RIGHT),
    (J.HAND_TIP_LEFT, J.HAND_TIP_RIGHT), (J.THUMB_LEFT, J.THUMB_RIGHT),
)  # fmt: skip


def _flip_index() -> tuple[int, ...]:
    idx = list(range(NUM_JOINTS))
    for a, b in LEFT_RIGHT_PAIRS:
        idx[a], idx[b] = int(b), int(a)
    return tuple(idx)


# joints[..., FLIP_INDEX, :] swaps left and right (mirror augmentation also negates x).
FLIP_INDEX: tuple[int, ...] = _flip_index()


def mirror_joints(joints: np.ndarray) -> np.ndarray:
    """The left-right mirror image of skeletons [..., 25, 3] (a recording's joints, x to the side): sides swapped and
    x negated; all-zero frames (nobody there) stay zero. Returns a new float32 array."""
    x = np.array(np.asarray(joints)[..., list(FLIP_INDEX), :], dtype=np.float32, copy=True)
    x[..., 0] = -x[..., 0]
    return x


def mirror_windows(x: np.ndarray) -> np.ndarray:
    """The left-right mirror image of model windows [..., 3, T, 25, M]: sides swapped and x negated.

    On NTU-normalised windows (shoulders along +x) the mirror image is NTU-normalised too: the swapped
    right shoulder still lies on +x. Returns a new float array."""
    x = np.array(np.asarray(x)[..., list(FLIP_INDEX), :], dtype=np.float32, copy=True)
    x[..., 0, :, :, :] = -x[..., 0, :, :, :]
    return x


def _hop_distance(num_nodes: int, edges: tuple[tuple[int, int], ...]) -> np.ndarray:
    inf = num_nodes + 1
    dist = np.full((num_nodes, num_nodes), inf, dtype=np.int64)
    np.fill_diagonal(dist, 0)
    for a, b in edges:
        dist[a, b] = dist[b, a] = 1
    for k in range(num_nodes):  # Floyd–Warshall; 25 nodes
        dist = np.minimum(dist, dist[:, k : k + 1] + dist[k : k + 1, :])
    return dist


def spatial_adjacency(
    edges: tuple[tuple[int, int], ...] = BONES, num_nodes: int = NUM_JOINTS, center: int = CENTER_JOINT
) -> np.ndarray:
    """ST-GCN "spatial" partition adjacency (Yan et al., AAAI 2018).

    Neighbours of a root node within one hop are split into three subsets by their hop distance to
    the body centre: the root itself, neighbours closer to the centre (centripetal) and neighbours
    farther from it (centrifugal). Each subset's adjacency is column-normalised by node degree.

    Returns:
        float32 array [3, V, V]; ``A[k, i, j]`` weights the message from node ``i`` to node ``j``.
    """
    hops = _hop_distance(num_nodes, edges)
    adj = (hops <= 1).astype(np.float64)
    degree = adj.sum(axis=0)
    norm = adj / degree[None, :]  # column-normalised: A D^-1
    to_center = hops[:, center]
    root = np.zeros((num_nodes, num_nodes))
    close = np.zeros_like(root)
    far = np.zeros_like(root)
    for j in range(num_nodes):
        for i in range(num_nodes):
            if hops[i, j] > 1:
                continue
            if to_center[i] == to_center[j]:
                root[i, j] = norm[i, j]
            elif to_center[i] < to_center[j]:
                close[i, j] = norm[i, j]
            else:
                far[i, j] = norm[i, j]
    return np.stack([root, close, far]).astype(np.float32)


def bone_lengths(joints: np.ndarray, bones: tuple[tuple[int, int], ...] = BONES) -> np.ndarray:
    """Lengths of ``bones`` for joints [..., V, 3]; returns [..., len(bones)]."""
    child = np.asarray([c for c, _ in bones])
    parent = np.asarray([p for _, p in bones])
    return np.linalg.norm(joints[..., child, :] - joints[..., parent, :], axis=-1)


class KinectV1Joint(enum.IntEnum):
    """The 20 joints of the Kinect for Windows SDK v1 (NW-UCLA, UTKinect; MSR after reordering)."""

    HIP_CENTER = 0
    SPINE = 1
    SHOULDER_CENTER = 2
    HEAD = 3
    SHOULDER_LEFT = 4
    ELBOW_LEFT = 5
    WRIST_LEFT = 6
    HAND_LEFT = 7
    SHOULDER_RIGHT = 8
    ELBOW_RIGHT = 9
    WRIST_RIGHT = 10
    HAND_RIGHT = 11
    HIP_LEFT = 12
    KNEE_LEFT = 13
    ANKLE_LEFT = 14
    FOOT_LEFT = 15
    HIP_RIGHT = 16
    KNEE_RIGHT = 17
    ANKLE_RIGHT = 18
    FOOT_RIGHT = 19


K1 = KinectV1Joint

# NTU-25 joint <- Kinect v1 joint, for the joints both layouts have.
KINECT_V1_TO_NTU25_DIRECT: dict[int, int] = {
    J.SPINE_BASE: K1.HIP_CENTER,
    J.SPINE_SHOULDER: K1.SHOULDER_CENTER,
    J.HEAD: K1.HEAD,
    **{J[n.name]: n for n in K1 if n.name.endswith(("_LEFT", "_RIGHT"))},
}

# Ratios measured on the NTU RGB+D Kinect v2 samples (medians over frames):
# - spine mid sits 0.57 of the way from the spine base to the spine shoulder. Kinect v1's SPINE joint
#   is not that point (in NW-UCLA / UTKinect it lies ~0.07 m above the hip centre, 0.33 m below the
#   shoulder centre), so spine mid is derived, not copied;
# - the neck sits 0.33 of the way from the spine shoulder to the head;
# - the hand tip lies ~0.8 of a wrist->hand length beyond the hand. Kinect v1 has no thumb and no palm
#   orientation, so the thumb is put 0.4 of that length beyond the hand on the same axis (its real
#   offset, ~0.65 of it, is mostly sideways, which v1 cannot tell): a documented approximation.
SPINE_MID_FRACTION = 0.57
NECK_FRACTION = 0.33
HAND_TIP_EXTENSION = 0.8
THUMB_EXTENSION = 0.4


def kinect_v1_to_ntu25(joints: np.ndarray) -> np.ndarray:
    """Convert Kinect v1 (SDK order, 20 joints) to the NTU-25 layout.

    Direct joints are copied. Derived joints: spine mid = spine base + 0.57·(spine shoulder − spine base);
    neck = spine shoulder + 0.33·(head − spine shoulder); hand tip = hand + 0.8·(hand − wrist);
    thumb = hand + 0.4·(hand − wrist).

    Args:
        joints: [..., 20, 3] in Kinect SDK v1 order.

    Returns:
        float32 [..., 25, 3].
    """
    joints = np.asarray(joints, dtype=np.float32)
    if joints.shape[-2:] != (20, 3):
        raise ValueError(f"expected Kinect v1 joints of shape (..., 20, 3), got {joints.shape}")
    out = np.zeros(joints.shape[:-2] + (NUM_JOINTS, 3), dtype=np.float32)
    for ntu, k1 in KINECT_V1_TO_NTU25_DIRECT.items():
        out[..., ntu, :] = joints[..., k1, :]
    ss, head, hip = joints[..., K1.SHOULDER_CENTER, :], joints[..., K1.HEAD, :], joints[..., K1.HIP_CENTER, :]
    out[..., J.SPINE_MID, :] = hip + SPINE_MID_FRACTION * (ss - hip)
    out[..., J.NECK, :] = ss + NECK_FRACTION * (head - ss)
    for hand, wrist, tip, thumb in (
        (K1.HAND_LEFT, K1.WRIST_LEFT, J.HAND_TIP_LEFT, J.THUMB_LEFT),
        (K1.HAND_RIGHT, K1.WRIST_RIGHT, J.HAND_TIP_RIGHT, J.THUMB_RIGHT),
    ):
        axis = joints[..., hand, :] - joints[..., wrist, :]
        out[..., tip, :] = joints[..., hand, :] + HAND_TIP_EXTENSION * axis
        out[..., thumb, :] = joints[..., hand, :] + THUMB_EXTENSION * axis
    return out
