"""Readers for the Kinect v1 (20-joint) action datasets: MSR Action3D, NW-UCLA and UTKinect-Action3D.

A dataset folder holds ``classes.txt`` (``<action id><TAB><class name>`` a line; a sequence's label is
the 0-based row of its action) beside the data as released; its ``MANIFEST.md`` documents the format,
joint order and known defects. Every sequence is converted to NTU-25 with
:func:`sadvae.skeleton.kinect_v1_to_ntu25` and holds one person (M = 1).

Known defects are not errors: a file or segment with nothing usable goes to ``Dataset.rejected``
with the reason, and what a reader repaired goes to ``SkeletonSequence.defects``. A missing dataset
folder raises ConfigError; a missing or malformed file inside it raises DataFormatError naming the
file, the line or field, and what was expected. Sequences are sorted by file name (UTKinect
segments by recording, then start frame). The single-file readers live in
:mod:`sadvae.data.kinect_v1_files` and are re-exported here; they drop all-zero frames (a file or
segment with none left is rejected), fill untracked (zero) joints by interpolation over time, and
refuse millimetre coordinates.

Files in the data folder that no reader reads (a misnamed ``a01_s03_e01_skeleton3d.txt``, a ``.bak``
copy, a UTKinect recording the label file never names) are not errors either, but they are not
dropped silently: each loader logs a warning naming them, and :func:`unread_files` lists them
(``sadvae data inspect`` and ``prepare`` print them).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from sadvae.data.kinect_v1_files import (
    MSR_FPS,
    MSR_NAME,
    MSR_TO_KINECT_SDK,
    NW_UCLA_FPS,
    UCLA_NAME,
    UTKINECT_FPS,
    UTKinectSegment,
    msr_sequence,
    nw_ucla_sequence,
    read_msr_file,
    read_msr_raw,
    read_nw_ucla_file,
    read_utkinect_joints,
    read_utkinect_labels,
    read_utkinect_rows,
    repeat_note,
    to_ntu,
    tracked_frames,
)
from sadvae.data.record import Dataset, SkeletonSequence, warn_unread
from sadvae.data.text_files import MAX_LIST_FILE_BYTES, read_text
from sadvae.errors import ConfigError, DataFormatError

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
    "load_msr_action3d",
    "load_nw_ucla",
    "load_utkinect",
    "unread_files",
]

log = logging.getLogger(__name__)


def _dataset_dirs(root: str | Path, name: str, data_dir: str) -> tuple[Path, Path]:
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(
            f"{root}: {name} folder not found; pass the folder that holds classes.txt and {data_dir}/ "
            f"(e.g. ../shared/data/skeleton_sets/{name})"
        )
    data = root / data_dir
    if not data.is_dir():
        raise DataFormatError(data, None, f"folder not found; the {name} folder must hold {data_dir}/ as released")
    return root, data


def _read_classes(root: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``classes.txt`` -> (action ids, class names), both in file order."""
    path = root / "classes.txt"
    if not path.exists():
        raise DataFormatError(
            path,
            None,
            "not found; restore it from the dataset release: one `<action id><TAB><class name>` line a class",
        )
    ids: list[str] = []
    names: list[str] = []
    for n, line in enumerate(read_text(path, MAX_LIST_FILE_BYTES).splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("\t", 1)]
        if len(parts) != 2 or not all(parts):
            raise DataFormatError(path, f"line {n}", f"expected `<action id><TAB><class name>`, found {line[:60]!r}")
        if parts[0] in ids:
            raise DataFormatError(path, f"line {n}", f"expected unique action ids, found {parts[0]!r} twice")
        ids.append(parts[0])
        names.append(parts[1])
    if not ids:
        raise DataFormatError(path, None, "empty; expected one `<action id><TAB><class name>` line a class")
    return tuple(ids), tuple(names)


