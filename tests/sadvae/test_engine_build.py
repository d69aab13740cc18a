"""The builder's TensorRT 8.x / 10.x branches against a stand-in library (a real one needs a GPU)."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import pytest
from sadvae_tests_helpers import relu_onnx  # a tiny ONNX file naming model "mmm...m": the stand-in never reads it

from sadvae.engine import build_engine, check_manifest
from sadvae.errors import ConfigError, EngineError

HERE = {"library": "tensorrt", "library_version": "10.3.0", "gpu": "Orin", "compute_capability": "8.7"}


def fake_tensorrt(version: str, pool_api: bool = True) -> types.ModuleType:
    """A stand-in ``tensorrt`` that records the builder calls and returns b"PLAN"."""
    trt = types.ModuleType("tensorrt")
    trt.__version__, trt.calls = version, []
    trt.Logger = types.SimpleNamespace(INTERNAL_ERROR=0, ERROR=1, WARNING=2, INFO=3, VERBOSE=4)
    trt.ILogger = trt.IInt8EntropyCalibrator2 = type("Base", (), {"__init__": lambda self: None})
    trt.IInt8MinMaxCalibrator = type("MinMaxBase", (), {"__init__": lambda self: None})
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
            rec(("build",))
            return b"PLAN"

    trt.Builder, trt.OnnxParser = Builder, Parser
    return trt


class _HostOnly:
    """Device memory without a GPU (the stand-in builder never reads the pointers)."""

    def alloc(self, n):
        return bytearray(n)

    def upload(self, buf, a):
        pass

    def pointer(self, buf):
        return 4096

    def free(self, buf):
        pass


def _windows_npz(path, shape=(5, 3, 32, 25, 2), model_id="m" * 64):
    """A calibration .npz of zero windows ``shape`` drawn "for" ``model_id``."""
    import numpy as np

    from sadvae.data.preprocess import PreprocessConfig
    from sadvae.engine.calibration_data import CalibrationSet, save_calibration_set

    n, _, t, _, m = shape
    pre = PreprocessConfig(window=t, persons=m)
    labels = np.zeros(n, np.int64)
    cset = CalibrationSet(np.zeros(shape, np.float32), labels, ("a",), ("s",) * n, 0, model_id, pre, "train", "random")
    return save_calibration_set(cset, path)


@pytest.fixture
def orin(monkeypatch):
    monkeypatch.setattr(
        "sadvae.engine.builder.current_device", lambda index=0: {"gpu": "Orin", "compute_capability": "8.7"}
    )


def test_tensorrt_86_fp16_build_with_timing_cache(tmp_path, monkeypatch, orin):
    trt = fake_tensorrt("8.6.1")
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    onnx_path = relu_onnx(tmp_path / "m.onnx")
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
    onnx_path = relu_onnx(tmp_path / "m.onnx")
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
    onnx_path = relu_onnx(tmp_path / "m.onnx")
    with pytest.raises(ConfigError, match="int8 needs calibration: give --calibration-data"):
        build_engine(onnx_path, tmp_path, precision="int8")
    cache = tmp_path / "m.calibration"
    cache.write_bytes(b"TRT-1003-EntropyCalibration2")
    with pytest.raises(ConfigError, match="no readable sidecar m.calibration.json"):
        build_engine(onnx_path, tmp_path, precision="int8", calibration_cache=cache)
    sidecar = {"model_id": "x" * 64, "algorithm": "IInt8EntropyCalibrator2", "tensorrt": "10.3.0"}
    (tmp_path / "m.calibration.json").write_text(json.dumps(sidecar))
    with pytest.raises(ConfigError, match="belongs to model xxxxxxxxxxxxxxxx..., the ONNX is mmmm"):
        build_engine(onnx_path, tmp_path, precision="int8", calibration_cache=cache)
    (tmp_path / "m.calibration.json").write_text(json.dumps({**sidecar, "model_id": "m" * 64}))
    report = build_engine(onnx_path, tmp_path, precision="int8", calibration_cache=cache)
    assert {("set_flag", "INT8"), ("set_flag", "FP16")} <= set(trt.calls)
    assert ("calibration_profile", ("window", *[(1, 3, 32, 25, 2)] * 3)) in trt.calls
    calibrator = next(c[1] for c in trt.calls if c[0] == "config.int8_calibrator")
    assert calibrator.read_calibration_cache() == b"TRT-1003-EntropyCalibration2" and calibrator.get_batch([]) is None
    assert report.plan.name == "m.int8.plan" and report.manifest["build"]["calibration"] == {
        "windows": None,
        "windows_sha256": None,
        "cache": str(cache),
        "algorithm": "entropy",
        "batch_size": None,
    }


def test_int8_refuses_calibration_windows_of_another_shape(tmp_path, monkeypatch, orin):
    """TensorRT reads the calibration buffer with the network's shape: windows of another shape would overrun it."""
    from sadvae.engine.calibrator import make_calibrator

    trt = fake_tensorrt("10.3.0")
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    npz = _windows_npz(tmp_path / "w.npz", (5, 3, 16, 25, 1))  # T=16, M=1; the network takes T=32, M=2
    cal = make_calibrator(trt, npz, None, 16, memory=_HostOnly())
    with pytest.raises(ConfigError, match=r"calibration windows \[3, 16, 25, 1\] do not fit the network's input") as e:
        build_engine(relu_onnx(tmp_path / "m.onnx"), tmp_path, precision="int8", calibrator=cal)
    assert "`python calibration/sample.py --bundle BUNDLE.pt --persons 2`" in str(e.value)  # a flag sample.py has
    assert not list(tmp_path.glob("*.plan"))


