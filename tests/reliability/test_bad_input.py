"""Bad input, reader by reader: one clear, one-line error naming the file, the line or field and the fix.

Every file here is synthetic and written to ``tmp_path``; the few real-data tests derive damaged copies of
files under ``../shared/data`` into ``tmp_path`` at run time. The matrix these tests fill (reader x failure
kind) is in the reliability report (docs/reliability.md).
"""

from __future__ import annotations

import ast
import json
import os
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from realtime.head.labels import MAX_FILE_BYTES, MAX_LABELS, parse_labels
from realtime.pose.mapping import mediapipe_to_ntu25
from realtime.pose.stage import Skeleton
from realtime.sources import replay
from realtime.sources.replay import ReplaySource, TrackRecorder, load_recording, save_recording
from sadvae import text
from sadvae.data import registry
from sadvae.data.kinect_v1 import (
    load_msr_action3d,
    read_msr_file,
    read_nw_ucla_file,
    read_utkinect_joints,
    read_utkinect_labels,
)
from sadvae.data.ntu import (
    MAX_LIST_FILE_BYTES,
    load_class_names,
    load_missing_list,
    read_ctrgcn_npz,
    read_ntu_skeleton,
    read_txt2npy,
)
from sadvae.data.pku import read_pku_mmd
from sadvae.data.record import Dataset, SkeletonSequence
from sadvae.data.registry import load_prepared, read_path, save_prepared
from sadvae.data.splits import MAX_SPLIT_FILE_BYTES, load_split_files
from sadvae.errors import CheckpointError, ConfigError, DataFormatError, SadvaeError
from sadvae.text import MAX_DESCRIPTION_FILE_BYTES, TextConfig, TextEncoder, load_descriptions

RNG = np.random.default_rng(7)
RANDOM_BYTES = bytes(RNG.integers(0, 256, 4096, dtype=np.uint8))


def one_clear_error(err: BaseException, path: Path | str, where: str | None = None, *words: str) -> str:
    """The message is one line, starts with the file, names ``where`` (line or field) and holds ``words``."""
    msg = str(err)
    assert isinstance(err, SadvaeError), f"{type(err).__name__} is not a project error: {msg}"
    assert "\n" not in msg and "Traceback" not in msg, msg
    assert msg.startswith(str(path)), f"{msg!r} does not start with {path}"
    if where is not None:
        assert msg.startswith(f"{path}:{where}:"), f"{msg!r} does not name {where}"
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"
    return msg


# ----------------------------------------------------------------------------------- synthetic valid files
def ntu_skeleton_text(frames: int = 12) -> str:
    out = [str(frames)]
    for t in range(frames):
        out += ["1", "72057594037931101 0 1 1 1 1 0 0.01 0.02 2", "25"]
        out += [f"{0.01 * j:.4f} {0.07 * j + 0.01 * t:.4f} 3.0 250 180 1000 500 0 0 0 1 2" for j in range(25)]
    return "\n".join(out) + "\n"


def pku_rows(frames: int = 6) -> str:
    rows = np.round(RNG.uniform(-1, 3, size=(frames, 150)), 4)
    rows[:, 75:] = 0
    return "".join(" ".join(f"{v:.4f}" for v in r) + "\n" for r in rows)


def msr_rows(frames: int = 3) -> str:
    return "".join(f"{0.1 * j:.3f} {0.2 + t * 0.01:.3f} 2.5 1\n" for t in range(frames) for j in range(20))


def ucla_json(stem: str = "a01_s01_e01_v01", frames: int = 3) -> str:
    skel = np.round(RNG.uniform(-1, 1, size=(frames, 20, 3)) + [0, 0, 3], 4).tolist()
    return json.dumps({"file_name": stem, "skeletons": skel, "label": 1})


def utk_joints(frames: int = 4) -> str:
    return "".join(
        f"{10 + 4 * t} " + " ".join(f"{v:.4f}" for v in RNG.uniform(-1, 1, 60)) + "\n" for t in range(frames)
    )


