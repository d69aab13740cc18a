from __future__ import annotations

import numpy as np
import pytest

from realtime.pose.mapping import (
    MEDIAPIPE_LANDMARKS,
    NTU25_FROM_MEDIAPIPE,
    NTU25_WEIGHTS,
    SPINE_MID_FRACTION,
    UNSEEN_TORSO_M,
    MediaPipeLandmark,
    mediapipe_to_ntu25,
    place_unseen,
)
from sadvae.data.preprocess import PreprocessConfig, normalize_pose, preprocess
from sadvae.skeleton import NECK_FRACTION, NUM_JOINTS, PARENTS, bone_lengths
from sadvae.skeleton import NTUJoint as J

MP = MediaPipeLandmark


def facing_person() -> np.ndarray:
    """A person standing upright and facing the camera, in MediaPipe world coordinates.

    MediaPipe: x to the image right, y down, z away from the camera, origin between the hips. The
    person's left side is on the image right (+x) and the face is nearer the camera than the hips.
    """
    p = np.zeros((33, 3), dtype=np.float32)

    def side(left: int, right: int, x: float, y: float, z: float = 0.0) -> None:
        p[left] = (x, y, z)
        p[right] = (-x, y, z)

    p[MP.NOSE] = (0.0, -0.62, -0.10)
    side(MP.LEFT_EYE_INNER, MP.RIGHT_EYE_INNER, 0.015, -0.66, -0.08)
    side(MP.LEFT_EYE, MP.RIGHT_EYE, 0.03, -0.66, -0.08)
    side(MP.LEFT_EYE_OUTER, MP.RIGHT_EYE_OUTER, 0.045, -0.66, -0.07)
    side(MP.LEFT_EAR, MP.RIGHT_EAR, 0.075, -0.64, 0.0)
    side(MP.MOUTH_LEFT, MP.MOUTH_RIGHT, 0.02, -0.58, -0.08)
    side(MP.LEFT_SHOULDER, MP.RIGHT_SHOULDER, 0.18, -0.45)
    side(MP.LEFT_ELBOW, MP.RIGHT_ELBOW, 0.22, -0.18)
    side(MP.LEFT_WRIST, MP.RIGHT_WRIST, 0.24, 0.06)
    side(MP.LEFT_PINKY, MP.RIGHT_PINKY, 0.23, 0.14)
    side(MP.LEFT_INDEX, MP.RIGHT_INDEX, 0.25, 0.15)
    side(MP.LEFT_THUMB, MP.RIGHT_THUMB, 0.26, 0.11, -0.02)
    side(MP.LEFT_HIP, MP.RIGHT_HIP, 0.09, 0.0)
    side(MP.LEFT_KNEE, MP.RIGHT_KNEE, 0.10, 0.42)
    side(MP.LEFT_ANKLE, MP.RIGHT_ANKLE, 0.10, 0.82)
    side(MP.LEFT_HEEL, MP.RIGHT_HEEL, 0.10, 0.87, 0.05)
    side(MP.LEFT_FOOT_INDEX, MP.RIGHT_FOOT_INDEX, 0.11, 0.88, -0.14)
    return p


def test_constants() -> None:
    assert len(MEDIAPIPE_LANDMARKS) == 33
    assert MEDIAPIPE_LANDMARKS[MP.LEFT_FOOT_INDEX] == "left_foot_index"
    assert NTU25_WEIGHTS.shape == (25, 33)
    np.testing.assert_allclose(NTU25_WEIGHTS.sum(axis=1), 1.0, atol=1e-6)  # affine: follows any translation
    assert set(NTU25_FROM_MEDIAPIPE) == set(range(NUM_JOINTS))
    assert NTU25_FROM_MEDIAPIPE[J.THUMB_RIGHT] == (MP.RIGHT_THUMB,)
    assert not NTU25_WEIGHTS.flags.writeable


