"""The clip folder format (docs/data_format.md): import from a real set, round trip, explicit splits, bad files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sadvae.data.registry import load_dataset, read_path
from sadvae.data.splits import load_split_json, named_split
from sadvae.data.user_format import (
    CLIP_SPLIT_PROTOCOL,
    is_clip_dataset,
    read_classes,
    read_clip_dataset,
    write_clip,
)
from sadvae.errors import ConfigError, DataFormatError

UTK = "skeleton_sets/utkinect_action3d"


@pytest.fixture(scope="module")
def utk(shared_data):
    return load_dataset("utkinect", shared_data / UTK)


@pytest.fixture(scope="module")
def utk_clips(shared_data, tmp_path_factory) -> Path:
    """UTKinect converted with `sadvae data import` (the real CLI), once per module."""
    from sadvae.cli import main

    out = tmp_path_factory.mktemp("clips") / "utk"
    assert main(["data", "import", "utkinect", "--root", str(shared_data / UTK), "--out", str(out)]) == 0
    return out


def test_import_round_trips_joints_labels_subjects_and_timing(utk, utk_clips):
    back = read_path(utk_clips)  # `sadvae data inspect` reads the folder too
    assert back.name == "utkinect" and back.protocol == CLIP_SPLIT_PROTOCOL
    assert back.class_names == utk.class_names
    assert len(back.sequences) == len(utk.sequences) > 150
    for a, b in zip(utk.sequences, back.sequences, strict=True):
        assert np.array_equal(a.joints, b.joints)
        assert utk.class_names[a.label] == back.class_names[b.label]
        assert (a.subject, a.view, a.fps) == (b.subject, b.view, b.fps)
        assert a.timestamps is not None and np.allclose(a.timestamps, b.timestamps)  # UTKinect's irregular frames
        # the standard cross-subject protocol: odd subjects train
        assert b.split == ("train" if a.subject % 2 == 1 else "test")


def test_clip_split_decides_the_train_and_test_sides(utk_clips):
    from sadvae.train.protocol import split_partition, test_side_mask

    ds = load_dataset(str(utk_clips), utk_clips)
    test = test_side_mask(ds, str(utk_clips))
    assert np.array_equal(test, np.array([s.split == "test" for s in ds.sequences]))
    split = named_split(ds.class_names, ["throw", "clap hands"])
    part = split_partition(ds, str(utk_clips), split, 0.2, seed=0)
    assert all(ds.sequences[i].split == "test" for i in np.concatenate([part.test_seen, part.test_unseen]))
    assert all(ds.sequences[i].split == "train" for i in np.concatenate([part.train, part.val_unseen]))


def test_explicit_split_names_the_unseen_classes(utk):
    names = utk.class_names
    s = named_split(names, ["Throw", "clap  hands"], seed=3)
    assert [names[c] for c in s.unseen] == ["throw", "clap hands"]
    assert set(s.seen) == set(range(len(names))) - set(s.unseen)
    assert len(s.val_unseen) == 2 and set(s.val_unseen) <= set(s.seen)
    assert named_split(names, ["throw", "clap hands"], seed=3) == s  # reproducible
    with pytest.raises(ConfigError, match=r"\['jump'\] are not classes of this dataset; its classes: 'walk'"):
        named_split(names, ["throw", "jump"])
    with pytest.raises(ConfigError, match="twice"):
        named_split(names, ["throw", "throw"])


def test_split_file_schema(utk, tmp_path):
    names = utk.class_names
    f = tmp_path / "split.json"
    f.write_text(json.dumps({"unseen": ["push", "pull"], "val_unseen": ["walk", "carry"], "name": "paper-1"}))
    s = load_split_json(f, names, seed=5)
    assert s.name == "paper-1"
    assert [names[c] for c in s.unseen] == ["push", "pull"]
    assert [names[c] for c in s.val_unseen] == ["walk", "carry"]
    assert load_split_json(f, names, seed=9) == s  # a fully given split does not depend on the seed
    for bad, match in (
        ("[1, 2]", "expected a JSON object"),
        ('{"unseen": "push"}', "unseen: expected a list of class-name strings"),
        ('{"seen": ["walk"]}', "unseen: missing"),
        ('{"unseen": ["push"], "unssen": []}', "unssen: unknown keys"),
        ("{unseen", "not valid JSON"),
    ):
        f.write_text(bad)
        with pytest.raises(DataFormatError, match=match):
            load_split_json(f, names)
    f.write_text('{"unseen": ["push"], "val_unseen": ["push"]}')
    with pytest.raises(ConfigError, match="validation-unseen classes must be seen"):
        load_split_json(f, names)
    f.write_text('{"unseen": ["fly"]}')
    with pytest.raises(ConfigError, match=r"split.json: unseen classes \['fly'\] are not classes"):
        load_split_json(f, names)


def test_dataset_flag_takes_a_clip_folder_and_explains_what_it_does_not_take(utk_clips, tmp_path, capsys):
    from sadvae.cli import main
    from sadvae.cli.train import resolve_dataset

    ds, root, key = resolve_dataset(str(utk_clips))
    assert key == str(utk_clips.resolve()) and len(ds.sequences) > 150
    base = ["train", "zsl", "--out", str(tmp_path / "x.pt")]
    assert main([*base, "--dataset", "no_such_set"]) == 2
    assert "unknown dataset 'no_such_set': choose one of" in capsys.readouterr().err
    assert main([*base, "--dataset", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not a clip folder" in err and "sadvae data import" in err
    assert main([*base, "--dataset", str(utk_clips), "--unseen-classes", "throw,fly"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "['fly'] are not classes of this dataset" in err


# ---------------------------------------------------------------- the malformed-file matrix


def _good_folder(tmp_path: Path, utk) -> Path:
    root = tmp_path / "set"
    (root / "clips").mkdir(parents=True)
    (root / "classes.txt").write_text("walk | a person walks\n# comment\n\nthrow\n", encoding="utf-8")
    seqs = [s for s in utk.sequences if utk.class_names[s.label] in ("walk", "throw")][:4]
    for i, s in enumerate(seqs):
        write_clip(root / "clips" / f"{i}.npz", s.joints, utk.class_names[s.label], 30.0, subject=s.subject)
    return root


def _clip(utk) -> dict:
    j = utk.sequences[0].joints
    return {"joints": j, "label": np.array("walk"), "fps": np.array(30.0), "subject": np.array(1)}


BAD_CLIPS = {
    "missing joints": (lambda c: c.pop("joints"), "joints", "missing; save joints="),
    "2-d coordinates": (lambda c: c.update(joints=c["joints"][..., :2]), "joints", r"expected shape \[T, M, 25, 3\]"),
    "15 joints": (lambda c: c.update(joints=c["joints"][:, :, :15]), "joints", "NTU-25 joint order"),
    "NaN": (lambda c: c["joints"].__setitem__((3, 0, 7, 1), np.nan), "joints", "NaN/inf values .first at frame 3"),
    "empty clip": (lambda c: c.update(joints=c["joints"][:0]), "joints", "empty clip"),
    "millimetres": (lambda c: c.update(joints=c["joints"] * 1000), "joints", "not metres"),
    "all zeros": (lambda c: c.update(joints=np.zeros_like(c["joints"])), "joints", "no person in any frame"),
    "string joints": (lambda c: c.update(joints=np.array(["a"])), "joints", "expected a float array"),
    "missing label": (lambda c: c.pop("label"), "label", "missing; save label="),
    "unknown label": (lambda c: c.update(label=np.array("jump")), "label", "'jump' is not in classes.txt"),
    "numeric label": (lambda c: c.update(label=np.array(3)), "label", "expected one string"),
    "missing fps": (lambda c: c.pop("fps"), "fps", "missing; save fps=30.0"),
    "zero fps": (lambda c: c.update(fps=np.array(0.0)), "fps", "one positive number"),
    "bad timestamps": (
        lambda c: c.update(timestamps=np.zeros(len(c["joints"]))),
        "timestamps",
        "strictly increasing",
    ),
    "short timestamps": (lambda c: c.update(timestamps=np.arange(3.0)), "timestamps", "one per frame"),
    "negative subject": (lambda c: c.update(subject=np.array(-2)), "subject", "integer >= 0"),
    "string subject": (lambda c: c.update(subject=np.array("bob")), "subject", "expected one integer"),
    "bad split": (lambda c: c.update(split=np.array("val")), "split", "expected 'train' or 'test'"),
    "pickled object": (
        lambda c: c.update(label=np.array([{"a": 1}], dtype=object)),
        None,
        "pickled. array",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CLIPS))
def test_each_malformed_clip_gives_one_clear_error(case, utk, tmp_path, capsys):
    from sadvae.cli import main

    root = _good_folder(tmp_path, utk)
    edit, field, message = BAD_CLIPS[case]
    clip = {k: np.array(v, copy=True) for k, v in _clip(utk).items()}
    edit(clip)
    bad = root / "clips" / "bad.npz"
    np.savez(bad, **clip)
    with pytest.raises(DataFormatError, match=message) as e:
        read_clip_dataset(root)
    assert e.value.path == str(bad) and e.value.where == field
    assert main(["data", "inspect", str(root)]) == 2  # the CLI: one line, no traceback
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"sadvae: error: {bad}")


BAD_FOLDERS = {
    "not an npz": (lambda r: (r / "clips" / "x.npz").write_text("joints,label\n"), "x.npz", "not a readable .npz"),
    "truncated npz": (
        lambda r: (r / "clips" / "x.npz").write_bytes((r / "clips" / "0.npz").read_bytes()[:300]),
        "x.npz",
        "corrupt or unreadable",
    ),
    "duplicate class": (
        lambda r: (r / "classes.txt").write_text("walk\nthrow\nWalk | again\n"),
        "classes.txt",
        "line 3: duplicate class 'Walk' .also on line 1",
    ),
    # the labels file's rule (punctuation too): classes.txt stays a valid --labels file (review of 7 December 2026)
    "duplicate class by punctuation": (
        lambda r: (r / "classes.txt").write_text("walk\nthrow\nWALK!\n"),
        "classes.txt",
        "line 3: duplicate class 'WALK!' .also on line 1",
    ),
    "empty class name": (lambda r: (r / "classes.txt").write_text("walk\n| x\nthrow\n"), "classes.txt", "line 2"),
    "no classes": (lambda r: (r / "classes.txt").write_text("# nothing\n"), "classes.txt", "lists no classes"),
    "not utf-8": (lambda r: (r / "classes.txt").write_bytes(b"walk\nthr\xffow\n"), "classes.txt", "not valid UTF-8"),
    "class without clips": (
        lambda r: (r / "classes.txt").write_text("walk\nthrow\nclap hands\n"),
        "classes.txt",
        "classes without any clip: clap hands",
    ),
    "no clips": (lambda r: shutil.rmtree(r / "clips"), "set", "no clip .npz files"),
    "bad dataset.json": (lambda r: (r / "dataset.json").write_text("{name"), "dataset.json", "not valid JSON"),
    "split on some clips only": (
        lambda r: write_clip(r / "clips" / "9.npz", np.load(r / "clips" / "0.npz")["joints"], "walk", 30, split="test"),
        "0.npz",
        "missing while other clips have it",
    ),
    "no subject, no split": (
        lambda r: write_clip(r / "clips" / "9.npz", np.load(r / "clips" / "0.npz")["joints"], "walk", 30),
        "9.npz",
        "every clip needs subject",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FOLDERS))
def test_each_malformed_folder_gives_one_clear_error(case, utk, tmp_path):
    root = _good_folder(tmp_path, utk)
    edit, name, message = BAD_FOLDERS[case]
    edit(root)
    with pytest.raises(DataFormatError, match=message) as e:
        read_clip_dataset(root)
    assert Path(e.value.path).name == name


def test_classes_file_descriptions_and_detection(utk, tmp_path, shared_data):
    root = _good_folder(tmp_path, utk)
    c = read_classes(root / "classes.txt")
    assert c.names == ("walk", "throw") and c.descriptions == ("a person walks", None)
    assert is_clip_dataset(root)
    assert not is_clip_dataset(shared_data / UTK)  # ships a classes.txt of its own, but no clips
    ds = read_clip_dataset(root)
    assert ds.protocol == "cross_subject_odd" and all(s.split is None for s in ds.sequences)


def test_a_clip_folder_without_its_class_list_says_so(utk, tmp_path):
    """Data-reader audit of 7 December 2026, late: it read "no known dataset layout here"."""
    from sadvae.data.registry import read_path
    from sadvae.errors import ConfigError

    root = _good_folder(tmp_path, utk)
    (root / "classes.txt").unlink()
    with pytest.raises(ConfigError, match=r"classes.txt: missing; a clip folder lists its classes there, one per"):
        read_path(root)


def test_one_person_joints_and_timestamps_only(utk, tmp_path):
    root = _good_folder(tmp_path, utk)
    s = utk.sequences[0]
    np.savez(root / "clips" / "t.npz", joints=s.joints[:, 0], label="walk", timestamps=s.timestamps + 7.0, subject=2)
    seq = next(q for q in read_clip_dataset(root).sequences if q.source.endswith("t.npz"))
    assert seq.joints.shape == s.joints.shape and np.allclose(seq.timestamps, s.timestamps)
    assert abs(seq.fps - 1 / np.median(np.diff(s.timestamps))) < 1e-6


# ---------------------------------------------------------------- end to end on the converted real set


@pytest.mark.slow
def test_clip_folder_trains_evaluates_and_benchmarks_with_an_explicit_split(utk_clips, tmp_path, monkeypatch, capsys):
    from sadvae.bundle import load_bundle
    from sadvae.cli import main

    monkeypatch.setenv("SADVAE_CACHE_DIR", str(tmp_path / "cache"))
    tiny = ["--epochs", "1", "--repeats", "1", "--cycles", "2", "--iters-per-cycle", "20", "--threads", "1"]
    bundle = tmp_path / "utk.pt"
    argv = ["train", "zsl", "--dataset", str(utk_clips), "--unseen-classes", "throw, Clap Hands", "--out", str(bundle)]
    assert main([*argv, *tiny]) == 0
    out = json.loads(capsys.readouterr().out)
    assert 0 <= out["ZSL"] <= 1 and set(out) >= {"S", "U", "H"}
    b = load_bundle(bundle)
    assert [b.class_names[c] for c in b.unseen_classes] == ["throw", "clap hands"]
    assert b.provenance["dataset"] == str(utk_clips.resolve())
    assert main(["eval", str(bundle)]) == 0  # finds the clip folder again from the bundle
    ev = json.loads(capsys.readouterr().out)
    n_test = sum(1 for s in read_clip_dataset(utk_clips).sequences if s.split == "test")
    assert ev["test_samples"] == n_test and ev["ZSL"] == out["ZSL"]

    split = tmp_path / "split.json"
    split.write_text(json.dumps({"unseen": ["push", "pull"], "val_unseen": ["walk", "carry"], "name": "fixed"}))
    report_dir = tmp_path / "bench"
    argv = ["benchmark", "--dataset", str(utk_clips), "--split-file", str(split), "--splits", "1", "--variants", "tc"]
    assert main([*argv, *tiny, "--out", str(report_dir)]) == 0
    report = json.loads((report_dir / "report.json").read_text())
    (s0,) = report["splits"]
    assert s0["unseen_names"] == ["push", "pull"] and s0["split"]["name"] == "fixed"
    assert report["config"]["num_unseen"] == 2 and "tc" in report["table"]["honest"]
    capsys.readouterr()
    # the same report folder with another split is refused, not silently mixed
    argv = ["benchmark", "--dataset", str(utk_clips), "--unseen-classes", "walk,carry", "--splits", "1"]
    assert main([*argv, "--variants", "tc", *tiny, "--out", str(report_dir)]) == 2
    assert "holds results of another class split" in capsys.readouterr().err


def test_eval_scores_the_test_side_as_training_did_when_a_test_clip_repeats_a_training_clip(
    utk_clips, tmp_path, monkeypatch, capsys
):
    """A seen class's test clip that repeats a training clip is not scored (NW-UCLA's release has 95; 7 December
    2026): `train zsl` leaves it out through the protocol, and `sadvae eval` must too, or the two disagree."""
    from sadvae.cli import main

    monkeypatch.setenv("SADVAE_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "utk"
    shutil.copytree(utk_clips, folder)
    ds = read_clip_dataset(folder)
    walk = next(s for s in ds.sequences if s.split == "train" and s.label_name == "walk")
    write_clip(folder / "copy_of_a_training_walk.npz", walk.joints, "walk", walk.fps, split="test")
    tiny = ["--epochs", "1", "--repeats", "1", "--cycles", "2", "--iters-per-cycle", "20", "--threads", "1"]
    bundle = tmp_path / "utk.pt"
    argv = ["train", "zsl", "--dataset", str(folder), "--unseen-classes", "throw, clap hands", "--out", str(bundle)]
    assert main([*argv, *tiny]) == 0
    out = json.loads(capsys.readouterr().out)
    assert main(["eval", str(bundle)]) == 0
    ev = json.loads(capsys.readouterr().out)
    n_test = sum(1 for s in read_clip_dataset(folder).sequences if s.split == "test")
    assert ev["test_samples"] == n_test - 1  # the copy is not scored
    assert (ev["ZSL"], ev["S"], ev["U"]) == (out["ZSL"], out["S"], out["U"])


# ---------------------------------------------------------------- live recordings: sadvae-live --record-skeleton


def test_track_recorder_writes_one_column_per_track_and_import_cuts_one_clip_each(tmp_path, utk):
    from realtime.sources.replay import TrackRecorder, load_recording
    from sadvae.cli import main

    a, b = utk.sequences[0].joints[:, 0], utk.sequences[1].joints[:, 0]
    n = min(len(a), len(b))
    rec = TrackRecorder(tmp_path / "rec.npz")
    rec.add(0.0, [])  # nobody yet: not kept
    for k in range(n):
        rec.add(0.1 + k / 30, [(7, a[k])] + ([(9, b[k])] if k >= 5 else []))
    assert rec.close() == tmp_path / "rec.npz" and rec.written is not None
    joints, times = load_recording(tmp_path / "rec.npz")  # what `sadvae-live --replay` plays
    assert joints.shape == (n, 2, 25, 3) and times[0] == 0 and np.allclose(np.diff(times), 1 / 30)
    out = tmp_path / "clips"
    argv = ["data", "import", str(tmp_path / "rec.npz"), "--label", "walk", "--subject", "3", "--out", str(out)]
    assert main(argv) == 0
    ds = read_clip_dataset(out)
    assert ds.class_names == ("walk",) and [s.subject for s in ds.sequences] == [3, 3]
    assert np.array_equal(ds.sequences[0].joints[:, 0], a[:n]) and np.array_equal(ds.sequences[1].joints[:, 0], b[5:n])
    assert abs(ds.sequences[0].fps - 30) < 1e-6


def test_tracks_that_follow_each_other_share_a_column_and_import_as_clips_of_their_own(tmp_path):
    """Review of 7 December 2026: every track had a column of its own, so a long camera run needed frames x tracks
    ever seen of memory to write (20 minutes with a passer-by every 10 s: 1.3 GB of joints) and the file was refused on
    replay. A track that appears GAP_S after a column's last one left takes it over; ``tracks`` names who is where."""
    from realtime.sources.replay import GAP_S, TrackRecorder, load_recording
    from sadvae.data.user_format import read_recording

    rng = np.random.default_rng(0)
    people = {tid: rng.normal(0, 0.3, (25, 3)).astype(np.float32) + [0, 0, 3] for tid in range(1, 41)}
    rec = TrackRecorder(tmp_path / "rec.npz")
    t, fps = 0.0, 30.0
    for tid in range(1, 41):  # 40 passers-by one after another, 1 s each, GAP_S + 0.5 s apart; id 99 stays throughout
        for k in range(30):
            rec.add(t, [(99, people[1] * 0.5), (tid, people[tid] + k * 0.01)])
            t += 1 / fps
        for _ in range(round((GAP_S + 0.5) * fps)):
            rec.add(t, [(99, people[1] * 0.5)])
            t += 1 / fps
    rec.close()
    joints, times = load_recording(tmp_path / "rec.npz")  # replays as before
    assert joints.shape[1] == 2, "the passers-by share one column beside the person who stays"
    ds = read_recording(tmp_path / "rec.npz")
    assert len(ds.sequences) == 41 and ds.rejected == []
    by_src = {s.source.rsplit("#", 1)[1]: s for s in ds.sequences}
    stay = by_src["track0"]  # ids in order of appearance: 99 is track 0, the first passer-by track 1
    assert len(stay.joints) == len(times) and np.allclose(stay.joints[:, 0], people[1] * 0.5)
    for n in range(1, 41):
        clip = by_src[f"track{n}"].joints[:, 0]
        assert len(clip) == 30 and np.allclose(clip, people[n] + np.arange(30)[:, None, None] * 0.01, atol=1e-6)
    # a track that comes back sooner than GAP_S after another left gets a column of its own (a replay would merge them)
    rec = TrackRecorder(tmp_path / "soon.npz")
    for k in range(20):
        rec.add(k / fps, [(1 if k < 10 else 2, people[3])])
    rec.close()
    assert load_recording(tmp_path / "soon.npz")[0].shape[1] == 2
    assert len(read_recording(tmp_path / "soon.npz").sequences) == 2


