"""The ``shiftgcn-v2`` recipe's settings: what may write the packaged model, what --rescore / --recalibrate read from
the bundle, the stride check and the recorded thread count. Nothing here trains or reads data (the heavy steps are
replaced by stubs that fail the test or stop it), and nothing writes under sadvae/assets/."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from sadvae_tests_helpers import exec_by_path

from sadvae.errors import ConfigError
from sadvae.train import default_shiftgcn as rec
from sadvae.train.class_table import class_table
from sadvae.train.zsl import ZSLTrainConfig

ROOT = Path(__file__).resolve().parents[3]


class _Stop(Exception):
    """Raised by a stub where the test has seen what it needs (instead of training or reading data)."""


def _script():
    """``scripts/train_default.py``, run afresh as a module."""
    return exec_by_path("train_default_script_flags", ROOT / "scripts" / "train_default.py")


def _never(*a, **k):
    pytest.fail("the recipe started (read data or trained) although the command should have been refused")


@pytest.fixture
def no_training(monkeypatch):
    """The recipe's entry points fail the test if called."""
    for name in ("train_default_shiftgcn", "load_window_data", "rescore_bundle", "recalibrate_bundle", "window_sweep"):
        monkeypatch.setattr(rec, name, _never)


@pytest.fixture
def stop_training(monkeypatch):
    """``train_default_shiftgcn`` records its config and stops (nothing is read, trained or written)."""
    seen = []

    def train(cfg, command=None, inner_only=False):
        seen.append(cfg)
        raise _Stop

    monkeypatch.setattr(rec, "train_default_shiftgcn", train)
    monkeypatch.setattr(rec, "load_window_data", _never)
    return seen


# ------------------------------------------------------------------------- 1. the packaged model is the default recipe


def test_smoke_run_without_out_is_refused_before_any_data_is_read(no_training, capsys):
    """Review: ``--limit-per-class 2`` with no --out overwrote sadvae/assets/default_model.* with a smoke model."""
    assert _script().main(["--limit-per-class", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--limit-per-class 2" in err and "packaged model" in err and "pass another --out" in err


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--augment", "camera"], "--augment camera"),
        (["--window", "64"], "--window 64"),
        (["--datasets", "utkinect"], "--datasets utkinect"),
        (["--stride", "24"], "--stride 24"),
        (["--seed", "1"], "--seed 1"),
        (["--cycles", "1", "--iters-per-cycle", "10"], "--cycles 1, --iters-per-cycle 10"),
        (["--weight-decays", "1e-3"], "--weight-decays 0.001"),
        (["--no-calibration"], "--no-calibration"),
        (["--head", "joint"], "--head joint"),
        (["--live-stride", "16"], "--live-stride 16"),
        (["--no-onnx"], "--no-onnx"),
        (["--no-example-fit"], "--no-example-fit"),
    ],
)
def test_any_model_setting_without_out_is_refused(flags, named, no_training, capsys):
    assert _script().main(flags) == 2
    err = capsys.readouterr().err
    assert named in err and "pass another --out" in err


def test_an_explicit_out_naming_the_packaged_model_is_refused_too(no_training, capsys):
    from sadvae.assets import default_bundle_path

    assert _script().main(["--out", str(default_bundle_path()), "--limit-per-class", "2"]) == 2
    assert "--out names the packaged model" in capsys.readouterr().err


def test_paths_threads_and_device_may_rebuild_the_packaged_model(stop_training, tmp_path):
    """They say where and how the recipe runs, not what it trains: the default recipe goes ahead."""
    from sadvae.assets import default_bundle_path

    flags = ["--threads", "1", "--device", "cpu", "--data-root", str(tmp_path), "--feature-dir", str(tmp_path / "f")]
    flags += ["--text-cache", str(tmp_path / "t"), "--json", str(tmp_path / "r.json"), "--seed", "0", "--window", "96"]
    with pytest.raises(_Stop):
        _script().main(flags)
    (cfg,) = stop_training
    assert Path(cfg.out) == default_bundle_path() and rec.differing_settings(cfg) == []
    assert cfg.threads == 1 and cfg.data_root == str(tmp_path) and cfg.text.cache_dir == str(tmp_path / "t")


