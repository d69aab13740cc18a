"""The overlay with two people and odd labels, --record's file and timing, --teach's takes (a review of 6 December
2026; each test failed before its fix):

1. --record could overwrite the --video being read (a codec fallback turns X.mp4 into X.webm);
2. with two people a panel could land over, or beside, the other person;
3. recordings of a camera or stream played too fast (frames the source dropped left no gap; a wrong declared rate);
4. labels the Hershey font cannot draw were all "??";
5. a --teach take too short for a window was saved and broke the examples folder;
6. a person who left early was reported as "no person was tracked";
7. an unwritable --record failed at the first frame, after the person was told to perform;
8. frames of a new size were silently left out of the recording.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from sadvae_tests_helpers import standing_figure as figure  # noqa: E402

from realtime import overlay as ov  # noqa: E402
from realtime.overlay import Overlay, OverlayOptions, drawable, place_panel  # noqa: E402
from realtime.view import make_view  # noqa: E402
from sadvae.errors import ConfigError  # noqa: E402

NAMES = ["put on clothes", "fall down", "walk"]


def person_box(landmarks: np.ndarray, w: int, h: int) -> tuple[int, int, int, int]:
    pts = np.clip(np.round(landmarks * (w, h)).astype(int), 0, (w - 1, h - 1))
    return int(pts[:, 0].min()), int(pts[:, 1].min()), int(pts[:, 0].max()), int(pts[:, 1].max())


def distance(box, person) -> float:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return float(np.hypot(max(person[0] - cx, 0, cx - person[2]), max(person[1] - cy, 0, cy - person[3])))


def decoded(path: str | Path) -> tuple[int, float]:
    cap = cv2.VideoCapture(str(path))
    frames = 0
    while cap.read()[0]:
        frames += 1
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    return frames, fps


@pytest.fixture
def no_h264(monkeypatch):
    """This OpenCV as on the project's machines, whatever the one installed: no H.264, so .mp4 becomes .webm."""
    monkeypatch.setattr(ov, "_encoder_works", lambda cv2, fourcc, suffix: fourcc in ("VP80", "MJPG"))


def tiny_video(path: Path, frames: int = 12) -> Path:
    """A small decodable video at ``path`` whatever its suffix (Motion-JPEG AVI, renamed: FFmpeg reads the content)."""
    avi = path.with_name(path.stem + "_tmp.avi")
    writer = cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 48))
    for i in range(frames):
        writer.write(np.full((48, 64, 3), 10 * i, np.uint8))
    writer.release()
    avi.rename(path)
    return path


def live_args(tmp_path: Path, *extra: str) -> list[str]:
    labels = tmp_path / "labels.txt"
    labels.write_text("walk\njump\n", encoding="utf-8")
    return ["--labels", str(labels), "--no-display", "--endpoint", "tcp://127.0.0.1:*", *extra]


# ---- 1. --record never overwrites the --video being read -------------------------------------------------------


