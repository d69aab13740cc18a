"""Atomic file writing (sadvae.fileio) and the ONNX metadata codec (sadvae.onnx_metadata): the one home of each."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from sadvae.errors import EngineError
from sadvae.fileio import atomic_path, atomic_write
from sadvae.onnx_metadata import decode_metadata, encode_metadata, read_onnx_metadata


def test_atomic_write_replaces_whole_with_usual_permissions(tmp_path):
    path = tmp_path / "sub" / "plan.bin"
    atomic_write(path, b"old")
    atomic_write(path, b"new")
    assert path.read_bytes() == b"new"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600
    assert [p.name for p in path.parent.iterdir()] == ["plan.bin"]  # no temporary file left


def test_atomic_path_keeps_the_old_file_when_the_writer_fails(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("writer died")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_atomic_path_suffix_for_writers_that_append_one(tmp_path):
    path = tmp_path / "recording"  # np.savez appends .npz to a name without it
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, x=np.arange(3))
    with np.load(path) as z:
        assert z["x"].tolist() == [0, 1, 2]
    with pytest.raises(OSError), atomic_path(tmp_path / "missing" / "f.bin", make_parents=False):
        pass


def test_metadata_round_trip_and_foreign_keys():
    meta = {"window": 32, "seen_classes": ["a", "b"], "gate": {"t": None}}
    props = encode_metadata(meta)
    assert props["sadvae.window"] == "32"
    assert decode_metadata({**props, "author": "x", "sadvae.bad": "{"}) == {**meta, "author": "x", "bad": "{"}
    # (key, value) pairs in file order: a later duplicate wins, as when reading the file
    assert decode_metadata([("sadvae.a", "1"), ("a", "2"), ("sadvae.a", "3")]) == {"a": 3}


def _entry(key: str, value: str) -> bytes:
    k, v = key.encode(), value.encode()
    body = bytes([0x0A, len(k)]) + k + bytes([0x12, len(v)]) + v  # StringStringEntryProto {1: key, 2: value}
    return bytes([0x72, len(body)]) + body  # ModelProto field 14, length-delimited


def test_read_onnx_metadata_without_the_onnx_package(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(bytes([0x08, 0x07]) + _entry("sadvae.window", "64") + _entry("producer", "me"))  # ir_version 7
    assert read_onnx_metadata(path) == {"window": 64, "producer": "me"}
    path.write_bytes(b"\x72\x40short")
    with pytest.raises(EngineError, match="not an ONNX model"):
        read_onnx_metadata(path)
    with pytest.raises(EngineError, match="cannot read"):
        read_onnx_metadata(tmp_path / "absent.onnx")
