from __future__ import annotations

import logging

import numpy as np
import pytest

from realtime.buffer import JointBuffer
from sadvae.data.preprocess import PreprocessConfig, preprocess
from sadvae.errors import SourceError


def frame(value: float, persons: int = 1) -> np.ndarray:
    """A skeleton frame whose every coordinate equals ``value`` (so interpolation is easy to check)."""
    return np.full((persons, 25, 3), value, dtype=np.float32)


def test_wrap_around_keeps_oldest_first_order_and_capacity() -> None:
    buf = JointBuffer(capacity=5, window=2, fps=1.0, max_gap_s=10.0)
    for k in range(8):
        buf.push(frame(k), float(k))
        assert len(buf) == min(k + 1, 5)
    joints, times = buf.frames()
    np.testing.assert_array_equal(times, [3, 4, 5, 6, 7])
    np.testing.assert_array_equal(joints[:, 0, 0, 0], [3, 4, 5, 6, 7])
    assert buf.first_time == 3.0 and buf.last_time == 7.0
    # frames() hands out copies
    joints[:] = -1
    assert buf.frames()[0][0, 0, 0, 0] == 3


def test_window_none_until_the_buffer_spans_a_window() -> None:
    buf = JointBuffer(capacity=100, window=32, fps=15.0)
    assert buf.window() is None and not buf.ready and buf.last_time is None
    # at 30 frames/s a 32-frame window at 15 frames/s (31/15 s) needs 63 frames
    for k in range(62):
        buf.push(frame(k / 30), k / 30)
        assert buf.window() is None
    buf.push(frame(62 / 30), 62 / 30)
    assert buf.ready and buf.window() is not None


def test_resample_30fps_input_to_15fps_window() -> None:
    buf = JointBuffer(capacity=100, window=32, fps=15.0, persons=2)
    for k in range(90):
        t = 10.0 + k / 30  # arbitrary monotonic origin
        buf.push(np.stack([frame(t)[0], np.zeros((25, 3), np.float32)]), t)
    joints, times = buf.window()
    assert joints.shape == (32, 2, 25, 3) and joints.dtype == np.float32 and joints.flags.c_contiguous
    assert times.shape == (32,) and times.dtype == np.float64
    assert times[-1] == pytest.approx(10.0 + 89 / 30)  # the window ends on the newest frame
    np.testing.assert_allclose(np.diff(times), 1 / 15, rtol=1e-9)
    np.testing.assert_allclose(joints[:, 0, 0, 0], times, atol=1e-5)  # every other input frame
    np.testing.assert_array_equal(joints[:, 1], 0.0)  # an absent person stays exactly zero
    # the window feeds the shared preprocessing as frames already at the model rate
    cfg = PreprocessConfig(window=32, fps=15.0, persons=2)
    assert preprocess(joints, None, cfg, crop="end").shape == (3, 32, 25, 2)


def test_input_at_the_model_rate_gives_the_raw_frames() -> None:
    buf = JointBuffer(capacity=64, window=8, fps=15.0)
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(40, 1, 25, 3)).astype(np.float32)
    for k in range(40):
        buf.push(raw[k], k / 15)
    joints, times = buf.window()
    np.testing.assert_allclose(joints, raw[-8:], atol=1e-6)
    np.testing.assert_allclose(times, np.arange(32, 40) / 15)


def test_irregular_timestamps_interpolate_linearly() -> None:
    rng = np.random.default_rng(1)
    dt = rng.uniform(0.01, 0.06, size=200)  # 16-100 frames/s, jittery
    t = np.cumsum(dt)
    buf = JointBuffer(capacity=256, window=16, fps=10.0)
    for tk in t:
        buf.push(frame(3.0 * tk - 1.0), tk)  # coordinates linear in time
    joints, times = buf.window()
    assert times[-1] == pytest.approx(t[-1])
    np.testing.assert_allclose(joints[:, 0, 5, 1], 3.0 * times - 1.0, atol=2e-5)


def test_gap_resets_the_buffer() -> None:
    buf = JointBuffer(capacity=64, window=4, fps=10.0, max_gap_s=0.5)
    for k in range(10):
        buf.push(frame(k), k * 0.1)
    assert buf.ready
    buf.push(frame(99), 0.9 + 0.6)  # person lost for 0.6 s
    assert len(buf) == 1 and buf.resets == 1 and not buf.ready and buf.window() is None
    assert buf.first_time == pytest.approx(1.5)
    for k in range(1, 4):
        buf.push(frame(99), 1.5 + k * 0.1)
    joints, _ = buf.window()
    np.testing.assert_array_equal(joints, 99.0)  # nothing from before the gap


