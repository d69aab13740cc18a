"""The TensorRT backend: its plumbing against a fake TensorRT + CUDA everywhere, real parity where a GPU exists.

The fake library deserialises any plan into an "engine" that runs the ONNX export with ONNX Runtime
on the bytes the backend copied into fake device memory, so buffer sizes, shapes, addresses, chunking,
padding and both binding APIs (TensorRT >= 8.5 by name, older by index) are checked without a GPU.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest

from realtime.backends import load_backend
from realtime.backends.tensorrt import _Cuda
from sadvae.engine.manifest import make_manifest, write_manifest
from sadvae.errors import EngineError
from sadvae.fileio import atomic_write

ROOT = Path(__file__).resolve().parents[2]
FAKE_GPU = {"gpu": "Fake GPU", "compute_capability": "8.7"}


@pytest.fixture(scope="module")
def reference(model_files):
    from sadvae.bundle import load_bundle
    from sadvae.export import example_windows

    windows = example_windows(6, load_bundle(model_files[0]).preprocess, seed=3)
    with load_backend("onnxruntime", model_files[1]) as ort_backend:
        return windows, ort_backend.run(windows)


class FakeCuda(_Cuda):
    """Device memory as numpy byte arrays keyed by fake pointers."""

    def __init__(self) -> None:
        self.mem: dict[int, np.ndarray] = {}
        self.stream, self.closed, self.syncs = 77, False, 0

    def pinned(self, shape, dtype):
        return np.full(shape, np.nan, dtype)

    def device(self, nbytes):
        ptr = (len(self.mem) + 1) << 20
        self.mem[ptr] = np.zeros(nbytes, np.uint8)
        return ptr

    def h2d(self, dst, src):
        raw = src.reshape(-1).view(np.uint8)
        self.mem[dst][: raw.size] = raw

    def d2h(self, dst, src):
        dst.reshape(-1).view(np.uint8)[:] = self.mem[src][: dst.nbytes]

    def sync(self):
        self.syncs += 1

    def close(self):
        self.closed = True


def fake_trt(onnx_path: Path, cuda: FakeCuda, by_name: bool) -> types.ModuleType:
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    names, inputs = ["window", "latent", "seen_logits"], {"window"}
    trt = types.ModuleType("tensorrt")
    trt.__version__ = "10.3.0"
    trt.Logger = types.SimpleNamespace(INTERNAL_ERROR=0, ERROR=1, WARNING=2, INFO=3, VERBOSE=4)
    trt.ILogger = type("ILogger", (), {"__init__": lambda self: None})
    trt.TensorIOMode = types.SimpleNamespace(INPUT="in", OUTPUT="out")
    trt.nptype = lambda dtype: np.float32
    runs: list[int] = []
    trt.runs = runs

    class Context:
        def __init__(self) -> None:
            self.addr: dict[str, int] = {}
            self.shape = None

        def set_tensor_address(self, name, ptr):
            self.addr[name] = ptr

        def set_input_shape(self, name, shape):
            assert name == "window"
            self.shape = tuple(shape)

        def set_binding_shape(self, index, shape):
            assert index == 0
            self.shape = tuple(shape)

        def execute_async_v3(self, stream):
            assert stream == cuda.stream
            x = cuda.mem[self.addr["window"]][: int(np.prod(self.shape)) * 4].view(np.float32).reshape(self.shape)
            for name, out in zip(names[1:], session.run(names[1:], {"window": x}), strict=True):
                raw = np.ascontiguousarray(out, np.float32).reshape(-1).view(np.uint8)
                cuda.mem[self.addr[name]][: raw.size] = raw
            runs.append(self.shape[0])
            return True

        def execute_async_v2(self, bindings, stream):
            self.addr = dict(zip(names, bindings, strict=True))
            return self.execute_async_v3(stream)

    class EngineV3:
        num_io_tensors = 3

        def get_tensor_name(self, i):
            return names[i]

        def get_tensor_mode(self, name):
            return trt.TensorIOMode.INPUT if name in inputs else trt.TensorIOMode.OUTPUT

        def get_tensor_dtype(self, name):
            return "float"

        def create_execution_context(self):
            return Context()

    class EngineV2:  # TensorRT < 8.5: bindings by index
        num_bindings = 3

        def get_binding_name(self, i):
            return names[i]

        def binding_is_input(self, i):
            return names[i] in inputs

        def get_binding_dtype(self, i):
            return "float"

        def create_execution_context(self):
            return Context()

    class Runtime:
        def __init__(self, logger) -> None:
            pass

        def deserialize_cuda_engine(self, data):
            assert data == b"fake plan"
            return EngineV3() if by_name else EngineV2()

    trt.Runtime = Runtime
    return trt


def write_fake_plan(tmp_path: Path, onnx_path: Path, batches=(1, 2, 4), precision="fp16") -> Path:
    plan_path = tmp_path / f"tiny.{precision}.plan"
    atomic_write(plan_path, b"fake plan")
    shapes = {k: [b, 3, 32, 25, 2] for k, b in zip(("min", "opt", "max"), batches, strict=True)}
    manifest = make_manifest(
        b"fake plan",
        plan_path,
        onnx_path,
        library={"name": "tensorrt", "version": "10.3.0"},
        device={**FAKE_GPU, "target": None},
        precision=precision,
        workspace_mb=64,
        io={
            "input": {"name": "window", "dtype": "float32", **shapes},
            "outputs": [
                {"name": "latent", "shape": [-1, 16], "dtype": "float32"},
                {"name": "seen_logits", "shape": [-1, 4], "dtype": "float32"},
            ],
        },
        build={"seconds": 0.0, "batch_sizes": list(batches)},
    )
    write_manifest(plan_path, manifest)
    return plan_path


@pytest.fixture
def fake(model_files, monkeypatch):
    """Install a fake ``tensorrt`` and CUDA; returns a factory (by_name) -> (trt module, cuda)."""

    def install(by_name: bool = True, device=FAKE_GPU):
        cuda = FakeCuda()
        trt = fake_trt(model_files[1], cuda, by_name)
        monkeypatch.setitem(sys.modules, "tensorrt", trt)
        monkeypatch.setattr("sadvae.engine.manifest.current_device", lambda index=0: device)
        monkeypatch.setattr("realtime.backends.tensorrt.open_cuda", lambda index=0: cuda)
        return trt, cuda

    return install


@pytest.mark.parametrize("by_name", [True, False], ids=["execute_async_v3", "execute_async_v2"])
def test_plumbing_matches_onnxruntime(fake, model_files, reference, tmp_path, by_name):
    trt, cuda = fake(by_name)
    windows, want = reference
    plan = write_fake_plan(tmp_path, model_files[1], batches=(1, 2, 4))
    with load_backend("trt", plan, device="cuda") as backend:
        assert backend.name == "tensorrt" and backend.precision == "fp16" and backend.device == "cuda:0"
        assert backend.max_batch == 4 and backend.batch_sizes == (1, 2, 4)
        assert backend.window_shape == (3, 32, 25, 2)
        assert backend.metadata["seen_classes"] == ["wave", "clap", "jump", "stand up"]
        assert backend.manifest["library"] == {"name": "tensorrt", "version": "10.3.0"}
        got = backend.run(windows)  # 6 windows: chunks of 4 + 2
        single = backend(windows[:1])
    assert trt.runs == [4, 2, 1] and cuda.syncs == 3 and cuda.closed
    for key in want:
        assert got[key].dtype == np.float32 and got[key].shape == want[key].shape
        np.testing.assert_allclose(got[key], want[key], rtol=0, atol=1e-6)
        np.testing.assert_allclose(single[key], want[key][:1], rtol=0, atol=1e-6)
    backend.close()  # idempotent


def test_profile_min_above_the_batch_pads_and_max_batch_caps(fake, model_files, reference, tmp_path):
    trt, _ = fake()
    windows, want = reference
    plan = write_fake_plan(tmp_path, model_files[1], batches=(2, 4, 8), precision="int8")
    with load_backend("tensorrt", plan, max_batch=4) as backend:
        assert backend.max_batch == 4 and backend.batch_sizes == (2, 4) and backend.precision == "int8"
        got = backend.run(windows[:5])  # 4 + 1 -> the 1 is padded to the profile's min of 2
    assert trt.runs == [4, 2]
    np.testing.assert_allclose(got["latent"], want["latent"][:5], rtol=0, atol=1e-6)


def test_a_plan_for_another_gpu_is_refused_before_cuda_opens(fake, model_files, tmp_path, monkeypatch):
    fake(device={"gpu": "Xavier", "compute_capability": "7.2"})
    opened = []
    monkeypatch.setattr("realtime.backends.tensorrt.open_cuda", lambda index=0: opened.append(index))
    plan = write_fake_plan(tmp_path, model_files[1])
    with pytest.raises(EngineError, match=r"device.compute_capability is 8.7 but this GPU \(Xavier\) is 7.2"):
        load_backend("tensorrt", plan, device="cuda:1")
    assert opened == []
    with pytest.raises(EngineError, match=r"missing\.plan: TensorRT plan not found"):
        load_backend("tensorrt", tmp_path / "missing.plan")


def test_module_imports_no_torch_or_cuda():
    code = textwrap.dedent(
        """
        import sys
        import realtime.backends.tensorrt
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "tensorrt", "tensorrt_rtx", "pycuda",
                                                                      "cuda", "onnx", "onnxruntime"))
        assert not heavy, heavy
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


