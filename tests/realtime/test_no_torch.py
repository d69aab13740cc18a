"""The live pipeline on ONNX Runtime without torch (as on a Jetson): seen labels and cached heads need no torch.

Each case runs the real pipeline (export -> load_live_model -> Pipeline -> head -> decisions -> events) in a
child process where ``torch``, the sentence encoder and the ``onnx`` packages cannot be imported. Only a head
fit for new labels with a cache miss needs torch, and then fails with one clear line.
"""

from __future__ import annotations

import json
import shutil
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

from sadvae_tests_helpers import NO_TORCH_PRELUDE, FakeText  # noqa: E402

from realtime.backends.live_model import load_live_model  # noqa: E402
from realtime.head.labels import parse_labels_text  # noqa: E402
from realtime.head.zero_shot import HeadBuilder, HeadOptions  # noqa: E402
from sadvae.errors import ConfigError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SEEN_LABELS = "wave\nclap\njump\n"  # seen classes of the tiny bundle: backbone head only
NEW_LABELS = "wave\nsit down\nkick\n"  # "sit down" and "kick" are new to the head: a fit (or a cached one)
HEAD = dict(samples_per_class=64, steps=50)  # the child uses the same settings: they are part of the cache key

CHILD = NO_TORCH_PRELUDE + textwrap.dedent(
    """
    import json

    from realtime.decisions import DecisionOptions
    from realtime.sources.demo import perform
    from realtime.events.publisher import PublisherOptions
    from realtime.head.zero_shot import HeadOptions
    from realtime.backends.live_model import load_live_model
    from realtime.pipeline import Pipeline, PipelineOptions
    from realtime.sources.replay import ReplaySource
    from sadvae.errors import SadvaeError

    model_path, labels, heads, head = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    joints, times, _ = perform((("stand still", 0.5), ("high arm wave", 3.0)), fps=30.0)
    source = ReplaySource.from_arrays(joints, times, name="synthetic")
    opts = PipelineOptions(
        stride=4, handle_signals=False, head=HeadOptions(cache_dir=heads, **head),
        decisions=DecisionOptions(min_score=0.0, keep_score=0.0, start_score=0.0, start_windows=1),
        publisher=PublisherOptions(endpoint="tcp://127.0.0.1:*"),
    )
    events = []
    model = load_live_model(model_path, "onnxruntime")
    try:
        pipe = Pipeline(source, model, labels, opts, on_event=events.append)
    except SadvaeError as e:
        model.close()
        print(f"{type(e).__name__}: {e}")
        raise SystemExit(3)
    reason = pipe.run()
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in Block.BLOCKED)
    actions = [e for e in events if e["type"] != "status"]
    print(json.dumps({"reason": reason, "mode": pipe.head.mode, "heavy": heavy, "actions": len(actions),
                      "labels": sorted({e["label"] for e in actions}), "model": actions[0]["model"]["id"]}))
    """
)


@pytest.fixture(scope="module")
def files(bundle_fixtures, tmp_path_factory) -> tuple[Path, Path, Path]:
    """(bundle, its export with the bundle beside it as <stem>.pt, the same export alone in a folder)."""
    bundle, report = bundle_fixtures.tiny_model(tmp_path_factory.getbasetemp())
    root = tmp_path_factory.mktemp("no_torch")
    (root / "with").mkdir()
    (root / "alone").mkdir()
    shutil.copy(report.path, root / "with" / "tiny.onnx")
    shutil.copy(bundle, root / "with" / "tiny.pt")
    shutil.copy(report.path, root / "alone" / "tiny.onnx")
    return bundle, root / "with" / "tiny.onnx", root / "alone" / "tiny.onnx"


