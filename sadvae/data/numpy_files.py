"""Reading numpy files safely: the magic-bytes check before ``np.load`` and the errors a corrupt file raises.

Every reader of ``.npz`` / ``.npy`` input (dataset readers, prepared caches, replays, head weights)
calls :func:`check_numpy_file` first and catches :data:`NUMPY_READ_ERRORS` around ``np.load``. It
imports nothing of the package but :mod:`sadvae.errors`, so any reader can use it without an import cycle.
"""

from __future__ import annotations

import tokenize
import zipfile
import zlib
from pathlib import Path

from sadvae.errors import DataFormatError

__all__ = ["NUMPY_READ_ERRORS", "check_numpy_file"]

_MAGIC = {".npz": (b"PK\x03\x04", b"PK\x05\x06"), ".npy": (b"\x93NUMPY",)}
# what np.load and reading an archive member raise on a truncated or corrupt file (a garbled .npy header is
# parsed as a Python literal, hence SyntaxError and TokenError)
NUMPY_READ_ERRORS = (
    OSError,
    ValueError,
    EOFError,
    KeyError,
    OverflowError,
    SyntaxError,
    tokenize.TokenError,
    zipfile.BadZipFile,
    zlib.error,
)


def check_numpy_file(path: Path, kind: str, fix: str = "restore the original file") -> None:
    """Refuse, before ``np.load`` sees it, anything but an existing file that starts as a ``kind`` file should.

    ``np.load`` unpickles (or advises ``allow_pickle=True``) for any file without the numpy magic; this check
    gives one clear error instead, and ``np.load`` is then always called with ``allow_pickle=False``.

    Args:
        path: the file.
        kind: ".npz" (a zip archive) or ".npy".
        fix: what the user should do, appended to the message.

    Raises:
        DataFormatError: missing, a folder, unreadable, empty or not a ``kind`` file.
    """
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except FileNotFoundError:
        raise DataFormatError(path, None, "file not found; check the path") from None
    except IsADirectoryError:
        raise DataFormatError(path, None, f"is a folder, expected a {kind} file; pass the file's path") from None
    except OSError as e:
        raise DataFormatError(path, None, f"cannot read the file ({e.strerror or e}); check its permissions") from None
    if not head.startswith(_MAGIC[kind]):
        found = "an empty file" if not head else f"bytes {head[:6]!r}"
        what = "zip archive" if kind == ".npz" else "numpy array file"
        raise DataFormatError(path, None, f"not a readable {kind} file: expected a {what}, found {found}; {fix}")
