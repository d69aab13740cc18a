"""Faults with real components: a network stream that drops and returns, stalled and vanishing subscribers, a
publisher that restarts, SIGINT / SIGTERM. Real sockets on loopback, real OpenCV/FFmpeg on a real HTTP MJPEG
stream, the real ONNX Runtime backend on the tiny bundle, ``sadvae-live`` as a real subprocess.
"""

from __future__ import annotations

import http.server
import os
import signal
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")
zmq = pytest.importorskip("zmq")
cv2 = pytest.importorskip("cv2")

from sadvae_tests_helpers import free_endpoint, load_by_path  # noqa: E402

from realtime.backends.live_model import load_live_model  # noqa: E402
from realtime.decisions import DecisionOptions  # noqa: E402
from realtime.events.publisher import PublisherOptions, Subscriber, make_status_event, validate  # noqa: E402
from realtime.pipeline import Pipeline, PipelineOptions  # noqa: E402
from realtime.sources.capture import ReconnectPolicy, StreamSource  # noqa: E402
from realtime.sources.replay import ReplaySource, save_recording  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
LIVE = [sys.executable, "-m", "realtime.cli"]
EAGER = DecisionOptions(min_score=0.0, keep_score=0.0, start_score=0.0, start_windows=1)  # every window decides


def load_soak():
    """``scripts/soak.py`` as a module (its synthetic motion generator), loaded once by path."""
    return load_by_path("sadvae_scripts_soak", ROOT / "scripts" / "soak.py")


@pytest.fixture(scope="module")
def recording1(tmp_path_factory) -> Path:
    """One person of synthetic motion, 10 s at 30 fps."""
    joints, times = load_soak().synthetic_motion(frames=300, persons=1)
    return save_recording(tmp_path_factory.mktemp("rec") / "one.npz", joints, times)


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    """Two persons of synthetic motion, 10 s at 30 fps (played in a loop as fast as the pipeline runs)."""
    joints, times = load_soak().synthetic_motion(frames=300, persons=2)
    return save_recording(tmp_path_factory.mktemp("rec") / "two.npz", joints, times)


def options(tmp_path: Path, **kw) -> PipelineOptions:
    base = dict(
        handle_signals=False,
        decisions=EAGER,
        status_interval_s=0.2,
        publisher=PublisherOptions(endpoint="tcp://127.0.0.1:*"),
    )
    base.update(kw)
    return PipelineOptions(**base)


def connect(pipe: Pipeline, **kw) -> Subscriber:
    """A real subscriber on the pipeline's port, probed until its subscription has arrived (slow joiner)."""
    sub = Subscriber(pipe.publisher.endpoint, **kw)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        probe = make_status_event(source=pipe.publisher.source, fps=0.0, latency_ms={}, dropped={}, message="probe")
        pipe.publisher.publish(probe)
        if sub.recv(timeout_ms=50) is not None:
            while sub.recv(timeout_ms=20) is not None:
                pass
            return sub
    raise AssertionError("the subscriber never connected")


def wait_for_threads(baseline: set[threading.Thread], timeout_s: float = 5.0) -> list[str]:
    """Names of threads still alive that were not there at ``baseline`` (after waiting up to ``timeout_s``)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        extra = [t for t in threading.enumerate() if t not in baseline and t.is_alive()]
        if not extra:
            return []
        time.sleep(0.05)
    return [t.name for t in extra]


# ---- a network stream that stops mid-stream and comes back ----------------------------------------------------


class _MJPEGHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        k = 0
        try:
            while not self.server.stopping.is_set():
                ok, jpg = cv2.imencode(".jpg", np.full((48, 64, 3), (10 * k) % 250, np.uint8))
                data = jpg.tobytes()
                head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(data)
                self.wfile.write(head + data + b"\r\n")
                k += 1
                time.sleep(0.01)
        except (BrokenPipeError, ConnectionResetError):
            pass


class MJPEGServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """A real HTTP MJPEG camera (multipart/x-mixed-replace, ~100 frames/s) on a loopback port."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 0):
        super().__init__(("127.0.0.1", port), _MJPEGHandler)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.serve_forever, name="mjpeg-server", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()  # ends the streaming handlers: the client's connection closes mid-stream
        self.shutdown()
        self.server_close()
        self.thread.join(5.0)