# name -> (file name, valid content, reader, (truncated content, where, expected words), (garbled, where, words))
Reader = Callable[[Path], object]
TEXT_READERS: dict[str, tuple[str, str, Reader, tuple, tuple]] = {
    "ntu_skeleton": (
        "S001C001P001R001A001.skeleton",
        ntu_skeleton_text(),
        read_ntu_skeleton,
        (ntu_skeleton_text()[:2000], "line 51", ("file ends inside the joint block of body 1 of frame 2",)),
        (
            ntu_skeleton_text().replace("0.0700 3.0", "0.07O0 3.0", 1),
            "line 6",
            ("expected 12 finite numbers", "'0.07O0'"),
        ),
    ),
    "pku_skeleton": (
        "0002-L.txt",
        pku_rows(),
        read_pku_mmd,
        (pku_rows()[:1500], "line 2", ("expected 150 numbers",)),
        (
            "\n".join(
                line if n != 3 else line.replace(" ", " x ", 1).rsplit(" ", 1)[0]
                for n, line in enumerate(pku_rows().splitlines(), 1)
            ),
            "line 3",
            ("finite numbers", "'x'"),
        ),
    ),
    "msr": (
        "a01_s01_e01_skeleton3D.txt",
        msr_rows(),
        read_msr_file,
        (msr_rows()[:-30], "line 59", ("expected 4 numbers",)),
        (msr_rows().replace("2.5 1", "2.5 one", 1), "line 1", ("expected 4 finite numbers", "'one'")),
    ),
    "nw_ucla": (
        "a01_s01_e01_v01.json",
        ucla_json(),
        read_nw_ucla_file,
        (ucla_json()[:300], "line 1", ("expected JSON",)),
        (ucla_json().replace('"label": 1', '"label": "one"'), "label", ("expected int, found str",)),
    ),
    "utkinect_joints": (
        "joints_s01_e01.txt",
        utk_joints(),
        read_utkinect_joints,
        (utk_joints()[:-200], "line 4", ("expected 61 numbers",)),
        (utk_joints().replace(" ", " NaN ", 1).replace("\n", " \n"), "line 1", ("expected 61 numbers",)),
    ),
    "utkinect_labels": (
        "actionLabel.txt",
        "s01_e01\nwalk: 10 22\nsitDown: 30 40\n",
        read_utkinect_labels,
        ("s01_e01\nwalk: 10 22\nsitDown: 3", "line 3", ("expected `sSS_eEE` or `action: start end`",)),
        ("s01_e01\nwalk: 10 2x\n", "line 2", ("expected an integer frame id or NaN", "'2x'")),
    ),
    "ntu_class_csv": (
        "classes.csv",
        "idx,label\n1,drink water\n2,eat meal\n",
        load_class_names,
        ("idx,label\n1,drink water\n2,", "line 3", ("expected a class name after the index 2",)),
        ("idx,label\n1,drink water\n2;eat meal\n", "line 3", ("expected 'idx,label'",)),
    ),
    "ntu_missing_list": (
        "NTU_RGBD_samples_with_missing_skeletons.txt",
        "2 samples have missing skeletons.\n\nS001C002P005R002A008\nS001C002P006R001A008\n",
        load_missing_list,
        ("2 samples.\n\nS001C002P005R002A008\nS001C002P00", "line 4", ("expected a sample name like",)),
        ("S001C002P005R002A008\nS001C0X2P006R001A008\n", None, ()),  # a garbled name reads as prose: see below
    ),
    "descriptions_csv": (
        "descriptions.csv",
        "idx,label\n0,a person waves\n1,a person jumps\n",
        load_descriptions,
        ("idx,label\n0,a person waves\n1", "line 3", ("expected 'idx,text'",)),
        ("idx,label\n0,a person waves\nx,a person jumps\n", "line 3", ("expected an integer index", "'x'")),
    ),
    "pku_labels": (
        "labels.txt",
        "1,0,3,0.9\n2,2,6,1\n",
        lambda p: read_pku_mmd(p.with_name("0002-L.txt"), p),
        ("1,0,3,0.9\n2,2", "line 2", ("expected 4 values",)),
        ("1,0,3,0.9\n2,2,6,hi\n", "line 2", ("expected integer action_id", "numeric confidence")),
    ),
    "kinect_classes_txt": (
        "classes.txt",
        "1\thigh arm wave\n2\thammer\n",
        lambda p: load_msr_action3d(p.parent),
        ("1\thigh arm wave\n2", "line 2", ("expected `<action id><TAB><class name>`",)),
        ("1\thigh arm wave\n2 hammer\n", "line 2", ("expected `<action id><TAB><class name>`",)),
    ),
}


def _setup(tmp_path: Path, name: str) -> Path:
    """The reader's file path in a fresh folder, with whatever companion files the reader needs."""
    fname = TEXT_READERS[name][0]
    if name == "pku_labels":
        (tmp_path / "0002-L.txt").write_text(pku_rows())
    if name == "kinect_classes_txt":
        data = tmp_path / "MSRAction3DSkeletonReal3D"
        data.mkdir()
        (data / "a01_s01_e01_skeleton3D.txt").write_text(msr_rows())
    return tmp_path / fname


@pytest.mark.parametrize("name", sorted(TEXT_READERS))
def test_text_reader_accepts_its_valid_synthetic_file(tmp_path, name):
    path = _setup(tmp_path, name)
    path.write_text(TEXT_READERS[name][1])
    TEXT_READERS[name][2](path)


@pytest.mark.parametrize("name", sorted(TEXT_READERS))
def test_text_reader_missing_file(tmp_path, name):
    path = _setup(tmp_path, name)
    with pytest.raises(DataFormatError) as e:
        TEXT_READERS[name][2](path)
    one_clear_error(e.value, path, None, "not found" if name != "descriptions_csv" else "does not exist")


@pytest.mark.parametrize("name", sorted(TEXT_READERS))
def test_text_reader_directory_instead_of_file(tmp_path, name):
    path = _setup(tmp_path, name)
    path.mkdir()
    with pytest.raises(DataFormatError) as e:
        TEXT_READERS[name][2](path)
    one_clear_error(e.value, path, None, "is a folder")


@pytest.mark.parametrize("name", sorted(TEXT_READERS))
@pytest.mark.parametrize("content", ["", "\n\n  \n"], ids=["empty", "blank"])
def test_text_reader_empty_file(tmp_path, name, content):
    path = _setup(tmp_path, name)
    path.write_text(content)
    with pytest.raises(DataFormatError) as e:
        TEXT_READERS[name][2](path)
    msg = one_clear_error(e.value, path)
    assert any(w in msg for w in ("empty", "found none", "no segments", "end of file", "expected JSON"))


@pytest.mark.parametrize("name", sorted(TEXT_READERS))
@pytest.mark.parametrize(
    ("encode", "says_utf8"),
    [
        (lambda s: RANDOM_BYTES, True),
        # UTF-16 without a byte order mark: ASCII text with NUL bytes, valid UTF-8, refused by what it parses to
        (lambda s: s.encode("utf-16-le"), False),
        (lambda s: s.encode("utf-16"), True),  # with a byte order mark: not UTF-8
        (lambda s: s.encode()[:40] + "é".encode("latin-1") + s.encode()[40:], True),  # one Latin-1 byte
    ],
    ids=["random-bytes", "utf16-no-bom", "utf16-bom", "latin1-byte"],
)
def test_text_reader_undecodable_encoding(tmp_path, name, encode, says_utf8):
    path = _setup(tmp_path, name)
    path.write_bytes(encode(TEXT_READERS[name][1]))
    with pytest.raises(DataFormatError) as e:
        TEXT_READERS[name][2](path)
    msg = one_clear_error(e.value, path)
    assert "UTF-8" in msg if says_utf8 else ("UTF-8" in msg or "expected" in msg)


@pytest.mark.parametrize("name", sorted(TEXT_READERS))
def test_text_reader_accepts_utf8_bom_and_crlf(tmp_path, name):
    path = _setup(tmp_path, name)
    path.write_bytes(b"\xef\xbb\xbf" + TEXT_READERS[name][1].replace("\n", "\r\n").encode())
    TEXT_READERS[name][2](path)


