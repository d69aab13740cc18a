from __future__ import annotations

import itertools
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from realtime.sources.capture import CameraSource, ReconnectPolicy, SourceStatus, StreamSource
from realtime.sources.replay import GAP_S, ReplaySource, load_recording, save_recording
from realtime.sources.video import Frame, VideoSource, open_source
from sadvae.errors import DataFormatError, SourceError

cv2 = pytest.importorskip("cv2")


def write_video(path: Path, n: int = 12, fps: float = 25.0, size: tuple[int, int] = (64, 48)) -> Path:
    """A synthetic MJPG video whose frame k is filled with grey level 10 * k."""
    w, h = size
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert out.isOpened()
    for k in range(n):
        out.write(np.full((h, w, 3), 10 * k, np.uint8))
    out.release()
    return path


# ------------------------------------------------------------------------------------------- video


def test_video_source_frames_and_timestamps(tmp_path: Path) -> None:
    path = write_video(tmp_path / "a.avi")
    with VideoSource(path) as src:
        assert src.fps == pytest.approx(25.0) and src.name == "a"
        frames = list(src)
    assert [f.index for f in frames] == list(range(12))
    assert [f.timestamp_ms for f in frames] == [40 * k for k in range(12)]
    f = frames[3]
    assert isinstance(f, Frame) and f.skeletons is None
    assert f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8
    assert abs(int(f.image.mean()) - 30) <= 3  # decoded in order
    assert list(src) == []  # closed at the end of the file


def test_video_source_loop_keeps_time_running(tmp_path: Path) -> None:
    with VideoSource(write_video(tmp_path / "a.avi", n=5), loop=True) as src:
        frames = list(itertools.islice(src, 13))
    assert [f.index for f in frames] == list(range(13))
    assert [f.timestamp_ms for f in frames] == [40 * k for k in range(13)]
    assert abs(int(frames[5].image.mean()) - 0) <= 3  # the second pass starts at frame 0


def test_video_source_times_a_variable_frame_rate_by_the_container() -> None:
    """A phone that drops from 30 to 15 frames a second: timed by the average rate (21 fps), the first half plays
    slowed down and the second sped up; the container's times keep the motion as recorded."""
    path = Path(__file__).parent / "data" / "vfr_30_then_15fps.mp4"
    with VideoSource(path) as src:
        assert src.fps == pytest.approx(20.9, abs=0.1)  # the average rate
        ts = [f.timestamp_ms for f in src]
    steps = np.diff(ts)
    assert len(ts) == 60 and all(steps > 0)
    assert np.median(steps[:29]) == pytest.approx(33, abs=1) and np.median(steps[31:]) == pytest.approx(67, abs=1)
    assert ts[-1] == pytest.approx(2900, abs=40)
    with VideoSource(path, timestamps="nominal") as src:
        nominal = [f.timestamp_ms for f in src]
    assert nominal[-1] == round(59 * 1000 / src.fps)  # the old timing: 2819 ms, every step 48 ms


class _TimedCapture:
    """A capture whose frames report the given container times (``CAP_PROP_POS_MSEC``)."""

    def __init__(self, times: list[float], fps: float = 25.0) -> None:
        self.times, self.fps, self.k = times, fps, -1

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.k + 1 >= len(self.times):
            return False, None
        self.k += 1
        return True, np.zeros((4, 4, 3), np.uint8)

    def get(self, prop: int) -> float:
        return self.fps if prop == cv2.CAP_PROP_FPS else self.times[self.k]

    def release(self) -> None:
        pass


def test_video_source_repairs_container_times(tmp_path: Path) -> None:
    path = tmp_path / "x.avi"
    path.write_bytes(b"x")

    def times(container: list[float], loop: bool = False, n: int | None = None) -> list[int]:
        src = VideoSource(path, loop=loop, capture_factory=lambda p: _TimedCapture(container))
        return [f.timestamp_ms for f in itertools.islice(src, n or len(container))]

    # AVI: the first frame reported two frames late, the last one at 0: relative to the first, then one step on
    assert times([80.0, 120.0, 160.0, 200.0, 0.0]) == [0, 40, 80, 120, 160]
    # missing (NaN, negative), repeated, and a jump of an hour: one nominal step (40 ms at 25 fps) after the last
    assert times([0.0, float("nan"), 33.0, 33.0, -1.0, 3.6e6, 140.0]) == [0, 40, 80, 120, 160, 200, 240]
    # two frames 0.4 ms apart still get distinct, increasing integer times
    assert times([0.0, 10.0, 10.4, 50.0]) == [0, 10, 11, 50]
    # a second pass starts one frame after the first pass's end, timed by the container again
    assert times([0.0, 30.0, 90.0], loop=True, n=6) == [0, 30, 90, 130, 160, 220]


