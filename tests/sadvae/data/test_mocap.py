"""Mocap readers: BVH (Bandai-Namco) and ASF/AMC (HDM05) -> NTU-25 by forward kinematics.

Synthetic files (written to ``tmp_path``) check the kinematics against hand-computed positions and every
bad-input case; a few real clips from ``../shared/data/mocap`` check the conversion (metres, upright, bone
lengths, facing the camera); the slow tests read both whole sets and check them against their MANIFESTs.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from sadvae.data.mocap import (
    BANDAI_CLASSES,
    BANDAI_STYLES,
    BANDAI_TEST_STYLES,
    HDM05_CLASSES,
    amc_forward_kinematics,
    bvh_forward_kinematics,
    load_bandai_namco,
    load_hdm05,
    read_amc,
    read_asf,
    read_bandai_bvh,
    read_bvh,
    read_hdm05_amc,
)
from sadvae.data.mocap.check import body_stats
from sadvae.data.mocap.convert import CAMERA_HEIGHT_M
from sadvae.data.record import Dataset
from sadvae.data.registry import DATASETS, load_prepared, read_path, save_prepared
from sadvae.data.splits import PROTOCOLS, protocol_mask
from sadvae.errors import DataFormatError
from sadvae.skeleton import NTUJoint as J

BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Arm
  {
    OFFSET 10 0 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 5 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.0333333
0 0 0 0 0 0 0 0 0
1 2 3 90 0 0 0 0 0
"""

ASF = """# synthetic
:version 1.10
:name test
:units
  mass 1.0
  length 0.45
  angle deg
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name up
     direction 0 1 0
     length 4.5
     axis 0 0 0 XYZ
    dof rx ry rz
    limits (-180 180)
           (-180 180)
           (-180 180)
  end
  begin
     id 2
     name tip
     direction 1 0 0
     length 4.5
     axis 0 0 90 XYZ
    dof rx
  end
:hierarchy
  begin
    root up
    up tip
  end
"""

AMC = """:FULLY-SPECIFIED
:DEGREES
1
root 0 0 0 0 0 0
up 0 0 0
tip 0
2
root 45 0 0 0 0 90
up 0 0 0
tip 90
"""

WALK = "bandai_namco/set1/data/dataset-1_walk_normal_001.bvh"
WAVE = "bandai_namco/set2/data/dataset-2_wave-left-hand_elderly_001.bvh"
SQUAT = "hdm05/train/10/HDM_bd_squat1Reps_001_120.amc"
GRAB = "hdm05/test/3/HDM_mm_grabHighR_017_120.amc"


@pytest.fixture(scope="module")
def mocap(shared_data: Path) -> Path:
    root = shared_data / "mocap"
    if not root.is_dir():
        pytest.skip(f"mocap data not found at {root}")
    return root


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _one_error(exc: pytest.ExceptionInfo, path: Path, *words: str) -> str:
    msg = str(exc.value)
    assert "\n" not in msg, msg
    assert msg.startswith(str(path)), msg
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"
    return msg


# ------------------------------------------------------------------------------------------------ kinematics
def test_bvh_forward_kinematics_matches_hand_computed_positions(tmp_path):
    bvh = read_bvh(_write(tmp_path, "a.bvh", BVH))
    assert bvh.names == ("Hips", "Arm", "Arm/End") and bvh.parents == (-1, 0, 1)
    assert bvh.channels[1] == ("Zrotation", "Xrotation", "Yrotation") and bvh.frame_time == pytest.approx(1 / 30, 1e-4)
    pos, rot = bvh_forward_kinematics(bvh)
    np.testing.assert_allclose(pos[0], [[0, 0, 0], [10, 0, 0], [10, 5, 0]], atol=1e-9)
    # frame 1: root at (1, 2, 3) turned 90 degrees about z: the arm's offset (10, 0, 0) -> (0, 10, 0),
    # the end's (0, 5, 0) -> (-5, 0, 0)
    np.testing.assert_allclose(pos[1], [[1, 2, 3], [1, 12, 3], [-4, 12, 3]], atol=1e-9)
    np.testing.assert_allclose(rot[1, 2] @ [1, 0, 0], [0, 1, 0], atol=1e-9)


