"""What the report scripts (camera_gap.py, small_figures.py, roi_accuracy.py, ...) share: the run's machine and time,
the outputs."""

from __future__ import annotations

import datetime
import json
import os
import platform
from pathlib import Path
from typing import Any


def machine_and_time() -> tuple[str, str]:
    """The report header's machine ("x86_64, 16 cores") and time ("2026-12-04 06:30 UTC") of this run."""
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return machine, when


def write_report(res: dict[str, Any], md: str, json_path: Path | None, markdown_path: Path | None) -> None:
    """Print the markdown report, and write the numbers ``res`` (JSON) and ``md`` where the paths ask."""
    print(md)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(res, indent=1))
    if markdown_path:
        markdown_path.write_text(md)
