"""Cross-dataset open-vocabulary protocol (sadvae.train.cross_dataset) and the feature cache (sadvae.features)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sadvae.errors import ConfigError
from sadvae.train.cross_dataset import (
    LabelEntry,
    conse_scores,
    label_groups,
    match_matrix,
    metrics,
    normalise_name,
    read_as_live,
    read_labels,
    transfer_matrix,
)

SHIFTGCN = Path(__file__).resolve().parents[3].parent / "shared/models/shiftgcn/ntu120_ShiftGCN_joint_xsub.pt"


def _labels(*names: str) -> list[LabelEntry]:
    return [LabelEntry(n) for n in names]


def test_label_groups_known_examples():
    """UTKinect's names against MSR + NW-UCLA classes: exact names, paraphrases, truly new (lexical matcher)."""
    vocab = ["hand clap", "two hand wave", "sit down", "stand up", "throw", "walk around", "high arm wave", "bend"]
    labels = _labels("sit down", "Stand_Up", "clap hands", "wave two hands", "push", "pull", "juggle")
    groups = label_groups(labels, vocab, None, 0.8)
    got = {lab.name: g["group"] for lab, g in zip(labels, groups, strict=True)}
    assert got == {
        "sit down": "exact",
        "Stand_Up": "exact",
        "clap hands": "near",
        "wave two hands": "near",
        "push": "new",
        "pull": "new",
        "juggle": "new",
    }
    near = {lab.name: g["match"] for lab, g in zip(labels, groups, strict=True) if g["group"] == "near"}
    assert near == {"clap hands": ["hand clap"], "wave two hands": ["two hand wave"]}


def test_word_order_and_conflicts_do_not_match():
    """'stand to sit' is sitting down, not standing up; 'pick up' is not 'drop trash'."""
    vocab = ["stand up", "sit down", "drop trash"]
    covered, _, _ = match_matrix(_labels("stand to sit", "pick up"), vocab, None, 0.8)
    assert covered[0].tolist() == [False, True, False]
    assert not covered[1].any()


def test_transfer_matrix_gives_covered_classes_to_their_label():
    covered = np.array([[True, False, False], [False, False, False]])  # label 0 covers class 0
    sim = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])  # [V, L]
    t = transfer_matrix(covered, sim, tau=0.1)
    assert t.shape == (3, 2)
    assert t[0].tolist() == [1.0, 0.0]
    np.testing.assert_allclose(t.sum(1), 1.0)
    assert t[1, 1] > 0.99 and t[2, 0] == pytest.approx(0.5)
    off = transfer_matrix(covered, sim, tau=None)  # uncovered classes give nothing (the head's off-label mass)
    assert off[1:].sum() == 0 and off[0, 0] == 1


def test_the_hubness_correction_takes_mass_from_a_label_near_every_class():
    covered = np.zeros((2, 3), bool)
    sim = np.array([[0.8, 0.7], [0.8, 0.2], [0.8, 0.3]])  # label 0 is near every class, label 1 near class 0 only
    plain, csls = transfer_matrix(covered, sim, tau=0.1), transfer_matrix(covered, sim, tau=0.1, hub_k=2)
    assert plain[0, 0] > plain[0, 1] and csls[0, 1] > csls[0, 0]  # class 0's mass moves to its specific label
    np.testing.assert_allclose(csls.sum(1), 1.0)
    np.testing.assert_allclose(transfer_matrix(covered, sim, tau=0.1, hub_k=0), plain)


def test_a_covered_label_is_read_by_its_name_a_new_one_by_its_description():
    """As the live head reads a labels file: it scores a covered label by its trained classes and embeds only the new
    labels' text, so the transfer reads a covered label's name and a new label's description."""
    labels = [LabelEntry("sit down", "a person sits down on a chair"), LabelEntry("doffing", "takes off a jacket")]
    covered = np.array([[True, False], [False, False]])
    read = read_as_live(labels, covered)
    assert [lab.text for lab in read] == ["sit down", "takes off a jacket"]
    assert [lab.name for lab in read] == ["sit down", "doffing"]


def test_conse_prefers_label_near_predicted_classes():
    vocab = np.eye(3, dtype=np.float32)
    labels = np.array([[1, 0, 0], [0, 0.6, 0.8]], dtype=np.float32)
    probs = np.array([[0.9, 0.05, 0.05], [0.0, 0.2, 0.8]])
    assert conse_scores(probs, vocab, labels, k=2).argmax(1).tolist() == [0, 1]


def test_metrics_top1_top5_per_class_confusion():
    scores = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.2, 0.7]])
    truth = np.array([0, 1, 1, 2])
    m = metrics(scores, truth, ["a", "b", "c"])
    assert m["top1"] == 0.75 and m["top5"] == 1.0
    assert m["per_class_top1"] == {"a": 1.0, "b": 0.5, "c": 1.0}
    assert m["mean_class_top1"] == pytest.approx(2.5 / 3)
    assert m["confusion"] == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]


def test_read_labels_descriptions_and_errors(tmp_path):
    p = tmp_path / "labels.txt"
    p.write_text("# UTKinect\nwalk | a person walks forward\n\nsit down\n", encoding="utf-8")
    assert read_labels(p) == [LabelEntry("walk", "a person walks forward"), LabelEntry("sit down")]
    assert read_labels(p)[0].text == "a person walks forward"
    # One parser for the benchmark and the live side (sadvae.labels, ConfigError naming file and line); the
    # benchmark's own parser raised DataFormatError and accepted what sadvae-live refused (and the reverse).
    p.write_text("walk\nWalk\n")
    with pytest.raises(ConfigError, match="line 2: duplicate action 'Walk'"):
        read_labels(p)
    p.write_text("walk\n")
    with pytest.raises(ConfigError, match="only one action"):
        read_labels(p)
    with pytest.raises(ConfigError, match="labels file not found"):
        read_labels(tmp_path / "missing.txt")
    p.write_bytes("walk\nsit down | a person sits\n".encode("utf-16"))  # with a byte order mark, as sadvae-live
    assert read_labels(p) == [LabelEntry("walk"), LabelEntry("sit down", "a person sits")]


