from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import sys
import types

import pytest
from sadvae_tests_helpers import relu_onnx

from sadvae.engine import build_engine, check_manifest, load_library, manifest_mismatches, read_manifest
from sadvae.engine.builder import normalize_batch_sizes
from sadvae.engine.manifest import check_against, make_manifest, write_manifest
from sadvae.engine.probe import normalize_compute_capability
from sadvae.errors import ConfigError, DataFormatError, EngineError, MissingDependencyError
from sadvae.fileio import atomic_write
from sadvae.onnx_metadata import read_onnx_metadata as onnx_metadata

HERE = {"library": "tensorrt", "library_version": "10.3.0", "gpu": "Orin", "compute_capability": "8.7"}


def _onnx_file(path, meta=None):
    """A tiny valid ONNX file (Relu) with sadvae metadata (default: model "mmm...m", window 32)."""
    return relu_onnx(path, meta=meta or {"sadvae.model_id": json.dumps("m" * 64), "sadvae.window": "32"})


def _write_plan(tmp_path, plan=b"plan bytes", **fields):
    """A plan file and its manifest made by make_manifest, as a TensorRT 10.3 build on an Orin would write them."""
    onnx_path = _onnx_file(tmp_path / "m.onnx")
    plan_path = tmp_path / "m.fp16.plan"
    atomic_write(plan_path, plan)
    manifest = make_manifest(
        plan,
        plan_path,
        onnx_path,
        library={"name": "tensorrt", "version": "10.3.0"},
        device={"gpu": "Orin", "compute_capability": "8.7", "target": None},
        precision="fp16",
        io={
            "input": {
                "name": "window",
                "dtype": "float32",
                "min": [1, 3, 32, 25, 2],
                "opt": [4, 3, 32, 25, 2],
                "max": [16, 3, 32, 25, 2],
            },
            "outputs": [{"name": "latent", "shape": [-1, 16], "dtype": "float32"}],
        },
        workspace_mb=64,
        build={"seconds": 1.0, "batch_sizes": [1, 4, 16]},
    )
    for dotted, value in fields.items():
        *parents, last = dotted.split("__")
        node = manifest
        for p in parents:
            node = node[p]
        node[last] = value
    write_manifest(plan_path, manifest)
    return plan_path, manifest, onnx_path


