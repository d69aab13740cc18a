from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from onnx import TensorProto, helper  # noqa: E402
from torch import nn  # noqa: E402

from sadvae import export_check  # noqa: E402
from sadvae.bundle import load_bundle  # noqa: E402
from sadvae.data.preprocess import PreprocessConfig, preprocess  # noqa: E402
from sadvae.errors import CheckpointError, ConfigError  # noqa: E402
from sadvae.export import (  # noqa: E402
    EXPORT_FORMAT,
    ExportError,
    Recognizer,
    check_parity,
    check_tensorrt_ops,
    example_windows,
    export_onnx,
    file_sha256,
    torch_to_onnx,
)


@pytest.fixture(scope="module")
def exported(bundle_fixtures, tmp_path_factory):
    """(bundle path, ExportReport) of the tiny model's default (dynamo, opset 17) export."""
    return bundle_fixtures.tiny_model(tmp_path_factory.getbasetemp())


def test_export_graph_signature_and_metadata(exported):
    bundle_path, report = exported
    model = onnx.load(report.path)
    assert report.opset == 17 and report.exporter == "dynamo"
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]
    (inp,) = model.graph.input
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert inp.name == "window" and dims[1:] == [3, 32, 25, 2] and isinstance(dims[0], str)
    outs = {o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] for o in model.graph.output}
    assert outs["latent"][1:] == [16] and outs["seen_logits"][1:] == [4]
    assert outs["latent"][0] == outs["seen_logits"][0] == dims[0]  # one symbolic batch axis
    meta = {p.key: json.loads(p.value) for p in model.metadata_props}
    assert meta["sadvae.model_id"] == file_sha256(bundle_path) == report.model_id
    assert meta["sadvae.window"] == 32 and meta["sadvae.persons"] == 2 and meta["sadvae.fps"] == 15.0
    assert meta["sadvae.joint_layout"] == "ntu25" and meta["sadvae.format_version"] == EXPORT_FORMAT == 2
    assert meta["sadvae.seen_classes"] == ["wave", "clap", "jump", "stand up"]
    assert meta["sadvae.encoder_id"] == "test-encoder" and meta["sadvae.latent_dim"] == 16
    assert meta["sadvae.gate"]["k"] == 3 and meta["sadvae.preprocess"]["window"] == 32
    # the dynamo export carries no shape arithmetic for the dynamic batch
    assert not {"Shape", "Gather", "Concat", "Einsum", "NonZero"} & set(report.op_histogram)


def test_export_parity_report(exported):
    _, report = exported
    assert set(report.parity) == {1, 4}
    for errs in report.parity.values():
        assert set(errs) == {"latent", "seen_logits"}
        assert max(errs.values()) < 1e-4


def test_recognizer_is_backbone_plus_semantic_mean(exported):
    bundle = load_bundle(exported[0])
    rec = Recognizer.from_bundle(bundle)
    x = torch.from_numpy(example_windows(4, bundle.preprocess, seed=3))
    with torch.no_grad():
        latent, logits = rec(x)
        features = bundle.backbone.forward_features(x)
        torch.testing.assert_close(latent, bundle.sadvae.semantic(features), rtol=0, atol=1e-6)
        torch.testing.assert_close(logits, bundle.backbone(x), rtol=0, atol=1e-6)
    assert rec.latent_dim == 16 and rec.num_seen == 4


def test_parity_on_a_real_ntu_window(exported, shared_data):
    from sadvae.data.ntu_skeleton import read_ntu_skeleton

    bundle = load_bundle(exported[0])
    seq = read_ntu_skeleton(shared_data / "ntu" / "S001C003P008R002A058.skeleton")
    times = np.arange(seq.joints.shape[0]) / seq.fps
    window = preprocess(seq.joints, times, bundle.preprocess)[None]
    import onnxruntime as ort

    sess = ort.InferenceSession(str(exported[1].path), providers=["CPUExecutionProvider"])
    got = sess.run(["latent", "seen_logits"], {"window": window})
    with torch.no_grad():
        want = Recognizer.from_bundle(bundle)(torch.from_numpy(window))
    for g, w in zip(got, want, strict=True):
        assert np.abs(g - w.numpy()).max() < 1e-4


