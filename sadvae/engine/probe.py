"""Facts about files and the machine that engines depend on, with the standard library only.

- :func:`onnx_metadata` reads an ONNX file's ``metadata_props`` without the ``onnx`` package (a Jetson
  that builds engines need not have it): the top level of the ``ModelProto`` protobuf is scanned for
  field 14, and a file that is not a protobuf is one clear :class:`~sadvae.errors.EngineError`.
- :func:`current_device` names CUDA device ``index`` and its compute capability through pycuda,
  cuda-python or ``nvidia-smi``, whichever answers first (None without a GPU).
- :func:`atomic_write` (unique temporary file + ``os.replace``), :func:`file_sha256` (from :mod:`sadvae.hashing`) and
  :func:`normalize_compute_capability` ("SM87", "8.7", (8, 7) -> "8.7").
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import tempfile
from pathlib import Path

from sadvae.errors import EngineError
from sadvae.hashing import file_sha256

__all__ = ["atomic_write", "file_sha256", "normalize_compute_capability", "cc_tuple", "onnx_metadata", "current_device"]

log = logging.getLogger(__name__)


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a unique temporary file beside ``path``, then ``os.replace`` it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def normalize_compute_capability(value: object) -> str:
    """ "SM80", "sm_87", "8.7", "87" or (8, 7) -> "8.7"; "SM120" -> "12.0".

    Raises:
        EngineError: not a compute capability.
    """
    if isinstance(value, tuple | list) and len(value) == 2:
        return f"{int(value[0])}.{int(value[1])}"
    text = str(value).strip().lower().removeprefix("sm").lstrip("_")
    if m := re.fullmatch(r"(\d+)\.(\d)", text):
        return f"{int(m[1])}.{m[2]}"
    if re.fullmatch(r"\d{2,3}", text):
        return f"{int(text[:-1])}.{text[-1]}"
    raise EngineError(f"{value!r} is not a compute capability; write it as SM87 or 8.7")


def cc_tuple(cc: str) -> tuple[int, int]:
    major, minor = cc.split(".")
    return int(major), int(minor)


def onnx_metadata(path: str | Path) -> dict[str, object]:
    """The ``metadata_props`` of an ONNX file, ``sadvae.``-prefixed values JSON-decoded (no onnx package needed).

    Reads the top level of the ``ModelProto`` protobuf only (field 14: repeated key/value entries).

    Raises:
        EngineError: the file is missing or not an ONNX protobuf.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise EngineError(
            f"{path}: cannot read the ONNX model ({e.strerror or e}); export it with `sadvae export`"
        ) from None
    props: dict[str, object] = {}
    try:
        for field, value in _fields(data):
            if field == 14 and isinstance(value, bytes):
                entry = {f: v for f, v in _fields(value) if isinstance(v, bytes)}
                key, text = entry.get(1, b"").decode("utf-8"), entry.get(2, b"").decode("utf-8")
                if key.startswith("sadvae."):
                    try:
                        props[key[len("sadvae.") :]] = json.loads(text)
                    except json.JSONDecodeError:
                        props[key[len("sadvae.") :]] = text
                else:
                    props[key] = text
    except (ValueError, UnicodeDecodeError) as e:
        raise EngineError(f"{path}: not an ONNX model ({e}); export it again with `sadvae export`") from None
    return props


def _fields(buf: bytes):
    """(field number, int | bytes) of each top-level protobuf field in ``buf``."""
    pos, end = 0, len(buf)

    def varint() -> int:
        nonlocal pos
        shift = result = 0
        while True:
            if pos >= end or shift > 63:
                raise ValueError("truncated varint")
            byte = buf[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    while pos < end:
        tag = varint()
        field, wire = tag >> 3, tag & 7
        if field == 0:
            raise ValueError(f"invalid protobuf field 0 at byte {pos}")
        if wire == 0:
            yield field, varint()
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
            if pos > end:
                raise ValueError("truncated fixed-width field")
        elif wire == 2:
            n = varint()
            if pos + n > end:
                raise ValueError(f"field {field} runs past the end of the file")
            yield field, buf[pos : pos + n]
            pos += n
        else:
            raise ValueError(f"unsupported protobuf wire type {wire} at byte {pos}")


def current_device(index: int = 0) -> dict[str, str] | None:
    """``{"gpu": name, "compute_capability": "8.7"}`` of CUDA device ``index``, or None when there is none.

    Asks pycuda, then cuda-python, then ``nvidia-smi``; the first that answers wins.
    """
    try:
        import pycuda.driver as cuda

        cuda.init()
        dev = cuda.Device(index)
        return {"gpu": dev.name(), "compute_capability": normalize_compute_capability(dev.compute_capability())}
    except ImportError:
        pass
    except Exception as e:  # pycuda raises its own LogicError / RuntimeError without a GPU
        log.debug("pycuda sees no GPU %d: %s", index, e)
        return None
    try:
        try:
            from cuda.bindings import runtime as cudart
        except ImportError:
            from cuda import cudart
        err, props = cudart.cudaGetDeviceProperties(index)
        if int(err) != 0:
            return None
        name = props.name.split(b"\0")[0].decode() if isinstance(props.name, bytes) else str(props.name)
        return {"gpu": name, "compute_capability": f"{props.major}.{props.minor}"}
    except ImportError:
        pass
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--id={index}", "--query-gpu=name,compute_cap", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
        name, cc = (s.strip() for s in out.strip().splitlines()[0].rsplit(",", 1))
        return {"gpu": name, "compute_capability": normalize_compute_capability(cc)}
    except (OSError, subprocess.SubprocessError, ValueError, IndexError, EngineError):
        return None