def test_axes_person_facing_camera_lands_in_ntu_frame() -> None:
    joints, conf = mediapipe_to_ntu25(facing_person())
    assert joints.shape == (25, 3) and joints.dtype == np.float32
    assert conf.shape == (25,) and np.all(conf == 1.0)
    # +x is the right-hand side of a person facing the camera
    assert joints[J.SHOULDER_RIGHT, 0] > 0.1 and joints[J.SHOULDER_LEFT, 0] < -0.1
    assert joints[J.HAND_RIGHT, 0] > 0.1 and joints[J.FOOT_RIGHT, 0] > 0.0
    # +y is up
    assert joints[J.HEAD, 1] > joints[J.NECK, 1] > joints[J.SPINE_SHOULDER, 1] > joints[J.SPINE_MID, 1]
    assert joints[J.SPINE_MID, 1] > joints[J.SPINE_BASE, 1] > joints[J.KNEE_LEFT, 1] > joints[J.FOOT_LEFT, 1]
    # +z is away from the camera: toes point at the camera, heels do not exist in NTU
    assert joints[J.FOOT_LEFT, 2] < joints[J.ANKLE_LEFT, 2]
    # a proper rotation: the chirality survives, so the shared preprocessing does not turn the body
    seq = np.stack([joints, joints + 0.01])[:, None]  # (T=2, M=1, 25, 3)
    centred = seq - seq[:, :, J.SPINE_BASE : J.SPINE_BASE + 1]
    torso = np.linalg.norm(joints[J.SPINE_SHOULDER] - joints[J.SPINE_BASE])
    np.testing.assert_allclose(normalize_pose(seq, face_front=True, unit_torso=True), centred / torso, atol=1e-5)


def test_joint_definitions() -> None:
    mp = facing_person()
    joints, _ = mediapipe_to_ntu25(mp)
    ntu = mp * np.array([-1.0, -1.0, 1.0], dtype=np.float32)  # MediaPipe -> NTU axes
    mid = lambda a, b: 0.5 * (ntu[a] + ntu[b])  # noqa: E731
    sb, ss, head = mid(MP.LEFT_HIP, MP.RIGHT_HIP), mid(MP.LEFT_SHOULDER, MP.RIGHT_SHOULDER), mid(7, 8)
    expect = {
        J.SPINE_BASE: sb,
        J.SPINE_SHOULDER: ss,
        J.SPINE_MID: sb + SPINE_MID_FRACTION * (ss - sb),
        J.HEAD: head,
        J.NECK: ss + NECK_FRACTION * (head - ss),
        J.WRIST_LEFT: ntu[MP.LEFT_WRIST],
        J.HAND_RIGHT: mid(MP.RIGHT_INDEX, MP.RIGHT_PINKY),
        J.HAND_TIP_RIGHT: 1.5 * mid(MP.RIGHT_INDEX, MP.RIGHT_PINKY) - 0.5 * ntu[MP.RIGHT_WRIST],
        J.THUMB_LEFT: ntu[MP.LEFT_THUMB],
        J.FOOT_RIGHT: ntu[MP.RIGHT_FOOT_INDEX],
        J.KNEE_LEFT: ntu[MP.LEFT_KNEE],
    }
    for j, value in expect.items():
        np.testing.assert_allclose(joints[j], value, atol=1e-6, err_msg=J(j).name)
    # spine base is MediaPipe's origin; the skeleton is left-right symmetric like the input
    np.testing.assert_allclose(joints[J.SPINE_BASE], 0.0, atol=1e-7)
    assert np.all(bone_lengths(joints) > 0.01)


def test_batch_shapes_match_single_frames() -> None:
    rng = np.random.default_rng(0)
    world = facing_person()[None, None] + rng.normal(0, 0.02, size=(4, 2, 33, 3)).astype(np.float32)
    vis = rng.uniform(0.3, 1.0, size=(4, 2, 33)).astype(np.float32)
    joints, conf = mediapipe_to_ntu25(world, vis)
    assert joints.shape == (4, 2, 25, 3) and conf.shape == (4, 2, 25)
    for t in range(4):
        for m in range(2):
            j1, c1 = mediapipe_to_ntu25(world[t, m], vis[t, m])
            np.testing.assert_array_equal(joints[t, m], j1)
            np.testing.assert_array_equal(conf[t, m], c1)