def test_should_emit_every_stride_pushes_once_ready() -> None:
    buf = JointBuffer(capacity=32, window=4, fps=10.0, stride=3)
    due = [buf.push(frame(0), k * 0.1) for k in range(12)]
    # ready at the 4th push (3 intervals = 0.3 s), then every 3rd push
    assert due == [False, False, False, True, False, False, True, False, False, True, False, False]
    assert buf.should_emit() is False
    buf.reset()
    assert len(buf) == 0 and not buf.should_emit() and buf.window() is None


def test_non_increasing_timestamps_are_rejected_and_leave_the_buffer_unchanged() -> None:
    buf = JointBuffer(capacity=8, window=2, fps=10.0)
    buf.push(frame(1), 1.0)
    with pytest.raises(SourceError, match=r"frame time 1\.000000 s is not after the previous frame's 1\.000000 s"):
        buf.push(frame(2), 1.0)
    with pytest.raises(SourceError, match="timestamps must strictly increase"):
        buf.push(frame(2), 0.5)
    with pytest.raises(SourceError, match="finite"):
        buf.push(frame(2), float("nan"))
    assert len(buf) == 1 and buf.last_time == 1.0


def test_bad_frames_are_rejected() -> None:
    buf = JointBuffer(capacity=8, window=2, fps=10.0, persons=2)
    with pytest.raises(ValueError, match=r"expected joints of shape \(2, 25, 3\), got \(1, 25, 3\)"):
        buf.push(frame(0, persons=1), 0.0)
    bad = frame(0, persons=2)
    bad[1, 3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        buf.push(bad, 0.0)
    assert len(buf) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"capacity": 4, "window": 8, "fps": 15.0}, r"capacity must be >= window \(8\), got 4"),
        ({"capacity": 8, "window": 1, "fps": 15.0}, "window must be >= 2"),
        ({"capacity": 8, "window": 4, "fps": 0.0}, "fps must be positive"),
        ({"capacity": 8, "window": 4, "fps": 15.0, "persons": 0}, "persons must be >= 1"),
        ({"capacity": 8, "window": 4, "fps": 15.0, "stride": 0}, "stride must be >= 1"),
        ({"capacity": 8, "window": 4, "fps": 15.0, "max_gap_s": 0.0}, "max_gap_s must be positive"),
    ],
)
def test_constructor_checks(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        JointBuffer(**kwargs)


def test_too_small_capacity_warns_once(caplog) -> None:
    buf = JointBuffer(capacity=10, window=8, fps=15.0)  # 10 frames at 60 frames/s span 0.15 s < 7/15 s
    with caplog.at_level(logging.WARNING, logger="realtime.buffer"):
        for k in range(30):
            buf.push(frame(0), k / 60)
    warnings = [r for r in caplog.records if "raise capacity" in r.getMessage()]
    assert len(warnings) == 1
    assert "raise capacity to at least 30" in warnings[0].getMessage()
    assert buf.window() is None


def test_a_ring_sized_for_fewer_frames_grows_to_hold_a_window(caplog) -> None:
    """A camera that declares 15 frames/s and delivers 60: the ring doubles (up to max_capacity) until it spans a
    whole window, keeping its frames in order, instead of handing out partial windows for ever."""
    ref = JointBuffer(capacity=64, window=8, fps=15.0)
    buf = JointBuffer(capacity=10, window=8, fps=15.0, max_capacity=40)
    with caplog.at_level(logging.INFO, logger="realtime.buffer"):
        for k in range(60):
            joints = frame(k)
            ref.push(joints, k / 60)
            buf.push(joints, k / 60)
    assert buf.capacity == 40 and buf.full and not any("raise capacity" in r.getMessage() for r in caplog.records)
    for a, b in zip(buf.window(), ref.window(), strict=True):
        np.testing.assert_allclose(a, b)
    small = JointBuffer(capacity=10, window=8, fps=15.0, max_capacity=20)  # not enough room allowed: the warning
    with caplog.at_level(logging.WARNING, logger="realtime.buffer"):
        for k in range(60):
            small.push(frame(k), k / 60)
    assert small.capacity == 20 and not small.full
    assert sum("raise capacity" in r.getMessage() for r in caplog.records) == 1


# --- partial windows (issue 14 item 5: decide before a whole window has arrived) ---


def test_partial_windows_start_at_min_window_and_grow_to_a_full_window() -> None:
    buf = JointBuffer(capacity=64, window=8, fps=10.0, min_window=4)
    assert buf.min_window == 4
    sizes = []
    for k in range(12):
        buf.push(frame(k), k * 0.1)
        w = buf.window()
        sizes.append(None if w is None else len(w[0]))
    # ready once 4 frames at 10 frames/s (0.3 s) are held; partial until 8, then always 8
    assert sizes == [None, None, None, 4, 5, 6, 7, 8, 8, 8, 8, 8]
    assert buf.full and buf.ready


def test_partial_window_is_resampled_and_ends_on_the_newest_frame() -> None:
    buf = JointBuffer(capacity=100, window=32, fps=15.0, min_window=8)
    for k in range(20):  # 30 frames/s: 19/30 s = 9.5 grid intervals at 15 frames/s -> 10 frames
        buf.push(frame(5.0 + k / 30), 5.0 + k / 30)
    assert buf.ready and not buf.full
    joints, times = buf.window()
    assert joints.shape == (10, 1, 25, 3) and times.shape == (10,) and joints.flags.c_contiguous
    assert times[-1] == pytest.approx(5.0 + 19 / 30)
    np.testing.assert_allclose(np.diff(times), 1 / 15, rtol=1e-9)
    np.testing.assert_allclose(joints[:, 0, 0, 0], times, atol=1e-5)
    assert times[0] >= 5.0 - 1e-9  # nothing before the first frame is invented


def test_without_min_window_nothing_changes() -> None:
    """min_window=None keeps the round-1 behaviour: no window before a whole one (and the same full window)."""
    a = JointBuffer(capacity=64, window=8, fps=10.0)
    b = JointBuffer(capacity=64, window=8, fps=10.0, min_window=3)
    for k in range(10):
        da, db = a.push(frame(k), k * 0.1), b.push(frame(k), k * 0.1)
        if k < 7:
            assert a.window() is None and not da
        if k >= 2:
            assert db  # stride 1: every push once ready
    np.testing.assert_array_equal(a.window()[0], b.window()[0])
    np.testing.assert_array_equal(a.window()[1], b.window()[1])


def test_a_gap_restarts_the_partial_windows() -> None:
    buf = JointBuffer(capacity=64, window=8, fps=10.0, min_window=4, max_gap_s=0.5)
    for k in range(6):
        buf.push(frame(k), k * 0.1)
    assert buf.ready
    buf.push(frame(9), 2.0)
    assert not buf.ready and buf.window() is None
    for k in range(1, 4):
        due = buf.push(frame(9), 2.0 + k * 0.1)
    assert due and buf.window()[0].shape[0] == 4


def test_partial_window_is_padded_by_the_training_preprocessing() -> None:
    """A partial window goes through the one preprocess(): loop-filled from frame 0, as training pads short clips."""
    rng = np.random.default_rng(3)
    raw = rng.normal(size=(40, 1, 25, 3)).astype(np.float32)
    buf = JointBuffer(capacity=200, window=96, fps=30.0, min_window=32)
    for k in range(40):
        buf.push(raw[k], k / 30)
    joints, times = buf.window()
    assert joints.shape[0] == 40
    cfg = PreprocessConfig(window=96, fps=30.0, persons=1, normalization="ntu")
    live = preprocess(joints, None, cfg, crop="end")
    offline = preprocess(raw, None, cfg)  # a 40-frame clip as the training windows see it
    np.testing.assert_allclose(live, offline, atol=1e-5)
    # loop-filled: frame 40 repeats frame 0 (after normalisation)
    np.testing.assert_allclose(live[:, 40], live[:, 0], atol=1e-6)


@pytest.mark.parametrize("min_window", [1, 9])
def test_min_window_must_fit_the_window(min_window) -> None:
    with pytest.raises(ValueError, match=r"min_window must be in \[2, window=8\]"):
        JointBuffer(capacity=16, window=8, fps=10.0, min_window=min_window)


def test_capacity_warning_still_fires_with_partial_windows(caplog) -> None:
    buf = JointBuffer(capacity=10, window=8, fps=15.0, min_window=2)
    with caplog.at_level(logging.WARNING, logger="realtime.buffer"):
        for k in range(30):
            buf.push(frame(0), k / 60)
    assert sum("raise capacity" in r.getMessage() for r in caplog.records) == 1
    assert buf.ready and not buf.full and buf.window()[0].shape[0] < 8
