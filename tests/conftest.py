from __future__ import annotations

from pathlib import Path

import pytest

from sadvae.paths import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def one_torch_thread():
    """Tiny models: one intra-op thread avoids OpenMP spin-wait stalls when the CPU is shared.

    A module opts in with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the project root; tests that need it skip with a reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (clone the project beside ../shared to run this test)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def bundle_fixtures():
    """``tests/fixtures_bundle.py`` (a tiny random-weight bundle and its ONNX export), loaded once per session.

    pytest runs with ``--import-mode=importlib``, so the module is loaded by path under one fixed name.
    """
    import importlib.util
    import sys

    pytest.importorskip("torch")
    name = "sadvae_tests_fixtures_bundle"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "fixtures_bundle.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def model_files(bundle_fixtures, tmp_path_factory) -> tuple[Path, Path]:
    """(bundle .pt, exported .onnx) of the tiny random-weight model, exported once per session."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    bundle, report = bundle_fixtures.tiny_model(tmp_path_factory.getbasetemp())
    return bundle, report.path


@pytest.fixture(scope="session")
def cache_root(model_files, tmp_path_factory) -> Path:
    """A SADVAE_CACHE_DIR whose ONNX cache already holds the tiny bundle's export (no export in a subprocess)."""
    import shutil

    from realtime.backends.live_model import onnx_cache_path
    from sadvae.hashing import file_sha256

    root = tmp_path_factory.mktemp("cache")
    (root / "onnx").mkdir()
    shutil.copy(model_files[1], onnx_cache_path(file_sha256(model_files[0]), root / "onnx"))
    return root


@pytest.fixture
def live_model(model_files):
    """The tiny model loaded for the live pipeline (ONNX Runtime); closed after the test."""
    from realtime.backends.live_model import load_live_model

    model = load_live_model(model_files[1], "onnxruntime", bundle=model_files[0])
    yield model
    model.close()


@pytest.fixture
def replay_batches(model_files, tmp_path):
    """A function that plays one person's joints [T, 1, 25, 3] at 30 frames/s through the live pipeline with the tiny
    model (a window every 4 frames, decisions that fire on anything, labels "wave" and "clap") and returns the
    ``WindowBatch`` of every window; keyword arguments set other ``PipelineOptions`` fields."""
    import numpy as np

    def run(joints, **options):
        from realtime.backends.live_model import load_live_model
        from realtime.decisions import DecisionOptions
        from realtime.events.publisher import PublisherOptions
        from realtime.head.zero_shot import HeadOptions
        from realtime.pipeline import Pipeline, PipelineOptions
        from realtime.sources.replay import ReplaySource, save_recording

        model = load_live_model(model_files[1], "onnxruntime", bundle=model_files[0])  # the pipeline closes it
        path = tmp_path / f"replay_{len(list(tmp_path.glob('replay_*')))}.npz"
        rec = save_recording(path, joints, np.arange(len(joints)) / 30.0)
        labels = tmp_path / "labels.txt"
        labels.write_text("wave\nclap\n", encoding="utf-8")
        opts = PipelineOptions(
            stride=4,
            handle_signals=False,
            decisions=DecisionOptions(min_score=0.0, keep_score=0.0, start_score=0.0, start_windows=1),
            head=HeadOptions(cache_dir=str(tmp_path / "heads")),
            publisher=PublisherOptions(endpoint="tcp://127.0.0.1:*"),
            **options,
        )
        batches = []
        Pipeline(ReplaySource(rec), model, labels, opts, on_batch=batches.append).run()
        return batches

    return run
