"""File readers for the Kinect v1 (20-joint) datasets; the public API is :mod:`sadvae.data.kinect_v1`.

One reader per format, each returning a :class:`SkeletonSequence` in the NTU-25 layout (M = 1):
MSR Action3D ``aAA_sSS_eEE_skeleton3D.txt``, NW-UCLA ``aAA_sSS_eEE_vVV.json`` and a whole UTKinect
recording ``joints_sSS_eEE.txt``, plus the UTKinect label-file reader. Malformed input raises
DataFormatError naming the file, the line (or JSON field) and what was expected; so do coordinates
beyond :data:`~sadvae.data.user_format.MAX_ABS_METRES` (millimetres, not the metres every reader expects).

Every reader cleans the frames alike (:func:`tracked_frames`): all-zero frames (no person tracked)
are dropped, the kept frames keeping their original times; a joint that is exactly zero in a frame
with a person (untracked), or lies over :data:`MAX_STRAY_M` off its neighbours in such a partly
tracked frame, is filled by linear interpolation over time from that joint's nearest frames where
it is tracked (the nearest one held at the ends), since it would later be taken as a position
metres away. Both repairs are counted in ``SkeletonSequence.defects``; a file (or
UTKinect segment) without any person is unusable.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

from sadvae.data.record import SkeletonSequence
from sadvae.data.text_files import MAX_LIST_FILE_BYTES, all_numbers, is_number, parse_json, read_text
from sadvae.data.user_format import MAX_ABS_METRES
from sadvae.errors import DataFormatError
from sadvae.skeleton import kinect_v1_to_ntu25

__all__ = [
    "MSR_FPS",
    "MSR_TO_KINECT_SDK",
    "NW_UCLA_FPS",
    "UTKINECT_FPS",
    "UTKinectSegment",
    "read_msr_file",
    "read_nw_ucla_file",
    "read_utkinect_joints",
    "read_utkinect_labels",
    # the steps of the readers, shared with sadvae.data.kinect_v1 (the dataset loaders)
    "MSR_NAME",
    "UCLA_NAME",
    "to_ntu",
    "check_metres",
    "tracked_frames",
    "msr_sequence",
    "nw_ucla_sequence",
    "read_msr_raw",
    "read_utkinect_rows",
    "repeat_note",
]

# MSR Action3D was captured at 15 fps (Li et al., CVPRW 2010).
MSR_FPS = 15.0
# MSR file row -> Kinect SDK v1 joint: sdk_joints = msr_joints[..., MSR_TO_KINECT_SDK, :] (MANIFEST.md).
MSR_TO_KINECT_SDK: tuple[int, ...] = (6, 3, 2, 19, 0, 7, 9, 11, 1, 8, 10, 12, 4, 13, 15, 17, 5, 14, 16, 18)
# NW-UCLA states no frame rate; estimated from gait in the 173 "walk around" clips (104 with >= 3 clear
# steps, step = peak of the ankle-to-ankle distance): median 7.5-8 frames a step, hip centre 0.065 m a
# frame. At 15 fps that is 112-120 steps/min at 0.97 m/s, a normal cadence and a slightly slow pace
# for walking in a circle; 30 fps would mean 225 steps/min at 1.9 m/s (running numbers for a walk),
# 10 fps 75 steps/min at 0.65 m/s (a shuffle). Median "sit down" / "stand up" clips last
# 23 / 21 frames, 1.5 / 1.4 s at 15 fps, the usual duration of those movements.
NW_UCLA_FPS = 15.0
# UTKinect frame ids count video frames at 30 fps; a skeleton was logged every 2-8 of them (mostly 4), with a few
# longer gaps where tracking was lost, so segments carry timestamps.
UTKINECT_FPS = 30.0

_K1 = 20  # Kinect v1 joints
MSR_NAME = re.compile(r"a(\d+)_s(\d+)_e(\d+)_skeleton3D\.txt")
UCLA_NAME = re.compile(r"a(\d+)_s(\d+)_e(\d+)_v(\d+)\.json")
_UTK_NAME = re.compile(r"joints_(s(\d+)_e\d+)\.txt")
_UTK_HEADER = re.compile(r"s\d+_e\d+")
_UTK_ACTION = re.compile(r"(\w+)\s*:\s*(\S+)\s+(\S+)")
# In a frame the tracker partly lost (some joints exactly zero), a joint this far (metres) from where the
# fully tracked frames around it put it is tracking garbage too, and is filled like the zero ones.
MAX_STRAY_M = 1.0


# ----------------------------------------------------------------------------------------------- helpers
def _read_table(path: Path, ncols: int, what: str) -> tuple[np.ndarray, list[str]]:
    """Non-blank lines of ``ncols`` finite numbers -> (float64 [N, ncols], the file's lines)."""
    lines = read_text(path).splitlines()
    if not any(line.strip() for line in lines):
        raise DataFormatError(path, None, f"empty file; expected lines of {ncols} numbers ({what})")
    try:
        table = np.loadtxt(lines, dtype=np.float64, ndmin=2, comments=None)
        if table.shape[1] == ncols and all_numbers(table):
            return table, lines
    except ValueError:
        pass
    for n, line in enumerate(lines, 1):  # slow path: name the first bad line
        tokens = line.split()
        if tokens and len(tokens) != ncols:
            raise DataFormatError(path, f"line {n}", f"expected {ncols} numbers ({what}), found {len(tokens)}")
        for tok in tokens:
            if not is_number(tok):
                raise DataFormatError(path, f"line {n}", f"expected {ncols} finite numbers ({what}), found {tok!r}")
    raise DataFormatError(path, None, f"could not parse the rows as {ncols} numbers ({what})")


def _line_of(lines: list[str], row: int) -> int:
    """1-based line number of the ``row``-th (0-based) non-blank line."""
    seen = -1
    for n, line in enumerate(lines, 1):
        if line.strip():
            seen += 1
            if seen == row:
                return n
    return len(lines)


def to_ntu(k1: np.ndarray) -> np.ndarray:
    """Kinect v1 joints [T, 20, 3] -> float32 [T, 1, 25, 3]."""
    return np.ascontiguousarray(kinect_v1_to_ntu25(k1)[:, None])


DAMAGED = "the release is in metres, so the file is damaged; restore it from the release"


def check_metres(path: Path, k1: np.ndarray, fix: str | None = None) -> None:
    """Raise DataFormatError when a coordinate of joints [..., 3] cannot be metres; ``fix``: what to do instead of
    the default advice (millimetres: divide by 1000), e.g. :data:`DAMAGED` for a release known to be in metres."""
    peak = float(np.abs(k1).max()) if k1.size else 0.0
    if peak > MAX_ABS_METRES:
        advice = fix or (
            "the coordinates look like millimetres; divide them by 1000 (the readers expect metres, as the dataset "
            "releases them)"
        )
        raise DataFormatError(path, None, f"a coordinate of {peak:.4g} is beyond {MAX_ABS_METRES:g} m: {advice}")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def _interp_joint(k1: np.ndarray, times: np.ndarray, good: np.ndarray, at: np.ndarray) -> np.ndarray:
    """One joint's positions [len(at), 3] at frames ``at``, linear over ``times`` from its ``good`` frames.

    np.interp holds the nearest good value beyond the first and last good frame.
    """
    return np.stack([np.interp(times[at], times[good], k1[good, c]) for c in range(3)], axis=-1)


def _fill_untracked(k1: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Fill the untracked joints of frames [T, 20, 3] (every frame holds a person) over ``times``.

    A joint is untracked where it is exactly zero, or where, in a frame with such zero joints (a frame
    the tracker partly lost), it lies over :data:`MAX_STRAY_M` from where the frames with every joint
    tracked put it (NW-UCLA a04_s01_e01_v01 frame 34 has 6 zero joints and 9 near the camera's origin).
    """
    zero = np.abs(k1).max(axis=-1) == 0  # (T, 20)
    if not zero.any():
        return k1, ()
    partial = np.flatnonzero(zero.any(axis=1))
    complete = ~zero.any(axis=1)
    stray = np.zeros_like(zero)
    if complete.any():
        for j in range(_K1):
            expected = _interp_joint(k1[:, j], times, complete, partial)
            stray[partial, j] = ~zero[partial, j] & (np.linalg.norm(k1[partial, j] - expected, axis=-1) > MAX_STRAY_M)
    bad = zero | stray
    out = k1.copy()
    never = []
    for j in np.flatnonzero(bad.any(axis=0)):
        good = ~bad[:, j]
        if not good.any():  # never tracked in the whole sequence: nothing to interpolate from
            never.append(int(j))
            continue
        out[bad[:, j], j] = _interp_joint(k1[:, j], times, good, bad[:, j])
    bad[:, never] = False
    notes = []
    if bad.any():
        n_stray = int(stray.sum())
        why = (
            f" ({int(bad.sum()) - n_stray} zero, {n_stray} over {MAX_STRAY_M:g} m off their neighbours)"
            if n_stray
            else ""
        )
        notes.append(
            f"filled {_plural(int(bad.sum()), 'untracked joint')} in {_plural(int(bad.any(axis=1).sum()), 'frame')} "
            f"by interpolation over time{why}"
        )
    if never:
        notes.append(f"joints {never} (Kinect v1 order) are zero in every frame (never tracked); kept as zeros")
    return out, tuple(notes)


def tracked_frames(k1: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]] | str:
    """Drop the all-zero frames of Kinect v1 joints [T, 20, 3] and fill the zero joints of the others.

    Args:
        k1: joints [T, 20, 3] in Kinect SDK v1 order; a frame without a person is all zero.
        times: [T] frame times (seconds), used to interpolate the untracked joints.

    Returns:
        (indices of the kept frames, their joints with the untracked joints filled, notes for
        ``defects``), or the reason when no frame holds a person.
    """
    present = np.abs(k1).reshape(len(k1), -1).max(axis=1) > 0
    if not present.any():
        return f"all {len(k1)} frames are zero (the skeleton was never tracked)"
    keep = np.flatnonzero(present)
    filled, notes = _fill_untracked(k1[keep], np.asarray(times, dtype=np.float64)[keep])
    if len(keep) < len(k1):
        notes = (f"dropped {len(k1) - len(keep)} all-zero (untracked) frames of {len(k1)}",) + notes
    return keep, filled, notes


# ------------------------------------------------------------------------------------------ MSR Action3D
def msr_sequence(path: Path, raw: np.ndarray) -> SkeletonSequence | str:
    """A sequence cleaned by :func:`tracked_frames`, or the reason the file is unusable."""
    k1 = raw[:, MSR_TO_KINECT_SDK, :3]  # (T, 20, 3) Kinect SDK order; the tracking flag is dropped
    cleaned = tracked_frames(k1, np.arange(len(k1)) / MSR_FPS)
    if isinstance(cleaned, str):
        return cleaned
    keep, k1, defects = cleaned
    timestamps = (keep - keep[0]) / MSR_FPS if len(keep) < len(raw) else None  # the kept frames' original times
    m = MSR_NAME.fullmatch(path.name)
    return SkeletonSequence(
        joints=to_ntu(k1),
        fps=MSR_FPS,
        source=str(path),
        subject=int(m.group(2)) if m else None,
        timestamps=timestamps,
        defects=defects,
    )


def read_msr_raw(path: Path) -> np.ndarray:
    table, lines = _read_table(path, 4, "x y z c")
    if len(table) % _K1:
        whole = len(table) // _K1
        raise DataFormatError(
            path,
            f"line {_line_of(lines, whole * _K1)}",
            f"expected {_K1} rows a frame (MSR Action3D's 20 joints), found {len(table)} rows, not a whole number of "
            f"frames: frame {whole + 1} is truncated, or the file has another joint count",
        )
    check_metres(path, table[:, :3])
    return table.reshape(-1, _K1, 4)


def read_msr_file(path: str | Path) -> SkeletonSequence:
    """Read one MSR Action3D ``aAA_sSS_eEE_skeleton3D.txt`` (``x y z c`` rows, 20 rows a frame, MSR joint order).

    Joints are reordered with :data:`MSR_TO_KINECT_SDK` and converted to NTU-25; the tracking flag ``c``
    is dropped. All-zero (untracked) frames are removed and the kept frames keep their original times
    (``timestamps``), so resampling stays correct; untracked (zero) joints are interpolated over time
    (:func:`tracked_frames`). ``label`` is left None: :func:`load_msr_action3d` sets it from ``classes.txt``.

    Returns:
        SkeletonSequence with joints [T, 1, 25, 3] at :data:`MSR_FPS`, ``subject`` from ``sSS``.

    Raises:
        DataFormatError: the file is missing, malformed, truncated, in millimetres, or has no non-zero frame.
    """
    path = Path(path)
    seq = msr_sequence(path, read_msr_raw(path))
    if isinstance(seq, str):
        raise DataFormatError(path, None, f"no usable frame: {seq}")
    return seq


# ----------------------------------------------------------------------------------------------- NW-UCLA
def _json_field(path: Path, obj: dict, key: str, kind: type) -> object:
    if key not in obj:
        raise DataFormatError(path, key, "missing; expected {file_name, skeletons, label}")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise DataFormatError(path, key, f"expected {kind.__name__}, found {type(value).__name__}")
    return value


def _skeleton_array(path: Path, frames: list) -> np.ndarray:
    if not frames:
        raise DataFormatError(path, "skeletons", "expected at least one frame, found none")
    try:
        arr = np.asarray(frames)  # numbers only: strings or booleans take the slow path below
        if arr.dtype.kind in "iuf" and arr.shape[1:] == (_K1, 3) and all_numbers(arr):
            return arr.astype(np.float64)
    except (ValueError, TypeError):
        pass
    for t, frame in enumerate(frames):  # slow path: name the first bad frame or joint
        if not isinstance(frame, list) or len(frame) != _K1:
            n = len(frame) if isinstance(frame, list) else type(frame).__name__
            raise DataFormatError(path, f"skeletons[{t}]", f"expected {_K1} joints, found {n}")
        for j, xyz in enumerate(frame):
            good = isinstance(xyz, list) and len(xyz) == 3
            good = good and all(isinstance(v, (int, float)) and not isinstance(v, bool) and is_number(v) for v in xyz)
            if not good:
                raise DataFormatError(
                    path, f"skeletons[{t}][{j}]", f"expected [x, y, z] finite numbers, found {xyz!r:.60}"
                )
    raise DataFormatError(path, "skeletons", f"expected a [T][{_K1}][3] array of numbers")


def nw_ucla_sequence(path: Path) -> SkeletonSequence | str:
    """:func:`read_nw_ucla_file`, but a file without any person gives the reason instead of an error."""
    path = Path(path)
    try:
        obj = parse_json(read_text(path), path)
    except json.JSONDecodeError as e:
        raise DataFormatError(
            path, f"line {e.lineno}", f"expected JSON, found an error: {e.msg} (column {e.colno})"
        ) from None
    if not isinstance(obj, dict):
        raise DataFormatError(
            path, None, f"expected a JSON object {{file_name, skeletons, label}}, found {type(obj).__name__}"
        )
    name = _json_field(path, obj, "file_name", str)
    if name != path.stem:
        raise DataFormatError(path, "file_name", f"expected {path.stem!r} (the file's name), found {name!r}")
    label = _json_field(path, obj, "label", int)
    if label < 1:
        raise DataFormatError(path, "label", f"expected a 1-based class index, found {label}")
    raw = _skeleton_array(path, _json_field(path, obj, "skeletons", list))
    check_metres(path, raw)
    cleaned = tracked_frames(raw, np.arange(len(raw)) / NW_UCLA_FPS)
    if isinstance(cleaned, str):
        return cleaned
    keep, k1, defects = cleaned
    if len(k1) == 1:
        defects = ("single frame; kept (the preprocessing pads it by holding the pose)",) + defects
    m = UCLA_NAME.fullmatch(path.name)
    return SkeletonSequence(
        joints=to_ntu(k1),
        fps=NW_UCLA_FPS,
        source=str(path),
        label=label - 1,
        subject=int(m.group(2)) if m else None,
        view=int(m.group(4)) if m else None,
        timestamps=(keep - keep[0]) / NW_UCLA_FPS if len(keep) < len(raw) else None,  # the kept frames' times
        defects=defects,
    )


def read_nw_ucla_file(path: str | Path) -> SkeletonSequence:
    """Read one NW-UCLA ``aAA_sSS_eEE_vVV.json`` (``{"file_name", "skeletons": [T][20][3], "label"}``).

    Joints are in Kinect SDK v1 order; they are converted to NTU-25. ``label`` is the JSON's 1-based
    class index minus one (:func:`load_nw_ucla` checks it against ``classes.txt``). A one-frame file
    is kept as it is (the preprocessing pads it) with a note in ``defects``. All-zero frames (no
    person) are dropped, the kept frames keeping their original times (``timestamps``), and
    untracked (zero) joints are interpolated over time (:func:`tracked_frames`).

    Returns:
        SkeletonSequence with joints [T, 1, 25, 3] at :data:`NW_UCLA_FPS`; ``subject`` and ``view``
        from ``sSS`` and ``vVV`` when the name has that form.

    Raises:
        DataFormatError: the file is missing, not JSON, lacks a field, has a malformed skeleton, is in
            millimetres, has no frame with a person, or its ``file_name`` differs from the file's name.
    """
    path = Path(path)
    seq = nw_ucla_sequence(path)
    if isinstance(seq, str):
        raise DataFormatError(path, "skeletons", f"no usable frame: {seq}")
    return seq


# --------------------------------------------------------------------------------------------- UTKinect
class UTKinectSegment(NamedTuple):
    """One ``action: start end`` line of a UTKinect label file."""

    recording: str  # "s01_e01"
    action: str  # label token, e.g. "walk"
    start: int | None  # first frame id (inclusive); None where the file says NaN
    end: int | None  # last frame id (inclusive); None where the file says NaN
    line: int  # line number in the label file
    recording_line: int = 0  # the line of its ``sSS_eEE`` header (what a missing recording file is reported at)


def read_utkinect_rows(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """-> (frame ids int64 [N] strictly increasing, Kinect v1 joints [N, 20, 3], ids of dropped repeated rows)."""
    table, lines = _read_table(path, 1 + 3 * _K1, "frameID and 20 x y z")
    ids = table[:, 0]
    bad = np.flatnonzero((ids != np.round(ids)) | (ids < 0))
    if bad.size:
        raise DataFormatError(
            path, f"line {_line_of(lines, bad[0])}", f"expected an integer frame id, found {ids[bad[0]]}"
        )
    down = np.flatnonzero(np.diff(ids) < 0)
    if down.size:
        i = down[0] + 1
        raise DataFormatError(
            path,
            f"line {_line_of(lines, i)}",
            f"expected non-decreasing frame ids, found {ids[i]:.0f} after {ids[i - 1]:.0f}",
        )
    check_metres(path, table[:, 1:])
    keep = np.r_[True, np.diff(ids) > 0]  # the first occurrence of a repeated id
    return ids[keep].astype(np.int64), table[keep, 1:].reshape(-1, _K1, 3), ids[~keep].astype(np.int64)


def repeat_note(repeated: np.ndarray) -> tuple[str, ...]:
    if not repeated.size:
        return ()
    n = repeated.size
    return (f"dropped {n} row{'s' * (n != 1)} repeating the previous frame id (kept the first)",)


def read_utkinect_joints(path: str | Path) -> SkeletonSequence:
    """Read one whole UTKinect recording ``joints_sSS_eEE.txt`` (``frameID x1 y1 z1 ... x20 y20 z20`` rows).

    Rows repeating the previous frame id are dropped (the first is kept), and so are all-zero rows (no
    person); untracked (zero) joints are interpolated over time (:func:`tracked_frames`). Skeletons
    are logged irregularly, so ``timestamps = (frame_id - first_id) / 30`` over the kept rows. The
    sequence is unlabelled: segments come from the label file (:func:`read_utkinect_labels`,
    :func:`load_utkinect`).

    Returns:
        SkeletonSequence with joints [T, 1, 25, 3], fps :data:`UTKINECT_FPS`, ``subject`` from ``sSS``.

    Raises:
        DataFormatError: the file is missing or malformed, its frame ids are not integers or decrease,
            it is in millimetres, or no row holds a person.
    """
    path = Path(path)
    ids, k1, repeated = read_utkinect_rows(path)
    cleaned = tracked_frames(k1, ids / UTKINECT_FPS)
    if isinstance(cleaned, str):
        raise DataFormatError(path, None, f"no usable frame: {cleaned}")
    keep, k1, defects = cleaned
    m = _UTK_NAME.fullmatch(path.name)
    return SkeletonSequence(
        joints=to_ntu(k1),
        fps=UTKINECT_FPS,
        source=str(path),
        subject=int(m.group(2)) if m else None,
        timestamps=(ids[keep] - ids[keep[0]]) / UTKINECT_FPS,
        defects=repeat_note(repeated) + defects,
    )


def _frame_bound(path: Path, n: int, tok: str) -> int | None:
    if tok.lower() == "nan":
        return None
    if not (tok.isascii() and tok.isdigit()):
        raise DataFormatError(path, f"line {n}", f"expected an integer frame id or NaN, found {tok!r}")
    return int(tok)


def read_utkinect_labels(path: str | Path) -> list[UTKinectSegment]:
    """Read a UTKinect label file: a ``sSS_eEE`` line, then ``action: start end`` lines for that recording.

    Returns:
        The segments in file order; ``start``/``end`` are None where the file says ``NaN NaN``.

    Raises:
        DataFormatError: an action line before any recording line, a malformed line, only one bound
            NaN, start > end, an action listed twice for a recording, or no segment at all.
    """
    path = Path(path)
    segments: list[UTKinectSegment] = []
    recording, header = None, 0
    seen: set[tuple[str, str]] = set()
    for n, raw in enumerate(read_text(path, MAX_LIST_FILE_BYTES).splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if _UTK_HEADER.fullmatch(line):
            recording, header = line, n
            continue
        m = _UTK_ACTION.fullmatch(line)
        if m is None:
            raise DataFormatError(path, f"line {n}", f"expected `sSS_eEE` or `action: start end`, found {line[:60]!r}")
        if recording is None:
            raise DataFormatError(path, f"line {n}", "expected a recording line like `s01_e01` before the first action")
        action = m.group(1)
        start, end = (_frame_bound(path, n, tok) for tok in m.group(2, 3))
        if (start is None) != (end is None):
            raise DataFormatError(path, f"line {n}", f"expected two frame ids or `NaN NaN`, found {line!r}")
        if start is not None and start > end:
            raise DataFormatError(path, f"line {n}", f"expected start <= end, found {start} > {end}")
        if (recording, action) in seen:
            raise DataFormatError(path, f"line {n}", f"expected each action once per recording, found {action!r} twice")
        seen.add((recording, action))
        segments.append(UTKinectSegment(recording, action, start, end, n, header))
    if not segments:
        raise DataFormatError(path, None, "no segments; expected `sSS_eEE` lines followed by `action: start end` lines")
    return segments