def test_a_smoke_run_with_another_out_trains(stop_training, tmp_path):
    with pytest.raises(_Stop):
        _script().main(["--limit-per-class", "2", "--augment", "camera", "--out", str(tmp_path / "m.pt")])
    (cfg,) = stop_training
    assert cfg.limit_per_class == 2 and cfg.augment == "camera" and cfg.out == str(tmp_path / "m.pt")


@pytest.mark.parametrize("skip", [False, True])
def test_a_trained_model_gets_its_example_constants_fitted_as_the_last_step(skip, monkeypatch, tmp_path):
    """Review (6 December 2026): the recipe left the head's constants of labels taught by example at their built-in
    values (scripts/fit_example_curve.py was a separate step), so the model it wrote was not the packaged one."""
    script = _script()
    out, calls = tmp_path / "m.pt", []
    monkeypatch.setattr(rec, "train_default_shiftgcn", lambda cfg, command=None, inner_only=False: Path(cfg.out))
    monkeypatch.setattr(script, "_finish", lambda *a: calls.append("finish") or 0)
    monkeypatch.setattr(script, "fit_examples", lambda path, cfg, command: calls.append((path, cfg.datasets)))
    flags = ["--out", str(out), "--datasets", "utkinect", "msr_action3d"] + (["--no-example-fit"] if skip else [])
    assert script.main(flags) == 0
    assert calls == (["finish"] if skip else ["finish", (out, ("utkinect", "msr_action3d"))])
    # none without a head calibration to add them to, for the inner model (the fit reads the inner-validation
    # sequences its replays must not have seen), for a smoke run, or after a failed last step
    for flags in (["--no-calibration"], ["--inner-only"], ["--limit-per-class", "2"]):
        calls.clear()
        assert script.main(["--out", str(out), *flags]) == 0
        assert calls == ["finish"], flags
    monkeypatch.setattr(script, "_finish", lambda *a: calls.append("finish") or 1)
    calls.clear()
    assert script.main(["--out", str(out)]) == 1
    assert calls == ["finish"]


# ------------------------------------------------------------------ 2. --rescore / --recalibrate: the bundle's settings


RECORDED = replace(
    rec.ShiftGCNDefaultConfig(),
    out="/where/it/was/built.pt",
    data_root="/old/data",
    threads=5,
    stride=24,
    seed=3,
    datasets=("utkinect", "hdm05"),
    augment="camera",
    augment_copies=2,
    weight_decays=(1e-3,),
    zsl=replace(ZSLTrainConfig(), cycles=2, iters_per_cycle=7),
)


@pytest.fixture
def recorded_bundle(monkeypatch):
    """``load_bundle`` gives a stand-in ``shiftgcn-v2`` bundle whose provenance records :data:`RECORDED`;
    ``load_window_data`` records the config it is asked for and stops. Returns ``.bundle`` and ``.seen`` (the
    configs asked for)."""
    import torch

    import sadvae.bundle

    table = class_table()
    bundle = SimpleNamespace(
        backbone=SimpleNamespace(extra=torch.nn.Linear(256, len(table.extra_names))),
        preprocess=SimpleNamespace(window=RECORDED.window, normalization="ntu"),
        class_names=table.names,
        provenance={"config": json.loads(json.dumps(asdict(RECORDED)))},
        metrics={"head_selection": {"best": {"variant": "joint", "weight_decay": 1e-3}}},
        sadvae=None,
    )
    monkeypatch.setattr(sadvae.bundle, "load_bundle", lambda path: bundle)
    seen = []

    def load(cfg, table, **kw):
        seen.append(cfg)
        raise _Stop

    monkeypatch.setattr(rec, "load_window_data", load)
    return SimpleNamespace(bundle=bundle, seen=seen)


