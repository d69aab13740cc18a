"""The soak script at CI size: 5,000 replayed frames through the full live pipeline (ONNX Runtime on the tiny
bundle, real ZeroMQ, a healthy subscriber), in its own process so that its memory is its own.

Full size (>= 100,000 frames on the packaged default model) is documented in docs/reliability.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
pytest.importorskip("zmq")

ROOT = Path(__file__).resolve().parents[2]
FRAMES = 5000
# RSS slope bound, MB per 10,000 frames over the second half: a leak of 1 KB per frame would be 10 MB; at this
# size one allocator step (up to ~1 MB, seen once in 5,000 frames) moves the fitted slope by a few MB
MAX_SLOPE = 8.0


def test_soak_ci_size_loses_no_event_and_memory_stays_flat(model_files, tmp_path) -> None:
    out = tmp_path / "soak.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "soak.py"),
            "--frames",
            str(FRAMES),
            "--model",
            str(model_files[1]),
            "--bundle",
            str(model_files[0]),
            "--sample-every",
            "100",
            "--every-window",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    print(proc.stdout)
    r = json.loads(out.read_text(encoding="utf-8"))
    assert r["frames"] == FRAMES and r["stop_reason"] == "end" and r["windows"] > 0
    # a healthy subscriber receives every event: by count, by seq, and the final status
    assert r["events_lost"] == 0 and r["seq_gaps"] == 0 and r["publisher_dropped"] == 0
    assert r["events_received"] == r["events_published"] and r["events_published"]["action"] >= r["windows"]
    assert r["final_status_received"]
    assert abs(r["rss_slope_mb_per_10k_frames"]) < MAX_SLOPE, r["rss_samples"]
    assert len(r["rss_samples"]) == FRAMES // 100
    assert "frames/s" in proc.stdout and "slope" in proc.stdout and r["replay_kind"] in proc.stdout
