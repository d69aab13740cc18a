"""Facts about files and the machine that engines depend on, with the standard library only.

- :func:`current_device` names CUDA device ``index`` and its compute capability through pycuda,
  cuda-python or ``nvidia-smi``, whichever answers first (None without a GPU).
- :func:`normalize_compute_capability` ("SM87", "8.7", (8, 7) -> "8.7").

Atomic writes, file hashes and ONNX metadata have their own homes: :mod:`sadvae.fileio`,
:mod:`sadvae.hashing` and :mod:`sadvae.onnx_metadata`.
"""

from __future__ import annotations

import logging
import re
import subprocess

from sadvae.engine.trt_common import import_cudart
from sadvae.errors import EngineError

__all__ = ["normalize_compute_capability", "cc_tuple", "current_device"]

log = logging.getLogger(__name__)


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
        cudart = import_cudart()
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
