"""Which export ``load_live_model`` runs, and the model files it refuses (review of 6 December 2026).

An export's ``format_version`` and ``persons`` decide whether a cached or shipped export is used or the bundle is
exported again; an export paired with another bundle, a plan passed to ONNX Runtime, ``--bundle`` beside a bundle
and an unusable ``SADVAE_CACHE_DIR`` are each one clear error.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import realtime.backends.live_model as lm  # noqa: E402
import sadvae.export  # noqa: E402
from sadvae.data.preprocess import PreprocessConfig  # noqa: E402
from sadvae.errors import CheckpointError, ConfigError  # noqa: E402
from sadvae.hashing import file_sha256  # noqa: E402
from sadvae.onnx_metadata import EXPORT_FORMAT, encode_metadata, read_onnx_metadata  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


class _Exported(Exception):
    """Raised by the stand-in exporter: the loader chose to export (the real export is tested elsewhere)."""


@pytest.fixture
def exports(model_files, monkeypatch) -> list[tuple[Path, Path]]:
    """The (bundle, out) of every export ``load_live_model`` asks for; each writes the tiny model's export."""
    calls: list[tuple[Path, Path]] = []

    def fake_export(bundle_path, out_path, **kw):
        calls.append((Path(bundle_path), Path(out_path)))
        Path(out_path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(model_files[1], out_path)

    monkeypatch.setattr(sadvae.export, "export_onnx", fake_export)
    return calls


def _with_metadata(src: Path, dst: Path, **changes: object) -> Path:
    """A copy of the export ``src`` at ``dst`` with metadata keys changed (None: removed)."""
    proto = onnx.load(str(src))
    meta = {p.key: p.value for p in proto.metadata_props}
    for key, value in encode_metadata(changes).items():
        if value == "null":
            meta.pop(key, None)
        else:
            meta[key] = value
    del proto.metadata_props[:]
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(dst))
    return dst


def test_the_cache_names_the_export_format_and_an_older_cached_export_is_exported_again(
    model_files, exports, tmp_path, caplog
):
    bundle = model_files[0]
    model_id = file_sha256(bundle)
    want = lm.onnx_cache_path(model_id, tmp_path)
    assert want == tmp_path / f"{model_id[:16]}.format{EXPORT_FORMAT}.onnx"
    # a cache written before the format was in the name: format 1, without class_aliases
    _with_metadata(model_files[1], tmp_path / f"{model_id[:16]}.onnx", format_version=1)
    with caplog.at_level("WARNING"):
        live = lm.load_live_model(bundle, cache_dir=tmp_path)
    live.close()
    assert exports == [(bundle, want)] and live.backend_path == want and live.note.startswith("exported to")
    assert f"a cached export of format 1, not this version's {EXPORT_FORMAT}; exporting" in caplog.text
    live = lm.load_live_model(bundle, cache_dir=tmp_path)
    live.close()
    assert len(exports) == 1 and live.note == f"cached ONNX export {want}"
    _with_metadata(model_files[1], want, format_version=1)  # the name is checked against the file
    lm.load_live_model(bundle, cache_dir=tmp_path).close()
    assert len(exports) == 2 and read_onnx_metadata(want)["format_version"] == EXPORT_FORMAT
    (tmp_path / "old").mkdir()
    legacy = shutil.copy(model_files[1], tmp_path / "old" / f"{model_id[:16]}.onnx")
    live = lm.load_live_model(bundle, cache_dir=tmp_path / "old")  # the old name holding this format is used
    live.close()
    assert len(exports) == 2 and live.backend_path == legacy


