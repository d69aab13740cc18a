"""A model bundle path that is not a bundle: one clear error naming what the file is (review E2, E3, E10, EV_2)."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sadvae.bundle import load_bundle  # noqa: E402
from sadvae.errors import CheckpointError  # noqa: E402


def _error(path) -> str:
    with pytest.raises(CheckpointError) as info:
        load_bundle(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: ") and "\n" not in msg, msg
    for internal in ("KeyError", "UnpicklingError", "Unsupported operand", "weights_only", "miniz"):
        assert internal not in msg, msg
    return msg


def _onnx_bytes() -> bytes:
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_text_file_named_pt(tmp_path):
    (tmp_path / "text.pt").write_text("hello\n")
    msg = _error(tmp_path / "text.pt")
    assert "not a sadvae model bundle: it is a text file (it starts with 'hello')" in msg
    assert msg.endswith("pass the .pt file `sadvae train zsl` writes")


def test_onnx_export_passed_as_the_bundle(tmp_path):
    (tmp_path / "model.onnx").write_bytes(_onnx_bytes())
    msg = _error(tmp_path / "model.onnx")
    assert msg == (
        f"{tmp_path / 'model.onnx'}: is an ONNX export, not a model bundle; pass the .pt bundle it was exported "
        "from (model.onnx is the export)"
    )
    (tmp_path / "model.pt").write_bytes(b"PK\x03\x04")  # a bundle beside it is pointed at
    assert f"{tmp_path / 'model.pt'} beside it may be that bundle" in _error(tmp_path / "model.onnx")
    (tmp_path / "renamed.pt").write_bytes(_onnx_bytes())  # told by its content, whatever its name
    assert "is an ONNX export, not a model bundle" in _error(tmp_path / "renamed.pt")
    assert "beside it" not in _error(tmp_path / "renamed.pt")  # it pointed at itself as "the bundle beside it"


def test_folder_empty_truncated_and_foreign_torch_files(tmp_path):
    (tmp_path / "dir.pt").mkdir()
    assert _error(tmp_path / "dir.pt").endswith("is a folder; pass the model bundle's .pt file")
    (tmp_path / "empty.pt").write_bytes(b"")
    assert "not a readable model bundle (empty file); re-create or re-download it" in _error(tmp_path / "empty.pt")
    torch.save({"w": torch.zeros(2)}, tmp_path / "sd.pt")
    data = (tmp_path / "sd.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    assert "the zip archive is truncated or damaged" in _error(tmp_path / "cut.pt")
    assert "no format_version) (a state dict or a training checkpoint?)" in _error(tmp_path / "sd.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    assert "not a sadvae model bundle (a torch file holding a list" in _error(tmp_path / "list.pt")
    (tmp_path / "bin.pt").write_bytes(bytes(range(1, 40)) * 3)
    assert "not a readable model bundle (neither the zip archive nor the pickle" in _error(tmp_path / "bin.pt")
    (tmp_path / "cfg.pt").write_text(json.dumps({"format_version": 1}))
    assert "it is a text file" in _error(tmp_path / "cfg.pt")
    # a zip archive that torch.save did not write (a recording passed as --model): refused before any export is
    # announced (review of 7 December 2026: "exporting ... to ONNX once", then a torch error)
    np.savez(tmp_path / "rec.npz", joints=np.zeros((2, 1, 25, 3)), times=np.arange(2.0))
    assert "a zip archive that holds joints.npy, times.npy (a numpy .npz: a recording goes to --replay), not a" in (
        _error(tmp_path / "rec.npz")
    )


def test_cli_eval_and_export_name_a_text_bundle(tmp_path, capsys):
    from sadvae.cli import main

    (tmp_path / "text.pt").write_text("hello\n")
    for argv in (
        ["eval", str(tmp_path / "text.pt")],
        ["export", str(tmp_path / "text.pt"), "--out", str(tmp_path / "x.onnx")],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"sadvae: error: {tmp_path / 'text.pt'}: not a sadvae model bundle: it is a text file" in err, err


@pytest.mark.parametrize(
    "changes, problem",
    [
        ({"seen_classes": [0, 1, 2, 9]}, "seen_classes [9] are not indices of the 6 class names"),
        ({"unseen_classes": [3, -1]}, "unseen_classes [-1] are not indices of the 6 class names"),
        ({"seen_classes": [0, 1, 1, 4]}, "seen_classes lists [1] more than once"),
        ({"unseen_classes": [3, 4]}, "classes ['stand up'] are both seen and unseen"),
    ],
)
def test_class_indices_outside_the_names_or_overlapping_are_one_error(bundle_fixtures, tmp_path, changes, problem):
    """Was an IndexError from BundleInfo.seen_names, or one after a 20 s export (export metadata)."""
    d = torch.load(bundle_fixtures.make_tiny_bundle(tmp_path / "ok.pt"), weights_only=True)
    torch.save({**d, **changes}, tmp_path / "bad.pt")
    assert _error(tmp_path / "bad.pt") == f"{tmp_path / 'bad.pt'}: inconsistent model bundle ({problem}); re-create it"


def test_backbone_checkpoint_passed_as_the_bundle(tmp_path):
    """Review of the CLI: `train backbone`'s file (format_version 1, like a bundle) was "inconsistent model bundle
    (KeyError: 'backbone')"."""
    from sadvae.models.stgcn import STGCN, STGCNConfig
    from sadvae.train.backbone import save_backbone

    path = save_backbone(STGCN(STGCNConfig.from_preset("light", 3)), tmp_path / "bb.pt", {"dataset": "utkinect"})
    assert _error(path) == (
        f"{path}: is a backbone checkpoint from `sadvae train backbone`, not a model bundle; make a bundle "
        "(backbone, SA-DVAE and class names) with `sadvae train zsl`"
    )