@pytest.mark.parametrize("how", ["rescore", "recalibrate"])
def test_rescore_and_recalibrate_use_the_bundles_recorded_settings(how, recorded_bundle):
    """Review: only the window and weights came from the bundle; seed, stride, datasets, augmentation and SA-DVAE
    settings were the command line's defaults."""
    run = replace(rec.ShiftGCNDefaultConfig(), data_root="/data", feature_dir="/cache", threads=1)
    with pytest.raises(_Stop):
        if how == "rescore":
            rec.rescore_bundle("b.pt", run)
        else:
            rec.recalibrate_bundle("b.pt", run)
    (cfg,) = recorded_bundle.seen
    assert cfg.seed == 3 and cfg.stride == 24
    assert rec.differing_settings(cfg, RECORDED) == []  # every model setting is the recorded one
    assert cfg.datasets == ("utkinect", "hdm05") and cfg.zsl.cycles == 2 and cfg.augment == "camera"
    # paths, threads and devices are the caller's
    assert (cfg.data_root, cfg.feature_dir, cfg.threads, cfg.out) == ("/data", "/cache", 1, run.out)


def test_rescore_refuses_settings_that_are_not_the_bundles(recorded_bundle):
    with pytest.raises(ConfigError, match=r"seed 5 \(recorded 3\)"):
        rec.rescore_bundle("b.pt", replace(rec.ShiftGCNDefaultConfig(), seed=5))
    # asked for explicitly, the default value is refused too when the bundle recorded another
    with pytest.raises(ConfigError, match=r"stride None \(recorded 24\)"):
        rec.rescore_bundle("b.pt", rec.ShiftGCNDefaultConfig(), asked=["stride"])
    # the recorded values themselves are accepted
    with pytest.raises(_Stop):
        rec.rescore_bundle("b.pt", replace(rec.ShiftGCNDefaultConfig(), seed=3, stride=24), asked=["seed", "stride"])
    assert recorded_bundle.seen[0].seed == 3


def test_script_rescore_reads_the_recorded_settings_and_refuses_other_flags(recorded_bundle, capsys):
    script = _script()
    with pytest.raises(_Stop):
        script.main(["--rescore", "b.pt", "--threads", "1", "--feature-dir", "/cache"])
    cfg = recorded_bundle.seen[0]
    assert (cfg.seed, cfg.stride, cfg.feature_dir, cfg.threads) == (3, 24, "/cache", 1)
    # --seed 0 is the parser's default, but given it disagrees with the bundle's seed 3
    assert script.main(["--rescore", "b.pt", "--seed", "0"]) == 2
    err = capsys.readouterr().err
    assert "seed 0 (recorded 3)" in err and "drop those options" in err
    assert script.main(["--recalibrate", "b.pt", "--cycles", "10"]) == 2
    assert "zsl.cycles 10 (recorded 2)" in capsys.readouterr().err
    with pytest.raises(_Stop):  # flags that agree with the record are fine
        script.main(["--recalibrate", "b.pt", "--stride", "24", "--seed", "3", "--cycles", "2"])


def test_recorded_config_rebuilds_the_nested_configs():
    recorded = json.loads(json.dumps(asdict(RECORDED)))
    assert rec.recorded_config(recorded) == RECORDED
    # settings added after a bundle was built keep their defaults; unknown ones are ignored
    del recorded["augment_copies"], recorded["zsl"]["relu_logits"]
    recorded["retired_setting"] = 1
    got = rec.recorded_config(recorded)
    assert got.augment_copies == 1 and got.zsl.relu_logits is True and got.zsl.cycles == 2
    with pytest.raises(ConfigError, match="zsl"):
        rec.recorded_config({**recorded, "zsl": [1, 2]})


# --------------------------------------------------------------------------------------------- 3. the window stride


@pytest.mark.parametrize("stride", [-5, 0])
def test_a_stride_below_one_is_refused(stride, monkeypatch, tmp_path):
    """Review: --stride -5 was accepted (it cut only the last window) and recorded as -5."""
    from sadvae.features import ShiftGCNExtractor

    with pytest.raises(ConfigError, match="stride must be an integer >= 1"):
        rec._check_config(replace(rec.ShiftGCNDefaultConfig(), stride=stride))
    monkeypatch.setattr(rec, "load_window_data", _never)
    with pytest.raises(ConfigError, match="stride"):
        rec.train_default_shiftgcn(replace(rec.ShiftGCNDefaultConfig(), stride=stride, out=str(tmp_path / "m.pt")))
    with pytest.raises(ConfigError, match="stride must be an integer >= 1"):
        ShiftGCNExtractor(tmp_path / "missing.pt", window=64, stride=stride)
    for ok in (None, 1, 24):
        rec._check_config(replace(rec.ShiftGCNDefaultConfig(), stride=ok))


