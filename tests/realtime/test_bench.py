"""``sadvae bench latency``: recognizer timing, a replay pipeline run, the JSON document, compare, plot and the CLI."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("zmq")

from sadvae_tests_helpers import FakeText  # noqa: E402

from realtime.backends.live_model import onnx_cache_path  # noqa: E402
from realtime.bench.latency import (  # noqa: E402
    FORMAT,
    STAGE_NAMES,
    BenchOptions,
    bench_pipeline,
    bench_recognizer,
    bench_windows,
    load_result,
    machine_info,
    run_bench,
    write_json,
)
from realtime.bench.report import compare, format_result, plot  # noqa: E402
from realtime.head.zero_shot import HeadOptions  # noqa: E402
from realtime.sources.replay import save_recording  # noqa: E402
from sadvae.errors import ConfigError, DataFormatError  # noqa: E402
from sadvae.export import file_sha256  # noqa: E402
from sadvae.paths import PROJECT_ROOT  # noqa: E402

FAST = dict(
    backends=("onnxruntime", "torch", "tensorrt"), batches=(1, 2), persons=(1, 2, 3), iters=3, warmup=1, threads=1
)
ROW_KEYS = {
    "backend",
    "device",
    "precision",
    "batch",
    "persons",
    "iters",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "mean_ms",
    "windows_per_s",
    "cpu_ms",
    "window",
}
STAGE_KEYS = {"calls", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "per_frame_ms"}


@pytest.fixture(scope="module")
def model(bundle_fixtures, tmp_path_factory) -> tuple[Path, Path]:
    """(tiny bundle, ONNX cache dir already holding its export): no export happens in these tests."""
    bundle, report = bundle_fixtures.tiny_model(tmp_path_factory.getbasetemp())
    cache = tmp_path_factory.mktemp("onnx_cache")
    shutil.copy(report.path, onnx_cache_path(file_sha256(bundle), cache))
    return bundle, cache


@pytest.fixture
def replay_file(tmp_path: Path) -> Path:
    """A synthetic recording: two people swinging their arms, 64 frames at 30 fps."""
    rng = np.random.default_rng(0)
    body = rng.normal(scale=0.25, size=(25, 3)).astype(np.float32)
    t = np.arange(64) / 30.0
    joints = np.zeros((64, 2, 25, 3), np.float32)
    for m, x in enumerate((-0.6, 0.6)):
        joints[:, m] = body + np.array([x, 0.0, 3.0], np.float32)
        joints[:, m, 4:12, 1] += 0.2 * np.sin(2 * np.pi * (m + 1) * t)[:, None]
    return save_recording(tmp_path / "two_people.npz", joints, t)


def pipeline_kw(tmp_path: Path, cache: Path) -> dict:
    head = HeadOptions(samples_per_class=32, steps=20, cache_dir=str(tmp_path / "heads"))
    return dict(cache_dir=cache, text_encoder=FakeText(), head=head)


def test_bench_windows_fill_the_present_persons_and_zero_the_rest():
    x = bench_windows(3, 1, (3, 8, 25, 2))
    assert x.shape == (3, 3, 8, 25, 2) and x.dtype == np.float32
    assert np.abs(x[..., 0]).sum() > 0 and not x[..., 1].any()
    with pytest.raises(ConfigError, match="persons must be 1..2"):
        bench_windows(1, 3, (3, 8, 25, 2))


def test_options_reject_unknown_backends_and_bad_sizes():
    with pytest.raises(ConfigError, match="unknown or no backend"):
        BenchOptions(backends=("onnxruntime", "tflite"))
    with pytest.raises(ConfigError, match="batches must be integers >= 1"):
        BenchOptions(batches=(0,))
    assert BenchOptions(backends=("ort", "pytorch", "onnx")).backends == ("onnxruntime", "torch")
    with pytest.raises(ConfigError, match=r"bench: --iters must be >= 1 \(got 0\); --frames must be >= 1 \(got -1\)$"):
        BenchOptions(iters=0, frames=-1)
    with pytest.raises(ConfigError, match=r"--num-poses must be >= 1 \(got 0\)"):
        BenchOptions(num_poses=0)


def test_cli_video_and_replay_take_their_own_kind_of_file(tmp_path, capsys):
    # the pipeline picks its source by suffix: a skeleton file given as --video was timed without pose, silently
    from sadvae.cli import main

    skel, video = tmp_path / "a.skeleton", tmp_path / "a.mp4"
    skel.write_text("0\n")
    video.write_bytes(b"")
    assert main(["bench", "latency", "--no-recognizer", "--video", str(skel)]) == 2
    assert "an NTU skeleton file (it goes to --replay), not a video" in capsys.readouterr().err
    assert main(["bench", "latency", "--no-recognizer", "--replay", str(video)]) == 2
    assert "not a skeleton file" in capsys.readouterr().err


def test_recognizer_times_each_case_and_skips_what_cannot_run(model):
    bundle, cache = model
    rec = bench_recognizer(bundle, BenchOptions(**FAST), cache)
    cases = {(r["backend"], r["batch"], r["persons"]) for r in rec["results"]}
    assert cases == {(b, n, p) for b in ("onnxruntime", "torch") for n in (1, 2) for p in (1, 2)}
    for r in rec["results"]:
        assert set(r) == ROW_KEYS and r["iters"] == 3 and r["window"] == [3, 32, 25, 2]
        assert r["cpu_ms"] > 0  # the process's CPU time per call
        assert 0 < r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"] and r["windows_per_s"] > 0
    skipped = {(s["backend"], s["persons"]): s["reason"] for s in rec["skipped"]}
    assert "no TensorRT plan given" in skipped[("tensorrt", None)]
    assert "M=2" in skipped[("onnxruntime", 3)] and "M=2" in skipped[("torch", 3)]
    (agree,) = rec["agreement"]  # torch against onnxruntime (the first), on the same 64 windows
    assert (agree["backend"], agree["reference"], agree["windows"]) == ("torch", "onnxruntime", 64)
    assert agree["top1_agreement"] == 1.0 and max(agree["max_abs"].values()) < 1e-3


def test_an_export_of_the_bundle_is_timed_with_onnx_and_an_export_as_model_says_so(model, tmp_path):
    """`--onnx EXPORT` times a user's own export (an INT8 one from calibration/, say) under onnxruntime; until 7
    December 2026 only the bundle's own export could be timed, and an export given as --model was refused with
    "pass the .pt bundle" alone (the edge audit)."""
    bundle, cache = model
    export = shutil.copy(onnx_cache_path(file_sha256(bundle), cache), tmp_path / "mine.onnx")
    rec = bench_recognizer(bundle, BenchOptions(backends=("onnxruntime",), onnx=str(export), iters=1, warmup=0), cache)
    assert rec["backends"]["onnxruntime"]["file"] == str(export) and rec["results"]
    with pytest.raises(ConfigError, match=r"--onnx .*mine\.onnx is timed by the onnxruntime backend; add it"):
        BenchOptions(backends=("torch",), onnx=str(export))
    with pytest.raises(ConfigError) as info:
        run_bench(export, BenchOptions(backends=("onnxruntime",), iters=1, warmup=0))
    assert str(info.value) == (
        f"--model {export}: is an ONNX export; pass the bundle it was exported from with --model and time the "
        f"export with --onnx {export}"
    )


def test_agreement_counts_changed_decisions() -> None:
    from realtime.bench.latency import agreement

    ref = {"latent": np.zeros((4, 2)), "seen_logits": np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])}
    got = {"latent": np.full((4, 2), 0.5), "seen_logits": ref["seen_logits"].copy()}
    got["seen_logits"][0] = [0.4, 0.6]  # one decision flips
    a = agreement("tensorrt", got, "onnxruntime", ref)
    assert a["top1_agreement"] == 0.75 and a["max_abs"] == {"latent": 0.5, "seen_logits": 0.6}


def test_tensorrt_that_cannot_run_is_skipped_with_its_reason_not_a_crash(model, tmp_path):
    """A TensorRT row that cannot run (TensorRT not installed, as on CI, or a plan that cannot load) is a skipped
    row naming why; the other backends' rows are unaffected."""
    bundle, cache = model
    plan = tmp_path / "model.plan"
    plan.write_bytes(b"not a plan")
    opts = BenchOptions(backends=("tensorrt",), engine=str(plan), iters=1, warmup=0)
    rec = bench_recognizer(bundle, opts, cache)
    assert rec["results"] == [] and len(rec["skipped"]) == 1
    (skipped,) = rec["skipped"]
    assert skipped["backend"] == "tensorrt"
    if not any(importlib.util.find_spec(lib) for lib in ("tensorrt", "tensorrt_rtx")):
        assert "tensorrt is not installed" in skipped["reason"]
    else:  # a TensorRT library is there (CI installs TensorRT-RTX): the plan is read and refused by name
        assert "model.plan" in skipped["reason"] and "manifest" in skipped["reason"], skipped["reason"]