def test_labels_missing_a_target_class_are_refused_before_any_feature_extraction(shared_data, tmp_path):
    from sadvae.train.cross_dataset import CrossDatasetConfig, run_cross_dataset

    p = tmp_path / "labels.txt"
    p.write_text("1 walk\n2 sit down\n3 stand up\n")  # the dataset's numbered class list, not a labels file
    cfg = CrossDatasetConfig(target="utkinect", methods=("linear",), labels=str(p), feature_dir=str(tmp_path / "f"))
    with pytest.raises(ConfigError, match=r"not labels \(its lines start with numbers"):
        run_cross_dataset(cfg, tmp_path / "out")
    assert not (tmp_path / "f").exists()


def test_a_missing_glossary_is_refused_before_any_feature_extraction(shared_data, tmp_path):
    from sadvae.train.cross_dataset import CrossDatasetConfig, run_cross_dataset

    cfg = CrossDatasetConfig(
        target="utkinect", methods=("linear",), glossary=str(tmp_path / "g.tsv.gz"), feature_dir=str(tmp_path / "f")
    )
    with pytest.raises(ConfigError, match=r"g.tsv.gz: no glossary there; build it with `python scripts/build_glossary"):
        run_cross_dataset(cfg, tmp_path / "out")
    assert not (tmp_path / "f").exists()


def test_normalise_name():
    assert normalise_name("Pick up & Throw.") == "pick up and throw"
    assert normalise_name("side-boxing") == normalise_name("Side_Boxing")


def test_cli_needs_target(tmp_path, capsys):
    from sadvae.cli import main

    assert main(["benchmark", "--protocol", "cross-dataset", "--out", str(tmp_path)]) == 2
    assert "--protocol cross-dataset needs --target" in capsys.readouterr().err
    assert main(["benchmark", "--out", str(tmp_path)]) == 2  # the split protocols still need --dataset
    assert "--dataset is required" in capsys.readouterr().err


@pytest.mark.parametrize("extra", [["--novelty-distance", "knn"], ["--class-descriptions", "described.txt"]])
def test_cli_refuses_the_single_dataset_text_and_gzsl_flags(tmp_path, capsys, extra):
    from sadvae.cli import main

    args = ["benchmark", "zsl", "--protocol", "cross-dataset", "--target", "msr", "--out", str(tmp_path), *extra]
    assert main(args) == 2
    assert "belong to the single-dataset protocol" in capsys.readouterr().err


def _record_configs(monkeypatch, xd) -> list:
    """Replace the protocol's run with one that records each config it is given (and writes an empty report)."""
    seen = []

    def fake_run(cfg, out):
        seen.append(cfg)
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "report.md").write_text("")
        return {}

    monkeypatch.setattr(xd, "run_cross_dataset", fake_run)
    return seen


@pytest.mark.parametrize(
    ("extra", "want"),
    [
        ([], ("ntu_conse", "linear", "fused", "joint")),
        (["--bundle", "r1.pt"], ("round1", "ntu_conse", "linear", "fused", "joint")),
        (["--backbone", "stgcn"], ("linear",)),
        (["--methods", "tuned", "fused"], ("tuned", "fused")),
    ],
)
def test_cli_default_methods_run_out_of_the_box(tmp_path, monkeypatch, extra, want):
    # Without --methods the run must not need anything the packaged model lacks (round1 refuses it) nor the
    # multi-GB caches of the measured variants (tuned); round1 joins when a round-1 bundle is named.
    import sadvae.train.cross_dataset as xd
    from sadvae.cli import main

    seen = _record_configs(monkeypatch, xd)
    args = ["benchmark", "--protocol", "cross-dataset", "--target", "msr", "--out", str(tmp_path), *extra]
    assert main(args) == 0
    assert [c.methods for c in seen] == [want]
    assert xd.CrossDatasetConfig(target="msr").methods == xd.DEFAULT_METHODS


def test_cli_joint_weight_decays_reach_the_selection_grid(tmp_path, monkeypatch, capsys):
    import sadvae.train.cross_dataset as xd
    from sadvae.cli import main

    seen = _record_configs(monkeypatch, xd)
    args = ["benchmark", "zsl", "--protocol", "cross-dataset", "--target", "msr", "--out", str(tmp_path)]
    assert main(args) == 0 and main([*args, "--joint-weight-decays", "1e-3", "1e-1"]) == 0
    assert [c.weight_decays for c in seen] == [xd.RECIPE_WEIGHT_DECAYS, (1e-3, 1e-1)]
    # the constant (read without torch by the `sadvae` parser) is the recipe's own grid
    from sadvae.train.default_shiftgcn import ShiftGCNDefaultConfig

    assert ShiftGCNDefaultConfig().weight_decays == xd.RECIPE_WEIGHT_DECAYS
    assert main([*args, "--joint-weight-decays", "0"]) == 2
    assert "--joint-weight-decays must be positive" in capsys.readouterr().err


def test_cli_glossary_reaches_the_config_and_relabels_only_undescribed_labels(tmp_path, monkeypatch):
    import gzip

    import sadvae.train.cross_dataset as xd
    from sadvae.cli import main

    seen = _record_configs(monkeypatch, xd)
    args = ["benchmark", "zsl", "--protocol", "cross-dataset", "--target", "msr", "--out", str(tmp_path)]
    assert main([*args, "--glossary", str(tmp_path / "g.tsv.gz")]) == 0 and main(args) == 0
    assert [c.glossary for c in seen] == [str(tmp_path / "g.tsv.gz"), None]
    assert main([*args, "--hubness-k", "10"]) == 0 and seen[-1].hub_k == 10 and seen[0].hub_k == 0
    assert main([*args, "--hubness-k", "-1"]) == 2
    table = tmp_path / "g.tsv.gz"
    table.write_bytes(gzip.compress(b"v\tdon\tput clothing on one's body\n"))

    class Text:
        def raw(self, texts):
            return np.eye(len(texts))

    labels = [LabelEntry("donning"), LabelEntry("doffing"), LabelEntry("wave", "arm side to side")]
    out = xd.glossed(labels, Text(), ["walk"], str(table))
    assert [lab.text for lab in out] == ["donning: put clothing on one's body", "doffing", "arm side to side"]