def test_video_source_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"video file .*missing\.mp4 not found"):
        VideoSource(tmp_path / "missing.mp4")
    with pytest.raises(SourceError, match=r"is a folder; pass a video file"):  # was "not found"
        VideoSource(tmp_path)
    junk = tmp_path / "junk.mp4"
    junk.write_text("not a video")
    with pytest.raises(SourceError, match=r"cannot open video .*junk\.mp4: OpenCV could not decode it"):
        VideoSource(junk)
    # the labels file passed as --video: OpenCV's FFmpeg "decoded" its text into frames (a review of 7 December 2026)
    labels = tmp_path / "labels.txt"
    labels.write_text("wave\nclap\n")
    with pytest.raises(SourceError, match=r"labels\.txt: a text file \(a labels file goes to --labels\), not a video"):
        VideoSource(labels)


def test_video_source_on_a_real_clip(shared_data: Path) -> None:
    path = shared_data / "videos" / "ta_chi.mp4"
    with VideoSource(path) as src:
        fps = src.fps
        frames = list(src)
    assert fps == pytest.approx(29.97, abs=0.01)
    assert len(frames) == 300 and frames[0].image.shape == (256, 340, 3)
    assert frames[-1].timestamp_ms == round(299 * 1000 / fps)
    assert all(b.timestamp_ms > a.timestamp_ms for a, b in itertools.pairwise(frames))


# ----------------------------------------------------------------------------------- camera, stream


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="checks /dev/video*")
def test_no_camera_is_one_clear_line(capfd: pytest.CaptureFixture[str]) -> None:
    if Path("/dev/video0").exists():
        pytest.skip("this machine has a camera at index 0")
    with pytest.raises(SourceError) as e:
        open_source("0")
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith("no camera at index 0: /dev/video0 does not exist (video devices: none);")
    assert msg.endswith("connect a camera, or use --video FILE or --stream URL")
    with pytest.raises(SourceError, match="no camera at index 3"):
        CameraSource(3)
    out, err = capfd.readouterr()
    assert out == "" and "WARN" not in err and "ERROR" not in err  # OpenCV's own console lines are silenced


def test_unreachable_stream_fails_fast() -> None:
    t0 = time.monotonic()
    with pytest.raises(SourceError, match=r"cannot open stream rtsp://127\.0\.0\.1:9/live: unreachable"):
        StreamSource("rtsp://127.0.0.1:9/live", timeout_s=2.0)
    assert time.monotonic() - t0 < 10.0


class _LiveView:
    """A real OpenCV capture that reports no length, as a live stream does (a file that declares its frames is a
    recording, which ends at its last frame: tests/realtime/test_source_failures.py)."""

    def __init__(self, url: str) -> None:
        self.cap = cv2.VideoCapture(url)

    def __getattr__(self, name: str):
        return getattr(self.cap, name)

    def get(self, prop: int) -> float:
        return -1.0 if prop == cv2.CAP_PROP_FRAME_COUNT else self.cap.get(prop)


def test_stream_reconnects_when_the_file_comes_back(tmp_path: Path) -> None:
    """A real OpenCV capture on a file that passes for live: the end of the file is a drop; the file vanishes, then
    returns."""
    path = write_video(tmp_path / "cam.avi", n=8)
    hidden = tmp_path / "hidden.avi"
    statuses: list[SourceStatus] = []
    threads: set[str] = set()

    def on_status(s: SourceStatus) -> None:
        statuses.append(s)
        threads.add(threading.current_thread().name)
        if s.state == "reconnecting" and s.attempt == 3:
            hidden.rename(path)  # the camera comes back before the third attempt

    policy = ReconnectPolicy(initial_delay_s=0.02, factor=2.0, max_delay_s=0.05, max_attempts=10)
    src = StreamSource(str(path), reconnect=policy, on_status=on_status, queue_size=16, capture_factory=_LiveView)
    assert src.live
    path.rename(hidden)  # gone after the open: reading goes on from the open file, reopening fails
    frames: list[Frame] = []
    with src:
        for f in src:
            frames.append(f)
            if any(s.state == "reconnected" for s in statuses) and len(frames) >= 12:
                break
    states = [(s.state, s.attempt) for s in statuses]
    assert states[:5] == [
        ("disconnected", 0),
        ("reconnecting", 1),
        ("reconnecting", 2),
        ("reconnecting", 3),
        ("reconnected", 3),
    ]
    assert [s.delay_s for s in statuses[1:4]] == [0.02, 0.04, 0.05]  # backoff, capped
    assert statuses[0].message == f"stream {path} dropped"
    assert threads == {threading.current_thread().name}  # callbacks run on the iterating thread
    assert len(frames) >= 12 and frames[8].index == 8  # the frames after the reconnect
    assert all(b.timestamp_ms > a.timestamp_ms for a, b in itertools.pairwise(frames))