def test_a_tracks_array_that_would_lose_frames_is_refused(tmp_path):
    """``tracks`` as written by hand: a track in two columns would be read from its first only, joints where the
    track is -1 would be dropped; each is one clear error instead."""
    from sadvae.data.user_format import read_recording

    joints = np.ones((4, 2, 25, 3), np.float32)
    times = np.arange(4) / 30
    for tracks, message in (
        (np.array([[0, 1], [0, 1], [1, 0], [1, 0]]), r"track 0 is in person columns \[0, 1\]; a track keeps one"),
        (np.array([[0, 1], [0, 1], [0, -1], [0, 1]]), r"1 frame\(s\) hold joints where the track is -1 .*frame 2, col"),
        (np.full((4, 3), 0), r"expected whole numbers >= -1 of shape \[4, 2\]"),
    ):
        np.savez(tmp_path / "r.npz", joints=joints, times=times, tracks=tracks)
        with pytest.raises(DataFormatError, match=message):
            read_recording(tmp_path / "r.npz")


def test_a_recording_without_times_or_in_milliseconds_is_named_as_a_recording(tmp_path):
    """Data-reader audit of 7 December 2026, late: without `times` a recording was read as a clip ("label:
    missing"); with times in milliseconds it read at 0.03 fps ("fps: ... save the camera's frame rate")."""
    from sadvae.data.registry import read_path

    joints = np.ones((4, 1, 25, 3), np.float32)
    cases = (
        (dict(joints=joints, tracks=np.zeros((4, 1), np.int32)), r"times: missing; a recording holds joints and times"),
        (dict(joints=joints), r"holds only `joints`: a recording .* also holds `times`, .*; a clip holds `label`"),
        (
            dict(joints=joints, times=np.arange(4) * 33.3),
            r"times: frames are 33.3 apart \(median\): not seconds; milli",
        ),
    )
    for arrays, message in cases:
        np.savez(tmp_path / "r.npz", **arrays)
        with pytest.raises(DataFormatError, match=message):
            read_path(tmp_path / "r.npz")