class NoPose:
    """The pose stage for the synthetic stream (its frames hold no person): no detections, no MediaPipe."""

    model = None

    def __call__(self, frame) -> list:
        return []


def test_stream_drops_and_returns_with_backoff_then_sigterm_stops_cleanly(live_model, labels, tmp_path) -> None:
    """OpenCV's FFmpeg reads a real HTTP MJPEG stream; the server stops mid-stream for ~1.2 s and comes back.

    The pipeline publishes the source's reconnect reports as status events (delays growing then capped),
    frames resume after the reconnect, and a real SIGTERM to this process ends the run: stop reason
    "sigterm", final status published, every thread the run started gone.
    """
    baseline = set(threading.enumerate())
    server = MJPEGServer()
    port = server.server_address[1]
    url = f"http://127.0.0.1:{port}/cam.mjpg"
    policy = ReconnectPolicy(initial_delay_s=0.05, factor=2.0, max_delay_s=0.2)
    source = StreamSource(url, reconnect=policy, timeout_s=2.0, queue_size=2)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}  # put back after the run
    pipe = Pipeline(source, live_model, labels, options(tmp_path, handle_signals=True), pose=NoPose())
    sub = connect(pipe)
    marks: dict[str, float] = {}

    def fault() -> None:
        try:
            while pipe.frames < 30:
                time.sleep(0.01)
            marks["frames_before"] = pipe.frames
            server.stop()
            marks["down"] = time.monotonic()
            time.sleep(1.2)
            marks["up"] = time.monotonic()
            marks["frames_down"] = pipe.frames
            restarted.append(MJPEGServer(port))
            end = time.monotonic() + 20.0
            while pipe.frames < marks["frames_down"] + 30 and time.monotonic() < end:
                time.sleep(0.01)
            marks["frames_after"] = pipe.frames
            marks["signal"] = time.monotonic()
            os.kill(os.getpid(), signal.SIGTERM)  # handled by the pipeline (main thread): stop after this frame
        except BaseException as e:  # noqa: BLE001 - reported by the test
            marks["error"] = repr(e)
            pipe.request_stop("fault thread failed")

    restarted: list[MJPEGServer] = []
    worker = threading.Thread(target=fault, name="fault")
    worker.start()
    try:
        reason = pipe.run()
        stopped = time.monotonic()
        worker.join(10.0)
        events = []
        while (got := sub.recv(timeout_ms=300)) is not None:
            events.append(got[1])
    finally:
        sub.close()
        for s in restarted:
            s.stop()
    assert "error" not in marks, marks
    assert reason == "sigterm" and stopped - marks["signal"] < 2.0
    messages = [e["message"] for e in events if e["type"] == "status" and e["message"]]
    for e in events:
        validate(e)
    assert f"stream {url} dropped" in messages
    tries = [m for m in messages if m.startswith(f"reconnecting to stream {url}")]
    delays = [float(m.rsplit(", ", 1)[1].split(" s)")[0]) for m in tries]
    assert len(tries) >= 4 and delays[:4] == [0.05, 0.1, 0.2, 0.2], tries  # exponential, capped at 0.2 s
    assert any(m == f"stream {url} reconnected after {len(tries)} attempt(s)" for m in messages), messages
    assert marks["frames_after"] >= marks["frames_down"] + 30  # frames flow again after the reconnect
    assert messages[-1] == f"stopped (sigterm) after {pipe.frames} frames"
    # the handlers before the run are back (the test accepted any callable, the pipeline's own included)
    assert {sig: signal.getsignal(sig) for sig in handlers} == handlers
    assert wait_for_threads(baseline) == []  # reader thread, server threads, fault thread: all gone