class FakeCapture:
    """A capture that yields ``n`` frames (``n=-1``: endless), or fails to open."""

    def __init__(self, n: int, opened: bool = True, delay_s: float = 0.0):
        self.n, self.opened, self.delay_s, self.k = n, opened, delay_s, 0

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return self.opened

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.n >= 0 and self.k >= self.n:
            return False, None
        time.sleep(self.delay_s)
        self.k += 1
        return True, np.full((4, 4, 3), self.k % 256, np.uint8)

    def get(self, prop: int) -> float:
        return 30.0

    def set(self, prop: int, value: float) -> bool:
        return True

    def release(self) -> None:
        self.opened = False


def test_camera_gives_up_after_max_attempts() -> None:
    opens = iter([FakeCapture(3)] + [FakeCapture(0, opened=False)] * 10)
    statuses: list[SourceStatus] = []
    policy = ReconnectPolicy(initial_delay_s=0.01, max_attempts=2)
    src = CameraSource(7, reconnect=policy, on_status=statuses.append, capture_factory=lambda i: next(opens))
    assert src.name == "camera7" and src.fps == 30.0
    frames = []
    with pytest.raises(SourceError, match="^camera 7 lost: gave up after 2 reconnect attempts$"):
        for f in src:
            frames.append(f)
    assert len(frames) >= 1
    assert [s.state for s in statuses] == ["disconnected", "reconnecting", "reconnecting", "gave_up"]
    src.close()
    src.close()


def test_a_camera_waiting_to_reconnect_calls_on_idle() -> None:
    """The iterating thread hears from the source about every 0.5 s while no frame comes (the pipeline sends its
    heartbeats from there), on its own thread, never the reader's."""
    import threading

    opens = iter([FakeCapture(2), FakeCapture(3)])
    policy = ReconnectPolicy(initial_delay_s=1.0, max_attempts=1)
    src = CameraSource(7, reconnect=policy, capture_factory=lambda i: next(opens, FakeCapture(0, opened=False)))
    idle: list[tuple[float, threading.Thread]] = []
    src.on_idle = lambda: idle.append((time.monotonic(), threading.current_thread()))
    frames = []
    with pytest.raises(SourceError, match="gave up after 1 reconnect attempt$"):
        frames.extend(src)
    assert len(frames) == 5  # 2 before the drop, 3 after the reconnect; then 1 s more of waiting, in vain
    assert len(idle) >= 3 and {t for _, t in idle} == {threading.current_thread()}
    src.close()


def test_a_drop_is_reported_after_the_frames_read_before_it() -> None:
    """Review of 6 December 2026, late: statuses jumped ahead of the frames still queued, so the pipeline ended its
    tracks at ``source_disconnected`` and then read a frame from before the drop, which opened a new track that
    lasted the whole outage."""
    order: list[str] = []
    opens = iter([FakeCapture(3)])
    policy = ReconnectPolicy(initial_delay_s=0.3, max_attempts=1)
    src = CameraSource(7, reconnect=policy, queue_size=8, capture_factory=lambda i: next(opens, FakeCapture(0, False)))
    src.on_status = lambda s: order.append(s.state)
    with pytest.raises(SourceError):
        for f in src:
            time.sleep(0.1)  # a slow pipeline: the drop comes while frames wait in the queue
            order.append(f"frame {f.index}")
    assert order[:4] == ["frame 0", "frame 1", "frame 2", "disconnected"], order
    src.close()