def test_example_windows_are_deterministic_and_varied():
    cfg = PreprocessConfig(window=20, persons=2)
    a, b = example_windows(8, cfg, seed=1), example_windows(8, cfg, seed=1)
    assert a.shape == (8, 3, 20, 25, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, example_windows(8, cfg, seed=2))
    assert np.abs(a[0, ..., 0]).max() > 0 and not a[0, ..., 1].any()  # one person, the other absent
    assert a[2, ..., 1].any()  # two persons
    assert not a[3].any()  # nobody


class _Einsum(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(4, 5))

    def forward(self, x):
        return torch.einsum("nc,cd->nd", x, self.w)


class _BoolMask(nn.Module):
    def forward(self, x):
        return x[x > 0]


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
def test_check_refuses_einsum(exporter):
    model = torch_to_onnx(_Einsum(), torch.randn(2, 4), exporter=exporter, output_names=("y",))
    with pytest.raises(ExportError, match=r"\(Einsum\): TensorRT's Einsum has no ellipsis"):
        check_tensorrt_ops(model)


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
def test_check_refuses_boolean_mask_indexing(exporter):
    model = torch_to_onnx(_BoolMask(), torch.randn(2, 4), exporter=exporter, output_names=("y",))
    with pytest.raises(ExportError, match=r"\(NonZero\): its output shape depends on the input values"):
        check_tensorrt_ops(model)


def _graph(nodes, inits=(), out_shape=("N",)):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, list(out_shape))
    g = helper.make_graph(nodes, "g", [x], [y], initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_check_refuses_a_reshape_fed_by_input_values():
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [0])
    nodes = [
        helper.make_node("ReduceMax", ["x"], ["m"], name="max", keepdims=0, axes=[0, 1]),
        helper.make_node("Cast", ["m"], ["k"], name="cast", to=TensorProto.INT64),
        helper.make_node("Unsqueeze", ["k", "axes"], ["shape"], name="unsq"),
        helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape"),
    ]
    with pytest.raises(ExportError, match=r"node 'reshape' \(Reshape\): input 1 \('shape'\) sets the output shape"):
        check_tensorrt_ops(_graph(nodes, [axes]))


def test_check_accepts_a_reshape_fed_by_the_input_shape():
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("ReduceProd", ["s"], ["n"], name="prod", keepdims=1),
        helper.make_node("Reshape", ["x", "n"], ["y"], name="reshape"),
    ]
    assert check_tensorrt_ops(_graph(nodes)) == {"Shape": 1, "ReduceProd": 1, "Reshape": 1}


def test_check_refuses_unsupported_and_custom_ops():
    nodes = [
        helper.make_node("Hardmax", ["x"], ["h"], name="hm"),
        helper.make_node("Gelu", ["h"], ["y"], name="gelu", domain="com.microsoft"),
    ]
    model = _graph(nodes, out_shape=("N", 4))
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    with pytest.raises(ExportError, match=r"2 problem\(s\)") as err:
        check_tensorrt_ops(model)
    assert "node 'hm' (Hardmax): not supported by TensorRT's ONNX parser" in str(err.value)
    assert "node 'gelu' (Gelu): operator of domain 'com.microsoft' is not standard ONNX" in str(err.value)


def test_check_refuses_dynamic_non_batch_axes():
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    with pytest.raises(ExportError, match=r"graph output 'y': axes \[1\] are dynamic"):
        check_tensorrt_ops(_graph(nodes, out_shape=("N", "C")))


def test_failed_check_writes_nothing(exported, tmp_path, monkeypatch):
    monkeypatch.setattr(export_check, "TENSORRT_OPS", frozenset({"Conv"}))
    out = tmp_path / "m.onnx"
    with pytest.raises(ExportError, match=r"not supported by TensorRT's ONNX parser"):
        export_onnx(exported[0], out, exporter="torchscript")
    assert not out.exists() and not list(tmp_path.iterdir())


def test_parity_failure_is_reported(exported):
    bundle = load_bundle(exported[0])
    rec = Recognizer.from_bundle(bundle)
    with torch.no_grad():
        rec.semantic.bias.add_(1e-2)  # torch now differs from the exported graph
    with pytest.raises(ExportError, match=r"differs from torch by 1\.00e-02 > 0\.0001 on 'latent' at batch 1"):
        check_parity(rec, exported[1].path, bundle.preprocess)


