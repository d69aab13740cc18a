from __future__ import annotations

import itertools

import numpy as np
import pytest

from realtime.tracking import Detection, Tracker, TrackerOptions, assign, box_iou
from sadvae.errors import ConfigError, SourceError

DT = 33  # ms per frame (~30 frames/s)


def posture(seed: int) -> np.ndarray:
    """A fixed, person-specific hip-centred posture [25, 3] (metres)."""
    return np.random.default_rng(seed).normal(0.0, 0.3, (25, 3)).astype(np.float32)


def person(cx: float, cy: float, pose: np.ndarray, rng: np.random.Generator, w: float = 0.16, h: float = 0.45):
    """A detection whose 33 image landmarks fill a w x h box centred on (cx, cy), with pixel jitter."""
    u = np.linspace(0.0, 1.0, 33)
    lm = np.stack([cx - w / 2 + w * u, cy - h / 2 + h * u[::-1]], axis=1)
    lm += rng.normal(0.0, 0.003, lm.shape)
    joints = pose + rng.normal(0.0, 0.01, pose.shape).astype(np.float32)
    return Detection(joints=joints, landmarks=lm, confidence=0.9)


def run(tracker: Tracker, frames: list[list[Detection]], t0: int = 0) -> list[list[tuple[int, int]]]:
    """Per frame: (detection index, track id) pairs of the tracks matched in it."""
    out = []
    for k, dets in enumerate(frames):
        out.append([(tr.detection_index, tr.id) for tr in tracker.update(dets, t0 + k * DT)])
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("same_posture", [False, True])
def test_two_people_crossing_paths_keep_their_ids(same_posture: bool, seed: int) -> None:
    # the boxes pass through each other between frames 30 and 31: without the velocity prediction
    # (and with the same posture) the nearest box at frame 31 is the other person's
    rng = np.random.default_rng(seed)
    pose_a = posture(1)
    pose_b = pose_a if same_posture else posture(2)
    frames = []
    for k in range(60):  # A walks left -> right, B right -> left
        xa, xb = 0.2 + 0.02 * k, 1.41 - 0.02 * k
        a, b = person(xa, 0.5, pose_a, rng), person(xb, 0.52, pose_b, rng)
        frames.append([a, b] if k % 2 else [b, a])  # the pose stage's order means nothing
    tracker = Tracker(TrackerOptions(min_hits=2))
    result = run(tracker, frames)
    assert result[0] == []  # tentative on the first frame
    ids_a, ids_b = set(), set()
    for k, pairs in enumerate(result[1:], start=1):
        assert len(pairs) == 2
        a_index = 0 if k % 2 == 0 else 1
        for index, track_id in pairs:
            (ids_a if index == a_index else ids_b).add(track_id)
    assert ids_a == {0} and ids_b == {1}
    assert [tr.id for tr in tracker.tracks] == [0, 1]


def test_person_leaving_and_a_new_one_entering_gets_a_new_id() -> None:
    rng = np.random.default_rng(1)
    opts = TrackerOptions(max_missed_ms=300, min_hits=2)
    tracker = Tracker(opts)
    pose = posture(3)
    run(tracker, [[person(0.5, 0.5, pose, rng)] for _ in range(10)])
    assert [tr.id for tr in tracker.tracks] == [0]
    # nobody for longer than max_missed_ms: the track ends exactly once
    ended = []
    for k in range(10, 25):
        tracker.update([], k * DT)
        ended += [tr.id for tr in tracker.ended]
    assert ended == [0] and tracker.tracks == []
    # someone walks in at the same place: a new person, a new id
    result = run(tracker, [[person(0.5, 0.5, posture(4), rng)] for _ in range(5)], t0=25 * DT)
    assert result[0] == [] and {tid for pairs in result[1:] for _, tid in pairs} == {1}
    assert [tr.id for tr in tracker.started] == [] and [tr.id for tr in tracker.tracks] == [1]


def test_occlusion_shorter_than_max_missed_keeps_the_id() -> None:
    rng = np.random.default_rng(2)
    tracker = Tracker(TrackerOptions(max_missed_ms=500, min_hits=2))
    pose = posture(5)
    seen = []
    for k in range(40):
        x = 0.3 + 0.01 * k
        dets = [] if 15 <= k < 27 else [person(x, 0.5, pose, rng)]  # 12 frames (396 ms) hidden while walking
        matched = tracker.update(dets, k * DT)
        assert tracker.ended == []
        seen += [tr.id for tr in matched]
    assert set(seen) == {0} and len(seen) == 40 - 12 - 1
    tr = tracker.tracks[0]
    assert tr.hits == 28 and tr.age == 39 and tr.first_ms == 0 and tr.last_ms == 39 * DT


def test_a_track_expires_across_a_gap_without_frames() -> None:
    """Review of 6 December 2026: with no frame at all during the gap (a reconnecting camera, a recording with a
    hole) the expiry check never ran, and the next person inherited the old id and its decisions."""
    rng = np.random.default_rng(0)
    pose = posture(1)
    tracker = Tracker(TrackerOptions(min_hits=2))
    first = run(tracker, [[person(0.5, 0.5, pose, rng)] for _ in range(10)])
    old = first[-1][0][1]
    tracker.update([person(0.5, 0.5, pose, rng)], 9 * DT + 5000)  # 5 s later, the same place
    assert [tr.id for tr in tracker.ended] == [old]
    later = run(tracker, [[person(0.5, 0.5, pose, rng)] for _ in range(3)], t0=9 * DT + 5000 + DT)
    assert later[-1] and later[-1][0][1] != old


