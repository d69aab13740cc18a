from __future__ import annotations

import itertools
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

from realtime.tracking import Detection, Tracker, TrackerOptions, assign, box_iou, nearest_others
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


def test_joints_a_detection_did_not_see_cost_nothing_in_the_posture_distance() -> None:
    """Pose audit of 7 December 2026, late: a player whose legs left MediaPipe's sight had them placed on the hips by
    the mapping; the posture distance grew by a leg's length on top of a jumpy box, and the track was refused: one
    person took several ids. The posture distance now reads the joints both detections saw."""
    rng = np.random.default_rng(3)
    pose = posture(7)
    pose[12:20] = pose[0] + np.array([0.0, -0.9, 0.0], np.float32)  # legs a leg's length below the spine base
    seen = np.ones(25, np.float32)
    tracker = Tracker(TrackerOptions(min_hits=1))
    first = person(0.4, 0.5, pose, rng)
    tracker.update([Detection(joints=first.joints, landmarks=first.landmarks, joint_conf=seen)], 0)
    whole = Detection(joints=first.joints, landmarks=first.landmarks, joint_conf=seen)
    joints, conf = first.joints.copy(), seen.copy()
    joints[12:20], conf[12:20] = joints[0], 0.0  # unseen: on the spine base, as the mapping places them
    legless = Detection(joints=joints, landmarks=first.landmarks, joint_conf=conf)
    dets = [whole, legless]
    boxes = np.stack([d.box() for d in dets])
    cost = tracker._cost(tracker.tracks, dets, boxes, DT)
    assert cost[0, 1] == pytest.approx(cost[0, 0], abs=1e-6)  # it cost 0.5 x 0.29 m / 0.25 m = 0.58 more
    without = [Detection(joints=d.joints, landmarks=d.landmarks) for d in dets]  # no confidences (a replay): all
    cost = tracker._cost(tracker.tracks, without, boxes, DT)
    assert cost[0, 1] - cost[0, 0] > 0.5
    # a track opened by a legless detection compares its seen joints alone from its first match on (a review of
    # 7 December 2026, late: the opening detection's confidences were not kept until a second match)
    fresh = Tracker(TrackerOptions(min_hits=3))
    fresh.update([legless], 0)
    cost = fresh._cost(fresh._tentative, dets, boxes, DT)
    assert cost[0, 0] == pytest.approx(cost[0, 1], abs=1e-6)


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
    assert det.aspect == 1.0  # no image_size (a demo or test skeleton): coordinates used as they are


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


class PixelSkeleton:
    """A duck-typed :class:`realtime.pose.stage.Skeleton` whose landmarks fill a w x h pixel box centred on
    (cx, cy) of a frame of ``size`` (width, height) pixels."""

    def __init__(self, cx: float, cy: float, size: tuple[int, int] = (1920, 1080), w: float = 100, h: float = 300):
        width, height = size
        xs = np.linspace(cx - w / 2, cx + w / 2, 33) / width
        ys = np.linspace(cy - h / 2, cy + h / 2, 33) / height
        self.image, self.image_size = np.stack([xs, ys], 1).astype(np.float32), size

    def ntu25(self):
        return np.zeros((25, 3), np.float32), np.ones(25, np.float32)

    def scores(self):
        return np.ones(33, np.float32)


@pytest.mark.parametrize("axis", ["horizontal", "vertical"])
def test_gate_is_the_same_in_every_direction_in_pixels(axis: str) -> None:
    """Review of the tracker: normalised x is in frame widths and y in frame heights, so on a 16:9 frame a new
    person 1.5 box diagonals beside a person who just left inherited their id, while the same distance below
    did not."""
    tracker, t = Tracker(), 0
    for _ in range(5):
        tracker.update([Detection.from_skeleton(PixelSkeleton(800, 500))], t)
        t += DT
    for _ in range(5):
        tracker.update([], t)
        t += DT
    off = 1.5 * np.hypot(100, 300)  # 1.5 box diagonals in pixels: beyond max_centre_distance=1.0
    sk = PixelSkeleton(800 + off, 500) if axis == "horizontal" else PixelSkeleton(800, 500 + off)
    assert Detection.from_skeleton(sk).aspect == pytest.approx(16 / 9)
    assert tracker.update([Detection.from_skeleton(sk)], t) == []  # a new person, not track 0
    assert [tr.id for tr in tracker.tracks] == [0]


def test_the_nearest_other_person_is_nearest_in_pixels() -> None:
    """The pipeline's second-person slot takes the nearest other person (:func:`nearest_others`): 300 px below is
    nearer than 400 px beside, though 300 / 1080 of the height is more than 400 / 1920 of the width."""
    tracker = Tracker(TrackerOptions(min_hits=1))
    sks = [PixelSkeleton(800, 400), PixelSkeleton(1200, 400), PixelSkeleton(800, 700)]
    matched = tracker.update([Detection.from_skeleton(sk) for sk in sks], 0)
    assert [tr.detection_index for tr in matched] == [0, 1, 2]
    assert nearest_others(matched)[0] == 2
    np.testing.assert_allclose(matched[1].centre(), [1200 / 1080, 400 / 1080], rtol=1e-6)
    assert nearest_others(matched[:1]) == [-1] and nearest_others([]) == []


