from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


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
