"""Facts about the machine a benchmark ran on, so results from a Jetson and a desktop can be compared.

No heavy imports: CPU, memory and board come from ``/proc`` and ``/etc``, GPUs from ``nvidia-smi``,
library versions from the installed distributions' metadata (nothing is imported), the commit from ``git``.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from sadvae.paths import PROJECT_ROOT

__all__ = ["LIBRARIES", "machine_info"]

# distributions whose versions a result records (None when not installed)
LIBRARIES = ("numpy", "torch", "onnxruntime", "onnxruntime-gpu", "tensorrt", "mediapipe", "opencv-python", "pyzmq")
# OpenCV ships as several distributions of one module (the headless and contrib builds: mediapipe installs the
# latter): "opencv-python" is the first of them installed (until 7 December 2026, late, null beside a contrib build)
_OPENCV = ("opencv-python", "opencv-python-headless", "opencv-contrib-python", "opencv-contrib-python-headless")


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").replace("\x00", "").strip()
    except OSError:
        return None


def _cpu_model() -> str:
    info = _read("/proc/cpuinfo") or ""
    for key in ("model name", "Hardware", "Processor"):
        for line in info.splitlines():
            if line.split(":", 1)[0].strip() == key:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _ram_gb() -> float | None:
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 2**20, 1)
    return None


def _gpu() -> dict[str, Any] | None:
    """NVIDIA GPUs from ``nvidia-smi``; on a Jetson, the board model and L4T release instead."""
    board = _read("/proc/device-tree/model")
    tegra = _read("/etc/nv_tegra_release")
    if tegra or (board and "jetson" in board.lower()):
        return {"board": board, "l4t": (tegra or "").splitlines()[0] if tegra else None}
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    rows = [[c.strip() for c in line.split(",")] for line in out.strip().splitlines() if line.strip()]
    if not rows:
        return None
    return {
        "gpus": [{"name": r[0], "memory": r[1] if len(r) > 1 else None} for r in rows],
        "driver": rows[0][2] if len(rows[0]) > 2 else None,
    }


def git_state(root: Path = PROJECT_ROOT) -> dict[str, Any] | None:
    """``{"commit": HEAD's sha, "dirty": tracked files changed}`` of the checkout at ``root``, or None (no git, not a
    checkout)."""
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head, "dirty": bool(dirty)}


def machine_info() -> dict[str, Any]:
    """Facts that make results from different machines comparable (no heavy imports).

    Returns:
        hostname, cpu, cores (logical; ``usable`` = this process's affinity), ram_gb, gpu (None, NVIDIA
        GPUs or a Jetson board), os, python, library versions (None = not installed), git commit, load average.
    """
    versions = {}
    for dist in LIBRARIES:
        for name in _OPENCV if dist == "opencv-python" else (dist,):
            try:
                versions[dist] = importlib.metadata.version(name)
                break
            except importlib.metadata.PackageNotFoundError:
                versions[dist] = None
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "hostname": platform.node(),
        "cpu": _cpu_model(),
        "arch": platform.machine(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "ram_gb": _ram_gb(),
        "gpu": _gpu(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "git": git_state(),
        "loadavg_start": list(os.getloadavg()),
    }
