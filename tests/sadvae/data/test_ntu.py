from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sadvae.data.ntu import (
    load_class_names,
    load_missing_list,
    load_ntu_dir,
    parse_ntu_name,
    read_ctrgcn_npz,
    read_ntu_skeleton,
    read_ntu_skeleton_color,
    read_txt2npy,
)
from sadvae.errors import ConfigError, DataFormatError

REAL_FRAMES = {  # file -> frames in the file (A001 drink water, A011 reading, ..., A058 handshaking)
    "S001C001P001R001A001": 103,
    "S001C001P001R001A011": 82,
    "S002C001P003R001A003": 100,
    "S003C001P015R001A034": 71,
    "S004C002P003R001A017": 124,
    "S001C003P008R002A058": 70,
}


# --------------------------------------------------------------------------- synthetic .skeleton files


def person(t: int, x0: float = 0.0, amp: float = 0.1, wide: bool = False) -> np.ndarray:
    """A standing body [25, 3] (taller than wide, or wider than tall) whose arms swing with ``amp``."""
    j = np.arange(25, dtype=np.float64)
    xyz = np.stack([x0 + 0.01 * j, 0.07 * j, 3.0 + 0.001 * j], axis=1)
    if wide:
        xyz[:, [0, 1]] = xyz[:, [1, 0]]
    xyz[4:12, 1] += amp * np.sin(t / 3.0 + j[4:12])
    return np.round(xyz, 6)


def skeleton_text(frames: list[list[tuple[str, np.ndarray]]], nl: str = "\n") -> str:
    out = [str(len(frames))]
    for bodies in frames:
        out.append(str(len(bodies)))
        for body_id, xyz in bodies:
            out += [f"{body_id} 0 1 1 1 1 0 0.01 0.02 2", "25"]
            out += [
                f"{x:.6f} {y:.6f} {z:.6f} 250.5 180.25 {1000 + 100 * x:.3f} {500 - 100 * y:.3f} 0 0 0 1 2"
                for x, y, z in xyz
            ]
    return nl.join(out) + nl


def write(path: Path, frames: list[list[tuple[str, np.ndarray]]], nl: str = "\n") -> Path:
    path.write_bytes(skeleton_text(frames, nl).encode())
    return path


def one_body(n: int = 30) -> list[list[tuple[str, np.ndarray]]]:
    return [[("72057594037931101", person(t))] for t in range(n)]


# --------------------------------------------------------------------------- names, class lists, missing lists


def test_parse_ntu_name() -> None:
    assert parse_ntu_name(Path("/x/S001C003P008R002A058.skeleton")) == {
        "setup": 1,
        "camera": 3,
        "performer": 8,
        "replication": 2,
        "action": 58,
    }
    assert parse_ntu_name("S017C001P020R002A120.skeleton.npy")["action"] == 120
    with pytest.raises(DataFormatError, match=r"readme.txt:file name: expected a name like S001C002P003R002A013"):
        parse_ntu_name("readme.txt")


def test_load_class_names(shared_data: Path, tmp_path: Path) -> None:
    names = load_class_names(shared_data / "labels/msf/lb_120.csv")  # 1-based idx
    assert len(names) == 120 and names[0] == "drink water" and names[57] == "handshaking"
    zero_based = tmp_path / "c.csv"
    zero_based.write_text('idx,label\n0,bow\n1,"clap, twice"\n')
    assert load_class_names(zero_based) == ("bow", "clap, twice")
    gap = tmp_path / "gap.csv"
    gap.write_text("idx,label\n1,a\n3,c\n")
    with pytest.raises(DataFormatError, match=r"gap.csv:line 3: expected index 2, found 3"):
        load_class_names(gap)


def test_official_missing_lists(shared_data: Path, tmp_path: Path) -> None:
    ntu60 = load_missing_list(shared_data / "ntu/NTU_RGBD_samples_with_missing_skeletons.txt")
    ntu120 = load_missing_list(shared_data / "ntu/NTU_RGBD120_samples_with_missing_skeletons.txt")
    assert (len(ntu60), len(ntu120)) == (302, 535)  # the counts their prose headers state
    assert "S001C002P005R002A008" in ntu60 and ntu60 <= ntu120
    assert not set(REAL_FRAMES) & ntu120
    prose = tmp_path / "prose.txt"
    prose.write_text("nothing to see here\n")
    with pytest.raises(DataFormatError, match="prose.txt: expected sample names"):
        load_missing_list(prose)


