"""The raw NTU RGB+D ``.skeleton`` text format and NTU sample names (the public API is ``sadvae.data.ntu``).

Sample names follow ``SsssCcccPpppRrrrAaaa`` (setup, camera, performer, replication, action; 1-based).
Readers give NTU-25 joints in metres at 30 fps, label = action - 1, subject = performer, view = camera.

A raw ``.skeleton`` file holds, per frame, a body count and per body a 10-value info line (bodyID first),
a joint count (25) and 25 lines of 12 values (x y z depthX depthY colorX colorY orientationW..Z trackingState).
The file's structure is walked line by line; the numbers are parsed in one ``np.loadtxt`` call per file.

Main actors (the same rule for the 3D joints and the colour-image coordinates):

1. bodies are identified by bodyID across frames;
2. denoising, never removing the last body: drop bodies tracked in fewer than ``MIN_BODY_FRAMES``
   frames, then bodies wider than tall (x extent > ``SPREAD_RATIO`` * y extent) in more than
   ``NOISY_FRAME_FRACTION`` of their frames (chairs, walls and other false detections);
3. motion energy of a body = sum over its joints of the variance of x, y, z over its frames;
4. bodies in decreasing energy fill ``max_persons`` slots: a body joins the first slot it does not
   overlap in time (so a person whose bodyID changed mid-clip stays in one slot); bodies that fit
   nowhere are left out. Slot 0 therefore holds the most active person. Frames keep their file
   index (T = frame count in the file); an absent slot or an empty frame is zeros.

Every repair is written to ``SkeletonSequence.defects``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sadvae.data.kinect_v1_files import DAMAGED, check_metres
from sadvae.data.record import SkeletonSequence
from sadvae.data.text_files import MAX_LIST_FILE_BYTES, parse_float_rows, read_lines  # noqa: F401 (re-exported)
from sadvae.errors import ConfigError, DataFormatError
from sadvae.skeleton import NUM_JOINTS

__all__ = [
    "NTU_FPS",
    "parse_ntu_name",
    "read_ntu_skeleton",
    "read_ntu_skeleton_color",
    # the steps of the readers, shared with sadvae.data.ntu (the .npy reader) and scripts/check_mapping.py
    "SkeletonRecords",
    "parse_skeleton",
    "motion_energy",
    "fill_slots",
    "select_actors",
    "scatter_slots",
    "label_fields",
]

NTU_FPS = 30.0
MIN_BODY_FRAMES = 11  # bodies tracked in fewer frames are noise
SPREAD_RATIO = 0.8  # a frame is "wide" when x extent > SPREAD_RATIO * y extent
NOISY_FRAME_FRACTION = 0.69  # a body wide in more than this fraction of its frames is noise
_NAME_RE = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
_JOINT_COLUMNS = "x y z depthX depthY colorX colorY orientationW orientationX orientationY orientationZ trackingState"


def parse_ntu_name(name: str | Path) -> dict[str, int]:
    """Split an NTU sample name into its 1-based ids.

    Args:
        name: a sample name or path whose file name starts with ``SsssCcccPpppRrrrAaaa``.

    Returns:
        ``{"setup", "camera", "performer", "replication", "action"}`` as ints, numbered as NTU does (from 1).

    Raises:
        DataFormatError: the file name does not start with the NTU pattern.
    """
    m = _NAME_RE.match(Path(name).name)
    if m is None:
        raise DataFormatError(
            name, "file name", f"expected a name like S001C002P003R002A013, found {Path(name).name!r}"
        )
    keys = ("setup", "camera", "performer", "replication", "action")
    return {k: int(v) for k, v in zip(keys, m.groups(), strict=True)}


def label_fields(name: str | Path, source: Path, class_names: Sequence[str] | None) -> tuple[dict, list[str]]:
    """label / label_name / subject / view from an NTU sample name, or none of them (and a defect note)."""
    try:
        info = parse_ntu_name(name)
    except DataFormatError:
        return {}, ["file name is not SsssCcccPpppRrrrAaaa: no label, subject or view"]
    label = info["action"] - 1
    label_name = None
    if class_names is not None:
        if label >= len(class_names):
            raise DataFormatError(source, "file name", f"action A{label + 1:03d} but only {len(class_names)} names")
        label_name = class_names[label]
    return {"label": label, "label_name": label_name, "subject": info["performer"], "view": info["camera"]}, []


def _int_at(path: Path, lines: list[str], k: int, what: str) -> int:
    if k >= len(lines):
        raise DataFormatError(path, f"line {k + 1}", f"expected {what}, found end of file")
    s = lines[k].strip()
    if not s.isdigit():
        raise DataFormatError(path, f"line {k + 1}", f"expected {what} (an integer), found {s[:60]!r}")
    return int(s)


@dataclass(frozen=True)
class SkeletonRecords:
    """Every body record of a raw .skeleton file: R = total (frame, body) pairs."""

    num_frames: int
    frame: np.ndarray  # [R] int frame index
    body_id: np.ndarray  # [R] str Kinect bodyID
    values: np.ndarray  # [R, 25, 12] float64, columns as in _JOINT_COLUMNS


def parse_skeleton(path: Path) -> SkeletonRecords:
    lines = read_lines(path)
    n = len(lines)
    num_frames = _int_at(path, lines, 0, "the frame count")
    if num_frames == 0:
        raise DataFormatError(path, "line 1", "expected a positive frame count, found 0")
    pos = 1
    frames: list[int] = []
    ids: list[str] = []
    info_at: list[int] = []
    starts: list[int] = []
    for t in range(num_frames):
        nbodies = _int_at(path, lines, pos, f"the body count of frame {t + 1}")
        pos += 1
        for b in range(nbodies):
            where = f"body {b + 1} of frame {t + 1}"
            info = lines[pos].split() if pos < n else []
            if len(info) != 10 or not info[0].isdigit():
                found = repr(lines[pos].strip()[:60]) if pos < n else "end of file"
                raise DataFormatError(
                    path, f"line {pos + 1}", f"expected the 10-value info line of {where}, found {found}"
                )
            nj = _int_at(path, lines, pos + 1, f"the joint count of {where}")
            if nj != NUM_JOINTS:
                raise DataFormatError(
                    path, f"line {pos + 2}", f"expected joint count {NUM_JOINTS} for {where}, found {nj}"
                )
            if pos + 2 + NUM_JOINTS > n:
                raise DataFormatError(
                    path,
                    f"line {n + 1}",
                    f"file ends inside the joint block of {where}: expected 25 joint lines, found {n - pos - 2}",
                )
            frames.append(t)
            ids.append(info[0])
            info_at.append(pos)
            starts.append(pos + 2)
            pos += 2 + NUM_JOINTS
    extra = next((k for k in range(pos, n) if lines[k].strip()), None)
    if extra is not None:
        raise DataFormatError(path, f"line {extra + 1}", f"expected end of file after {num_frames} frames")
    parse_float_rows(path, [lines[k] for k in info_at], 10, "body info", lambda k: info_at[k] + 1)
    joint_rows: list[str] = []
    for s in starts:
        joint_rows.extend(lines[s : s + NUM_JOINTS])
    values = parse_float_rows(
        path, joint_rows, 12, _JOINT_COLUMNS, lambda k: starts[k // NUM_JOINTS] + k % NUM_JOINTS + 1
    )
    return SkeletonRecords(
        num_frames, np.asarray(frames, np.int64), np.asarray(ids, dtype=str), values.reshape(-1, NUM_JOINTS, 12)
    )


# --------------------------------------------------------------------------- main actors


def motion_energy(xyz: np.ndarray) -> float:
    """Sum over joints of the variance of x, y, z over frames; xyz [n, 25, 3]."""
    return float(xyz.var(axis=0).sum()) if len(xyz) > 1 else 0.0


def fill_slots(
    frames: dict[str, np.ndarray], energy: dict[str, float], m: int, t: int
) -> tuple[list[list[str]], list[str]]:
    """Tracks (their frame indices by key) by decreasing energy into ``m`` slots without time overlap.

    Returns:
        (track keys per slot, defect notes).
    """
    if m < 1:
        raise ConfigError(f"max_persons must be >= 1, got {m}")
    busy = np.zeros((m, t), bool)
    slots: list[list[str]] = [[] for _ in range(m)]
    left_out = 0
    for key in sorted(frames, key=lambda k: -energy[k]):
        free = [s for s in range(m) if not busy[s, frames[key]].any()]
        if not free:
            left_out += 1
            continue
        busy[free[0], frames[key]] = True
        slots[free[0]].append(key)
    notes = [f"{left_out} tracked bodies left out (more than {m} at once)"] if left_out else []
    merged = sum(len(s) - 1 for s in slots if len(s) > 1)
    if merged:
        notes.append(f"{merged} bodyID changes merged into one person slot")
    empty = int((~busy.any(0)).sum())
    if empty:
        notes.append(f"{empty} of {t} frames have no skeleton")
    return slots, notes


def select_actors(path: Path, rec: SkeletonRecords, max_persons: int) -> tuple[list[np.ndarray], list[str]]:
    """Row indices of ``rec`` for each person slot, and the defect notes (module docstring, steps 1-4)."""
    if len(rec.frame) == 0:
        raise DataFormatError(
            path, None, f"no skeleton in any of the {rec.num_frames} frames (NTU lists it as missing)"
        )
    notes: list[str] = []
    ids, first = np.unique(rec.body_id, return_index=True)
    tracks: dict[str, np.ndarray] = {}
    for body in ids[np.argsort(first)]:
        rows = np.flatnonzero(rec.body_id == body)
        _, keep = np.unique(rec.frame[rows], return_index=True)
        if len(keep) < len(rows):
            notes.append(f"body {body} appears twice in {len(rows) - len(keep)} frames; first kept")
        tracks[str(body)] = rows[np.sort(keep)]

    def drop(is_noise: Callable[[np.ndarray], bool], why: str) -> None:
        noisy = [k for k, rows in tracks.items() if is_noise(rows)]
        if noisy and len(noisy) < len(tracks):
            for k in noisy:
                del tracks[k]
            notes.append(f"dropped {len(noisy)} noise bodies ({why})")

    drop(lambda rows: len(rows) < MIN_BODY_FRAMES, f"tracked in < {MIN_BODY_FRAMES} frames")

    def wide(rows: np.ndarray) -> bool:
        xyz = rec.values[rows, :, :3]
        spread = xyz.max(axis=1) - xyz.min(axis=1)  # [n, 3]
        return float((spread[:, 0] > SPREAD_RATIO * spread[:, 1]).mean()) > NOISY_FRAME_FRACTION

    drop(wide, "wider than tall")
    energy = {k: motion_energy(rec.values[rows, :, :3]) for k, rows in tracks.items()}
    frames = {k: rec.frame[rows] for k, rows in tracks.items()}
    slots, more = fill_slots(frames, energy, max_persons, rec.num_frames)
    rows = [np.concatenate([tracks[k] for k in keys]) if keys else np.zeros(0, np.int64) for keys in slots]
    return rows, notes + more


def scatter_slots(rec: SkeletonRecords, slots: list[np.ndarray], cols: slice) -> np.ndarray:
    """Columns ``cols`` of the chosen bodies as float32 [T, M, 25, C], zeros where a slot is empty."""
    width = len(range(12)[cols])
    out = np.zeros((rec.num_frames, len(slots), NUM_JOINTS, width), np.float32)
    for m, rows in enumerate(slots):
        out[rec.frame[rows], m] = rec.values[rows][:, :, cols]
    return out


def read_ntu_skeleton(
    path: str | Path, max_persons: int = 2, class_names: Sequence[str] | None = None
) -> SkeletonSequence:
    """Read a raw NTU RGB+D ``.skeleton`` text file (LF or CRLF).

    Args:
        path: the ``.skeleton`` file; its name gives label, subject and view.
        max_persons: person slots M (NTU's two-person actions need 2).
        class_names: names by 0-based label (e.g. ``load_class_names(...)``), for ``label_name``.

    Returns:
        joints float32 [T, M, 25, 3] in metres, T = the file's frame count, main actors as in the module docstring.

    Raises:
        DataFormatError: the file breaks the format (message names the line and what was expected), or it
            holds no skeleton at all.
    """
    p = Path(path)
    rec = parse_skeleton(p)
    slots, notes = select_actors(p, rec, max_persons)
    fields, more = label_fields(p, p, class_names)
    joints = scatter_slots(rec, slots, slice(0, 3))
    # as the other text readers: a value no Kinect gives is refused, not cached for training
    check_metres(p, joints, DAMAGED)
    return SkeletonSequence(joints, NTU_FPS, str(p), defects=tuple(notes + more), **fields)


def read_ntu_skeleton_color(path: str | Path, max_persons: int = 2) -> np.ndarray:
    """The colour-image pixel coordinates (colorX, colorY; 1920x1080 frames) of the bodies ``read_ntu_skeleton`` picks.

    Returns:
        float32 [T, M, 25, 2], same frames and person slots as ``read_ntu_skeleton(path, max_persons).joints``.
    """
    p = Path(path)
    rec = parse_skeleton(p)
    slots, _ = select_actors(p, rec, max_persons)
    return scatter_slots(rec, slots, slice(5, 7))