def test_replay_pipeline_reports_every_stage_it_ran(model, replay_file, tmp_path):
    bundle, cache = model
    opts = BenchOptions(backends=("onnxruntime",), source=str(replay_file), frames=96, stride=8, threads=1)
    out = bench_pipeline(bundle, opts, **pipeline_kw(tmp_path, cache))
    (run,) = out["runs"]
    assert run["kind"] == "replay" and run["frames"] == 96 and run["fps"] > 0
    assert run["warmup_frames"] == 1 and run["stages"]["total"]["calls"] == 96  # the untimed first frame left out
    assert run["windows"] >= 2 and run["mean_batch"] == pytest.approx(2.0)  # two people in view: two tracks
    assert {"capture", "mapping", "tracking", "buffer", "window", "inference", "head", "decide", "total"} <= set(
        run["stages"]
    )
    assert "pose" not in run["stages"]  # a replay carries NTU-25 joints: no pose stage
    assert all(set(s) == STAGE_KEYS for s in run["stages"].values())
    assert set(run["stages"]) <= set(STAGE_NAMES.values())
    # a run too short for a window says its fps has no recognition in it (a benchmark audit, 7 December 2026)
    short = bench_pipeline(bundle, replace(opts, frames=20), **pipeline_kw(tmp_path, cache))
    assert short["runs"][0]["windows"] == 0
    from realtime.bench.report import _pipeline_table

    assert any("no window was scored" in line for line in _pipeline_table(short))
    assert not any("no window was scored" in line for line in _pipeline_table(out))