def test_export_argument_errors(exported, tmp_path):
    with pytest.raises(CheckpointError, match="model bundle not found"):
        export_onnx(tmp_path / "missing.pt", tmp_path / "m.onnx")
    with pytest.raises(ConfigError, match=r"opset must be in \[17, "):
        torch_to_onnx(_Einsum(), torch.randn(2, 4), opset=13)
    with pytest.raises(ConfigError, match=r"unknown ONNX exporter 'jit'; valid exporters: \['dynamo', 'torchscript'\]"):
        torch_to_onnx(_Einsum(), torch.randn(2, 4), exporter="jit")


def test_cli_export_prints_histogram_and_parity(exported, tmp_path, capsys):
    from sadvae.cli import main

    out = tmp_path / "cli.onnx"
    assert main(["export", str(exported[0]), "--out", str(out), "--exporter", "torchscript"]) == 0
    text = capsys.readouterr().out
    assert out.is_file() and f"wrote {out} (opset 17, torchscript exporter" in text
    assert "  Conv" in text and "batch 1: latent" in text and "batch 4: latent" in text
    assert main(["export", str(tmp_path / "nope.pt"), "--out", str(out)]) == 2
    assert "model bundle not found" in capsys.readouterr().err


def test_export_refuses_bad_flags_before_reading_the_bundle(bundle_fixtures, tmp_path, monkeypatch, capsys):
    """--persons 0 was a ValueError traceback, --atol -1 and --out FOLDER failed only after the whole export (review
    E5, E6, E8, E9): now argparse or the cheap checks refuse them before the bundle is read."""
    from sadvae.cli import main

    bundle = bundle_fixtures.make_tiny_bundle(tmp_path / "tiny.pt")
    out = str(tmp_path / "m.onnx")
    for flag, value, expected in [
        ("--persons", "0", "argument --persons: expected a whole number >= 1 (person slots of the exported window)"),
        ("--persons", "two", "argument --persons: expected a whole number >= 1, got 'two'"),
        ("--atol", "-1", "argument --atol: expected a number > 0"),
        ("--atol", "nan", "argument --atol: expected a number > 0"),
        ("--atol", "0", "argument --atol: expected a number > 0"),
    ]:
        with pytest.raises(SystemExit) as info:
            main(["export", str(bundle), "--out", out, flag, value])
        err = capsys.readouterr().err
        assert info.value.code == 2 and expected in err and "Traceback" not in err, err

    def no_bundle_read(*args, **kwargs):
        raise AssertionError("the bundle was read before the cheap checks")

    monkeypatch.setattr("sadvae.bundle.load_bundle", no_bundle_read)
    assert main(["export", str(bundle), "--out", str(tmp_path)]) == 2
    assert f"--out {tmp_path}: is a folder; pass the .onnx file to write, e.g. {tmp_path / 'tiny.onnx'}" in (
        capsys.readouterr().err
    )
    assert main(["export", str(bundle), "--out", str(tmp_path / "m.txt"), "--persons", "9"]) == 2
    assert "m.txt: expected a .onnx file name (the export is an ONNX model)" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["export", str(bundle), "--out", str(tmp_path / "file" / "m.onnx")]) == 2
    assert "file is a file, not a folder" in capsys.readouterr().err
    # a folder this process cannot write in (/proc: even root cannot) was refused only after the export (review)
    assert main(["export", str(bundle), "--out", "/proc/x.onnx"]) == 2
    err = capsys.readouterr().err
    assert "--out /proc/x.onnx: the folder /proc cannot be written in (" in err and "--out path that can be" in err
    with pytest.raises(ConfigError, match=r"--atol must be a positive number .* got -1"):
        export_onnx(bundle, out, atol=-1)
    with pytest.raises(ConfigError, match="--persons must be a whole number >= 1, got 0"):
        export_onnx(bundle, out, persons=0)
    with pytest.raises(ConfigError, match=r"opset must be in \[17, "):
        export_onnx(bundle, out, opset=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "tiny.pt"]


def test_export_of_an_onnx_file_says_to_pass_the_bundle(exported, tmp_path, capsys):
    """The .onnx export passed where the .pt bundle belongs was "UnpicklingError: Unsupported operand 8" (E10)."""
    from sadvae.cli import main

    onnx_path = exported[1].path  # tiny.onnx, beside tiny_bundle.pt
    assert main(["export", str(onnx_path), "--out", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert (
        f"sadvae: error: {onnx_path}: is an ONNX export, not a model bundle; pass the .pt bundle it was exported "
        in err
    )
    assert "(tiny.onnx is the export)" in err and "Unpickling" not in err and not (tmp_path / "m.onnx").exists()