def test_manifest_round_trip_and_fit(tmp_path):
    plan, manifest, onnx_path = _write_plan(tmp_path)
    assert read_manifest(plan) == manifest
    assert manifest["plan"]["sha256"] == hashlib.sha256(b"plan bytes").hexdigest()
    assert manifest["model"]["model_id"] == "m" * 64 and manifest["model"]["metadata"]["window"] == 32
    assert manifest["build"]["host"] and manifest["build"]["timestamp"].endswith("Z")
    assert check_manifest(plan, device=HERE) == manifest
    assert check_manifest(plan, device=HERE, onnx_or_model_id=onnx_path) == manifest  # ONNX file: by its sha256
    assert check_manifest(plan, device=HERE, onnx_or_model_id="m" * 64) == manifest  # bundle model id
    assert manifest_mismatches(manifest, HERE) == []
    assert oct((tmp_path / "m.fp16.json").stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize(
    ("here", "field"),
    [
        ({**HERE, "library": "tensorrt_rtx"}, "library.name is tensorrt but this runtime is tensorrt_rtx"),
        ({**HERE, "library_version": "10.7.0"}, "library.version is 10.3.0 but tensorrt here is 10.7.0"),
        ({**HERE, "compute_capability": "8.9", "gpu": "RTX 4090"}, "device.compute_capability is 8.7 but this GPU"),
        ({**HERE, "gpu": "Xavier"}, "device.gpu is 'Orin' but this GPU is 'Xavier'"),
    ],
)
def test_every_runtime_refusal_names_the_field_and_the_fix(tmp_path, here, field):
    plan, manifest, _ = _write_plan(tmp_path)
    with pytest.raises(EngineError) as info:
        check_manifest(plan, device=here)
    msg = str(info.value)
    assert field in msg and msg.startswith(f"{plan} does not fit here")
    assert "Rebuild it on this machine with `sadvae engine build --onnx" in msg and "--precision fp16" in msg


def test_refuses_other_model_replaced_plan_and_no_gpu(tmp_path):
    plan, manifest, _ = _write_plan(tmp_path)
    other_model = r"model.model_id is mmmmmmmmmmmmmmmm\.\.\. .* the model here is 0000"
    with pytest.raises(EngineError, match=other_model) as info:
        check_manifest(plan, device=HERE, onnx_or_model_id="0" * 64)
    # the fix is not "rebuild from the plan's own ONNX", which is the other model (review of 6 December 2026)
    assert "sadvae export BUNDLE.pt --out MODEL.onnx" in str(info.value) and "--onnx MODEL.onnx" in str(info.value)
    assert str(tmp_path / "m.onnx") not in str(info.value)
    plan.write_bytes(b"another plan")
    with pytest.raises(EngineError, match="plan.sha256 differs from the plan file"):
        check_manifest(plan, device=HERE)
    with pytest.raises(EngineError, match="runs on a CUDA GPU and none was found here"):
        check_against(manifest, {**HERE, "compute_capability": None, "gpu": None}, plan)


def test_rtx_targets(tmp_path):
    _, manifest, _ = _write_plan(
        tmp_path, library__name="tensorrt_rtx", library__version="1.7.1.116", device__gpu=None, device__target="SM87"
    )
    rtx = {**HERE, "library": "tensorrt_rtx", "library_version": "1.7.1.116", "gpu": "any name"}
    assert manifest_mismatches(manifest, rtx) == []  # an AOT target: the GPU name is not compared
    with pytest.raises(EngineError, match=r"compute_capability is 8.7 .* is 8.9.*--library tensorrt_rtx --target SM89"):
        check_against(manifest, {**rtx, "compute_capability": "8.9"})
    portable = copy.deepcopy(manifest)
    portable["device"].update(target="portable", compute_capability=None)
    assert manifest_mismatches(portable, {**rtx, "compute_capability": "12.0"}) == []
    assert manifest_mismatches(portable, {**rtx, "compute_capability": "7.5"}) == [
        "device.target is portable (compute capability >= 8.0) but this GPU is 7.5"
    ]


def test_missing_and_malformed_manifests(tmp_path):
    with pytest.raises(EngineError, match=r"x\.plan: TensorRT plan not found; build it with `sadvae engine build"):
        read_manifest(tmp_path / "x.plan")
    (tmp_path / "x.plan").write_bytes(b"p")
    with pytest.raises(EngineError, match=r"its manifest x\.json is missing.*rebuild it with `sadvae engine build"):
        read_manifest(tmp_path / "x.plan")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(DataFormatError, match="not a readable JSON manifest"):
        read_manifest(tmp_path / "x.plan")
    for name, kind in (
        ("m.onnx", "an ONNX export"),
        ("m.pt", "a model bundle"),
    ):  # was: "its manifest m.json is missing"
        (tmp_path / name).write_bytes(b"p")
        with pytest.raises(EngineError, match=rf"m\.{name[2:]}: is {kind}, not a TensorRT plan; pass the \.plan that"):
            read_manifest(tmp_path / name)
    plan, manifest, _ = _write_plan(tmp_path)
    del manifest["library"]["version"]
    write_manifest(plan, manifest)
    with pytest.raises(DataFormatError, match=r"m\.fp16\.json:library\.version: field missing"):
        read_manifest(plan)
    _write_plan(tmp_path, format_version=99)
    with pytest.raises(DataFormatError, match="format_version: expected 1, found 99"):
        read_manifest(plan)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("outputs", "oops", 'outputs: expected a list of {"name", "shape"} objects'),
        ("model__onnx_sha256", 5, "model.onnx_sha256: expected a sha256 string"),
        ("plan__bytes", "12", "plan.bytes: expected a number of bytes"),
        ("input__min", 1, "input.min: expected 5 positive integers"),
        ("input__max", [16, 3, 32, 25], "input.max: expected 5 positive integers"),
        ("device__compute_capability", "banana", "device.compute_capability: expected a compute capability"),
    ],
)
def test_manifest_fields_of_the_wrong_type_are_named(tmp_path, field, value, words):
    """Before, `sadvae engine info` raised TypeError tracebacks on these, and a bad input range reached TensorRT."""
    plan, _, _ = _write_plan(tmp_path, **{field: value})
    with pytest.raises(DataFormatError, match=re.escape(words)) as info:
        read_manifest(plan)
    assert "m.fp16.json" in str(info.value) and "rebuild the plan" in str(info.value)


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("outputs", [{"name": "latent"}], "outputs[0].shape: expected a list of integers"),
        ("outputs", [{"name": "latent", "shape": "-1x16"}], "outputs[0].shape: expected a list of integers"),
        ("build", "yesterday", "build: expected an object of build facts"),
        ("build__batch_sizes", "1 4 16", "build.batch_sizes: expected 3 positive integers"),
        ("workspace_mb", "lots", "workspace_mb: expected a number of MiB"),
    ],
)
def test_cli_info_names_a_malformed_field_instead_of_a_traceback(tmp_path, capsys, field, value, where):
    """Before, `sadvae engine info` raised KeyError 'shape' or AttributeError on these."""
    from sadvae.cli import main

    plan, _, _ = _write_plan(tmp_path, **{field: value})
    assert main(["engine", "info", str(plan), "--no-check"]) == 2
    err = capsys.readouterr().err
    assert f"m.fp16.json:{where}" in err and "rebuild the plan" in err and "Traceback" not in err