def _rx(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rz(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


@pytest.mark.parametrize("order", ["Zrotation Xrotation Yrotation", "Xrotation Zrotation Yrotation"])
def test_bvh_rotation_channels_follow_the_listed_order(tmp_path, order):
    text = BVH.replace(
        "Xposition Yposition Zposition Zrotation Xrotation Yrotation", f"Xposition Yposition Zposition {order}"
    )
    # the root's rotation values are given in the listed order: Z = 90 and X = 90 either way
    values = {"Zrotation": 90, "Xrotation": 90, "Yrotation": 0}
    line = "0 0 0 " + " ".join(str(values[c]) for c in order.split()) + " 0 0 0"
    text = text.replace("1 2 3 90 0 0 0 0 0", line)
    pos, _ = bvh_forward_kinematics(read_bvh(_write(tmp_path, "o.bvh", text)))
    h = np.pi / 2
    r = _rz(h) @ _rx(h) if order.startswith("Z") else _rx(h) @ _rz(h)  # intrinsic: R = R_first @ R_second @ ...
    np.testing.assert_allclose(pos[1, 1], r @ [10, 0, 0], atol=1e-9)
    assert not np.allclose(_rz(h) @ _rx(h) @ [10, 0, 0], _rx(h) @ _rz(h) @ [10, 0, 0])  # the order matters here


def test_asf_amc_forward_kinematics_matches_hand_computed_positions(tmp_path):
    asf = read_asf(_write(tmp_path, "s.asf", ASF))
    assert asf.order == ("up", "tip") and asf.bones["tip"].dof == ("rx",)
    assert asf.bones["up"].length == pytest.approx(0.254)  # 4.5 units of 1/0.45 inch
    amc = read_amc(_write(tmp_path, "m.amc", AMC), asf)
    assert amc.num_frames == 2
    pos, _ = amc_forward_kinematics(asf, amc)
    np.testing.assert_allclose(pos["up"][0], [0, 0.254, 0], atol=1e-9)
    np.testing.assert_allclose(pos["tip"][0], [0.254, 0.254, 0], atol=1e-9)
    # frame 2: root 2.54 m along x, turned 90 degrees about z; "tip" bends 90 degrees about its axis-frame x,
    # which its axis (z = 90) turns onto the world y: W = Rz(90) @ Ry(90), (1, 0, 0) -> (0, 0, -1)
    np.testing.assert_allclose(pos["root"][1], [2.54, 0, 0], atol=1e-9)
    np.testing.assert_allclose(pos["up"][1], [2.54 - 0.254, 0, 0], atol=1e-9)
    np.testing.assert_allclose(pos["tip"][1], [2.54 - 0.254, 0, -0.254], atol=1e-9)


def test_an_amc_bone_no_frame_gives_is_said_not_only_zeroed(tmp_path):
    """The Acclaim default for a bone the AMC never lists is a zero rotation; the motion says which (the HDM05
    reader refuses one its mapping needs, tests/sadvae/data/test_review_bad_data.py)."""
    asf = read_asf(_write(tmp_path, "s.asf", ASF))
    assert read_amc(_write(tmp_path, "m.amc", ":DEGREES\n1\nroot 0 0 0 0 0 0\nup 0 0 0\n"), asf).absent == ("tip",)
    assert read_amc(_write(tmp_path, "full.amc", AMC), asf).absent == ()


def test_amc_fast_and_line_by_line_readers_agree(tmp_path, monkeypatch):
    from sadvae.data.mocap import acclaim

    asf = read_asf(_write(tmp_path, "s.asf", ASF))
    path = _write(tmp_path, "m.amc", AMC)
    fast = read_amc(path, asf)
    monkeypatch.setattr(acclaim, "_read_amc_regular", lambda *a: None)
    slow = read_amc(path, asf)
    for name in fast.values:
        np.testing.assert_array_equal(fast.values[name], slow.values[name])


# ------------------------------------------------------------------------------------------------- bad input
BAD_BVH = {
    "truncated": (BVH.replace("Frames: 2", "Frames: 3"), ("line", "file truncated")),
    "unknown channel": (BVH.replace("3 Zrotation Xrotation", "3 Wrotation Xrotation"), ("line 9", "Wrotation")),
    "short frame line": (BVH.replace("1 2 3 90 0 0 0 0 0", "1 2 3 90 0 0 0 0"), ("line 20", "9 channel values")),
    "not a number": (BVH.replace("1 2 3 90", "1 2 x 90"), ("line 20", "'x'")),
    "unclosed braces": (BVH.split("MOTION")[0].rsplit("}", 1)[0], ("truncated",)),
    "no hierarchy": ("MOTION\nFrames: 1\n", ("line 1", "HIERARCHY")),
    "empty": ("", ("empty file",)),
    "blank": ("\n \n", ("empty file",)),
}


@pytest.mark.parametrize("case", sorted(BAD_BVH))
def test_bad_bvh_gives_one_clear_error(tmp_path, case):
    text, words = BAD_BVH[case]
    path = _write(tmp_path, "bad.bvh", text)
    with pytest.raises(DataFormatError) as exc:
        read_bvh(path)
    _one_error(exc, path, *words)
    with pytest.raises(DataFormatError) as exc:  # the same one error through the CLI's reader
        read_path(path)
    _one_error(exc, path, *words)


def test_real_bvh_truncated_mid_line(mocap, tmp_path):
    data = (mocap / WALK).read_bytes()
    path = tmp_path / "dataset-1_walk_normal_001.bvh"
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(DataFormatError) as exc:
        read_bandai_bvh(path)
    _one_error(exc, path, ":line ")


BAD_AMC = {
    "bone the ASF lacks": (AMC.replace("tip 90", "nose 90"), ("line 10", "'nose'", "s.asf")),
    "wrong value count": (AMC.replace("tip 90", "tip 90 1"), ("line 10", "1 values")),
    "frame lacks a bone": (AMC.replace("up 0 0 0\ntip 90", "up 0 0 0"), ("line 7", "lacks bone 'tip'")),
    "truncated": (AMC.rsplit("tip", 1)[0], ("lacks bone 'tip'", "truncated")),
    "frames do not count up": (AMC.replace("\n2\n", "\n5\n"), ("line 7", "frame number 2")),
    "values before a frame": (AMC.replace(":DEGREES\n1\n", ":DEGREES\n"), ("line 3", "frame number")),
    "empty": ("", ("empty file",)),
}


@pytest.mark.parametrize("case", sorted(BAD_AMC))
def test_bad_amc_gives_one_clear_error(tmp_path, case):
    text, words = BAD_AMC[case]
    asf = read_asf(_write(tmp_path, "s.asf", ASF))
    path = _write(tmp_path, "m.amc", text)
    with pytest.raises(DataFormatError) as exc:
        read_amc(path, asf)
    _one_error(exc, path, *words)


BAD_ASF = {
    "empty": ("", ("empty file",)),
    "hierarchy names an unknown bone": (ASF.replace("up tip\n", "up tip nose\n"), ("line", "'nose'")),
    "bone without length": (ASF.replace("     length 4.5\n     axis 0 0 90", "     axis 0 0 90"), ("length",)),
    "unknown dof": (ASF.replace("dof rx\n", "dof rw\n"), ("line", "rw")),
    "no hierarchy": (ASF.split(":hierarchy")[0], (":hierarchy",)),
    "unconnected bone": (ASF.replace("    up tip\n", ""), ("not connected",)),
}


def _chain_asf(first: float, second: float, units: bool = False) -> str:
    """The synthetic ASF with its two bones pointing the same way (up), of these lengths in file units."""
    text = ASF.replace("     direction 1 0 0\n", "     direction 0 1 0\n")
    text = text.replace("     length 4.5\n     axis 0 0 0", f"     length {first:g}\n     axis 0 0 0", 1)
    text = text.replace("     length 4.5\n     axis 0 0 90", f"     length {second:g}\n     axis 0 0 90", 1)
    return text if units else text.replace("  length 0.45\n", "")


def test_asf_without_length_unit_reads_inches_and_refuses_no_persons_size(tmp_path):
    """No `:units` `length`: the Acclaim default (inches) is read when the rest pose, followed from the root through
    the hierarchy, spans a person's 1-3 m (two 25 in bones in a line: 1.27 m, though each alone is 0.64 m); a doll
    (the synthetic skeleton: two 4.5 in bones at right angles, 0.11 m) or a giant (two 100 in bones, 5.08 m) is one
    clear error naming the fix; with a `length` given nothing is checked."""
    asf = read_asf(_write(tmp_path, "h.asf", _chain_asf(25, 25)))
    assert asf.length_to_m == pytest.approx(0.0254) and asf.bones["up"].length == pytest.approx(0.635)
    for name, text, span in (
        ("doll.asf", ASF.replace("  length 0.45\n", ""), "spans 0.11 m"),
        ("giant.asf", _chain_asf(100, 100), "spans 5.08 m"),
        ("half.asf", _chain_asf(15, 15), "spans 0.76 m"),  # HDM05's size with its `length 0.45` line lost
    ):
        path = _write(tmp_path, name, text)
        with pytest.raises(DataFormatError) as exc:
            read_asf(path)
        _one_error(exc, path, ":units", span, "length 0.45")
    assert read_asf(_write(tmp_path, "u.asf", _chain_asf(100, 100, units=True))).bones["up"].length == pytest.approx(
        100 * 0.0254 / 0.45
    )  # a `length` given: read as it says, nothing checked


def test_real_asf_without_its_length_line_is_refused(mocap, tmp_path):
    """An HDM05 skeleton whose `length 0.45` line is lost reads at 0.45 times a person's size: refused."""
    src = sorted((mocap / "hdm05").rglob("*.asf"))[0]
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if line.split()[:2] != ["length", "0.45"]]
    assert len(kept) == len(lines) - 1  # the :units length line, nothing else
    bad = _write(tmp_path, src.name, "".join(kept))
    with pytest.raises(DataFormatError) as exc:
        read_asf(bad)
    _one_error(exc, bad, ":units", "length 0.45")
    assert read_asf(src).length_to_m == pytest.approx(0.0254 / 0.45)


@pytest.mark.parametrize("case", sorted(BAD_ASF))
def test_bad_asf_gives_one_clear_error(tmp_path, case):
    text, words = BAD_ASF[case]
    path = _write(tmp_path, "s.asf", text)
    with pytest.raises(DataFormatError) as exc:
        read_asf(path)
    _one_error(exc, path, *words)


def test_amc_without_its_asf_names_the_missing_skeleton(tmp_path):
    path = _write(tmp_path, "HDM_zz_squat1Reps_001_120.amc", AMC)
    with pytest.raises(DataFormatError) as exc:
        read_path(path)
    _one_error(exc, path, "HDM_zz.asf", "missing")


def test_missing_and_folder_paths(tmp_path):
    with pytest.raises(DataFormatError) as exc:
        read_bvh(tmp_path / "none.bvh")
    _one_error(exc, tmp_path / "none.bvh", "not found")
    (tmp_path / "d.asf").mkdir()
    with pytest.raises(DataFormatError) as exc:
        read_asf(tmp_path / "d.asf")
    _one_error(exc, tmp_path / "d.asf", "folder")


@pytest.mark.parametrize("frame_time", ["0.00001", "0", "-0.03", "60"])
def test_absurd_bvh_frame_time_is_refused(tmp_path, frame_time):
    """Review of 6 December 2026: any positive Frame Time passed (1e-9 s is a billion fps)."""
    path = _write(tmp_path, "t.bvh", BVH.replace("Frame Time: 0.0333333", f"Frame Time: {frame_time}"))
    with pytest.raises(DataFormatError) as exc:
        read_bvh(path)
    _one_error(exc, path, ":line 18:", "Frame Time in seconds between 0.0001 and 10", frame_time)


def _corrupt_frame(lines: list[str], start: int, value: str) -> str:
    """The lines with the first number of line ``start`` replaced by ``value``."""
    toks = lines[start].split()
    lines[start] = " ".join([toks[0], value, *toks[2:]] if toks[0] == "root" else [value, *toks[1:]])
    return "\n".join(lines) + "\n"


def test_huge_bvh_channel_value_is_one_clear_error(mocap, tmp_path):
    """Review of 6 December 2026: 1e300 in a position channel made forward kinematics overflow to inf, and the
    record's ValueError escaped as a traceback."""
    lines = (mocap / WALK).read_text().splitlines()
    first = next(i for i, ln in enumerate(lines) if ln.startswith("Frame Time")) + 1
    path = _write(tmp_path, WALK.rsplit("/", 1)[1], _corrupt_frame(lines, first + 4, "1e300"))
    for reader in (read_bandai_bvh, read_path):
        with pytest.raises(DataFormatError) as exc:
            reader(path)
        _one_error(exc, path, ":MOTION: frame 5 (counting from 1)", "fix or remove")


def test_huge_amc_channel_value_is_one_clear_error(mocap, tmp_path):
    src = mocap / SQUAT
    (tmp_path / "HDM_bd.asf").write_bytes((src.parent / "HDM_bd.asf").read_bytes())
    lines = src.read_text(encoding="latin-1").splitlines()
    root_lines = [i for i, ln in enumerate(lines) if ln.startswith("root ")]
    path = _write(tmp_path, src.name, _corrupt_frame(lines, root_lines[4], "1e300"))
    for reader in (read_hdm05_amc, read_path):
        with pytest.raises(DataFormatError) as exc:
            reader(path)
        _one_error(exc, path, "frame 5 (counting from 1)", "fix or remove")


# ------------------------------------------- units and bones a reader cannot take on trust (audit of 7 December)
def _hdm05_copy(mocap: Path, tmp_path: Path, asf=None, amc=None) -> Path:
    """A copy of SQUAT and its actor's ASF in tmp_path, each line passed through ``asf`` / ``amc`` (None: kept)."""
    src = mocap / SQUAT
    for name, edit in (("HDM_bd.asf", asf), (src.name, amc)):
        lines = (src.parent / name).read_text(encoding="latin-1").splitlines(keepends=True)
        kept = [out for line in lines if (out := line if edit is None else edit(line)) is not None]
        (tmp_path / name).write_text("".join(kept), encoding="latin-1")
    return tmp_path / src.name


def test_a_bvh_in_another_unit_than_centimetres_is_refused(mocap, tmp_path):
    """A Bandai-Namco clip exported in metres (or millimetres) read as a 2 cm doll (or a 14 m giant), exit 0."""

    def scaled(factor: float) -> str:
        out = []
        for line in (mocap / WALK).read_text().splitlines():
            toks = line.split()
            if toks[:1] == ["OFFSET"]:
                line = line[: len(line) - len(line.lstrip())] + " ".join(
                    ["OFFSET", *(f"{float(v) * factor:g}" for v in toks[1:])]
                )
            out.append(line)
        return "\n".join(out) + "\n"

    for factor, span in ((0.01, "span 0.02 m"), (10.0, "span 18")):
        path = _write(tmp_path, WALK.rsplit("/", 1)[1], scaled(factor))
        with pytest.raises(DataFormatError) as exc:
            read_bandai_bvh(path)
        _one_error(exc, path, ":HIERARCHY:", span, "convert its OFFSETs and position channels to centimetres")


def test_an_asf_whose_length_unit_is_wrong_is_refused(mocap, tmp_path):
    """`length 1.0` for HDM05's 0.45: a 0.8 m person, read without a word (the check ran only without the line)."""
    path = _hdm05_copy(mocap, tmp_path, asf=lambda line: line.replace("length 0.45", "length 1.0"))
    with pytest.raises(DataFormatError) as exc:
        read_hdm05_amc(path)
    _one_error(exc, tmp_path / "HDM_bd.asf", ":units", "`length 1` makes the skeleton at rest span 0.77 m", "0.45")


def test_an_amc_angle_unit_that_contradicts_its_asf_is_refused(mocap, tmp_path):
    path = _hdm05_copy(mocap, tmp_path, amc=lambda line: line.replace(":DEGREES", ":RADIANS"))
    with pytest.raises(DataFormatError) as exc:
        read_hdm05_amc(path)
    _one_error(exc, path, "line 3", "says :RADIANS but its skeleton HDM_bd.asf says `angle deg`")


@pytest.mark.parametrize("bone", ["lradius", "upperback", "upperneck"])
def test_an_amc_that_never_gives_a_bone_between_the_root_and_a_joint_is_refused(mocap, tmp_path, bone):
    """Only the mapped end bones were checked: without `lradius` the left wrist sat 0.16 m off, unsaid."""
    path = _hdm05_copy(mocap, tmp_path, amc=lambda line: None if line.split()[:1] == [bone] else line)
    with pytest.raises(DataFormatError) as exc:
        read_hdm05_amc(path)
    _one_error(exc, path, f"no frame gives bone(s) ['{bone}']")


# --------------------------------------------------------------------------------------------- real clips
def _check_person(seq, min_height=1.3, max_height=1.95):
    x = seq.joints[:, 0].astype(np.float64)
    assert seq.joints.dtype == np.float32 and seq.joints.shape[1:] == (1, 25, 3)
    feet = x[:, [J.ANKLE_LEFT, J.FOOT_LEFT, J.ANKLE_RIGHT, J.FOOT_RIGHT], 1]
    assert abs(feet.min() + CAMERA_HEIGHT_M) < 0.08, "the feet should touch the floor, 1 m below the camera"
    assert np.all(x[:, J.HEAD, 1] > x[:, J.SPINE_BASE, 1] + 0.3), "upright: head well above spine base"
    head = float(np.max(x[:, J.HEAD, 1] + CAMERA_HEIGHT_M))
    assert min_height - 0.15 < head < max_height - 0.05, f"head centre {head:.2f} m above the floor"
    lengths = {
        "upper arm": (J.SHOULDER_LEFT, J.ELBOW_LEFT, 0.2, 0.35),
        "forearm": (J.ELBOW_LEFT, J.WRIST_LEFT, 0.18, 0.32),
        "thigh": (J.HIP_LEFT, J.KNEE_LEFT, 0.3, 0.5),
        "shank": (J.KNEE_LEFT, J.ANKLE_LEFT, 0.3, 0.5),
        "spine": (J.SPINE_BASE, J.SPINE_SHOULDER, 0.3, 0.55),
    }
    for name, (a, b, lo, hi) in lengths.items():
        d = np.linalg.norm(x[:, a] - x[:, b], axis=-1)
        assert lo < np.median(d) < hi, f"{name} {np.median(d):.3f} m"
        assert d.std() < 0.005, f"{name} changes length: rigid bones expected"
    # facing the camera (-z) in the first frame: the person's left is at -x, the toes point to -z
    f0 = x[0]
    assert f0[J.SHOULDER_LEFT, 0] < f0[J.SHOULDER_RIGHT, 0] and f0[J.HIP_LEFT, 0] < f0[J.HIP_RIGHT, 0]
    assert f0[J.FOOT_LEFT, 2] + f0[J.FOOT_RIGHT, 2] < f0[J.ANKLE_LEFT, 2] + f0[J.ANKLE_RIGHT, 2]
    assert x[..., 2].min() >= 0.99


def test_bandai_walk_clip(mocap):
    seq = read_bandai_bvh(mocap / WALK)
    assert seq.num_frames == 195 and seq.fps == 30.0 and seq.timestamps is None
    assert seq.label_name == "walk" and BANDAI_CLASSES[seq.label] == "walk" and seq.subject is None
    assert BANDAI_STYLES[seq.view] == (1, "normal")
    assert any("derived" in d for d in seq.defects)
    _check_person(seq, 1.45, 1.75)
    x = seq.joints[:, 0].astype(np.float64)
    # the MANIFEST's frame-0 numbers: upper arm 24 cm, forearm 22 cm, thigh 39 cm, shin 41 cm
    for (a, b), want in zip(
        [
            (J.SHOULDER_LEFT, J.ELBOW_LEFT),
            (J.ELBOW_LEFT, J.WRIST_LEFT),
            (J.HIP_LEFT, J.KNEE_LEFT),
            (J.KNEE_LEFT, J.ANKLE_LEFT),
        ],
        [0.243, 0.223, 0.391, 0.410],
        strict=True,
    ):
        assert np.linalg.norm(x[0, a] - x[0, b]) == pytest.approx(want, abs=0.002)
    # it walks the way it faces: towards the camera
    assert x[-1, J.SPINE_BASE, 2] < x[0, J.SPINE_BASE, 2] - 2.0


def test_bandai_wave_left_hand_raises_the_left_hand(mocap):
    seq = read_bandai_bvh(mocap / WAVE)
    assert seq.label_name == "wave the left hand" and BANDAI_STYLES[seq.view] == (2, "elderly")
    _check_person(seq)
    x = seq.joints[:, 0]
    assert x[:, J.HAND_LEFT, 1].max() > x[:, J.HEAD, 1].max() - 0.2  # the left hand goes up near the head
    assert x[:, J.HAND_RIGHT, 1].max() < x[:, J.SPINE_MID, 1].max()  # the right one stays down


def test_hdm05_clips(mocap):
    seq = read_hdm05_amc(mocap / SQUAT)
    assert seq.fps == 120.0 and seq.subject == 1 and seq.label_name == "squat" and seq.view is None
    _check_person(seq)
    x = seq.joints[:, 0]
    assert x[:, J.SPINE_BASE, 1].min() < x[0, J.SPINE_BASE, 1] - 0.25  # the hips go down in a squat
    grab = read_hdm05_amc(mocap / GRAB)
    assert grab.subject == 4 and HDM05_CLASSES[grab.label].startswith("reach up")
    _check_person(grab)
    g = grab.joints[:, 0]
    # the right hand reaches above the head; the left stays below the hips
    top = g[..., 1].max(axis=0)
    assert top[J.HAND_RIGHT] > top[J.HEAD] > top[J.SPINE_BASE] > top[J.HAND_LEFT]
    # real finger and thumb bones, not derived: the tip is not on the wrist->hand line
    tip = g[:, J.HAND_TIP_RIGHT] - g[:, J.HAND_RIGHT]
    assert np.linalg.norm(tip, axis=-1).min() > 0.03


def test_registry_and_cli_detection(mocap, tmp_path):
    for name, root in (("bandai_namco", "mocap/bandai_namco"), ("hdm05", "mocap/hdm05")):
        assert DATASETS[name].default_root == root and DATASETS[name].protocol in PROTOCOLS
    ds = read_path(mocap / SQUAT)
    assert ds.name == "hdm05" and len(ds.sequences) == 1
    ds = read_path(mocap / WALK)
    assert ds.name == "bandai_namco" and ds.sequences[0].label_name == "walk"
    # a prepared cache keeps the style (view) and the subject
    seqs = [read_bandai_bvh(mocap / WALK), read_hdm05_amc(mocap / SQUAT)]
    back = load_prepared(save_prepared(Dataset("mix", BANDAI_CLASSES, seqs), tmp_path / "c.npz"))
    assert [s.view for s in back.sequences] == [1, None] and [s.subject for s in back.sequences] == [None, 1]
    np.testing.assert_array_equal(back.sequences[1].joints, seqs[1].joints)


def test_protocols_hold_out_actors_and_styles():
    subjects = np.array([1, 2, 3, 4, 5])
    assert protocol_mask(subjects, np.full(5, -1), "hdm05_cross_subject").tolist() == [True, True, True, False, False]
    styles = np.array(sorted(BANDAI_STYLES))
    train = protocol_mask(np.full(len(styles), -1), styles, "bandai_cross_style")
    assert set(styles[~train]) == set(BANDAI_TEST_STYLES)
    names = {BANDAI_STYLES[s] for s in BANDAI_TEST_STYLES}
    assert names == {
        (1, "happy"),
        (1, "proud"),
        (1, "feminine"),
        (1, "tired"),
        (1, "giant"),
        (2, "elderly"),
        (2, "masculine"),
    }


# ------------------------------------------------------------------------------------------ whole sets (slow)
# the HDM05 MANIFEST's table: class -> (train, test)
HDM05_COUNTS = [(18, 14), (18, 9), (16, 13), (30, 6), (10, 7), (18, 11), (14, 6), (10, 6), (9, 6), (36, 16), (9, 5)]


@pytest.mark.slow
def test_hdm05_whole_set_matches_its_manifest(mocap):
    ds = load_hdm05(mocap / "hdm05")
    assert len(ds.sequences) == 287 and not ds.rejected and ds.class_names == HDM05_CLASSES
    train = protocol_mask(np.array([s.subject for s in ds.sequences]), np.full(287, -1), "hdm05_cross_subject")
    assert int(train.sum()) == 188 and int((~train).sum()) == 99
    labels = np.array([s.label for s in ds.sequences])
    for k, (n_train, n_test) in enumerate(HDM05_COUNTS):
        assert (int(((labels == k) & train).sum()), int(((labels == k) & ~train).sum())) == (n_train, n_test), k
    assert {s.fps for s in ds.sequences} == {120.0}
    _check_body(ds)
    _check_partition(ds, "hdm05", np.array([s.subject for s in ds.sequences]), test_groups={4, 5})


@pytest.mark.slow
def test_bandai_whole_set_matches_its_manifest(mocap):
    ds = load_bandai_namco(mocap / "bandai_namco")
    assert len(ds.sequences) == 454 and not ds.rejected
    names = Counter(s.label_name for s in ds.sequences)
    set1 = {
        "walk": 30,
        "walk backwards": 15,
        "walk to the left": 15,
        "walk to the right": 15,
        "run": 15,
        "sprint": 15,
        "bow": 15,
        "wave goodbye with one hand": 15,
        "wave goodbye with both hands": 15,
        "show the way with an arm": 15,
        "call out to someone": 2,
        "punch": 2,
        "swing a sword": 2,
        "kick": 1,
        "answer a call": 1,
        "dance": 1,
    }
    set2 = {n: 28 for n in BANDAI_CLASSES[16:]} | {"walk": 28, "run": 28}
    assert names == Counter(set1) + Counter(set2)
    views = np.array([s.view for s in ds.sequences])
    train = protocol_mask(np.full(len(views), -1), views, "bandai_cross_style")
    assert int((~train).sum()) == 5 * 11 + 2 * 40  # five set-1 styles (11 clips each), two set-2 styles (40 each)
    test_labels = {s.label for s, t in zip(ds.sequences, train, strict=True) if not t}
    assert len(test_labels) == 18  # every action recorded in more than the normal style is on both sides
    assert {s.fps for s in ds.sequences} == {30.0}
    _check_body(ds, stature=(1.45, 1.75))
    _check_partition(ds, "bandai_namco", views, test_groups=set(BANDAI_TEST_STYLES))


def _check_partition(ds, name, groups, test_groups):
    """The training protocol's partition: test sides are the held-out groups; validation holds out whole groups."""
    from sadvae.data.splits import random_split
    from sadvae.train.protocol import split_partition

    part = split_partition(ds, name, random_split(len(ds.class_names), 3, seed=0), 0.2, seed=0)
    assert set(groups[np.r_[part.test_seen, part.test_unseen]]) == test_groups
    assert not set(groups[np.r_[part.train, part.val_train, part.val_seen, part.val_unseen]]) & test_groups
    assert not set(groups[part.val_seen]) & set(groups[part.val_train])


def _check_body(ds, stature=(1.6, 1.9)):
    st = body_stats(ds)
    assert stature[0] < st["stature"] < stature[1]
    assert st["head above spine base %"] > 90 and st["feet lowest %"] > 90 and st["feet point forward %"] > 95
    for name, (lo, hi) in {
        "upper arm": (0.22, 0.32),
        "forearm": (0.2, 0.3),
        "thigh": (0.35, 0.48),
        "shank": (0.36, 0.48),
        "spine (base to shoulder)": (0.38, 0.48),
    }.items():
        assert lo < st[name] < hi, (name, st[name])


def test_cli_inspect_with_bones(mocap, capsys):
    from sadvae.cli import main

    assert main(["data", "inspect", str(mocap / SQUAT), "--bones"]) == 0
    out = capsys.readouterr().out
    assert "hdm05" in out and "upper arm" in out and "stature" in out