def test_output_paths_are_refused_before_the_build(tmp_path, monkeypatch, orin, capsys):
    """Before, a file as --out-dir or a folder as --timing-cache failed after build_serialized_network had run (a
    FileExistsError / IsADirectoryError traceback, and the plan lost); now each is one error before the build."""
    from sadvae.cli import main

    trt = fake_tensorrt("10.3.0")
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    onnx_path = relu_onnx(tmp_path / "m.onnx")
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "taken" / "m.fp16.plan").mkdir(parents=True)
    (tmp_path / "folder").mkdir()
    cases = [
        ({"out_dir": tmp_path / "afile"}, f"--out-dir {tmp_path / 'afile'}: {tmp_path / 'afile'} is a file, not a"),
        ({"out_dir": tmp_path / "afile" / "engines"}, f"{tmp_path / 'afile'} is a file, not a folder; pass a folder"),
        ({"out_dir": tmp_path / "taken"}, "m.fp16.plan is a folder; pass another --out-dir or --name"),
        ({"timing_cache": tmp_path / "folder"}, f"--timing-cache {tmp_path / 'folder'}: {tmp_path / 'folder'} is a"),
        (
            {"precision": "int8", "calibrator": object(), "calibration_cache": tmp_path / "folder"},
            f"--calibration-cache {tmp_path / 'folder'}: {tmp_path / 'folder'} is a folder; pass a file path",
        ),
    ]
    for kwargs, words in cases:
        kwargs = {"out_dir": tmp_path / "engines", **kwargs}
        with pytest.raises(ConfigError, match=re.escape(words)):
            build_engine(onnx_path, **kwargs)
    argv = ["engine", "build", "--onnx", str(onnx_path), "--out-dir", str(tmp_path / "afile")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "sadvae: error: --out-dir" in err and "is a file, not a folder" in err and "Traceback" not in err
    assert main([*argv[:4], "--timing-cache", str(tmp_path / "folder")]) == 2
    assert "--timing-cache" in capsys.readouterr().err
    assert ("build",) not in trt.calls and not (tmp_path / "engines").exists()


def test_the_plan_is_written_before_the_timing_cache(tmp_path, monkeypatch, orin, caplog):
    """A timing cache that cannot be written no longer costs the plan (it was written first, and raised)."""
    import sadvae.engine.builder as builder

    monkeypatch.setitem(sys.modules, "tensorrt", fake_tensorrt("10.3.0"))
    written, real = [], builder.atomic_write

    def write(path, data):
        written.append(Path(path).name)
        if Path(path).name == "t.cache":
            raise OSError(28, "No space left on device")
        real(path, data)

    monkeypatch.setattr(builder, "atomic_write", write)
    report = build_engine(relu_onnx(tmp_path / "m.onnx"), tmp_path, timing_cache=tmp_path / "t.cache")
    assert written == ["m.fp16.plan", "t.cache"] and report.plan.read_bytes() == b"PLAN"
    assert report.manifest_path.is_file() and "could not write the timing cache" in caplog.text


def test_int8_without_calibration_is_refused_before_a_library(tmp_path, monkeypatch):
    """build_engine's docstring promises it; before, TensorRT was imported first ("not installed" hid the error)."""
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    monkeypatch.setitem(sys.modules, "tensorrt_rtx", None)
    onnx_path = relu_onnx(tmp_path / "m.onnx")
    with pytest.raises(ConfigError, match="int8 needs calibration: give --calibration-data WINDOWS.npz"):
        build_engine(onnx_path, tmp_path, precision="int8")
    with pytest.raises(
        ConfigError, match=r"nope\.calib: calibration cache not found; calibrate with --calibration-data"
    ):
        build_engine(onnx_path, tmp_path, precision="int8", calibration_cache=tmp_path / "nope.calib")


def _replay_cache(tmp_path, **sidecar):
    cache = tmp_path / "m.calibration"
    cache.write_bytes(b"TRT-1003-MinMaxCalibration")
    facts = {"model_id": "m" * 64, "algorithm": "IInt8MinMaxCalibrator", "tensorrt": "10.3.0", **sidecar}
    (tmp_path / "m.calibration.json").write_text(json.dumps({k: v for k, v in facts.items() if v is not None}))
    return cache


def test_replayed_cache_uses_its_algorithm_and_tensorrt_version(tmp_path, monkeypatch, orin):
    """Before, a replayed cache always got an entropy calibrator and any TensorRT version: TensorRT skipped the
    cache and calibrated on zero batches, with an opaque error."""
    trt = fake_tensorrt("10.3.0")
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    onnx_path = relu_onnx(tmp_path / "m.onnx")
    cache = _replay_cache(tmp_path, windows_sha256="w" * 64, batch_size=8)
    report = build_engine(onnx_path, tmp_path, precision="int8", calibration_cache=cache)
    calibrator = next(c[1] for c in trt.calls if c[0] == "config.int8_calibrator")
    assert isinstance(calibrator, trt.IInt8MinMaxCalibrator) and not isinstance(calibrator, trt.IInt8EntropyCalibrator2)
    assert report.manifest["build"]["calibration"] == {
        "windows": None,
        "windows_sha256": "w" * 64,
        "cache": str(cache),
        "algorithm": "minmax",
        "batch_size": 8,
    }
    trt.calls.clear()
    refusals = [
        ({}, {"calibration_algorithm": "entropy"}, "made with --calibration-algorithm minmax, this build asks for"),
        ({"tensorrt": "8.6.1"}, {}, "made with TensorRT 8.6.1 and this is TensorRT 10.3.0, which cannot replay it; "),
        ({"tensorrt": None}, {}, "records no TensorRT version, so the cache may not fit this TensorRT; calibrate"),
        ({"algorithm": "Percentile"}, {}, "algorithm 'Percentile' is not one of ['entropy', 'minmax']"),
    ]
    for sidecar, kwargs, words in refusals:
        _replay_cache(tmp_path, **sidecar)
        with pytest.raises(ConfigError, match=re.escape(words)) as info:
            build_engine(onnx_path, tmp_path, precision="int8", calibration_cache=cache, **kwargs)
        assert "--calibration-data" in str(info.value)
    assert ("build",) not in trt.calls


def test_cli_calibration_algorithm_and_the_manifests_calibration_facts(tmp_path, monkeypatch, orin, capsys):
    from sadvae.cli import main
    from sadvae.hashing import file_sha256

    trt = fake_tensorrt("10.3.0")
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setattr("sadvae.engine.calibrator.device_memory", _HostOnly)
    onnx_path, npz = relu_onnx(tmp_path / "m.onnx"), _windows_npz(tmp_path / "w.npz")
    out, cache = tmp_path / "engines", tmp_path / "m.calib"
    argv = ["engine", "build", "--onnx", str(onnx_path), "--precision", "int8", "--calibration-data", str(npz)]
    argv += ["--calibration-cache", str(cache), "--calibration-algorithm", "minmax", "--out-dir", str(out)]
    assert main(argv) == 0
    calibrator = next(c[1] for c in trt.calls if c[0] == "config.int8_calibrator")
    assert isinstance(calibrator, trt.IInt8MinMaxCalibrator)
    manifest = json.loads((out / "m.int8.json").read_text())
    assert manifest["build"]["calibration"] == {
        "windows": str(npz),
        "windows_sha256": file_sha256(npz),
        "cache": str(cache),
        "algorithm": "minmax",
        "batch_size": 16,
    }
    assert main(argv[:10] + argv[12:]) == 0  # without --calibration-algorithm: entropy, as before
    calibrators = [c[1] for c in trt.calls if c[0] == "config.int8_calibrator"]
    assert not isinstance(calibrators[-1], trt.IInt8MinMaxCalibrator)
    assert json.loads((out / "m.int8.json").read_text())["build"]["calibration"]["algorithm"] == "entropy"
    capsys.readouterr()
    assert main(["engine", "build", "--onnx", str(onnx_path), "--calibration-algorithm", "minmax"]) == 2
    assert "--calibration-algorithm is for --precision int8 (this build is fp16)" in capsys.readouterr().err