def test_feature_cache_resumes_and_reuses(tmp_path):
    """Chunks written as they finish are reused after an interruption; a finished cache needs no data at all."""
    from sadvae.data.record import Dataset, SkeletonSequence
    from sadvae.features import cached_features

    rng = np.random.default_rng(0)
    seqs = [
        SkeletonSequence(
            rng.normal(size=(5, 1, 25, 3)).astype(np.float32), 30.0, f"clip{i}", label=i % 2, subject=1 + i % 4
        )
        for i in range(7)
    ]
    ds = Dataset("utkinect", ("a", "b"), seqs)

    class Fake:
        id, settings = "fake:1", {"window": 4}

        def __init__(self, fail_at=None):
            self.calls, self.fail_at = 0, fail_at

        def __call__(self, chunk):
            self.calls += 1
            if self.calls == self.fail_at:
                raise KeyboardInterrupt
            f = np.stack([s.joints.mean((0, 1, 2)) for s in chunk])
            return f, f[:, :2]

    with pytest.raises(KeyboardInterrupt):
        cached_features(Fake(fail_at=3), "utkinect", lambda: ds, "fp", tmp_path, chunk=3, progress=False)
    again = Fake()
    fs = cached_features(again, "utkinect", lambda: ds, "fp", tmp_path, chunk=3, progress=False)
    assert again.calls == 1  # chunks 0 and 1 came from disk
    assert fs.feats.shape == (7, 3) and fs.logits.shape == (7, 2)
    np.testing.assert_allclose(fs.feats[4], seqs[4].joints.mean((0, 1, 2)), rtol=1e-6)
    assert fs.labels.tolist() == [0, 1, 0, 1, 0, 1, 0]
    assert fs.test_side.tolist() == [s.subject % 2 == 0 for s in seqs]  # UTKinect: even subjects are the test side

    def no_data():
        raise AssertionError("a finished cache must not read the dataset")

    cached = cached_features(Fake(fail_at=1), "utkinect", no_data, "fp", tmp_path, chunk=3, progress=False)
    np.testing.assert_array_equal(cached.feats, fs.feats)
    other = cached_features(Fake(), "utkinect", lambda: ds, "other copy", tmp_path, chunk=3, progress=False)
    assert other.path != fs.path  # another dataset fingerprint is another cache file


def _toy_clips(n=7):
    from sadvae.data.record import Dataset, SkeletonSequence

    rng = np.random.default_rng(0)
    seqs = [
        SkeletonSequence(
            rng.normal(size=(5 + i, 1, 25, 3)).astype(np.float32), 30.0, f"clip{i}", label=i % 2, subject=1 + i % 4
        )
        for i in range(n)
    ]
    return Dataset("utkinect", ("a", "b"), seqs)


class _ClipMeans:
    """A fake extractor: a clip's feature is its joints' mean per axis; its windows are 1 + (frames % 3) copies of the
    clip's mean joint, shifted by the window index."""

    id, settings = "fake:1", {"window": 4}

    def __init__(self, fail_after=None):
        self.calls, self.fail_after = 0, fail_after

    def _tick(self):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise KeyboardInterrupt("crash mid-run")

    def __call__(self, chunk):
        self._tick()
        f = np.stack([s.joints.mean((0, 1, 2)) for s in chunk])
        return f, f[:, :2]

    def windows(self, seq):
        return [seq.joints.mean((0, 1, 2)) + k for k in range(1 + seq.num_frames % 3)]

    def encode(self, windows):
        self._tick()
        return np.asarray(windows, np.float32), np.asarray(windows, np.float32)[:, :2]


def test_feature_cache_resumed_with_another_chunk_size_keeps_each_clips_row(tmp_path):
    """Review of the feature caches: parts were named by their start row only, so a run resumed with another chunk
    size read parts of other row ranges and wrote a misaligned cache that later loaded as valid."""
    from sadvae.features import cached_features

    ds = _toy_clips()
    with pytest.raises(KeyboardInterrupt):
        cached_features(_ClipMeans(fail_after=2), "utkinect", lambda: ds, "fp", tmp_path, chunk=2, progress=False)
    fs = cached_features(_ClipMeans(), "utkinect", lambda: ds, "fp", tmp_path, chunk=3, progress=False)
    assert fs.feats.shape == (7, 3) and fs.logits.shape == (7, 2)
    for i, s in enumerate(ds.sequences):  # row i is clip i's feature
        np.testing.assert_allclose(fs.feats[i], s.joints.mean((0, 1, 2)), rtol=1e-6)


def test_window_cache_resumed_with_another_chunk_size_keeps_each_clips_windows(tmp_path):
    from sadvae.train.window_features import window_features

    ds = _toy_clips()
    with pytest.raises(KeyboardInterrupt):
        window_features(_ClipMeans(fail_after=2), "utkinect", lambda: ds, "fp", cache_dir=tmp_path, chunk=2)
    wf = window_features(_ClipMeans(), "utkinect", lambda: ds, "fp", cache_dir=tmp_path, chunk=3)
    want = [(i, w) for i, s in enumerate(ds.sequences) for w in _ClipMeans().windows(s)]
    assert wf.owner.tolist() == [i for i, _ in want]
    np.testing.assert_allclose(wf.feats, np.stack([w for _, w in want]), rtol=1e-6)


def test_a_cache_whose_rows_disagree_is_refused_naming_the_file(tmp_path):
    """A misaligned cache (rows that are not one per clip; windows of clips not extracted) is one error naming the
    file, never features of other clips."""
    from sadvae.errors import ConfigError
    from sadvae.features import cached_features
    from sadvae.train.window_features import window_features

    ds = _toy_clips()
    fs = cached_features(_ClipMeans(), "utkinect", lambda: ds, "fp", tmp_path / "f", progress=False)
    with np.load(fs.path) as z:
        arrays = dict(z)
    np.savez(fs.path, **{**arrays, "feats": arrays["feats"][:-1], "logits": arrays["logits"][:-1]})
    with pytest.raises(ConfigError, match="delete it to re-extract") as info:
        cached_features(_ClipMeans(), "utkinect", lambda: ds, "fp", tmp_path / "f", progress=False)
    assert str(info.value).startswith(f"{fs.path}: ") and "7 clips but 6 feats rows, 6 logits rows" in str(info.value)

    wf = window_features(_ClipMeans(), "utkinect", lambda: ds, "fp", cache_dir=tmp_path / "w")
    with np.load(wf.path) as z:
        arrays = dict(z)
    np.savez(wf.path, **{**arrays, "owner": np.where(arrays["owner"] == 0, 1, arrays["owner"])})  # clip 0's windows
    with pytest.raises(ConfigError, match="delete it to re-extract") as info:
        window_features(_ClipMeans(), "utkinect", lambda: ds, "fp", cache_dir=tmp_path / "w")
    assert str(info.value).startswith(f"{wf.path}: ") and "windows of 6 clips for the 7 clips" in str(info.value)