def test_rebuild_hint_repeats_what_the_plan_was_built_with(tmp_path, monkeypatch, capsys):
    """Before, the hint for an int8 plan had no calibration flags (the command it printed failed), and it dropped
    --workspace-mb, --out-dir and --name."""
    from sadvae.cli import main
    from sadvae.engine.manifest import rebuild_hint

    plan, manifest, onnx_path = _write_plan(tmp_path)
    assert rebuild_hint(manifest, HERE, plan) == (
        f"sadvae engine build --onnx {onnx_path} --precision fp16 --batch 1 4 16 --workspace-mb 64 --out-dir {tmp_path}"
    )
    windows, cache = tmp_path / "w.npz", tmp_path / "c.calib"
    windows.write_bytes(b"windows")
    int8 = copy.deepcopy(manifest)
    int8["precision"], int8["workspace_mb"], int8["plan"]["file"] = "int8", 1024, "m.int8.plan"
    calibration = {"windows": str(windows), "windows_sha256": "w", "cache": str(cache), "batch_size": 16}
    int8["build"]["calibration"] = {**calibration, "algorithm": "minmax"}
    hint = rebuild_hint(int8, HERE, tmp_path / "out" / "orin.int8.plan")
    assert hint == (
        f"sadvae engine build --onnx {onnx_path} --precision int8 --batch 1 4 16 --calibration-data {windows} "
        f"--calibration-cache {cache} --calibration-algorithm minmax --out-dir {tmp_path / 'out'} --name orin"
    )
    # the printed command runs: every flag passes `sadvae engine build`'s checks (only TensorRT is missing here)
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    monkeypatch.setitem(sys.modules, "tensorrt_rtx", None)
    assert main(hint.split()[1:]) == 2
    assert "sadvae: error: tensorrt is not installed" in capsys.readouterr().err
    # a cache alone is replayed only by the TensorRT that made it: for another version the windows are asked for
    int8["build"]["calibration"] = {"windows": None, "cache": str(cache), "algorithm": "entropy"}
    assert rebuild_hint(int8, HERE).endswith(f"--precision int8 --batch 1 4 16 --calibration-cache {cache}")
    newer = {**HERE, "library_version": "10.7.0"}
    assert f"--calibration-data WINDOWS.npz --calibration-cache {cache}" in rebuild_hint(int8, newer)
    int8["build"]["calibration"] = str(windows)  # manifests written before the calibration facts: a path
    assert rebuild_hint(int8).endswith(f"--calibration-data {windows}")
    with pytest.raises(EngineError, match=r"Rebuild it on this machine with `sadvae engine build .* --calibration-"):
        check_against(int8, newer, tmp_path / "m.int8.plan")


