from __future__ import annotations

import numpy as np
import pytest

from sadvae.cli import main
from sadvae.data.record import Dataset, SkeletonSequence
from sadvae.data.registry import load_prepared, save_prepared
from sadvae.errors import ConfigError, DataFormatError


def _dataset() -> Dataset:
    rng = np.random.default_rng(0)
    seqs = [
        SkeletonSequence(rng.normal(size=(7, 1, 25, 3)).astype(np.float32), 15.0, "a.txt", 0, "wave", 1, None),
        SkeletonSequence(
            rng.normal(size=(4, 2, 25, 3)).astype(np.float32),
            30.0,
            "b.txt",
            1,
            "clap",
            2,
            3,
            timestamps=np.array([0.0, 0.1, 0.15, 0.4]),
            defects=("dropped 2 zero frames",),
        ),
    ]
    return Dataset("toy", ("wave", "clap"), seqs, [("c.txt", "all zeros")], "cross-subject")


def test_prepared_cache_round_trip(tmp_path):
    ds = _dataset()
    out = save_prepared(ds, tmp_path / "toy.npz")
    back = load_prepared(out)
    assert back.name == "toy" and back.class_names == ("wave", "clap") and back.rejected == [("c.txt", "all zeros")]
    a, b = back.sequences
    np.testing.assert_array_equal(a.joints[:, :1], ds.sequences[0].joints)
    assert a.joints.shape[1] == 2 and np.all(a.joints[:, 1] == 0)
    assert a.timestamps is None and a.label_name == "wave" and a.view is None
    np.testing.assert_allclose(b.timestamps, [0.0, 0.1, 0.15, 0.4])
    assert b.defects == ("dropped 2 zero frames",) and b.view == 3 and b.fps == 30.0
    assert not list(tmp_path.glob("*.tmp*")), "no temporary file left behind"


def test_prepared_cache_errors(tmp_path):
    with pytest.raises(ConfigError, match="prepared dataset not found"):
        load_prepared(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataFormatError, match="bad.npz: not a readable .npz"):
        load_prepared(bad)
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(DataFormatError, match="missing; not a `sadvae data prepare` cache"):
        load_prepared(tmp_path / "other.npz")


def test_inspect_prepared_cache(tmp_path, capsys):
    save_prepared(_dataset(), tmp_path / "toy.npz")
    assert main(["data", "inspect", str(tmp_path / "toy.npz"), "--per-class"]) == 0
    out = capsys.readouterr().out
    assert "sequences" in out and "rejected" in out and "c.txt: all zeros" in out and "clap" in out


def test_cli_one_line_error(tmp_path, capsys):
    assert main(["data", "inspect", str(tmp_path / "nothing-here")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such file or folder" in err[0]