# ---- subscribers that stall or disconnect ------------------------------------------------------------------------


def stalled_socket(endpoint: str):
    """A SUB that subscribes to everything and never reads, with queues as small as ZeroMQ allows."""
    sock = zmq.Context.instance().socket(zmq.SUB)
    for opt, value in ((zmq.RCVHWM, 1), (zmq.RCVBUF, 4096), (zmq.LINGER, 0), (zmq.SUBSCRIBE, b"")):
        sock.setsockopt(opt, value)
    sock.connect(endpoint)
    return sock


def small_buffer_subscriber(pipe: Pipeline) -> Subscriber:
    """A :class:`Subscriber` with a 4 KB kernel receive buffer and rcvhwm 1 (queues fill after a few messages)."""
    ctx = zmq.Context.instance()
    ctx.setsockopt(zmq.RCVBUF, 4096)  # pyzmq's context-level default for the sockets made next
    try:
        return connect(pipe, rcvhwm=1)
    finally:
        ctx.sockopts.pop(zmq.RCVBUF, None)


def timed_run(
    recording: Path,
    model_files,
    labels: Path,
    tmp_path: Path,
    frames: int,
    with_subscribers: bool,
    nodrop: bool = False,
) -> dict:
    """One unthrottled replay run (a window and an action event every 4 frames, a status every 50 ms) with a
    4 KB kernel send buffer; with a stalled subscriber, one that leaves mid-run and one that reads only after."""
    pub = PublisherOptions(endpoint="tcp://127.0.0.1:*", sndhwm=10, sndbuf=4096, nodrop=nodrop)
    opts = options(tmp_path, stride=4, max_frames=frames, publisher=pub, status_interval_s=0.05)
    model = load_live_model(model_files[1], "onnxruntime", bundle=model_files[0])  # the pipeline closes it
    pipe = Pipeline(ReplaySource(recording, loop=True), model, labels, opts)
    socks, late, quitter = [], None, None
    if with_subscribers:
        late = small_buffer_subscriber(pipe)  # stalls for 2/3 of the run, then reads again
        quitter = connect(pipe)
        socks.append(stalled_socket(pipe.publisher.endpoint))
        time.sleep(0.1)
    left, done = threading.Event(), threading.Event()
    seqs: dict[str, list[int]] = {}

    def leave_mid_run() -> None:  # reads a little, then disconnects while the pipeline runs
        while pipe.frames < frames // 3:
            quitter.recv(timeout_ms=10)
        quitter.close()
        left.set()

    resumed: list[int] = []

    def stall_then_read() -> None:  # a loss is a gap: it shows once a later message arrives
        while pipe.frames < 2 * frames // 3:
            time.sleep(0.01)
        resumed.append(pipe.frames)  # on 2 busy cores the thread may wake only after the run (CI, 7 December 2026)
        while not done.is_set():
            if (got := late.recv(timeout_ms=50)) is not None:
                seqs.setdefault(got[0], []).append(got[1]["seq"])

    workers = [threading.Thread(target=f) for f in (leave_mid_run, stall_then_read)] if with_subscribers else []
    for w in workers:
        w.start()
    in_publish: list[int] = []  # every publish call's duration (action and status events alike)
    publish_once = pipe.publisher.publish

    def timed_publish(event: dict) -> bool:
        start = time.perf_counter_ns()
        try:
            return publish_once(event)
        finally:
            in_publish.append(time.perf_counter_ns() - start)

    pipe.publisher.publish = timed_publish
    t0, c0 = time.perf_counter(), time.thread_time()
    pipe.run()
    wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
    out = {
        "fps": pipe.frames / wall,
        "cpu_fps": pipe.frames / cpu,
        "sent": pipe.publisher.sent,
        "dropped": pipe.publisher.dropped,
        "publish_max_ms": max(in_publish) / 1e6,
        "publish_share": sum(in_publish) / 1e9 / wall,
    }
    if with_subscribers:
        time.sleep(0.5)
        done.set()
        for w in workers:
            w.join(5.0)
        out["left_mid_run"] = left.is_set()
        out["late_missed"], out["late_received"] = late.missed, sum(len(s) for s in seqs.values())
        out["gaps"] = sum(max(s) - min(s) + 1 - len(s) for s in seqs.values())
        out["resumed_at"] = resumed[0] if resumed else None
        late.close()
    for s in socks:
        s.close(linger=0)
    return out