def test_track_recorder_takes_a_persons_earlier_frames_under_the_id_given_later(tmp_path):
    from realtime.sources.replay import TrackRecorder, load_recording

    rec = TrackRecorder(tmp_path / "rec.npz")
    first = [np.full((25, 3), k, np.float32) for k in range(4)]
    rec.add(0.0, [])  # the tracker has not confirmed the person yet
    rec.add(0.1, [(3, first[0])])  # another person, already tracked
    rec.add(0.2, [(3, first[1]), (5, first[3])])  # confirmed now as id 5
    rec.add_earlier(5, [(0.0, first[1]), (0.1, first[2]), (0.15, first[0])])  # 0.15 s: no such frame, dropped
    rec.add_earlier(5, [(0.2, first[0])])  # a frame that has the person already keeps what it has
    rec.close()
    joints, times = load_recording(tmp_path / "rec.npz")
    assert np.allclose(times, [0.0, 0.1, 0.2]) and joints.shape == (3, 2, 25, 3)
    assert (joints[:, 0, 0, 0] == [0, 0, 1]).all() and (joints[:, 1, 0, 0] == [1, 2, 3]).all()


def test_track_recorder_refuses_an_unwritable_place_before_the_run_and_keeps_a_late_failure(tmp_path, monkeypatch):
    """Review of 6 December 2026: the place was tried only when the run ended, so a whole session's recording was
    lost with a traceback."""
    from realtime.sources import replay
    from sadvae.errors import SourceError

    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(SourceError, match=r"file\.txt is a file, not a folder; pass a path that can be written"):
        replay.TrackRecorder(tmp_path / "file.txt" / "rec.npz")
    rec = replay.TrackRecorder(tmp_path / "rec.npz")
    rec.add(0.0, [(1, np.zeros((25, 3), np.float32))])
    rec.add(0.1, [(1, np.ones((25, 3), np.float32))])
    real = replay.save_recording

    def failing(path, joints, times, tracks=None):
        if path == tmp_path / "rec.npz":
            raise OSError(28, "No space left on device")
        return real(path, joints, times, tracks)

    monkeypatch.setattr(replay, "save_recording", failing)
    monkeypatch.setattr(replay.tempfile, "gettempdir", lambda: str(tmp_path))
    with pytest.raises(SourceError, match=r"cannot be written \(No space left on device\); the recording was saved"):
        rec.close()
    joints, _ = replay.load_recording(next(tmp_path.glob("sadvae-recording-*.npz")))
    assert joints.shape == (2, 1, 25, 3)