# --- real TensorRT on a real GPU -------------------------------------------------------------------------------------


def _gpu_or_skip():
    pytest.importorskip(
        "tensorrt", reason="tensorrt is not installed (JetPack ships it; desktops: pip install tensorrt)"
    )
    from sadvae.engine.probe import current_device

    device = current_device(0)
    if device is None:
        pytest.skip("no CUDA GPU (pycuda, cuda-python and nvidia-smi see none)")
    return device


@pytest.mark.gpu
@pytest.mark.tensorrt
@pytest.mark.parametrize(("precision", "atol"), [("fp32", 1e-3), ("fp16", 2e-2)])
def test_real_tensorrt_parity_with_onnxruntime(model_files, reference, tmp_path, precision, atol):
    _gpu_or_skip()
    from sadvae.engine import build_engine

    windows, want = reference
    report = build_engine(
        model_files[1],
        tmp_path,
        precision=precision,
        batch_sizes=(1, 4, 8),
        workspace_mb=256,
        library="tensorrt",
        timing_cache=tmp_path / "timing.cache",
    )
    assert (tmp_path / "timing.cache").stat().st_size > 0
    with load_backend("tensorrt", report.plan, device="cuda:0", max_batch=4) as backend:
        assert backend.precision == precision and backend.batch_sizes == (1, 4)
        got = backend.run(windows)
        again = backend.run(windows[:1])
    for key in want:
        err = float(np.abs(got[key] - want[key]).max())
        assert err < atol, f"{key}: max |tensorrt {precision} - onnxruntime| = {err:.2e} >= {atol}"
        np.testing.assert_allclose(again[key], got[key][:1], rtol=0, atol=atol)