def test_low_visibility_joint_sits_on_nearest_seen_ancestor() -> None:
    world = facing_person()
    vis = np.full(33, 0.9, dtype=np.float32)
    vis[[MP.RIGHT_ELBOW, MP.RIGHT_WRIST]] = 0.2
    vis[MP.LEFT_KNEE] = 0.49
    joints, conf = mediapipe_to_ntu25(world, vis)
    assert np.isfinite(joints).all()
    np.testing.assert_array_equal(joints[J.ELBOW_RIGHT], joints[J.SHOULDER_RIGHT])
    np.testing.assert_array_equal(joints[J.WRIST_RIGHT], joints[J.SHOULDER_RIGHT])
    # the hand's own landmarks (knuckles) are seen; the tip needs the wrist, so it sits on the hand
    assert conf[J.HAND_RIGHT] == pytest.approx(0.9)
    np.testing.assert_array_equal(joints[J.HAND_TIP_RIGHT], joints[J.HAND_RIGHT])
    np.testing.assert_array_equal(joints[J.KNEE_LEFT], joints[J.HIP_LEFT])
    # the ankle below an unseen knee keeps its own position
    assert joints[J.ANKLE_LEFT, 1] < joints[J.HIP_LEFT, 1] - 0.5
    for j in (J.ELBOW_RIGHT, J.WRIST_RIGHT, J.HAND_TIP_RIGHT, J.KNEE_LEFT):
        assert conf[j] == 0.0
    assert conf[J.SHOULDER_RIGHT] == pytest.approx(0.9)
    # min_visibility=0 keeps every finite landmark where MediaPipe put it
    kept, conf0 = mediapipe_to_ntu25(world, vis, min_visibility=0.0)
    np.testing.assert_array_equal(kept, mediapipe_to_ntu25(world)[0])
    assert conf0[J.ELBOW_RIGHT] == pytest.approx(0.2)


def test_chain_of_unseen_joints_falls_back_to_the_first_seen_ancestor() -> None:
    vis = np.ones(33, dtype=np.float32)
    vis[[MP.LEFT_PINKY, MP.LEFT_INDEX, MP.LEFT_WRIST, MP.LEFT_ELBOW, MP.LEFT_THUMB]] = 0.0
    joints, conf = mediapipe_to_ntu25(facing_person(), vis)
    for j in (J.ELBOW_LEFT, J.WRIST_LEFT, J.HAND_LEFT, J.HAND_TIP_LEFT, J.THUMB_LEFT):
        np.testing.assert_array_equal(joints[j], joints[J.SHOULDER_LEFT])
        assert conf[j] == 0.0


def test_place_unseen_is_the_mappings_own_rule() -> None:
    """``place_unseen`` (used by scripts/input_conditions.py to hide legs the way the live loop would) gives what
    the mapping gives for the same unseen joints: legs out of the frame sit on the hips."""
    vis = np.ones(33, dtype=np.float32)
    legs = [MP.LEFT_KNEE, MP.RIGHT_KNEE, MP.LEFT_ANKLE, MP.RIGHT_ANKLE]
    legs += [MP.LEFT_HEEL, MP.RIGHT_HEEL, MP.LEFT_FOOT_INDEX, MP.RIGHT_FOOT_INDEX]
    vis[legs] = 0.0
    mapped, conf = mediapipe_to_ntu25(facing_person(), vis)
    full, _ = mediapipe_to_ntu25(facing_person())
    placed = place_unseen(full[None], (conf > 0)[None])[0]
    np.testing.assert_array_equal(placed, mapped)
    for j in (J.KNEE_LEFT, J.ANKLE_LEFT, J.FOOT_LEFT):
        np.testing.assert_array_equal(placed[j], full[J.HIP_LEFT])


def test_nan_and_inf_count_as_unseen_and_never_leak() -> None:
    world = facing_person()
    world[MP.RIGHT_KNEE] = np.nan
    world[MP.LEFT_SHOULDER, 1] = np.inf
    vis = np.ones(33, dtype=np.float32)
    vis[MP.RIGHT_ANKLE] = np.nan
    for v in (None, vis):
        joints, conf = mediapipe_to_ntu25(world, v, min_visibility=0.0)
        assert np.isfinite(joints).all() and np.isfinite(conf).all()
        np.testing.assert_array_equal(joints[J.KNEE_RIGHT], joints[J.HIP_RIGHT])
        assert conf[J.KNEE_RIGHT] == 0.0
        # spine shoulder, spine mid and neck need both shoulders: they and the left shoulder fall to the spine base
        for j in (J.SPINE_SHOULDER, J.SPINE_MID, J.NECK, J.SHOULDER_LEFT):
            assert conf[j] == 0.0
            np.testing.assert_array_equal(joints[j], joints[J.SPINE_BASE])
        # a seen joint keeps its place even below an unseen parent
        assert conf[J.SHOULDER_RIGHT] == 1.0 and conf[J.HEAD] == 1.0
    joints, conf = mediapipe_to_ntu25(world, vis, min_visibility=0.0)
    assert conf[J.ANKLE_RIGHT] == 0.0