def test_compute_capability_spellings():
    for text in ("SM87", "sm_87", "8.7", "87", (8, 7)):
        assert normalize_compute_capability(text) == "8.7"
    assert normalize_compute_capability("SM120") == "12.0"
    with pytest.raises(EngineError, match="'Ampere' is not a compute capability"):
        normalize_compute_capability("Ampere")


def test_onnx_metadata_without_onnx(tmp_path):
    path = _onnx_file(tmp_path / "m.onnx", {"sadvae.seen_classes": '["a", "b"]', "sadvae.bad": "{", "author": "x"})
    assert onnx_metadata(path) == {"seen_classes": ["a", "b"], "bad": "{", "author": "x"}
    (tmp_path / "bad.onnx").write_bytes(b"\x08\x07garbage" * 5)
    with pytest.raises(EngineError, match=r"bad\.onnx: not an ONNX model \(.*\); export it again with `sadvae export`"):
        onnx_metadata(tmp_path / "bad.onnx")
    with pytest.raises(EngineError, match="cannot read the ONNX model"):
        onnx_metadata(tmp_path / "missing.onnx")


def test_batch_sizes_and_early_refusals(tmp_path):
    # two values used to become MIN OPT OPT ([1, 8] -> (1, 8, 8)) without a word although --help promises
    # "MIN OPT MAX ... one value: fixed"; they are refused now, with the three values to write
    assert normalize_batch_sizes([8]) == (8, 8, 8) and normalize_batch_sizes([1, 4, 8]) == (1, 4, 8)
    with pytest.raises(
        ConfigError, match=r"one value \(a fixed batch\) or three \(MIN OPT MAX\), got 2.*--batch 1 8 8"
    ):
        normalize_batch_sizes([1, 8])
    with pytest.raises(ConfigError, match=r"MIN OPT MAX with 1 <= MIN <= OPT <= MAX, got \[4, 2, 8\]"):
        normalize_batch_sizes([4, 2, 8])
    with pytest.raises(ConfigError, match=r"unknown precision 'bf16'; valid: \['fp32', 'fp16', 'int8'\]"):
        build_engine(tmp_path / "m.onnx", precision="bf16")
    with pytest.raises(EngineError, match=r"m\.onnx: ONNX model not found; export it with `sadvae export"):
        build_engine(tmp_path / "m.onnx", tmp_path)
    (tmp_path / "text.pt").write_text("not a model")  # the hint names an --out that `sadvae export` accepts
    with pytest.raises(EngineError, match=r"export it with `sadvae export BUNDLE\.pt --out .*text\.onnx`"):
        build_engine(tmp_path / "text.pt", tmp_path)
    with pytest.raises(ConfigError, match="unknown TensorRT library 'trt'"):
        load_library("trt")


def test_missing_library_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # makes `import tensorrt` raise ImportError
    monkeypatch.setitem(sys.modules, "tensorrt_rtx", None)
    with pytest.raises(MissingDependencyError, match=r"tensorrt is not installed; .*sadvae-live\[trt\]"):
        load_library("auto")
    with pytest.raises(MissingDependencyError, match="tensorrt_rtx is not installed; install it with `pip install "):
        load_library("tensorrt_rtx")


def _fake_rtx(version: str = "1.7.1.116") -> types.ModuleType:
    """A stand-in ``tensorrt_rtx``: enough for the library choice, the target list and the precision check."""
    import enum

    rtx = types.ModuleType("tensorrt_rtx")
    rtx.__version__ = version
    rtx.BuilderFlag = types.SimpleNamespace(FP16="FP16", INT8="INT8")
    rtx.ComputeCapability = enum.Enum("ComputeCapability", ["NONE", "CURRENT", "SM75", "SM80", "SM86", "SM89"])
    return rtx


def _cli_error(capsys, *argv) -> str:
    from sadvae.cli import main

    assert main(["engine", "build", *argv]) == 2
    return capsys.readouterr().err


