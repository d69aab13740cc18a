from __future__ import annotations

import json

import numpy as np
import pytest

from sadvae.skeleton import (
    BONES,
    CENTER_JOINT,
    FLIP_INDEX,
    JOINT_NAMES,
    KINECT_V1_TO_NTU25_DIRECT,
    NUM_JOINTS,
    PARENTS,
    bone_lengths,
    kinect_v1_to_ntu25,
    mirror_joints,
    mirror_windows,
    spatial_adjacency,
)
from sadvae.skeleton import KinectV1Joint as K1
from sadvae.skeleton import NTUJoint as J


def test_bones_form_a_tree():
    assert NUM_JOINTS == 25 and len(JOINT_NAMES) == 25
    assert len(BONES) == 24
    children = [c for c, _ in BONES]
    assert sorted(children) == [j for j in range(NUM_JOINTS) if j != J.SPINE_BASE]  # one parent per non-root joint
    assert PARENTS[J.SPINE_BASE] == -1
    for j in range(NUM_JOINTS):  # every joint reaches the root without a cycle
        seen = {j}
        while PARENTS[j] >= 0:
            j = PARENTS[j]
            assert j not in seen
            seen.add(j)
        assert j == J.SPINE_BASE


def test_flip_index_swaps_left_and_right():
    flip = np.asarray(FLIP_INDEX)
    np.testing.assert_array_equal(flip[flip], np.arange(NUM_JOINTS))  # an involution
    for j, name in enumerate(JOINT_NAMES):
        if name.endswith("_left"):
            assert JOINT_NAMES[flip[j]] == name.replace("_left", "_right")
        elif name.endswith("_right"):
            assert JOINT_NAMES[flip[j]] == name.replace("_right", "_left")
        else:
            assert flip[j] == j
    # flipping keeps the bone set: mirrored skeletons are still skeletons
    assert {frozenset((flip[c], flip[p])) for c, p in BONES} == {frozenset(b) for b in BONES}


def test_spatial_adjacency_partition():
    a = spatial_adjacency()
    assert a.shape == (3, 25, 25) and a.dtype == np.float32
    np.testing.assert_allclose(a.sum(axis=(0, 1)), np.ones(25), atol=1e-6)  # columns sum to 1 over the subsets
    neighbours = np.eye(25, dtype=bool)
    for c, p in BONES:
        neighbours[c, p] = neighbours[p, c] = True
    assert not (a.sum(axis=0)[~neighbours]).any()  # only one-hop messages
    assert np.all(a.sum(axis=0)[neighbours] > 0)
    np.testing.assert_array_equal(a[0], np.diag(np.diag(a[0])))  # in a tree the root subset is the node itself
    # centripetal subset: messages from the neighbour closer to the spine shoulder; centrifugal: from the farther one
    assert a[1, PARENTS[J.ELBOW_LEFT], J.ELBOW_LEFT] > 0 and a[2, J.ELBOW_LEFT, PARENTS[J.ELBOW_LEFT]] > 0
    assert a[1, CENTER_JOINT, J.SPINE_MID] > 0 and a[1, CENTER_JOINT, J.NECK] > 0


def test_bone_lengths_shape():
    joints = np.random.default_rng(0).normal(size=(4, 2, 25, 3))
    lengths = bone_lengths(joints)
    assert lengths.shape == (4, 2, 24)
    c, p = BONES[3]
    np.testing.assert_allclose(lengths[1, 0, 3], np.linalg.norm(joints[1, 0, c] - joints[1, 0, p]))


def test_kinect_v1_conversion_shapes_and_derived_joints():
    k1 = np.random.default_rng(1).normal(size=(6, 20, 3))
    ntu = kinect_v1_to_ntu25(k1)
    assert ntu.shape == (6, 25, 3) and ntu.dtype == np.float32
    for n, k in KINECT_V1_TO_NTU25_DIRECT.items():
        np.testing.assert_allclose(ntu[:, n], k1[:, k], atol=1e-6)
    # the neck lies on the segment spine shoulder -> head; hand tips and thumbs continue wrist -> hand
    ss, head = k1[:, K1.SHOULDER_CENTER], k1[:, K1.HEAD]
    f = np.einsum("ti,ti->t", ntu[:, J.NECK] - ss, head - ss) / np.einsum("ti,ti->t", head - ss, head - ss)
    assert np.all((f > 0) & (f < 1))
    np.testing.assert_allclose(ntu[:, J.NECK], ss + f[:, None] * (head - ss), atol=1e-5)
    for hand, wrist, tip in (
        (K1.HAND_LEFT, K1.WRIST_LEFT, J.HAND_TIP_LEFT),
        (K1.HAND_RIGHT, K1.WRIST_RIGHT, J.HAND_TIP_RIGHT),
    ):
        axis = k1[:, hand] - k1[:, wrist]
        s = np.einsum("ti,ti->t", ntu[:, tip] - k1[:, hand], axis) / np.einsum("ti,ti->t", axis, axis)
        assert np.all(s > 0)
        np.testing.assert_allclose(ntu[:, tip], k1[:, hand] + s[:, None] * axis, atol=1e-5)
    with pytest.raises(ValueError, match=r"expected Kinect v1 joints of shape \(..., 20, 3\), got \(6, 25, 3\)"):
        kinect_v1_to_ntu25(np.zeros((6, 25, 3)))