@pytest.mark.parametrize("name", sorted(TEXT_READERS))
def test_text_reader_truncated(tmp_path, name):
    path = _setup(tmp_path, name)
    content, where, words = TEXT_READERS[name][3]
    path.write_text(content)
    with pytest.raises(DataFormatError) as e:
        TEXT_READERS[name][2](path)
    one_clear_error(e.value, path, where, *words)


@pytest.mark.parametrize("name", sorted(TEXT_READERS))
def test_text_reader_truncated_inside_a_utf8_character(tmp_path, name):
    """A copy cut inside a multi-byte character (free text can be cut anywhere): named line, no mojibake."""
    path = _setup(tmp_path, name)
    data = TEXT_READERS[name][1].encode()
    path.write_bytes(data[: len(data) // 2] + "é".encode()[:1])
    with pytest.raises(DataFormatError) as e:
        TEXT_READERS[name][2](path)
    one_clear_error(e.value, path, None, "UTF-8")


@pytest.mark.parametrize("name", sorted(set(TEXT_READERS) - {"ntu_missing_list"}))
def test_text_reader_garbled(tmp_path, name):
    path = _setup(tmp_path, name)
    content, where, words = TEXT_READERS[name][4]
    path.write_text(content)
    with pytest.raises(DataFormatError) as e:
        TEXT_READERS[name][2](path)
    one_clear_error(e.value, path, where, *words)


def test_missing_list_garbled_names(tmp_path):
    """A garbled sample name that still starts like one is refused; one that does not is prose (skipped by design)."""
    path = tmp_path / "missing.txt"
    path.write_text("S001C002P005R002A008\nS001C002PX06R001A008\n")
    with pytest.raises(DataFormatError) as e:
        load_missing_list(path)
    one_clear_error(e.value, path, "line 2", "expected a sample name like", "'S001C002PX06R001A008'")
    path.write_text("S001C002P005R002A008\nnote: X001C002P006R001A008 was re-shot\n")
    assert load_missing_list(path) == {"S001C002P005R002A008"}


@pytest.mark.parametrize(
    ("name", "reader"),
    [
        ("classes.csv", load_class_names),
        ("missing.txt", load_missing_list),
        ("actionLabel.txt", read_utkinect_labels),
        ("descriptions.txt", load_descriptions),
    ],
)
def test_list_files_over_the_size_limit(tmp_path, name, reader):
    path = tmp_path / name
    limit = MAX_DESCRIPTION_FILE_BYTES if name.startswith("descriptions") else MAX_LIST_FILE_BYTES
    path.write_bytes(b"a\n" * (limit // 2 + 1))
    with pytest.raises(DataFormatError) as e:
        reader(path)
    one_clear_error(e.value, path, None, f"file is {limit + 2} bytes, more than the {limit}-byte limit")


def test_pku_label_file_over_the_size_limit(tmp_path):
    (tmp_path / "0002-L.txt").write_text(pku_rows())
    labels = tmp_path / "labels.txt"
    labels.write_bytes(b"1,0,3,1\n" * (MAX_LIST_FILE_BYTES // 8 + 1))
    with pytest.raises(DataFormatError) as e:
        read_pku_mmd(tmp_path / "0002-L.txt", labels)
    one_clear_error(e.value, labels, None, "-byte limit")


def test_nw_ucla_json_of_the_wrong_shape(tmp_path):
    path = tmp_path / "a01_s01_e01_v01.json"
    path.write_text(json.dumps({"file_name": "a01_s01_e01_v01", "label": 1, "skeletons": [[[0, 0, 1]] * 19]}))
    with pytest.raises(DataFormatError) as e:
        read_nw_ucla_file(path)
    one_clear_error(e.value, path, "skeletons[0]", "expected 20 joints, found 19")


# ----------------------------------------------------------------------------------------- numpy files
def _txt2npy_dict(t: int = 12) -> dict:
    xyz = np.stack([np.c_[0.01 * np.arange(25), 0.07 * np.arange(25) + 0.02 * i, np.full(25, 3.0)] for i in range(t)])
    return {"file_name": "S001C001P001R001A001", "nbodys": [1] * t, "njoints": 25, "skel_body0": xyz}


def _write_txt2npy(path: Path) -> None:
    np.save(path, _txt2npy_dict(), allow_pickle=True)


def _write_ctrgcn(path: Path) -> None:
    x = np.zeros((2, 20, 150), np.float32)
    x[:, :10] = RNG.normal(size=(2, 10, 150))
    np.savez(path, x_train=x, y_train=np.array([0, 1]), x_test=x, y_test=np.array([1, 0]))


def _write_prepared(path: Path) -> None:
    seq = SkeletonSequence(RNG.normal(size=(6, 1, 25, 3)).astype(np.float32), 30.0, "a.txt", 0, "wave", 1, 2)
    save_prepared(Dataset("toy", ("wave",), [seq], [], "cross-subject"), path)


def _write_split(path: Path) -> None:
    np.save(path, np.arange(5))  # ru5: unseen
    np.save(path.with_name("rs55.npy"), np.arange(5, 60))
    np.save(path.with_name("rv5_0.npy"), np.arange(5, 10))


def _write_recording(path: Path) -> None:
    save_recording(path, RNG.normal(size=(8, 1, 25, 3)), np.arange(8) / 30.0)


# name -> (file name, writer, reader, the field a missing-key/wrong-field file is refused on)
NUMPY_READERS: dict[str, tuple[str, Callable[[Path], None], Reader]] = {
    "txt2npy": ("S001C001P001R001A001.skeleton.npy", _write_txt2npy, read_txt2npy),
    "ctrgcn_npz": ("NTU60_CS.npz", _write_ctrgcn, read_ctrgcn_npz),
    "prepared_npz": ("cache.npz", _write_prepared, load_prepared),
    "split_npy": ("ru5.npy", _write_split, lambda p: load_split_files(p.parent, 5, 60)),
    "recording_npz": ("rec.npz", _write_recording, load_recording),
    "replay_source": ("rec.npz", _write_recording, ReplaySource),
    "read_path_npz": ("NTU60_CS.npz", _write_ctrgcn, read_path),
}


def _raises_clear(path: Path, reader: Reader, *words: str, error: type = DataFormatError) -> str:
    with pytest.raises(error) as e:
        reader(path)
    return one_clear_error(e.value, path, None, *words)


def test_txt2npy_nan_is_named_with_its_frame_and_joint(tmp_path):
    """Review of 6 December 2026: a NaN read "expected finite floats [12, 25, 3], found float64 (12, 25, 3)"."""
    d = _txt2npy_dict()
    d["skel_body0"][5, 7, 1] = np.nan
    path = tmp_path / "S001C001P001R001A001.skeleton.npy"
    np.save(path, d, allow_pickle=True)
    _raises_clear(path, read_txt2npy, "NaN, inf or too large", "frame 5, joint 7")


def test_txt2npy_in_millimetres_is_refused(tmp_path):
    """Data-reader audit of 7 December 2026, late: joints x 1000 read as a 1.4 km person (the .skeleton reader and
    `sadvae data import` refused the same values)."""
    d = _txt2npy_dict()
    d["skel_body0"] = d["skel_body0"] * 1000.0
    path = tmp_path / "S001C001P001R001A001.skeleton.npy"
    np.save(path, d, allow_pickle=True)
    _raises_clear(path, read_txt2npy, "beyond 50 m", "millimetres; divide them by 1000")


@pytest.mark.parametrize("name", sorted(NUMPY_READERS))
def test_numpy_reader_accepts_its_valid_synthetic_file(tmp_path, name):
    fname, write, read = NUMPY_READERS[name]
    write(tmp_path / fname)
    read(tmp_path / fname)


@pytest.mark.parametrize("name", sorted(NUMPY_READERS))
def test_numpy_reader_missing_file(tmp_path, name):
    fname, _, read = NUMPY_READERS[name]
    error = {"prepared_npz": ConfigError, "replay_source": SadvaeError, "read_path_npz": ConfigError}
    with pytest.raises(error.get(name, DataFormatError)) as e:
        read(tmp_path / fname)
    msg = str(e.value)
    assert "\n" not in msg and str(tmp_path / fname) in msg and ("not found" in msg or "no such file" in msg)


@pytest.mark.parametrize("name", sorted(NUMPY_READERS))
def test_numpy_reader_directory_instead_of_file(tmp_path, name):
    fname, _, read = NUMPY_READERS[name]
    (tmp_path / fname).mkdir()
    if name in ("replay_source", "read_path_npz"):  # a folder is a dataset folder to these two
        _raises_clear(tmp_path / fname, read, "the folder is empty", error=ConfigError)
    else:
        _raises_clear(tmp_path / fname, read, "is a folder")


@pytest.mark.parametrize("name", sorted(NUMPY_READERS))
@pytest.mark.parametrize("content", [b"", RANDOM_BYTES, b"hello,world\n1,2,3\n"], ids=["empty", "random", "text"])
def test_numpy_reader_empty_random_or_text_file(tmp_path, name, content):
    fname, _, read = NUMPY_READERS[name]
    (tmp_path / fname).write_bytes(content)
    msg = _raises_clear(tmp_path / fname, read, "expected a")
    assert "allow_pickle" not in msg, "never advise loading a pickle"


@pytest.mark.parametrize("name", sorted(NUMPY_READERS))
@pytest.mark.parametrize("keep", [0.5, 0.9], ids=["half", "most"])
def test_numpy_reader_truncated(tmp_path, name, keep):
    fname, write, read = NUMPY_READERS[name]
    path = tmp_path / fname
    write(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    msg = _raises_clear(path, read)
    assert "allow_pickle" not in msg


@pytest.mark.parametrize("name", sorted(NUMPY_READERS))
def test_numpy_reader_garbled_bytes(tmp_path, name):
    """Bytes overwritten in the middle of the file (a bad disk or a bad copy)."""
    fname, write, read = NUMPY_READERS[name]
    path = tmp_path / fname
    write(path)
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 64] = RANDOM_BYTES[:64]
    path.write_bytes(bytes(data))
    # every format refuses these bytes: a zipped member fails its CRC, txt2npy's floats and split_npy's header do
    # not parse (an uncompressed array's data could take other bytes as valid numbers: not these)
    with pytest.raises(SadvaeError) as e:
        read(path)
    one_clear_error(e.value, path)


@pytest.mark.parametrize(
    ("name", "arrays", "where", "words"),
    [
        ("ctrgcn_npz", {"x_train": np.zeros((1, 3, 150)), "y_train": np.zeros(1, int)}, "key 'x_test'", ("expected",)),
        ("prepared_npz", {"joints": np.zeros((1, 1, 25, 3))}, "keys ['format', 'fps'", ("missing",)),
        ("recording_npz", {"joints": np.zeros((3, 1, 25, 3))}, "keys ['times']", ("missing; a recording holds",)),
        (
            "recording_npz",
            {"joints": np.zeros((3, 25, 3)), "times": np.arange(3.0)},
            "joints",
            ("[T>=1, M>=1, 25, 3]",),
        ),
        ("split_npy", {"": np.array([0.5, 1.5])}, None, ("expected a 1-D integer array",)),
    ],
)
def test_numpy_reader_wrong_fields(tmp_path, name, arrays, where, words):
    fname, _, read = NUMPY_READERS[name]
    path = tmp_path / fname
    if fname.endswith(".npy"):
        np.save(path, arrays[""])
    else:
        np.savez(path, **arrays)
    with pytest.raises(DataFormatError) as e:
        read(path)
    msg = one_clear_error(e.value, path, None, *words)
    if where:
        assert f":{where}" in msg


def test_prepared_cache_of_another_format(tmp_path):
    path = tmp_path / "cache.npz"
    _write_prepared(path)
    with np.load(path) as z:
        arrays = dict(z)
    np.savez(path, **{**arrays, "format": np.array(99)})
    with pytest.raises(DataFormatError) as e:
        load_prepared(path)
    one_clear_error(e.value, path, "format", "cache format 99, expected 1")
    np.savez(path, **{**arrays, "meta": np.array("{not json")})
    with pytest.raises(DataFormatError) as e:
        load_prepared(path)
    one_clear_error(e.value, path, None, "corrupt or inconsistent cache", "re-run `sadvae data prepare`")


def test_split_file_over_the_size_limit(tmp_path):
    np.save(tmp_path / "ru5.npy", np.arange(MAX_SPLIT_FILE_BYTES // 8 + 1))
    with pytest.raises(DataFormatError) as e:
        load_split_files(tmp_path, 5, 60)
    one_clear_error(e.value, tmp_path / "ru5.npy", None, f"more than the {MAX_SPLIT_FILE_BYTES}-byte limit")


def test_recording_that_unpacks_past_the_size_limit_is_refused_before_loading(tmp_path, monkeypatch):
    path = tmp_path / "rec.npz"
    _write_recording(path)
    monkeypatch.setattr(replay, "MAX_RECORDING_BYTES", 1000)
    calls = []
    monkeypatch.setattr(replay.np, "load", lambda *a, **k: calls.append(a))
    with pytest.raises(DataFormatError) as e:
        load_recording(path)
    one_clear_error(e.value, path, None, "archive unpacks to", "more than the 1000-byte limit")
    assert not calls, "nothing is decompressed"


def test_recording_whose_array_header_declares_a_huge_shape_is_refused(tmp_path):
    """A 1 KB file can declare 1e9 frames in its .npy header; numpy would try to allocate them."""
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (10**9, 1, 25, 3)})
    path = tmp_path / "hostile.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("joints.npy", header.getvalue())
        z.writestr("times.npy", header.getvalue())
    with pytest.raises(DataFormatError) as e:
        load_recording(path)
    one_clear_error(e.value, path, None, "archive unpacks to 600000000000 bytes", "limit")


def test_recording_with_nan_joints_or_bad_times(tmp_path):
    path = tmp_path / "rec.npz"
    joints = np.zeros((3, 1, 25, 3), np.float32)
    joints[1, 0, 4, 2] = np.nan
    np.savez(path, joints=joints, times=np.arange(3.0))
    with pytest.raises(DataFormatError) as e:
        load_recording(path)
    one_clear_error(e.value, path, "joints", "expected finite numbers, found NaN or inf")
    np.savez(path, joints=np.zeros((3, 1, 25, 3)), times=np.array([0.0, 0.2, 0.1]))
    with pytest.raises(DataFormatError) as e:
        load_recording(path)
    one_clear_error(e.value, path, "times", "increase strictly")


def test_recording_in_the_wrong_units_or_with_text_is_refused_by_name(tmp_path):
    """A review of 7 December 2026: a recording in millimetres or with times in milliseconds replayed as "no person
    tracked" (exit 0), and text times were a conversion traceback; the clip format's unit checks apply now."""
    path = tmp_path / "rec.npz"
    joints = np.full((20, 1, 25, 3), 0.5, np.float32)
    np.savez(path, joints=joints * 1000, times=np.arange(20) / 30)
    with pytest.raises(DataFormatError) as e:
        load_recording(path)
    one_clear_error(e.value, path, "joints", "is not metres", "divide by 1000")
    np.savez(path, joints=joints, times=np.arange(20) * 33.3)
    with pytest.raises(DataFormatError) as e:
        load_recording(path)
    one_clear_error(e.value, path, "times", "timestamps look like milliseconds; divide by 1000")
    np.savez(path, joints=joints, times=np.array(["a"] * 20))
    with pytest.raises(DataFormatError) as e:
        load_recording(path)
    one_clear_error(e.value, path, "times", "expected numbers")
    np.savez(path, joints=joints, times=np.arange(20) / 30)
    assert load_recording(path)[0].shape == (20, 1, 25, 3)
    # what a run writes is saved whatever it holds, and a slow pose stage's recording (a frame every 1.5 s) replays
    recorder = TrackRecorder(tmp_path / "slow.npz")
    for k in range(5):
        recorder.add(1.5 * k, [(0, joints[k, 0])])
    assert recorder.close() == tmp_path / "slow.npz"
    assert np.allclose(load_recording(tmp_path / "slow.npz")[1], 1.5 * np.arange(5))


# ---------------------------------------------------------------------------------- txt2npy: no code runs
class _RunsCode:
    def __init__(self, marker: Path, call: str = "system"):
        self.marker, self.call = marker, call

    def __reduce__(self):
        if self.call == "system":
            return (os.system, (f"touch {self.marker}",))
        return (eval, (f"open({str(self.marker)!r}, 'w').close()",))


@pytest.mark.parametrize("call", ["system", "eval"])
def test_txt2npy_pickle_that_runs_code_is_refused_and_never_runs(tmp_path, call):
    marker = tmp_path / "pwned"
    path = tmp_path / "S001C001P001R001A001.skeleton.npy"
    payload = np.empty((), dtype=object)
    payload[()] = {**_txt2npy_dict(), "file_name": _RunsCode(marker, call)}
    np.save(path, payload, allow_pickle=True)
    with pytest.raises(DataFormatError) as e:
        read_txt2npy(path)
    msg = one_clear_error(e.value, path, "pickle", "refused to load the global", "holds only numpy arrays")
    assert ("system" in msg) if call == "system" else ("builtins.eval" in msg)
    assert not marker.exists(), "the pickle's code ran"


def test_txt2npy_pickle_that_imports_a_module_is_refused(tmp_path):
    path = tmp_path / "x.skeleton.npy"
    with path.open("wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "|O", "fortran_order": False, "shape": ()})
        f.write(b"cos\ngetcwd\n(tR.")  # protocol 0: os.getcwd()
    with pytest.raises(DataFormatError) as e:
        read_txt2npy(path)
    one_clear_error(e.value, path, "pickle", "refused to load the global os.getcwd")


def test_txt2npy_not_a_dict_or_missing_keys(tmp_path):
    path = tmp_path / "x.skeleton.npy"
    np.save(path, np.array(["a", "list"], dtype=object), allow_pickle=True)
    with pytest.raises(DataFormatError) as e:
        read_txt2npy(path)
    one_clear_error(e.value, path, "header", "expected a 0-d object array")
    np.save(path, {k: v for k, v in _txt2npy_dict().items() if k != "nbodys"}, allow_pickle=True)
    with pytest.raises(DataFormatError) as e:
        read_txt2npy(path)
    one_clear_error(e.value, path, "key 'nbodys'", "expected bodies per frame")


def test_real_txt2npy_files_load_with_the_restricted_unpickler(shared_data, tmp_path):
    files = sorted((shared_data / "ntu" / "txt2npy").glob("*.skeleton.npy"))
    if not files:
        pytest.skip("no txt2npy files in ../shared/data/ntu/txt2npy")
    for f in files:
        seq = read_txt2npy(f)
        assert seq.num_frames > 10 and np.isfinite(seq.joints).all()
    cut = tmp_path / files[0].name
    cut.write_bytes(files[0].read_bytes()[:5000])
    with pytest.raises(DataFormatError) as e:
        read_txt2npy(cut)
    one_clear_error(e.value, cut, "pickle", "cannot unpickle the txt2npy dict")


def test_real_skeleton_truncated_and_garbled_copies(shared_data, tmp_path):
    src = shared_data / "ntu" / "S001C001P001R001A001.skeleton"
    if not src.is_file():
        pytest.skip(f"{src} not found")
    lines = src.read_text().splitlines()
    cut = tmp_path / src.name
    cut.write_text("\n".join(lines[:1000]) + "\n")
    with pytest.raises(DataFormatError) as e:
        read_ntu_skeleton(cut)
    one_clear_error(e.value, cut, None, "expected")
    lines[500] = lines[500].replace(".", ",", 1)
    cut.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError) as e:
        read_ntu_skeleton(cut)
    one_clear_error(e.value, cut, "line 501", "finite numbers")


# --------------------------------------------------------------------------------------------- labels
LABEL_CASES = [
    ("empty", b"", "no action names (only blank lines and comments); write one action per line"),
    ("whitespace", b"  \n\t\n\n", "no action names"),
    ("comments only", b"# wave\n   # jump\n", "no action names"),
    ("NUL bytes", b"wave\x00\nrun\n", "contains NUL bytes, so it is binary, not a text file; save it as UTF-8"),
    ("random bytes", RANDOM_BYTES, "so it is binary, not a text file; save it as UTF-8"),
    ("utf-16 without BOM", "wave\njump\n".encode("utf-16-le"), "looks like UTF-16 without a byte order mark"),
    ("latin-1", "wave\ncafé\n".encode("latin-1"), ":line 2: not valid UTF-8 text"),
    ("utf-16 BOM, then bad", b"\xff\xfe" + "wave\n".encode("utf-16-le") + b"\x00\xd8", "not valid UTF-16-LE"),
    ("one label", b"wave\n", "only one action ('wave')"),
    ("control char", b"wave\nj\x1bump\n", ":line 2: control character U+001B"),
]


@pytest.mark.parametrize(("kind", "content", "words"), LABEL_CASES, ids=[c[0] for c in LABEL_CASES])
def test_labels_refused(tmp_path, kind, content, words):
    path = tmp_path / "labels.txt"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as e:
        parse_labels(path)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(path)) and words in msg, msg


@pytest.mark.parametrize(
    ("kind", "content"),
    [
        ("utf-8 BOM", "\ufeffwave\njump\n".encode()),
        ("utf-16-le BOM", "\ufeffwave\njump\n".encode("utf-16-le")),
        ("utf-16-be BOM", "\ufeffwave\njump\n".encode("utf-16-be")),
        ("CRLF", b"wave\r\njump\r\n"),
        ("CR", b"wave\rjump\r"),
        ("no final newline", b"wave\njump"),
    ],
)
def test_labels_accepted_encodings_and_newlines(tmp_path, kind, content):
    path = tmp_path / "labels.txt"
    path.write_bytes(content)
    assert parse_labels(path).names == ("wave", "jump"), kind


def test_labels_duplicates_name_both_lines(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("wave\n# c\njump\n  WAVE  | again\n")
    with pytest.raises(ConfigError) as e:
        parse_labels(path)
    assert str(e.value).startswith(f"{path}:line 4: duplicate action 'WAVE' (line 1 has the same name")
    assert "remove or rename one of them" in str(e.value) and "\n" not in str(e.value)


def test_labels_huge_file_and_too_many_lines(tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * (MAX_FILE_BYTES + 1))
    with pytest.raises(ConfigError, match=rf"big.txt: file is {MAX_FILE_BYTES + 1} bytes, more than the 256 KiB"):
        parse_labels(big)
    many = tmp_path / "many.txt"
    many.write_text("".join(f"a{i}\n" for i in range(MAX_LABELS + 1)))
    with pytest.raises(ConfigError, match=rf"many.txt:line {MAX_LABELS + 1}: more than {MAX_LABELS} labels; keep"):
        parse_labels(many)


def test_labels_missing_and_directory(tmp_path):
    with pytest.raises(ConfigError, match="labels file not found; create it or pass the right path"):
        parse_labels(tmp_path / "nope.txt")
    with pytest.raises(ConfigError, match="is a directory, not a labels file"):
        parse_labels(tmp_path)


# --------------------------------------------------------------------------------------------- bundle
@pytest.fixture(scope="module")
def good_bundle(tmp_path_factory, bundle_fixtures) -> Path:
    return bundle_fixtures.make_tiny_bundle(tmp_path_factory.mktemp("bundle") / "model.pt")


def _bundle_error(path: Path, *words: str) -> str:
    from sadvae.bundle import load_bundle

    with pytest.raises(CheckpointError) as e:
        load_bundle(path)
    return one_clear_error(e.value, path, None, *words)


def test_bundle_missing_folder_empty_random(tmp_path):
    pytest.importorskip("torch")
    _bundle_error(tmp_path / "model.pt", "model bundle not found; train one with `sadvae train zsl")
    (tmp_path / "dir.pt").mkdir()
    _bundle_error(tmp_path / "dir.pt", "is a folder; pass the model bundle's .pt file")
    (tmp_path / "empty.pt").write_bytes(b"")
    _bundle_error(tmp_path / "empty.pt", "not a readable model bundle", "re-create or re-download it")
    (tmp_path / "random.pt").write_bytes(RANDOM_BYTES)
    msg = _bundle_error(tmp_path / "random.pt", "not a readable model bundle")
    assert "weights_only" not in msg, "never advise weights_only=False"


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.99])
def test_bundle_truncated(good_bundle, tmp_path, keep):
    path = tmp_path / "cut.pt"
    data = good_bundle.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    _bundle_error(path, "not a readable model bundle", "re-create or re-download it")


def test_bundle_with_arbitrary_objects_is_refused_by_weights_only(tmp_path):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format_version": 1, "gate": _RunsCode(marker)}, path)
    msg = _bundle_error(path, "refused to load: the file asks to run Python code", "never load this file")
    assert "system" in msg and not marker.exists()


def test_bundle_of_another_format_missing_keys_or_not_a_dict(good_bundle, tmp_path):
    torch = pytest.importorskip("torch")
    d = torch.load(good_bundle, weights_only=True)
    path = tmp_path / "b.pt"
    torch.save({**d, "format_version": 2}, path)
    _bundle_error(path, "bundle format 2, this sadvae reads format 1; re-export it")
    torch.save({k: v for k, v in d.items() if k != "gate"}, path)
    _bundle_error(path, "inconsistent model bundle (KeyError: 'gate'); re-create it")
    torch.save({k: v for k, v in d.items() if k != "format_version"}, path)
    _bundle_error(path, "not a sadvae model bundle (no format_version)")
    torch.save([1, 2, 3], path)
    _bundle_error(path, "not a sadvae model bundle")
    sd = dict(d["backbone"]["state_dict"])
    first = next(iter(sd))
    sd[first] = torch.zeros(3)
    torch.save({**d, "backbone": {**d["backbone"], "state_dict": sd}}, path)
    _bundle_error(path, "inconsistent model bundle (RuntimeError: Error(s) in loading state_dict")


def test_bundle_from_another_device_loads_on_the_cpu(good_bundle, tmp_path):
    """Tensors are mapped to the requested device; a bundle saved on a GPU machine loads on a CPU one."""
    torch = pytest.importorskip("torch")
    import torch.serialization as ts

    from sadvae.bundle import load_bundle

    d = torch.load(good_bundle, weights_only=True)
    d["provenance"] = {**d["provenance"], "device": "cuda:0"}
    path = tmp_path / "b.pt"
    # every tensor written as a GPU machine writes it: its storage tagged "cuda:0" (torch's own tagging hook; the
    # first tagger that answers wins, and the hook is removed again before anything is read)
    registry = list(ts._package_registry)
    try:
        ts.register_package(1, lambda obj: "cuda:0" if obj.device.type == "cpu" else None, lambda obj, loc: None)
        torch.save(d, path)
    finally:
        ts._package_registry[:] = registry
    if not torch.cuda.is_available():  # as written, the file does not load here without mapping
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(path, weights_only=True)
    b = load_bundle(path, device="cpu")
    assert next(b.backbone.parameters()).device.type == "cpu"


# ------------------------------------------------------------------------------------------ pose results
def _landmarks(n: int = 33) -> tuple[np.ndarray, np.ndarray]:
    world = RNG.uniform(-0.8, 0.8, size=(n, 3)).astype(np.float32)
    return world, np.ones(n, np.float32)


@pytest.mark.parametrize(
    "damage",
    [
        lambda w, v: w.__setitem__((11, 0), np.nan),  # one coordinate NaN (left shoulder)
        lambda w, v: w.__setitem__(slice(0, 11), np.nan),  # the whole face
        lambda w, v: w.__setitem__(slice(None), np.inf),  # everything inf
        lambda w, v: w.__setitem__(slice(None), np.nan),  # nothing at all
        lambda w, v: v.__setitem__(slice(None), np.nan),  # NaN scores
        lambda w, v: v.__setitem__(slice(20, 33), 0.0),  # legs not present
        lambda w, v: w.__setitem__(slice(None), 3e38),  # finite, but derived joints overflow float32
    ],
    ids=["one-nan", "face-nan", "all-inf", "all-nan", "nan-scores", "legs-absent", "overflow"],
)
def test_mapping_never_yields_nan_joints_fall_back(damage):
    world, vis = _landmarks()
    damage(world, vis)
    joints, conf = mediapipe_to_ntu25(world, vis, 0.5)
    assert joints.shape == (25, 3) and np.isfinite(joints).all() and np.isfinite(conf).all()
    assert ((conf >= 0) & (conf <= 1)).all()


def test_mapping_refuses_fewer_than_33_landmarks_with_one_clear_error():
    world, vis = _landmarks(20)
    with pytest.raises(
        ValueError, match=r"expected MediaPipe world landmarks of shape \(\.\.\., 33, 3\), got \(20, 3\)"
    ):
        mediapipe_to_ntu25(world, vis)
    with pytest.raises(ValueError, match=r"expected visibility of shape \(33,\), got \(20,\)"):
        mediapipe_to_ntu25(_landmarks()[0], vis)


class _Landmark:
    def __init__(self, x, y, z, visibility=None, presence=None):
        self.x, self.y, self.z, self.visibility, self.presence = x, y, z, visibility, presence


def test_pose_result_with_missing_or_none_landmarks():
    world, _ = _landmarks()
    pts = [_Landmark(*p, 0.9, 0.9) for p in world.tolist()]
    pts[15] = _Landmark(None, None, None, None, None)  # a landmark without values: NaN, unseen
    skel = Skeleton.from_mediapipe(pts, pts, 0)
    joints, conf = skel.ntu25()
    assert np.isfinite(joints).all() and conf.min() == 0.0
    with pytest.raises(ValueError, match=r"expected world shape \(33, 3\), got \(32, 3\)"):
        Skeleton.from_mediapipe(pts[:32], pts, 0)  # a result with a landmark missing is refused, never padded


# ---------------------------------------------------------------------------------- no partial output
def test_data_prepare_on_bad_input_leaves_no_file(tmp_path, capsys):
    from sadvae.cli import main

    root = tmp_path / "msr"
    data = root / "MSRAction3DSkeletonReal3D"
    data.mkdir(parents=True)
    (root / "classes.txt").write_text("1\twave\n")
    (data / "a01_s01_e01_skeleton3D.txt").write_text(msr_rows()[:-30])  # truncated
    out = tmp_path / "out" / "msr.npz"
    assert main(["data", "prepare", "--dataset", "msr_action3d", "--root", str(root), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "a01_s01_e01_skeleton3D.txt:line 59: expected 4 numbers" in err[0]
    assert not out.exists() and not list(tmp_path.rglob("*.npz"))


def test_save_prepared_failing_midway_leaves_nothing(tmp_path, monkeypatch):
    def half_write(file, **arrays):
        Path(file).write_bytes(b"PK\x03\x04 partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(registry.np, "savez_compressed", half_write)
    out = tmp_path / "cache.npz"
    with pytest.raises(OSError, match="No space left"):
        _write_prepared(out)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "folder.npz").mkdir()
    with pytest.raises(ConfigError, match=r"folder.npz: is a folder; pass the path of the .npz file to write"):
        _write_prepared(tmp_path / "folder.npz")


def test_save_recording_failing_midway_leaves_nothing(tmp_path, monkeypatch):
    def half_write(file, **arrays):
        Path(file).write_bytes(b"PK\x03\x04 partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(replay.np, "savez_compressed", half_write)
    with pytest.raises(OSError):
        _write_recording(tmp_path / "rec.npz")
    assert list(tmp_path.iterdir()) == []


def test_text_cache_writes_are_atomic_and_never_fail_the_encode(tmp_path, monkeypatch, caplog):
    enc = TextEncoder(TextConfig(cache_dir=str(tmp_path / "cache")))
    emb = np.eye(2, 4, dtype=np.float32)

    def fail(src, dst):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(text.os, "replace", fail)
    enc._write_cache(tmp_path / "cache" / "k.npy", emb, None, ["a", "b"])
    assert list((tmp_path / "cache").iterdir()) == [] and "cannot write text-embedding cache" in caplog.text
    monkeypatch.undo()
    enc._write_cache(tmp_path / "cache" / "k.npy", emb, None, ["a", "b"])
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["k.json", "k.npy"]
    (tmp_path / "cache" / "k.npy").write_bytes(b"")  # an empty (cut) cache entry is ignored and recomputed
    assert enc._read_cache(tmp_path / "cache" / "k.npy", 2) is None


def _unsafe_loads(tree: ast.AST) -> list[tuple[int, str]]:
    """Calls that can run code from a file: np.load(allow_pickle=True), torch.load without weights_only=True,
    pickle.load(s), yaml.load, marshal.load(s), bare eval/exec."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f, kw = node.func, {k.arg: k.value for k in node.keywords}
        name = f"{getattr(f.value, 'id', '?')}.{f.attr}" if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        allow = kw.get("allow_pickle")
        pickles = allow is not None and not (isinstance(allow, ast.Constant) and not allow.value)
        only = kw.get("weights_only")
        weights_only = isinstance(only, ast.Constant) and only.value is True
        if name.endswith(".load") and name.split(".")[0] in ("np", "numpy") and pickles:
            found.append((node.lineno, "np.load(allow_pickle=True)"))
        elif name == "torch.load" and not weights_only:
            found.append((node.lineno, "torch.load without weights_only=True"))
        elif name in ("pickle.load", "pickle.loads", "yaml.load", "marshal.load", "marshal.loads", "eval", "exec"):
            found.append((node.lineno, name))
    return found


def test_no_unsafe_deserialisation_in_the_code():
    """Security audit as a test: no file a user passes is unpickled except by the restricted txt2npy unpickler."""
    root = Path(__file__).resolve().parents[2]
    offenders = [
        f"{f.relative_to(root)}:{line}: {what}"
        for pkg in ("sadvae", "realtime", "scripts", "calibration")
        for f in sorted((root / pkg).rglob("*.py"))
        for line, what in _unsafe_loads(ast.parse(f.read_text(encoding="utf-8")))
    ]
    assert offenders == []
    bad = "import numpy as np, torch, pickle\nnp.load(p, allow_pickle=True)\ntorch.load(p)\npickle.loads(b)\neval(s)\n"
    assert [w for _, w in _unsafe_loads(ast.parse(bad))] == [
        "np.load(allow_pickle=True)",
        "torch.load without weights_only=True",
        "pickle.loads",
        "eval",
    ]
    from sadvae.data.ntu import _ArrayUnpickler

    assert issubclass(_ArrayUnpickler, pickle.Unpickler)


@pytest.mark.parametrize(
    ("name", "content", "where"),
    [
        ("msr", msr_rows().replace("2.5 1", "1e39 1", 1), "line 1"),
        ("ntu_skeleton", ntu_skeleton_text().replace("0.0700 3.0", "0.0700 -4e38", 1), "line 6"),
        ("nw_ucla", json.dumps({**json.loads(ucla_json()), "skeletons": [[[10**400, 0, 1]] * 20]}), "skeletons[0][0]"),
        ("utkinect_joints", "9 1e300 " + " ".join(["0.5"] * 59) + "\n" + utk_joints(), "line 1"),
    ],
)
def test_values_that_overflow_float32_are_refused_not_turned_into_inf(tmp_path, name, content, where):
    """Joints are float32: 1e39 parses as a finite float64 but would become inf; the line is named instead."""
    path = _setup(tmp_path, name)
    path.write_text(content)
    with pytest.raises(DataFormatError) as e:
        TEXT_READERS[name][2](path)
    one_clear_error(e.value, path, where, "finite numbers")