def round_ratio(runs: list[dict], baseline: list[dict]) -> float:
    """Median over rounds of a run's frames per CPU second over the baseline run of the same round."""
    return float(np.median([r["cpu_fps"] / b["cpu_fps"] for r, b in zip(runs, baseline, strict=True)]))


@pytest.mark.slow
def test_stalled_and_departing_subscribers_cost_no_frame_rate_and_drops_are_counted(
    recording1, model_files, labels, tmp_path
) -> None:
    """Alternating runs, 3 rounds: no subscriber vs a stalled one + one that disconnects mid-run + one
    that reads only at the end (~500 events of ~0.5 KB per run, 4 KB kernel send buffer, sndhwm 10).

    What the subscribers could cost the loop is the time it spends in ``publish``: a send that waited for a
    subscriber would show there, as a slow call and as a share of the run. Both are checked on every run with
    subscribers. The frame rates are only a coarse guard: this process also runs the subscribers' threads on the
    same 2 cores: in CI the loop's frames per CPU second with subscribers were 0.73-0.89 of those without, and a
    ratio check at 0.85 failed CI twice on it. Measured on the 2-core project machine (5 Dec 2026), the loop spent
    0.8-1.0 % of a run in ``publish`` without subscribers and 0.9-1.2 % with them. Rates are compared within a
    round and the median of the three ratios is taken.
    """
    frames = 2000
    timed_run(recording1, model_files, labels, tmp_path, 100, False)  # warm-up (ONNX Runtime, caches)
    # The three kinds of run are interleaved so that a burst of load from other jobs on the machine falls on
    # all of them alike; comparing a kind measured in one stretch of time with one measured later does not hold.
    plain, loaded, runs = [], [], []
    for _ in range(3):
        plain.append(timed_run(recording1, model_files, labels, tmp_path, frames, False))
        loaded.append(timed_run(recording1, model_files, labels, tmp_path, frames, True))
        # nodrop mode: the stalled subscribers make sends fail at once; the publisher counts each
        runs.append(timed_run(recording1, model_files, labels, tmp_path, frames, True, nodrop=True))

    def share(rs: list[dict]) -> list[str]:
        return [f"{100 * r['publish_share']:.2f} %" for r in rs]

    print(
        f"\nframes per CPU s without subscribers {[round(r['cpu_fps']) for r in plain]}, with "
        f"{[round(r['cpu_fps']) for r in loaded]}, nodrop {[round(r['cpu_fps']) for r in runs]}; wall fps "
        f"{[round(r['fps']) for r in plain]} / {[round(r['fps']) for r in loaded]}; time in publish "
        f"{share(plain)} / {share(loaded)} / {share(runs)}; slowest publish "
        f"{max(r['publish_max_ms'] for r in plain):.2f} / {max(r['publish_max_ms'] for r in loaded):.2f} ms; "
        f"late subscriber received / missed / sent "
        f"{[(r['late_received'], r['late_missed'], r['sent']) for r in loaded]}"
    )
    for r in loaded + runs:
        assert r["publish_max_ms"] < 50.0, r  # a send never waits for a subscriber
        assert r["publish_share"] < 0.05, r  # nor do all of them together
    assert round_ratio(loaded, plain) >= 0.6 and round_ratio(runs, plain) >= 0.6, (plain, loaded, runs)
    assert max(r["fps"] for r in loaded) >= 0.5 * max(r["fps"] for r in plain), (plain, loaded)
    for r in loaded:
        assert r["left_mid_run"] and r["dropped"] == 0  # default mode: the publisher never refuses
        assert r["late_missed"] == r["gaps"] and r["late_received"] + r["late_missed"] <= r["sent"]
    # the stalled-then-reading subscriber lost messages while it did not read; each loss is a seq gap, which shows
    # once a later message arrives: so in the runs in which it read again while the run still went on (in one CI
    # run its thread woke only after the run: 13 messages received, none missed, no later one to show a gap)
    during = [r for r in loaded if r["resumed_at"] is not None and r["resumed_at"] < 0.9 * frames]
    assert len(during) >= 2, [r["resumed_at"] for r in loaded]
    assert all(r["gaps"] > 0 for r in during), during
    nodrop = max(runs, key=lambda r: r["cpu_fps"])
    print(f"nodrop: {nodrop['dropped']} dropped of {nodrop['sent'] + nodrop['dropped']}")
    assert all(r["dropped"] > 0 for r in runs)