def test_head_uses_one_ear_then_nose_then_spine_shoulder() -> None:
    world = facing_person()
    ntu = world * np.array([-1.0, -1.0, 1.0], dtype=np.float32)
    vis = np.ones(33, dtype=np.float32)
    vis[MP.LEFT_EAR] = 0.1
    joints, conf = mediapipe_to_ntu25(world, vis)
    np.testing.assert_allclose(joints[J.HEAD], ntu[MP.RIGHT_EAR])
    ss = joints[J.SPINE_SHOULDER]
    np.testing.assert_allclose(joints[J.NECK], ss + NECK_FRACTION * (ntu[MP.RIGHT_EAR] - ss), atol=1e-6)
    assert conf[J.HEAD] == 1.0 and conf[J.NECK] == 1.0

    vis[MP.RIGHT_EAR] = 0.2
    vis[MP.NOSE] = 0.7
    joints, conf = mediapipe_to_ntu25(world, vis)
    np.testing.assert_allclose(joints[J.HEAD], ntu[MP.NOSE])
    assert conf[J.HEAD] == pytest.approx(0.7) and conf[J.NECK] == pytest.approx(0.7)

    vis[MP.NOSE] = 0.0
    joints, conf = mediapipe_to_ntu25(world, vis)
    np.testing.assert_array_equal(joints[J.HEAD], joints[J.SPINE_SHOULDER])
    np.testing.assert_array_equal(joints[J.NECK], joints[J.SPINE_SHOULDER])
    assert conf[J.HEAD] == 0.0 and conf[J.NECK] == 0.0 and conf[J.SPINE_SHOULDER] == 1.0


def test_nothing_seen_collapses_to_the_origin() -> None:
    joints, conf = mediapipe_to_ntu25(facing_person(), np.zeros(33, dtype=np.float32))
    np.testing.assert_array_equal(joints, 0.0)
    np.testing.assert_array_equal(conf, 0.0)
    # an unseen spine base with the shoulders unseen too: the origin (MediaPipe's mid-hip)
    vis = np.ones(33, dtype=np.float32)
    vis[[MP.LEFT_HIP, MP.LEFT_SHOULDER]] = 0.0
    world = facing_person() + 0.3  # shift everything so that the origin differs from the mid-hip
    joints, conf = mediapipe_to_ntu25(world, vis)
    np.testing.assert_array_equal(joints[J.SPINE_BASE], 0.0)
    np.testing.assert_array_equal(joints[J.SPINE_MID], 0.0)
    assert conf[J.HIP_RIGHT] == 1.0 and conf[J.SPINE_SHOULDER] == 0.0


def test_hips_out_of_the_frame_keep_an_upright_torso() -> None:
    """A desk webcam sees a person from the waist up. Until 7 December 2026 the unseen spine base went to the origin
    and the spine mid fell back on it: both exactly (0, 0, 0), which the NTU normalisation reads as absent joints and
    no spine, so the window kept the camera's axes. Now the spine base hangs UNSEEN_TORSO_M below the seen spine
    shoulder (camera up is NTU +y), the spine mid between them as the mapping derives it, the legs on the base."""
    vis = np.ones(33, dtype=np.float32)
    vis[[MP.LEFT_HIP, MP.RIGHT_HIP, MP.LEFT_KNEE, MP.RIGHT_KNEE, MP.LEFT_ANKLE, MP.RIGHT_ANKLE]] = 0.1
    vis[[MP.LEFT_HEEL, MP.RIGHT_HEEL, MP.LEFT_FOOT_INDEX, MP.RIGHT_FOOT_INDEX]] = 0.1
    world = facing_person() + 0.3
    joints, conf = mediapipe_to_ntu25(world, vis)
    ss = joints[J.SPINE_SHOULDER]
    np.testing.assert_allclose(joints[J.SPINE_BASE], ss - [0.0, UNSEEN_TORSO_M, 0.0], atol=1e-6)
    np.testing.assert_allclose(
        joints[J.SPINE_MID], joints[J.SPINE_BASE] + SPINE_MID_FRACTION * (ss - joints[J.SPINE_BASE]), atol=1e-6
    )
    for j in (J.HIP_LEFT, J.HIP_RIGHT, J.KNEE_LEFT, J.ANKLE_RIGHT, J.FOOT_LEFT):
        np.testing.assert_array_equal(joints[j], joints[J.SPINE_BASE])
    assert conf[J.SPINE_BASE] == 0.0 and conf[J.SPINE_MID] == 0.0 and conf[J.SPINE_SHOULDER] == 1.0
    assert (np.abs(joints).max(axis=-1) > 0).all(), "no joint of a seen person may be exactly zero (read as absent)"
    # the normalised window is turned upright as a whole-body one is: spine base -> spine mid along +z
    cfg = PreprocessConfig(window=8, persons=1, normalization="ntu")
    window = preprocess(np.repeat(joints[None, None], 8, axis=0), None, cfg)
    spine = window[:, 0, J.SPINE_MID, 0] - window[:, 0, J.SPINE_BASE, 0]
    np.testing.assert_allclose(spine / np.linalg.norm(spine), [0.0, 0.0, 1.0], atol=1e-5)
    # and the shift of the whole input does not matter (the normalisation centres on the spine mid)
    moved, _ = mediapipe_to_ntu25(world + 1.0, vis)
    np.testing.assert_allclose(
        preprocess(np.repeat(moved[None, None], 8, axis=0), None, cfg),
        window,
        atol=1e-5,
    )


