from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from sadvae.paths import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]


# ``tests/helpers.py`` (torch-free stand-ins and ``load_by_path``), loaded by path here, at conftest import, before
# any test module is collected (pytest runs with ``--import-mode=importlib``: test modules cannot import each other),
# so a test file can write ``from sadvae_tests_helpers import FakeText`` at module level.
_spec = importlib.util.spec_from_file_location("sadvae_tests_helpers", ROOT / "tests" / "helpers.py")
helpers = sys.modules["sadvae_tests_helpers"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)


@pytest.fixture
def one_torch_thread():
    """Tiny models: one intra-op thread avoids OpenMP spin-wait stalls when the CPU is shared.

    A module opts in with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def labels(tmp_path: Path) -> Path:
    """``labels.txt`` of two seen classes of the tiny bundle ("wave", "clap"): no text encoder needed."""
    p = tmp_path / "labels.txt"
    p.write_text("wave\nclap\n", encoding="utf-8")
    return p


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
    pytest.importorskip("torch")
    return helpers.load_by_path("sadvae_tests_fixtures_bundle", ROOT / "tests" / "fixtures_bundle.py")


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