def test_cli_build_checks_every_flag_before_a_library(tmp_path, monkeypatch, capsys):
    """No TensorRT library at all: each bad flag still gets its own error, not "not installed" (review G3, G11, G14,
    G18); the missing library is named only for a request that is otherwise fine."""
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    monkeypatch.setitem(sys.modules, "tensorrt_rtx", None)
    good = str(_onnx_file(tmp_path / "m.onnx"))
    (tmp_path / "text.onnx").write_text("hello\n")
    (tmp_path / "bundle.pt").write_bytes(b"PK\x03\x04" + bytes(60))
    (tmp_path / "empty.onnx").write_bytes(b"")
    out = ["--out-dir", str(tmp_path / "engines")]
    cases = [
        (["--onnx", str(tmp_path)], f"{tmp_path}: is a folder (it holds empty.onnx, m.onnx, text.onnx); pass --onnx"),
        (["--onnx", str(tmp_path / "text.onnx")], "text.onnx: not an ONNX model (unsupported protobuf wire type"),
        (["--onnx", str(tmp_path / "empty.onnx")], "empty.onnx: not an ONNX model (an empty file); export it with"),
        (["--onnx", str(tmp_path / "bundle.pt")], "bundle.pt: is a zip archive (a model bundle .pt?), not an ONNX"),
        (["--onnx", str(tmp_path / "nope.onnx")], "nope.onnx: ONNX model not found; export it with `sadvae export"),
        (["--onnx", good, "--batch", "1", "2"], "got 2: [1, 2]; write all three, e.g. --batch 1 2 2"),
        (["--onnx", good, "--batch", "4", "1"], "got 2: [4, 1]; write all three, e.g. --batch 1 4 4"),  # not 4 1 1
        (["--onnx", good, "--precision", "fp32", "--batch", "1", "2"], "--batch takes one value (a fixed batch) or"),
        (["--onnx", good, "--batch", "1", "2", "4", "8"], "or three (MIN OPT MAX), got 4: [1, 2, 4, 8]"),
        (["--onnx", good, "--batch", "4", "1", "16"], "MIN OPT MAX with 1 <= MIN <= OPT <= MAX, got [4, 1, 16]"),
        (["--onnx", good, "--target", "Ampere"], "--target 'Ampere' is not a compute capability; write it as SM86"),
        (
            ["--onnx", good, "--target", "SM86", "--library", "tensorrt"],
            "--target builds ahead of time with TensorRT-RTX",
        ),
        (["--onnx", good, "--calibration-cache", "c.cache"], "--calibration-cache is for --precision int8 (this build"),
        (["--onnx", good, "--precision", "int8", "--calibration-data", str(tmp_path / "w.npz")], "windows not found"),
        (["--onnx", good, "--workspace-mb", "0"], "workspace must be >= 1 MiB, got 0"),
    ]
    for argv, expected in cases:
        err = _cli_error(capsys, *argv, *out)
        assert expected in err and "not installed" not in err and "Traceback" not in err, (argv, err)
    err = _cli_error(capsys, "--onnx", good, *out)
    assert "sadvae: error: tensorrt is not installed; TensorRT comes with JetPack" in err
    assert "`pip install tensorrt`" in err and "sadvae-live[trt]" in err and "sadvae-live[rtx]" in err
    err = _cli_error(capsys, "--onnx", good, "--target", "SM86", "--precision", "fp32", *out)
    assert "tensorrt_rtx is not installed; install it with `pip install tensorrt-rtx`" in err
    assert not (tmp_path / "engines").exists()


