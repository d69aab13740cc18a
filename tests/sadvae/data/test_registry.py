from __future__ import annotations

import warnings

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


def _many(n: int) -> Dataset:
    j = np.ones((3, 1, 25, 3), np.float32)
    seqs = [SkeletonSequence(j * (k + 1) / n, 30.0, f"{k}.npz", k % 2, subject=1, split="train") for k in range(n)]
    return Dataset("toy", ("wave", "clap"), seqs, [], "clip_split")


def test_prepared_cache_reads_each_array_once(tmp_path, monkeypatch):
    """Review of 6 December 2026: every sequence decompressed the fps, label, ... arrays again (8000 clips: 16.6 s)."""
    reads = []
    real = np.lib.npyio.NpzFile.__getitem__

    def counting(self, key):
        reads.append(key)
        return real(self, key)

    monkeypatch.setattr(np.lib.npyio.NpzFile, "__getitem__", counting)
    counts = []
    for n in (2, 60):
        reads.clear()
        assert len(load_prepared(save_prepared(_many(n), tmp_path / f"{n}.npz")).sequences) == n
        counts.append(len(reads))
    assert counts[0] == counts[1] <= 20, counts  # one read per array, however many sequences


def test_prepared_cache_keeps_each_clips_split(tmp_path):
    """Review of 6 December 2026: the cache dropped `split` but kept protocol "clip_split", so every clip of a
    prepared clip folder landed on the test side."""
    from sadvae.data.splits import test_side_mask

    seqs = _many(4).sequences
    seqs[1] = SkeletonSequence(seqs[1].joints, 30.0, "1.npz", 1, subject=1, split="test")
    ds = Dataset("mine", ("wave", "clap"), seqs, [], "clip_split")
    back = load_prepared(save_prepared(ds, tmp_path / "mine.npz"))
    assert [s.split for s in back.sequences] == ["train", "test", "train", "train"]
    assert test_side_mask(back, "mine").tolist() == [False, True, False, False]
    assert [s.split for s in load_prepared(save_prepared(_dataset(), tmp_path / "toy.npz")).sequences] == [None, None]


def test_prepared_cache_of_format_1(tmp_path):
    """A format-1 cache (no `split`) is still read, unless its protocol needed the splits it lost."""
    path = tmp_path / "old.npz"
    save_prepared(_dataset(), path)
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if k != "split"}
    np.savez(path, **{**arrays, "format": np.array(1)})
    back = load_prepared(path)
    assert len(back.sequences) == 2 and back.sequences[1].defects == ("dropped 2 zero frames",)
    save_prepared(_many(3), path)
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if k != "split"}
    np.savez(path, **{**arrays, "format": np.array(1)})
    with pytest.raises(DataFormatError, match=r"old.npz:format: cache format 1 .*re-run `sadvae data prepare`"):
        load_prepared(path)