def test_a_reconnect_is_reported_before_the_frames_after_it_even_when_the_queue_never_empties() -> None:
    """Statuses are ordered by the frames read around them, not held until the queue is empty: with a pipeline slower
    than the camera the queue is never empty, and ``source_reconnected`` must not wait for ever."""
    order: list[str] = []
    opens = iter([FakeCapture(4), FakeCapture(-1, delay_s=0.002)])
    policy = ReconnectPolicy(initial_delay_s=0.01)  # back before the old frames are read: the queue never empties
    src = CameraSource(7, reconnect=policy, queue_size=4, capture_factory=lambda i: next(opens))
    src.on_status = lambda s: order.append(s.state)
    for f in src:
        order.append("old" if f.index < 4 else "new")
        time.sleep(0.02)  # slower than the camera: frames are dropped, the queue stays full
        if order.count("new") == 10:
            break
    src.close()
    news = [x for x in order if x not in ("old", "new")]
    assert news == ["disconnected", "reconnecting", "reconnected"], order
    first_new = order.index("new")
    assert order[first_new - 3 : first_new] == news and "old" not in order[first_new:] and src.dropped > 0


def test_the_idle_calls_come_as_often_as_the_callback_asks() -> None:
    """A heartbeat interval under 0.5 s holds during a reconnect too: ``on_idle`` says when it wants the next call."""
    opens = iter([FakeCapture(1)])
    policy = ReconnectPolicy(initial_delay_s=0.6, max_attempts=1)
    src = CameraSource(7, reconnect=policy, capture_factory=lambda i: next(opens, FakeCapture(0, opened=False)))
    calls: list[float] = []
    src.on_idle = lambda: calls.append(time.monotonic()) or 0.05
    with pytest.raises(SourceError):
        list(src)
    gaps = np.diff(calls)
    assert len(calls) >= 8 and gaps[1:].max() < 0.2, gaps  # about 0.05 s apart, not 0.5
    src.close()


def test_camera_queue_drops_the_oldest_frames() -> None:
    src = CameraSource(0, queue_size=2, capture_factory=lambda i: FakeCapture(-1, delay_s=0.001))
    with src:
        got = []
        for f in src:
            got.append(f)
            time.sleep(0.02)  # a slow pipeline
            if len(got) == 5:
                break
    assert src.dropped > 0
    assert got[-1].index - got[0].index > 4  # newest frames, gaps where frames were dropped
    assert all(b.timestamp_ms > a.timestamp_ms for a, b in itertools.pairwise(got))


def test_camera_that_cannot_open_is_one_error() -> None:
    with pytest.raises(SourceError, match="could not be opened|no camera at index 5"):
        CameraSource(5, capture_factory=lambda i: FakeCapture(0, opened=False))


# ------------------------------------------------------------------------------------------- replay