def test_started_and_ended_reports_and_end_all() -> None:
    rng = np.random.default_rng(3)
    tracker = Tracker(TrackerOptions(min_hits=3))
    starts = []
    for k in range(5):
        tracker.update([person(0.3, 0.5, posture(6), rng), person(0.7, 0.5, posture(7), rng)], k * DT)
        starts.append(sorted(tr.id for tr in tracker.started))
    assert starts == [[], [], [0, 1], [], []]
    assert sorted(tr.id for tr in tracker.end_all()) == [0, 1] and tracker.tracks == []


def test_a_one_frame_false_positive_never_becomes_a_track() -> None:
    rng = np.random.default_rng(4)
    tracker = Tracker(TrackerOptions(min_hits=2))
    frames = [[person(0.3, 0.5, posture(8), rng)] for _ in range(6)]
    frames[3].append(person(0.85, 0.3, posture(9), rng))
    result = run(tracker, frames)
    assert {tid for pairs in result for _, tid in pairs} == {0}
    assert [tr.id for tr in tracker.tracks] == [0]


def test_gating_rejects_a_far_jump() -> None:
    rng = np.random.default_rng(5)
    tracker = Tracker(TrackerOptions(min_hits=1, max_missed_ms=1000))
    pose = posture(10)
    tracker.update([person(0.2, 0.5, pose, rng)], 0)
    matched = tracker.update([person(0.8, 0.5, pose, rng)], DT)  # 4 box widths away in one frame
    assert [tr.id for tr in matched] == [1]
    assert sorted(tr.id for tr in tracker.tracks) == [0, 1]


def test_detections_from_bbox_or_joints_only() -> None:
    tracker = Tracker(TrackerOptions(min_hits=1))
    box = Detection(bbox=np.array([0.1, 0.1, 0.3, 0.6]))
    np.testing.assert_array_equal(box.box(), [0.1, 0.1, 0.3, 0.6])
    joints = Detection(joints=posture(11))
    assert joints.box().shape == (4,)
    assert [tr.id for tr in tracker.update([box], 0)] == [0]
    assert [tr.id for tr in tracker.update([box], DT)] == [0]


@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (4, 1), (2, 2), (3, 5), (5, 3), (4, 4), (6, 6)])
def test_assign_is_optimal(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    for _ in range(20):
        cost = rng.uniform(0.0, 3.0, shape)
        cost[rng.random(shape) < 0.2] = 1e6  # gated pairs
        rows, cols = assign(cost)
        n, m = shape
        assert len(rows) == min(n, m) and len(set(rows)) == len(rows) and len(set(cols)) == len(cols)
        assert list(rows) == sorted(rows)
        if n <= m:
            best = min(sum(cost[i, p[i]] for i in range(n)) for p in itertools.permutations(range(m), n))
        else:
            best = min(sum(cost[p[j], j] for j in range(m)) for p in itertools.permutations(range(n), m))
        assert cost[rows, cols].sum() == pytest.approx(best)
    assert [a.tolist() for a in assign(np.zeros((0, 3)))] == [[], []]


def test_detection_from_a_skeleton_ignores_unseen_landmarks_in_its_box() -> None:
    class FakeSkeleton:  # the duck type of realtime.pose.stage.Skeleton
        image = np.column_stack([np.linspace(0.2, 0.4, 33), np.linspace(0.1, 0.9, 33)]).astype(np.float32)
        image[30:] = [1.6, 1.8]  # feet placed far off-screen, with low scores

        def ntu25(self):
            return posture(12), np.ones(25, np.float32)

        def scores(self):
            return np.r_[np.full(30, 0.9), np.full(3, 0.1)].astype(np.float32)

    det = Detection.from_skeleton(FakeSkeleton(), min_score=0.5)
    np.testing.assert_allclose(det.box(), [0.2, 0.1, FakeSkeleton.image[29, 0], FakeSkeleton.image[29, 1]], rtol=1e-6)
    assert det.joints.shape == (25, 3) and det.confidence == pytest.approx((30 * 0.9 + 3 * 0.1) / 33)


def test_box_iou() -> None:
    a = np.array([[0.0, 0.0, 1.0, 1.0]])
    b = np.array([[0.0, 0.0, 1.0, 1.0], [0.5, 0.0, 1.5, 1.0], [2.0, 2.0, 3.0, 3.0]])
    np.testing.assert_allclose(box_iou(a, b), [[1.0, 1 / 3, 0.0]])


def test_bad_input_gives_one_clear_error() -> None:
    with pytest.raises(ValueError, match=r"expected joints of shape \(25, 3\), got \(17, 3\)"):
        Detection(joints=np.zeros((17, 3)))
    with pytest.raises(ValueError, match="needs joints, image landmarks or a bbox"):
        Detection()
    with pytest.raises(ValueError, match="x0 <= x1"):
        Detection(bbox=[0.5, 0.0, 0.1, 1.0])
    with pytest.raises(ConfigError, match="min_hits must be >= 1"):
        TrackerOptions(min_hits=0)
    tracker = Tracker()
    tracker.update([], 100)
    with pytest.raises(SourceError, match="before the previous frame's 100 ms"):
        tracker.update([], 99)
