"""Reading the datasets' text files: one :class:`~sadvae.errors.DataFormatError` naming the file and line.

Shared by every text reader in :mod:`sadvae.data` (NTU ``.skeleton``, PKU-MMD, the Kinect v1 sets, the
mocap sets' name lists): whole-file reading with a size limit for hand-written lists, universal newlines,
and float parsing that refuses NaN, inf and values too large for float32.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sadvae.errors import DataFormatError

__all__ = [
    "MAX_LIST_FILE_BYTES",
    "F32_MAX",
    "read_text",
    "parse_json",
    "check_regular_file",
    "read_lines",
    "is_number",
    "all_numbers",
    "parse_float_rows",
]

# class lists, label files and missing-sample lists are short hand-written text: a larger file is the wrong file
MAX_LIST_FILE_BYTES = 1 << 20
F32_MAX = float(np.finfo(np.float32).max)  # joints are float32: a larger value would become inf


def check_regular_file(path: Path) -> None:
    """A FIFO or a device in place of a data file would block the read for ever (or never end): one error instead.
    A missing path passes (the caller says "not found")."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise DataFormatError(path, None, "not a regular file (a pipe or a device); pass the data file itself")


def parse_json(text: str, path: Path) -> Any:
    """``json.loads``, with JSON nested too deeply for Python's parser (``[[[[...`` thousands deep: a
    ``RecursionError``) as one DataFormatError; a malformed document still raises ``json.JSONDecodeError`` for the
    caller to word."""
    try:
        return json.loads(text)
    except RecursionError:
        raise DataFormatError(path, None, "JSON nested too deeply to be this file; is it the right file?") from None


def read_text(path: Path, max_bytes: int | None = None) -> str:
    """The whole file as text (UTF-8, a byte order mark tolerated; newlines as ``\\n``), or one DataFormatError.

    Args:
        path: the file.
        max_bytes: refuse a larger file (for short hand-written lists); None = no limit.
    """
    try:
        if path.is_dir():
            raise DataFormatError(path, None, "is a folder, expected a file; pass the file's path")
        check_regular_file(path)
        if max_bytes is not None and (size := path.stat().st_size) > max_bytes:
            problem = (
                f"file is {size} bytes, more than the {max_bytes}-byte limit for such a file; is it the right file?"
            )
            raise DataFormatError(path, None, problem)
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataFormatError(path, None, "file not found; check the path") from None
    except OSError as e:
        raise DataFormatError(path, None, f"cannot read the file ({e.strerror or e}); check its permissions") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise DataFormatError(
            path, f"line {line}", f"expected a text file, found undecodable bytes at offset {e.start}; save it as UTF-8"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")  # universal newlines, as text-mode reading does


def read_lines(path: Path, max_bytes: int | None = None) -> list[str]:
    """The file's lines (LF, CRLF or CR), trailing blank lines removed."""
    lines = read_text(path, max_bytes).split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def is_number(value: object) -> bool:
    """True for a number (or numeric string) that stays finite as float32; False for NaN, inf, 1e39, 'x'."""
    try:
        return abs(float(value)) <= F32_MAX  # NaN compares False
    except (ValueError, TypeError, OverflowError):
        return False


def all_numbers(arr: np.ndarray) -> bool:
    """:func:`is_number` for every element of a float array."""
    return bool((np.abs(arr) <= F32_MAX).all())


def parse_float_rows(path: Path, rows: list[str], ncols: int, what: str, line_of: Callable[[int], int]) -> np.ndarray:
    """Parse text rows of exactly ``ncols`` finite numbers into [len(rows), ncols] float64, in one C pass.

    On failure the rows are re-scanned in Python only to name the first bad line: ``line_of(k)`` maps row k
    to its 1-based line number in the file.
    """
    if not rows:
        return np.zeros((0, ncols))
    try:
        arr = np.loadtxt(rows, dtype=np.float64, comments=None, ndmin=2)
        if arr.shape == (len(rows), ncols) and all_numbers(arr):
            return arr
    except ValueError:
        pass
    for k, row in enumerate(rows):
        tokens = row.split()
        if len(tokens) != ncols:
            raise DataFormatError(path, f"line {line_of(k)}", f"expected {ncols} numbers ({what}), found {len(tokens)}")
        for tok in tokens:
            if not is_number(tok):
                raise DataFormatError(
                    path, f"line {line_of(k)}", f"expected {ncols} finite numbers ({what}), found {tok!r}"
                )
    raise DataFormatError(path, None, f"could not parse the {what} rows")  # loadtxt and float() disagree: unlikely
