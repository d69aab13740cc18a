"""Trimming the still poses around an action (sadvae.data.motion): the span is where the body moves."""

from __future__ import annotations

import numpy as np
import pytest

from sadvae.data.motion import StillTrim, moving_span, trim_still

FPS = 30.0
LAG = round(StillTrim().lag_s * FPS)
ARM = [5, 6, 7, 21, 22]  # elbow, wrist, hand, hand tip, thumb (left): one arm is enough to move


def _person(frames: int, persons: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    joints = np.zeros((frames, persons, 25, 3), np.float32)
    joints[:, :] = rng.normal(scale=0.3, size=(persons, 25, 3)) + [0.0, 0.0, 3.0]
    return joints


def _wave(joints: np.ndarray, start: int, stop: int, amplitude: float = 0.15, person: int = 0) -> np.ndarray:
    out = joints.copy()
    phase = np.sin(np.linspace(0.0, 2.0 * np.pi, stop - start))
    out[start:stop, person][:, ARM, 1] += amplitude * phase[:, None]
    return out


def test_the_span_is_one_arm_moving_and_the_held_poses_around_it_are_cut() -> None:
    joints = _wave(_person(96), 30, 70)  # 15 cm: a moderate wave of one arm
    a, b = moving_span(joints, FPS, StillTrim())
    assert 30 - LAG <= a <= 32 and 67 <= b <= 69 + LAG  # at most one lag of held pose on either side
    cut, t = trim_still(joints, np.arange(96) / FPS, FPS, StillTrim())
    np.testing.assert_array_equal(cut, joints[a : b + 1])
    np.testing.assert_allclose(t, np.arange(a, b + 1) / FPS)


def test_two_persons_the_span_joins_both() -> None:
    joints = _wave(_wave(_person(96, persons=2), 10, 30, person=0), 60, 85, person=1)  # apart in time
    a, b = moving_span(joints, FPS, StillTrim())
    assert a <= 11 and b >= 84
    alone = joints.copy()
    alone[:, 1] = 0.0  # the second slot empty: only the first person's motion counts
    _, b = moving_span(alone, FPS, StillTrim())
    assert b <= 30 + LAG


def _step(joints: np.ndarray, at: int, size: float, arm: list[int] = ARM) -> np.ndarray:
    """The arm raised by ``size`` metres in 3 frames from frame ``at`` and held there."""
    out = joints.copy()
    ramp = np.clip((np.arange(len(out)) - at) / 3.0, 0.0, 1.0)
    out[:, 0][:, arm, 1] += size * ramp[:, None].astype(np.float32)
    return out


def test_the_defaults() -> None:
    assert StillTrim() == StillTrim(threshold_m=0.05, lag_s=0.25, joints=5, min_s=1.0, max_tail_s=None)


def test_five_joints_over_the_threshold_move_a_frame() -> None:
    assert moving_span(_step(_person(96), 40, 0.3, ARM[:4]), FPS, StillTrim()) is None  # 4 joints: still
    assert moving_span(_step(_person(96), 40, 0.3), FPS, StillTrim()) is not None
    assert moving_span(_step(_person(96), 40, 0.04), FPS, StillTrim()) is None  # 4 cm < 5 cm
    assert moving_span(_step(_person(96), 40, 0.06), FPS, StillTrim()) is not None


def test_a_still_or_jittering_person_keeps_the_whole_window() -> None:
    still = _person(96)
    jitter = still + np.random.default_rng(1).normal(scale=0.004, size=still.shape).astype(np.float32)
    times = np.arange(96) / FPS
    for joints in (still, jitter):
        assert moving_span(joints, FPS, StillTrim()) is None
        cut, t = trim_still(joints, times, FPS, StillTrim())
        assert cut is joints and t is times


def test_moving_through_the_room_is_not_motion_of_the_body() -> None:
    joints = _person(96)
    joints[:, 0] += np.linspace(0.0, 2.0, 96)[:, None, None].astype(np.float32)  # 2 m of drift, limbs still
    assert moving_span(joints, FPS, StillTrim()) is None


def test_a_person_appearing_is_not_motion() -> None:
    joints = _wave(_person(96), 50, 90)
    joints[:20] = 0.0  # absent for the first 20 frames
    a, _ = moving_span(joints, FPS, StillTrim())
    assert a >= 50 - LAG


def test_an_edge_is_cut_only_when_a_lag_of_frames_would_go() -> None:
    # a sharp raise at frame 12: the span starts 8 frames before it, so 4 frames would go at the start: kept
    near_start = _step(_person(96), 12, 0.3)
    a, _ = moving_span(near_start, FPS, StillTrim())
    assert a == 0
    # the same raise at frame 30 leaves more than a lag outside: that edge is cut
    a, _ = moving_span(_step(_person(96), 30, 0.3), FPS, StillTrim())
    assert 30 - LAG <= a <= 30
    # the mirror case: the arm lowered 12 frames before the window's end
    joints = _step(_person(96), 0, 0.3)
    lowered = _step(joints, 81, -0.3)
    _, b = moving_span(lowered, FPS, StillTrim())
    assert b == 95
    _, b = moving_span(_step(joints, 60, -0.3), FPS, StillTrim())
    assert 63 <= b <= 63 + LAG


def test_max_tail_s_reads_a_long_still_tail_whole() -> None:
    joints = _wave(_person(96), 20, 50)  # 1.5 s of stillness after the motion
    times = np.arange(96) / FPS
    a, b = moving_span(joints, FPS, StillTrim())
    assert 95 - b > 1.0 * FPS
    cut, _ = trim_still(joints, times, FPS, StillTrim(max_tail_s=1.0))
    np.testing.assert_array_equal(cut, joints[a:])  # the lead is cut, the tail is read whole (the action fades)
    cut, _ = trim_still(joints, times, FPS, StillTrim())
    np.testing.assert_array_equal(cut, joints[a : b + 1])  # by default the tail is cut too
    cut, _ = trim_still(joints, times, FPS, StillTrim(max_tail_s=2.0))
    np.testing.assert_array_equal(cut, joints[a : b + 1])  # a tail within the limit is cut


def test_motion_across_the_whole_window_or_a_span_shorter_than_min_s_leaves_it_whole() -> None:
    times = np.arange(96) / FPS
    everywhere = _wave(_person(96), 0, 96)
    cut, _ = trim_still(everywhere, times, FPS, StillTrim())
    assert cut is everywhere
    blink = _wave(_person(96), 40, 50, amplitude=0.3)  # 0.33 s: a span of about 0.6 s with the lag
    assert moving_span(blink, FPS, StillTrim()) is not None
    cut, _ = trim_still(blink, times, FPS, StillTrim())  # the default minimum, 1 s
    assert cut is blink
    cut, _ = trim_still(blink, times, FPS, StillTrim(min_s=0.5))
    assert len(cut) < len(blink)
    # a short motion stays whole even when a long still tail would be read whole (min_s decides first)
    cut, _ = trim_still(blink, times, FPS, StillTrim(max_tail_s=1.0))
    assert cut is blink


def test_a_window_shorter_than_the_lag_has_no_span() -> None:
    assert moving_span(_person(5), FPS, StillTrim()) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold_m": 0.0}, "threshold_m must be > 0"),
        ({"lag_s": -1.0}, "lag_s must be > 0"),
        ({"joints": 0}, r"joints must be in \[1, 25\]"),
        ({"min_s": -0.1}, "min_s must be >= 0"),
        ({"max_tail_s": -1.0}, "max_tail_s must be >= 0 or None"),
    ],
)
def test_settings_are_checked(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        StillTrim(**kwargs)