def test_recording_round_trip_and_replay(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    joints = rng.normal(size=(6, 2, 25, 3)).astype(np.float32)
    times = np.arange(6) / 20.0 + 3.0
    path = save_recording(tmp_path / "rec.npz", joints, times)
    j2, t2 = load_recording(path)
    np.testing.assert_array_equal(j2, joints)
    with open_source(str(path)) as src:
        assert isinstance(src, ReplaySource) and src.fps == pytest.approx(20.0) and src.persons == 2
        frames = list(src)
    assert [f.timestamp_ms for f in frames] == [0, 50, 100, 150, 200, 250]
    assert all(f.image is None for f in frames)
    np.testing.assert_array_equal(frames[4].skeletons, joints[4])
    with ReplaySource(path, fps=10.0, loop=True) as src:
        looped = list(itertools.islice(src, 8))
    assert [f.timestamp_ms for f in looped] == [100 * k for k in range(8)]
    np.testing.assert_array_equal(looped[6].skeletons, joints[0])


def test_a_recordings_track_ids_reach_the_tracker_as_identities(tmp_path: Path) -> None:
    """--record-skeleton writes which track each column holds; a replay hands them on per frame (recorded MediaPipe
    joints are hip-centred: without them the tracker took two people for one another, 7 December 2026)."""
    joints = np.ones((5, 2, 25, 3), np.float32)
    joints[3:, 1] = 0.0
    tracks = np.array([[0, 1], [0, 1], [0, 1], [0, -1], [2, -1]], np.int32)  # track 2 takes column 0 over
    path = save_recording(tmp_path / "rec.npz", joints, np.arange(5) / 30.0, tracks)
    frames = list(ReplaySource(path))
    assert [f.identities.tolist() for f in frames] == tracks.tolist()
    bare = save_recording(tmp_path / "bare.npz", joints, np.arange(5) / 30.0)  # a recording written by hand
    assert all(f.identities is None for f in ReplaySource(bare))


def test_a_replayed_two_person_recording_keeps_each_person_on_their_own_track(
    model_files, cache_root, tmp_path, monkeypatch
) -> None:
    """The replay of a --record-skeleton file follows the recorded people: recorded again, every track holds one
    recorded track's frames, as many as it had (the audit of 7 December 2026 found frames swapped between two
    hip-centred people, and other decisions than the live run's)."""
    import socket

    from realtime.cli import main as live

    monkeypatch.setenv("SADVAE_CACHE_DIR", str(cache_root))
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.0, 0.3, (2, 25, 3)).astype(np.float32)
    n = 90
    w = np.linspace(1.0, 0.0, n)[:, None, None]  # each posture turns into the other's: alike at the middle frame
    joints = np.stack([w * a + (1 - w) * b, w * b + (1 - w) * a], axis=1).astype(np.float32)
    tracks = np.tile(np.array([[4, 6]], np.int32), (n, 1))
    src = save_recording(tmp_path / "two.npz", joints, np.arange(n) / 30.0, tracks)
    labels = tmp_path / "labels.txt"
    labels.write_text("wave\nclap\n", encoding="utf-8")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    again = tmp_path / "again.npz"
    argv = ["--replay", str(src), "--labels", str(labels), "--model", str(model_files[0]), "--no-display"]
    assert live([*argv, "--endpoint", f"tcp://127.0.0.1:{port}", "--record-skeleton", str(again)]) == 0
    with np.load(again) as z:
        j2, t2 = z["joints"], z["tracks"]
    assert j2.shape == joints.shape and sorted(np.unique(t2).tolist()) == [0, 1]
    for track in (0, 1):
        rows, cols = np.nonzero(t2 == track)
        got = j2[rows, cols]
        first = int(np.argmin([np.abs(got[0] - joints[rows[0], m]).max() for m in (0, 1)]))
        np.testing.assert_array_equal(got, joints[rows, first])  # one recorded person, every frame


def test_a_paced_replay_calls_on_idle_through_a_gap_in_the_recording() -> None:
    """Review of 7 December 2026: a paced replay slept through a recorded outage without a word, so the pipeline's
    heartbeats stopped (a subscriber's liveness rule took the publisher for gone). Now a long wait calls ``on_idle``
    as a live source's does, at most ``wanted`` seconds apart, and the frames keep their times."""
    import time

    times = np.array([0.0, 0.05, 1.05, 1.1])  # a one-second hole between the second and third frame
    src = ReplaySource.from_arrays(np.ones((4, 1, 25, 3), np.float32), times, pace=True)
    calls: list[float] = []
    src.on_idle = lambda: calls.append(time.monotonic()) or 0.2
    t0 = time.monotonic()
    stamps = [f.timestamp_ms for f in src]
    assert stamps == [0, 50, 1050, 1100]
    assert time.monotonic() - t0 >= 1.05
    assert len(calls) >= 3 and calls[0] - t0 < 0.5  # from the start of the hole
    assert max(np.diff(calls)) < 0.6, np.diff(calls)  # 0.2 s asked; room for a loaded machine
    unpaced = ReplaySource.from_arrays(np.ones((4, 1, 25, 3), np.float32), times)
    unpaced.on_idle = lambda: calls.append(-1.0) or 0.2
    assert [f.timestamp_ms for f in unpaced] == stamps and -1.0 not in calls  # an unpaced replay never waits


def test_closing_a_paced_replay_during_a_gap_ends_it_at_once() -> None:
    """Ctrl-C during a long gap of a paced replay: the pipeline closes the source (as it does a camera's), the wait
    ends within half a second, and the frame after the gap is not handed out."""
    import threading
    import time

    times = np.array([0.0, 0.05, 30.0])
    src = ReplaySource.from_arrays(np.ones((3, 1, 25, 3), np.float32), times, pace=True)
    threading.Timer(0.3, src.close).start()
    t0 = time.monotonic()
    stamps = [f.timestamp_ms for f in src]
    assert stamps == [0, 50] and time.monotonic() - t0 < 2.0


