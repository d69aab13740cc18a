from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from realtime.backends import BACKENDS, Backend, BackendOptions, decode_metadata, load_backend, time_backend
from sadvae.errors import BackendError, CheckpointError, ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def reference(model_files):
    """Deterministic windows (one person, noise, two persons, nobody, ...) and the torch Recognizer's outputs."""
    import torch

    from sadvae.bundle import load_bundle
    from sadvae.export import Recognizer, example_windows

    bundle = load_bundle(model_files[0])
    windows = example_windows(6, bundle.preprocess, seed=7)
    with torch.no_grad():
        latent, logits = Recognizer.from_bundle(bundle)(torch.from_numpy(windows))
    return windows, {"latent": latent.numpy(), "seen_logits": logits.numpy()}


def _open(name: str, model_files, **opts) -> Backend:
    return load_backend(name, model_files[1] if name == "onnxruntime" else model_files[0], **opts)


@pytest.mark.parametrize("name", ["onnxruntime", "torch"])
def test_backend_parity_with_torch_recognizer(name, model_files, reference):
    windows, want = reference
    with _open(name, model_files, max_batch=4) as backend:  # 6 windows -> chunks of 4 + 2
        got = backend.run(windows)
        single = backend(windows[:1])
    assert set(got) == {"latent", "seen_logits"}
    assert got["latent"].shape == (6, 16) and got["seen_logits"].shape == (6, 4)
    assert got["latent"].dtype == np.float32
    for key in want:  # STYLE: fp32 atol 1e-3; in practice ~1e-7
        np.testing.assert_allclose(got[key], want[key], rtol=0, atol=1e-3)
        np.testing.assert_allclose(single[key], want[key][:1], rtol=0, atol=1e-3)


@pytest.mark.parametrize("name", ["onnxruntime", "torch"])
def test_backend_properties_and_metadata(name, model_files):
    with _open(name, model_files, max_batch=8) as backend:
        assert backend.name == name and backend.precision == "fp32" and backend.device == "cpu"
        assert backend.max_batch == 8 and backend.batch_sizes == (1, 2, 4, 8)
        assert backend.window_shape == (3, 32, 25, 2)
        meta = backend.metadata
        assert meta["window"] == 32 and meta["persons"] == 2 and meta["joint_layout"] == "ntu25"
        assert meta["seen_classes"] == ["wave", "clap", "jump", "stand up"]
        assert len(meta["model_id"]) == 64 and meta["gate"]["threshold"] == 0.5
    assert "closed" in repr(backend)
    with pytest.raises(BackendError, match=f"{name} backend is closed"):
        backend.run(np.zeros((1, 3, 32, 25, 2), np.float32))
    backend.close()  # idempotent


def test_both_backends_report_the_same_model_id(model_files):
    with _open("onnxruntime", model_files) as a, _open("torch", model_files) as b:
        assert a.metadata == b.metadata


def test_wrong_input_is_one_clear_error(model_files):
    with _open("onnxruntime", model_files) as backend:
        with pytest.raises(BackendError, match=r"must have shape \[N, 3, 32, 25, 2\] .*got \[2, 3, 30, 25, 2\]"):
            backend.run(np.zeros((2, 3, 30, 25, 2), np.float32))
        with pytest.raises(BackendError, match=r"got \[3, 32, 25, 2\]"):
            backend.run(np.zeros((3, 32, 25, 2), np.float32))
        with pytest.raises(BackendError, match="must be floating point, got dtype int64"):
            backend.run(np.zeros((1, 3, 32, 25, 2), np.int64))
        x = np.zeros((1, 3, 32, 25, 2))
        x[0, 0, 0, 0, 0] = np.nan
        with pytest.raises(BackendError, match="NaN or infinite"):
            backend.run(x)
        out = backend.run(np.zeros((1, 3, 32, 25, 2), np.float64))  # float64 is cast
        assert out["latent"].dtype == np.float32


def test_load_errors(model_files, tmp_path):
    with pytest.raises(
        ConfigError, match=r"unknown backend 'tflite'; valid backends: \['onnxruntime', 'tensorrt', 'torch'\]"
    ):
        load_backend("tflite", model_files[1])
    with pytest.raises(ConfigError, match=r"unknown backend option\(s\) \['thread'\]"):
        load_backend("onnx", model_files[1], thread=2)
    with pytest.raises(ConfigError, match="BackendOptions.optimization must be one of"):
        load_backend("onnx", model_files[1], optimization="max")
    with pytest.raises(CheckpointError, match=r"missing\.onnx: ONNX model not found; create it with `sadvae export"):
        load_backend("onnxruntime", tmp_path / "missing.onnx")
    with pytest.raises(CheckpointError, match="not a loadable ONNX model"):
        load_backend("onnxruntime", model_files[0])  # a bundle is not ONNX
    with pytest.raises(CheckpointError, match="reads a model bundle"):
        load_backend("torch", model_files[1])
    if not __import__("torch").cuda.is_available():
        with pytest.raises(BackendError, match="torch sees no CUDA GPU"):
            load_backend("torch", model_files[0], device="cuda")