def _corresponding_bones():
    """(NTU bone, Kinect v1 bone) pairs for the NTU bones whose both ends are copied Kinect v1 joints."""
    to_k1 = KINECT_V1_TO_NTU25_DIRECT
    return [((c, p), (to_k1[c], to_k1[p])) for c, p in BONES if c in to_k1 and p in to_k1]


def _real_kinect_v1(shared_data) -> list[np.ndarray]:
    """A few real Kinect v1 recordings [T, 20, 3] in SDK order (NW-UCLA JSON and UTKinect text)."""
    sets = shared_data / "skeleton_sets"
    out = []
    for stem in ("a01_s01_e00_v01", "a04_s03_e01_v02", "a09_s07_e02_v03", "a12_s10_e01_v01"):
        out.append(np.asarray(json.loads((sets / "nw_ucla" / "all_sqe" / f"{stem}.json").read_text())["skeletons"]))
    for rec in ("s01_e01", "s06_e02"):
        out.append(np.loadtxt(sets / "utkinect_action3d" / "joints" / f"joints_{rec}.txt")[:, 1:].reshape(-1, 20, 3))
    return out


def test_kinect_v1_to_ntu25_keeps_corresponding_bone_lengths(shared_data):
    """Acceptance: a Kinect-v1 skeleton converted to NTU-25 has bone lengths within 5% of the source's."""
    pairs = _corresponding_bones()
    assert len(pairs) == 16  # 24 NTU bones minus spine mid (2), neck, head, two hand tips and two thumbs
    ntu_bones = tuple(b for b, _ in pairs)
    k1_bones = tuple(b for _, b in pairs)
    for k1 in _real_kinect_v1(shared_data):
        ntu = kinect_v1_to_ntu25(k1)
        src = bone_lengths(k1, k1_bones)  # (T, 16)
        dst = bone_lengths(ntu, ntu_bones)
        ok = src > 0.01  # ignore degenerate (untracked, collapsed) bones
        assert ok.mean() > 0.95
        np.testing.assert_array_less(np.abs(dst - src)[ok] / src[ok], 0.05)
        # spine shoulder -> neck -> head together match shoulder centre -> head (the neck lies between them)
        chain = bone_lengths(ntu, ((J.NECK, J.SPINE_SHOULDER), (J.HEAD, J.NECK))).sum(axis=-1)
        head = bone_lengths(k1, ((K1.HEAD, K1.SHOULDER_CENTER),))[..., 0]
        np.testing.assert_allclose(chain, head, rtol=0.05)
        # spine base -> spine mid -> spine shoulder together match hip centre -> shoulder centre
        spine = bone_lengths(ntu, ((J.SPINE_MID, J.SPINE_BASE), (J.SPINE_SHOULDER, J.SPINE_MID))).sum(axis=-1)
        torso = bone_lengths(k1, ((K1.SHOULDER_CENTER, K1.HIP_CENTER),))[..., 0]
        np.testing.assert_allclose(spine, torso, rtol=0.05)


def test_mirror_windows_swaps_sides_negates_x_and_is_an_involution():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 8, NUM_JOINTS, 2)).astype(np.float32)
    before = x.copy()
    m = mirror_windows(x)
    np.testing.assert_array_equal(x, before)  # a new array; the input is untouched
    np.testing.assert_array_equal(m[:, 0, :, J.WRIST_LEFT], -x[:, 0, :, J.WRIST_RIGHT])
    np.testing.assert_array_equal(m[:, 1:, :, J.WRIST_LEFT], x[:, 1:, :, J.WRIST_RIGHT])
    np.testing.assert_array_equal(m[:, 1:, :, J.HEAD], x[:, 1:, :, J.HEAD])
    np.testing.assert_array_equal(mirror_windows(m), x)
    np.testing.assert_array_equal(mirror_windows(x[0]), m[0])  # one window [3, T, 25, M] alike


def test_mirror_joints_is_the_raw_skeletons_mirror_and_commutes_with_preprocessing():
    from sadvae.data.preprocess import PreprocessConfig, preprocess

    rng = np.random.default_rng(1)
    j = rng.normal(size=(40, 1, NUM_JOINTS, 3)).astype(np.float32)
    j[:5] = 0.0  # frames without a person stay empty
    m = mirror_joints(j)
    np.testing.assert_array_equal(m[..., J.WRIST_LEFT, 0], -j[..., J.WRIST_RIGHT, 0])
    np.testing.assert_array_equal(m[..., J.WRIST_LEFT, 1:], j[..., J.WRIST_RIGHT, 1:])
    assert not m[:5].any() and m.dtype == np.float32
    np.testing.assert_array_equal(mirror_joints(m), j)
    cfg = PreprocessConfig(window=32, fps=30.0, persons=1, normalization="ntu")
    t = np.arange(40) / 30.0
    np.testing.assert_allclose(preprocess(m, t, cfg), mirror_windows(preprocess(j, t, cfg)), atol=1e-5)