def test_dataset_fingerprint_covers_reader_code(tmp_path):
    from sadvae.features import code_fingerprint, dataset_fingerprint

    (tmp_path / "SHA256SUMS").write_text("abc  x\n")
    plain = dataset_fingerprint(tmp_path)
    assert dataset_fingerprint(tmp_path, "utkinect") != plain
    assert code_fingerprint("utkinect") == code_fingerprint("msr_action3d") == code_fingerprint("hdm05")
    (tmp_path / "SHA256SUMS").write_text("abd  x\n")
    assert dataset_fingerprint(tmp_path) != plain  # another copy of the data


def test_a_clip_folder_fingerprint_follows_its_clips_and_names_a_cache_file_in_the_cache_folder(tmp_path):
    """Review of 6 December 2026: a folder without SHA256SUMS was known by its path alone (clips replaced, the old
    features were read), and its absolute path as the file name put the cache beside the clips."""
    import os

    from sadvae.features import _cache_path, dataset_fingerprint

    clips = tmp_path / "my clips"
    clips.mkdir()
    (clips / "a.npz").write_bytes(b"one")
    first = dataset_fingerprint(clips, "my clips")
    (clips / "a.npz").write_bytes(b"two!")
    os.utime(clips / "a.npz", ns=(1, 1))
    assert dataset_fingerprint(clips, "my clips") != first
    again = dataset_fingerprint(clips, "my clips")
    (clips / "b.npz").write_bytes(b"x")
    assert dataset_fingerprint(clips, "my clips") != again
    ext = type("E", (), {"id": "x", "settings": {}})()
    path = _cache_path(tmp_path / "cache", str(clips), ext, again)
    assert path.parent == tmp_path / "cache" and path.name.startswith("my_clips-")


def test_new_file_times_alone_keep_the_dataset_fingerprint(tmp_path):
    """The key held every file's mtime, so a re-mounted share (new times, the same bytes) extracted every cache
    again (15 minutes per window length on 2 cores); the key is the files' content now."""
    import os

    from sadvae import features
    from sadvae.features import dataset_fingerprint

    root = tmp_path / "set"
    (root / "clips").mkdir(parents=True)
    (root / "clips" / "a.txt").write_bytes(b"one")
    (root / "b.txt").write_bytes(b"two")
    first = dataset_fingerprint(root, "utkinect")
    for f in (root / "clips" / "a.txt", root / "b.txt"):
        os.utime(f, ns=(123_000_000_000, 123_000_000_000))
    assert dataset_fingerprint(root, "utkinect") == first
    one = root / "b.txt"
    assert dataset_fingerprint(one) == dataset_fingerprint(one)
    before = dataset_fingerprint(one)
    os.utime(one, ns=(7, 7))
    assert dataset_fingerprint(one) == before  # a single file too
    one.write_bytes(b"owt")  # same size, same restored time, other bytes
    os.utime(one, ns=(7, 7))
    features._DIGESTS.clear()  # as a new run sees it (within a run the ctime, which no copy restores, tells it apart)
    assert dataset_fingerprint(one) != before


def test_a_checksummed_dataset_fingerprint_follows_its_clips(tmp_path):
    """Review of the feature caches: with SHA256SUMS (or MANIFEST*) present only those files and the path were
    hashed, so an edited or added clip was served from the old cache."""
    import os

    from sadvae.features import dataset_fingerprint

    root = tmp_path / "set"
    (root / "clips").mkdir(parents=True)
    (root / "SHA256SUMS").write_text("abc  ./clips/a.txt\n")
    (root / "MANIFEST.md").write_text("a set\n")
    (root / "clips" / "a.txt").write_bytes(b"one")
    first = dataset_fingerprint(root, "nw_ucla")
    assert dataset_fingerprint(root, "nw_ucla") == first  # nothing changed: the same key
    (root / "clips" / "a.txt").write_bytes(b"two")  # same size, other bytes
    os.utime(root / "clips" / "a.txt", ns=(1, 1))
    edited = dataset_fingerprint(root, "nw_ucla")
    assert edited != first
    (root / "clips" / "b.txt").write_bytes(b"x")
    added = dataset_fingerprint(root, "nw_ucla")
    assert added != edited
    (root / "SHA256SUMS").write_text("abd  ./clips/a.txt\n")  # the checksums still count
    summed = dataset_fingerprint(root, "nw_ucla")
    assert summed != added
    (root / "features" / "nw_ucla-0123456789abcdef.parts").mkdir(parents=True)  # a feature folder inside the data
    (root / "features" / "nw_ucla-0123456789abcdef.parts" / "000000-000002.npz").write_bytes(b"part")
    (root / "features" / "nw_ucla-0123456789abcdef.npz").write_bytes(b"cache")
    (root / "features" / ".nw_ucla-0123456789abcdef.npz.k3j2.tmp.npz").write_bytes(b"being written")
    assert dataset_fingerprint(root, "nw_ucla") == summed  # the caches it writes are not the data


def _package_copy(tmp_path):
    """The sadvae package's .py files copied under ``tmp_path`` (what code_fingerprint hashes)."""
    import shutil

    import sadvae.features

    src = Path(sadvae.features.__file__).resolve().parent
    dst = tmp_path / "sadvae"
    shutil.copytree(
        src, dst, ignore=lambda d, names: [n for n in names if not (Path(d, n).is_dir() or n.endswith(".py"))]
    )
    return dst