def test_onnxruntime_rejects_a_foreign_graph(tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "relu.onnx")
    with pytest.raises(BackendError, match=r"not a sadvae recognizer \(inputs \['x'\], outputs \['y'\]"):
        load_backend("onnxruntime", tmp_path / "relu.onnx")


def _fixed_batch_copy(src: Path, dst: Path, batch: int) -> Path:
    """``src`` with the batch dimension of its input and outputs fixed at ``batch`` (the reviewer's recipe)."""
    onnx = pytest.importorskip("onnx")
    m = onnx.load(src)
    for v in list(m.graph.input) + list(m.graph.output):
        d = v.type.tensor_type.shape.dim[0]
        d.ClearField("dim_param")
        d.dim_value = batch
    onnx.save(m, dst)
    return dst


@pytest.mark.parametrize("fixed", [1, 4])
def test_onnxruntime_runs_a_fixed_batch_graph(fixed, tmp_path, caplog):
    """A graph exported with a fixed batch N caps max_batch at N and pads smaller batches (review: a fixed-batch
    file loaded with max_batch 16 and died on the second window)."""
    pytest.importorskip("onnxruntime")
    from sadvae.assets import __file__ as assets

    src = Path(assets).parent / "default_model.onnx"
    path = _fixed_batch_copy(src, tmp_path / f"fixed{fixed}.onnx", fixed)
    with caplog.at_level("WARNING", logger="realtime.backends.onnx"):
        backend = load_backend("onnxruntime", path, threads=1)
    with backend, load_backend("onnxruntime", src, threads=1) as dynamic:
        x = np.random.default_rng(3).normal(size=(3, *backend.window_shape)).astype(np.float32)
        out = backend.run(x)
        assert backend.fixed_batch == fixed and dynamic.fixed_batch is None
        assert backend.max_batch == fixed and dynamic.max_batch == 16
        assert out["latent"].shape[0] == out["seen_logits"].shape[0] == 3
        one_by_one = [backend.run(x[i : i + 1]) for i in range(3)]
        ref = dynamic.run(x)
        for name in ("latent", "seen_logits"):
            np.testing.assert_allclose(out[name], np.concatenate([o[name] for o in one_by_one]), rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(out[name], ref[name], rtol=1e-4, atol=1e-4)
    assert f"the model's batch is fixed at {fixed}" in caplog.text


def test_cuda_request_falls_back_to_cpu_with_a_log_line(model_files, caplog):
    from realtime.backends.onnx import resolve_providers

    opts = BackendOptions(device="cuda:1")
    assert resolve_providers(opts, ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert resolve_providers(opts, ["CUDAExecutionProvider", "CPUExecutionProvider"]) == [
        ("CUDAExecutionProvider", {"device_id": 1}),
        "CPUExecutionProvider",
    ]
    with caplog.at_level("WARNING"), _open("onnxruntime", model_files, device="cuda") as backend:
        assert backend.device == "cpu" and backend.providers == ["CPUExecutionProvider"]
    assert "onnxruntime has no CUDAExecutionProvider here" in caplog.text


def test_time_backend_percentiles(model_files):
    with _open("onnxruntime", model_files, threads=1) as backend:
        stats = time_backend(backend, batch=2, iters=5, warmup=1)
    assert stats.backend == "onnxruntime" and stats.batch == 2 and stats.iters == 5
    assert 0 < stats.p50_ms <= stats.p90_ms <= stats.p99_ms
    assert stats.windows_per_s > 0 and set(stats.to_dict()) >= {"p50_ms", "p90_ms", "p99_ms"}
    with pytest.raises(ConfigError, match="time_backend needs batch >= 1"):
        time_backend(backend, batch=0)


def test_decode_metadata():
    props = {"sadvae.window": "32", "sadvae.seen_classes": '["a", "b"]', "sadvae.bad": "{", "author": "x"}
    assert decode_metadata(props) == {"window": 32, "seen_classes": ["a", "b"], "bad": "{", "author": "x"}


def test_options_validation():
    assert BackendOptions(providers=["CPUExecutionProvider"]).providers == ("CPUExecutionProvider",)
    with pytest.raises(ConfigError, match="device must be cpu, cuda or cuda:<index>, got 'gpu'"):
        BackendOptions(device="gpu")
    for device in ("cuda:x", "cuda:", "cuda:-1", "cuda:0 ", "CUDA"):  # cuda:x passed and failed later in int()
        with pytest.raises(ConfigError, match=rf"must be cpu, cuda or cuda:<index>, got {re.escape(repr(device))}$"):
            BackendOptions(device=device)
    assert BackendOptions(device="cuda:1").device == "cuda:1"
    with pytest.raises(ConfigError, match="max_batch must be >= 1"):
        BackendOptions(max_batch=0)
    assert set(BACKENDS) == {"onnxruntime", "torch", "tensorrt"}


def test_import_and_errors_without_heavy_packages():
    """``import realtime.backends`` needs only numpy; each backend names its extra when its library is missing."""
    code = textwrap.dedent(
        """
        import sys

        class Block:
            BLOCKED = ("torch", "onnxruntime", "onnx", "onnxscript", "tensorrt", "tensorrt_rtx")
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in self.BLOCKED:
                    raise ImportError(f"blocked {name}")
                return None

        sys.meta_path.insert(0, Block())
        import realtime.backends as rb
        from sadvae.errors import MissingDependencyError
        for name, extra in (("onnxruntime", "live"), ("torch", "train"), ("tensorrt", "trt")):
            try:
                rb.load_backend(name, "model")
            except MissingDependencyError as e:
                assert f"pip install 'sadvae-live[{extra}]'" in str(e), e
                print(e)
            else:
                raise SystemExit(f"{name}: no MissingDependencyError")
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in Block.BLOCKED)
        assert not heavy, heavy
        print("ok")
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "onnxruntime is not installed; install it with `pip install 'sadvae-live[live]'`",
        "torch is not installed; install it with `pip install 'sadvae-live[train]'`",
        # the trt extra installs pycuda only: TensorRT itself is JetPack's or NVIDIA's wheel (was: "install it with
        # `pip install 'sadvae-live[trt]'`", which does not install TensorRT)
        "tensorrt is not installed; TensorRT comes with JetPack on a Jetson (on a desktop: `pip install tensorrt`), "
        "and the trt extra, `pip install 'sadvae-live[trt]'`, adds pycuda for the GPU",
        "ok",
    ]


def test_backend_names_and_aliases_have_one_home():
    from realtime.backends import BACKEND_ALIASES, BACKEND_NAMES, backend_name

    assert BACKEND_NAMES == ("onnxruntime", "torch", "tensorrt") == tuple(BACKENDS)
    assert {backend_name(a) for a in BACKEND_ALIASES} <= set(BACKENDS)
    assert backend_name("trt") == "tensorrt" and backend_name("torch") == "torch"
    with pytest.raises(ConfigError, match="unknown backend 'tensorflow'"):
        load_backend("tensorflow", "m.onnx")


@pytest.mark.gpu
def test_torch_cuda_graph_replay_matches_eager(model_files, reference):
    """On a CUDA device the torch backend captures one graph per power-of-two batch size at load and replays it
    (smaller batches padded): the same outputs as eager with the same precision settings, call after call with
    other windows, and close to the CPU reference (torch's default TF32 on cuDNN convolutions allowed for)."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU: the CUDA-graph path runs where torch sees one (docs/benchmark.md)")
    windows, want = reference
    device = f"cuda:{torch.cuda.device_count() - 1}"  # the last GPU: not the current device where there are two
    stream_before = torch.cuda.current_stream()
    with (
        _open("torch", model_files, device=device, max_batch=4) as graphs,
        _open("torch", model_files, device=device, max_batch=4, cuda_graphs=False) as eager,
    ):
        assert sorted(graphs._graphs) == [1, 2, 4] and not eager._graphs
        assert torch.cuda.current_stream() == stream_before
        for x in (windows, windows[::-1].copy() * 0.9, windows[:3]):  # 4 + 2, reversed and scaled, 3 (padded)
            got, plain = graphs.run(x), eager.run(x)
            for key in want:
                np.testing.assert_allclose(got[key], plain[key], rtol=0, atol=1e-4)
        got = graphs.run(windows)
        for key in want:
            np.testing.assert_allclose(got[key], want[key], rtol=0, atol=5e-2)


@pytest.mark.gpu
def test_torch_cuda_graph_capture_failure_falls_back_to_eager(model_files, reference, caplog):
    """A model that synchronises inside its forward cannot be captured: one log line, no graphs, the caller's
    stream as it was, and eager outputs from then on."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    windows, _ = reference

    class Syncing(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            if float(x.sum().item()) == float("inf"):  # a host sync: not allowed while capturing
                x = x * 0
            return self.inner(x)

    with _open("torch", model_files, device="cuda", max_batch=4, cuda_graphs=False) as backend:
        plain = backend.run(windows)
        backend._model = Syncing(backend._model)
        stream_before = torch.cuda.current_stream()
        with caplog.at_level("WARNING"):
            assert backend._capture_all() is False
        assert "CUDA graph capture failed" in caplog.text and not backend._graphs
        assert torch.cuda.current_stream() == stream_before
        again = backend.run(windows)
    for key in plain:
        np.testing.assert_allclose(again[key], plain[key], rtol=0, atol=1e-5)


def test_cuda_graphs_stay_off_on_the_cpu(model_files, reference):
    windows, want = reference
    with _open("torch", model_files, max_batch=4) as backend:
        assert backend.options.cuda_graphs and not backend._graphs
        got = backend.run(windows)
        assert not backend._graphs
    np.testing.assert_allclose(got["seen_logits"], want["seen_logits"], rtol=0, atol=1e-4)