def _int_ids(root: Path, ids: tuple[str, ...]) -> dict[int, int]:
    """Numeric action ids (MSR, NW-UCLA) -> 0-based row."""
    rows = {}
    for row, cid in enumerate(ids):
        if not (cid.isascii() and cid.isdigit()):
            raise DataFormatError(
                root / "classes.txt", f"line {row + 1}", f"expected an integer action id, found {cid!r}"
            )
        rows[int(cid)] = row
    return rows


def _no_files(data: Path, pattern: str) -> DataFormatError:
    return DataFormatError(data, None, f"no {pattern} files found; restore the dataset as released")


# data folder of each loader, and the files of a UTKinect joints/ folder that belong to the release
_DATA_DIRS = {"msr_action3d": "MSRAction3DSkeletonReal3D", "nw_ucla": "all_sqe", "utkinect": "joints"}
_UTK_LABEL_FILES = ("actionLabel.txt", "actionLabel_modified.txt")


def _unread(root: Path, data: Path, read: set[str]) -> list[str]:
    """Files of ``data`` whose names are not in ``read``, as sorted paths relative to ``root``."""
    return sorted(str(p.relative_to(root)) for p in data.iterdir() if p.is_file() and p.name not in read)


def unread_files(name: str, root: str | Path, label_file: str = "actionLabel_modified.txt") -> list[str]:
    """Files in a Kinect v1 dataset's data folder that its loader does not read, relative to ``root``.

    MSR Action3D and NW-UCLA read the files named ``aAA_sSS_eEE_skeleton3D.txt`` / ``aAA_sSS_eEE_vVV.json``;
    UTKinect reads the label file and the ``joints_sSS_eEE.txt`` recordings it names (both released
    label files count as read). Anything else (a different case, a ``.bak`` copy, an unlabelled
    recording) is listed. Empty when ``name`` is not a Kinect v1 set or the folder lacks its data folder.
    """
    root = Path(root)
    data = root / _DATA_DIRS.get(name, "")
    if name not in _DATA_DIRS or not data.is_dir():
        return []
    if name == "msr_action3d":
        return _unread(root, data, {p.name for p in data.iterdir() if MSR_NAME.fullmatch(p.name)})
    if name == "nw_ucla":
        return _unread(root, data, {p.name for p in data.iterdir() if UCLA_NAME.fullmatch(p.name)})
    label_path = data / label_file
    try:
        recordings = {seg.recording for seg in read_utkinect_labels(label_path)}
    except DataFormatError:  # the loader reports a bad label file itself
        return []
    return _unread(root, data, {f"joints_{r}.txt" for r in recordings} | set(_UTK_LABEL_FILES) | {label_path.name})


def load_msr_action3d(root: str | Path) -> Dataset:
    """Load MSR Action3D from ``root`` (holding ``classes.txt`` and ``MSRAction3DSkeletonReal3D/``).

    The entirely zero file (a13_s09_e02 in the release) is rejected with its reason; all-zero frames
    inside other files are dropped and counted in ``defects``, and so are untracked (zero) joints,
    filled by interpolation over time. ``view`` is None (one camera). Files not named
    ``aAA_sSS_eEE_skeleton3D.txt`` are not read; a warning names them (:func:`unread_files`).

    Raises:
        ConfigError: ``root`` is not a folder.
        DataFormatError: ``classes.txt`` or the data folder is missing, a file name does not parse,
            its action is not in ``classes.txt``, or a file is malformed or in millimetres.
    """
    root, data = _dataset_dirs(root, "msr_action3d", "MSRAction3DSkeletonReal3D")
    ids, names = _read_classes(root)
    rows = _int_ids(root, ids)
    files = sorted(data.glob("*_skeleton3D.txt"))
    if not files:
        raise _no_files(data, "aAA_sSS_eEE_skeleton3D.txt")
    seqs, rejected = [], []
    for path in files:
        m = MSR_NAME.fullmatch(path.name)
        if m is None:
            raise DataFormatError(path, "file name", "expected aAA_sSS_eEE_skeleton3D.txt; move other files away")
        if int(m.group(1)) not in rows:
            raise DataFormatError(path, "file name", f"action a{m.group(1)} is not in {root / 'classes.txt'}")
        seq = msr_sequence(path, read_msr_raw(path))
        if isinstance(seq, str):
            rejected.append((str(path), seq))
            continue
        row = rows[int(m.group(1))]
        seqs.append(dataclasses.replace(seq, label=row, label_name=names[row]))
    warn_unread(log, "msr_action3d", unread_files("msr_action3d", root), "aAA_sSS_eEE_skeleton3D.txt")
    log.info("msr_action3d: %d sequences, %d rejected", len(seqs), len(rejected))
    protocol = "cross-subject: train on subjects 1,3,5,7,9, test on 2,4,6,8,10 (all 20 classes or AS1/AS2/AS3)"
    return Dataset("msr_action3d", names, seqs, rejected, protocol)