@pytest.mark.parametrize(
    "rel",
    [
        "data/splits.py",  # the test side is stored in the cache
        "data/record.py",
        "data/text_files.py",
        "data/user_format.py",
        "data/kinect_v1.py",
        "features.py",  # the window cutting
        "train/window_features.py",
        "train/augment.py",
        "models/shiftgcn.py",
        "models/pretrained.py",
        "models/batchnorm_stats.py",
        "skeleton.py",
    ],
)
def test_the_code_fingerprint_covers_every_file_whose_output_a_cache_holds(tmp_path, monkeypatch, rel):
    """Review of the feature caches: the code key missed splits.py (test_side is stored), the windowing and network
    code, so their edits were served from caches made by the old code."""
    import sadvae.features as features

    pkg = _package_copy(tmp_path)
    monkeypatch.setattr(features, "__file__", str(pkg / "features.py"))
    base = {n: features.code_fingerprint(n) for n in ("nw_ucla", "hdm05", "ntu")}
    (pkg / rel).write_text((pkg / rel).read_text() + "\n# edited\n")
    assert all(features.code_fingerprint(n) != base[n] for n in base), rel


def test_the_code_fingerprint_holds_the_torch_version(monkeypatch):
    import sadvae.features as features

    base = features.code_fingerprint("nw_ucla")
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch, "__version__", torch.__version__ + ".other")
    assert features.code_fingerprint("nw_ucla") != base


def test_the_protocol_window_cache_follows_the_reader_code(tmp_path, monkeypatch):
    """The cross-dataset protocol's (and the default recipe's) window caches were keyed by dataset_fingerprint(root)
    without the set's name, so a changed reader reused the features the old one made."""
    from sadvae.data.registry import DATASETS
    from sadvae.features import dataset_fingerprint
    from sadvae.train import cross_dataset, window_features

    seen = {}
    monkeypatch.setattr(window_features, "window_features", lambda ext, n, load, fp, **kw: seen.setdefault(n, fp))
    cfg = cross_dataset.CrossDatasetConfig(target="utkinect", data_root=str(tmp_path), feature_dir=str(tmp_path))
    cross_dataset._window_caches(cfg, ["utkinect"], None, "windows")
    root = tmp_path / DATASETS["utkinect"].default_root
    assert seen["utkinect"] == dataset_fingerprint(root, "utkinect") != dataset_fingerprint(root)


@pytest.mark.slow
def test_protocol_end_to_end_on_real_subset_and_resume(shared_data, tmp_path):
    """Target UTKinect (2 clips per class and side), source MSR: Shift-GCN features, real labels, real text encoder."""
    if not SHIFTGCN.is_file():
        pytest.skip(f"Shift-GCN weights not found at {SHIFTGCN}")
    from sadvae.train.cross_dataset import CrossDatasetConfig, run_cross_dataset

    labels = tmp_path / "utk.txt"
    names = (shared_data / "skeleton_sets/utkinect_action3d/classes.txt").read_text().splitlines()
    labels.write_text("\n".join(n.split("\t")[1] + " | a person " + n.split("\t")[1] for n in names))
    cfg = CrossDatasetConfig(
        target="utkinect_action3d",
        sources=("msr_action3d",),
        methods=("ntu_conse", "linear", "synth"),
        labels=str(labels),
        limit_per_class=2,
        feature_dir=str(tmp_path / "feats"),
        threads=1,
    )
    out = tmp_path / "xd"
    report = run_cross_dataset(cfg, out)
    assert report["target"] == "utkinect" and report["sources"] == ["msr_action3d"]
    assert report["test_samples"] == 20
    assert report["methods"]["synth"]["info"]["selection"]["setting"] == {"lam": 0.01, "pool": "sources"}  # 1 source
    for m in ("ntu_conse", "linear", "synth"):
        r = report["methods"][m]
        assert 0.0 <= r["top1"] <= r["top5"] <= 1.0
        assert np.asarray(r["confusion"]).sum() == 20
        assert (out / f"confusion_{m}.png").stat().st_size > 1000
    groups = {g["group"] for g in report["label_groups"]["sources"]}
    assert groups <= {"exact", "near", "new"} and "new" in groups  # push / pull are no MSR class
    assert report["methods"]["ntu_conse"]["top1"] > 0.1  # NTU knows these actions: clearly above chance (10 %)
    assert "| linear |" in (out / "report.md").read_text()
    stamp = (out / "methods" / "linear.json").stat().st_mtime_ns
    again = run_cross_dataset(cfg, out)  # resumes: finished methods are read back, not rerun
    assert (out / "methods" / "linear.json").stat().st_mtime_ns == stamp
    assert again["methods"]["linear"]["top1"] == report["methods"]["linear"]["top1"]
    assert json.loads((out / "report.json").read_text())["test_samples"] == 20


def _window_set(dataset, class_names, feats, logits, owner, labels, test_side=None):
    from sadvae.train.window_features import WindowFeatures

    n = len(labels)
    return WindowFeatures(
        dataset,
        tuple(class_names),
        np.asarray(feats, np.float32),
        np.asarray(logits, np.float32),
        np.asarray(owner, np.int64),
        np.asarray(labels, np.int64),
        np.full(n, -1, np.int64),
        np.full(n, -1, np.int64),
        np.zeros(n, bool) if test_side is None else np.asarray(test_side, bool),
        np.isin(np.arange(n), owner),
        "fake:1",
        {"window": 4},
    )


def test_window_clip_set_is_the_mean_of_each_extracted_clip():
    feats = np.arange(10, dtype=np.float32).reshape(5, 2)
    wf = _window_set("utkinect", ("a", "b"), feats, feats[:, :1] * 2, [0, 0, 2, 2, 2], [1, 0, 0], [True, False, True])
    fs = wf.clip_set()  # clip 1 has no windows (not extracted): no row
    np.testing.assert_allclose(fs.feats, [[1, 2], [6, 7]])
    np.testing.assert_allclose(fs.logits, [[2], [12]])
    assert fs.labels.tolist() == [1, 0] and fs.test_side.tolist() == [True, True] and fs.class_names == ("a", "b")


UTK_CLASSES = ("walk", "sit down", "stand up", "pick up", "carry", "throw", "push", "pull", "wave hands", "clap hands")


