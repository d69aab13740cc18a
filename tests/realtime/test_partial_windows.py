"""Partial windows in the live pipeline (issue 14 item 5): a track is scored before a whole window has arrived."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("zmq")

from realtime.pipeline import PipelineOptions, WindowBatch  # noqa: E402
from sadvae.data.preprocess import preprocess  # noqa: E402
from sadvae.errors import ConfigError  # noqa: E402


def _run(replay_batches, min_window: int | None) -> list[WindowBatch]:
    """Replay 2.5 s of one synthetic person through the tiny model."""
    rng = np.random.default_rng(0)
    t = 75  # 2.5 s at 30 frames/s: a window of the tiny model (32 frames at 15 fps) needs 2.07 s
    joints = np.zeros((t, 1, 25, 3), np.float32)
    joints[:, 0] = rng.normal(scale=0.2, size=(25, 3)) + [0.0, 0.0, 3.0]
    joints[:, 0] += 0.05 * np.sin(np.arange(t) / 4.0)[:, None, None]
    # whole windows: this file is about padding (tests/realtime/test_trim_still.py: the cut)
    return replay_batches(joints, min_window_frames=min_window, trim_still=None)


def test_partial_windows_come_earlier_and_are_padded_by_the_training_preprocessing(replay_batches, model_files) -> None:
    from sadvae.bundle import load_bundle

    cfg = load_bundle(model_files[0]).preprocess
    whole = _run(replay_batches, None)
    part = _run(replay_batches, 8)
    assert whole and all(len(b.times[0]) == cfg.window for b in whole)
    sizes = [len(b.times[0]) for b in part]
    assert sizes[0] >= 8 and sizes[0] < cfg.window and sizes == sorted(sizes)
    assert part[0].t_ms < whole[0].t_ms - 1000  # more than a second earlier
    for b in part[:3]:  # the window the model saw is the shared preprocessing of the partial frames
        np.testing.assert_array_equal(b.windows[0], preprocess(b.joints[0], b.times[0], cfg, crop="end"))
        assert b.windows.shape == (1, 3, cfg.window, 25, cfg.persons)
    # once a whole window is held, the windows are the same as without partial windows
    tail = {b.t_ms: b for b in part if len(b.times[0]) == cfg.window}
    assert len(tail) == len(whole)
    for b in whole:
        np.testing.assert_array_equal(tail[b.t_ms].windows, b.windows)


def test_a_minimum_above_the_window_means_whole_windows(replay_batches) -> None:
    batches = _run(replay_batches, 500)
    assert batches and all(len(b.times[0]) == len(b.windows[0][0]) for b in batches)


def test_min_window_frames_is_checked() -> None:
    with pytest.raises(ConfigError, match="min_window_frames must be an integer >= 2, got 1"):
        PipelineOptions(min_window_frames=1)
