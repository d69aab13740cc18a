"""Still poses cut from live windows (--trim-still): the model reads the span in which the person moves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("zmq")

from realtime.cli import _options, build_parser  # noqa: E402
from realtime.decisions import DecisionOptions  # noqa: E402
from realtime.events.publisher import PublisherOptions  # noqa: E402
from realtime.head.zero_shot import HeadOptions  # noqa: E402
from realtime.pipeline import Pipeline, PipelineOptions, WindowBatch  # noqa: E402
from realtime.sources.replay import ReplaySource, save_recording  # noqa: E402
from sadvae.data.motion import StillTrim, trim_still  # noqa: E402
from sadvae.data.preprocess import preprocess  # noqa: E402
from sadvae.errors import ConfigError  # noqa: E402

BASE = ["--demo", "--labels", "labels/demo.txt"]
EAGER = DecisionOptions(min_score=0.0, keep_score=0.0, start_score=0.0, start_windows=1)


def _run(tmp_path: Path, model_files, trim: StillTrim | None) -> list[WindowBatch]:
    """Replay a person who stands 1 s, waves an arm for 1.5 s and stands 1 s (30 frames/s) through the tiny model."""
    from realtime.backends.live_model import load_live_model

    live_model = load_live_model(model_files[1], "onnxruntime", bundle=model_files[0])
    t = 105
    joints = np.zeros((t, 1, 25, 3), np.float32)
    joints[:, 0] = np.random.default_rng(0).normal(scale=0.2, size=(25, 3)) + [0.0, 0.0, 3.0]
    joints[30:75, 0, 5:8, 1] += 0.3 * np.sin(np.linspace(0.0, 2.0 * np.pi, 45))[:, None]  # elbow, wrist, hand
    joints[30:75, 0, 21:23, 1] += 0.3 * np.sin(np.linspace(0.0, 2.0 * np.pi, 45))[:, None]  # hand tip, thumb
    rec = save_recording(tmp_path / f"wave_{trim is not None}.npz", joints, np.arange(t) / 30.0)
    labels = tmp_path / "labels.txt"
    labels.write_text("wave\nclap\n", encoding="utf-8")
    opts = PipelineOptions(
        stride=4,
        handle_signals=False,
        decisions=EAGER,
        trim_still=trim,
        head=HeadOptions(cache_dir=str(tmp_path / "heads")),
        publisher=PublisherOptions(endpoint="tcp://127.0.0.1:*"),
    )
    batches: list[WindowBatch] = []
    Pipeline(ReplaySource(rec), live_model, labels, opts, on_batch=batches.append).run()
    return batches


def test_the_model_reads_the_moving_span_and_the_hook_the_whole_window(tmp_path, model_files) -> None:
    from sadvae.bundle import load_bundle

    cfg = load_bundle(model_files[0]).preprocess
    assert PipelineOptions().trim_still == StillTrim()  # on by default
    trimmed, whole = _run(tmp_path, model_files, StillTrim()), _run(tmp_path, model_files, None)
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


def test_trim_still_flag(capsys) -> None:
    assert _options(build_parser().parse_args(BASE)).trim_still == StillTrim()
    assert _options(build_parser().parse_args([*BASE, "--trim-still", "0.05"])).trim_still == StillTrim(0.05)
    assert _options(build_parser().parse_args([*BASE, "--trim-still", "0"])).trim_still is None
    with pytest.raises(ConfigError, match="--trim-still must be >= 0 metres"):
        _options(build_parser().parse_args([*BASE, "--trim-still", "-1"]))
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"(default {StillTrim().threshold_m:g}," in text and "--trim-still M" in text
