"""PKU-MMD skeleton reader: an untrimmed sequence, or the labelled clips cut from it.

A skeleton file has one row per frame of 150 numbers: 2 persons x 25 joints (Kinect v2, the NTU-25 order) x xyz
in metres; the second person is all zeros while only one is tracked. A label file has one row per action
instance, ``action_id,start_frame,end_frame,confidence`` with ``action_id`` 1-based (51 classes in phase 1;
pass ``class_names`` for another list). A clip is rows ``start_frame`` .. ``end_frame - 1`` of the skeleton
file (a Python slice), which keeps both 0- and 1-based annotations inside the file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sadvae.data.kinect_v1_files import DAMAGED, check_metres
from sadvae.data.record import SkeletonSequence
from sadvae.data.text_files import MAX_LIST_FILE_BYTES, parse_float_rows, read_lines
from sadvae.errors import DataFormatError
from sadvae.skeleton import NUM_JOINTS

__all__ = ["PKU_FPS", "PKU_NUM_CLASSES", "read_pku_mmd"]

PKU_FPS = 30.0
PKU_NUM_CLASSES = 51  # phase 1
PKU_PERSONS = 2
_VIEWS = {"L": 1, "M": 2, "R": 3}  # left, middle, right camera: the name's -L / -M / -R suffix
_LABEL_COLUMNS = "action_id,start_frame,end_frame,confidence"


def _read_joints(path: Path) -> np.ndarray:
    """The skeleton file as float32 [T, 2, 25, 3]."""
    lines = read_lines(path)
    ncols = PKU_PERSONS * NUM_JOINTS * 3
    if not lines:
        raise DataFormatError(path, "line 1", f"expected rows of {ncols} numbers, found an empty file")
    what = "2 persons x 25 joints x xyz"
    values = parse_float_rows(path, lines, ncols, what, lambda k: k + 1)
    check_metres(path, values, DAMAGED)
    return values.reshape(len(lines), PKU_PERSONS, NUM_JOINTS, 3).astype(np.float32)  # (T, M, V, C)


_LABEL_ROW = re.compile(r"\s*\d+\s*,\s*\d+\s*,\s*\d+\s*,")


def _refuse_label_file(path: Path) -> None:
    """A label file where a skeleton file belongs (a data-reader audit of 7 December 2026, late: it read "expected
    150 numbers ..., found 1"): one error that says what it is and what takes it."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            first = next((line for line in f if line.strip()), "")
    except OSError:
        return  # the skeleton reader names what is wrong with the file
    if _LABEL_ROW.match(first):
        raise DataFormatError(
            path,
            "line 1",
            f"a PKU-MMD label file ({_LABEL_COLUMNS} rows), not a skeleton file: pass the skeleton file of the same "
            "name (read whole, unlabelled), or cut it into labelled clips in Python with "
            "sadvae.data.pku.read_pku_mmd(skeleton, label_path)",
        )


def _read_labels(path: Path, num_frames: int, num_classes: int) -> list[tuple[int, int, int]]:
    """(0-based label, start, end) per label row, checked against the skeleton's frame count."""
    rows: list[tuple[int, int, int]] = []
    for n, line in enumerate(read_lines(path, MAX_LIST_FILE_BYTES), 1):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split(",")]
        if len(cells) == 5 and not cells[4]:
            cells.pop()  # tolerate a trailing comma
        if len(cells) != 4:
            raise DataFormatError(path, f"line {n}", f"expected 4 values {_LABEL_COLUMNS}, found {len(cells)}")
        try:
            action, start, end = (int(c) for c in cells[:3])
            float(cells[3])
        except ValueError as e:
            problem = (
                f"expected integer action_id, start_frame, end_frame and a numeric confidence, found {line.strip()!r}"
            )
            raise DataFormatError(path, f"line {n}", problem) from e
        if not 1 <= action <= num_classes:
            raise DataFormatError(path, f"line {n}", f"expected action_id in 1..{num_classes}, found {action}")
        if not 0 <= start < end <= num_frames:
            problem = (
                f"expected 0 <= start_frame < end_frame <= {num_frames} (the skeleton's frames), found {start}, {end}"
            )
            raise DataFormatError(path, f"line {n}", problem)
        rows.append((action - 1, start, end))
    if not rows:
        raise DataFormatError(path, None, f"expected label rows {_LABEL_COLUMNS}, found none")
    return rows


def _empty_frames_note(joints: np.ndarray) -> tuple[str, ...]:
    empty = int((~np.abs(joints).reshape(len(joints), -1).any(axis=1)).sum())
    return (f"{empty} of {len(joints)} frames have no skeleton",) if empty else ()


def read_pku_mmd(
    path: str | Path, label_path: str | Path | None = None, class_names: Sequence[str] | None = None
) -> list[SkeletonSequence]:
    """Read a PKU-MMD skeleton file, whole or cut into its labelled clips.

    Args:
        path: the skeleton ``.txt`` (``0002-L.txt``, ``A10N08-L.txt``); a ``-L/-M/-R`` suffix gives view 1/2/3.
        label_path: the matching label file; None returns the whole untrimmed sequence, unlabelled.
        class_names: names by 0-based label (``action_id - 1``); its length bounds ``action_id``
            (default: 51 phase-1 classes, no names).

    Returns:
        One sequence (label None) without a label file; else one clip per label row, in file order, with
        source ``path#start-end``. joints float32 [T, 2, 25, 3] metres; a person who is absent is zeros.

    Raises:
        DataFormatError: a row has the wrong column count or a value that is not a finite number, a label row
            names an unknown action or frames outside the skeleton file (the message names the line).
    """
    p = Path(path)
    _refuse_label_file(p)
    joints = _read_joints(p)
    m = re.search(r"-([LMR])$", p.stem)
    view = _VIEWS[m.group(1)] if m else None
    if label_path is None:
        return [SkeletonSequence(joints, PKU_FPS, str(p), view=view, defects=_empty_frames_note(joints))]
    num_classes = len(class_names) if class_names is not None else PKU_NUM_CLASSES
    clips = []
    for label, start, end in _read_labels(Path(label_path), len(joints), num_classes):
        clip = joints[start:end].copy()
        name = class_names[label] if class_names is not None else None
        source = f"{p}#{start}-{end}"
        clips.append(SkeletonSequence(clip, PKU_FPS, source, label, name, view=view, defects=_empty_frames_note(clip)))
    return clips