def test_auto_without_tensorrt_says_tensorrt_is_missing(tmp_path, monkeypatch, capsys):
    """--library auto falls back to TensorRT-RTX when TensorRT is missing; a precision only TensorRT builds is then
    refused as "TensorRT is not installed" (review G1), and a bad --target is named before the precision (G7)."""
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    monkeypatch.setitem(sys.modules, "tensorrt_rtx", _fake_rtx())
    good = str(_onnx_file(tmp_path / "m.onnx"))
    for precision in ("fp16", "int8"):
        calibrator = object() if precision == "int8" else None  # int8 without calibration is refused before
        with pytest.raises(MissingDependencyError) as info:
            build_engine(good, tmp_path, precision=precision, calibrator=calibrator)
        msg = str(info.value)
        assert msg.startswith("TensorRT is not installed, so --library auto fell back to TensorRT-RTX (tensorrt_rtx")
        assert "builds fp32 only" in msg and f"to build {precision}, install TensorRT" in msg
        assert "`pip install tensorrt`" in msg and "sadvae-live[trt]" in msg and "--precision fp32" in msg
    with pytest.raises(ConfigError, match="tensorrt_rtx cannot build int8"):  # not "int8 needs calibration" first
        build_engine(good, tmp_path, precision="int8", library="tensorrt_rtx")
    err = _cli_error(capsys, "--onnx", good, "--out-dir", str(tmp_path))
    assert "sadvae: error: TensorRT is not installed, so --library auto fell back to TensorRT-RTX" in err
    err = _cli_error(capsys, "--onnx", good, "--target", "SM999", "--out-dir", str(tmp_path))
    assert "tensorrt_rtx 1.7.1.116 cannot target SM999; valid targets: ['SM75', 'SM80', 'SM86', 'SM89']" in err
    err = _cli_error(capsys, "--onnx", good, "--library", "tensorrt_rtx", "--out-dir", str(tmp_path))
    assert "tensorrt_rtx cannot build fp16: TensorRT-RTX builds strongly typed networks" in err  # asked for by name
    err = _cli_error(
        capsys, "--onnx", good, "--precision", "int8", "--calibration-data", good, "--out-dir", str(tmp_path)
    )
    assert "TensorRT is not installed, so --library auto fell back" in err  # before any windows are read
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_cli_info_refuses_a_model_folder_or_missing_file(tmp_path, capsys):
    from sadvae.cli import main

    plan, _, _ = _write_plan(tmp_path)
    assert main(["engine", "info", str(plan), "--model", str(tmp_path)]) == 2
    assert f"--model {tmp_path}: is a folder; pass the ONNX export or the bundle .pt" in capsys.readouterr().err
    assert main(["engine", "info", str(plan), "--model", str(tmp_path / "nope.pt")]) == 2
    assert "nope.pt: file not found" in capsys.readouterr().err


def test_cli_info(tmp_path, monkeypatch, capsys):
    from sadvae.cli import main

    plan, manifest, _ = _write_plan(tmp_path)
    assert main(["engine", "info", str(plan), "--no-check"]) == 0
    out = capsys.readouterr().out
    assert "precision   fp16" in out and "library     tensorrt 10.3.0" in out and "Orin (compute capability 8.7)" in out
    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(__version__="10.3.0"))
    monkeypatch.setattr(
        "sadvae.engine.manifest.current_device", lambda index=0: {"gpu": "Orin", "compute_capability": "8.7"}
    )
    assert main(["engine", "info", str(plan)]) == 0
    assert "check       fits this machine" in capsys.readouterr().out
    monkeypatch.setattr(
        "sadvae.engine.manifest.current_device", lambda index=0: {"gpu": "Xavier", "compute_capability": "7.2"}
    )
    assert main(["engine", "info", str(plan), "--json"]) == 1
    out = capsys.readouterr().out
    assert json.loads(out[: out.index("\ncheck")]) == manifest
    assert "does not fit this machine" in out and "device.compute_capability is 8.7 but this GPU (Xavier) is 7.2" in out


# --- TensorRT-RTX: a real TensorRT-family parser and builder, no GPU needed ---------------------------------------


@pytest.fixture(scope="module")
def rtx():
    return pytest.importorskip("tensorrt_rtx", reason="tensorrt_rtx is not installed (pip install tensorrt-rtx)")


@pytest.fixture(scope="module")
def tiny_onnx(bundle_fixtures, tmp_path_factory):
    pytest.importorskip("onnxscript")
    bundle, report = bundle_fixtures.tiny_model(tmp_path_factory.getbasetemp())
    return bundle, report.path