def load_nw_ucla(root: str | Path) -> Dataset:
    """Load NW-UCLA from ``root`` (holding ``classes.txt`` and ``all_sqe/``).

    The label is the row of the file name's action id in ``classes.txt``; the JSON ``label`` must agree
    (it is that row + 1). The two one-frame sequences (a02_s09_e04_v02/v03) are kept rather than
    dropped, as the MANIFEST allows, because the preprocessing pads a single frame by holding the pose;
    each carries a note in ``defects``. A file whose frames are all zero is rejected with the reason;
    all-zero frames inside other files are dropped (the kept frames keep their times) and untracked
    (zero) joints are filled by interpolation over time, both counted in ``defects`` (two release
    files, a04_s01_e01_v01 and a04_s04_e02_v01, have one frame with untracked spine joints). Nothing
    is rejected in the release. Files not named ``aAA_sSS_eEE_vVV.json`` are not read; a warning names
    them (:func:`unread_files`).

    Raises:
        ConfigError: ``root`` is not a folder.
        DataFormatError: ``classes.txt`` or ``all_sqe/`` is missing, a file name does not parse, its
            action is not in ``classes.txt``, the JSON label disagrees, or a file is malformed or in
            millimetres.
    """
    root, data = _dataset_dirs(root, "nw_ucla", "all_sqe")
    ids, names = _read_classes(root)
    rows = _int_ids(root, ids)
    files = sorted(data.glob("*.json"))
    if not files:
        raise _no_files(data, "aAA_sSS_eEE_vVV.json")
    seqs, rejected = [], []
    for path in files:
        m = UCLA_NAME.fullmatch(path.name)
        if m is None:
            raise DataFormatError(path, "file name", "expected aAA_sSS_eEE_vVV.json; move other files away")
        action = int(m.group(1))
        if action not in rows:
            raise DataFormatError(path, "file name", f"action a{action:02d} is not in {root / 'classes.txt'}")
        seq = nw_ucla_sequence(path)
        if isinstance(seq, str):
            rejected.append((str(path), seq))
            continue
        row = rows[action]
        if seq.label != row:
            raise DataFormatError(
                path,
                "label",
                f"expected {row + 1} (action a{action:02d} is row {row + 1} of classes.txt), found {seq.label + 1}",
            )
        seqs.append(dataclasses.replace(seq, label_name=names[row]))
    warn_unread(log, "nw_ucla", unread_files("nw_ucla", root), "aAA_sSS_eEE_vVV.json")
    log.info("nw_ucla: %d sequences, %d rejected", len(seqs), len(rejected))
    return Dataset("nw_ucla", names, seqs, rejected, "cross-view: train on views 1 and 2, test on view 3")


