"""Rotation matrices and text reading shared by the BVH and ASF/AMC readers (numpy only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sadvae.data.text_files import check_regular_file
from sadvae.errors import DataFormatError

__all__ = ["axis_rotation", "euler_matrix", "read_mocap_text"]

_AXES = {"x": 0, "y": 1, "z": 2}


def axis_rotation(axis: str, angle_rad: np.ndarray) -> np.ndarray:
    """Right-handed rotation about one coordinate axis, for column vectors.

    Args:
        axis: "x", "y" or "z" (either case).
        angle_rad: angles [...] in radians.

    Returns:
        float64 [..., 3, 3].
    """
    a = np.asarray(angle_rad, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    out = np.zeros(a.shape + (3, 3))
    i = _AXES[axis.lower()]
    j, k = (i + 1) % 3, (i + 2) % 3
    out[..., i, i] = 1.0
    out[..., j, j] = c
    out[..., k, k] = c
    out[..., j, k] = -s
    out[..., k, j] = s
    return out


def euler_matrix(axes: str, angles_rad: np.ndarray, intrinsic: bool) -> np.ndarray:
    """Compose per-axis rotations in the order ``axes`` lists them.

    ``intrinsic=True`` (BVH): each rotation is about the already-rotated axes, R = R_1 · R_2 · R_3.
    ``intrinsic=False`` (Acclaim ASF/AMC): each rotation is about the fixed axes, the first listed
    applied first, R = R_3 · R_2 · R_1. The two are the same rotation for reversed axis lists.

    Args:
        axes: axis letters, e.g. "zxy".
        angles_rad: [..., len(axes)] radians, in the order of ``axes``.

    Returns:
        float64 [..., 3, 3].
    """
    angles_rad = np.asarray(angles_rad, dtype=np.float64)
    out = np.broadcast_to(np.eye(3), angles_rad.shape[:-1] + (3, 3)).copy()
    for n, ax in enumerate(axes):
        r = axis_rotation(ax, angles_rad[..., n])
        out = out @ r if intrinsic else r @ out
    return out


def read_mocap_text(path: Path, what: str) -> list[str]:
    """The file's lines (UTF-8, else Latin-1 as HDM05's comment lines are), or one DataFormatError.

    Raises:
        DataFormatError: missing, a folder, unreadable, empty, or holding NUL bytes (a binary file).
    """
    try:
        if path.is_dir():
            raise DataFormatError(path, None, f"is a folder, expected a {what} file; pass the file's path")
        check_regular_file(path)
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataFormatError(path, None, f"file not found; expected a {what} file") from None
    except OSError as e:
        raise DataFormatError(path, None, f"cannot read the file ({e.strerror or e}); check its permissions") from None
    if not data.strip():
        raise DataFormatError(path, None, f"empty file; expected a {what} file")
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise DataFormatError(path, f"line {line}", f"binary data (NUL byte); expected a {what} text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