def test_healthy_subscriber_misses_nothing_beside_a_stalled_one(recording1, live_model, labels, tmp_path) -> None:
    pub = PublisherOptions(endpoint="tcp://127.0.0.1:*", sndbuf=4096)
    opts = options(tmp_path, stride=4, max_frames=400, publisher=pub, status_interval_s=1e-4)
    pipe = Pipeline(ReplaySource(recording1, loop=True), live_model, labels, opts)
    healthy = connect(pipe, rcvhwm=100_000)
    stalled = stalled_socket(pipe.publisher.endpoint)
    got: list[dict] = []
    done = threading.Event()

    def drain() -> None:
        while not done.is_set() or healthy.recv(timeout_ms=0) is not None:
            if (m := healthy.recv(timeout_ms=20)) is not None:
                got.append(m[1])

    worker = threading.Thread(target=drain)
    worker.start()
    try:
        pipe.run()
        time.sleep(0.5)
    finally:
        done.set()
        worker.join(10.0)
        stalled.close(linger=0)
        healthy.close()
    actions = [e for e in got if e["type"] != "status"]
    statuses = [e["seq"] for e in got if e["type"] == "status"]
    # every action event from the first (seq 0) to the last, every status, the final one: nothing lost
    assert healthy.missed == 0 and [e["seq"] for e in actions] == list(range(len(actions)))
    assert statuses == list(range(statuses[0], statuses[-1] + 1)) and len(statuses) >= 400
    assert len(actions) >= (400 - 64) // 4  # one per window once the buffer holds a window
    assert got[-1]["message"] == "stopped (max_frames) after 400 frames"


# ---- sadvae-live as a process: restart, SIGINT, SIGTERM ----------------------------------------------------------