def test_rtx_builds_an_sm80_plan_from_the_tiny_model(rtx, tiny_onnx, tmp_path):
    bundle, onnx_path = tiny_onnx
    report = build_engine(
        onnx_path,
        tmp_path / "engines",
        precision="fp32",
        batch_sizes=(1, 4, 8),
        workspace_mb=64,
        library="tensorrt_rtx",
        compute_capability="SM80",
        timing_cache=tmp_path / "tc.bin",
    )
    assert report.plan == tmp_path / "engines" / "tiny.fp32.plan" and report.plan.stat().st_size == report.plan_bytes
    assert report.manifest_path == tmp_path / "engines" / "tiny.fp32.json"
    m = read_manifest(report.plan)
    assert m == report.manifest
    assert m["library"] == {"name": "tensorrt_rtx", "version": rtx.__version__}
    assert m["device"] == {"gpu": None, "compute_capability": "8.0", "target": "SM80"}
    assert m["input"] == {
        "name": "window",
        "dtype": "float32",
        "min": [1, 3, 32, 25, 2],
        "opt": [4, 3, 32, 25, 2],
        "max": [8, 3, 32, 25, 2],
    }
    assert m["outputs"] == [
        {"name": "latent", "shape": [-1, 16], "dtype": "float32"},
        {"name": "seen_logits", "shape": [-1, 4], "dtype": "float32"},
    ]
    assert m["model"]["metadata"]["seen_classes"] == ["wave", "clap", "jump", "stand up"]
    assert m["build"]["timing_cache"] is None and not (tmp_path / "tc.bin").exists()  # RTX: timing cache is a no-op
    a100 = {"gpu": "NVIDIA A100-SXM4-80GB", "compute_capability": "8.0"}
    assert check_manifest(report.plan, device=a100, onnx_or_model_id=bundle)["precision"] == "fp32"
    assert check_manifest(report.plan, device=a100, onnx_or_model_id=onnx_path)["precision"] == "fp32"
    with pytest.raises(EngineError, match="compute_capability is 8.0 but this GPU .* is 8.6.*--target SM86"):
        check_manifest(report.plan, device={"gpu": "RTX 3090", "compute_capability": "8.6"})


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_rtx_refuses_weakly_typed_precisions(rtx, tiny_onnx, tmp_path, precision):
    with pytest.raises(ConfigError, match=f"tensorrt_rtx cannot build {precision}: TensorRT-RTX builds strongly typed"):
        build_engine(tiny_onnx[1], tmp_path, precision=precision, library="tensorrt_rtx")
    assert not list(tmp_path.iterdir())


def test_rtx_parse_failures_are_one_clear_error(rtx, tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    nodes = [helper.make_node("Relu", ["x"], ["t"]), helper.make_node("Frobnicate", ["t"], ["y"], domain="my.ops")]
    model = helper.make_model(
        helper.make_graph(nodes, "g", [x], [y]),
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("my.ops", 1)],
    )
    onnx.save(model, tmp_path / "custom.onnx")
    with pytest.raises(EngineError) as info:
        build_engine(tmp_path / "custom.onnx", tmp_path, precision="fp32", library="tensorrt_rtx")
    msg = str(info.value)
    assert "custom.onnx: tensorrt_rtx" in msg and "cannot parse the ONNX model:\n  - node 1 (Frobnicate)" in msg
    assert msg.endswith("Export it again with `sadvae export` (its TensorRT operator check names the node)")
    (tmp_path / "corrupt.onnx").write_bytes(b"\x08\x07 not protobuf" * 8)
    with pytest.raises(EngineError, match=r"corrupt\.onnx: not an ONNX model"):
        build_engine(tmp_path / "corrupt.onnx", tmp_path, precision="fp32", library="tensorrt_rtx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt.onnx", "custom.onnx"]


def test_rtx_cli_build(rtx, tiny_onnx, tmp_path, capsys):
    from sadvae.cli import main

    out = tmp_path / "engines"
    argv = [
        "engine",
        "build",
        "--onnx",
        str(tiny_onnx[1]),
        "--precision",
        "fp32",
        "--target",
        "SM89",
        "--batch",
        "2",
        "--workspace-mb",
        "64",
        "--out-dir",
        str(out),
        "--name",
        "tiny-sm89",
    ]
    assert main(argv) == 0
    assert f"wrote {out / 'tiny-sm89.fp32.plan'}" in capsys.readouterr().out
    m = read_manifest(out / "tiny-sm89.fp32.plan")
    assert m["device"]["target"] == "SM89" and m["input"]["min"][0] == m["input"]["max"][0] == 2
    assert main([*argv[:5], "fp16", *argv[6:]]) == 2
    assert "sadvae: error: tensorrt_rtx cannot build fp16" in capsys.readouterr().err
