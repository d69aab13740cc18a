"""Input sources that fail or mislead (a review of 6 December 2026; each test fails without its fix): streams that
are recordings, container times, truncated files, reader-thread errors, credentials, closing during a read,
reconnects that deliver nothing, the stride against a video's length, a wrong declared frame rate, pose flags on
skeleton sources."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from sadvae_tests_helpers import free_endpoint

from realtime.sources.capture import CameraSource, ReconnectPolicy, SourceStatus, StreamSource, redact_url
from realtime.sources.clock import ContainerClock, measured_fps
from realtime.sources.video import VideoSource
from sadvae.errors import SourceError

cv2 = pytest.importorskip("cv2")
ROOT = Path(__file__).resolve().parents[2]


def write_video(path: Path, n: int, fps: float = 25.0, noise: bool = False) -> Path:
    """An MJPG .avi of ``n`` 64x48 frames (random pixels with ``noise``, so that every frame has a size)."""
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (64, 48))
    assert out.isOpened()
    rng = np.random.default_rng(0)
    for k in range(n):
        image = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) if noise else np.full((48, 64, 3), k, np.uint8)
        out.write(image)
    out.release()
    return path


class Capture:
    """A fake capture: ``frames`` frames (None: endless) with container times ``times`` (ms), then failed reads.

    Args:
        frames: frames it delivers; declared: its CAP_PROP_FRAME_COUNT (0: a live stream); fps: CAP_PROP_FPS;
        times: CAP_PROP_POS_MSEC of each frame read; opened: isOpened(); stall_s: how long the reads after the
        first one take; fail: an exception the read raises after ``frames`` frames instead of failing.
    """

    def __init__(
        self,
        frames: int | None = None,
        *,
        declared: float = 0.0,
        fps: float = 30.0,
        times: list[float] | None = None,
        opened: bool = True,
        stall_s: float = 0.0,
        fail: Exception | None = None,
    ) -> None:
        self.frames, self.declared, self.fps, self.times = frames, declared, fps, times
        self.opened, self.stall_s, self.fail = opened, stall_s, fail
        self.k, self.released = 0, False

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return self.opened and not self.released

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.k >= 1 and self.stall_s:
            time.sleep(self.stall_s)
        if self.frames is not None and self.k >= self.frames:
            if self.fail is not None:
                raise self.fail
            return False, None
        self.k += 1
        return True, np.zeros((4, 4, 3), np.uint8)

    def get(self, prop: int) -> float:
        if prop == cv2.CAP_PROP_FPS:
            return self.fps
        if prop == cv2.CAP_PROP_FRAME_COUNT:
            return self.declared
        if prop == cv2.CAP_PROP_POS_MSEC and self.times is not None:
            return self.times[max(self.k - 1, 0)]
        return 0.0

    def set(self, prop: int, value: float) -> bool:
        return True

    def release(self) -> None:
        self.released = True


@pytest.fixture
def thread_errors(monkeypatch) -> list:
    """Exceptions that escape a thread (threading.excepthook)."""
    seen: list = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_value))
    return seen


def _run_main(argv: list[str]) -> int:
    from realtime.cli import main

    try:
        return main(argv)
    except SystemExit as e:  # argparse errors
        return int(e.code)


@pytest.fixture
def labels(tmp_path: Path) -> Path:
    p = tmp_path / "labels.txt"
    p.write_text("walk\njump\n", encoding="utf-8")
    return p


# ------------------------------------------------------------------ 1. --stream on a recording


def test_cli_refuses_a_local_file_as_stream(tmp_path: Path, labels: Path, capsys) -> None:
    video = write_video(tmp_path / "clip.avi", 5)
    for value in (str(video), f"file://{video}"):
        assert _run_main(["--stream", value, "--labels", str(labels)]) == 2
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        assert err == [f"sadvae-live: error: --stream {value}: a local file, not a stream; use --video {video}"]


def test_a_recording_read_as_a_stream_is_timed_by_its_container_and_ends(tmp_path: Path, caplog) -> None:
    """Before: every frame timed by the wall clock at read time, nearly all dropped (decoded faster than real time),
    the end of the file taken for a drop and the file played again, forever."""
    path = write_video(tmp_path / "rec.avi", 10, fps=25.0)
    statuses: list[SourceStatus] = []
    t0 = time.monotonic()
    with caplog.at_level(logging.WARNING, "realtime.sources.capture"):
        src = StreamSource(str(path), on_status=statuses.append, reconnect=ReconnectPolicy(initial_delay_s=0.01))
        with src:
            frames = list(src)
    elapsed = time.monotonic() - t0
    assert not src.live and src.declared_frames == 10
    assert [f.index for f in frames] == list(range(10))  # none dropped: delivered at the recording's pace
    assert [f.timestamp_ms for f in frames] == [40 * k for k in range(10)]  # the container's times
    assert statuses == []  # its end is the end: no drop, no reconnect
    assert 0.3 <= elapsed < 5.0  # paced: 10 frames at 25 fps take 0.36 s
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "is a recording, not a live stream (it declares 10 frames)" in warnings[0]


def test_a_recording_stream_ending_early_says_so(caplog) -> None:
    times = [1000.0 / 30 * k for k in range(5)]
    with caplog.at_level(logging.WARNING, "realtime.sources.capture"):
        src = StreamSource("http://h/vod.mp4", capture_factory=lambda u: Capture(5, declared=100, times=times))
        with src:
            assert [f.timestamp_ms for f in src] == [0, 33, 67, 100, 133]
    assert "decoded 5 of 100 frames the recording declares" in caplog.text
    # one that opens and gives no frame at all (an MP4 from a server without range requests) is an error
    src = StreamSource("http://h/vod.mp4", capture_factory=lambda u: Capture(0, declared=100))
    with pytest.raises(SourceError, match=r"^stream http://h/vod\.mp4: opened, but no frame could be decoded"):
        list(src)


# ------------------------------------------------------------------ 2. one bad container time


def test_video_follows_the_container_again_after_a_bad_time(tmp_path: Path) -> None:
    """10 frames at 30 fps, a 12 s hole (a motion-triggered recording), 10 frames at 10 fps: before, every frame
    after the hole was timed at the nominal 33 ms; now only the frame after the hole is."""
    path = tmp_path / "x.mp4"
    path.write_bytes(b"x")
    times = [k * 1000 / 30 for k in range(10)] + [12_300 + k * 100 for k in range(10)]
    with VideoSource(path, capture_factory=lambda p: Capture(20, fps=30.0, times=times)) as src:
        ts = [f.timestamp_ms for f in src]
    assert ts[8:14] == [267, 300, 333, 433, 533, 633]
    assert ts[-1] == 1233
    # a backward reset (two files joined): the second part keeps its own 40 ms steps
    times = [0.0, 40.0, 80.0, 0.0, 40.0, 80.0]
    with VideoSource(path, capture_factory=lambda p: Capture(6, fps=20.0, times=times)) as src:
        assert [f.timestamp_ms for f in src] == [0, 40, 80, 130, 170, 210]


def test_container_clock_cases() -> None:
    clock = ContainerClock(40.0)
    assert [clock.tick(t) for t in (5.0, None, 85.0, 85.0, float("nan"), 205.0)] == [0, 40, 80, 120, 160, 200]
    clock.new_pass()
    assert [clock.tick(t) for t in (0.0, 20.0)] == [240, 260]
    assert measured_fps([0.0, 33.0, 67.0, 100.0, 133.0]) == pytest.approx(30.3, abs=0.1)
    assert measured_fps([0.0, 33.0, None, 67.0]) is None  # too few steps to tell


# ------------------------------------------------------------------ 3. truncated files, runs without a window


def test_a_truncated_video_warns(tmp_path: Path, caplog) -> None:
    path = write_video(tmp_path / "t.avi", 40, noise=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 4 // 10])
    with caplog.at_level(logging.WARNING, "realtime.sources.video"), VideoSource(path) as src:
        assert src.frame_count == 40
        n = len(list(src))
    assert 0 < n < 30
    assert f"decoded {n} of 40 frames the container declares (truncated or corrupt)" in caplog.text
    caplog.clear()
    with (
        caplog.at_level(logging.WARNING, "realtime.sources.video"),
        VideoSource(write_video(tmp_path / "w.avi", 40)) as whole,
    ):
        assert len(list(whole)) == 40
    assert "declares" not in caplog.text  # a whole file: no word


def _pipeline(frames: int, windows: int = 0, next_id: int = 0, min_window: int | None = 64):
    from realtime.decisions import DecisionOptions

    return SimpleNamespace(
        frames=frames,
        windows=windows,
        model=SimpleNamespace(preprocess=SimpleNamespace(window=96, fps=30.0)),
        opts=SimpleNamespace(min_window_frames=min_window, decisions=DecisionOptions()),
        _tracker=SimpleNamespace(_next_id=next_id),
        starts=0,
        best_window=None,
    )


def test_a_run_without_a_window_says_why() -> None:
    from realtime.cli import _no_window_hint

    src = SimpleNamespace(fps=30.0)
    hint = _no_window_hint(_pipeline(27), src, "end", False)
    assert hint == (
        "sadvae-live: no window was scored: the run read 27 frames (0.9 s), and a person must be tracked for 2.1 s "
        "(--min-window-frames 64 at 30 fps) before the first window; use a longer clip or lower --min-window-frames"
    )
    hint = _no_window_hint(_pipeline(30, min_window=None), src, "max_frames", False)
    assert "(the model's window of 96 frames at 30 fps)" in hint and "; raise --max-frames" in hint
    nobody = _no_window_hint(_pipeline(300), src, "end", False)
    assert "no person was tracked in them (pose estimation found nobody" in nobody and "--no-roi" not in nobody
    # without the crops, say so: they find small people (a pose audit of 7 December 2026, late)
    pipe = _pipeline(300)
    pipe.opts.pose = SimpleNamespace(roi=SimpleNamespace(enabled=False))
    assert _no_window_hint(pipe, src, "end", False).endswith("97 % with, docs/small_figures.md): drop it")
    assert "no person stayed tracked for the 2.1 s" in _no_window_hint(_pipeline(300, next_id=2), src, "end", False)
    assert _no_window_hint(_pipeline(300, windows=3), src, "end", False) is None
    assert _no_window_hint(_pipeline(300), src, "sigint", False) is None


def test_a_short_replay_ends_with_the_reason_for_no_window(tmp_path: Path, labels: Path, capsys) -> None:
    """Before: 'stopped (end) after 20 frames, 0 windows' and nothing else."""
    pytest.importorskip("onnxruntime")
    from realtime.sources.demo import perform
    from realtime.sources.replay import save_recording

    joints, times, _ = perform((("walk", 20 / 30),), noise_m=0.0)
    rec = save_recording(tmp_path / "short.npz", joints, times)
    argv = ["--replay", str(rec), "--labels", str(labels), "--endpoint", free_endpoint()]
    assert _run_main(argv) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "sadvae-live: stopped (end) after 20 frames, 0 windows"
    assert err[-2].startswith("sadvae-live: no window was scored: the run read 20 frames (0.7 s), and a person")


# ------------------------------------------------------------------ 4. an error in the reader thread


def test_a_reader_thread_error_is_one_source_error(thread_errors: list) -> None:
    """Before: a thread traceback on stderr, then the iteration ended as if the camera had (exit status 0)."""
    caps: list[Capture] = []

    def factory(i: int) -> Capture:
        caps.append(Capture(3, fail=cv2.error("simulated driver failure\nin read()")))
        return caps[-1]

    src = CameraSource(0, capture_factory=factory, queue_size=16)
    frames = []
    with pytest.raises(SourceError) as err:
        for f in src:
            frames.append(f)
    assert str(err.value) == "camera 0 failed while reading: cv2.error: simulated driver failure in read()"
    assert len(frames) == 3 and thread_errors == []
    assert caps[0].released
    src.close()


# ------------------------------------------------------------------ 5. credentials


def test_stream_credentials_never_reach_errors_logs_or_statuses(caplog) -> None:
    statuses: list[SourceStatus] = []
    caps = iter([Capture(3)])
    policy = ReconnectPolicy(initial_delay_s=0.01, max_attempts=1)
    url = "rtsp://u:p@h/x"
    with caplog.at_level(logging.DEBUG, "realtime.sources"):
        src = StreamSource(
            url,
            capture_factory=lambda u: next(caps, Capture(opened=False)),
            reconnect=policy,
            on_status=statuses.append,
        )
        with pytest.raises(SourceError) as lost:
            list(src)
        with pytest.raises(SourceError) as unopened:
            StreamSource(url, capture_factory=lambda u: Capture(opened=False))
        StreamSource(url, capture_factory=lambda u: Capture(3, declared=3)).close()  # the recording warning
    assert [s.state for s in statuses] == ["disconnected", "reconnecting", "gave_up"]
    texts = [s.message for s in statuses] + [str(lost.value), str(unopened.value), caplog.text]
    assert all("u:p@" not in t and ":p@" not in t for t in texts), texts
    assert statuses[0].message == "stream rtsp://***@h/x dropped"
    assert str(unopened.value).startswith("cannot open stream rtsp://***@h/x: unreachable")
    assert "stream rtsp://***@h/x is a recording" in caplog.text
    assert src.name == "h_x"  # host and path: two streams of one recorder get two topics
    named = (
        StreamSource(u, capture_factory=lambda u: Capture(3)) for u in ("rtsp://h:554/cam1?token=s3cret", "http://h/")
    )
    assert [(s.name, s.close())[0] for s in named] == ["h_554_cam1", "h"]  # never the query


def test_redact_url() -> None:
    assert redact_url("rtsp://admin:s3cret@10.0.0.2:554/live") == "rtsp://***@10.0.0.2:554/live"
    assert redact_url("rtsp://admin:p@ss@cam/live") == "rtsp://***@cam/live"  # an unescaped @ in the password
    assert redact_url("http://cam/live?user=a&password=b&x=1") == "http://cam/live?user=a&password=***&x=1"
    assert redact_url("rtsp://cam/live/a@b") == "rtsp://cam/live/a@b"  # an @ in the path is no user-info
    assert redact_url("rtsp://cam/live") == "rtsp://cam/live"


# ------------------------------------------------------------------ 7. close() during a read


def test_close_during_a_stalled_read_releases_the_capture_later(thread_errors: list) -> None:
    """Before: close() gave up waiting, dropped the capture unreleased, and the reader then crashed on None."""
    cap = Capture(1, stall_s=0.6)  # one frame, then a read that stalls and fails (an RTSP read timing out)
    src = StreamSource("rtsp://cam/live", capture_factory=lambda u: cap)
    src.join_timeout_s = 0.05
    it = iter(src)
    next(it)
    time.sleep(0.05)  # the reader is inside its stalled read
    t0 = time.monotonic()
    src.close()
    assert time.monotonic() - t0 < 0.3  # close() waits join_timeout_s, not the whole read (it used to wait 5 s)
    deadline = time.monotonic() + 1.0
    while not cap.released and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cap.released and thread_errors == []
    assert list(it) == []  # the iteration ends


def test_a_reopen_that_finishes_after_close_is_released(thread_errors: list) -> None:
    opened: list[Capture] = []
    closing = threading.Event()

    def factory(u: str) -> Capture:
        if opened:  # the reopen: slow, and close() comes while it runs
            closing.set()
            time.sleep(0.5)
        opened.append(Capture(0 if not opened else None))
        return opened[-1]

    src = StreamSource("rtsp://cam/live", capture_factory=factory, reconnect=ReconnectPolicy(initial_delay_s=0.01))
    src.join_timeout_s = 0.05
    reader = threading.Thread(target=lambda: list(src), daemon=True)
    reader.start()
    assert closing.wait(2.0)
    t0 = time.monotonic()
    src.close()
    assert time.monotonic() - t0 < 0.3  # the reopen outlasts close()
    deadline = time.monotonic() + 1.0
    while not (len(opened) == 2 and opened[1].released) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(opened) == 2 and all(c.released for c in opened) and thread_errors == []
    reader.join(1.0)
    assert not reader.is_alive()


# ------------------------------------------------------------------ 8. a stream that opens and delivers nothing


def test_a_stream_that_opens_but_delivers_nothing_gives_up() -> None:
    """Before: every successful open reset the attempts: endless reconnects, ~6 status events a second."""
    statuses: list[SourceStatus] = []
    policy = ReconnectPolicy(initial_delay_s=0.01, max_attempts=2)
    src = StreamSource(
        "rtsp://cam/live", capture_factory=lambda u: Capture(0), reconnect=policy, on_status=statuses.append
    )
    t0 = time.monotonic()
    with pytest.raises(SourceError, match="gave up after 2 reconnect attempts"):
        list(src)
    assert time.monotonic() - t0 < 1.0
    assert [(s.state, s.attempt) for s in statuses] == [
        ("disconnected", 0),
        ("reconnecting", 1),
        ("reconnected", 1),
        ("reconnecting", 2),  # counted on: no frame came after the first reopen
        ("reconnected", 2),
        ("gave_up", 2),
    ]
    assert [s.delay_s for s in statuses if s.state == "reconnecting"] == [0.01, 0.02]  # and the delay grows


def test_a_frame_after_a_reopen_resets_the_attempts() -> None:
    caps = iter([Capture(2), Capture(2), Capture(2), Capture(2)])
    statuses: list[SourceStatus] = []
    policy = ReconnectPolicy(initial_delay_s=0.01, max_attempts=1)
    src = CameraSource(
        0,
        capture_factory=lambda i: next(caps, Capture(opened=False)),
        reconnect=policy,
        on_status=statuses.append,
        queue_size=16,
    )
    with pytest.raises(SourceError):
        list(src)
    assert [s.attempt for s in statuses if s.state == "reconnecting"] == [1, 1, 1, 1]


# ------------------------------------------------------------------ 9. --stride against a video's length


def test_stride_longer_than_a_video_is_refused(tmp_path: Path, labels: Path, capsys) -> None:
    """Before: the check read num_frames, which only replays have; the run scored 0 windows with status 0."""
    pytest.importorskip("onnxruntime")
    video = write_video(tmp_path / "short45.avi", 45, fps=30.0)
    argv = ["--video", str(video), "--labels", str(labels), "--stride", "50", "--endpoint", free_endpoint()]
    assert _run_main(argv) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("sadvae-live: error: --stride 50: the source has only 45 frames")


def test_stride_check_reads_a_video_frame_count() -> None:
    from realtime.cli import _check_stride
    from realtime.decisions import DecisionOptions
    from sadvae.errors import ConfigError

    args = SimpleNamespace(stride=50, loop=False, max_frames=None)
    opts = SimpleNamespace(decisions=DecisionOptions())
    model = SimpleNamespace(
        preprocess=SimpleNamespace(window=96, fps=30.0), bundle=SimpleNamespace(live=SimpleNamespace(stride=24))
    )
    with pytest.raises(ConfigError, match="has only 45 frames"):
        _check_stride(args, opts, model, SimpleNamespace(fps=30.0, frame_count=45))
    _check_stride(args, opts, model, SimpleNamespace(fps=30.0, frame_count=0))  # a length it does not declare


# ------------------------------------------------------------------ 10. a wrong declared frame rate


def test_a_wrong_declared_frame_rate_is_measured(tmp_path: Path, caplog) -> None:
    """Browser (MediaRecorder) WebM files declare 1000 fps: the default stride became 800 frames."""
    path = tmp_path / "x.webm"
    path.write_bytes(b"x")
    times = [k * 33.0 for k in range(30)]
    with caplog.at_level(logging.WARNING, "realtime.sources.video"):
        src = VideoSource(path, capture_factory=lambda p: Capture(30, fps=1000.0, declared=30000, times=times))
    assert src.fps == pytest.approx(30.3, abs=0.1)
    assert "declares 1000 fps but its frames are 33 ms apart (30.3 fps); using 30.3 fps" in caplog.text
    frames = list(src)
    assert len(frames) == 30 and frames[0].index == 0  # read from its first frame after the measurement
    assert "decoded" not in caplog.text  # its declared length is as wrong as its rate: no truncation warning
    with VideoSource(path, capture_factory=lambda p: Capture(30, fps=0.0, times=times)) as src:  # no rate at all
        assert src.fps == pytest.approx(30.3, abs=0.1)
    with VideoSource(path, capture_factory=lambda p: Capture(30, fps=25.0, times=times)) as src:  # close enough
        assert src.fps == 25.0


# ------------------------------------------------------------------ pose flags with skeleton sources


@pytest.mark.parametrize(
    "flag",
    [
        ["--mirror"],
        ["--num-poses", "2"],
        ["--no-roi"],
        # review of 6 December 2026, late: these three were ignored without a word
        ["--pose-model", "x.task"],
        ["--pose-variant", "lite"],
        ["--xy-source", "world"],
    ],
)
def test_pose_flags_are_refused_with_skeleton_sources(flag, labels: Path, capsys) -> None:
    assert _run_main(["--demo", *flag, "--labels", str(labels)]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1
    assert err[0].startswith(f"sadvae-live: error: {flag[0]} sets the pose estimation of video frames")
    assert err[0].endswith(f"drop {flag[0]}")


def test_reconnect_attempts_reach_a_camera_and_a_stream_and_are_refused_elsewhere(labels: Path, capsys, monkeypatch):
    """Review of 6 December 2026: docs/live.md promised a ``source_gave_up`` status and a ``source_lost`` stop, but
    ``sadvae-live`` built every camera and stream with endless retries, so neither could happen."""
    import argparse

    import realtime.sources.capture as capture
    from realtime.cli import _open_source, build_parser

    made = []
    monkeypatch.setattr(capture, "CameraSource", lambda index, reconnect: made.append((index, reconnect)))
    monkeypatch.setattr(capture, "StreamSource", lambda url, reconnect: made.append((url, reconnect)))
    for argv in (["--camera", "0", "--reconnect-attempts", "3"], ["--stream", "rtsp://cam/live"]):
        args = build_parser().parse_args([*argv, "--labels", str(labels)])
        assert isinstance(args, argparse.Namespace)
        _open_source(args)
    assert made == [(0, ReconnectPolicy(max_attempts=3)), ("rtsp://cam/live", ReconnectPolicy(max_attempts=None))]
    assert _run_main(["--demo", "--reconnect-attempts", "2", "--labels", str(labels)]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("sadvae-live: error: --reconnect-attempts sets how often a --camera")
    assert _run_main(["--camera", "0", "--reconnect-attempts", "0", "--labels", str(labels)]) == 2


def test_a_source_lost_mid_run_exits_1_not_the_bad_input_status(labels: Path, capsys, monkeypatch):
    """Review of 6 December 2026, late: a camera given up after --reconnect-attempts exited 2, the status of bad input
    found at start, so a service manager could not tell a lost camera from a wrong flag."""
    import realtime.cli as cli
    from realtime.sources.demo import demo_source

    class Dying:
        name, fps = "cam", 30.0

        def __init__(self) -> None:
            self.inner = demo_source(loop=False, pace=False)

        def __iter__(self):
            for k, frame in enumerate(self.inner):
                if k == 40:
                    raise SourceError("camera 0 lost: gave up after 2 reconnect attempts")
                yield frame

        def close(self) -> None:
            self.inner.close()

    monkeypatch.setattr(cli, "_open_source", lambda args: Dying())
    assert _run_main(["--demo", "--no-realtime", "--labels", str(labels), "--endpoint", "tcp://127.0.0.1:*"]) == 1
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert err[-1] == "sadvae-live: error: camera 0 lost: gave up after 2 reconnect attempts"