def test_joint_head_scores_ntu_and_the_sources_extra_columns_only():
    """The recipe's joint head trained on UTKinect windows alone: NTU-120 + UTKinect's extra classes are its
    vocabulary (no column that only another set trains), NTU-mapped classes are won by their NTU column."""
    from sadvae.train.class_table import NTU120_NAMES, class_table
    from sadvae.train.cross_dataset import fit_joint

    table = class_table()
    rng = np.random.default_rng(0)
    cols = np.asarray(table.columns("utkinect", UTK_CLASSES))
    centres = rng.normal(size=(len(UTK_CLASSES), 16)) * 3
    labels = np.repeat(np.arange(len(UTK_CLASSES)), 12)
    feats = centres[labels] + rng.normal(size=(len(labels), 16))
    ntu = rng.normal(size=(len(labels), 120))
    mapped = cols[labels] < 120
    ntu[mapped, cols[labels][mapped]] += 8.0  # the frozen fc knows the NTU actions (sit down -> sitting down, ...)
    owner = np.arange(len(labels))
    head = fit_joint([_window_set("utkinect", UTK_CLASSES, feats, ntu, owner, labels)], 1e-3, seed=0, steps=60)
    assert head.names[:120] == list(NTU120_NAMES)
    # the column "wave both hands" is Bandai-Namco's spelling: trained by UTKinect alone it is UTKinect's "wave hands"
    # (until 6 December 2026 a head that never saw Bandai-Namco matched labels against its name)
    assert set(head.names[120:]) == {"walk", "carry", "push", "pull", "wave hands"}
    # the head's own columns: NTU-120 and the 5 extra columns UTKinect trains, nothing for the other sets' classes
    assert head.columns.tolist() == list(range(125)) and head.head.weight.shape[0] == 5
    p = head.probs(feats.astype(np.float32), ntu.astype(np.float32))
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-6)
    want = [{"wave both hands": "wave hands"}.get(table.names[c], table.names[c]) for c in cols[labels]]
    got = [head.names[j] for j in p.argmax(1)]
    assert np.mean([g == w for g, w in zip(got, want, strict=True)]) > 0.9
    assert {"sitting down", "clapping", "walk", "push"} <= set(got)
    # a merged column answers to the trained set's own name, as in the live head; never to another set's
    alias = dict(zip(head.names, head.aliases, strict=True))
    assert alias["clapping"] == ("clap hands",) and alias["pickup"] == ("pick up",) and alias["walk"] == ()
    assert "hand clap" not in {a for names in head.aliases for a in names}  # MSR's name: MSR was not trained


def test_class_descriptions_move_the_transfer_towards_the_described_label():
    """A class whose name resembles neither label but whose description names one shares its mass with that one."""
    from sadvae.train.cross_dataset import class_label_similarity

    vec = {
        "wear jacket": [1, 0, 0],
        "putting on a garment": [0, 1, 0],
        "donning": [0, 0.9, 0.1],
        "doffing": [0.6, 0, 0.8],
    }

    class FakeText:
        def __call__(self, texts):
            e = np.asarray([vec[t] for t in texts], float)
            return e / np.linalg.norm(e, axis=1, keepdims=True)

        raw = __call__

    labels = _labels("donning", "doffing")
    plain = class_label_similarity(["wear jacket"], labels, FakeText())
    assert plain[0].argmax() == 1  # by its name alone the class looks like "doffing"
    desc = class_label_similarity(["wear jacket"], labels, FakeText(), {"wear jacket": "putting on a garment"})
    assert desc[0].argmax() == 0 and desc.shape == (1, 2)
    np.testing.assert_allclose(
        desc, 0.5 * (plain + FakeText()(["putting on a garment"]) @ FakeText()(["donning", "doffing"]).T)
    )


def test_ntu_descriptions_cover_the_120_names(shared_data):
    from sadvae.train.cross_dataset import ntu_descriptions

    assert ntu_descriptions("name") is None
    for kind in ("llm", "ad"):
        d = ntu_descriptions(kind)
        assert len(d) == 120 and "jacket" in d["wear jacket"].lower()
    with pytest.raises(ConfigError, match="unknown class text"):
        ntu_descriptions("poem")


def _utkinect_from_msr(tmp_path, methods: tuple[str, ...], cache: str, **fields):
    """``run_cross_dataset`` on UTKinect with MSR as the source (one clip a class, one thread, ``fields`` for the
    rest of the config): (its report, the datasets whose feature cache files it wrote under ``feats/<cache>``).
    Skips where the Shift-GCN weights are not found."""
    if not SHIFTGCN.is_file():
        pytest.skip(f"Shift-GCN weights not found at {SHIFTGCN}")
    from sadvae.train.cross_dataset import CrossDatasetConfig, run_cross_dataset

    cfg = CrossDatasetConfig(
        target="utkinect",
        sources=("msr_action3d",),
        methods=methods,
        limit_per_class=1,
        feature_dir=str(tmp_path / "feats"),
        threads=1,
        **fields,
    )
    report = run_cross_dataset(cfg, tmp_path / "xd")
    return report, sorted(p.name.split("-")[0] for p in (tmp_path / "feats" / cache).glob("*.npz"))


@pytest.mark.slow
def test_joint_end_to_end_on_real_subset(shared_data, tmp_path):
    """Method joint (the recipe's head without the target) on UTKinect with MSR as the source: every Shift-GCN row
    reads the per-window cache; the target's own extra classes are never a trained column."""
    report, cached = _utkinect_from_msr(tmp_path, ("ntu_conse", "joint", "fused_windows"), "windows")
    assert report["feature_cache"].startswith("windows") and report["test_samples"] == 10
    assert cached == ["msr_action3d", "utkinect"]
    joint = report["methods"]["joint"]
    trained = joint["info"]["trained_classes"]
    # NTU-120 + 16 MSR classes (hand clap, side kick, jogging, tennis swing are NTU columns)
    assert len(trained) == 120 + 16
    assert "side boxing" in trained and "push" not in trained and "carry" not in trained
    assert 0.0 <= joint["top1"] <= joint["top5"] <= 1.0 and np.asarray(joint["confusion"]).sum() == 10
    wins = report["methods"]["fused_windows"]  # window scores averaged per clip: one row per test clip
    assert np.asarray(wins["confusion"]).sum() == 10 and wins["info"]["setting_from"].startswith("fused")