def test_detections_without_a_frame_size_keep_their_coordinates() -> None:
    """Replays and demos give metric (hip-centred or camera-frame) joints and no frame size: aspect 1."""
    det = Detection(joints=posture(13))
    assert det.aspect == 1.0
    tracker = Tracker(TrackerOptions(min_hits=1))
    (tr,) = tracker.update([det], 0)
    box = det.box()
    np.testing.assert_allclose(tr.centre(), [0.5 * (box[0] + box[2]), 0.5 * (box[1] + box[3])])
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="aspect must be a finite number > 0"):
            Detection(bbox=[0.1, 0.1, 0.2, 0.2], aspect=bad)


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail the test instead of hanging the suite when the body runs longer than ``seconds``."""

    def expired(*_):
        raise TimeoutError(f"still running after {seconds} s (an endless loop?)")

    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except TimeoutError as e:  # reported without its traceback: the interrupted frame may have no line number
        pytest.fail(str(e), pytrace=False)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("bad", [np.inf, np.nan])
@pytest.mark.parametrize(
    "cost",
    [
        [[0.1, "x"], ["x", "x"]],
        [["x", 0.1], [0.2, "x"]],
        [["x", "x", "x"], [0.1, 0.2, 0.3]],
        [["x", 0.1]],
        [["x"], [0.1]],
    ],
)
def test_assign_refuses_non_finite_costs_instead_of_hanging(cost: list, bad: float) -> None:
    """Review of the tracker: a row whose remaining costs were all inf (or NaN) looped for ever."""
    c = np.array([[bad if v == "x" else v for v in row] for row in cost], dtype=np.float64)
    with time_limit(3.0), pytest.raises(ValueError, match="assign needs finite costs"):
        assign(c)


def test_a_pair_with_a_non_finite_cost_never_matches() -> None:
    """Joints that slipped past the :class:`Detection` check (NaN posture cost, which passes every gate since
    NaN > limit is False) open a track of their own instead of hanging the tracker or taking another's id."""
    rng = np.random.default_rng(6)
    pose = posture(14)
    tracker = Tracker(TrackerOptions(min_hits=1))
    pairs = []
    with time_limit(5.0):
        for k in range(6):
            broken = person(0.6, 0.5, pose, rng)
            object.__setattr__(broken, "joints", np.full((25, 3), np.nan, np.float32))  # bypasses the check
            pairs += [
                (tr.detection_index, tr.id) for tr in tracker.update([person(0.3, 0.5, pose, rng), broken], k * DT)
            ]
    assert {tid for index, tid in pairs if index == 0} == {0}
    broken_ids = [tid for index, tid in pairs if index == 1]
    assert len(broken_ids) == 6 and len(set(broken_ids)) == 6 and 0 not in broken_ids  # never matched to a track


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_joints_are_refused_with_a_clear_error(bad: float) -> None:
    joints = posture(15)
    joints[3, 1] = bad
    with pytest.raises(ValueError, match=r"joints must be finite, got NaN or inf in joints \[3\]"):
        Detection(joints=joints)


@pytest.mark.parametrize(
    "name",
    [
        "max_missed_ms",
        "min_hits",
        "min_confidence",
        "iou_weight",
        "centre_weight",
        "pose_weight",
        "pose_scale_m",
        "max_centre_distance",
        "max_cost",
        "velocity_alpha",
        "max_predict_ms",
    ],
)
def test_nan_options_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match=f"TrackerOptions.{name} must be"):
        TrackerOptions(**{name: float("nan")})


@pytest.mark.parametrize("name", ["iou_weight", "centre_weight", "pose_weight"])
def test_infinite_weights_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match=f"TrackerOptions.{name} must be a finite number >= 0"):
        TrackerOptions(**{name: float("inf")})


def _hip_centred_pair(frames: int = 60) -> list[tuple[np.ndarray, np.ndarray]]:
    """Two people as a --record-skeleton file holds them: hip-centred joints (both at the origin), each one's
    posture turning into the other's (at the middle frame the two are alike)."""
    a, b = posture(11), posture(12)
    out = []
    for k in range(frames):
        w = 1.0 - k / (frames - 1)
        out.append(((w * a + (1 - w) * b).astype(np.float32), (w * b + (1 - w) * a).astype(np.float32)))
    return out


def test_identities_keep_hip_centred_people_apart_where_geometry_cannot() -> None:
    """Recorded MediaPipe joints are hip-centred: every box sits at the origin and postures can cross, so geometry
    alone swaps people (a replayed two-person recording mixed their frames until 7 December 2026); the recording's
    track ids, given as identities, decide alone."""
    pair = _hip_centred_pair()

    def who_is_who(identities: bool) -> set[tuple[int, int]]:
        tracker, seen = Tracker(), set()
        for k, (ja, jb) in enumerate(pair):
            dets = [
                Detection(joints=ja, identity=7 if identities else None),
                Detection(joints=jb, identity=9 if identities else None),
            ]
            dets = dets[::-1] if k % 2 else dets  # the order of a frame's detections means nothing
            for tr in tracker.update(dets, k * DT):
                seen.add((tr.id, tr.detection.identity if identities else id(tr.detection.joints) == id(ja)))
        return seen

    assert who_is_who(True) == {(0, 7), (1, 9)}
    mixed = who_is_who(False)
    assert len(mixed) > 2, "geometry alone kept them apart: the test no longer shows what identities are for"


def test_a_detection_with_an_identity_never_takes_another_identitys_track() -> None:
    tracker = Tracker()
    j = posture(3)
    for k in range(3):
        tracker.update([Detection(joints=j, identity=1)], k * DT)
    (matched,) = tracker.update([Detection(joints=j, identity=2)], 3 * DT) or [None]
    assert matched is None  # the same place and posture, another person: a new (tentative) track
    assert [tr.identity for tr in tracker.tracks] == [1] and [tr.identity for tr in tracker.tentative] == [2]