@pytest.mark.parametrize("found", [1, EXPORT_FORMAT + 1])
def test_a_shipped_export_of_another_format_is_not_run(model_files, exports, tmp_path, caplog, found):
    bundle = shutil.copy(model_files[0], tmp_path / "model.pt")
    _with_metadata(model_files[1], tmp_path / "model.onnx", format_version=found)
    with caplog.at_level("WARNING"):
        live = lm.load_live_model(bundle, cache_dir=tmp_path / "cache")
    live.close()
    assert exports == [(bundle, lm.onnx_cache_path(file_sha256(bundle), tmp_path / "cache"))]
    assert f"model.onnx: its export format is {found}, this version's is {EXPORT_FORMAT}" in caplog.text
    shutil.copy(model_files[1], tmp_path / "model.onnx")  # this version's export of this bundle is run
    live = lm.load_live_model(bundle, cache_dir=tmp_path / "cache")
    live.close()
    assert live.backend_path == tmp_path / "model.onnx" and live.note == "ONNX export shipped beside the bundle"


def test_a_passed_export_of_a_newer_format_is_refused_and_an_older_one_warned(model_files, tmp_path, caplog):
    newer = _with_metadata(model_files[1], tmp_path / "newer.onnx", format_version=EXPORT_FORMAT + 1)
    with pytest.raises(CheckpointError) as info:
        lm.load_live_model(newer, bundle=model_files[0])
    assert str(info.value) == (
        f"{newer}: export format {EXPORT_FORMAT + 1} is newer than this sadvae-live reads ({EXPORT_FORMAT}); "
        f"upgrade sadvae-live, or export the bundle again with this version: `sadvae export {model_files[0]} "
        f"--out {newer}`"
    )
    older = _with_metadata(model_files[1], tmp_path / "older.onnx", format_version=1)
    with caplog.at_level("WARNING"):
        lm.load_live_model(older, bundle=model_files[0]).close()
    assert f"older.onnx: export format 1, older than this version's {EXPORT_FORMAT}" in caplog.text


@pytest.fixture(scope="module")
def shift_two_person_export(bundle_fixtures, tmp_path_factory) -> tuple[Path, Path]:
    """(a tiny Shift-GCN bundle whose live config is one person, its two-person export beside it)."""
    from sadvae.export import export_onnx

    root = tmp_path_factory.mktemp("shift_persons")
    bundle = bundle_fixtures.make_tiny_shiftgcn_bundle(root / "shift.pt", window=32, live_persons=1)
    export_onnx(bundle, root / "shift.onnx", persons=2, check=False)
    return bundle, root / "shift.onnx"


def test_a_shipped_export_for_other_person_slots_is_not_run(shift_two_person_export, tmp_path, monkeypatch, caplog):
    """An export made with --persons 2 beside a one-person bundle would double the compute under ONNX Runtime only."""
    bundle, shipped = shift_two_person_export

    def fake_export(bundle_path, out_path, **kw):
        raise _Exported(out_path)

    monkeypatch.setattr(sadvae.export, "export_onnx", fake_export)
    assert read_onnx_metadata(shipped)["persons"] == 2
    with caplog.at_level("WARNING"), pytest.raises(_Exported):
        lm.load_live_model(bundle, cache_dir=tmp_path)
    assert "shift.onnx: it was exported for 2 person slot(s), the bundle runs 1 live" in caplog.text
    with lm.load_live_model(shipped).backend as backend:  # passed on purpose, it runs as exported
        assert backend.window_shape == (3, 32, 25, 2)


def test_an_export_without_metadata_and_another_bundle_with_other_outputs_is_refused(
    bundle_fixtures, model_files, tmp_path
):
    """Same window shape, other output widths: said at load, not at the first window inside the head."""
    from sadvae.models.stgcn import STGCN, STGCNConfig

    other = bundle_fixtures._save_random(
        tmp_path / "other.pt",
        STGCN(STGCNConfig.from_preset("light", 3)),
        STGCN(STGCNConfig.from_preset("light", 3)).feature_dim,
        1,
        class_names=("a", "b", "c", "d"),
        seen_classes=(0, 1, 2),
        unseen_classes=(3,),
        preprocess=PreprocessConfig(window=32, persons=2),
    )
    bare = tmp_path / "bare.onnx"
    proto = onnx.load(str(model_files[1]))
    del proto.metadata_props[:]
    onnx.save(proto, str(bare))
    with pytest.raises(CheckpointError) as info:
        lm.load_live_model(bare, bundle=other)
    msg = str(info.value)
    assert msg.startswith(f"{bare} outputs a 16-wide latent and 4 seen-class logits but the bundle {other} has a ")
    assert "3 seen classes: they are different models; pass the bundle it was exported from with --bundle" in msg
    lm.load_live_model(bare, bundle=model_files[0]).close()  # its own bundle: the same outputs