def load_utkinect(root: str | Path, label_file: str = "actionLabel_modified.txt") -> Dataset:
    """Load UTKinect-Action3D segments from ``root`` (holding ``classes.txt`` and ``joints/``).

    Each labelled segment keeps the skeleton rows with ``start <= frame_id <= end`` (both bounds
    inclusive: the bounds are logged skeleton frames, and this gives the MANIFEST's 5-110 frames,
    median 28). Neighbouring segments that share a bound both keep that frame. A segment with
    ``NaN NaN`` bounds (s10_e02 carry), without any skeleton row, whose bounds run past the recording's
    first or last row (a joints file cut short: read, it would be a shorter clip), or whose rows are all zero (no
    person) is rejected with the reason. All-zero rows inside a segment are dropped and untracked
    (zero) joints filled by interpolation over time, both counted in ``defects`` (the release has
    neither). Timestamps are ``(frame_id - first_id) / 30`` per segment over the kept rows; ``view``
    is None. Files of ``joints/`` that are neither a label file nor a recording the label file names
    are not read; a warning names them (:func:`unread_files`).

    Args:
        root: the dataset folder.
        label_file: file in ``root/joints`` (or a path); the corrected ``actionLabel_modified.txt``
            by default, ``actionLabel.txt`` for the original.

    Raises:
        ConfigError: ``root`` is not a folder.
        DataFormatError: ``classes.txt``, the label file or a recording's joints file is missing, an
            action is not in ``classes.txt``, or a file is malformed or in millimetres.
    """
    root, data = _dataset_dirs(root, "utkinect_action3d", "joints")
    ids, names = _read_classes(root)
    rows = {cid: row for row, cid in enumerate(ids)}
    label_path = data / label_file
    if not label_path.is_file():
        raise DataFormatError(label_path, None, "label file not found; use actionLabel_modified.txt or actionLabel.txt")
    segments = read_utkinect_labels(label_path)
    recordings: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    seqs, rejected = [], []
    for seg in sorted(segments, key=lambda s: (s.recording, s.start if s.start is not None else -1)):
        if seg.action not in rows:
            raise DataFormatError(
                label_path, f"line {seg.line}", f"action {seg.action!r} is not in {root / 'classes.txt'}"
            )
        path = data / f"joints_{seg.recording}.txt"
        source = f"{path}#{seg.action}"
        if seg.start is None:
            rejected.append((source, f"no segment bounds in {label_path.name} (NaN NaN)"))
            continue
        if seg.recording not in recordings:
            if not path.is_file():
                raise DataFormatError(
                    label_path, f"line {seg.recording_line}", f"recording {seg.recording} has no file {path}"
                )
            recordings[seg.recording] = read_utkinect_rows(path)
        frame_ids, k1, repeated = recordings[seg.recording]
        inside = (frame_ids >= seg.start) & (frame_ids <= seg.end)
        if not inside.any():
            rejected.append((source, f"no skeleton row with frame id in [{seg.start}, {seg.end}]"))
            continue
        if seg.end > frame_ids[-1] or seg.start < frame_ids[0]:  # read, it would be a shorter clip than labelled
            rejected.append(
                (
                    source,
                    f"labelled frames {seg.start}-{seg.end} but {path.name} holds frame ids {frame_ids[0]}-"
                    f"{frame_ids[-1]}: the joints file is cut short (or the label is wrong); restore the file",
                )
            )
            continue
        seg_ids = frame_ids[inside]
        cleaned = tracked_frames(k1[inside], seg_ids / UTKINECT_FPS)
        if isinstance(cleaned, str):
            rejected.append((source, f"frames {seg.start}-{seg.end}: {cleaned}"))
            continue
        keep, seg_k1, defects = cleaned
        seg_ids = seg_ids[keep]
        row = rows[seg.action]
        in_seg = repeated[(repeated >= seg.start) & (repeated <= seg.end)]
        seqs.append(
            SkeletonSequence(
                joints=to_ntu(seg_k1),
                fps=UTKINECT_FPS,
                source=f"{source}@{seg.start}-{seg.end}",
                label=row,
                label_name=names[row],
                subject=int(seg.recording[1:].split("_")[0]),
                timestamps=(seg_ids - seg_ids[0]) / UTKINECT_FPS,
                defects=repeat_note(in_seg) + defects,
            )
        )
    warn_unread(log, "utkinect", unread_files("utkinect", root, label_file), "joints_sSS_eEE.txt named in the labels")
    log.info("utkinect: %d segments, %d rejected", len(seqs), len(rejected))
    protocol = "leave-one-sequence-out, or cross-subject with 5 subjects for training and 5 for testing"
    return Dataset("utkinect", names, seqs, rejected, protocol)