def test_parents_used_for_fallback_match_the_skeleton_tree() -> None:
    # every unseen joint lands on an ancestor in sadvae.skeleton.PARENTS, never on a sibling
    rng = np.random.default_rng(1)
    world = facing_person()[None] + rng.normal(0, 0.05, size=(200, 33, 3)).astype(np.float32)
    vis = rng.uniform(0, 1, size=(200, 33)).astype(np.float32)
    joints, conf = mediapipe_to_ntu25(world, vis)
    full, _ = mediapipe_to_ntu25(world, vis, min_visibility=0.0)
    for t in range(200):
        for j in np.flatnonzero(conf[t] == 0.0):
            anc = PARENTS[j]
            candidates = [np.zeros(3, dtype=np.float32)]
            if conf[t, J.SPINE_BASE] == 0.0:  # an unseen root's place, and the spine mid put on the torso line
                candidates += [joints[t, J.SPINE_BASE], joints[t, J.SPINE_MID]]
            while anc >= 0:
                candidates.append(full[t, anc])
                anc = PARENTS[anc]
            assert any(np.array_equal(joints[t, j], c) for c in candidates), (t, J(j).name)


def test_does_not_modify_inputs() -> None:
    world = facing_person()
    world[MP.LEFT_EAR] = np.nan
    vis = np.full(33, 0.9, dtype=np.float32)
    vis[MP.RIGHT_EAR] = 0.0
    w0, v0 = world.copy(), vis.copy()
    mediapipe_to_ntu25(world, vis)
    np.testing.assert_array_equal(world, w0)
    np.testing.assert_array_equal(vis, v0)


@pytest.mark.parametrize(
    ("world_shape", "vis_shape", "message"),
    [
        ((33, 2), None, r"\(\.\.\., 33, 3\), got \(33, 2\)"),
        ((25, 3), None, r"\(\.\.\., 33, 3\), got \(25, 3\)"),
        ((33,), None, r"got \(33,\)"),
        ((5, 33, 3), (33,), r"visibility of shape \(5, 33\), got \(33,\)"),
    ],
)
def test_shape_errors(world_shape, vis_shape, message) -> None:
    vis = None if vis_shape is None else np.ones(vis_shape, dtype=np.float32)
    with pytest.raises(ValueError, match=message):
        mediapipe_to_ntu25(np.zeros(world_shape, dtype=np.float32), vis)


def test_min_visibility_range() -> None:
    with pytest.raises(ValueError, match=r"min_visibility must be in \[0, 1\], got 1.5"):
        mediapipe_to_ntu25(facing_person(), min_visibility=1.5)


# ----------------------------------------------------------------------------- issue 13: corrections, image x/y
def _upright_ntu() -> np.ndarray:
    """NTU-25 joints of an upright person facing the camera (NTU axes: +x the person's right, +y up)."""
    from realtime.pose.mapping import mediapipe_to_ntu25 as m

    return m(facing_person())[0]


def test_body_frame_of_an_upright_person_is_the_ntu_axes() -> None:
    from realtime.pose.mapping import body_frame

    axes, ok = body_frame(_upright_ntu())
    assert ok
    # right = +x (person's right), up = +y, forward = -z (towards the camera)
    np.testing.assert_allclose(axes, [[1, 0, 0], [0, 1, 0], [0, 0, -1]], atol=1e-6)
    axes, ok = body_frame(np.zeros((2, 25, 3), np.float32))  # degenerate: zero rows, not ok
    assert not ok.any() and (axes == 0).all()


