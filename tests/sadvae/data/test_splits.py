from __future__ import annotations

import numpy as np
import pytest

from sadvae.data.splits import ZSLSplit, load_split_files, make_partition, protocol_mask, random_split
from sadvae.errors import ConfigError, DataFormatError


@pytest.mark.parametrize(("u", "n"), [(5, 60), (12, 60), (10, 120), (24, 120)])
def test_published_synse_splits_load(shared_data, u, n):
    s = load_split_files(shared_data / "labels" / "splits", u, n)
    assert len(s.unseen) == u and len(s.seen) == n - u
    assert len(s.val_unseen) == u and set(s.val_unseen) <= set(s.seen)
    assert set(s.val_seen) | set(s.val_unseen) == set(s.seen)


def test_ntu60_55_5_matches_the_reference(shared_data):
    s = load_split_files(shared_data / "labels" / "splits", 5, 60)
    assert s.unseen == (10, 11, 19, 26, 56)
    assert s.val_unseen == (16, 21, 25, 31, 48)


def test_split_file_errors(tmp_path):
    with pytest.raises(DataFormatError, match="ru5.npy: split file not found"):
        load_split_files(tmp_path, 5, 60)
    np.save(tmp_path / "ru5.npy", np.array([0.5, 1.5]))
    with pytest.raises(DataFormatError, match="expected a 1-D integer array"):
        load_split_files(tmp_path, 5, 60)


def test_random_split_is_seeded_and_disjoint():
    a, b, c = random_split(20, 5, seed=1), random_split(20, 5, seed=1), random_split(20, 5, seed=2)
    assert a == b and a.unseen != c.unseen
    assert not set(a.unseen) & set(a.seen) and len(a.val_unseen) == 5 and len(a.val_seen) == 10
    with pytest.raises(ConfigError, match=r"--unseen 3 is too many for 6 classes \(at most 2: "):
        random_split(6, 3, seed=0)
    with pytest.raises(ConfigError, match="cannot split 6 classes into 1 unseen"):
        random_split(6, 1, seed=0, num_val_unseen=4)
    with pytest.raises(ConfigError, match=r"unseen classes per split \(--unseen\) must be at least 1, got 0"):
        random_split(20, 0, seed=0)


def test_split_validation():
    with pytest.raises(ConfigError, match="both seen and unseen"):
        ZSLSplit("x", (0, 1, 2, 3), (3,), (0, 1, 2), (3,))


