"""Still poses cut from live windows (--trim-still): the model reads the span in which the person moves."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("zmq")

from realtime.cli import _options, build_parser  # noqa: E402
from realtime.pipeline import PipelineOptions, WindowBatch  # noqa: E402
from sadvae.data.motion import StillTrim, trim_still  # noqa: E402
from sadvae.data.preprocess import preprocess  # noqa: E402
from sadvae.errors import ConfigError  # noqa: E402

BASE = ["--demo", "--labels", "labels/demo.txt"]


def _wave(replay_batches, trim: StillTrim | None, **options) -> list[WindowBatch]:
    """A person who stands 1 s, waves an arm for 1.5 s and stands 1 s (30 frames/s), through the tiny model
    (``options``: other ``PipelineOptions`` fields)."""
    joints = np.zeros((105, 1, 25, 3), np.float32)
    joints[:, 0] = np.random.default_rng(0).normal(scale=0.2, size=(25, 3)) + [0.0, 0.0, 3.0]
    arm = [5, 6, 7, 21, 22]  # elbow, wrist, hand, hand tip, thumb
    joints[30:75, 0][:, arm, 1] += 0.3 * np.sin(np.linspace(0.0, 2.0 * np.pi, 45))[:, None]
    return replay_batches(joints, trim_still=trim, **options)


def test_the_model_reads_the_moving_span_and_the_hook_the_whole_window(replay_batches, model_files) -> None:
    from sadvae.bundle import load_bundle

    cfg = load_bundle(model_files[0]).preprocess
    assert PipelineOptions().trim_still == StillTrim()  # on by default
    trimmed, whole = _wave(replay_batches, StillTrim()), _wave(replay_batches, None)
    assert len(trimmed) == len(whole) > 0
    cut = 0
    for a, b in zip(trimmed, whole, strict=True):
        np.testing.assert_array_equal(a.joints[0], b.joints[0])  # the hook sees the buffer's window either way
        np.testing.assert_array_equal(b.windows[0], preprocess(b.joints[0], b.times[0], cfg, crop="end"))
        moving = trim_still(a.joints[0], a.times[0], cfg.fps, StillTrim())
        np.testing.assert_array_equal(a.windows[0], preprocess(*moving, cfg, crop="end"))
        cut += len(moving[0]) < len(a.joints[0])
        # what the model read is in the person's view (status heartbeats, --print all); None: the whole window
        read = a.views[0].moving_ms
        if len(moving[0]) < len(a.joints[0]):
            assert read == pytest.approx((moving[1][0] * 1000.0, moving[1][-1] * 1000.0))
        else:
            assert read is None
        assert b.views[0].moving_ms is None
    assert cut >= len(trimmed) // 2  # the held poses were cut from most windows


def test_each_window_says_whether_the_person_still_moves_at_its_end(replay_batches, model_files) -> None:
    """WindowBatch.moving (what --segment-score reads): True while the arm waves up to the window's end, False once
    the person has stood still longer than the rule's lag; the still-pose rule's moving span decides it."""
    from sadvae.bundle import load_bundle
    from sadvae.data.motion import moving_span

    fps = load_bundle(model_files[0]).preprocess.fps
    # partial windows from 8 frames on, so that windows end while the person still stands before the wave
    batches = _wave(replay_batches, StillTrim(), min_window_frames=8)
    flags = [b.moving[0] for b in batches]
    for b, flag in zip(batches, flags, strict=True):
        span = moving_span(b.joints[0], fps, StillTrim())
        assert flag == (span is not None and span[1] == len(b.joints[0]) - 1)
    ends = [b.times[0][-1] for b in batches]
    assert any(t < 0.9 for t in ends) and any(t > 2.9 for t in ends)  # each check below has windows to judge
    assert any(f for f, t in zip(flags, ends, strict=True) if 1.2 < t < 2.4)  # mid-wave
    assert not any(f for f, t in zip(flags, ends, strict=True) if t > 2.9)  # 0.4 s and more after it
    assert not any(f for f, t in zip(flags, ends, strict=True) if t < 0.9)  # standing before it


def test_trim_still_flag(capsys) -> None:
    assert _options(build_parser().parse_args(BASE)).trim_still == StillTrim()
    assert _options(build_parser().parse_args([*BASE, "--trim-still", "0.03"])).trim_still == StillTrim(0.03)
    assert _options(build_parser().parse_args([*BASE, "--trim-still", "0"])).trim_still is None
    with pytest.raises(ConfigError, match="--trim-still must be >= 0 metres"):
        _options(build_parser().parse_args([*BASE, "--trim-still", "-1"]))
    # a threshold no person's joint reaches made every window "still" without a word (review of 7 December 2026)
    assert _options(build_parser().parse_args([*BASE, "--trim-still", "1"])).trim_still == StillTrim(1.0)
    with pytest.raises(ConfigError, match="--trim-still 100 metres in 0.25 s is more than any joint of a person"):
        _options(build_parser().parse_args([*BASE, "--trim-still", "100"]))
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"(default {StillTrim().threshold_m:g}," in text and "--trim-still M" in text


def test_pipeline_options_refuse_a_number_for_the_cut() -> None:
    with pytest.raises(ConfigError, match="trim_still must be a sadvae.data.motion.StillTrim or None"):
        PipelineOptions(trim_still=0.05)