def test_bad_recordings(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", joints=np.zeros((3, 1, 25, 3), np.float32), times=np.array([0.0, 0.1, 0.1]))
    with pytest.raises(DataFormatError, match=r"a\.npz:times: expected finite seconds that increase strictly"):
        load_recording(tmp_path / "a.npz")
    with pytest.raises(
        DataFormatError, match=r"b\.npz:joints: expected shape \[T>=1, M>=1, 25, 3\], found \[3, 20, 3\]"
    ):
        save_recording(tmp_path / "b.npz", np.zeros((3, 20, 3)), np.arange(3.0))
    np.savez(tmp_path / "c.npz", joints=np.zeros((3, 1, 25, 3), np.float32))
    with pytest.raises(DataFormatError, match=r"c\.npz:keys \['times'\]: missing"):
        load_recording(tmp_path / "c.npz")
    with pytest.raises(SourceError, match=r"skeleton file .*nope\.skeleton not found"):
        ReplaySource(tmp_path / "nope.skeleton")


def test_a_prepared_dataset_cache_replays_every_sequence(tmp_path: Path) -> None:
    # it holds joints and times too (per sequence, so the times restart): it was taken for a recording and refused
    from sadvae.data.record import Dataset, SkeletonSequence
    from sadvae.data.registry import save_prepared

    rng = np.random.default_rng(1)
    seqs = [SkeletonSequence(rng.normal(size=(n, 1, 25, 3)).astype(np.float32), 30.0, f"s{n}", 0) for n in (4, 3)]
    path = save_prepared(Dataset("toy", ("wave",), seqs), tmp_path / "prepared.npz")
    with ReplaySource(path) as src:
        frames = list(src)
    # 1.5 s of empty frames between the two (review of 6 December 2026: without them the tracker carried one person
    # into the next clip, and windows mixed two takes)
    gap = round(GAP_S * 30)
    assert len(frames) == 7 + gap and src.fps == 30.0
    assert not any(f.skeletons.any() for f in frames[4 : 4 + gap])
    assert frames[4 + gap].timestamp_ms - frames[3].timestamp_ms == round((gap + 1) * 1000 / 30)
    np.testing.assert_array_equal(frames[5 + gap].skeletons, seqs[1].joints[1])


def test_replay_of_a_real_ntu_skeleton(shared_data: Path) -> None:
    path = shared_data / "ntu" / "S001C001P001R001A001.skeleton"
    with open_source(f"replay:{path}") as src:
        frames = list(src)
    assert src.name == "S001C001P001R001A001" and src.fps == 30.0
    assert len(frames) == 103 and frames[0].skeletons.shape == (2, 25, 3)
    assert [f.timestamp_ms for f in frames[:4]] == [0, 33, 67, 100]
    assert np.abs(frames[50].skeletons[0]).sum() > 0


def test_open_source_dispatch(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi", n=2)
    with open_source(str(video)) as src:
        assert isinstance(src, VideoSource)
    with open_source(f"video:{video}", loop=True) as src:
        assert isinstance(src, VideoSource) and src.loop
    with pytest.raises(SourceError, match="source 'nowhere.mp4' not found: expected a camera index, a stream URL"):
        open_source("nowhere.mp4")


@pytest.mark.parametrize("fps, stride, offset, hold", [(15.0, 12, 0, 0.0), (15.0, 12, 5, 1.0), (30.0, 24, 23, 1.0)])
def test_aligned_pieces_start_every_sequence_on_the_stride(fps, stride, offset, hold) -> None:
    # the benchmark's replays and scripts/tune_decisions.py's recordings share this (6 December 2026: the tuning
    # recordings had a fixed gap, so a clip's scored windows depended on the clips before it)
    from realtime.sources.replay import aligned_piece, stream_piece
    from sadvae.data.record import SkeletonSequence

    rng = np.random.default_rng(2)
    played, t0 = offset, round(offset / fps * 1000) / 1000
    for n in (7, 40, 13, 1, 25):
        seq = SkeletonSequence(rng.normal(size=(n, 1, 25, 3)).astype(np.float32), fps, f"s{n}", 0)
        joints, t, end, t_next = aligned_piece(seq, t0, hold, played, stride, offset)
        plain, _, plain_end, _ = stream_piece(seq, t0, hold)
        assert (played + len(joints) - offset) % stride == 0
        assert len(plain) <= len(joints) < len(plain) + stride  # the gap lengthened, never shortened
        np.testing.assert_array_equal(joints[: len(plain)], plain)
        assert end == plain_end and t_next == round(t_next * 1000) / 1000 and t_next > t[-1]
        played, t0 = played + len(joints), t_next