def test_record_skeleton_of_a_live_replay_run_imports(
    shared_data, model_files, cache_root, tmp_path, monkeypatch, capsys
):
    import socket

    from realtime.cli import main as live
    from sadvae.cli import main

    monkeypatch.setenv("SADVAE_CACHE_DIR", str(cache_root))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = shared_data / "ntu" / "S001C001P001R001A001.skeleton"
    labels = tmp_path / "labels.txt"
    labels.write_text("wave\nclap\n", encoding="utf-8")  # seen classes of the tiny bundle: no text encoder needed
    rec = tmp_path / "live.npz"
    argv = ["--replay", str(src), "--labels", str(labels), "--model", str(model_files[0]), "--no-display"]
    assert live([*argv, "--endpoint", f"tcp://127.0.0.1:{port}", "--record-skeleton", str(rec)]) == 0
    out = tmp_path / "mine"
    assert main(["data", "import", str(rec), "--label", "drink water", "--split", "train", "--out", str(out)]) == 0
    (clip,) = read_clip_dataset(out).sequences
    truth = read_path(src).sequences[0].joints[:, 0]
    # every frame, the tracker's unconfirmed first one too (until 7 December 2026 this allowed two frames lost: each
    # recording of a replay dropped the person's first frame)
    assert clip.split == "train" and len(clip.joints) == len(truth)
    assert np.array_equal(clip.joints[:, 0], truth)  # the tracked joints, unchanged
    capsys.readouterr()
    assert live([*argv, "--record-skeleton", str(tmp_path / "x.mp4")]) == 2  # refused before anything slow starts
    assert "the recording is an .npz file" in capsys.readouterr().err


