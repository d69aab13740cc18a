"""``sadvae bench latency`` pieces that need no model: the report text, the JSON helpers, the CLI's flag checks."""

from __future__ import annotations

import pytest


def _rec_row(backend: str, batch: int, p50: float) -> dict:
    return {"backend": backend, "device": "cpu", "precision": "fp32", "batch": batch, "persons": 1, "iters": 1} | {
        "p50_ms": p50,
        "p90_ms": p50,
        "p99_ms": p50,
        "mean_ms": p50,
        "windows_per_s": 1.0,
        "cpu_ms": p50,
    }


def test_amortised_cost_uses_the_stride_given_and_the_batch_pool_sends():
    from realtime.bench.report import _recognizer_table

    rec = {"iters": 1, "warmup": 0, "threads": 1, "optimization": "all", "skipped": []}
    rec["results"] = [_rec_row("onnxruntime", 1, 24.0), _rec_row("onnxruntime", 2, 48.0)]
    model = {"stride": 24, "fps": 30.0}
    text = "\n".join(_recognizer_table(rec, model, {"stride": None, "handedness": "off"}))
    assert "at the model's stride (24 frames at 30 fps), one person: 1.000 ms per frame" in text
    text = "\n".join(_recognizer_table(rec, model, {"stride": 8, "handedness": "off"}))
    assert "at --stride 8, one person: 3.000 ms per frame" in text
    text = "\n".join(_recognizer_table(rec, model, {"stride": 8, "handedness": "pool"}))
    assert "--handedness pool" in text and "6.000 ms per frame" in text
    rec["results"] = rec["results"][:1]
    text = "\n".join(_recognizer_table(rec, model, {"stride": 8, "handedness": "pool"}))
    assert "not measured" in text and "ms per frame" not in text


@pytest.mark.parametrize(
    ("argv", "flags"),
    [
        (["--stride", "8"], "--stride sets"),
        (["--handedness", "pool", "--frames", "50", "--no-roi"], "--frames, --no-roi, --handedness set"),
        (["--num-poses", "2", "--pose-variant", "lite"], "--num-poses, --pose-variant set"),  # 1 is the default
        (["--labels", "l.txt"], "--labels sets"),
        (["--no-recognizer"], "--no-recognizer without --video or --replay measures nothing"),
    ],
)
def test_cli_pipeline_flags_need_a_source(argv, flags, capsys):
    from sadvae.cli import main

    assert main(["bench", "latency", *argv]) == 2
    err = capsys.readouterr().err
    assert flags in err and "--video PATH or --replay PATH" in err


def test_thin_keeps_the_last_sample_once():
    from realtime.bench.latency import thin

    assert thin([]) == []
    rows = [[i, float(i)] for i in range(5)]
    assert thin(rows) == rows  # every row kept, the last not repeated
    rows = [[i, float(i)] for i in range(41)]  # step 2: the slice ends on the last row already
    assert thin(rows) == rows[::2] and thin(rows).count(rows[-1]) == 1
    rows = [[i, float(i)] for i in range(42)]  # step 2: the slice stops one short, the last is added
    assert thin(rows) == [*rows[::2], rows[-1]]


def test_the_first_frame_runs_before_the_clock_starts():
    # MediaPipe's first inference is far slower than the others: it must not be in the timed run
    from realtime.bench.latency import WARMUP_FRAMES, _Warmed

    class Source(list):
        fps = 30.0

    seen: list[int] = []
    src = _Warmed(Source(range(5)), lambda: seen.append(len(got)))
    got = []
    for frame in src:
        got.append(frame)
    assert got == [0, 1, 2, 3, 4] and seen == [WARMUP_FRAMES] == [1]
    assert src.fps == 30.0  # the rest passes through to the source
    assert list(_Warmed([], lambda: seen.append(-1))) == [] and seen == [1]


def test_shiftgcn_bench_json_names_the_machine_threads_and_load(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("torch")
    script = Path(__file__).resolve().parents[2] / "scripts" / "bench_shiftgcn.py"
    out = tmp_path / "r.json"
    subprocess.run([sys.executable, str(script), "--skip-samples", "--skip-timing", "--out", str(out)], check=True)
    doc = json.loads(out.read_text())
    m = doc["machine"]
    assert m["cpu"] and m["cores"] >= 1 and len(m["loadavg_start"]) == len(m["loadavg_end"]) == 3
    assert doc["threads"] == {"torch": 1, "onnxruntime": 1}