def test_correction_moves_joints_in_the_body_frame() -> None:
    from realtime.pose.mapping import MappingCorrection, body_frame

    j = _upright_ntu()
    corr = MappingCorrection("t", ((J.SHOULDER_LEFT, (0.01, -0.04, 0.02)), (J.HIP_RIGHT, (-0.03, 0.0, 0.0))))
    out = corr.apply(j[None])[0]
    # upright and facing: right = +x, up = +y, forward = -z
    np.testing.assert_allclose(out[J.SHOULDER_LEFT] - j[J.SHOULDER_LEFT], [0.01, -0.04, -0.02], atol=1e-6)
    moved = np.flatnonzero(np.abs(out - j).sum(-1) > 0)
    assert set(moved) == {J.SHOULDER_LEFT, J.HIP_RIGHT}
    # turned 90 degrees about the vertical: the same offset follows the body
    rot = np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]], np.float32)
    jr = j @ rot.T
    outr = corr.apply(jr[None])[0]
    np.testing.assert_allclose(outr[J.SHOULDER_LEFT] - jr[J.SHOULDER_LEFT], rot @ [0.01, -0.04, -0.02], atol=1e-6)
    # unseen joints and rows without a body frame stay where they are
    seen = np.ones((1, 25), bool)
    seen[0, J.SHOULDER_LEFT] = False
    assert np.array_equal(corr.apply(j[None], seen)[0, J.SHOULDER_LEFT], j[J.SHOULDER_LEFT])
    flat = np.zeros((1, 25, 3), np.float32)
    assert np.array_equal(corr.apply(flat), flat)
    assert body_frame(out)[1]  # still a valid skeleton
    with pytest.raises(ValueError, match="bad entry"):
        MappingCorrection("bad", ((25, (0.0, 0.0, 0.0)),))


def test_named_corrections_are_mirror_symmetric_and_used_by_the_mapping() -> None:
    from realtime.pose.mapping import CORRECTIONS

    assert CORRECTIONS["none"] is None
    for name in ("shoulders", "joint_centres"):
        t = CORRECTIONS[name].table()
        for left, right in ((J.SHOULDER_LEFT, J.SHOULDER_RIGHT), (J.HIP_LEFT, J.HIP_RIGHT)):
            np.testing.assert_array_equal(t[left] * [-1, 1, 1], t[right])
    # shoulders: lower (Kinect's centre is below MediaPipe's surface landmark) and inwards
    t = CORRECTIONS["shoulders"].table()
    assert t[J.SHOULDER_LEFT, 1] < -0.02 and t[J.SHOULDER_LEFT, 0] > 0 > t[J.SHOULDER_RIGHT, 0]
    plain, _ = mediapipe_to_ntu25(facing_person())
    corrected, _ = mediapipe_to_ntu25(facing_person(), correction=CORRECTIONS["shoulders"])
    np.testing.assert_allclose(corrected - plain, CORRECTIONS["shoulders"].table() * [1, 1, -1], atol=1e-6)


def test_image_xy_world_replaces_x_y_by_the_scaled_image() -> None:
    from realtime.pose.mapping import image_xy_world

    world = facing_person()
    # an image that is the world x/y at 400 px per metre, shifted, with the left wrist moved 20 px right
    px = world[:, :2] * 400.0 + [320.0, 240.0]
    px[MP.LEFT_WRIST, 0] += 20.0
    out = image_xy_world(world, px)
    np.testing.assert_allclose(out[:, 2], world[:, 2])  # depth kept
    expect = world[:, :2].copy()
    expect[MP.LEFT_WRIST, 0] += 20.0 / 400.0  # the image's wrist, in metres
    np.testing.assert_allclose(out[:, :2], expect, atol=1e-5)
    # batched, and a degenerate row (all anchors at one pixel) is returned unchanged
    batch = np.stack([px, np.zeros_like(px)])
    out2 = image_xy_world(np.stack([world, world]), batch)
    np.testing.assert_allclose(out2[0], out, atol=1e-6)
    np.testing.assert_array_equal(out2[1], world)
    with pytest.raises(ValueError, match="image landmarks of shape"):
        image_xy_world(world, px[:, :1])