def test_inspect_of_a_clip_without_label_names_the_clip_field(tmp_path, capsys):
    """Review of 6 December 2026: a clip .npz without `label` gave the CTR-GCN reader's "key 'x_test'" error."""
    path = tmp_path / "one_clip.npz"
    np.savez(path, joints=np.ones((4, 25, 3), np.float32), fps=30.0)
    assert main(["data", "inspect", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{path}:label: missing; save label=" in err[0] and "x_test" not in err[0]


def test_prepared_cache_of_another_registered_dataset_is_refused(tmp_path):
    """Review of the CLI: `train zsl --dataset utkinect --root msr.npz` trained on MSR's clips and recorded utkinect."""
    from sadvae.data.registry import load_dataset

    ds = _dataset()
    path = save_prepared(Dataset("msr_action3d", ds.class_names, ds.sequences, [], "cross-subject"), tmp_path / "m.npz")
    with pytest.raises(ConfigError) as info:
        load_dataset("utkinect", path)
    assert str(info.value) == (
        f"--root {path}: a prepared cache of msr_action3d (2 classes), not of utkinect; pass --dataset msr_action3d, "
        "or --root the utkinect data (`sadvae data prepare --dataset utkinect`)"
    )
    assert load_dataset("msr_action3d", path).name == "msr_action3d"
    # a cache prepared from a clip folder records the folder's name: read under a registered name as before
    assert load_dataset("utkinect", save_prepared(ds, tmp_path / "toy.npz")).name == "toy"


def _rewrite(path, **changes):
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    np.savez(path, **{**arrays, **changes})


def test_prepared_cache_with_inconsistent_arrays_is_one_error_naming_the_field(tmp_path):
    """Review of the CLI: a truncated `offsets` dropped clips silently, and a label outside the class list ended
    as "the train partition is empty"."""
    path = tmp_path / "toy.npz"
    fix = "re-run `sadvae data prepare`"
    cases = [
        ({"offsets": np.array([0, 7])}, "joints: 11 frames, but offsets ends at frame 7"),
        ({"offsets": np.array([0, 4, 11])}, None),  # consistent, other clip lengths: read
        ({"offsets": np.array([0, 7, 11]), "label": np.array([0])}, "label: 1 entries for the 2 clips"),
        ({"fps": np.array([15.0, 30.0, 30.0])}, "fps: 3 entries for the 2 clips"),
        ({"offsets": np.array([0, 12, 11])}, "offsets: decrease at clip 1"),
        ({"label": np.array([0, 5])}, "label: clip 1 (b.txt) has label 5, not a class id in [0, 2)"),
        ({"label": np.array([-3, 1])}, "label: clip 0 (a.txt) has label -3"),
        ({"fps": np.array([0.0, 30.0])}, "fps: clip 0 (a.txt) has 0"),  # numpy's warnings first, until 7 December
        ({"joints": np.full((11, 1, 25, 3), 900.0, np.float32)}, " a coordinate of 900 is beyond 50 m: the readers"),
    ]
    for changes, expected in cases:
        save_prepared(_dataset(), path)
        _rewrite(path, **changes)
        if expected is None:
            assert len(load_prepared(path).sequences) == 2
            continue
        with pytest.raises(DataFormatError) as info, warnings.catch_warnings():
            warnings.simplefilter("error")  # one error, no warning before it
            load_prepared(path)
        msg = str(info.value)
        assert msg.startswith(f"{path}:{expected}") and msg.endswith(fix), msg
    save_prepared(_dataset(), path)
    _rewrite(path, label=np.array([-1, 1]))  # -1: a clip without a label
    assert load_prepared(path).sequences[0].label is None


def test_a_moved_clip_folder_is_named_as_one(tmp_path):
    """Audit of 7 December 2026: `sadvae eval` of a bundle whose clip folder was moved said "unknown dataset
    '/path'; choose one of [the built-in names]"; it is a folder not found, and --root is the fix."""
    from sadvae.data.registry import load_dataset
    from sadvae.errors import ConfigError

    gone = tmp_path / "my_actions"
    with pytest.raises(ConfigError, match=rf"clip folder {gone} not found .*pass --root"):
        load_dataset(str(gone), gone)


def test_a_recipe_dataset_entry_names_what_is_wrong(tmp_path):
    """Review of 7 December 2026: a mistyped name became an absolute path in the message, and a moved folder was an
    "unknown dataset"."""
    from sadvae.data.registry import dataset_key, dataset_source

    assert dataset_key("utkinet") == "utkinet" and dataset_key(str(tmp_path)) == str(tmp_path.resolve())
    with pytest.raises(ConfigError, match=r"unknown dataset 'utkinet' \(did you mean 'utkinect'\?\)"):
        dataset_source("utkinet", tmp_path)
    with pytest.raises(ConfigError, match=rf"clip folder {tmp_path}/gone not found \(moved or removed\?\)"):
        dataset_source(str(tmp_path / "gone"), tmp_path)
    with pytest.raises(ConfigError, match="a folder, but no classes.txt"):
        dataset_source(str(tmp_path), tmp_path)
    (tmp_path / "clip.npz").write_bytes(b"")  # final read-through: a file was "not found (moved or removed?)"
    with pytest.raises(ConfigError, match=r"clip.npz' \(a file: pass the clip folder"):
        dataset_source(str(tmp_path / "clip.npz"), tmp_path)


def test_a_clip_folder_bundle_given_another_root_names_that_root(tmp_path):
    """`sadvae eval BUNDLE --root /nope` for a bundle of a clip folder blamed the recorded folder, which was there,
    and never named /nope (the training audit, 7 December 2026)."""
    from sadvae.data.registry import load_dataset

    recorded = tmp_path / "clips" / "mine"
    recorded.mkdir(parents=True)
    with pytest.raises(ConfigError) as info:
        load_dataset(str(recorded), tmp_path / "nope")
    assert str(info.value) == (
        f"--root {tmp_path / 'nope'}: not a clip folder (no classes.txt and clips/ there); the data is the clip "
        f"folder {recorded}: pass --root with that folder (where it is now)"
    )
    gone = tmp_path / "gone"
    with pytest.raises(ConfigError, match=rf"clip folder {gone} not found \(moved or removed\?\); pass --root with"):
        load_dataset(str(gone), gone)  # the recorded folder itself, no longer there
    with pytest.raises(ConfigError, match=rf"clip folder {recorded}: no longer a clip folder \(no classes.txt"):
        load_dataset(str(recorded), recorded)  # there, but damaged: no --root was passed to blame (diff review)