# ---------------------------------------------------------------- review of 6 December 2026 (synthetic clips)


def _small_folder(root: Path) -> Path:
    rng = np.random.default_rng(0)
    (root / "clips").mkdir(parents=True)
    (root / "classes.txt").write_text("wave\nclap\n")
    for k, label in enumerate(("wave", "clap", "wave", "clap")):
        joints = (0.5 + 0.05 * rng.standard_normal((20, 1, 25, 3))).astype(np.float32)
        write_clip(root / "clips" / f"{k}.npz", joints, label, 30.0, split="train" if k < 2 else "test")
    return root


@pytest.mark.parametrize(
    ("fps", "timestamps", "message"),
    [
        (30.0, np.arange(20) * 33.3, r"fps, outside 1-1000 fps; timestamps look like milliseconds; divide by 1000"),
        (None, np.arange(20) * 33.3, r"timestamps look like milliseconds; divide by 1000"),
        (None, np.arange(20) * 33333.0, r"timestamps look like microseconds; divide by 1e6"),
        (None, np.arange(20) * 1e-5, r"gives 1e\+05 fps, outside 1-1000 fps; timestamps are seconds"),
        (10.0, np.arange(20) / 30.0, r"gives 30 fps, more than twice the fps of 10"),
    ],
)
def test_clip_timestamps_in_the_wrong_unit_are_refused(tmp_path, fps, timestamps, message):
    """Millisecond timestamps passed and made the motion a static pose (fps 0.03 without `fps`)."""
    root = _small_folder(tmp_path / "set")
    clip = dict(np.load(root / "clips" / "0.npz"))
    clip.pop("fps")
    np.savez(root / "clips" / "0.npz", **clip, timestamps=timestamps, **({} if fps is None else {"fps": fps}))
    with pytest.raises(DataFormatError, match=message) as e:
        read_clip_dataset(root)
    assert e.value.path == str(root / "clips" / "0.npz") and e.value.where == "timestamps"


