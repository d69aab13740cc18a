"""A Shift-GCN bundle end to end: save -> load -> export -> live replay of a real NTU sample -> events.

The tiny bundle (random Shift-GCN + 2-class extra head, NTU window config: 30 fps, T = 64, ``"ntu"``
normalisation, live config: one person, stride 16) is exported once (the dynamo export of Shift-GCN
takes ~20 s of CPU), then replayed through the real pipeline with ONNX Runtime and with torch, and with
ONNX Runtime in a child process where torch cannot be imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
pytest.importorskip("zmq")

from sadvae_tests_helpers import NO_TORCH_PRELUDE  # noqa: E402

from realtime.backends.live_model import load_live_model  # noqa: E402
from realtime.decisions import DecisionOptions  # noqa: E402
from realtime.events.publisher import PublisherOptions  # noqa: E402
from realtime.head.zero_shot import HeadOptions  # noqa: E402
from realtime.pipeline import Pipeline, PipelineOptions, WindowBatch  # noqa: E402
from realtime.sources.replay import ReplaySource  # noqa: E402
from sadvae.data.motion import trim_still  # noqa: E402
from sadvae.data.preprocess import preprocess  # noqa: E402
from sadvae.paths import PROJECT_ROOT, SHARED_DATA  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = PROJECT_ROOT
NTU_FILE = "ntu/S001C001P001R001A001.skeleton"  # 103 frames at 30 fps, one person
SEEN_LABELS = "wave\nclap\nbow\n"  # "bow" is scored by the extra head: seen labels only, no text encoder
EAGER = DecisionOptions(min_score=0.0, keep_score=0.0, start_score=0.0, start_windows=1)


@pytest.fixture(scope="module")
def shift_files(bundle_fixtures, tmp_path_factory) -> tuple[Path, Path]:
    """(bundle .pt, its ONNX export beside it as <stem>.onnx)."""
    from sadvae.export import export_onnx

    root = tmp_path_factory.mktemp("shift_live")
    bundle = bundle_fixtures.make_tiny_shiftgcn_bundle(root / "shift.pt")
    report = export_onnx(bundle, root / "shift.onnx")  # TensorRT operator check + ORT parity (raises on failure)
    assert max(max(e.values()) for e in report.parity.values()) < 1e-4
    assert "Einsum" not in report.op_histogram
    return bundle, report.path


def _replay(model, labels: Path, tmp_path: Path, frames: int = 150) -> tuple[Pipeline, list[WindowBatch], list[dict]]:
    batches: list[WindowBatch] = []
    events: list[dict] = []
    opts = PipelineOptions(
        handle_signals=False,
        decisions=EAGER,
        max_frames=frames,
        head=HeadOptions(cache_dir=str(tmp_path / "heads")),
        publisher=PublisherOptions(endpoint="tcp://127.0.0.1:*"),
    )
    source = ReplaySource(SHARED_DATA / NTU_FILE, loop=True)
    pipe = Pipeline(source, model, labels, opts, on_batch=batches.append, on_event=events.append)
    assert pipe.run() == "max_frames"
    return pipe, batches, events


def test_export_carries_the_window_config_normalisation_and_terms(shift_files):
    model = load_live_model(shift_files[0], "onnxruntime")
    try:
        assert model.backend_path == shift_files[1], model.note  # the export beside the bundle, not a new one
        assert model.backend.window_shape == (3, 64, 25, 1)  # one-person graph (live config)
        meta = model.backend.metadata
        assert (meta["window"], meta["fps"], meta["persons"], meta["normalization"]) == (64, 30.0, 1, "ntu")
        assert meta["backbone"] == {"arch": "shiftgcn", "slots": 2, "own_classes": 4, "extra_classes": 2}
        assert meta["live"] == {"stride": 16, "persons": 1} and meta["terms"]["license"] == "CC-BY-NC-4.0"
        assert model.preprocess.normalization == "ntu" and model.preprocess.persons == 1
        assert model.bundle.seen_names == ("wave", "clap", "jump", "stand up", "kick", "bow")
    finally:
        model.close()


def test_replay_on_onnxruntime_and_torch_agrees(shared_data, shift_files, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text(SEEN_LABELS, encoding="utf-8")
    runs = {}
    for backend in ("onnxruntime", "torch"):
        model = load_live_model(shift_files[0], backend)
        runs[backend] = _replay(model, labels, tmp_path)
    (ort_pipe, ort_batches, ort_events), (pt_pipe, pt_batches, pt_events) = runs["onnxruntime"], runs["torch"]
    assert ort_pipe.stride == pt_pipe.stride == 16  # the model's stride (16 frames at 30 fps) at the replay's 30 fps
    assert len(ort_batches) == len(pt_batches) >= 4
    for a, b in zip(ort_batches, pt_batches, strict=True):
        assert a.windows.shape == (1, 3, 64, 25, 1)
        np.testing.assert_array_equal(a.windows, b.windows)  # the same buffer + preprocess on both
        np.testing.assert_allclose(a.outputs["latent"], b.outputs["latent"], atol=1e-4)
        np.testing.assert_allclose(a.outputs["seen_logits"], b.outputs["seen_logits"], atol=2e-4)
        np.testing.assert_allclose(a.result.probs, b.result.probs, atol=1e-4)
        # the window is the 30 fps grid ending on the newest frame, cut to the span in which the person moves
        # (--trim-still), through the ONE preprocessing function
        assert np.allclose(np.diff(a.times[0]), 1 / 30)
        moving = trim_still(a.joints[0], a.times[0], 30.0, PipelineOptions().trim_still)
        want = preprocess(*moving, ort_pipe.model.preprocess, crop="end")
        np.testing.assert_array_equal(want, a.windows[0])
        centred = want[:, :, 1, 0]  # the spine mid of person 0 is the origin in every frame ("ntu")
        assert np.abs(centred).max() < 1e-6
    actions = [e for e in ort_events if e["type"] != "status"]
    assert actions and actions[0]["type"] == "start" and {e["label"] for e in actions} <= {"wave", "clap", "bow"}
    span = actions[0]["window"]["end_ms"] - actions[0]["window"]["start_ms"]
    assert span == pytest.approx(63 / 30 * 1000, abs=1e-2)
    assert [e["label"] for e in ort_events if e["type"] != "status"] == [
        e["label"] for e in pt_events if e["type"] != "status"
    ]


CHILD = NO_TORCH_PRELUDE + textwrap.dedent(
    """
    import json

    from realtime.decisions import DecisionOptions
    from realtime.events.publisher import PublisherOptions
    from realtime.head.zero_shot import HeadOptions
    from realtime.backends.live_model import load_live_model
    from realtime.pipeline import Pipeline, PipelineOptions
    from realtime.sources.replay import ReplaySource

    model_path, labels, heads, replay = sys.argv[1:5]
    opts = PipelineOptions(handle_signals=False, max_frames=150, head=HeadOptions(cache_dir=heads),
                           decisions=DecisionOptions(min_score=0.0, keep_score=0.0, start_score=0.0, start_windows=1),
                           publisher=PublisherOptions(endpoint="tcp://127.0.0.1:*"))
    events = []
    model = load_live_model(model_path, "onnxruntime")
    pipe = Pipeline(ReplaySource(replay, loop=True), model, labels, opts, on_event=events.append)
    reason = pipe.run()
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in Block.BLOCKED)
    actions = [e for e in events if e["type"] != "status"]
    print(json.dumps({"reason": reason, "heavy": heavy, "windows": pipe.windows, "stride": pipe.stride,
                      "labels": sorted({e["label"] for e in actions}), "actions": len(actions)}))
    """
)


def test_replay_runs_without_torch(shared_data, shift_files, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text(SEEN_LABELS, encoding="utf-8")
    args = [
        sys.executable,
        "-c",
        CHILD,
        str(shift_files[0]),
        str(labels),
        str(tmp_path / "heads"),
        str(shared_data / NTU_FILE),
    ]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["reason"] == "max_frames" and out["heavy"] == [] and out["stride"] == 16
    assert out["windows"] >= 4 and out["actions"] >= 2 and set(out["labels"]) <= {"wave", "clap", "bow"}