# --------------------------------------------------------------------------- real raw files


@pytest.mark.parametrize("name", sorted(REAL_FRAMES))
def test_real_skeleton_files(shared_data: Path, name: str) -> None:
    seq = read_ntu_skeleton(shared_data / "ntu" / f"{name}.skeleton")
    info = parse_ntu_name(name)
    assert seq.joints.shape == (REAL_FRAMES[name], 2, 25, 3) and seq.joints.dtype == np.float32
    assert (seq.label, seq.subject, seq.view, seq.fps) == (info["action"] - 1, info["performer"], info["camera"], 30.0)
    assert seq.num_persons == (2 if name.endswith("A058") else 1)
    z = seq.joints[..., 2][np.abs(seq.joints).sum(-1) > 0]
    assert 1.0 < z.min() and z.max() < 5.0  # metres from the sensor
    assert seq.defects == ()


def test_real_two_people_and_class_names(shared_data: Path) -> None:
    names = load_class_names(shared_data / "labels/msf/lb_120.csv")
    seq = read_ntu_skeleton(shared_data / "ntu/S001C003P008R002A058.skeleton", class_names=names)
    assert seq.label_name == "handshaking"
    assert (np.abs(seq.joints).sum(axis=(2, 3)) > 0).all()  # both people in every frame
    one = read_ntu_skeleton(shared_data / "ntu/S001C003P008R002A058.skeleton", max_persons=1)
    assert one.joints.shape == (70, 1, 25, 3)
    assert "1 tracked bodies left out" in one.defects[0]
    with pytest.raises(ConfigError, match="max_persons must be >= 1, got 0"):
        read_ntu_skeleton(shared_data / "ntu/S001C003P008R002A058.skeleton", max_persons=0)


def test_real_color_coordinates(shared_data: Path) -> None:
    color = read_ntu_skeleton_color(shared_data / "ntu/S001C001P001R001A001.skeleton")
    assert color.shape == (103, 2, 25, 2) and color.dtype == np.float32
    assert (0 < color[:, 0, :, 0]).all() and (color[:, 0, :, 0] < 1920).all()
    assert (0 < color[:, 0, :, 1]).all() and (color[:, 0, :, 1] < 1080).all()
    assert not color[:, 1].any()
    assert np.allclose(color[0, 0, 0], (1036.233, 519.1677))  # first joint line of the file


def test_txt2npy_matches_raw(shared_data: Path) -> None:
    npy = read_txt2npy(shared_data / "ntu/txt2npy/S001C001P001R001A001.skeleton.npy")
    raw = read_ntu_skeleton(shared_data / "ntu/S001C001P001R001A001.skeleton")
    assert npy.joints.shape == raw.joints.shape == (103, 2, 25, 3)
    np.testing.assert_allclose(npy.joints, raw.joints, atol=1e-4)
    assert (npy.label, npy.subject, npy.view) == (raw.label, raw.subject, raw.view)
    a012 = read_txt2npy(shared_data / "ntu/txt2npy/S001C001P001R001A012.skeleton.npy")
    assert a012.joints.shape == (102, 2, 25, 3) and a012.label == 11 and a012.num_persons == 1


def test_load_real_ntu_dir(shared_data: Path) -> None:
    ds = load_ntu_dir(shared_data / "ntu")  # picks up both official missing lists in the folder
    assert sorted(Path(s.source).name.split(".")[0] for s in ds.sequences) == sorted(REAL_FRAMES)
    assert ds.rejected == [] and len(ds.class_names) == 60 and ds.class_names[57] == "A058"


# --------------------------------------------------------------------------- synthetic raw files


def test_lf_and_crlf_read_the_same(tmp_path: Path) -> None:
    lf = read_ntu_skeleton(write(tmp_path / "S001C001P001R001A001.skeleton", one_body()))
    crlf = read_ntu_skeleton(write(tmp_path / "S001C001P001R001A002.skeleton", one_body(), "\r\n"))
    np.testing.assert_array_equal(lf.joints, crlf.joints)
    np.testing.assert_allclose(lf.joints[5, 0], person(5), atol=1e-6)