def test_a_tensorrt_plan_with_the_default_backend_names_the_backend(model_files, tmp_path):
    plan = tmp_path / "model.fp16.plan"
    plan.write_bytes(b"serialized engine")
    with pytest.raises(ConfigError, match=r"model\.fp16\.plan: is a TensorRT plan, .*pass --backend tensorrt"):
        lm.load_live_model(plan, bundle=model_files[0])


def test_a_missing_plan_says_how_to_build_one(model_files, tmp_path):
    """Was "model file not found; pass a bundle .pt or an .onnx export with --model" (the edge audit of 7 December
    2026): a plan is built on the device, by `sadvae engine build`."""
    for plan, backend in ((tmp_path / "m.fp16.plan", "onnxruntime"), (tmp_path / "m.fp16", "tensorrt")):
        with pytest.raises(CheckpointError) as info:
            lm.load_live_model(plan, backend, bundle=model_files[0])
        assert str(info.value) == (
            f"{plan}: TensorRT plan not found; build it on the device that runs it with `sadvae engine build "
            "--onnx EXPORT.onnx` (docs/edge.md)"
        )
    with pytest.raises(CheckpointError, match=r"nope\.onnx: model file not found; pass a bundle \.pt or an \.onnx"):
        lm.load_live_model(tmp_path / "nope.onnx")


def test_another_models_bundle_beside_an_export_is_named_when_ignored(bundle_fixtures, model_files, tmp_path, caplog):
    """An export beside a .pt of its own stem made from another bundle runs on its own metadata; until 7 December
    2026 the .pt was dropped without a word (logged at INFO), and a new label then failed with "only its export is
    here"."""
    other = bundle_fixtures.make_tiny_bundle(tmp_path / "model.pt", seed=1)  # same shapes, other weights
    export = shutil.copy(model_files[1], tmp_path / "model.onnx")
    with caplog.at_level("WARNING", logger="realtime.backends.live_model"):
        live = lm.load_live_model(export)
    live.close()
    assert live.bundle_path is None
    assert f"ignoring {other} beside {export}: it is another model's bundle (model id {file_sha256(other)[:12]}" in (
        caplog.text
    )
    assert "pass --bundle with the bundle it was exported from" in caplog.text


def test_bundle_flag_beside_a_bundle_model_is_refused(model_files, tmp_path):
    for given in (model_files[0], tmp_path / "nowhere.pt"):
        with pytest.raises(ConfigError) as info:
            lm.load_live_model(model_files[0], bundle=given)
        assert str(info.value).startswith(f"--bundle {given}: --model {model_files[0]} is itself a model bundle; ")


def test_an_unusable_cache_dir_names_sadvae_cache_dir(model_files, exports, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("SADVAE_CACHE_DIR", str(tmp_path / "file"))
    with pytest.raises(ConfigError) as info:
        lm.load_live_model(model_files[0])
    msg = str(info.value)
    assert msg.startswith(f"SADVAE_CACHE_DIR={tmp_path / 'file'}: its ONNX export cache {tmp_path / 'file' / 'onnx'}")
    assert msg.endswith("; set SADVAE_CACHE_DIR to a writable folder") and "--out" not in msg
    assert exports == []


def test_the_packaged_export_is_of_this_export_format():
    """Else the quick start exports the default model (30-50 s, and torch) instead of running the shipped file."""
    shipped = ROOT / "sadvae" / "assets" / "default_model.onnx"
    if not shipped.is_file():
        pytest.skip(f"{shipped} is not installed")
    meta = read_onnx_metadata(shipped)
    assert meta["format_version"] == EXPORT_FORMAT
    assert meta["model_id"] == file_sha256(shipped.with_suffix(".pt"))
    assert meta["persons"] == lm._shipped_persons(meta) == 1