def test_record_refuses_the_video_being_read(no_h264, tmp_path, capsys, monkeypatch) -> None:
    pytest.importorskip("zmq")
    from realtime.cli import main

    def no_model(*args, **kw):
        raise AssertionError("the model was loaded before --record was checked")

    monkeypatch.setattr("realtime.backends.live_model.load_live_model", no_model)
    clip = tiny_video(tmp_path / "clip.webm")
    before = clip.read_bytes()
    cases = [
        (clip.with_suffix(".mp4"), r"--record \S+clip\.mp4 \(written as \S+clip\.webm: VP8 in WebM\) would overwrite"),
        (clip, r"--record \S+clip\.webm would overwrite the --video \S+clip\.webm being read"),
    ]
    for record, message in cases:
        assert main(["--video", str(clip), "--record", str(record), *live_args(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert re.search(message, err), err
        assert "record to another file name, e.g. --record" in err and "Traceback" not in err
        assert clip.read_bytes() == before
    # the input named with the user's own suffix: --video X.mp4 --record X.mp4, which this OpenCV writes as X.webm
    mp4 = tiny_video(tmp_path / "other.mp4")
    assert main(["--video", str(mp4), "--record", str(mp4), *live_args(tmp_path)]) == 2
    # refused as before, said as it is: X.webm would be written, so X.mp4 is named, not overwritten (pose audit of
    # 7 December 2026, late)
    assert "(written as" in (err := capsys.readouterr().err) and "webm" in err and "names the --video" in err
    assert not (tmp_path / "other.webm").exists()


def test_record_never_replaces_a_file_the_user_did_not_name(no_h264, tmp_path, capsys, monkeypatch) -> None:
    """Review of 6 December 2026: ``--record precious.mp4`` on an OpenCV without H.264 wrote ``precious.webm`` over
    an existing file of that name, which the user never named."""
    pytest.importorskip("zmq")
    from realtime.cli import main

    def no_model(*args, **kw):
        raise AssertionError("the model was loaded before --record was checked")

    monkeypatch.setattr("realtime.backends.live_model.load_live_model", no_model)
    clip = tiny_video(tmp_path / "clip.avi")
    precious = tmp_path / "precious.webm"
    precious.write_bytes(b"my precious file")
    assert main(["--video", str(clip), "--record", str(tmp_path / "precious.mp4"), *live_args(tmp_path)]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip() and "WARNING" not in ln]
    assert len(err) == 1 and f"{precious} exists" in err[0] and f"(--record {precious})" in err[0], err
    assert precious.read_bytes() == b"my precious file"


# ---- 2. each panel beside its own person ------------------------------------------------------------------------


@pytest.mark.parametrize(("w", "h"), [(640, 480), (320, 240)])
def test_with_two_people_each_panel_is_nearer_its_own_person(w, h, monkeypatch) -> None:
    placed: list[tuple[int, tuple[int, int, int, int]]] = []
    real = ov.draw_panel

    def spy(img, view, track_id, at, size, *args):
        placed.append((track_id, (at[0], at[1], at[0] + size[0], at[1] + size[1])))
        return real(img, view, track_id, at, size, *args)

    monkeypatch.setattr(ov, "draw_panel", spy)
    overlay = Overlay(OverlayOptions())
    v0 = make_view(0, np.array([0.1, 0.7, 0.2]), NAMES, no_action=False, min_score=0.2, decided="fall down")
    v1 = make_view(1, np.array([0.3, 0.35, 0.35]), NAMES, no_action=True, min_score=0.2)
    for centre in (0.35, 0.5, 0.65):
        for sep, scale in ((0.25, 0.35), (0.15, 0.45), (0.35, 0.45), (0.3, 0.3)):
            items = [(0, figure(centre - sep / 2, scale), v0), (1, figure(centre + sep / 2, scale), v1)]
            boxes = [person_box(lm, w, h) for _, lm, _ in items]
            placed.clear()
            overlay.draw(np.full((h, w, 3), 90, np.uint8), items, 10.0)
            assert len(placed) == 2
            for track_id, panel in placed:
                own, other = boxes[track_id], boxes[1 - track_id]
                assert distance(panel, own) < distance(panel, other), (w, centre, sep, scale, track_id, panel, boxes)


def test_a_panel_covers_its_own_person_a_little_rather_than_someone_else() -> None:
    """The old cost took any pixel of one's own person as worse than covering another person entirely."""
    w, h, size = 640, 480, (174, 128)
    own, other = (136, 24, 280, 456), (360, 24, 504, 456)  # no room left of, right of, above or below `own`
    x, y = place_panel(size, own, (w, h), others=[other])
    panel = (x, y, x + size[0], y + size[1])
    assert ov._overlap(panel, other) == 0 and distance(panel, own) < distance(panel, other)
    # with room beside, it is beside and covers nobody
    x, y = place_panel(size, (250, 100, 300, 400), (w, h), others=[(400, 100, 450, 400)])
    panel = (x, y, x + size[0], y + size[1])
    assert ov._overlap(panel, (250, 100, 300, 400)) == 0 and ov._overlap(panel, (400, 100, 450, 400)) == 0


# ---- 3. recordings keep the source's timing ---------------------------------------------------------------------


def test_frames_the_source_dropped_are_filled_in_the_recording(tmp_path, caplog) -> None:
    overlay = Overlay(OverlayOptions(record=str(tmp_path / "gaps.avi"), fps=30))
    with caplog.at_level(logging.WARNING, logger="realtime.overlay"):
        for index in range(0, 30, 3):  # a pipeline that keeps one frame in three of a 30 fps camera
            assert overlay.show(np.zeros((120, 160, 3), np.uint8), [], index=index)
        overlay.close()
    frames, fps = decoded(overlay.recording.path)
    assert frames == 28 and fps == 30 and overlay.written == 28 and overlay.source_dropped == 18
    assert caplog.text.count("the source dropped frames") == 1
    # a long stall repeats a frame at most MAX_REPEAT times; without an index every frame is written once
    overlay = Overlay(OverlayOptions(record=str(tmp_path / "stall.avi"), fps=30))
    for index in (0, 1, 100):
        overlay.show(np.zeros((120, 160, 3), np.uint8), [], index=index)
    overlay.show(np.zeros((120, 160, 3), np.uint8), [])
    overlay.close()
    assert decoded(overlay.recording.path)[0] == 1 + 1 + ov.MAX_REPEAT + 1


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_live_source_is_recorded_at_the_rate_its_frames_arrive(tmp_path, caplog) -> None:
    """An MJPEG stream that FFmpeg declares at 25 fps but that delivers 30: the recording plays at 30."""
    clock = FakeClock()
    overlay = Overlay(OverlayOptions(record=str(tmp_path / "stream.avi"), fps=25.0, measure_fps=True))
    overlay._clock = clock
    with caplog.at_level(logging.WARNING, logger="realtime.overlay"):
        clock.t += 0.5  # a burst of buffered frames at the start does not count
        for index in range(60):
            overlay.show(np.zeros((120, 160, 3), np.uint8), [], index=index)
            clock.t += 1 / 30 if index > 2 else 0.001
        overlay.close()
    frames, fps = decoded(overlay.recording.path)
    assert frames == 60 and overlay.record_fps == pytest.approx(30.0, abs=0.05) and fps == pytest.approx(30.0, abs=0.05)
    assert "arrive at 30 fps, not the 25 fps expected" in caplog.text
    # measured within 10 % of the declared rate: the exact declared rate; a run shorter than the measuring is kept
    overlay = Overlay(OverlayOptions(record=str(tmp_path / "short.avi"), fps=30.0, measure_fps=True))
    overlay._clock = clock
    for index in range(5):
        overlay.show(np.zeros((120, 160, 3), np.uint8), [], index=index)
        clock.t += 1 / 31
    overlay.close()
    assert overlay.record_fps == 30.0 and decoded(overlay.recording.path) == (5, 30.0)


# ---- 4. labels the font cannot draw -----------------------------------------------------------------------------


def test_labels_the_font_cannot_draw_stay_readable_and_apart(monkeypatch, caplog) -> None:
    assert drawable("Café") == "Cafe" and drawable("hüpfen") == "hupfen" and drawable("Straße") == "Strasse"
    assert drawable("walk") == "walk"
    a, b = drawable("喝水"), drawable("刷牙")
    assert a != b and a.isascii() and b.isascii() and a == drawable("喝水")  # stable
    drawn: list[str] = []
    real = ov._text
    monkeypatch.setattr(ov, "_text", lambda cv2, img, text, *args: (drawn.append(text), real(cv2, img, text, *args)))
    overlay = Overlay(OverlayOptions())
    names = ["walk", "喝水", "Café trinken", "刷牙"]
    with caplog.at_level(logging.WARNING, logger="realtime.overlay"):
        overlay.set_labels(names)
        view = make_view(0, np.array([0.05, 0.5, 0.25, 0.2]), names, no_action=False, min_score=0.2, decided="喝水")
        for _ in range(3):
            overlay.draw(np.full((480, 640, 3), 90, np.uint8), [(0, figure(0.3), view)], 10.0)
    assert all(t.isascii() for t in drawn), drawn
    assert "#0 label 2" in drawn and "label 4" in drawn and "Cafe trinken" in drawn
    assert caplog.text.count("draws ASCII letters only") == 1
    assert "'喝水' as 'label 2'" in caplog.text and "'刷牙' as 'label 4'" in caplog.text


# ---- 5 and 6. --teach: a take too short, a person who left -------------------------------------------------------


@pytest.fixture
def teach_setup(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("zmq")
    from realtime.sources.demo import perform
    from realtime.sources.replay import save_recording

    joints, times, _ = perform((("stand still", 0.5), ("forward kick", 3.5), ("stand still", 1.0)), seed=5)
    rec = save_recording(tmp_path / "perf.npz", joints, times)
    labels = tmp_path / "labels.txt"
    labels.write_text("my kick\nwalk\n", encoding="utf-8")
    base = ["--replay", str(rec), "--labels", str(labels), "--no-display", "--endpoint", "tcp://127.0.0.1:*"]
    return base, tmp_path / "ex"


def _folder_state(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_teach_take_too_short_for_a_window_is_refused_and_nothing_is_saved(teach_setup, capsys, monkeypatch) -> None:
    from realtime import teaching
    from realtime.cli import main

    base, folder = teach_setup
    teach = ["--examples", str(folder), "--teach", "my kick"]
    # refused at start, before the person is asked to perform: 64 frames at 30 fps less 2 x 1 s of hold = 0.13 s
    assert main([*base, *teach, "--teach-seconds", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "--teach-seconds 0.1 is too short" in err and "use --teach-seconds 0.2 or more" in err, err
    assert "do it now" not in err and not folder.exists()
    # a folder with a good take stays as it is when a take gives no window after all (checked before saving)
    assert main([*base, *teach, "--teach-seconds", "3"]) == 0
    before = _folder_state(folder)
    monkeypatch.setattr(teaching, "min_take_seconds", lambda model, opts: 0.0)  # let the short take through
    capsys.readouterr()
    assert main([*base, *teach, "--teach-seconds", "0.05"]) == 2
    err = capsys.readouterr().err
    assert re.search(r"the take \(\d+ frames, 0\.\d+ s\) is too short to give the model a window", err), err
    assert f"nothing was added to {folder}" in err and re.search(r"use --teach-seconds 0\.\d or more", err)
    assert _folder_state(folder) == before
    monkeypatch.undo()
    from realtime.head.examples import read_examples

    assert len(read_examples(folder).clips["my kick"]) == 1  # the folder still reads back


def test_check_take_counts_the_windows_of_a_take() -> None:
    pytest.importorskip("onnxruntime")
    from realtime.backends.live_model import load_live_model
    from realtime.pipeline import PipelineOptions
    from realtime.sources.demo import perform
    from realtime.teaching import check_take, min_take_seconds
    from sadvae.data.record import SkeletonSequence

    model = load_live_model(None, "onnxruntime")
    try:
        opts = PipelineOptions(min_window_frames=64)
        assert min_take_seconds(model, opts) == pytest.approx(64 / 30 - 2.0)
        assert min_take_seconds(model, PipelineOptions(min_window_frames=None)) == pytest.approx(96 / 30 - 2.0)
        joints, _, _ = perform((("forward kick", 1.0),), seed=3)
        short = SkeletonSequence(joints[:3], 30.0, "x", label=0, label_name="a", subject=1)
        enough = SkeletonSequence(joints[:8], 30.0, "x", label=0, label_name="a", subject=1)
        assert check_take(model, short, opts) == 0 and check_take(model, enough, opts) >= 1
    finally:
        model.close()


def test_a_person_who_left_early_is_named_with_how_long_they_were_tracked(tmp_path, capsys) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("zmq")
    from realtime.cli import main
    from realtime.sources.demo import perform
    from realtime.sources.replay import save_recording

    joints, times, _ = perform((("stand still", 0.5), ("forward kick", 2.0)), seed=5)  # 2.5 s, then nobody for 3 s
    dt = times[1] - times[0]
    joints = np.concatenate([joints, np.zeros((90, *joints.shape[1:]), joints.dtype)])
    times = np.concatenate([times, times[-1] + dt * np.arange(1, 91)])
    rec = save_recording(tmp_path / "leave.npz", joints, times)
    folder = tmp_path / "ex"
    argv = ["--replay", str(rec), "--examples", str(folder), "--teach", "my kick", "--teach-seconds", "4"]
    labels = tmp_path / "labels.txt"
    labels.write_text("my kick\nwalk\n", encoding="utf-8")
    argv += ["--labels", str(labels), "--no-display", "--endpoint", "tcp://127.0.0.1:*"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert re.search(r"person 0 out of view since 2\.\d s, after 2\.\d s of the 4 s take: the take starts again", err)
    assert re.search(r"person 0 was tracked for 2\.\d s of the 4 s needed, then out of view for over 1 s", err), err
    assert "no person was tracked" not in err and not folder.exists()


def test_the_example_recorder_keeps_the_longest_take_across_restarts() -> None:
    from realtime.teaching import ExampleRecorder

    restarts = []
    rec = ExampleRecorder(5.0, lost_s=0.5, on_restart=lambda *a: restarts.append(a))
    j = np.ones((25, 3), np.float32)
    assert rec.longest is None
    for t in np.arange(0.0, 2.05, 0.1):
        rec.add(float(t), [(0, j)])
    rec.add(3.0, [])  # person 0 gone for 1 s: the take starts again
    assert restarts == [(0, pytest.approx(2.0), pytest.approx(2.0))] and rec.track is None
    assert rec.longest == (0, pytest.approx(2.0), True)
    rec.add(3.1, [(1, j)])
    rec.add(3.6, [(1, j)])
    assert rec.longest == (0, pytest.approx(2.0), True)  # person 1's 0.5 s is shorter
    for t in np.arange(3.7, 6.0, 0.1):
        rec.add(float(t), [(1, j)])
    assert rec.longest[0] == 1 and rec.longest[2] is False


# ---- 7. an unwritable --record fails before anything is loaded --------------------------------------------------


def test_an_unwritable_recording_is_refused_when_the_overlay_is_built(no_h264, tmp_path) -> None:
    (tmp_path / "d.webm").mkdir()
    for record in ("d.webm", "d.mp4"):  # d.mp4 is written as d.webm here
        with pytest.raises(ConfigError, match=r"d\.webm is a folder; name a video file"):
            Overlay(OverlayOptions(record=str(tmp_path / record)))
    if Path("/proc/self").is_dir():  # a folder no file can be made in (root may write anywhere else)
        with pytest.raises(ConfigError, match=r"cannot write /proc/x\.webm \(No such file or directory\)"):
            Overlay(OverlayOptions(record="/proc/x.webm"))
    # the probe leaves nothing behind, and an existing file as it was until the first frame
    Overlay(OverlayOptions(record=str(tmp_path / "new.webm")))
    assert not (tmp_path / "new.webm").exists()
    (tmp_path / "old.webm").write_bytes(b"old")
    Overlay(OverlayOptions(record=str(tmp_path / "old.webm")))
    assert (tmp_path / "old.webm").read_bytes() == b"old"


def test_teach_with_an_unwritable_recording_fails_before_the_person_performs(no_h264, tmp_path, capsys) -> None:
    pytest.importorskip("zmq")
    from realtime.cli import main

    clip = tiny_video(tmp_path / "clip.avi")
    (tmp_path / "d.webm").mkdir()
    teach = ["--examples", str(tmp_path / "ex"), "--teach", "walk"]
    assert main(["--video", str(clip), "--record", str(tmp_path / "d.webm"), *live_args(tmp_path, *teach)]) == 2
    err = capsys.readouterr().err
    assert "d.webm is a folder" in err and "do it now" not in err and "Traceback" not in err
    assert not (tmp_path / "ex").exists()


# ---- 8. frames of a new size ------------------------------------------------------------------------------------


def test_frames_of_a_new_size_are_scaled_into_the_recording(tmp_path, caplog) -> None:
    overlay = Overlay(OverlayOptions(record=str(tmp_path / "sizes.avi"), fps=30))
    with caplog.at_level(logging.WARNING, logger="realtime.overlay"):
        for size in ((240, 320), (480, 640)):
            for _ in range(30):
                overlay.show(np.zeros((*size, 3), np.uint8), [])
        overlay.close()
    assert decoded(overlay.recording.path)[0] == 60
    assert caplog.text.count("changed size from 320x240 to 640x480") == 1