def test_main_actors_by_energy_with_denoising(tmp_path: Path) -> None:
    frames = []
    for t in range(40):
        bodies = [("1", person(t, 0.0, amp=0.02)), ("2", person(t, 1.0, amp=0.3)), ("3", person(t, -1, 0.5, wide=True))]
        if t < 5:
            bodies.append(("4", person(t, 2.0, amp=0.9)))  # short-lived: noise
        frames.append(bodies)
    seq = read_ntu_skeleton(write(tmp_path / "S001C001P002R001A050.skeleton", frames))
    np.testing.assert_allclose(seq.joints[:, 0], np.stack([person(t, 1.0, 0.3) for t in range(40)]), atol=1e-6)
    np.testing.assert_allclose(seq.joints[:, 1], np.stack([person(t, 0.0, 0.02) for t in range(40)]), atol=1e-6)
    assert any("tracked in < 11 frames" in d for d in seq.defects)
    assert any("wider than tall" in d for d in seq.defects)


def test_body_id_change_stays_in_one_slot(tmp_path: Path) -> None:
    frames = [[("1", person(t, 0.0, 0.3)), ("2" if t < 20 else "3", person(t, 1.0, 0.1))] for t in range(40)]
    seq = read_ntu_skeleton(write(tmp_path / "S001C001P002R001A050.skeleton", frames))
    assert seq.num_persons == 2 and (np.abs(seq.joints[:, 1]).sum(axis=(1, 2)) > 0).all()
    assert "1 bodyID changes merged into one person slot" in seq.defects


def test_frames_without_bodies_are_kept(tmp_path: Path) -> None:
    frames = [[] for _ in range(5)] + one_body(25)
    seq = read_ntu_skeleton(write(tmp_path / "S001C001P001R001A001.skeleton", frames))
    assert seq.num_frames == 30 and not seq.joints[:5].any() and seq.joints[5:, 0].any()
    assert "5 of 30 frames have no skeleton" in seq.defects
    with pytest.raises(DataFormatError, match="no skeleton in any of the 3 frames"):
        read_ntu_skeleton(write(tmp_path / "S001C001P001R001A002.skeleton", [[], [], []]))


def test_unlabelled_name_is_noted(tmp_path: Path) -> None:
    seq = read_ntu_skeleton(write(tmp_path / "clip.skeleton", one_body()))
    assert seq.label is None and "no label" in seq.defects[0]


# line numbers with one body per frame: frame t (0-based) starts at 2 + 28 t; joints at 5 + 28 t ... 29 + 28 t
def test_truncated_inside_a_joint_block(tmp_path: Path) -> None:
    path = tmp_path / "S001C001P001R001A001.skeleton"
    text = skeleton_text(one_body(3))
    path.write_text(text[: len("\n".join(text.split("\n")[:41])) - 9])  # cut inside line 41: joint 9 of frame 2
    with pytest.raises(DataFormatError) as e:
        read_ntu_skeleton(path)
    assert str(e.value).startswith(f"{path}:line 42: file ends inside the joint block of body 1 of frame 2")
    assert "expected 25 joint lines, found 9" in str(e.value)


def test_truncated_at_the_last_joint_line(tmp_path: Path) -> None:
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_text(skeleton_text(one_body(2)).rstrip("\n")[:-15])
    with pytest.raises(DataFormatError, match=r"A001.skeleton:line 57: expected 12 numbers \(x y z depthX"):
        read_ntu_skeleton(path)


def test_garbled_number(tmp_path: Path) -> None:
    lines = skeleton_text(one_body(3)).split("\n")
    lines[35] = "0.1x3" + lines[35][lines[35].index(" ") :]  # line 36: joint 4 of frame 2, still 12 tokens
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_text("\n".join(lines))
    with pytest.raises(DataFormatError) as e:
        read_ntu_skeleton(path)
    assert str(e.value) == f"{path}:line 36: expected 12 finite numbers (x y z depthX depthY colorX colorY " + (
        "orientationW orientationX orientationY orientationZ trackingState), found '0.1x3'"
    )


def test_wrong_joint_count(tmp_path: Path) -> None:
    lines = skeleton_text(one_body(3)).split("\n")
    assert lines[59] == "25"
    lines[59] = "20"  # line 60: joint count of frame 3
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_text("\n".join(lines))
    with pytest.raises(
        DataFormatError, match=r"A001.skeleton:line 60: expected joint count 25 for body 1 of frame 3, found 20"
    ):
        read_ntu_skeleton(path)


