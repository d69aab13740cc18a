"""Model bundles holding a Shift-GCN: extra head (large seen vocabulary), terms, live config, one-person graph."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sadvae.bundle import BundleInfo, LiveConfig, load_bundle, resave_bundle, save_bundle  # noqa: E402
from sadvae.data.preprocess import PreprocessConfig  # noqa: E402
from sadvae.errors import CheckpointError, ConfigError  # noqa: E402
from sadvae.export import Recognizer, bundle_metadata, live_recognizer  # noqa: E402
from sadvae.models.extra_head import ExtraHeadBackbone  # noqa: E402
from sadvae.models.shiftgcn import ShiftGCN  # noqa: E402

WINDOW = 16  # any multiple of 4: short windows keep these tests fast


@pytest.fixture(scope="module")
def shift_bundle(bundle_fixtures, tmp_path_factory):
    path = tmp_path_factory.mktemp("shift") / "shift.pt"
    return bundle_fixtures.make_tiny_shiftgcn_bundle(path, window=WINDOW), bundle_fixtures


def _windows(n: int, persons: int, seed: int = 0) -> torch.Tensor:
    x = np.zeros((n, 3, WINDOW, 25, 2), np.float32)
    x[..., :persons] = np.random.default_rng(seed).normal(scale=0.5, size=(n, 3, WINDOW, 25, persons))
    return torch.from_numpy(x)


def test_round_trip_keeps_the_extra_head_terms_and_live_config(shift_bundle):
    path, fx = shift_bundle
    b = load_bundle(path)
    assert isinstance(b.backbone, ExtraHeadBackbone) and isinstance(b.backbone.backbone, ShiftGCN)
    assert (b.backbone.own_classes, b.backbone.extra_classes, b.backbone.cfg.num_classes) == (4, 2, 6)
    assert b.seen_names == ("wave", "clap", "jump", "stand up", "kick", "bow")
    assert b.terms == {"license": "CC-BY-NC-4.0", "notice": "test bundle: random weights"}
    assert b.live == LiveConfig(stride=16, persons=1)
    assert b.preprocess == PreprocessConfig(window=WINDOW, fps=30.0, persons=2, normalization="ntu")
    assert b.live_preprocess == replace(b.preprocess, persons=1)
    x = _windows(2, 2)
    with torch.no_grad():
        f = b.backbone.forward_features(x)
        logits = b.backbone(x)
        want = torch.cat([b.backbone.backbone.fc(f), b.backbone.extra(f)], dim=1)
    assert logits.shape == (2, 6) and torch.equal(logits, want)
    # saving the loaded bundle again writes the same tensors (the wrapper is taken apart again)
    again = resave_bundle(path.with_name("again.pt"), b)
    b2 = load_bundle(again)
    with torch.no_grad():
        assert torch.equal(b2.backbone(x), logits)
    assert b2.terms == b.terms and b2.live == b.live


def test_one_person_recognizer_equals_the_two_slot_model_on_one_person_windows(shift_bundle):
    b = load_bundle(shift_bundle[0])
    one, pre = live_recognizer(b)  # the live config asks for one person
    assert pre.persons == 1 and pre.window == WINDOW and pre.normalization == "ntu"
    full = Recognizer.from_bundle(b)
    x = _windows(3, 1, seed=1)
    with torch.no_grad():
        lat1, log1 = one(x[..., :1])
        lat2, log2 = full(x)
    torch.testing.assert_close(lat1, lat2, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(log1, log2, atol=1e-4, rtol=1e-4)
    assert log1.shape == (3, 6)
    two, pre2 = live_recognizer(b, persons=2)
    assert pre2.persons == 2 and two.backbone is b.backbone
    # this used to say "only a Shift-GCN has a one-person graph" of a Shift-GCN (review E7); it names the counts now
    with pytest.raises(ConfigError, match=r"--persons 3: this Shift-GCN takes windows of 2 person slots .* or 1"):
        live_recognizer(b, persons=3)


def test_metadata_carries_window_normalisation_terms_and_live_config(shift_bundle):
    b = load_bundle(shift_bundle[0])
    meta = bundle_metadata(b, "m" * 64)
    assert (meta["window"], meta["fps"], meta["persons"], meta["normalization"]) == (WINDOW, 30.0, 1, "ntu")
    assert meta["preprocess"]["persons"] == 1 and meta["preprocess"]["normalization"] == "ntu"
    assert meta["backbone"] == {"arch": "shiftgcn", "slots": 2, "own_classes": 4, "extra_classes": 2}
    assert meta["live"] == {"stride": 16, "persons": 1} and meta["terms"]["license"] == "CC-BY-NC-4.0"
    info = BundleInfo.from_metadata(meta, "test")
    assert info.preprocess == b.live_preprocess and info.live == b.live and dict(info.terms) == b.terms
    assert info.seen_names == b.seen_names
    direct = BundleInfo.from_bundle(b, "m" * 64)
    assert direct.preprocess == info.preprocess and direct.live == info.live
    bad = {**meta, "live": {"stride": 0}}
    with pytest.raises(CheckpointError, match="malformed live config"):
        BundleInfo.from_metadata(bad, "test")


def test_an_st_gcn_bundle_without_the_new_keys_reads_as_before(bundle_fixtures, tmp_path):
    path = bundle_fixtures.make_tiny_bundle(tmp_path / "stgcn.pt")
    assert set(torch.load(path, weights_only=True)) >= {"backbone", "preprocess"}
    assert not {"extra_head", "terms", "live"} & set(torch.load(path, weights_only=True))
    b = load_bundle(path)
    assert b.terms == {} and b.live == LiveConfig() and b.live_preprocess is b.preprocess
    rec, pre = live_recognizer(b)
    assert pre is b.preprocess and rec.backbone is b.backbone
    meta = bundle_metadata(b, "x" * 64)
    assert meta["live"] == {} and meta["terms"] == {} and meta["backbone"]["arch"] == "stgcn"
    with pytest.raises(ConfigError, match="only a Shift-GCN has a one-person graph"):
        live_recognizer(b, persons=1)


def test_save_refuses_inconsistent_bundles(shift_bundle, tmp_path):
    b = load_bundle(shift_bundle[0])
    kw = dict(
        sadvae=b.sadvae,
        gate=b.gate,
        class_names=b.class_names,
        unseen_classes=b.unseen_classes,
        encoder_id=b.encoder_id,
        text_cfg=b.text_cfg,
        preprocess=b.preprocess,
        metrics={},
        provenance={},
    )
    with pytest.raises(ConfigError, match="scores 6 seen classes but 5 seen classes are listed"):
        save_bundle(tmp_path / "a.pt", backbone=b.backbone, seen_classes=b.seen_classes[:5], **kw)
    with pytest.raises(ConfigError, match="terms must map strings to strings"):
        save_bundle(tmp_path / "b.pt", backbone=b.backbone, seen_classes=b.seen_classes, terms={"x": 1}, **kw)
    with pytest.raises(ConfigError, match="LiveConfig.stride must be an integer >= 1"):
        LiveConfig(stride=0)
    with pytest.raises(ConfigError, match="the extra head takes 8-d features but the backbone gives 256-d"):
        ExtraHeadBackbone(b.backbone.backbone, torch.nn.Linear(8, 2))
    assert not (tmp_path / "a.pt").exists() and not (tmp_path / "b.pt").exists()


def test_model_stride_counts_model_frames_at_the_source_rate():
    from realtime.pipeline import DEFAULT_STRIDE, model_stride

    def model(stride, fps=30.0):
        return SimpleNamespace(
            bundle=SimpleNamespace(live=LiveConfig(stride=stride)), preprocess=PreprocessConfig(window=64, fps=fps)
        )

    assert model_stride(model(16), 30.0) == 16
    assert model_stride(model(16), 60.0) == 32 and model_stride(model(16), 15.0) == 8
    assert model_stride(model(16), None) == 16 and model_stride(model(1), 5.0) == 1
    assert model_stride(model(None), 30.0) == DEFAULT_STRIDE


def test_cli_export_refuses_a_one_person_graph_of_an_st_gcn_in_one_line(bundle_fixtures, tmp_path, capsys):
    from sadvae.cli import main

    path = bundle_fixtures.make_tiny_bundle(tmp_path / "stgcn.pt")
    out = tmp_path / "x.onnx"
    assert main(["export", str(path), "--out", str(out), "--persons", "1"]) == 2
    err = capsys.readouterr().err
    assert "only a Shift-GCN has a one-person graph" in err and not out.exists()


def test_cli_export_names_the_person_counts_the_model_supports(shift_bundle, bundle_fixtures, tmp_path, capsys):
    """--persons 7 on a Shift-GCN said "only a Shift-GCN has a one-person graph" (review E7, E9)."""
    from sadvae.cli import main

    out = tmp_path / "x.onnx"
    assert main(["export", str(shift_bundle[0]), "--out", str(out), "--persons", "7"]) == 2
    err = capsys.readouterr().err
    assert "--persons 7: this Shift-GCN takes windows of 2 person slots (the ones it was trained with) or 1 " in err
    assert "pass --persons 1 or 2, or leave it out" in err and "only a Shift-GCN" not in err
    stgcn = bundle_fixtures.make_tiny_bundle(tmp_path / "stgcn.pt")
    assert main(["export", str(stgcn), "--out", str(out), "--persons", "3"]) == 2
    err = capsys.readouterr().err
    assert "--persons 3: this ST-GCN takes windows of 2 person slot(s) only" in err and "pass --persons 2," in err
    assert not out.exists()


def test_class_table_aliases_travel_from_the_bundle_through_the_export_metadata(shift_bundle):
    """A column that merged datasets' classes (the recipe's class table) keeps their own names as aliases, which the
    live label matcher reads: NW-UCLA "donning" reaches the column "put on clothes" by its own name."""
    b = load_bundle(shift_bundle[0])
    assert b.column_aliases == ()  # no class table recorded
    assert "class_aliases" not in bundle_metadata(b, "m" * 64)
    columns = [{"name": n, "sources": ["x"], "members": []} for n in b.seen_names]
    columns[1]["members"] = [["msr_action3d", "hand clap"], ["utkinect", "clap hands"], ["ntu", "clap"]]
    columns[5]["members"] = [["nw_ucla", "bow"], ["hdm05", "take a bow"]]  # "clap", "bow": the column's own name
    trained = {d: {} for d in ("msr_action3d", "utkinect", "nw_ucla", "hdm05")}
    tabled = replace(b, provenance={"class_table": {"num_ntu": 4, "columns": columns}, "datasets": trained})
    assert tabled.column_aliases == ((), ("hand clap", "clap hands"), (), (), (), ("take a bow",))
    # a set the bundle did not train on lends no name (a model trained without MSR reads "hand clap" as new)
    without_msr = {d: {} for d in ("utkinect", "hdm05")}
    lodo = replace(b, provenance={"class_table": {"columns": columns}, "datasets": without_msr})
    assert lodo.column_aliases == ((), ("clap hands",), (), (), (), ("take a bow",))
    assert replace(b, provenance={"class_table": {"columns": columns}}).column_aliases == ()  # trained sets unknown
    meta = bundle_metadata(tabled, "m" * 64)
    assert meta["class_aliases"][1] == ["hand clap", "clap hands"]
    assert BundleInfo.from_metadata(meta, "test").aliases == tabled.column_aliases
    assert BundleInfo.from_bundle(tabled, "m" * 64).aliases == tabled.column_aliases
    # a table of another vocabulary (another recipe) gives no aliases rather than wrong ones
    other = replace(b, provenance={"class_table": {"columns": columns[::-1]}, "datasets": trained})
    assert other.column_aliases == ()
    with pytest.raises(CheckpointError, match="malformed export metadata.*class_aliases has 2 columns"):
        BundleInfo.from_metadata({**meta, "class_aliases": [[], []]}, "test")