@pytest.mark.slow
def test_tuned_methods_end_to_end_on_real_subset(shared_data, tmp_path):
    """Methods tuned / tuned_frozen on UTKinect with MSR as the source: the unit-input cache is written once per set,
    both rows are scored over the same test clips as fused, the control's unit stays the pretrained one."""
    from sadvae.train.finetune import FinetuneConfig

    methods = ("fused", "tuned_frozen", "tuned")
    report, cached = _utkinect_from_msr(tmp_path, methods, "units", finetune=FinetuneConfig(epochs=2))
    assert cached == ["msr_action3d", "utkinect"]
    for m in ("tuned_frozen", "tuned"):
        r = report["methods"][m]
        assert np.asarray(r["confusion"]).sum() == report["test_samples"] == 10
        assert r["info"]["train_windows"] >= 20 and r["info"]["finetune"]["tune"] == (m == "tuned")
        assert r["info"]["selection"]["setting"] == report["methods"]["fused"]["info"]["selection"]["setting"]


def test_pool_windows_merges_class_names_and_labels_each_window_by_its_clip():
    from sadvae.train.cross_dataset import _pool_windows

    a = _window_set("utkinect", ("Walk", "throw"), np.eye(4), np.zeros((4, 1)), [0, 0, 1, 2], [1, 0, -1])
    b = _window_set("msr_action3d", ("jogging", "walk"), np.eye(4)[:3], np.zeros((3, 1)), [0, 1, 1], [1, 0])
    rows, labels, names = _pool_windows([a, b])
    assert names == ["Walk", "throw", "jogging"]
    assert labels.tolist() == [1, 1, 0, 0, 2, 2]  # the unlabelled clip's window is left out
    np.testing.assert_array_equal(rows, np.concatenate([np.eye(4)[:3], np.eye(4)[:3]]))


def test_test_clip_means_average_window_values_over_the_target_rows():
    from sadvae.train.cross_dataset import _test_clip_means

    # clips 0, 1, 2: clip 0 train side, clip 1 test (two windows), clip 2 test (one window)
    wf = _window_set("utkinect", ("a", "b"), np.zeros((4, 1)), np.zeros((4, 1)), [0, 1, 1, 2], [0, 1, 0],
                     [False, True, True])  # fmt: skip
    target = wf.clip_set().subset(np.array([False, True, True]))
    values = np.array([[9.0, 9.0], [1.0, 0.0], [0.0, 1.0], [0.2, 0.8]])
    np.testing.assert_allclose(_test_clip_means(wf, values, target), [[0.5, 0.5], [0.2, 0.8]])
    with pytest.raises(ConfigError, match="disagree"):
        _test_clip_means(wf, values, wf.clip_set())


def test_synth_scores_a_label_by_the_trained_classifier_its_name_names():
    from sadvae.train.cross_dataset import LabelEntry, _synth_scores, _Train

    rng = np.random.default_rng(0)
    names = ["walk", "sit down", "wave", "kick"]
    emb = {n: v for n, v in zip(names + ["n0", "n1"], np.eye(6), strict=True)}

    def text(texts):
        return np.stack([emb[t] for t in texts])

    text.raw = text
    train = _Train(np.zeros((4, 3)), np.zeros((4, 2)), np.arange(4), names)
    x = rng.normal(size=(5, 3))
    src = rng.normal(0, 3, (5, 4))

    def lin(z):
        return src[: len(z)]

    labels = [LabelEntry("kick"), LabelEntry("walk")]
    s = _synth_scores(train, lin, x, rng.normal(size=(5, 2)), text, labels, ["n0", "n1"], 1e-6, "sources")
    assert s.shape == (5, 2) and np.allclose(s.sum(1), 1.0)
    assert np.array_equal(s.argmax(1), (src[:, 0] > src[:, 3]).astype(int))  # kick vs walk: their own logits
    both = _synth_scores(train, lin, x, rng.normal(size=(5, 2)), text, labels, ["n0", "n1"], 1e-6, "sources+ntu")
    assert np.array_equal(both.argmax(1), s.argmax(1))


def test_ensemble_extractor_puts_features_side_by_side_and_averages_logits(tmp_path):
    from sadvae.features import EnsembleExtractor, ShiftGCNExtractor, shiftgcn_extractor

    class Member:
        def __init__(self, k, width):
            self.id, self.settings, self.k, self.width = f"fake:{k}", {"k": k}, k, width

        def __call__(self, seqs):
            n = len(seqs)
            return np.full((n, 2), self.k, np.float32), np.full((n, self.width), 10.0 * self.k, np.float32)

    ens = EnsembleExtractor([Member(1, 3), Member(3, 3)])
    f, lg = ens([None, None])
    assert f.tolist() == [[1, 1, 3, 3]] * 2 and np.allclose(lg, 20.0) and lg.shape == (2, 3)
    assert ens.id == "ensemble:fake:1+fake:3" and len(ens.settings["members"]) == 2
    with pytest.raises(ConfigError, match="disagree on their classes"):
        EnsembleExtractor([Member(1, 3), Member(2, 4)])([None])
    with pytest.raises(ConfigError, match="at least two"):
        EnsembleExtractor([Member(1, 3)])
    a, b = tmp_path / "a.pt", tmp_path / "b.pt"
    a.write_bytes(b"a")
    b.write_bytes(b"b")
    one = shiftgcn_extractor(str(a), 64, 32)
    assert isinstance(one, ShiftGCNExtractor) and one.weights == a
    two = shiftgcn_extractor(f"{a}+{b}", 64, 32)  # "a+b": an ensemble; the files are read only when used
    assert isinstance(two, EnsembleExtractor) and [m.weights for m in two.members] == [a, b]
    with pytest.raises(ConfigError, match="not found"):
        shiftgcn_extractor(f"{a}+{tmp_path / 'missing.pt'}", 64, 32)
    with pytest.raises(ConfigError, match="an empty name between"):
        shiftgcn_extractor(f"{a}+", 64, 32)


def test_an_ensemble_with_fine_tuned_methods_is_refused_before_any_extraction(shared_data, tmp_path):
    # Until 5 December 2026 (late) per-window methods (joint, --features windows) were refused too: an ensemble had no
    # per-window features. EnsembleExtractor.windows / encode give them now (the default recipe trains on them);
    # only the methods that fine-tune one network's units stay refused.
    from sadvae.train.cross_dataset import CrossDatasetConfig, run_cross_dataset

    for methods in (("tuned",), ("fused", "tuned_frozen")):
        cfg = CrossDatasetConfig(
            target="utkinect", methods=methods, weights="ntu120_xsub+ntu120_xsetup", feature_dir=str(tmp_path / "f")
        )
        with pytest.raises(ConfigError, match="tune one network's units"):
            run_cross_dataset(cfg, tmp_path / "xd")
    assert not (tmp_path / "f").exists()