def test_empty_and_other_structure_errors(tmp_path: Path) -> None:
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_text("")
    with pytest.raises(DataFormatError, match=r"A001.skeleton:line 1: expected the frame count, found end of file"):
        read_ntu_skeleton(path)
    path.write_text(skeleton_text(one_body(2)) + "junk\n")
    with pytest.raises(DataFormatError, match=r"line 58: expected end of file after 2 frames"):
        read_ntu_skeleton(path)
    path.write_text(skeleton_text(one_body(2)).replace("72057594037931101 0 1 1 1 1 0 0.01 0.02 2", "1 2 3", 1))
    with pytest.raises(DataFormatError, match=r"line 3: expected the 10-value info line of body 1 of frame 1"):
        read_ntu_skeleton(path)
    path.write_bytes(b"\xff\xfe3\n")
    with pytest.raises(DataFormatError, match="expected a text file"):
        read_ntu_skeleton(path)


# --------------------------------------------------------------------------- txt2npy


def test_txt2npy_synthetic_and_refusals(tmp_path: Path) -> None:
    t = 20
    still = np.stack([person(i, 0.0, 0.01) for i in range(t)])
    moving = np.stack([person(i, 1.0, 0.4) for i in range(t)])
    good = {
        "file_name": "S001C001P001R001A050",
        "nbodys": [2] * t,
        "njoints": 25,
        "skel_body0": still,
        "skel_body1": moving,
        "rgb_body0": np.zeros((t, 25, 2)),
    }
    path = tmp_path / "x.skeleton.npy"
    np.save(path, good, allow_pickle=True)
    seq = read_txt2npy(path)
    assert seq.label == 49 and seq.num_persons == 2
    np.testing.assert_allclose(seq.joints[:, 0], moving, atol=1e-6)  # most motion first

    np.save(path, np.zeros((3, 25, 3)))
    with pytest.raises(DataFormatError, match=r"x.skeleton.npy:header: expected a 0-d object array"):
        read_txt2npy(path)
    np.save(path, np.array([1, 2], dtype=object), allow_pickle=True)
    with pytest.raises(DataFormatError, match="0-d object array"):
        read_txt2npy(path)
    np.save(path, np.array("a string", dtype=object), allow_pickle=True)
    with pytest.raises(DataFormatError, match=r"x.skeleton.npy:root: expected a dict"):
        read_txt2npy(path)
    np.save(path, {k: v for k, v in good.items() if k != "skel_body1"}, allow_pickle=True)
    with pytest.raises(DataFormatError, match=r"x.skeleton.npy:key 'skel_body1': expected \[20, 25, 3\] joints"):
        read_txt2npy(path)
    np.save(path, {**good, "njoints": 20}, allow_pickle=True)
    with pytest.raises(DataFormatError, match=r"key 'njoints': expected 25, found 20"):
        read_txt2npy(path)
    path.write_text("not numpy")
    with pytest.raises(DataFormatError, match="header: expected an .npy file"):
        read_txt2npy(path)


# --------------------------------------------------------------------------- CTR-GCN npz


def test_ctrgcn_npz(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = np.zeros((3, 300, 150), np.float32)
    x[0, :50] = rng.normal(size=(50, 150))
    x[1] = rng.normal(size=(300, 150))
    y_train = np.eye(60, dtype=np.float32)[[4, 7, 9]]
    path = tmp_path / "NTU60_CS.npz"
    np.savez(path, x_train=x, y_train=y_train, x_test=x[:2], y_test=np.array([58, 0]))
    ds = read_ctrgcn_npz(path, split="train")
    assert [s.num_frames for s in ds.sequences] == [50, 300] and [s.label for s in ds.sequences] == [4, 7]
    assert ds.sequences[0].defects == ("trimmed 250 trailing all-zero padding frames",) and not ds.sequences[1].defects
    np.testing.assert_array_equal(ds.sequences[0].joints, x[0, :50].reshape(50, 2, 25, 3))
    assert ds.rejected == [(f"{path}#train/2", "all frames are zero")] and len(ds.class_names) == 60
    test = read_ctrgcn_npz(path, split="test")
    assert [s.label for s in test.sequences] == [58, 0] and test.sequences[0].source == f"{path}#test/0"

    with pytest.raises(ConfigError, match="split must be 'train' or 'test'"):
        read_ctrgcn_npz(path, split="val")
    np.savez(path, x_train=x, y_train=y_train)
    with pytest.raises(DataFormatError, match=r"NTU60_CS.npz:key 'x_test': expected x_train, y_train, x_test, y_test"):
        read_ctrgcn_npz(path)
    np.savez(path, x_test=x, y_test=y_train * 2)
    with pytest.raises(DataFormatError, match=r"key 'y_test': expected one-hot rows"):
        read_ctrgcn_npz(path, split="test")
    np.savez(path, x_test=x[:, :, :100], y_test=y_train)
    with pytest.raises(DataFormatError, match=r"key 'x_test': expected numbers \[N, T, M \* 75\]"):
        read_ctrgcn_npz(path, split="test")
    np.savez(path, x_test=np.array([{"a": 1}] * 3, dtype=object), y_test=y_train)
    with pytest.raises(DataFormatError, match="without pickles"):
        read_ctrgcn_npz(path, split="test")


def _ctrgcn_file(path: Path) -> Path:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 20, 150)).astype(np.float32)
    np.savez(path, x_train=x[:3], y_train=np.array([0, 1, 2]), x_test=x[3:], y_test=np.array([1, 3]))
    return path


