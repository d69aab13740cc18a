"""Atomic file writing: the one place the project writes a file whole or not at all (standard library only).

A reader (another process, a crash, a power cut) sees the old file or the new one, never a partial file:
data goes to a unique temporary file in the same folder, which ``os.replace`` then moves into place.

- :func:`atomic_write` writes bytes (and fsyncs them) in one call.
- :func:`atomic_path` yields a temporary path for writers that want a path (``onnx.save``,
  ``np.savez_compressed``, ``torch.save``) and moves it into place when the block ends without error.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_write", "atomic_path", "output_problem"]


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


@contextlib.contextmanager
def atomic_path(path: str | Path, *, make_parents: bool = True, suffix: str | None = None) -> Iterator[Path]:
    """A unique temporary path beside ``path``; on a clean exit of the block it replaces ``path``.

    The temporary name ends in ``path``'s suffix (``.rec.npz.k3j2.tmp.npz``), so writers that append a
    suffix they miss (``np.savez`` appends ``.npz``) write where they are told. On an exception the
    temporary file is removed and ``path`` is left as it was.

    Args:
        path: the file to write.
        make_parents: create missing parent folders first (else a missing folder raises OSError).
        suffix: the temporary file's suffix instead of ``path``'s (``".npz"`` for ``np.savez`` writing
            to a path that may not end in ``.npz``).

    Raises:
        OSError: the folder cannot be written, or the final ``os.replace`` fails.
    """
    path = Path(path)
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    last = path.suffix if suffix is None else suffix
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{last}")
    tmp = Path(name)
    try:
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a unique temporary file beside ``path``, fsync it, then ``os.replace`` it into place.

    Missing parent folders are created.
    """
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def output_problem(path: str | Path, folder: bool = False) -> str | None:
    """Why ``path`` cannot be written (checked before long work, not after it), or None.

    ``folder``: ``path`` is a folder to create or fill, not a file. The phrase names the part of the path at fault:
    an existing folder where a file goes, a file where a folder goes, or a folder this process may not write in.
    """
    path = Path(path)
    if path.exists():
        if folder and not path.is_dir():
            return f"{path} is a file, not a folder"
        if not folder and path.is_dir():
            return f"{path} is a folder"
        if not os.access(path, os.W_OK):
            return f"{path} cannot be written (permissions)"
        return None
    above = next((p for p in path.absolute().parents if p.exists()), None)
    if above is None:
        return None
    if not above.is_dir():
        return f"{above} is a file, not a folder"
    try:  # a real write: permission bits say nothing to root, or on read-only and virtual file systems
        with tempfile.NamedTemporaryFile(dir=above, prefix=".sadvae-probe-"):
            pass
    except OSError as e:
        return f"the folder {above} cannot be written in ({e.strerror or e})"
    return None
