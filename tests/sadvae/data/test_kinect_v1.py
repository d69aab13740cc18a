from __future__ import annotations

import collections
import json
import re
from pathlib import Path

import numpy as np
import pytest

from sadvae.data.kinect_v1 import (
    MSR_FPS,
    MSR_TO_KINECT_SDK,
    NW_UCLA_FPS,
    UTKINECT_FPS,
    load_msr_action3d,
    load_nw_ucla,
    load_utkinect,
    read_msr_file,
    read_nw_ucla_file,
    read_utkinect_joints,
    read_utkinect_labels,
    unread_files,
)
from sadvae.data.preprocess import PreprocessConfig, preprocess
from sadvae.errors import ConfigError, DataFormatError
from sadvae.skeleton import KinectV1Joint as K1
from sadvae.skeleton import NTUJoint as J
from sadvae.skeleton import kinect_v1_to_ntu25

RNG = np.random.default_rng(0)


def _k1_pose(t: int) -> np.ndarray:
    """Synthetic Kinect v1 poses [t, 20, 3]: every joint distinct and non-zero."""
    return (RNG.uniform(-1.0, 1.0, size=(t, 20, 3)) + np.array([0.0, 0.0, 3.0])).round(6)


def _write_classes(root: Path, rows: list[tuple[str, str]]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.txt").write_text("".join(f"{a}\t{n}\n" for a, n in rows))


# ------------------------------------------------------------------------------------------ MSR Action3D
def _msr_rows(k1: np.ndarray) -> np.ndarray:
    """Kinect SDK order [T, 20, 3] -> the file's rows [T*20, 4] in MSR order (c = 1)."""
    msr = np.empty_like(k1)
    msr[:, list(MSR_TO_KINECT_SDK)] = k1
    return np.concatenate([msr, np.ones(msr.shape[:2] + (1,))], axis=-1).reshape(-1, 4)


def _write_msr(path: Path, rows: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(" ".join(f"{v:.6f}" for v in r) + "\n" for r in rows))
    return path


@pytest.fixture
def msr_root(tmp_path: Path) -> Path:
    root = tmp_path / "msr"
    _write_classes(root, [("1", "high arm wave"), ("2", "hammer")])
    data = root / "MSRAction3DSkeletonReal3D"
    _write_msr(data / "a01_s01_e01_skeleton3D.txt", _msr_rows(_k1_pose(5)))
    gappy = _k1_pose(8)
    gappy[[0, 3, 4, 7]] = 0.0  # leading, inner and trailing untracked frames
    _write_msr(data / "a02_s03_e02_skeleton3D.txt", _msr_rows(gappy))
    _write_msr(data / "a02_s04_e01_skeleton3D.txt", np.zeros((3 * 20, 4)))
    return root


def test_msr_loader_labels_order_and_conversion(msr_root):
    ds = load_msr_action3d(msr_root)
    assert ds.name == "msr_action3d" and ds.class_names == ("high arm wave", "hammer")
    assert [Path(s.source).name for s in ds.sequences] == ["a01_s01_e01_skeleton3D.txt", "a02_s03_e02_skeleton3D.txt"]
    a, b = ds.sequences
    assert (a.label, a.label_name, a.subject, a.view, a.fps) == (0, "high arm wave", 1, None, MSR_FPS)
    assert (b.label, b.label_name, b.subject) == (1, "hammer", 3)
    assert a.joints.shape == (5, 1, 25, 3) and a.joints.dtype == np.float32
    assert a.timestamps is None and a.defects == ()
    # the MSR rows were reordered to Kinect SDK order before the NTU conversion
    raw = np.loadtxt(msr_root / "MSRAction3DSkeletonReal3D" / "a01_s01_e01_skeleton3D.txt").reshape(5, 20, 4)
    np.testing.assert_allclose(a.joints[:, 0, J.SPINE_BASE], raw[:, 6, :3], atol=1e-6)  # MSR 7: hip centre
    np.testing.assert_allclose(a.joints[:, 0, J.HEAD], raw[:, 19, :3], atol=1e-6)  # MSR 20: head
    np.testing.assert_allclose(a.joints[:, 0, J.SHOULDER_LEFT], raw[:, 0, :3], atol=1e-6)  # MSR 1
    np.testing.assert_allclose(a.joints[:, 0, J.FOOT_RIGHT], raw[:, 18, :3], atol=1e-6)  # MSR 19


def test_msr_zero_frames_dropped_and_timed(msr_root):
    ds = load_msr_action3d(msr_root)
    b = ds.sequences[1]
    assert b.num_frames == 4
    np.testing.assert_allclose(b.timestamps, np.array([0, 1, 4, 5]) / MSR_FPS)  # kept frames 1, 2, 5, 6
    assert b.defects == ("dropped 4 all-zero (untracked) frames of 8",)
    assert ds.rejected == [
        (
            str(msr_root / "MSRAction3DSkeletonReal3D" / "a02_s04_e01_skeleton3D.txt"),
            "all 3 frames are zero (the skeleton was never tracked)",
        )
    ]
    with pytest.raises(DataFormatError, match=r"a02_s04_e01_skeleton3D.txt: no usable frame: all 3 frames are zero"):
        read_msr_file(msr_root / "MSRAction3DSkeletonReal3D" / "a02_s04_e01_skeleton3D.txt")


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        (
            "1 2 3 1\n" * 30,
            "line 21",
            r"expected 20 rows a frame \(MSR Action3D's 20 joints\), found 30 rows, not a whole number of frames: "
            r"frame 2 is truncated, or the file has another joint count",
        ),
        ("1 2 3 1\n" * 20 + "1 2 3\n", "line 21", r"expected 4 numbers \(x y z c\), found 3"),
        ("1 2 3 1\n" * 7 + "1 2 abc 1\n" + "1 2 3 1\n" * 12, "line 8", r"expected 4 finite numbers .*, found 'abc'"),
        ("1 2 3 1\n" * 19 + "1 nan 3 1\n", "line 20", r"expected 4 finite numbers \(x y z c\), found 'nan'"),
    ],
)
def test_msr_garbled(tmp_path, text, where, problem):
    path = tmp_path / "a01_s01_e01_skeleton3D.txt"
    path.write_text(text)
    with pytest.raises(DataFormatError, match=rf"a01_s01_e01_skeleton3D.txt:{where}: {problem}") as e:
        read_msr_file(path)
    assert e.value.where == where