@pytest.mark.parametrize("fps", [0.0303, 1e6])
def test_a_clip_frame_rate_no_camera_has_is_refused(tmp_path, fps):
    """A review of 7 December 2026: fps 0.03 (a frame every 33 s) broke --examples with an IndexError and 1e6 hung it
    (its 1.5 s gaps built at 1 MHz); the timestamps' 1-1000 fps range applies to fps too."""
    root = _small_folder(tmp_path / "set")
    clip = dict(np.load(root / "clips" / "0.npz"))
    np.savez(root / "clips" / "0.npz", **{**clip, "fps": fps})
    with pytest.raises(DataFormatError, match="frames per second is outside 1-1000") as e:
        read_clip_dataset(root)
    assert e.value.path == str(root / "clips" / "0.npz") and e.value.where == "fps"


def test_sparse_timestamps_under_a_nominal_fps_are_kept(tmp_path):
    """UTKinect's skeletons come at a quarter of the nominal 30 fps: fps is the camera's rate, not the clip's."""
    root = _small_folder(tmp_path / "set")
    clip = dict(np.load(root / "clips" / "0.npz"))
    np.savez(root / "clips" / "0.npz", **clip, timestamps=np.arange(20) * 4 / 30.0)
    seq = read_clip_dataset(root).sequences[0]
    assert seq.fps == 30.0 and seq.timestamps[-1] == pytest.approx(76 / 30)