def _with_provenance(bundle_fixtures, path, provenance):
    d = torch.load(bundle_fixtures.make_tiny_bundle(path), weights_only=True)
    torch.save({**d, "provenance": provenance}, path)
    return path


@pytest.mark.parametrize(
    "provenance, problem",
    [
        (
            {},
            "the bundle records no training dataset and split (its provenance has no 'dataset'); `sadvae eval` "
            "measures bundles written by `sadvae train zsl`",
        ),
        ({"recipe": "shiftgcn"}, "the bundle records no training dataset and split"),
        (
            {"dataset": "synthetic"},
            "the bundle records no dataset folder (its provenance has no 'root'); pass --root "
            "pointing at the synthetic data it was trained on",
        ),
    ],
)
def test_cli_eval_of_a_bundle_without_its_training_data_is_one_error(
    bundle_fixtures, tmp_path, capsys, provenance, problem
):
    """Review of the CLI: a bundle without provenance `dataset`/`root` (scripts/make_shiftgcn_bundle.py) was a
    KeyError traceback in `sadvae eval`."""
    from sadvae.cli import main

    bundle = _with_provenance(bundle_fixtures, tmp_path / "b.pt", provenance)
    assert main(["eval", str(bundle)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"sadvae: error: {bundle}: {problem}") and "\n" not in err, err


def test_cli_eval_refuses_data_of_other_classes(bundle_fixtures, tmp_path, capsys, monkeypatch):
    """Review of the CLI: `sadvae eval BUNDLE --root OTHER` scored another dataset's clips with the bundle's class
    indices and printed numbers that meant nothing."""
    import numpy as np

    from sadvae.cli import main
    from sadvae.data.record import Dataset, SkeletonSequence
    from sadvae.data.registry import save_prepared

    names = bundle_fixtures.CLASS_NAMES

    def cache(path, class_names, name="msr_action3d"):
        seqs = [SkeletonSequence(np.zeros((8, 1, 25, 3), np.float32), 30.0, f"{c}.txt", c, None, 2) for c in range(6)]
        return save_prepared(Dataset(name, tuple(class_names), seqs, [], "cross_subject_odd"), path)

    good = cache(tmp_path / "good.npz", names)
    swapped = cache(tmp_path / "swapped.npz", (names[1], names[0], *names[2:]))  # same classes, another order
    other = cache(tmp_path / "other.npz", [f"action {i}" for i in range(20)])
    bundle = _with_provenance(bundle_fixtures, tmp_path / "b.pt", {"dataset": "msr_action3d", "root": str(good)})

    class Scored(Exception):
        pass

    def scored(*args, **kwargs):
        raise Scored

    monkeypatch.setattr("sadvae.train.backbone.extract", scored)
    with pytest.raises(Scored):  # the data it was trained on: scored
        main(["eval", str(bundle)])
    for root, classes in ((other, 20), (swapped, 6)):
        assert main(["eval", str(bundle), "--root", str(root)]) == 2
        assert capsys.readouterr().err.strip() == (
            f"sadvae: error: --root {root}: holds msr_action3d ({classes} classes), not the msr_action3d data "
            f"(6 classes, in the same order) the bundle was trained on; pass --root pointing at that data (the "
            f"bundle records {good})"
        )
    utk = cache(tmp_path / "utk.npz", names, "utkinect")  # the same class names, another registered set's cache
    assert main(["eval", str(bundle), "--root", str(utk)]) == 2
    assert f"--root {utk}: holds utkinect (6 classes), not the msr_action3d data" in capsys.readouterr().err
    other.replace(good)  # the recorded folder now holds other data
    assert main(["eval", str(bundle)]) == 2
    assert f"sadvae: error: {good} (the dataset folder the bundle records): holds msr_action3d (20 classes)" in (
        capsys.readouterr().err
    )


def test_eval_refuses_a_test_side_that_changed_since_training(bundle_fixtures, tmp_path, capsys, monkeypatch):
    """Audit of 7 December 2026: `sadvae eval` scored whatever the recorded folder held, so a folder whose clips or
    split fields had changed since training gave other numbers, training clips included, with exit code 0."""
    import numpy as np

    from sadvae.cli import main
    from sadvae.cli.train import _test_side
    from sadvae.data.record import Dataset, SkeletonSequence
    from sadvae.data.registry import load_prepared, save_prepared

    names = bundle_fixtures.CLASS_NAMES

    def cache(path, bump=0.0):
        seqs = [
            SkeletonSequence(np.full((8, 1, 25, 3), c + (bump if c == 0 else 0.0), np.float32), 30.0, f"{c}.txt", c)
            for c in range(6)
        ]
        seqs = [SkeletonSequence(s.joints, s.fps, s.source, s.label, None, 2) for s in seqs]  # subject 2: test side
        return save_prepared(Dataset("msr_action3d", tuple(names), seqs, [], "cross_subject_odd"), path)

    good = cache(tmp_path / "good.npz")
    _, side = _test_side(load_prepared(good), "msr_action3d", range(6))
    assert side["clips"] == 6
    prov = {"dataset": "msr_action3d", "root": str(good), "test_side": side}
    bundle = _with_provenance(bundle_fixtures, tmp_path / "b.pt", prov)

    class Scored(Exception):
        pass

    def scored(*args, **kwargs):
        raise Scored

    monkeypatch.setattr("sadvae.train.backbone.extract", scored)
    with pytest.raises(Scored):  # the test side it was measured on: scored
        main(["eval", str(bundle)])
    cache(tmp_path / "good.npz", bump=0.5)  # one test clip's content changed
    assert main(["eval", str(bundle)]) == 2
    err = capsys.readouterr().err
    assert f"sadvae: error: {good}: its test side is not the one the bundle was measured on (6 clips now, 6 then" in err


@pytest.mark.parametrize("layout", ["kinect_v1_20", None])
def test_a_bundle_of_another_joint_layout_is_refused_naming_the_field(bundle_fixtures, tmp_path, layout):
    """Review of the bundle fields: joint_layout was saved and never read, so a bundle of other joints loaded."""
    d = torch.load(bundle_fixtures.make_tiny_bundle(tmp_path / "ok.pt"), weights_only=True)
    bad = {k: v for k, v in d.items() if k != "joint_layout"}
    if layout is not None:
        bad["joint_layout"] = layout
    torch.save(bad, tmp_path / "bad.pt")
    msg = _error(tmp_path / "bad.pt")
    assert msg.startswith(f"{tmp_path / 'bad.pt'}: joint_layout {layout!r}, this sadvae reads 'ntu25'"), msg


def test_an_encoder_id_of_another_encoder_than_the_text_config_warns(bundle_fixtures, tmp_path, caplog):
    """Review of the bundle fields: encoder_id was never compared with the encoder the text config gives."""
    d = torch.load(bundle_fixtures.make_tiny_bundle(tmp_path / "ok.pt"), weights_only=True)
    same = tmp_path / "same.pt"
    torch.save({**d, "encoder_id": "sentence-transformers/all-MiniLM-L6-v2"}, same)  # what TextConfig() gives
    with caplog.at_level("WARNING", logger="sadvae.bundle"):
        load_bundle(same)
    assert "text encoder" not in caplog.text
    other = tmp_path / "other.pt"
    torch.save({**d, "encoder_id": "sentence-transformers/paraphrase-MiniLM-L3-v2"}, other)
    with caplog.at_level("WARNING", logger="sadvae.bundle"):
        load_bundle(other)
    assert (
        f"{other}: the SA-DVAE was trained with text encoder 'sentence-transformers/paraphrase-MiniLM-L3-v2' but the "
        "bundle's text config (model 'all-MiniLM-L6-v2') gives 'sentence-transformers/all-MiniLM-L6-v2'"
    ) in caplog.text
    (tmp_path / "enc").mkdir()  # a local encoder folder: its name is compared, its weights are not read
    text = {**d["text"], "model": str(tmp_path / "enc")}
    torch.save({**d, "text": text, "encoder_id": "local:enc:0123456789abcdef"}, same)
    caplog.clear()
    with caplog.at_level("WARNING", logger="sadvae.bundle"):
        load_bundle(same)
    assert "text encoder" not in caplog.text
    torch.save({**d, "text": text, "encoder_id": "local:other-model:0123456789abcdef"}, other)
    with caplog.at_level("WARNING", logger="sadvae.bundle"):
        load_bundle(other)
    assert "trained with text encoder 'local:other-model:0123456789abcdef'" in caplog.text
    assert "gives 'local:enc:...'" in caplog.text
    caplog.clear()
    (tmp_path / "enc").rmdir()  # the folder is not here: its name is still compared
    with caplog.at_level("WARNING", logger="sadvae.bundle"):
        load_bundle(same)
    assert "text encoder" not in caplog.text
    with caplog.at_level("WARNING", logger="sadvae.bundle"):
        load_bundle(other)
    assert "trained with text encoder 'local:other-model:0123456789abcdef'" in caplog.text
