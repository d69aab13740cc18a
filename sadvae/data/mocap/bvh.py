"""BVH (Biovision hierarchy) reader and forward kinematics (numpy only).

A BVH file is a ``HIERARCHY`` of joints (``ROOT`` / ``JOINT`` with an ``OFFSET`` and ``CHANNELS``,
``End Site`` leaves with an ``OFFSET``) followed by ``MOTION``: ``Frames: N``, ``Frame Time: dt`` and N
lines holding every joint's channel values in hierarchy order. Forward kinematics follows the
format's convention: a joint's local transform is its translation (its position channels where it
has them, else its ``OFFSET``) then its rotation channels composed in the order listed (intrinsic:
``Zrotation Xrotation Yrotation`` is R = Rz · Rx · Ry), expressed in the parent's frame. Lengths are
left in the file's unit (the caller scales); angles are degrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sadvae.data.mocap.kinematics import euler_matrix, read_mocap_text
from sadvae.errors import DataFormatError

__all__ = ["BvhMotion", "read_bvh", "bvh_forward_kinematics", "BVH_CHANNELS"]

BVH_CHANNELS = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")
_CHANNEL_LOOKUP = {c.lower(): c for c in BVH_CHANNELS}
# a frame line this long or a header this deep is not a skeleton: refuse rather than allocate
MAX_BVH_JOINTS = 1024
# seconds per frame: 10 kHz to 0.1 Hz; outside it the value is not seconds (or not a frame time)
MIN_FRAME_TIME_S = 1e-4
MAX_FRAME_TIME_S = 10.0


@dataclass(frozen=True)
class BvhMotion:
    """One parsed BVH file.

    Attributes:
        path: the file.
        names: joint names in hierarchy order; an end site is named ``<parent>/End``.
        parents: parent index per joint (-1 for the root).
        offsets: float64 [J, 3] offsets in the parent's frame (file units).
        channels: channel names per joint (empty for end sites), as the file lists them.
        frame_time: seconds per frame.
        motion: float64 [T, C] channel values, C = total channel count, in hierarchy order.
    """

    path: Path
    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    channels: tuple[tuple[str, ...], ...]
    frame_time: float
    motion: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[0])

    def index(self, name: str) -> int:
        """Index of joint ``name``; DataFormatError naming the file when absent."""
        try:
            return self.names.index(name)
        except ValueError:
            raise DataFormatError(
                self.path, "HIERARCHY", f"expected a joint named {name!r}; not in the hierarchy"
            ) from None


def _number(path: Path, n: int, tok: str, what: str) -> float:
    try:
        v = float(tok)
    except ValueError:
        raise DataFormatError(path, f"line {n}", f"expected a number ({what}), found {tok[:40]!r}") from None
    if not np.isfinite(v):
        raise DataFormatError(path, f"line {n}", f"expected a finite number ({what}), found {tok!r}")
    return v


def _parse_hierarchy(path: Path, lines: list[str]) -> tuple[dict, int]:
    """-> (joint table, index of the line after the hierarchy)."""
    n = 0
    while n < len(lines) and not lines[n].strip():
        n += 1
    if n >= len(lines) or lines[n].split()[0].upper() != "HIERARCHY":
        found = lines[n].strip()[:40] if n < len(lines) else "nothing"
        raise DataFormatError(path, f"line {n + 1}", f"expected a BVH file starting with HIERARCHY, found {found!r}")
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []
    stack: list[int] = []
    pending: int | None = None  # joint declared, its "{" not yet seen
    n += 1
    while n < len(lines):
        raw = lines[n]
        tok = raw.split()
        n += 1
        if not tok:
            continue
        key = tok[0].upper()
        if key in ("ROOT", "JOINT") or (key == "END" and len(tok) > 1 and tok[1].upper() == "SITE"):
            if pending is not None:
                raise DataFormatError(
                    path, f"line {n}", f"expected '{{' after {names[pending]!r}, found {raw.strip()[:40]!r}"
                )
            names.append(_declared_joint(path, n, key, tok, names, stack))
            parents.append(stack[-1] if stack else -1)
            offsets.append([])
            channels.append(())
            pending = len(names) - 1
        elif key == "{":
            if pending is None:
                raise DataFormatError(path, f"line {n}", "unexpected '{' (no ROOT, JOINT or End Site before it)")
            stack.append(pending)
            pending = None
        elif key == "}":
            if not stack:
                raise DataFormatError(path, f"line {n}", "unexpected '}' (more closing than opening braces)")
            j = stack.pop()
            if not offsets[j]:
                raise DataFormatError(path, f"line {n}", f"joint {names[j]!r} has no OFFSET")
            if not stack:
                break  # the root closed: the hierarchy is complete
        elif key == "OFFSET":
            if not stack or offsets[stack[-1]]:
                raise DataFormatError(path, f"line {n}", "unexpected OFFSET (one per joint, inside its braces)")
            if len(tok) != 4:
                raise DataFormatError(path, f"line {n}", f"expected `OFFSET x y z`, found {len(tok) - 1} values")
            offsets[stack[-1]] = [_number(path, n, t, "OFFSET") for t in tok[1:]]
        elif key == "CHANNELS":
            if not stack or names[stack[-1]].endswith("/End") or channels[stack[-1]]:
                raise DataFormatError(path, f"line {n}", "unexpected CHANNELS (one per joint, not in an End Site)")
            channels[stack[-1]] = _channel_list(path, n, tok)
        elif key == "MOTION":
            break
        else:
            raise DataFormatError(
                path,
                f"line {n}",
                f"expected ROOT, JOINT, End Site, OFFSET, CHANNELS or braces, found {raw.strip()[:40]!r}",
            )
    if stack or pending is not None or not names:
        raise DataFormatError(
            path, f"line {n}", "HIERARCHY ends before every joint's braces are closed (file truncated?)"
        )
    table = dict(
        names=tuple(names),
        parents=tuple(parents),
        offsets=np.array(offsets, dtype=np.float64),
        channels=tuple(channels),
    )
    return table, n


def _declared_joint(path: Path, n: int, key: str, tok: list[str], names: list[str], stack: list[int]) -> str:
    """The name a ROOT, JOINT or End Site line declares (End Sites: ``<parent>/End``), after its checks."""
    if key == "ROOT" and (names or stack):
        raise DataFormatError(
            path, f"line {n}", "expected one ROOT; found a second (several skeletons are not supported)"
        )
    if key == "JOINT" and not stack:
        raise DataFormatError(path, f"line {n}", "expected JOINT inside a joint's braces, found it at top level")
    if key == "END":
        if not stack:
            raise DataFormatError(path, f"line {n}", "expected End Site inside a joint's braces")
        name = f"{names[stack[-1]]}/End"
    else:
        if len(tok) < 2:
            raise DataFormatError(path, f"line {n}", f"expected `{tok[0]} <name>`, found no name")
        name = " ".join(tok[1:])
        if name in names:
            raise DataFormatError(path, f"line {n}", f"expected unique joint names, found {name!r} twice")
    if len(names) >= MAX_BVH_JOINTS:
        raise DataFormatError(path, f"line {n}", f"more than {MAX_BVH_JOINTS} joints; not a skeleton file")
    return name


def _channel_list(path: Path, n: int, tok: list[str]) -> tuple[str, ...]:
    """The channels of a ``CHANNELS <count> <name> ...`` line, each once, in our spelling."""
    if len(tok) < 2 or not tok[1].isdigit() or len(tok) != 2 + int(tok[1]):
        raise DataFormatError(path, f"line {n}", "expected `CHANNELS <count> <name> ...` with <count> names")
    chans = []
    for c in tok[2:]:
        if c.lower() not in _CHANNEL_LOOKUP:
            raise DataFormatError(
                path, f"line {n}", f"unknown channel {c!r}; expected one of {', '.join(BVH_CHANNELS)}"
            )
        chans.append(_CHANNEL_LOOKUP[c.lower()])
    if len(set(chans)) != len(chans):
        raise DataFormatError(path, f"line {n}", f"expected each channel once, found {' '.join(tok[2:])}")
    return tuple(chans)


def _header_value(path: Path, lines: list[str], n: int, label: str) -> tuple[str, int]:
    while n < len(lines) and not lines[n].strip():
        n += 1
    if n >= len(lines):
        raise DataFormatError(path, f"line {n}", f"file ends before `{label}` (file truncated?)")
    line = lines[n].strip()
    if not line.lower().startswith(label.lower()):
        raise DataFormatError(path, f"line {n + 1}", f"expected `{label} ...`, found {line[:40]!r}")
    return line[len(label) :].strip(), n + 1


def read_bvh(path: str | Path) -> BvhMotion:
    """Parse a BVH file (one skeleton).

    Raises:
        DataFormatError: missing, empty, a malformed hierarchy (an unknown channel, unbalanced braces, a
            joint without OFFSET), a missing ``MOTION`` / ``Frames:`` / ``Frame Time:`` line, a frame line
            with the wrong number of values or a non-number, or fewer frame lines than ``Frames:`` says
            (truncated file). The message names the file and the line.
    """
    path = Path(path)
    lines = read_mocap_text(path, "BVH")
    table, n = _parse_hierarchy(path, lines)
    while n < len(lines) and not lines[n].strip():
        n += 1
    if n >= len(lines):
        raise DataFormatError(path, f"line {n}", "file ends after HIERARCHY; expected MOTION (file truncated?)")
    if lines[n].strip().upper() != "MOTION":
        raise DataFormatError(path, f"line {n + 1}", f"expected MOTION, found {lines[n].strip()[:40]!r}")
    value, n = _header_value(path, lines, n + 1, "Frames:")
    if not value.isdigit():
        raise DataFormatError(path, f"line {n}", f"expected `Frames: <count>`, found {value[:40]!r}")
    frames = int(value)
    value, n = _header_value(path, lines, n, "Frame Time:")
    frame_time = _number(path, n, value, "Frame Time")
    if not MIN_FRAME_TIME_S <= frame_time <= MAX_FRAME_TIME_S:
        raise DataFormatError(
            path,
            f"line {n}",
            f"expected a Frame Time in seconds between {MIN_FRAME_TIME_S:g} and {MAX_FRAME_TIME_S:g} "
            f"(0.0333333 for 30 fps), found {value}",
        )
    if frames < 1:
        raise DataFormatError(path, f"line {n - 1}", "expected at least one frame, found `Frames: 0`")
    width = sum(len(c) for c in table["channels"])
    body = [(i, ln) for i, ln in enumerate(lines[n:], n + 1) if ln.strip()]
    if len(body) < frames:
        raise DataFormatError(
            path,
            f"line {len(lines)}",
            f"expected {frames} frame lines (Frames: {frames}), found {len(body)}: file truncated",
        )
    if len(body) > frames:
        raise DataFormatError(
            path, f"line {body[frames][0]}", f"expected {frames} frame lines (Frames: {frames}), found more"
        )
    motion = None
    try:
        motion = np.loadtxt([ln for _, ln in body], dtype=np.float64, ndmin=2, comments=None)
    except ValueError:
        pass
    if motion is None or motion.shape != (frames, width) or not np.isfinite(motion).all():
        for i, ln in body:  # slow path: name the first bad line
            row = ln.split()
            if len(row) != width:
                raise DataFormatError(path, f"line {i}", f"expected {width} channel values, found {len(row)}")
            for tok in row:
                _number(path, i, tok, "channel value")
        raise DataFormatError(path, "MOTION", f"could not read the frame lines as {width} numbers each")
    return BvhMotion(path, table["names"], table["parents"], table["offsets"], table["channels"], frame_time, motion)


def bvh_forward_kinematics(bvh: BvhMotion) -> tuple[np.ndarray, np.ndarray]:
    """World positions and orientations of every joint and end site, frame by frame.

    Returns:
        (positions float64 [T, J, 3] in file units, rotations float64 [T, J, 3, 3] joint frame -> world),
        J and the order as in ``bvh.names``.
    """
    t_count, j_count = bvh.num_frames, len(bvh.names)
    pos = np.zeros((t_count, j_count, 3))
    rot = np.zeros((t_count, j_count, 3, 3))
    col = 0
    for j, (parent, chans) in enumerate(zip(bvh.parents, bvh.channels, strict=True)):
        values = bvh.motion[:, col : col + len(chans)]
        col += len(chans)
        trans = np.broadcast_to(bvh.offsets[j], (t_count, 3)).copy()
        rot_axes = ""
        rot_cols = []
        for k, c in enumerate(chans):
            if c.endswith("position"):
                trans[:, "XYZ".index(c[0])] = values[:, k]  # a position channel replaces the offset
            else:
                rot_axes += c[0]
                rot_cols.append(k)
        local = euler_matrix(rot_axes, np.deg2rad(values[:, rot_cols]), intrinsic=True)
        if parent < 0:
            pos[:, j] = trans
            rot[:, j] = local
        else:
            pos[:, j] = pos[:, parent] + np.einsum("tij,tj->ti", rot[:, parent], trans)
            rot[:, j] = rot[:, parent] @ local
    return pos, rot