def start_live(model_files, cache_root: Path, recording: Path, labels: Path, endpoint: str) -> subprocess.Popen:
    env = {**os.environ, "SADVAE_CACHE_DIR": str(cache_root), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [
            *LIVE,
            "--replay",
            str(recording),
            "--loop",
            "--labels",
            str(labels),
            "--model",
            str(model_files[0]),
            "--endpoint",
            endpoint,
            "--source-name",
            "cam0",
            "--status-interval",
            "0.2",
            "--no-display",
            # every window decides, as EAGER: the tiny random model's scores stay under the default start score
            # (0.6 since issue 14 item 5's re-tuning; these tests are about events flowing, not thresholds)
            *("--start-score", "0", "--keep-score", "0", "--min-score", "0", "--start-windows", "1"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )


def collect(sub: Subscriber, until, timeout_s: float) -> list[dict]:
    out, end = [], time.monotonic() + timeout_s
    while time.monotonic() < end:
        got = sub.recv(timeout_ms=100)
        if got is not None:
            out.append(got[1])
            if until(out):
                break
    return out


def test_publisher_restart_is_resumed_by_the_subscriber(model_files, cache_root, recording, labels) -> None:
    """``sadvae-live`` is killed (SIGKILL: no goodbye) and started again on the same port: the subscriber that
    was connected all along receives the new process's events with no action of its own, sees one restart
    (a new ``session``), and counts only real gaps as missed (a restarted seq is not counted as lost messages)."""
    endpoint = free_endpoint()
    procs = []
    with Subscriber(endpoint, rcvhwm=100_000) as sub:
        try:
            procs.append(start_live(model_files, cache_root, recording, labels, endpoint))
            first = collect(sub, lambda ev: sum(e["type"] != "status" for e in ev) >= 20, 60)
            assert sum(e["type"] != "status" for e in first) >= 20, procs[0].stderr.read() if procs[0].poll() else ""
            procs[0].kill()
            procs[0].wait(10)
            while (got := sub.recv(timeout_ms=300)) is not None:  # what was in flight
                first.append(got[1])
            restarts_before, t_kill = sub.restarts, time.monotonic()
            procs.append(start_live(model_files, cache_root, recording, labels, endpoint))
            second = collect(sub, lambda ev: sum(e["type"] != "status" for e in ev) >= 20, 60)
            resumed_after = time.monotonic() - t_kill
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGINT)
                    p.communicate(timeout=20)
        sessions = {e["session"] for e in first} | {e["session"] for e in second}
        assert len({e["session"] for e in first}) == 1 and len({e["session"] for e in second}) == 1
        assert len(sessions) == 2 and sum(e["type"] != "status" for e in second) >= 20
        assert restarts_before == 0 and sub.restarts == 1
        # missed = the real gaps within each process's numbering, never a difference across the two
        seqs: dict[tuple[str, str], list[int]] = {}
        for e in first + second:
            seqs.setdefault((e["type"] == "status", e["session"]), []).append(e["seq"])
        assert sub.missed == sum(max(v) - min(v) + 1 - len(v) for v in seqs.values())
    print(f"subscriber resumed {resumed_after:.1f} s after the kill (includes the new process's start-up)")


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 0)])
def test_signal_ends_every_open_action_and_exits(sig, code, model_files, cache_root, recording, labels) -> None:
    """Two persons replayed by ``sadvae-live``; once both tracks have an open action, a signal stops it: an ``end``
    for each open track, the final status, the documented exit status, within seconds."""
    endpoint = free_endpoint()
    with Subscriber(endpoint, rcvhwm=100_000) as sub:
        proc = start_live(model_files, cache_root, recording, labels, endpoint)
        try:
            # the first starts may go out before the subscription arrives (slow joiner): updates show open actions too
            before = collect(
                sub, lambda ev: {e["track_id"] for e in ev if e["type"] in ("start", "update")} >= {0, 1}, 60
            )
            proc.send_signal(sig)
            t_sig = time.monotonic()
            after = collect(sub, lambda ev: (ev[-1].get("message") or "").startswith("stopped"), 20)
            _, stderr = proc.communicate(timeout=20)
            exited = time.monotonic() - t_sig
        finally:
            if proc.poll() is None:
                proc.kill()

    def still_open(events: list[dict]) -> set[int]:
        tracks: set[int] = set()
        for e in events:
            if e["type"] in ("start", "update"):
                tracks.add(e["track_id"])
            elif e["type"] == "end":
                tracks.discard(e["track_id"])
        return tracks

    name = "sigint" if sig == signal.SIGINT else "sigterm"
    assert proc.returncode == code and "Traceback" not in stderr, stderr
    assert f"stopped ({name})" in stderr and exited < 10.0
    assert {0, 1} <= {e["track_id"] for e in before if e["type"] in ("start", "update")}
    open_at_signal = still_open(before + [e for e in after if e["type"] != "end"])
    assert open_at_signal and still_open(before + after) == set()  # every open action got its end
    assert {e["track_id"] for e in after if e["type"] == "end"} >= open_at_signal
    assert after[-1]["type"] == "status" and after[-1]["message"].startswith(f"stopped ({name}) after")
    print(f"{name}: exit {proc.returncode} {exited:.2f} s after the signal")
