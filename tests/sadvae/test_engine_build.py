"""The builder's TensorRT 8.x / 10.x branches against a stand-in library (a real one needs a GPU)."""

from __future__ import annotations

import json
import sys
import types

import pytest

from sadvae.engine import build_engine, check_manifest
from sadvae.errors import ConfigError, EngineError

HERE = {"library": "tensorrt", "library_version": "10.3.0", "gpu": "Orin", "compute_capability": "8.7"}


def _onnx_file(path):
    """A tiny valid ONNX file (Relu) whose metadata names model "mmm...m"; the stand-in parser never reads its graph."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    entry = model.metadata_props.add()
    entry.key, entry.value = "sadvae.model_id", json.dumps("m" * 64)
    onnx.save(model, path)
    return path


def fake_tensorrt(version: str, pool_api: bool = True) -> types.ModuleType:
    """A stand-in ``tensorrt`` that records the builder calls and returns b"PLAN"."""
    trt = types.ModuleType("tensorrt")
    trt.__version__, trt.calls = version, []
    trt.Logger = types.SimpleNamespace(INTERNAL_ERROR=0, ERROR=1, WARNING=2, INFO=3, VERBOSE=4)
    trt.ILogger = trt.IInt8EntropyCalibrator2 = type("Base", (), {"__init__": lambda self: None})
    trt.NetworkDefinitionCreationFlag = types.SimpleNamespace(EXPLICIT_BATCH=0)
    trt.BuilderFlag = types.SimpleNamespace(FP16="FP16", INT8="INT8", TF32="TF32")
    trt.MemoryPoolType = types.SimpleNamespace(WORKSPACE="WORKSPACE")
    rec = trt.calls.append
    tensor = types.SimpleNamespace
    inputs = [tensor(name="window", shape=(-1, 3, 32, 25, 2), dtype="DataType.FLOAT")]
    outputs = [
        tensor(name="latent", shape=(-1, 16), dtype="DataType.FLOAT"),
        tensor(name="seen_logits", shape=(-1, 4), dtype="DataType.HALF"),
    ]
    network = types.SimpleNamespace(
        num_inputs=1, num_outputs=2, get_input=inputs.__getitem__, get_output=outputs.__getitem__
    )

    class Parser:
        num_errors = 0

        def __init__(self, net, logger):
            pass

        def parse_from_file(self, path):
            return True

    class Cache:
        def __init__(self, data):
            self.data = data

        def serialize(self):
            return b"timing:" + self.data

    class Config:
        def set_flag(self, flag):
            rec(("set_flag", flag))

        def clear_flag(self, flag):
            rec(("clear_flag", flag))

        def add_optimization_profile(self, profile):
            rec(("profile", profile.shapes))

        def set_calibration_profile(self, profile):
            rec(("calibration_profile", profile.shapes))

        def create_timing_cache(self, data):
            rec(("timing_cache_in", bytes(data)))
            return Cache(bytes(data))

        def set_timing_cache(self, cache, ignore_mismatch):
            self.cache = cache
            return True

        def get_timing_cache(self):
            return self.cache

        def __setattr__(self, key, value):
            rec(("config." + key, value))
            object.__setattr__(self, key, value)

    if pool_api:
        Config.set_memory_pool_limit = lambda self, pool, nbytes: rec(("pool", pool, nbytes))

    class Profile:
        def set_shape(self, name, *shapes):
            self.shapes = (name, *[tuple(s) for s in shapes])

    class Builder:
        def __init__(self, logger):
            pass

        def create_network(self, flags):
            rec(("network_flags", flags))
            return network

        create_builder_config = staticmethod(Config)
        create_optimization_profile = staticmethod(Profile)

        def build_serialized_network(self, net, config):
            return b"PLAN"

    trt.Builder, trt.OnnxParser = Builder, Parser
    return trt


@pytest.fixture
def orin(monkeypatch):
    monkeypatch.setattr(
        "sadvae.engine.builder.current_device", lambda index=0: {"gpu": "Orin", "compute_capability": "8.7"}
    )


def test_tensorrt_86_fp16_build_with_timing_cache(tmp_path, monkeypatch, orin):
    trt = fake_tensorrt("8.6.1")
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    onnx_path = _onnx_file(tmp_path / "m.onnx")
    report = build_engine(onnx_path, tmp_path, precision="fp16", workspace_mb=64, timing_cache=tmp_path / "t.cache")
    assert ("network_flags", 1) in trt.calls  # EXPLICIT_BATCH on 8.x
    assert ("pool", "WORKSPACE", 64 << 20) in trt.calls and ("set_flag", "FP16") in trt.calls
    assert ("profile", ("window", (1, 3, 32, 25, 2), (4, 3, 32, 25, 2), (16, 3, 32, 25, 2))) in trt.calls
    assert report.plan.read_bytes() == b"PLAN" and (tmp_path / "t.cache").read_bytes() == b"timing:"
    m = report.manifest
    assert m["device"] == {"gpu": "Orin", "compute_capability": "8.7", "target": None}
    assert m["outputs"][1] == {"name": "seen_logits", "shape": [-1, 4], "dtype": "float16"}
    assert check_manifest(report.plan, device=HERE | {"library_version": "8.6.1"}) == m
    build_engine(onnx_path, tmp_path, precision="fp16", timing_cache=tmp_path / "t.cache")
    assert ("timing_cache_in", b"timing:") in trt.calls  # the second build reads the first one's cache


def test_tensorrt_old_workspace_api_fp32_and_10x_flags(tmp_path, monkeypatch, orin):
    onnx_path = _onnx_file(tmp_path / "m.onnx")
    old = fake_tensorrt("8.2.1", pool_api=False)
    monkeypatch.setitem(sys.modules, "tensorrt", old)
    build_engine(onnx_path, tmp_path, precision="fp32", workspace_mb=8)
    assert ("config.max_workspace_size", 8 << 20) in old.calls and ("clear_flag", "TF32") in old.calls
    new = fake_tensorrt("10.3.0")
    monkeypatch.setitem(sys.modules, "tensorrt", new)
    build_engine(onnx_path, tmp_path, precision="fp16", batch_sizes=(2,))
    assert ("network_flags", 0) in new.calls  # EXPLICIT_BATCH is implied (and deprecated) on 10.x
    assert ("profile", ("window", *[(2, 3, 32, 25, 2)] * 3)) in new.calls
    with pytest.raises(ConfigError, match="a compute capability target needs --library tensorrt_rtx"):
        build_engine(onnx_path, tmp_path, compute_capability="SM87")
    monkeypatch.setattr("sadvae.engine.builder.current_device", lambda index=0: None)
    with pytest.raises(EngineError, match="TensorRT builds for the GPU it runs on and no CUDA GPU was found"):
        build_engine(onnx_path, tmp_path)


def test_tensorrt_int8_from_a_calibration_cache(tmp_path, monkeypatch, orin):
    trt = fake_tensorrt("10.3.0")
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    onnx_path = _onnx_file(tmp_path / "m.onnx")
    with pytest.raises(ConfigError, match="int8 needs calibration: give --calibration-data"):
        build_engine(onnx_path, tmp_path, precision="int8")
    cache = tmp_path / "m.calibration"
    cache.write_bytes(b"TRT-1003-EntropyCalibration2")
    with pytest.raises(ConfigError, match="no readable sidecar m.calibration.json"):
        build_engine(onnx_path, tmp_path, precision="int8", calibration_cache=cache)
    (tmp_path / "m.calibration.json").write_text(json.dumps({"model_id": "x" * 64}))
    with pytest.raises(ConfigError, match="belongs to model xxxxxxxxxxxxxxxx..., the ONNX is mmmm"):
        build_engine(onnx_path, tmp_path, precision="int8", calibration_cache=cache)
    (tmp_path / "m.calibration.json").write_text(json.dumps({"model_id": "m" * 64}))
    report = build_engine(onnx_path, tmp_path, precision="int8", calibration_cache=cache)
    assert {("set_flag", "INT8"), ("set_flag", "FP16")} <= set(trt.calls)
    assert ("calibration_profile", ("window", *[(1, 3, 32, 25, 2)] * 3)) in trt.calls
    calibrator = next(c[1] for c in trt.calls if c[0] == "config.int8_calibrator")
    assert calibrator.read_calibration_cache() == b"TRT-1003-EntropyCalibration2" and calibrator.get_batch([]) is None
    assert report.plan.name == "m.int8.plan" and report.manifest["build"]["calibration"] == str(cache)


def test_int8_refuses_calibration_windows_of_another_shape(tmp_path, monkeypatch, orin):
    """TensorRT reads the calibration buffer with the network's shape: windows of another shape would overrun it."""
    import numpy as np

    from sadvae.data.preprocess import PreprocessConfig
    from sadvae.engine.calibration_data import CalibrationSet, save_calibration_set
    from sadvae.engine.calibrator import DeviceMemory, make_calibrator

    class HostOnly(DeviceMemory):  # no GPU here: the builder must refuse before any pointer is used
        def alloc(self, n):
            return bytearray(n)

        def upload(self, buf, a):
            pass

        def pointer(self, buf):
            return 4096

        def free(self, buf):
            pass

    trt = fake_tensorrt("10.3.0")
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    windows = np.zeros((5, 3, 16, 25, 1), np.float32)  # T=16, M=1; the network takes T=32, M=2
    cset = CalibrationSet(
        windows,
        np.zeros(5, np.int64),
        ("a",),
        ("s",) * 5,
        0,
        "m" * 64,
        PreprocessConfig(window=16, persons=1),
        "train",
        "random",
    )
    npz = save_calibration_set(cset, tmp_path / "w.npz")
    cal = make_calibrator(trt, npz, None, 16, memory=HostOnly())
    with pytest.raises(ConfigError, match=r"calibration windows \[3, 16, 25, 1\] do not fit the network's input"):
        build_engine(_onnx_file(tmp_path / "m.onnx"), tmp_path, precision="int8", calibrator=cal)
    assert not list(tmp_path.glob("*.plan"))