def test_msr_empty_binary_and_missing(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(DataFormatError, match=r"empty.txt: empty file; expected lines of 4 numbers"):
        read_msr_file(empty)
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(DataFormatError, match="expected a text file, found undecodable bytes"):
        read_msr_file(binary)
    with pytest.raises(DataFormatError, match="nope.txt: file not found"):
        read_msr_file(tmp_path / "nope.txt")


def test_missing_root_classes_and_data(tmp_path, msr_root):
    with pytest.raises(ConfigError, match=r"absent: msr_action3d folder not found; pass the folder that holds classes"):
        load_msr_action3d(tmp_path / "absent")
    (msr_root / "classes.txt").unlink()
    with pytest.raises(DataFormatError, match=r"classes.txt: not found; restore it from the dataset release"):
        load_msr_action3d(msr_root)
    bare = tmp_path / "bare"
    bare.mkdir()
    with pytest.raises(DataFormatError, match=r"bare/all_sqe: folder not found; the nw_ucla folder must hold all_sqe/"):
        load_nw_ucla(bare)
    with pytest.raises(ConfigError, match="utkinect_action3d folder not found"):
        load_utkinect(tmp_path / "absent")


def test_bad_classes_and_unknown_action(msr_root):
    (msr_root / "classes.txt").write_text("1\thigh arm wave\n2 hammer\n")
    with pytest.raises(DataFormatError, match=r"classes.txt:line 2: expected `<action id><TAB><class name>`"):
        load_msr_action3d(msr_root)
    (msr_root / "classes.txt").write_text("1\thigh arm wave\n")
    with pytest.raises(DataFormatError, match=r"a02_s03_e02_skeleton3D.txt:file name: action a02 is not in"):
        load_msr_action3d(msr_root)


# ----------------------------------------------------------------------------------------------- NW-UCLA
def _write_ucla(data: Path, stem: str, k1: np.ndarray, label: int) -> Path:
    data.mkdir(parents=True, exist_ok=True)
    path = data / f"{stem}.json"
    path.write_text(json.dumps({"file_name": stem, "skeletons": k1.tolist(), "label": label}))
    return path


@pytest.fixture
def ucla_root(tmp_path: Path) -> Path:
    root = tmp_path / "ucla"
    _write_classes(root, [("1", "pick up with one hand"), ("4", "walk around"), ("12", "carry")])
    data = root / "all_sqe"
    _write_ucla(data, "a12_s02_e01_v03", _k1_pose(4), 3)
    _write_ucla(data, "a04_s01_e00_v01", _k1_pose(6), 2)
    _write_ucla(data, "a01_s09_e04_v02", _k1_pose(1), 1)
    return root


def test_nw_ucla_loader(ucla_root):
    ds = load_nw_ucla(ucla_root)
    assert ds.name == "nw_ucla" and ds.rejected == [] and "view 3" in ds.protocol
    got = [(Path(s.source).stem, s.label, s.label_name, s.subject, s.view, s.num_frames) for s in ds.sequences]
    assert got == [
        ("a01_s09_e04_v02", 0, "pick up with one hand", 9, 2, 1),
        ("a04_s01_e00_v01", 1, "walk around", 1, 1, 6),
        ("a12_s02_e01_v03", 2, "carry", 2, 3, 4),
    ]
    single = ds.sequences[0]
    assert single.fps == NW_UCLA_FPS and single.defects[0].startswith("single frame; kept")
    raw = json.loads((ucla_root / "all_sqe" / "a04_s01_e00_v01.json").read_text())["skeletons"]
    np.testing.assert_allclose(ds.sequences[1].joints[:, 0, J.HEAD], np.array(raw)[:, K1.HEAD], atol=1e-6)


def test_nw_ucla_label_disagreement_raises(ucla_root):
    _write_ucla(ucla_root / "all_sqe", "a04_s01_e00_v01", _k1_pose(3), 4)
    with pytest.raises(DataFormatError, match=r"a04_s01_e00_v01.json:label: expected 2 \(action a04 is row 2"):
        load_nw_ucla(ucla_root)


@pytest.mark.parametrize(
    ("edit", "where", "problem"),
    [
        (lambda s: s[: len(s) // 2], "line 1", "expected JSON, found an error"),
        (lambda s: "[1, 2]", None, "expected a JSON object"),
        (lambda s: s.replace('"label"', '"lable"'), "label", "missing; expected"),
        (lambda s: s.replace('"label": 2', '"label": "2"'), "label", "expected int, found str"),
        (lambda s: s.replace('"file_name": "a04', '"file_name": "a05'), "file_name", "expected 'a04_s01_e00_v01'"),
        (lambda s: s.replace('"skeletons": [', '"skeletons": [[[0, 0, 1]], ', 1), "skeletons[0]", "expected 20 joints"),
        (lambda s: s.replace("[[[", "[[[1, ", 1), r"skeletons[0][0]", r"expected [x, y, z] finite numbers"),
        (lambda s: re.sub(r"\[\[\[[-0-9.e]+", "[[[NaN", s, count=1), "skeletons[0][0]", "finite numbers, found [nan,"),
        (
            lambda s: s.replace('"skeletons": [', '"skeletons": [], "x": [', 1),
            "skeletons",
            "expected at least one frame",
        ),
    ],
)
def test_nw_ucla_garbled(tmp_path, edit, where, problem):
    path = _write_ucla(tmp_path, "a04_s01_e00_v01", _k1_pose(2), 2)
    path.write_text(edit(path.read_text()))
    with pytest.raises(DataFormatError) as e:
        read_nw_ucla_file(path)
    assert e.value.where == where and problem in e.value.problem
    assert str(e.value).startswith(str(path))


# --------------------------------------------------------------------------------------------- UTKinect
def _write_utk_joints(path: Path, ids: list[int], k1: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = np.concatenate([np.array(ids, dtype=float)[:, None], k1.reshape(len(ids), 60)], axis=1)
    path.write_text("".join(f"{int(r[0])}  " + "  ".join(f"{v:.6f}" for v in r[1:]) + "  \n" for r in rows))
    return path


@pytest.fixture
def utk_root(tmp_path: Path) -> Path:
    root = tmp_path / "utk"
    _write_classes(root, [("walk", "walk"), ("sitDown", "sit down"), ("carry", "carry")])
    data = root / "joints"
    _write_utk_joints(data / "joints_s01_e01.txt", [10, 12, 12, 16, 20, 22, 30, 40], _k1_pose(8))
    _write_utk_joints(data / "joints_s02_e02.txt", [4, 8, 12], _k1_pose(3))
    (data / "actionLabel_modified.txt").write_text(
        "s02_e02\nwalk: 4 8\ncarry:  NaN NaN\ns01_e01\nsitDown: 20 40 \nwalk: 12 20\ncarry: 31 39\n"
    )
    return root


def test_utkinect_loader_segments(utk_root):
    ds = load_utkinect(utk_root)
    assert ds.name == "utkinect" and ds.class_names == ("walk", "sit down", "carry")
    got = [(Path(s.source).name, s.label, s.subject, s.num_frames) for s in ds.sequences]
    assert got == [
        ("joints_s01_e01.txt#walk@12-20", 0, 1, 3),  # ids 12, 16, 20: both bounds inclusive, repeated 12 dropped
        ("joints_s01_e01.txt#sitDown@20-40", 1, 1, 4),  # ids 20, 22, 30, 40 (20 shared with walk)
        ("joints_s02_e02.txt#walk@4-8", 0, 2, 2),
    ]
    walk = ds.sequences[0]
    np.testing.assert_allclose(walk.timestamps, [0.0, 4 / 30, 8 / 30])
    assert walk.fps == UTKINECT_FPS and walk.view is None
    assert walk.defects == ("dropped 1 row repeating the previous frame id (kept the first)",)
    raw = np.loadtxt(utk_root / "joints" / "joints_s01_e01.txt")
    np.testing.assert_allclose(walk.joints[0, 0, J.HEAD], raw[1, 1:].reshape(20, 3)[K1.HEAD], atol=1e-6)
    reasons = dict(ds.rejected)
    assert reasons[str(utk_root / "joints" / "joints_s02_e02.txt#carry")] == (
        "no segment bounds in actionLabel_modified.txt (NaN NaN)"
    )
    assert reasons[str(utk_root / "joints" / "joints_s01_e01.txt#carry")] == "no skeleton row with frame id in [31, 39]"


def test_a_utkinect_segment_past_the_end_of_its_recording_is_rejected_not_shortened(tmp_path):
    root = tmp_path / "utk"
    _write_classes(root, [("walk", "walk"), ("carry", "carry")])
    data = root / "joints"
    _write_utk_joints(data / "joints_s01_e01.txt", [10, 12, 16, 20, 22, 30], _k1_pose(6))
    (data / "actionLabel_modified.txt").write_text("s01_e01\nwalk: 10 20\ncarry: 22 40\n")  # the file ends at 30
    ds = load_utkinect(root)
    assert [Path(s.source).name for s in ds.sequences] == ["joints_s01_e01.txt#walk@10-20"]
    (source, reason), *_ = ds.rejected
    assert source.endswith("#carry") and "labelled frames 22-40 but joints_s01_e01.txt holds frame ids 10-30" in reason


def test_utkinect_whole_recording_reader(utk_root):
    seq = read_utkinect_joints(utk_root / "joints" / "joints_s01_e01.txt")
    assert seq.num_frames == 7 and seq.subject == 1 and seq.label is None
    np.testing.assert_allclose(seq.timestamps, (np.array([10, 12, 16, 20, 22, 30, 40]) - 10) / 30)


def test_utkinect_label_file_choice_and_unknown_action(utk_root):
    with pytest.raises(DataFormatError, match=r"actionLabel.txt: label file not found; use actionLabel_modified.txt"):
        load_utkinect(utk_root, label_file="actionLabel.txt")
    (utk_root / "joints" / "actionLabel_modified.txt").write_text("s01_e01\njump: 10 12\n")
    with pytest.raises(DataFormatError, match=r"actionLabel_modified.txt:line 2: action 'jump' is not in"):
        load_utkinect(utk_root)
    (utk_root / "joints" / "actionLabel_modified.txt").write_text("s03_e01\nwalk: 10 12\n")
    # named at its own line, the recording's (line 2, its first action's, until a data-reader audit of 7 December)
    with pytest.raises(DataFormatError, match=r"line 1: recording s03_e01 has no file .*joints_s03_e01.txt"):
        load_utkinect(utk_root)


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("walk: 1 2\n", "line 1", "expected a recording line like `s01_e01` before the first action"),
        ("s01_e01\nwalk 1 2\n", "line 2", "expected `sSS_eEE` or `action: start end`, found 'walk 1 2'"),
        ("s01_e01\n\nwalk: 1 2.5\n", "line 3", "expected an integer frame id or NaN, found '2.5'"),
        ("s01_e01\nwalk: NaN 7\n", "line 2", "expected two frame ids or `NaN NaN`"),
        ("s01_e01\nwalk: 9 7\n", "line 2", "expected start <= end, found 9 > 7"),
        ("s01_e01\nwalk: 1 2\nwalk: 3 4\n", "line 3", "expected each action once per recording, found 'walk' twice"),
        ("s01_e01\n", None, "no segments"),
    ],
)
def test_utkinect_labels_garbled(tmp_path, text, where, problem):
    path = tmp_path / "labels.txt"
    path.write_text(text)
    with pytest.raises(DataFormatError) as e:
        read_utkinect_labels(path)
    assert e.value.where == where and problem in e.value.problem


def test_utkinect_labels_parsed(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("s01_e01\nwalk: 252 390\nstandUp: 704 752 \ns10_e02\ncarry:  NaN NaN\n")
    segs = read_utkinect_labels(path)
    assert [(s.recording, s.action, s.start, s.end, s.line) for s in segs] == [
        ("s01_e01", "walk", 252, 390, 2),
        ("s01_e01", "standUp", 704, 752, 3),
        ("s10_e02", "carry", None, None, 5),
    ]


@pytest.mark.parametrize(
    ("ids", "edit", "where", "problem"),
    [
        ([1, 2, 3], lambda lines: lines[:2] + [lines[2][:40]], "line 3", "expected 61 numbers"),
        ([1, 3, 2], None, "line 3", "expected non-decreasing frame ids, found 2 after 3"),
        ([1, 2, 3], lambda lines: [lines[0], "2.5" + lines[1][1:], lines[2]], "line 2", "expected an integer frame id"),
        (
            [1, 2, 3],
            lambda lines: [lines[0], " ".join([*lines[1].split()[:5], "x", *lines[1].split()[6:]]), lines[2]],
            "line 2",
            "found 'x'",
        ),
    ],
)
def test_utkinect_joints_garbled(tmp_path, ids, edit, where, problem):
    path = _write_utk_joints(tmp_path / "joints_s01_e01.txt", ids, _k1_pose(3))
    if edit is not None:
        path.write_text("\n".join(edit(path.read_text().splitlines())) + "\n")
    with pytest.raises(DataFormatError) as e:
        read_utkinect_joints(path)
    assert e.value.where == where and problem in e.value.problem


# ------------------------------------------------- shared by the readers: untracked frames and joints, units
def _moving(t: int) -> np.ndarray:
    """Kinect v1 poses [t, 20, 3] moving linearly in time (0.3 m/s along x), so interpolation is exact."""
    return _k1_pose(1) + 0.02 * np.arange(t)[:, None, None] * np.array([1.0, 0.0, 0.0])


def test_untracked_joints_filled_by_interpolation_over_time(tmp_path):
    k1 = _moving(6)
    broken = k1.copy()
    broken[2, [0, 1, 2]] = 0.0  # untracked spine and neck, as NW-UCLA a04_s01_e01_v01 frame 34
    broken[2, 3] = [0.1, 0.08, 0.39]  # a joint of that frame near the camera's origin: tracking garbage
    broken[0, 7] = 0.0  # untracked at the start: the nearest tracked pose is held
    path = _write_ucla(tmp_path, "a04_s01_e01_v01", broken, 2)
    seq = read_nw_ucla_file(path)
    expected = k1.copy()
    expected[0, 7] = k1[1, 7]
    np.testing.assert_allclose(seq.joints, kinect_v1_to_ntu25(expected)[:, None], atol=1e-5)
    assert seq.num_frames == 6 and seq.timestamps is None
    assert seq.defects == (
        "filled 5 untracked joints in 2 frames by interpolation over time (4 zero, 1 over 1 m off their neighbours)",
    )
    # over the frame times: UTKinect's irregular frame ids weigh the neighbours
    k1 = _moving(3)
    broken = k1.copy()
    broken[1, K1.HIP_CENTER] = 0.0
    utk = read_utkinect_joints(_write_utk_joints(tmp_path / "joints_s01_e01.txt", [0, 4, 16], broken))
    want = k1[0, K1.HIP_CENTER] + 0.25 * (k1[2, K1.HIP_CENTER] - k1[0, K1.HIP_CENTER])
    np.testing.assert_allclose(utk.joints[1, 0, J.SPINE_BASE], want, atol=1e-5)
    assert utk.defects == ("filled 1 untracked joint in 1 frame by interpolation over time",)


def test_nw_ucla_zero_frames_dropped_and_empty_file_rejected(ucla_root):
    data = ucla_root / "all_sqe"
    _write_ucla(data, "a04_s02_e00_v01", np.zeros((3, 20, 3)), 2)
    gappy = _k1_pose(5)
    gappy[[0, 2]] = 0.0
    _write_ucla(data, "a12_s02_e01_v03", gappy, 3)
    ds = load_nw_ucla(ucla_root)
    assert ds.rejected == [
        (str(data / "a04_s02_e00_v01.json"), "all 3 frames are zero (the skeleton was never tracked)")
    ]
    assert [Path(s.source).stem for s in ds.sequences] == ["a01_s09_e04_v02", "a04_s01_e00_v01", "a12_s02_e01_v03"]
    seq = ds.sequences[2]
    assert seq.num_frames == 3 and seq.defects == ("dropped 2 all-zero (untracked) frames of 5",)
    np.testing.assert_allclose(seq.timestamps, np.array([0, 2, 3]) / NW_UCLA_FPS)  # kept frames 1, 3, 4
    np.testing.assert_allclose(seq.joints[:, 0, J.HEAD], gappy[[1, 3, 4], K1.HEAD], atol=1e-6)
    with pytest.raises(DataFormatError) as e:
        read_nw_ucla_file(data / "a04_s02_e00_v01.json")
    assert str(e.value).startswith(str(data / "a04_s02_e00_v01.json"))
    assert e.value.problem == "no usable frame: all 3 frames are zero (the skeleton was never tracked)"


def test_utkinect_zero_rows_dropped_and_empty_segment_rejected(utk_root):
    path = utk_root / "joints" / "joints_s01_e01.txt"
    k1 = _k1_pose(8)
    k1[4:] = 0.0  # ids 20, 22, 30, 40: no person
    _write_utk_joints(path, [10, 12, 12, 16, 20, 22, 30, 40], k1)
    ds = load_utkinect(utk_root)
    walk = next(s for s in ds.sequences if s.source.endswith("#walk@12-20"))
    assert walk.num_frames == 2 and walk.defects == (
        "dropped 1 row repeating the previous frame id (kept the first)",
        "dropped 1 all-zero (untracked) frames of 3",
    )
    np.testing.assert_allclose(walk.timestamps, [0.0, 4 / 30])
    assert (
        dict(ds.rejected)[f"{path}#sitDown"] == "frames 20-40: all 4 frames are zero (the skeleton was never tracked)"
    )
    whole = read_utkinect_joints(path)
    assert whole.num_frames == 3 and whole.defects[-1] == "dropped 4 all-zero (untracked) frames of 7"
    np.testing.assert_allclose(whole.timestamps, np.array([0, 2, 6]) / 30)
    _write_utk_joints(path, [1, 2], np.zeros((2, 20, 3)))
    with pytest.raises(DataFormatError, match=r"joints_s01_e01.txt: no usable frame: all 2 frames are zero"):
        read_utkinect_joints(path)


@pytest.mark.parametrize("reader", ["msr", "ucla", "utk"])
def test_millimetres_refused(tmp_path, reader):
    mm = _k1_pose(3) * 1000.0  # a copy in millimetres
    if reader == "msr":
        path, read = _write_msr(tmp_path / "a01_s01_e01_skeleton3D.txt", _msr_rows(mm)), read_msr_file
    elif reader == "ucla":
        path, read = _write_ucla(tmp_path, "a01_s01_e01_v01", mm, 1), read_nw_ucla_file
    else:
        path, read = _write_utk_joints(tmp_path / "joints_s01_e01.txt", [1, 2, 3], mm), read_utkinect_joints
    with pytest.raises(DataFormatError) as e:
        read(path)
    assert str(e.value).startswith(f"{path}: a coordinate of ")
    assert "look like millimetres; divide them by 1000" in e.value.problem


def test_millimetre_file_stops_the_loader(ucla_root):
    path = _write_ucla(ucla_root / "all_sqe", "a04_s01_e00_v01", _k1_pose(4) * 1000.0, 2)
    with pytest.raises(DataFormatError, match=re.escape(f"{path}: a coordinate of ") + ".*millimetres"):
        load_nw_ucla(ucla_root)


def test_unread_files_listed_and_warned(msr_root, ucla_root, utk_root, caplog):
    msr_data = msr_root / "MSRAction3DSkeletonReal3D"
    (msr_data / "a01_s01_e01_skeleton3D.txt").rename(msr_data / "a01_s01_e01_skeleton3d.txt")  # wrong case
    (ucla_root / "all_sqe" / "a04_s01_e00_v01.json.bak").write_text("{}")
    utk_data = utk_root / "joints"
    _write_utk_joints(utk_data / "joints_s03_e01.txt", [1, 2], _k1_pose(2))  # no label names s03_e01
    (utk_data / "notes.txt").write_text("x\n")
    expected = {
        "msr_action3d": (msr_root, load_msr_action3d, ["MSRAction3DSkeletonReal3D/a01_s01_e01_skeleton3d.txt"]),
        "nw_ucla": (ucla_root, load_nw_ucla, ["all_sqe/a04_s01_e00_v01.json.bak"]),
        "utkinect": (utk_root, load_utkinect, ["joints/joints_s03_e01.txt", "joints/notes.txt"]),
    }
    for name, (root, load, unread) in expected.items():
        assert unread_files(name, root) == unread
        caplog.clear()
        with caplog.at_level("WARNING", logger="sadvae.data.kinect_v1"):
            load(root)
        warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert len(warnings) == 1 and f"{name}: {len(unread)} files not read" in warnings[0]
        assert all(u in warnings[0] for u in unread)
    assert unread_files("ntu", msr_root) == [] and unread_files("nw_ucla", msr_root) == []


# ------------------------------------------------------------------------------------- real data (shared)
@pytest.fixture(scope="module")
def msr(shared_data):
    return load_msr_action3d(shared_data / "skeleton_sets" / "msr_action3d")


@pytest.fixture(scope="module")
def ucla(shared_data):
    return load_nw_ucla(shared_data / "skeleton_sets" / "nw_ucla")


@pytest.fixture(scope="module")
def utk(shared_data):
    return load_utkinect(shared_data / "skeleton_sets" / "utkinect_action3d")


def _common_checks(ds, fps, key=lambda s: s.source):
    for s in ds.sequences:
        assert s.joints.shape[1:] == (1, 25, 3) and s.fps == fps
        assert s.label_name == ds.class_names[s.label]
        if s.timestamps is not None:
            assert s.timestamps[0] == 0 and np.all(np.diff(s.timestamps) > 0)
    assert ds.sequences == sorted(ds.sequences, key=key)
    assert ds.protocol


def test_real_msr_action3d(msr, shared_data):
    _common_checks(msr, MSR_FPS)
    assert len(msr.sequences) == 566 and len(msr.class_names) == 20
    assert [(Path(src).name, reason) for src, reason in msr.rejected] == [
        ("a13_s09_e02_skeleton3D.txt", "all 38 frames are zero (the skeleton was never tracked)")
    ]
    per_class = collections.Counter(s.label for s in msr.sequences)
    assert set(per_class) == set(range(20)) and all(20 <= n <= 30 for n in per_class.values())
    assert per_class[14] == 20  # a15 side kick
    assert {s.subject for s in msr.sequences} == set(range(1, 11)) and {s.view for s in msr.sequences} == {None}
    # exactly the all-zero frames are dropped: 1113 in 20 files, 38 of them in the rejected file
    dropped = [int(d.split()[1]) for s in msr.sequences for d in s.defects if d.startswith("dropped")]
    assert len(dropped) == 19 and sum(dropped) + 38 == 1113
    folder = shared_data / "skeleton_sets" / "msr_action3d" / "MSRAction3DSkeletonReal3D"
    rows = sum(sum(1 for line in p.open() if line.strip()) for p in folder.glob("*_skeleton3D.txt"))
    assert sum(s.num_frames for s in msr.sequences) == rows // 20 - 1113


def test_real_nw_ucla(ucla):
    _common_checks(ucla, NW_UCLA_FPS)
    assert len(ucla.sequences) == 1484 and len(ucla.class_names) == 10 and ucla.rejected == []
    assert collections.Counter(s.view for s in ucla.sequences) == {1: 516, 2: 504, 3: 464}
    assert {s.subject for s in ucla.sequences} == set(range(1, 11))
    assert all(141 <= n <= 173 for n in collections.Counter(s.label for s in ucla.sequences).values())
    singles = sorted(Path(s.source).stem for s in ucla.sequences if s.num_frames == 1)
    assert singles == ["a02_s09_e04_v02", "a02_s09_e04_v03"]
    assert all(any(d.startswith("single frame") for d in s.defects) for s in ucla.sequences if s.num_frames == 1)
    filled = sorted(Path(s.source).stem for s in ucla.sequences if any(d.startswith("filled") for d in s.defects))
    assert filled == ["a04_s01_e01_v01", "a04_s04_e02_v01"]


@pytest.mark.parametrize(("stem", "frame"), [("a04_s01_e01_v01", 34), ("a04_s04_e02_v01", 45)])
def test_real_nw_ucla_untracked_spine_filled(shared_data, stem, frame):
    """Spine joints exactly zero in one frame: filled, so the torso-normalised window stays body-sized."""
    path = shared_data / "skeleton_sets" / "nw_ucla" / "all_sqe" / f"{stem}.json"
    raw = np.array(json.loads(path.read_text())["skeletons"])
    assert not raw[frame, K1.HIP_CENTER].any()  # the defect is in the release
    seq = read_nw_ucla_file(path)
    whole = preprocess(seq.joints, seq.times(), PreprocessConfig(window=96))  # the whole clip, padded
    live = preprocess(seq.joints[: frame + 1], None, PreprocessConfig(window=32), crop="end")  # ends at the frame
    assert np.abs(whole).max() < 5.0 and np.abs(live).max() < 5.0
    assert (np.abs(seq.joints[frame, 0]).max(axis=-1) > 0).all()  # no zero joint left
    assert seq.num_frames == len(raw) and seq.defects[0].startswith("filled ")


def test_real_utkinect(utk):
    _common_checks(utk, UTKINECT_FPS, key=lambda s: (s.source.split("#")[0], int(s.source.split("@")[1].split("-")[0])))
    assert len(utk.sequences) == 199 and len(utk.class_names) == 10
    assert sorted(collections.Counter(s.label for s in utk.sequences).values()) == [19] + [20] * 9
    assert [(Path(src).name, reason) for src, reason in utk.rejected] == [
        ("joints_s10_e02.txt#carry", "no segment bounds in actionLabel_modified.txt (NaN NaN)")
    ]
    lengths = [s.num_frames for s in utk.sequences]
    assert (min(lengths), max(lengths), np.median(lengths)) == (5, 110, 28)  # as the MANIFEST reports
    assert {s.subject for s in utk.sequences} == set(range(1, 11))