def test_ctrgcn_npz_keeps_both_halves_and_each_ones_side(tmp_path: Path) -> None:
    """Review of 6 December 2026: `sadvae data inspect`/`import` read only the test half of a CTR-GCN file."""
    from sadvae.data.registry import read_path
    from sadvae.data.splits import test_side_mask
    from sadvae.data.user_format import CLIP_SPLIT_PROTOCOL

    path = _ctrgcn_file(tmp_path / "NTU60_CS.npz")
    for ds in (read_ctrgcn_npz(path), read_path(path)):
        assert [s.label for s in ds.sequences] == [0, 1, 2, 1, 3] and len(ds.class_names) == 4
        assert [s.split for s in ds.sequences] == ["train"] * 3 + ["test"] * 2
        assert ds.sequences[3].source == f"{path}#test/0" and ds.protocol == CLIP_SPLIT_PROTOCOL
        assert test_side_mask(ds, ds.name).tolist() == [False] * 3 + [True] * 2


def test_importing_a_ctrgcn_file_keeps_its_own_split(tmp_path: Path, capsys) -> None:
    """`import --split train` labelled the file's test samples as training ones: it is refused; without it the file's
    own halves give each clip its side."""
    from sadvae.cli import main
    from sadvae.data.user_format import read_clip_dataset

    path = _ctrgcn_file(tmp_path / "NTU60_CS.npz")
    out = tmp_path / "clips"
    assert main(["data", "import", str(path), "--split", "train", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--split train:" in err[0] and "2 of 5 are on the test side" in err[0]
    assert "Drop --split" in err[0] and not out.exists()
    assert main(["data", "import", str(path), "--out", str(out)]) == 0
    assert "split 3 train / 2 test (clip_split)" in capsys.readouterr().out
    assert [s.split for s in read_clip_dataset(out).sequences] == ["train"] * 3 + ["test"] * 2


# --------------------------------------------------------------------------- folder


def test_load_ntu_dir_rejects_with_reasons(tmp_path: Path) -> None:
    write(tmp_path / "S001C001P001R001A001.skeleton", one_body())
    write(tmp_path / "S001C002P005R002A008.skeleton", one_body())
    (tmp_path / "S001C001P001R001A002.skeleton").write_text("3\n1\n")
    write(tmp_path / "notes.skeleton", one_body())
    np.save(tmp_path / "S001C001P001R001A001.skeleton.npy", {"nbodys": [1]}, allow_pickle=True)
    missing = tmp_path / "lists" / "NTU_RGBD_samples_with_missing_skeletons.txt"
    missing.parent.mkdir()
    missing.write_text(
        "2 of the captured samples have missing skeletons.\n\nS001C002P005R002A008\nS009C001P001R001A001\n"
    )
    names = tuple(f"class {i}" for i in range(60))
    ds = load_ntu_dir(tmp_path, missing_lists=[missing], class_names=names)
    assert [Path(s.source).name for s in ds.sequences] == ["S001C001P001R001A001.skeleton"]
    assert ds.sequences[0].label_name == "class 0" and ds.class_names == names
    reasons = {Path(src).name: why for src, why in ds.rejected}
    assert reasons["S001C002P005R002A008.skeleton"].startswith("listed in NTU_RGBD_samples_with_missing_skeletons.txt")
    assert "line 3: expected the info line" in reasons["S001C001P001R001A002.skeleton"].replace("10-value ", "")
    assert "file name: expected a name like" in reasons["notes.skeleton"]
    assert reasons["S001C001P001R001A001.skeleton.npy"] == "duplicate of S001C001P001R001A001.skeleton"
    with pytest.raises(ConfigError, match="no \\*.skeleton"):
        load_ntu_dir(missing.parent)