def _cross_subject_samples(n=600):
    """(labels, subjects, train side, split): 20 classes over 10 subjects, odd subjects train, 5 unseen."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 20, n)
    subjects = rng.integers(1, 11, n)
    train_side = protocol_mask(subjects, np.full(n, -1), "cross_subject_odd")
    return labels, subjects, train_side, random_split(20, 5, seed=3)


def test_partition_never_mixes_test_side_into_training_or_validation():
    labels, subjects, train_side, split = _cross_subject_samples()
    p = make_partition(labels, subjects, train_side, split, seed=0)
    for name in ("train", "val_train", "val_seen", "val_unseen"):
        assert train_side[getattr(p, name)].all(), name
    assert not train_side[p.test_seen].any() and not train_side[p.test_unseen].any()
    assert set(labels[p.train]) <= set(split.seen) and set(labels[p.test_unseen]) <= set(split.unseen)
    assert set(labels[p.val_unseen]) <= set(split.val_unseen) and set(labels[p.val_train]) <= set(split.val_seen)
    # held-out validation samples are whole subjects, disjoint from the validation training subjects
    assert not set(subjects[p.val_seen]) & set(subjects[p.val_train])
    assert not set(p.val_seen) & set(p.val_train)


def test_test_clips_that_repeat_training_clips_leave_the_seen_classes_test_and_stay_in_the_unseen(caplog):
    """A test clip identical to a training clip (NW-UCLA's release has 95: copies_of_training) was trained on when its
    class is seen, so it is no test clip of S; an unseen class never trains, so its copies still test it."""
    labels, subjects, train_side, split = _cross_subject_samples()
    seen_c, unseen_c = split.seen[0], split.unseen[0]
    copies = ~train_side & np.isin(labels, [seen_c, unseen_c])
    plain = make_partition(labels, subjects, train_side, split, seed=0)
    with caplog.at_level("INFO", logger="sadvae.data.splits"):
        p = make_partition(
            labels, subjects, train_side, split, seed=0, copies=copies, class_names=[f"c{i}" for i in range(20)]
        )
    assert set(p.test_seen) == set(plain.test_seen) - set(np.flatnonzero(copies))
    assert seen_c not in set(labels[p.test_seen]) and seen_c in set(labels[plain.test_seen])
    np.testing.assert_array_equal(p.test_unseen, plain.test_unseen)
    for name in ("train", "val_train", "val_seen", "val_unseen"):
        np.testing.assert_array_equal(getattr(p, name), getattr(plain, name))
    assert f"repeat a training clip and are not scored (all of 'c{seen_c}')" in caplog.text


def test_copies_of_training_finds_a_test_clip_equal_to_a_training_clip_to_the_bit():
    from sadvae.data.record import Dataset, SkeletonSequence
    from sadvae.data.splits import copies_of_training

    rng = np.random.default_rng(0)
    a, b = (rng.normal(size=(5, 1, 25, 3)).astype(np.float32) for _ in range(2))
    seqs = [SkeletonSequence(j, 30.0, f"/x/{k}") for k, j in enumerate((a, b, a, b + 1e-6, a))]
    test = np.array([False, False, True, True, False])
    assert copies_of_training(Dataset("x", (), seqs, []), test).tolist() == [False, False, True, False, False]


def test_a_class_missing_from_its_side_is_named(caplog):
    """Review of 6 December 2026: a seen class without training clips (a head column that never learns) and an
    unseen class without test clips (ZSL over fewer classes) passed without a word."""
    labels, subjects, train_side, split = _cross_subject_samples()
    labels[(labels == split.seen[0]) & train_side] = split.seen[1]  # no training clip left
    labels[(labels == split.unseen[0]) & ~train_side] = split.unseen[1]  # no test clip left
    with caplog.at_level("WARNING", logger="sadvae.data.splits"):
        make_partition(labels, subjects, train_side, split, seed=0)
    assert f"seen classes with no training-side clip: class {split.seen[0]};" in caplog.text
    assert f"unseen classes with no test-side clip: class {split.unseen[0]}:" in caplog.text
    caplog.clear()  # audit of 7 December 2026: named by their names where the caller has them, not by ids
    names = [f"action {c}" for c in range(labels.max() + 1)]
    with caplog.at_level("WARNING", logger="sadvae.data.splits"):
        make_partition(labels, subjects, train_side, split, seed=0, class_names=names)
    assert f"unseen classes with no test-side clip: 'action {split.unseen[0]}':" in caplog.text


def test_unknown_protocol():
    with pytest.raises(ConfigError, match="unknown protocol 'nope'"):
        protocol_mask(np.array([1]), np.array([1]), "nope")


def test_ntu_cross_subject_covers_ntu120_and_keeps_ntu60():
    """Review of 6 December 2026: NTU-120's 33 extra training performers (45 ... 103) were put on the test side."""
    ntu60_train = {1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38}
    ntu120_extra = {45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89}
    ntu120_extra |= {91, 92, 93, 94, 95, 97, 98, 100, 103}
    performers = np.arange(1, 107)
    train = protocol_mask(performers, np.full(len(performers), -1), "ntu_cross_subject")
    assert set(performers[train]) == ntu60_train | ntu120_extra and train.sum() == 53
    assert [p in ntu60_train for p in range(1, 41)] == train[:40].tolist()  # NTU-60 (performers 1-40): as before


def test_too_many_unseen_classes_names_the_dataset_and_the_largest_count(tmp_path, capsys):
    """Review of the CLI: the default --unseen 5 on UTKinect's 10 classes was "cannot split 10 classes into 5 unseen +
    5 validation-unseen + >=2 seen", which names neither the flag nor the count that works."""
    from sadvae.cli import main
    from sadvae.data.record import Dataset, SkeletonSequence
    from sadvae.data.registry import save_prepared

    with pytest.raises(ConfigError) as info:
        random_split(10, 5, seed=0)
    assert str(info.value) == (
        "--unseen 5 is too many for 10 classes (at most 4: each split also holds out as many seen classes for "
        "validation and keeps at least 2 seen); pass --unseen 4 or fewer"
    )
    assert len(random_split(10, 4, seed=0).unseen) == 4
    with pytest.raises(ConfigError, match=r"--unseen 1: 3 classes are too few for a seeded zero-shot split"):
        random_split(3, 1, seed=0)
    names = tuple(f"action {i}" for i in range(10))
    seqs = [SkeletonSequence(np.zeros((8, 1, 25, 3), np.float32), 30.0, f"{c}.txt", c, names[c], 1) for c in range(10)]
    cache = save_prepared(Dataset("utkinect", names, seqs, [], "cross_subject_odd"), tmp_path / "utk.npz")
    argv = ["train", "zsl", "--dataset", "utkinect", "--root", str(cache), "--out", str(tmp_path / "m.pt")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (
        "sadvae: error: --unseen 5 is too many for utkinect's 10 classes (at most 4: each split also holds out as "
        "many seen classes for validation and keeps at least 2 seen); pass --unseen 4 or fewer"
    )


def test_a_split_file_listing_a_class_as_seen_and_unseen_names_it_and_the_file(tmp_path):
    from sadvae.data.splits import load_split_json

    path = tmp_path / "split.json"
    path.write_text('{"unseen": ["walk", "sit down"], "seen": ["walk", "clap", "jump", "wave"]}')
    with pytest.raises(ConfigError) as info:
        load_split_json(path, ("walk", "sit down", "clap", "jump", "wave"))
    assert str(info.value) == f"{path}: classes ['walk'] are listed both as seen and unseen; list each in one of them"


def test_a_split_file_that_is_a_folder_is_named_so(tmp_path):
    """A review of 7 December 2026: `--split-file FOLDER` said "split file not found"."""
    from sadvae.data.splits import load_split_json

    with pytest.raises(DataFormatError, match="is a folder; pass the split's JSON file"):
        load_split_json(tmp_path, ("walk", "clap"))
    with pytest.raises(DataFormatError, match="split file not found"):
        load_split_json(tmp_path / "none.json", ("walk", "clap"))


def test_a_class_name_with_a_comma_points_at_the_split_file():
    """Audit of 7 December 2026: "pick up, then put down" cannot be named in the comma-separated --unseen-classes,
    and the error listed the classes joined by ", ", which hid why."""
    from sadvae.data.splits import named_split

    names = ["walk", "pick up, then put down", "wave", "clap", "sit"]
    with pytest.raises(ConfigError, match=r"its classes: 'walk'; 'pick up, then put down'; .*use --split-file\)"):
        named_split(names, ["pick up", "then put down"], 0)


def test_split_partition_leaves_a_seen_classes_repeated_training_clip_out_of_its_test_clips():
    """The protocol's own entry point passes the copies on (make_partition's rule, 7 December 2026)."""
    from sadvae.data.record import Dataset, SkeletonSequence
    from sadvae.train.protocol import split_partition

    rng = np.random.default_rng(0)
    seqs = []
    for subject in range(1, 7):  # odd subjects train (cross_subject_odd)
        for label in range(4):
            j = rng.normal(size=(4, 1, 25, 3)).astype(np.float32)
            seqs.append(SkeletonSequence(j, 30.0, f"/x/s{subject}_c{label}", label=label, subject=subject))
    twin = next(s for s in seqs if s.subject == 1 and s.label == 0)
    seqs.append(SkeletonSequence(twin.joints.copy(), 30.0, "/x/copy", label=0, subject=2))  # a test clip, repeated
    ds = Dataset("mine", ("a", "b", "c", "d"), seqs, [], "cross_subject_odd")
    split = ZSLSplit(seen=(0, 1, 2), unseen=(3,), val_seen=(0, 1), val_unseen=(2,), name="s")
    part = split_partition(ds, "mine", split, 0.2, seed=0)
    copy = len(seqs) - 1
    assert copy not in set(part.test_seen) and copy not in set(part.train)
    assert len(part.test_seen) == sum(1 for s in seqs[:-1] if s.subject % 2 == 0 and s.label in (0, 1, 2))


def test_an_empty_partition_names_its_classes_and_side():
    """ "the val_unseen partition is empty; check the protocol and classes" named neither (the training audit, 7
    December 2026): a set whose pseudo-unseen classes have no training-side clip."""
    from sadvae.errors import ConfigError

    labels, subjects, train_side, split = _cross_subject_samples()
    labels = np.where(train_side & np.isin(labels, split.val_unseen), split.seen[0], labels)
    names = [f"c{i}" for i in range(20)]
    with pytest.raises(ConfigError) as info:
        make_partition(labels, subjects, train_side, split, seed=0, class_names=names)
    listed = ", ".join(repr(names[c]) for c in split.val_unseen)
    assert str(info.value) == (
        f"split {split.name}: the val_unseen partition is empty: no training-side clip of the validation-unseen "
        f"(pseudo-unseen) classes ({listed}); give those classes clips on that side (more subjects or views), or "
        "choose other classes (--unseen / --unseen-classes)"
    )