def _clusters(rng, n_per: int, labels: int = 3, dim: int = 16):
    """Well-separated Gaussian clusters, one per label: (features [n, dim], truth [n])."""
    centres = rng.normal(size=(labels, dim)) * 3.0
    truth = np.repeat(np.arange(labels), n_per)
    return centres[truth] + rng.normal(size=(len(truth), dim)), truth


def _noisy_prior(rng, truth, labels: int, wrong: float):
    """Label scores whose argmax is wrong for a ``wrong`` fraction of clips (a weak zero-shot prior)."""
    p = np.full((len(truth), labels), 0.1)
    best = truth.copy()
    flip = rng.random(len(truth)) < wrong
    best[flip] = (truth[flip] + rng.integers(1, labels, flip.sum())) % labels
    p[np.arange(len(truth)), best] = 0.6
    return p / p.sum(1, keepdims=True)


@pytest.mark.parametrize("kind", ["proto", "linear"])
def test_self_labelling_on_unlabelled_clips_corrects_a_noisy_prior(kind):
    from sadvae.train.cross_dataset import adapt_scores

    rng = np.random.default_rng(0)
    x_pool, t_pool = _clusters(rng, 60)
    x_test, t_test = x_pool[::2] + rng.normal(size=x_pool[::2].shape) * 0.1, t_pool[::2]
    prior_pool, prior_test = _noisy_prior(rng, t_pool, 3, 0.4), _noisy_prior(rng, t_test, 3, 0.4)
    before = (prior_test.argmax(1) == t_test).mean()
    s = adapt_scores(prior_pool, prior_test, x_pool, x_test, {"kind": kind, "weight": 1.0, "keep": 0.5})
    assert before < 0.7 and (s.argmax(1) == t_test).mean() > 0.95
    assert s.shape == prior_test.shape and np.allclose(s.sum(1), 1.0)


def test_self_labelling_off_or_without_unlabelled_clips_is_the_prior():
    from sadvae.train.cross_dataset import ADAPT_GRID, adapt_scores

    rng = np.random.default_rng(1)
    x, t = _clusters(rng, 10)
    prior = _noisy_prior(rng, t, 3, 0.4)
    assert ADAPT_GRID[0] == {"kind": "off"}
    assert adapt_scores(prior, prior, x, x, ADAPT_GRID[0]) is prior
    empty = np.zeros((0, 3))
    assert adapt_scores(empty, prior, x[:0], x, {"kind": "proto", "weight": 1.0, "keep": 1.0}) is prior
    with pytest.raises(ConfigError, match="adaptation kind"):
        adapt_scores(prior, prior, x, x, {"kind": "kmeans", "weight": 1.0, "keep": 1.0})


def test_a_label_no_unlabelled_clip_resembles_keeps_its_prior_share():
    """The refinement mixes with the prior: a label that wins no pool clip is not removed from the test side."""
    from sadvae.train.cross_dataset import adapt_scores

    rng = np.random.default_rng(2)
    x, t = _clusters(rng, 20, labels=2)
    prior = np.column_stack([_noisy_prior(rng, t, 2, 0.0), np.zeros(len(t))])  # label 2 never wins the pool
    test = np.array([[0.1, 0.1, 0.8]])
    s = adapt_scores(prior, test, x, x[:1], {"kind": "linear", "weight": 0.5, "keep": 1.0})
    assert s[0, 2] == pytest.approx(0.4)  # half its prior: the classifier half knows it not, the prior half does


@pytest.mark.slow
def test_fused_adapt_end_to_end_selects_on_the_sources_and_reads_the_targets_training_side(shared_data, tmp_path):
    """fused_adapt on UTKinect from MSR and NW-UCLA (one clip a class and side): its refinement is selected on the
    two source folds from the grid ("off" included), the unlabelled pool is the target's training side, and the
    fused setting is fused's own."""
    if not SHIFTGCN.is_file():
        pytest.skip(f"Shift-GCN weights not found at {SHIFTGCN}")
    from sadvae.train.cross_dataset import ADAPT_GRID, CrossDatasetConfig, run_cross_dataset

    cfg = CrossDatasetConfig(
        target="utkinect",
        sources=("msr_action3d", "nw_ucla"),
        methods=("fused", "fused_adapt"),
        limit_per_class=1,
        feature_dir=str(tmp_path / "feats"),
        threads=1,
    )
    report = run_cross_dataset(cfg, tmp_path / "xd")
    fused, adapted = report["methods"]["fused"], report["methods"]["fused_adapt"]
    info = adapted["info"]
    assert info["unlabelled_clips"] == 10 and report["test_samples"] == 10
    assert info["adaptation"]["setting"] in ADAPT_GRID and info["adaptation"]["folds"] == ["msr_action3d", "nw_ucla"]
    assert len(info["adaptation"]["grid"]) == len(ADAPT_GRID)
    assert all(len(g["folds"]) == 2 for g in info["adaptation"]["grid"])
    assert info["selection"]["setting"] == fused["info"]["selection"]["setting"]
    if info["adaptation"]["setting"] == ADAPT_GRID[0]:
        assert adapted["confusion"] == fused["confusion"]


def test_balanced_shares_give_a_label_that_never_wins_its_surest_clips():
    from sadvae.head.examples import surest_share
    from sadvae.train.cross_dataset import balanced_shares

    rng = np.random.default_rng(3)
    scores = rng.dirichlet(np.ones(3), size=30)
    scores[:, 2] = 0.5 * scores[:, :2].min(1)  # label 2 always outscored, more in some clips than in others
    scores /= scores.sum(1, keepdims=True)
    assert 2 not in surest_share(scores, 0.5)
    b = balanced_shares(scores)
    assert np.allclose(b.sum(1), 1.0) and np.allclose(b.sum(0), len(scores) / 3, rtol=1e-3)
    assert 2 in surest_share(b, 0.5)
    assert surest_share(b, 0.5)[2][0] == np.argmax(scores[:, 2])  # its surest clip is where it scores highest