def child(model: Path, labels_text: str, heads: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    labels = tmp_path / "labels.txt"
    labels.write_text(labels_text, encoding="utf-8")
    args = [sys.executable, "-c", CHILD, str(model), str(labels), str(heads), json.dumps(HEAD)]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_seen_labels_run_without_torch(files, tmp_path) -> None:
    proc = child(files[1], SEEN_LABELS, tmp_path / "heads", tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["reason"] == "end" and out["mode"] == "seen" and out["heavy"] == []
    assert out["actions"] > 3 and set(out["labels"]) <= {"wave", "clap", "jump"}
    # nothing was fitted: no head file holds zero-shot weights. (Since 6 December 2026 exact class names are matched
    # with the sentence encoder too: where its embeddings are in the text cache the label mapping is cached, without
    # torch; where they are not, the words decide, with a warning, and nothing is written.)
    for f in (tmp_path / "heads").glob("*.npz"):
        with np.load(f, allow_pickle=False) as z:
            assert "weight" not in z.files


def test_new_labels_without_a_cached_head_give_one_clear_error(files, tmp_path) -> None:
    proc = child(files[1], NEW_LABELS, tmp_path / "heads", tmp_path)
    assert proc.returncode == 3, proc.stderr
    (line,) = proc.stdout.splitlines()
    assert line.startswith("MissingDependencyError: no head is cached for the new label(s) 'sit down', 'kick'")
    for fix in (
        "needs torch",
        "pip install 'sadvae-live[train]'",
        "~/.cache/sadvae/heads",
        str(tmp_path / "heads"),
        "use only the model's own classes (e.g. 'wave', 'clap', 'jump')",
    ):
        assert fix in line, line
    assert "Traceback" not in proc.stderr


def _fit_here(onnx: Path, labels_text: str, heads: Path) -> str:
    """Fit the head for ``labels_text`` in this process (torch, a stand-in text encoder) into ``heads``."""
    model = load_live_model(onnx, "onnxruntime")
    try:
        builder = HeadBuilder(
            model.bundle, HeadOptions(cache_dir=str(heads), **HEAD), model_id=model.model_id, text_encoder=FakeText()
        )
        assert builder.build(parse_labels_text(labels_text)).mode == "mixed" and builder.fits == 1
        return model.model_id
    finally:
        model.close()


def test_new_labels_with_a_warm_head_cache_run_without_torch_or_bundle(files, tmp_path) -> None:
    """A head fitted where torch is (this process), its cache copied over: the export alone runs new labels."""
    model_id = _fit_here(files[1], NEW_LABELS, tmp_path / "desktop")
    shutil.copytree(tmp_path / "desktop", tmp_path / "jetson")
    proc = child(files[2], NEW_LABELS, tmp_path / "jetson", tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["reason"] == "end" and out["mode"] == "mixed" and out["heavy"] == []
    assert out["actions"] > 3 and out["model"] == model_id


def test_a_fit_without_the_bundle_asks_for_it(files, tmp_path) -> None:
    """Torch is here but only the export is: seen labels work, a fit for new labels names --bundle."""
    model = load_live_model(files[2], "onnxruntime")
    try:
        assert model.bundle_path is None and model.bundle.path is None
        builder = HeadBuilder(model.bundle, HeadOptions(cache_dir=str(tmp_path), **HEAD), model_id=model.model_id)
        assert builder.build(parse_labels_text(SEEN_LABELS)).mode == "seen"
        with pytest.raises(ConfigError, match=r"'sit down', 'kick' .*needs the model bundle \.pt .*--bundle BUNDLE"):
            builder.build(parse_labels_text(NEW_LABELS))
    finally:
        model.close()


@pytest.mark.parametrize(
    "argv",
    [
        ["sadvae", "--help"],
        ["sadvae", "bench", "latency", "--help"],
        ["sadvae", "bench", "accuracy", "--help"],
        ["sadvae", "events", "--help"],
        ["sadvae", "engine", "--help"],
    ],
)
def test_the_sadvae_command_runs_without_torch(argv: list[str]) -> None:
    """Benchmark audit of 7 December 2026, late: building the `sadvae` parser imported torch (a help text read the
    recipe's grid from its config), so `sadvae bench latency` failed on a Jetson, as docs/edge.md says it runs."""
    child = NO_TORCH_PRELUDE + textwrap.dedent(
        """
        from sadvae.cli import main
        try:
            code = main(sys.argv[2:])
        except SystemExit as e:  # --help
            code = e.code
        print("torch imported:", "torch" in sys.modules)
        sys.exit(code)
        """
    )
    proc = subprocess.run([sys.executable, "-c", child, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage:" in proc.stdout and proc.stdout.rstrip().endswith("torch imported: False"), proc.stdout[-500:]