def test_document_round_trips_and_compares_side_by_side(model, replay_file, tmp_path):
    pytest.importorskip("matplotlib")
    bundle, cache = model
    opts = BenchOptions(
        backends=("onnxruntime", "tensorrt"),
        batches=(1,),
        persons=(1,),
        iters=2,
        warmup=0,
        source=str(replay_file),
        frames=72,
        stride=8,
    )
    doc = run_bench(bundle, opts, command="test", **pipeline_kw(tmp_path, cache))
    assert doc["format"] == FORMAT and doc["model"]["persons"] == 2
    m = doc["machine"]
    for key in ("hostname", "cpu", "cores", "ram_gb", "os", "python", "versions", "loadavg_start", "loadavg_end"):
        assert key in m
    assert m["versions"]["onnxruntime"] and "tensorrt" in m["versions"]
    a = write_json(doc, tmp_path / "a.json")
    other = json.loads(a.read_text())
    other["machine"]["hostname"] = "jetson-orin"
    other["recognizer"]["results"][0]["p50_ms"] = 123.0
    b = write_json(other, tmp_path / "b.json")
    assert load_result(a) == json.loads(json.dumps(doc))
    table = compare([a, b], names=["desktop", "jetson"])
    assert "desktop" in table and "jetson" in table and "jetson-orin" in table and "123.00" in table
    assert "onnxruntime / 1 / 1" in table and "onnxruntime / inference" in table
    text = format_result(doc)
    assert "skipped tensorrt" in text and "pipeline (onnxruntime, replay" in text
    png = plot([a, b], tmp_path / "plots" / "bench.png")
    assert png is not None and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["bench.png"]  # no temporary left behind


