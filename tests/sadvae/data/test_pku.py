from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sadvae.data.ntu import load_class_names
from sadvae.data.pku import read_pku_mmd
from sadvae.errors import DataFormatError


def write_rows(path: Path, rows: np.ndarray, nl: str = "\n") -> Path:
    path.write_bytes(nl.join(" ".join(f"{v:.6f}" for v in r) for r in rows).encode() + nl.encode())
    return path


def synthetic_rows(t: int = 6, second: bool = False) -> np.ndarray:
    rng = np.random.default_rng(1)
    rows = np.zeros((t, 150))
    rows[:, :75] = rng.uniform(-1, 3, size=(t, 75))
    if second:
        rows[:, 75:] = rng.uniform(-1, 3, size=(t, 75))
    return np.round(rows, 6)


def test_real_untrimmed_sequence(shared_data: Path) -> None:
    (seq,) = read_pku_mmd(shared_data / "pku_mmd/A10N08-L.txt")
    assert seq.joints.shape == (1040, 2, 25, 3) and seq.joints.dtype == np.float32
    assert (seq.label, seq.label_name, seq.view, seq.fps) == (None, None, 1, 30.0)
    assert seq.num_persons == 2  # the second person is tracked in part of this sequence
    assert np.allclose(seq.joints[0, 0, 0], (-0.304560, 0.212575, 2.728912))  # first three numbers of the file


def test_real_sequence_cut_by_a_label_file(shared_data: Path, tmp_path: Path) -> None:
    names = load_class_names(shared_data / "labels/sa-dvae/pku51.csv")  # 0-based idx
    labels = tmp_path / "A10N08-L.txt"
    labels.write_text("3,10,60,1\r\n\r\n17, 100, 250, 2,\r\n51,1000,1040,1\r\n")  # spaces, trailing comma
    (whole,) = read_pku_mmd(shared_data / "pku_mmd/A10N08-L.txt")
    clips = read_pku_mmd(shared_data / "pku_mmd/A10N08-L.txt", labels, class_names=names)
    assert [c.num_frames for c in clips] == [50, 150, 40]
    assert [c.label for c in clips] == [2, 16, 50]
    assert clips[0].label_name == names[2] == "brushing teeth"
    assert clips[1].source.endswith("A10N08-L.txt#100-250")
    np.testing.assert_array_equal(clips[1].joints, whole.joints[100:250])


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (
            "3,10,2000,1",
            r"line 2: expected 0 <= start_frame < end_frame <= 1040 \(the skeleton's frames\), found 10, 2000",
        ),
        ("3,60,10,1", r"line 2: expected 0 <= start_frame < end_frame <= 1040"),
        ("52,10,60,1", r"line 2: expected action_id in 1..51, found 52"),
        ("0,10,60,1", r"line 2: expected action_id in 1..51, found 0"),
        ("3,10,60", r"line 2: expected 4 values action_id,start_frame,end_frame,confidence, found 3"),
        ("3 10 60 1", r"line 2: expected 4 values .*, found 1"),
        (
            "3,1O,60,1",
            r"line 2: expected integer action_id, start_frame, end_frame and a numeric confidence, found '3,1O",
        ),
        ("3,10,60,high", r"line 2: expected integer action_id, .*found '3,10,60,high'"),
    ],
)
def test_bad_label_rows(shared_data: Path, tmp_path: Path, row: str, problem: str) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text(f"1,0,30,1\n{row}\n")
    with pytest.raises(DataFormatError, match=r"labels.txt:" + problem):
        read_pku_mmd(shared_data / "pku_mmd/A10N08-L.txt", labels)


def test_empty_label_file(tmp_path: Path) -> None:
    skel = write_rows(tmp_path / "0002-M.txt", synthetic_rows())
    labels = tmp_path / "labels.txt"
    labels.write_text("\n")
    with pytest.raises(DataFormatError, match="labels.txt: expected label rows"):
        read_pku_mmd(skel, labels)


def test_synthetic_one_or_two_persons(tmp_path: Path) -> None:
    rows = synthetic_rows()
    (one,) = read_pku_mmd(write_rows(tmp_path / "0002-M.txt", rows))
    assert one.num_persons == 1 and one.view == 2 and not one.joints[:, 1].any()
    np.testing.assert_allclose(one.joints[:, 0].reshape(6, 75), rows[:, :75], atol=1e-6)
    (two,) = read_pku_mmd(write_rows(tmp_path / "0003-R.txt", synthetic_rows(second=True), "\r\n"))
    assert two.num_persons == 2 and two.view == 3
    rows[2] = 0
    (gap,) = read_pku_mmd(write_rows(tmp_path / "seq.txt", rows))
    assert gap.view is None and gap.defects == ("1 of 6 frames have no skeleton",)


def test_wrong_column_count(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "0002-L.txt", synthetic_rows())
    lines = path.read_text().splitlines()
    lines[1] = " ".join(lines[1].split()[:75])
    path.write_text("\n".join(lines))
    with pytest.raises(DataFormatError) as e:
        read_pku_mmd(path)
    assert str(e.value) == f"{path}:line 2: expected 150 numbers (2 persons x 25 joints x xyz), found 75"


def test_a_label_file_given_as_the_skeleton_says_what_it_is(tmp_path: Path) -> None:
    """Data-reader audit of 7 December 2026, late: `sadvae data inspect label/A10N08-L.txt` read "expected 150
    numbers (2 persons x 25 joints x xyz), found 1"."""
    from sadvae.data.registry import read_path

    path = tmp_path / "A10N08-L.txt"
    path.write_text("12,18,103,1\n5,120,190,2\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"A10N08-L.txt:line 1: a PKU-MMD label file .*pass the skeleton file"):
        read_path(path)


def test_garbled_value(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "0002-L.txt", synthetic_rows())
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace(" ", " -0.2-3e ", 1).rsplit(" ", 1)[0]  # still 150 tokens
    path.write_text("\n".join(lines))
    with pytest.raises(DataFormatError, match=r"0002-L.txt:line 3: expected 150 finite numbers .* found '-0.2-3e'"):
        read_pku_mmd(path)
    lines[2] = lines[2].replace("-0.2-3e", "nan")
    path.write_text("\n".join(lines))
    with pytest.raises(DataFormatError, match=r"line 3: expected 150 finite numbers .* found 'nan'"):
        read_pku_mmd(path)


def test_empty_skeleton_file(tmp_path: Path) -> None:
    path = tmp_path / "0002-L.txt"
    path.write_text("\n\n")
    with pytest.raises(DataFormatError, match=r"0002-L.txt:line 1: expected rows of 150 numbers, found an empty file"):
        read_pku_mmd(path)
