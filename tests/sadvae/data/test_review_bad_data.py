"""Bad data found by the review of 6 December 2026, late (corrupted copies of real files): each was a traceback, a
hang or a clip read wrongly without a word; each is now one error naming the file, a rejected clip with its reason,
or a listed file."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from sadvae.data.text_files import parse_json, read_text
from sadvae.errors import DataFormatError


def test_json_nested_too_deeply_is_one_error_not_a_recursion_traceback(tmp_path):
    path = tmp_path / "a01_s01_e01_v01.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DataFormatError, match="JSON nested too deeply") as e:
        parse_json(read_text(path), path)
    assert str(e.value).startswith(str(path))
    with pytest.raises(json.JSONDecodeError):  # an ordinary malformed document is the caller's to word
        parse_json("[1,", path)


def test_a_fifo_in_place_of_a_data_file_is_refused_not_read_for_ever(tmp_path):
    from sadvae.data.mocap.kinematics import read_mocap_text

    fifo = tmp_path / "S001C001P001R001A001.skeleton"
    os.mkfifo(fifo)
    for read in (lambda p: read_text(p), lambda p: read_mocap_text(p, "BVH")):
        with pytest.raises(DataFormatError, match="not a regular file"):
            read(fifo)


def test_a_clip_folder_whose_dataset_json_is_a_folder_is_one_error(tmp_path):
    from sadvae.data.user_format import read_clip_dataset

    root = tmp_path / "clips"
    root.mkdir()
    (root / "classes.txt").write_text("walk\nrun\n")
    (root / "dataset.json").mkdir()
    with pytest.raises(DataFormatError, match="dataset.json: is not a file"):
        read_clip_dataset(root)


def test_an_amc_that_never_gives_a_bone_the_mapping_needs_is_refused(shared_data, tmp_path):
    from sadvae.data.mocap.datasets import read_hdm05_amc

    amc = shared_data / "mocap" / "hdm05" / "train" / "10" / "HDM_bd_squat1Reps_001_120.amc"
    if not amc.is_file():
        pytest.skip(f"HDM05 not found at {amc}")
    copy = tmp_path / amc.name
    copy.write_bytes(b"".join(ln for ln in amc.read_bytes().splitlines(True) if not ln.startswith(b"lhumerus ")))
    shutil.copy(amc.with_name("HDM_bd.asf"), tmp_path / "HDM_bd.asf")
    with pytest.raises(DataFormatError, match=r"no frame gives bone\(s\) \['lhumerus'\] of HDM_bd.asf"):
        read_hdm05_amc(copy)


def test_mocap_files_the_loaders_do_not_read_are_listed(shared_data, tmp_path, caplog):
    from sadvae.data.mocap.datasets import load_hdm05, unread_mocap_files

    src = shared_data / "mocap" / "hdm05" / "train" / "10"
    if not src.is_dir():
        pytest.skip(f"HDM05 not found at {src}")
    k = tmp_path / "hdm05" / "train" / "10"
    k.mkdir(parents=True)
    shutil.copy(src / "HDM_bd.asf", k)
    shutil.copy(src / "HDM_bd_squat1Reps_001_120.amc", k)
    shutil.copy(src / "HDM_bd_squat1Reps_001_120.amc", k / "HDM_bd_squat1Reps_002_120.AMC")
    (k / "extra").mkdir()
    shutil.copy(src / "HDM_bd_squat1Reps_001_120.amc", k / "extra" / "HDM_bd_squat1Reps_003_120.amc")
    root = tmp_path / "hdm05"
    assert unread_mocap_files("hdm05", root) == [
        "train/10/HDM_bd_squat1Reps_002_120.AMC",
        "train/10/extra/HDM_bd_squat1Reps_003_120.amc",
    ]
    with caplog.at_level("WARNING", "sadvae.data.mocap.datasets"):
        assert len(load_hdm05(root).sequences) == 1
    assert "hdm05: 2 files not read" in caplog.text
    assert unread_mocap_files("bandai_namco", shared_data / "mocap" / "bandai_namco") == []  # the release: none


def test_ntu_and_pku_coordinates_that_cannot_be_metres_are_refused(shared_data, tmp_path):
    from sadvae.data.ntu_skeleton import read_ntu_skeleton
    from sadvae.data.pku import read_pku_mmd

    ntu = shared_data / "ntu" / "S001C001P001R001A001.skeleton"
    if not ntu.is_file():
        pytest.skip(f"NTU sample not found at {ntu}")
    lines = ntu.read_text().splitlines(True)
    row = next(i for i, ln in enumerate(lines) if len(ln.split()) == 12)  # the first joint row
    lines[row] = "5000 " + " ".join(lines[row].split()[1:]) + "\n"
    copy = tmp_path / ntu.name
    copy.write_text("".join(lines))
    with pytest.raises(DataFormatError, match="a coordinate of 5000 is beyond"):
        read_ntu_skeleton(copy)
    pku = shared_data / "pku_mmd" / "A10N08-L.txt"
    if pku.is_file():
        data = np.loadtxt(pku)
        data[3, 0] = 1e6
        bad = tmp_path / "pku" / pku.name
        bad.parent.mkdir()
        np.savetxt(bad, data, fmt="%.6f")
        with pytest.raises(DataFormatError, match="a coordinate of 1e\\+06 is beyond"):
            read_pku_mmd(bad)


def test_an_npz_of_no_known_format_names_every_format_it_could_be(tmp_path):
    """Review of 6 December 2026, late: ``--replay weird.npz`` (a key ``foo``) was told only of the CTR-GCN keys, not
    of the recordings ``--record-skeleton`` writes."""
    from realtime.sources.replay import ReplaySource

    np.savez(tmp_path / "weird.npz", foo=np.zeros(3))
    with pytest.raises(DataFormatError, match=r"none of the read formats \(keys \['foo'\]\): a recording has joints"):
        ReplaySource(tmp_path / "weird.npz")