def test_inspect_shows_the_duration_in_seconds(tmp_path, capsys):
    from sadvae.cli import main

    root = _small_folder(tmp_path / "set")
    clip = dict(np.load(root / "clips" / "0.npz"))
    np.savez(root / "clips" / "0.npz", **clip, timestamps=np.arange(20) * 0.1)  # 2 s, not 20 frames / 30 fps
    assert main(["data", "inspect", str(root)]) == 0
    out = capsys.readouterr().out
    assert "seconds min / median / max  0.67 / 0.67 / 1.93" in out and "seconds total" in out


def test_prepare_out_inside_the_clip_folder_is_refused(tmp_path, capsys):
    """An --out inside --root was read back as a clip, and the folder became unreadable."""
    from sadvae.cli import main

    root = _small_folder(tmp_path / "set")
    inside = root / "cache.npz"
    assert main(["data", "prepare", "--dataset", "utkinect", "--root", str(root), "--out", str(inside)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"--out {inside}: lies inside --root {root}" in err[0] and not inside.exists()
    outside = tmp_path / "cache.npz"
    assert main(["data", "prepare", "--dataset", "utkinect", "--root", str(root), "--out", str(outside)]) == 0
    capsys.readouterr()
    shutil.copy(outside, root / "clips" / "cache.npz")  # a cache put there by hand: named, with the fix
    with pytest.raises(DataFormatError, match="is a `sadvae data prepare` cache, not a clip; move it out") as e:
        read_clip_dataset(root)
    assert e.value.path == str(root / "clips" / "cache.npz")
