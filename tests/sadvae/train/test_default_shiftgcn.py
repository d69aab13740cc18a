"""Recipe shiftgcn-v2 (sadvae.train.default_shiftgcn): inner split, extra heads, and end-to-end runs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sadvae_tests_helpers import exec_by_path

from sadvae.errors import ConfigError
from sadvae.train import default_shiftgcn as rec
from sadvae.train.class_table import class_table
from sadvae.train.zsl import ZSLTrainConfig

ROOT = Path(__file__).resolve().parents[3]


def test_inner_validation_holds_out_whole_groups_of_the_training_side():
    subj = np.array([1, 1, 3, 3, 5, 5, 7, 9, 2, 4])
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
    test = subj % 2 == 0
    val = rec.inner_validation(labels, subj, np.full(10, -1), test)
    assert (
        set(subj[val]) == {3, 9} and not (val & test).any()
    )  # sorted training subjects 1,3,5,7,9: every third from the 2nd


def test_inner_validation_keeps_a_class_s_only_group_in_training():
    views = np.array([1, 2, 3, 4, 5, 6, 2, 2])  # class 1 lives only in style 2
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    val = rec.inner_validation(labels, np.full(8, -1), views, np.zeros(8, bool))
    assert 2 not in set(views[val]) and 5 in set(views[val])


def _blobs(rng, k_ntu=6, k_extra=4, n=30, d=16):
    centres = rng.normal(size=(k_ntu + k_extra, d)) * 3
    col = np.repeat(np.arange(k_ntu + k_extra), n)
    feats = (centres[col] + rng.normal(size=(len(col), d))).astype(np.float32)
    fc = rng.normal(size=(k_ntu, d)).astype(np.float32)
    fc[:, :] = centres[:k_ntu] / 3  # the "pretrained" fc knows the first k_ntu classes
    return feats, feats @ fc.T, col


@pytest.mark.parametrize("variant", ["joint", "independent"])
def test_extra_head_learns_the_extra_classes_on_raw_features(variant):
    rng = np.random.default_rng(0)
    feats, ntu, col = _blobs(rng)
    head = rec.fit_extra_head(feats, ntu, col, 6, 4, variant, 1e-3, seed=0)
    assert head.weight.shape == (4, 16) and head.trained.all()
    lg = rec.head_logits(head, feats, ntu)
    extra = col >= 6
    assert (lg[extra, 6:].argmax(1) == col[extra] - 6).mean() > 0.95  # standardisation folded into weight/bias
    if variant == "joint":  # one softmax scale: extra windows win over the fc, fc windows over the extra head
        assert (lg.argmax(1) == col).mean() > 0.9
    with pytest.raises(ConfigError, match="unknown extra-head variant"):
        rec.fit_extra_head(feats, ntu, col, 6, 4, "both")


def test_topk_metrics_restricts_to_allowed_columns():
    s = np.array([[0.9, 0.5, 0.1], [0.2, 0.1, 0.7]])
    assert rec.topk_metrics(s, np.array([1, 2]))["top1"] == 0.5
    assert rec.topk_metrics(s, np.array([1, 2]), allowed=np.array([1, 2]))["top1"] == 1.0


def _synthetic_window_data(table, rng) -> rec.WindowData:
    """Two fake sets whose clips are columns of the real class table (one NTU-mapped class each)."""
    sets = ("utkinect", "hdm05")
    cols = {
        "utkinect": table.columns("utkinect", ["sit down", "push", "pull"]),
        "hdm05": table.columns("hdm05", ["squat", "hop on both legs", "lie down on the floor"]),
    }
    centres = {c: rng.normal(size=256) for cs in cols.values() for c in cs}
    parts = {k: [] for k in ("feats", "col", "ds", "clip", "test", "val")}
    clip = 0
    for d, name in enumerate(sets):
        for c in cols[name]:
            for subject in range(1, 7):
                for _ in range(2):  # two windows per clip
                    parts["feats"].append(centres[c] + 0.5 * rng.normal(size=256))
                    parts["col"].append(c)
                    parts["ds"].append(d)
                    parts["clip"].append(clip)
                    parts["test"].append(subject % 2 == 0)
                    parts["val"].append(subject == 3)
                clip += 1
    feats = np.asarray(parts["feats"], np.float32)
    ntu = np.zeros((len(feats), 120), np.float32)
    ntu[np.arange(len(feats)), np.minimum(parts["col"], 119)] = 2.0
    return rec.WindowData(
        feats,
        ntu,
        np.array(parts["col"]),
        np.array(parts["ds"]),
        np.array(parts["clip"]),
        np.array(parts["test"]),
        np.array(parts["val"]),
        sets,
        {s: "/x" for s in sets},
        {s: "0" for s in sets},
        {s: 18 for s in sets},
    )


def _tiny_recipe(tmp_path, monkeypatch):
    """(class table, synthetic window data, a recipe config with a few SA-DVAE steps) with the recipe's feature
    loading replaced by that data; skips without the Shift-GCN weights (the bundle's backbone loads them)."""
    from sadvae.models.pretrained import shiftgcn_weights_path

    if not shiftgcn_weights_path("ntu120_xsub").is_file():
        pytest.skip("Shift-GCN weights not found in ../shared/models/shiftgcn")
    table = class_table().restricted(("utkinect", "hdm05"))  # the table of a model of those two sets
    data = _synthetic_window_data(table, np.random.default_rng(0))
    monkeypatch.setattr(rec, "load_window_data", lambda cfg, table, **kw: data)
    zsl = ZSLTrainConfig(cycles=1, iters_per_cycle=5, samples_per_class=5, classifier_steps=5)
    cfg = replace(
        rec.ShiftGCNDefaultConfig(), out=str(tmp_path / "m.pt"), zsl=zsl, weight_decays=(1e-3,), datasets=data.datasets
    )
    return table, data, cfg


@pytest.mark.slow  # ~60 s of CPU: the recipe twice (two SA-DVAE trainings, the calibration fit, the Shift-GCN load)
def test_recipe_end_to_end_on_synthetic_features(tmp_path, monkeypatch):
    import torch

    from sadvae.bundle import load_bundle
    from sadvae.hashing import file_sha256
    from sadvae.head.calibration import calibration_path, read_calibration

    table, data, cfg = _tiny_recipe(tmp_path, monkeypatch)
    out = rec.train_default_shiftgcn(cfg, command="test")
    b = load_bundle(out)
    assert b.class_names == table.names and b.seen_classes == tuple(range(len(table.names)))
    # T=96 (chosen on inner validation) and the measured live stride are the recipe's defaults since the packaging
    assert b.preprocess.window == 96 and b.preprocess.normalization == "ntu"
    assert b.live.persons == 1 and b.live.stride == rec.LIVE_STRIDE == 24
    assert b.terms["license"] == "CC-BY-NC-4.0"
    m = b.metrics
    assert set(m["holdout"]) == {"utkinect", "hdm05", "mean_over_sets"}
    assert m["holdout"]["utkinect"]["clips_all"]["n"] == 9  # 3 classes x 3 test subjects
    assert {g["variant"] for g in m["head_selection"]["grid"]} == {"joint", "independent"}
    assert m["head"]["variant"] == m["head_selection"]["best"]["variant"]
    p = b.provenance
    assert p["recipe_name"] == "shiftgcn-v2" and p["weights"]["sha256"] and "git_commit" in p
    assert len(p["class_table"]["columns"]) == len(table.names)
    cal = read_calibration(calibration_path(out), model_id=file_sha256(out))
    assert cal is not None and cal.model_id == file_sha256(out)
    # and the calibration of handedness pooling, on the same windows pooled with their mirror images
    pooled = read_calibration(calibration_path(out), model_id=file_sha256(out), handedness="pool")
    assert pooled.source.startswith("shiftgcn-v2: inner-validation windows, cross-fitted, pooled with their mirror")
    assert pooled.centroids == cal.centroids and "held_out" in m["calibration"]["handedness_pool"]
    assert json.loads(out.with_name("m.metrics.json").read_text())["metrics"]["recipe"] == "shiftgcn-v2"
    # the bundle's backbone is the Shift-GCN with the extra head: its logits on features = the recipe's head
    f = torch.as_tensor(data.feats[:4])
    with torch.no_grad():
        lg = b.backbone.forward_head(f).numpy()
    assert lg.shape == (4, len(table.names))
    w, bias = b.backbone.extra.weight.detach().numpy(), b.backbone.extra.bias.detach().numpy()
    np.testing.assert_allclose(lg[:, 120:], data.feats[:4] @ w.T + bias, atol=1e-4)
    assert "| utkinect |" in rec.metrics_markdown(m, p)

    # reproducible: the same config and seed give bit-identical weights and calibration (this replaces the round-1
    # card's one-off "second run, bit-identical" check with one CI runs on every change of the recipe)
    again = rec.train_default_shiftgcn(replace(cfg, out=str(tmp_path / "again.pt")), command="test")
    b2 = load_bundle(again)
    for part in ("backbone", "sadvae"):
        one, two = getattr(b, part).state_dict(), getattr(b2, part).state_dict()
        assert one.keys() == two.keys()
        for k in one:
            assert torch.equal(one[k], two[k]), (part, k)
    cal2 = read_calibration(calibration_path(again), model_id=file_sha256(again))
    assert replace(cal2, model_id=cal.model_id, source=cal.source) == cal  # source names the file it was read from
    assert b2.metrics["holdout"] == m["holdout"]

    # --recalibrate: phase 3 alone on the written bundle gives the calibration the run wrote, weights untouched
    before = out.read_bytes()
    written, report = rec.recalibrate_bundle(out, cfg)
    assert written == calibration_path(out) and out.read_bytes() == before
    cal3 = read_calibration(written, model_id=file_sha256(out))
    assert replace(cal3, source=cal.source) == cal and report["held_out"] == m["calibration"]["held_out"]
    pooled3 = read_calibration(written, model_id=file_sha256(out), handedness="pool")
    assert pooled3 == pooled


class _Stop(Exception):
    pass


@pytest.mark.parametrize("inner_only", [False, True])
def test_inner_model_trains_its_final_head_and_sadvae_without_inner_validation(monkeypatch, tmp_path, inner_only):
    """--inner-only: the final head and SA-DVAE see inner-train windows only; the default keeps the whole side."""
    table = class_table()
    data = _synthetic_window_data(table, np.random.default_rng(0))
    seen = {}

    def heads(data, table, cfg, train_rows, test_rows):
        seen["heads"] = np.asarray(train_rows)
        return {}

    def zero_shot(data, table, cfg, train_rows, test_rows):
        seen["sadvae"] = np.asarray(train_rows)
        raise _Stop  # nothing after this step depends on the training rows

    monkeypatch.setattr(rec, "load_window_data", lambda cfg, table, **kw: data)
    monkeypatch.setattr(rec, "_fit_heads", heads)
    monkeypatch.setattr(rec, "_fit_zero_shot", zero_shot)
    cfg = replace(rec.ShiftGCNDefaultConfig(), out=str(tmp_path / "m.pt"), datasets=data.datasets)
    with pytest.raises(_Stop):
        rec.train_default_shiftgcn(cfg, command="test", inner_only=inner_only)
    inner_train = np.flatnonzero(~data.test & ~data.inner_val)
    assert data.inner_val.any() and len(inner_train)
    for rows in (seen["heads"], seen["sadvae"]):
        assert not data.test[rows].any()
        if inner_only:
            assert not data.inner_val[rows].any() and np.array_equal(rows, inner_train)
        else:  # the packaged model: refit on the whole training side, inner validation included
            assert np.array_equal(rows, np.flatnonzero(~data.test)) and data.inner_val[rows].any()
    assert np.array_equal(rec.final_training_rows(data, inner_only), seen["heads"])


@pytest.mark.slow  # ~30 s of CPU: one SA-DVAE training (the calibration reuses it), the Shift-GCN load
def test_inner_model_end_to_end_says_it_is_the_inner_model(tmp_path, monkeypatch):
    from sadvae.bundle import load_bundle
    from sadvae.hashing import file_sha256
    from sadvae.head.calibration import calibration_path, read_calibration

    table, data, cfg = _tiny_recipe(tmp_path, monkeypatch)
    out = rec.train_default_shiftgcn(cfg, command="test", inner_only=True)
    b = load_bundle(out)
    assert b.metrics["model"] == b.provenance["model"] == "inner"
    assert b.metrics["windows"]["train"] == int((~data.test & ~data.inner_val).sum())
    assert "inner_only" not in b.provenance["config"]  # the stored config keeps the packaged model's fields
    assert rec.metrics_markdown(b.metrics, b.provenance).startswith("**Inner model**")
    cal = read_calibration(calibration_path(out), model_id=file_sha256(out))  # tune_decisions reads it
    assert cal is not None and b.metrics["calibration"]["windows"] == int(data.inner_val.sum())
    saved = json.loads(out.with_name("m.metrics.json").read_text())
    assert saved["metrics"]["model"] == saved["provenance"]["model"] == "inner"


def _script():
    """``scripts/train_default.py``, run afresh as a module."""
    return exec_by_path("train_default_script", ROOT / "scripts" / "train_default.py")


def test_script_refuses_stgcn_flags_for_the_shiftgcn_recipe(capsys):
    assert _script().main(["--epochs", "2", "--out", "/nonexistent/x.pt"]) == 2
    assert "belongs to --recipe stgcn-v1" in capsys.readouterr().err


@pytest.mark.parametrize("flags", [["--window", "64"], ["--datasets", "msr_action3d"], ["--feature-dir", "x"]])
def test_script_refuses_shiftgcn_flags_for_the_stgcn_recipe(flags, capsys, monkeypatch):
    """Review of 6 December 2026: the stgcn-v1 recipe dropped them silently and trained."""
    from sadvae.train import default_model

    monkeypatch.setattr(default_model, "train_default", lambda *a, **k: pytest.fail("it trained"))
    assert _script().main(["--recipe", "stgcn-v1", *flags]) == 2
    assert f"{flags[0]} belongs to --recipe shiftgcn-v2" in capsys.readouterr().err


def test_script_stgcn_recipe_without_shiftgcn_flags_is_not_refused(monkeypatch, tmp_path):
    from sadvae.train import default_model

    called = []
    monkeypatch.setattr(default_model, "train_default", lambda cfg, command: called.append(cfg) or tmp_path / "m.pt")
    monkeypatch.setattr(default_model, "metrics_markdown", lambda *a: "")
    monkeypatch.setattr(default_model, "load_bundle", lambda p: None, raising=False)
    try:
        _script().main(["--recipe", "stgcn-v1", "--out", str(tmp_path / "m.pt")])
    except Exception:  # noqa: BLE001 - what follows training is not this test's business
        pass
    assert called, "the recipe was refused or never started"


def test_script_inner_only_never_writes_the_packaged_model(capsys):
    from sadvae.assets import default_bundle_path

    assert _script().main(["--inner-only", "--out", str(default_bundle_path())]) == 2
    assert "must not write the packaged model" in capsys.readouterr().err
    assert _script().main(["--inner-only", "--rescore", "x.pt"]) == 2
    assert _script().main(["--recipe", "stgcn-v1", "--inner-only"]) == 2
    assert "belongs to --recipe shiftgcn-v2" in capsys.readouterr().err


@pytest.mark.slow
def test_script_trains_a_tiny_shiftgcn_bundle_on_real_data(shared_data, tmp_path, capsys):
    from sadvae.bundle import load_bundle

    out = tmp_path / "m.pt"
    args = [
        "--data-root",
        str(shared_data),
        "--out",
        str(out),
        "--limit-per-class",
        "2",
        "--cycles",
        "1",
        "--iters-per-cycle",
        "10",
        "--samples-per-class",
        "10",
        "--threads",
        "2",
        "--no-onnx",
        "--feature-dir",
        str(tmp_path / "features"),
        "--json",
        str(tmp_path / "r.json"),
    ]
    assert _script().main(args) == 0
    printed = capsys.readouterr().out
    assert "| nw_ucla |" in printed and "| bandai_namco |" in printed
    b = load_bundle(out)
    assert len(b.class_names) == len(class_table().names)
    h = b.metrics["holdout"]
    for name in ("msr_action3d", "nw_ucla", "utkinect", "hdm05", "bandai_namco"):
        assert 0 <= h[name]["clips_all"]["top1"] <= h[name]["clips_all"]["top5"] <= 1
    assert out.stat().st_size < 20e6
    assert json.loads((tmp_path / "r.json").read_text())["provenance"]["datasets"]["hdm05"]["fingerprint"]


def test_camera_copies_of_inner_train_clips_join_the_training_rows_only(shared_data, monkeypatch):
    """``--augment camera``: augmented copies are drawn for the inner-train clips, and their rows are neither inner
    validation nor test side, so no head is selected or scored on them (the backbone is replaced by marks)."""
    import sadvae.train.window_features as wfm
    from sadvae.models.pretrained import shiftgcn_weights_path
    from sadvae.train.protocol import dataset_arrays, test_side_mask

    if not shiftgcn_weights_path("ntu120_xsub").is_file():
        pytest.skip("Shift-GCN weights not found in ../shared/models/shiftgcn")
    asked = []

    def fake(extractor, dataset, load, fingerprint, clips=None, select=None, cache_dir=None, chunk=48):
        ds = load()
        labels, subjects, views = dataset_arrays(ds)
        rows = np.arange(len(ds.sequences)) if clips is None else np.asarray(clips)
        owner = np.repeat(rows, 2)
        copy = extractor.settings.get("augment_copy", -1)
        asked.append((extractor.settings.get("augment"), copy, rows))
        feats = np.full((len(owner), 256), copy, np.float32)
        extracted = np.isin(np.arange(len(ds.sequences)), rows)
        return wfm.WindowFeatures(
            dataset, tuple(ds.class_names), feats, np.zeros((len(owner), 120), np.float32), owner, labels,
            subjects, views, test_side_mask(ds, dataset), extracted, extractor.id, extractor.settings,
        )  # fmt: skip

    monkeypatch.setattr(wfm, "window_features", fake)
    cfg = replace(rec.ShiftGCNDefaultConfig(), datasets=("utkinect",), data_root=str(shared_data))
    plain = rec.load_window_data(cfg, class_table())
    data = rec.load_window_data(replace(cfg, augment="camera", augment_copies=2), class_table())
    assert [a[:2] for a in asked] == [(None, -1), (None, -1), ("camera", 0), ("camera", 1)]
    train_clips = np.unique(plain.clip[~plain.test & ~plain.inner_val])
    assert np.array_equal(asked[2][2], train_clips) and np.array_equal(asked[3][2], train_clips)
    copies = data.feats[:, 0] >= 0
    assert copies.sum() == 2 * (~plain.test & ~plain.inner_val).sum()
    assert not (copies & (data.test | data.inner_val)).any()
    assert np.array_equal(data.feats[~copies], plain.feats) and np.array_equal(data.test[~copies], plain.test)
    assert len(np.intersect1d(data.clip[copies], plain.clip)) == 0  # a copy is never scored as its clip
    with pytest.raises(ConfigError, match="augment"):
        rec._check_config(replace(cfg, augment="noise"))


@pytest.mark.slow
def test_script_trains_on_a_clip_folder_of_the_user_s(shared_data, tmp_path, capsys):
    """7 December 2026 (an audit of the own-data journey): the NTU-pretrained recipe refused clip folders, so a user's
    own bundle was always an ST-GCN trained from scratch, without a "no action" calibration. Now a clip folder is a
    set of the recipe: its classes join the table's by name or get columns of their own."""
    from sadvae.bundle import load_bundle
    from sadvae.data.record import Dataset, SkeletonSequence
    from sadvae.data.registry import load_dataset
    from sadvae.data.user_format import write_clip_dataset

    utk = load_dataset("utkinect", shared_data / "skeleton_sets" / "utkinect_action3d")
    keep = {"walk": "walk", "wave hands": "Wave-Hands", "clap hands": "juggling"}  # "juggling": a name no set has
    seqs = [
        SkeletonSequence(s.joints, s.fps, s.source, list(keep).index(utk.class_names[s.label]), None, s.subject)
        for s in utk.sequences
        if utk.class_names[s.label] in keep
    ]
    folder = tmp_path / "my_clips"
    write_clip_dataset(Dataset("mine", tuple(keep.values()), seqs), folder)
    out = tmp_path / "m.pt"
    args = ["--datasets", str(folder), "--out", str(out), "--cycles", "1", "--iters-per-cycle", "10"]
    args += ["--samples-per-class", "10", "--threads", "2", "--no-onnx", "--feature-dir", str(tmp_path / "features")]
    assert _script().main(args) == 0
    assert f"| {folder} |" in capsys.readouterr().out
    b = load_bundle(out)
    base = class_table()
    # its trained vocabulary: NTU's 120, the table's classes its clips join ("walk", "Wave-Hands"), its own
    assert b.class_names == (*base.names[:120], "wave both hands", "walk", "juggling")
    assert b.provenance["config"]["datasets"] == [str(folder)]
    assert b.provenance["datasets"][str(folder)]["terms"] == "a clip folder of your own: its terms are yours"
    h = b.metrics["holdout"][str(folder)]
    assert 0 <= h["clips_all"]["top1"] <= h["clips_all"]["top5"] <= 1
    assert out.with_name("m.head.json").is_file()  # "no action" is calibrated for the user's model too
    with pytest.raises(ConfigError, match="unknown dataset 'no_such_set'.* or the path of a clip folder"):
        rec.recipe_sources(replace(rec.ShiftGCNDefaultConfig(), datasets=("no_such_set",)))


def test_a_clip_folder_needs_both_sides_and_two_test_classes():
    """Review of 7 December 2026: a folder whose clips were all on one side failed at the end of training with a
    ValueError from deep inside the calibration."""
    labels, test = np.array([0, 1, 0, 1]), np.array([False, False, True, True])
    rec._check_sides("/mine", labels, test)  # both sides, two test classes
    with pytest.raises(ConfigError, match="/mine: its test side holds 0 classes"):
        rec._check_sides("/mine", labels, np.zeros(4, bool))
    with pytest.raises(ConfigError, match="/mine: its training side holds 0 classes"):
        rec._check_sides("/mine", labels, np.ones(4, bool))
    with pytest.raises(ConfigError, match="its test side holds 1 classes"):
        rec._check_sides("/mine", np.array([0, 1, 0, 0]), test)


def test_rescoring_refuses_a_clip_folder_changed_since_training(tmp_path):
    """Review of 7 December 2026: --rescore read whatever the folder held, training clips moved to the test side
    included, and exited 0; bundles record the folder's content digest."""
    from sadvae.features import dataset_fingerprint

    folder = tmp_path / "mine"
    (folder / "clips").mkdir(parents=True)
    (folder / "classes.txt").write_text("wave\nclap\n")
    (folder / "clips" / "a.npz").write_bytes(b"one")
    recorded = {"utkinect": {"root": "x"}, str(folder): {"content": dataset_fingerprint(folder)}}
    rec._check_folders_unchanged("m.pt", recorded)
    (folder / "clips" / "a.npz").write_bytes(b"two")
    with pytest.raises(ConfigError, match=rf"m.pt: its clip folder {folder} changed since it was trained"):
        rec._check_folders_unchanged("m.pt", recorded)
    with pytest.raises(ConfigError, match="is not found .moved or removed"):
        rec._check_folders_unchanged("m.pt", {str(tmp_path / "gone"): {"content": "0"}})


def test_the_recipe_neither_trains_nor_scores_a_test_clip_that_repeats_a_training_clip():
    """NW-UCLA's release repeats 95 view-2 training clips as view-3 test clips (7 December 2026): the recipe's held-out
    metrics leave them out (`_copies`), and a window cache that no longer fits the data is named as stale."""
    from types import SimpleNamespace

    from sadvae.data.record import Dataset, SkeletonSequence

    rng = np.random.default_rng(0)
    a, b, c = (rng.normal(size=(4, 1, 25, 3)).astype(np.float32) for _ in range(3))
    seqs = [SkeletonSequence(j, 30.0, f"/x/{k}") for k, j in enumerate((a, b, a, c))]
    src = SimpleNamespace(key="set", load=lambda: Dataset("set", (), seqs, []))
    wf = SimpleNamespace(test_side=np.array([False, False, True, True]), path=Path("/cache/set-0.npz"))
    assert rec._copies(src, wf).tolist() == [False, False, True, False]
    stale = SimpleNamespace(test_side=np.array([False, True, True]), path=Path("/cache/set-0.npz"))
    with pytest.raises(
        ConfigError, match=r"set: 4 clips read now, its cached window features hold 3: .*delete /cache/set-0.npz"
    ):
        rec._copies(src, stale)