def test_load_result_names_the_problem(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something-else"}')
    with pytest.raises(DataFormatError, match="expected 'sadvae-bench'"):
        load_result(bad)
    bad.write_text("not json")
    with pytest.raises(DataFormatError, match="could not read it"):
        load_result(bad)


def test_machine_info_needs_no_heavy_imports():
    info = machine_info()
    assert info["cores"] >= 1 and info["python"] and isinstance(info["loadavg_start"], list)
    # any OpenCV build is found (a benchmark audit of 7 December 2026, late: null beside opencv-contrib-python)
    if importlib.util.find_spec("cv2") is not None:
        assert info["versions"]["opencv-python"] is not None
    # this process has imported torch and onnxruntime already: a fresh one says what machine_info itself imports
    code = (
        "import sys; import realtime.bench.machine as m; m.machine_info(); "
        "print(sorted({'torch', 'onnxruntime', 'tensorrt', 'cv2', 'mediapipe'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_bench_outputs_that_cannot_be_written_are_refused_before_the_timing(tmp_path, monkeypatch, capsys):
    """Review of 6 December 2026, late: a bad --out or --plot was a traceback after minutes of timing."""
    import realtime.bench.latency as latency
    from sadvae.cli import main

    monkeypatch.setattr(latency, "run_bench", lambda *a, **k: pytest.fail("timed before --out was checked"))
    (tmp_path / "afile").write_text("")
    for flag, path, problem in (
        ("--out", tmp_path / "afile" / "r.json", "is a file, not a folder"),
        ("--out", tmp_path, "is a folder"),
        ("--plot", tmp_path / "afile" / "p.png", "is a file, not a folder"),
    ):
        assert main(["bench", "latency", "--iters", "1", "--warmup", "0", flag, str(path)]) == 2
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        assert len(err) == 1 and err[0].startswith(f"sadvae: error: {flag} {path}: ") and problem in err[0], err
    # a benchmark audit of 7 December 2026, late: the inputs were found missing only after the recogniser's timing,
    # and --out replaced any file (a labels file, once)
    (tmp_path / "labels.txt").write_text("walk\nsit down\n")
    skeleton = tmp_path / "a.skeleton"
    skeleton.write_text("")
    for argv, message in (
        (["--video", str(tmp_path / "no.mp4")], f"--video {tmp_path / 'no.mp4'}: not found"),
        (["--replay", str(tmp_path / "no.skeleton")], f"--replay {tmp_path / 'no.skeleton'}: not found"),
        (["--onnx", str(tmp_path / "no.onnx")], f"--onnx {tmp_path / 'no.onnx'}: not found"),
        (["--replay", str(skeleton), "--labels", str(tmp_path / "no.txt")], "labels file not found"),
        (["--out", str(tmp_path / "labels.txt")], "exists and is no sadvae bench result; choose another file"),
        (["--video", str(tmp_path / "labels.txt")], "a text file (a labels file goes to --labels), not a video"),
        (["--threads", "-1"], "--threads must be >= 0"),
        (["--replay", str(skeleton), "--pose-model", "p.task", "--pose-variant", "lite"], "--pose-model gives the"),
    ):
        assert main(["bench", "latency", "--iters", "1", "--warmup", "0", *argv]) == 2
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        assert len(err) == 1 and message in err[0], err
    assert (tmp_path / "labels.txt").read_text() == "walk\nsit down\n"


def test_cli_bench_and_compare(model, tmp_path, monkeypatch, capsys):
    from sadvae.cli import main

    bundle, cache = model
    monkeypatch.setenv("SADVAE_CACHE_DIR", str(cache.parent))
    shutil.copytree(cache, cache.parent / "onnx", dirs_exist_ok=True)
    out = tmp_path / "r.json"
    argv = ["bench", "latency", "--model", str(bundle), "--backend", "onnxruntime", "tensorrt", "--batch", "1"]
    argv += ["--persons", "1", "--iters", "2", "--warmup", "0", "--threads", "1", "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "onnxruntime  cpu    fp32      1       1" in text and "skipped tensorrt" in text
    assert load_result(out)["recognizer"]["results"][0]["batch"] == 1
    assert main(["bench", "compare", str(out), str(out)]) == 0
    assert "recognizer, ms per call: p50 (p99)" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    assert main(["bench", "compare", str(bad)]) == 2
    assert "expected 'sadvae-bench'" in capsys.readouterr().err
    # a result edited into another shape, and a plot path that is a folder: one error each, not a traceback from
    # inside compare (a review of 7 December 2026)
    doc = json.loads(out.read_text())
    shapes = {
        "recognizer": ("x", "recognizer: 'x' is not of type 'object', 'null'"),
        "results": (["x"], "recognizer.results[0]: 'x' is not of type 'object'"),
        "p50": (
            [{k: v for k, v in doc["recognizer"]["results"][0].items() if k != "p50_ms"}],
            "'p50_ms' is a required",
        ),
        "pipeline": ([1], "pipeline: [1] is not of type 'object', 'null'"),
    }
    for name, (value, message) in shapes.items():
        edited = dict(doc)
        if name in ("results", "p50"):
            edited["recognizer"] = {**doc["recognizer"], "results": value}
        else:
            edited[name] = value
        bad.write_text(json.dumps(edited))
        assert main(["bench", "compare", str(out), str(bad)]) == 2
        err = capsys.readouterr().err
        assert f"{bad}:" in err and message in err and "Traceback" not in err, err
    assert main(["bench", "compare", str(out), "--plot", str(tmp_path)]) == 2
    assert f"--plot {tmp_path}: {tmp_path} is a folder" in capsys.readouterr().err


def test_a_latency_run_that_measured_nothing_is_an_error_not_an_empty_result(model, tmp_path, monkeypatch, capsys):
    """A review of 7 December 2026: every case skipped (here TensorRT without a plan) wrote `results: []`, exit 0."""
    from sadvae.cli import main

    bundle, cache = model
    monkeypatch.setenv("SADVAE_CACHE_DIR", str(cache.parent))
    out = tmp_path / "r.json"
    argv = ["bench", "latency", "--model", str(bundle), "--backend", "tensorrt", "--iters", "2", "--out", str(out)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert (
        "skipped tensorrt" in captured.out and "nothing was measured: every case asked for was skipped" in captured.err
    )
    assert not out.exists()