def test_script_refuses_a_negative_stride(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(rec, "load_window_data", _never)  # the recipe itself checks its config first
    assert _script().main(["--stride", "-5", "--out", str(tmp_path / "m.pt")]) == 2
    assert "stride must be an integer >= 1" in capsys.readouterr().err
    assert not (tmp_path / "m.pt").exists()
    assert _script().main(["--stride", "-5"]) == 2  # without --out: named as a bad stride, not only as non-default
    assert "stride must be an integer >= 1" in capsys.readouterr().err


def test_a_bundle_recording_a_bad_stride_is_refused(recorded_bundle):
    recorded_bundle.bundle.provenance["config"]["stride"] = -5
    with pytest.raises(ConfigError, match="stride"):
        rec.rescore_bundle("b.pt")


# --------------------------------------------------------------------------------------- 4. the thread count recorded


def test_provenance_records_the_thread_count_used(tmp_path):
    """Review: provenance said threads 0 ("torch default"), not the count the weights' bits depend on."""
    import torch

    weights = tmp_path / "w.pt"
    weights.write_bytes(b"not a checkpoint")
    data = rec.WindowData(
        *(np.zeros((2, 4), np.float32), np.zeros((2, 120), np.float32)),
        *(np.zeros(2, int) for _ in range(3)),
        *(np.zeros(2, bool) for _ in range(2)),
        ("utkinect",),
        {"utkinect": "/x"},
        {"utkinect": "0"},
        {"utkinect": 2},
    )
    cfg = replace(rec.ShiftGCNDefaultConfig(), threads=0, out=str(tmp_path / "m.pt"))
    p = rec._provenance(cfg, data, class_table(), [weights], "test")
    assert isinstance(p["threads"], int) and p["threads"] == torch.get_num_threads() >= 1
    assert p["config"]["threads"] == 0  # the request stays in the config


def test_the_fitted_example_constants_reach_the_metrics_file_beside_the_bundle(tmp_path):
    """The metrics file kept the built-in example constants after the recipe's last step (6 December 2026), so it
    disagreed with the head file the live head reads; the pooled section drops them, as in the head file."""
    fit = exec_by_path("fit_example_curve_script", ROOT / "scripts" / "fit_example_curve.py")
    bundle = tmp_path / "m.pt"
    builtin = {"example_a": 20.0, "example_b": -16.0, "example_temperature": 0.1, "stack_gamma": 1.0}
    doc = {"metrics": {"calibration": {"calibration": dict(builtin), "handedness_pool": {"calibration": builtin}}}}
    (tmp_path / "m.metrics.json").write_text(json.dumps(doc))
    fitted = {"example_a": 6.7, "example_b": -4.1, "example_temperature": 0.095}
    head = {**builtin, **fitted, "fit_example_curve": {"seed": 0}}
    fit._record_in_metrics(bundle, head)
    section = json.loads((tmp_path / "m.metrics.json").read_text())["metrics"]["calibration"]
    assert section["calibration"] == {**head, "stack_gamma": 1.0}
    assert section["handedness_pool"]["calibration"] == {"stack_gamma": 1.0}
    (tmp_path / "m.metrics.json").unlink()
    fit._record_in_metrics(bundle, head)  # no metrics file (a bundle not written by the recipe): nothing to mirror
    assert not (tmp_path / "m.metrics.json").exists()
    (tmp_path / "m.metrics.json").write_text("{broken")  # one line, not a traceback after the 7-minute fit
    fit._record_in_metrics(bundle, head)
    assert (tmp_path / "m.metrics.json").read_text() == "{broken"
