"""The overlay: a readable panel per person, sized for the frame, beside the person; browser-playable recordings."""

from __future__ import annotations

import logging

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from sadvae_tests_helpers import standing_figure as figure  # noqa: E402

from realtime import overlay as ov  # noqa: E402
from realtime.overlay import (  # noqa: E402
    Overlay,
    OverlayOptions,
    panel_size,
    panel_style,
    place_panel,
    plan_recording,
)
from realtime.view import TrackView, make_view  # noqa: E402
from sadvae.errors import ConfigError  # noqa: E402

SIZES = [(160, 120), (320, 240), (340, 256), (640, 480), (1280, 720), (1920, 1080)]
NAMES = ["put on clothes", "fall down", "walk"]


def box_of(landmarks: np.ndarray, w: int, h: int) -> tuple[int, int, int, int]:
    pts = np.round(landmarks * (w, h)).astype(int)
    return pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()


def test_panel_is_sized_from_the_frame_and_stays_readable() -> None:
    scales, prev = [], None
    for w, h in SIZES:
        style = panel_style(w, h)
        pw, ph = panel_size(style, NAMES)
        assert style.text_h >= 7, (w, h, style)  # OpenCV's Hershey font is unreadable below ~7 px
        assert pw <= 0.45 * w + 1 and ph <= 0.55 * h, (w, h, pw, ph)
        assert style.rows >= 2 and (style.rows == 3 or h < 200)  # small frames drop the 3rd row, no smaller
        scales.append(style.scale)
        if prev is not None:
            assert style.text_h >= prev
        prev = style.text_h
    assert scales[0] == pytest.approx(0.3) and scales[-1] > 3 * scales[0]
    assert 0.015 * 1080 <= panel_style(1920, 1080).text_h <= 0.04 * 1080


@pytest.mark.parametrize(("w", "h"), [*SIZES, (720, 1280)])
def test_a_label_the_panel_was_sized_for_is_drawn_whole(w: int, h: int) -> None:
    """At thickness 2 a panel came out a pixel narrower than its rows: "take off clothes" read "take off cloth.." on a
    720x1280 frame (the overlay audit, 7 December 2026)."""
    import cv2

    from realtime.overlay import _fit

    style = panel_style(w, h)
    for name in ("take off clothes", "put on clothes", "hand waving", *NAMES):
        pw, _ = panel_size(style, [name])
        if pw >= style.max_width:
            continue  # wider than the panel may be: shortened by design
        inner = pw - 2 * style.pad
        num_w = cv2.getTextSize("0.00", cv2.FONT_HERSHEY_SIMPLEX, style.scale, style.thickness)[0][0]
        assert _fit(cv2, name, style, inner - num_w - style.pad) == name, (w, h, name)
        assert _fit(cv2, f"#12 {name}", style, inner) == f"#12 {name}", (w, h, name)


def test_panel_goes_beside_the_person_not_over_them() -> None:
    w, h, size = 640, 480, (174, 128)
    for cx in (0.2, 0.5, 0.8):  # left, middle, right of the frame: always room beside
        person = box_of(figure(cx), w, h)
        x, y = place_panel(size, person, (w, h))
        panel = (x, y, x + size[0], y + size[1])
        assert 0 <= x and x + size[0] <= w and 0 <= y and y + size[1] <= h
        assert ov._overlap(panel, person) == 0, (cx, panel, person)
    # a second person and an earlier panel are avoided too when possible
    a, b = box_of(figure(0.3), w, h), box_of(figure(0.55), w, h)
    x, y = place_panel(size, a, (w, h), [b])
    assert ov._overlap((x, y, x + size[0], y + size[1]), b) == 0
    # a person filling the frame: the panel still lies inside it
    x, y = place_panel(size, (0, 0, w, h), (w, h))
    assert 0 <= x <= w - size[0] and 0 <= y <= h - size[1]


@pytest.mark.parametrize(("w", "h"), SIZES)
def test_draw_panels_for_every_state_at_every_size(w: int, h: int) -> None:
    overlay = Overlay(OverlayOptions())
    image = np.full((h, w, 3), 90, np.uint8)
    decided = make_view(0, np.array([0.1, 0.7, 0.2]), NAMES, no_action=False, min_score=0.2, decided="fall down")
    rejected = make_view(1, np.array([0.3, 0.35, 0.35]), NAMES, no_action=True, min_score=0.2)
    items = [
        (0, figure(0.25, 0.3), decided),
        (1, figure(0.75, 0.3), rejected),
        (2, figure(0.5, 0.1), None),
        (3, None, decided),
    ]
    out = overlay.draw(image, items, 25.0)
    assert out.shape == image.shape and not np.array_equal(out, image) and (image == 90).all()

    def dark(drawn: np.ndarray) -> int:  # a panel darkens its background; the frame's fps text does not
        return int((drawn.max(axis=2) < 40).sum())

    # each of the three tracks with landmarks draws its panel (decided, rejected, no window yet); track 3 has no
    # landmarks this frame and draws nothing; together, the three panels (they may overlap a little in a tiny frame)
    style = panel_style(w, h)
    smallest = panel_size(style, [])
    alone = [dark(Overlay(OverlayOptions()).draw(image, [item], 25.0)) for item in items]
    assert dark(Overlay(OverlayOptions()).draw(image, [], 25.0)) == 0
    assert all(a > 0.5 * smallest[0] * smallest[1] for a in alone[:3]) and alone[3] == 0, alone
    assert np.array_equal(out, Overlay(OverlayOptions()).draw(image, items[:3], 25.0))
    assert dark(out) >= 0.9 * sum(alone[:3])


def test_old_item_form_still_draws() -> None:
    overlay = Overlay(OverlayOptions())
    image = np.zeros((120, 160, 3), np.uint8)
    out = overlay.draw(image, [(0, figure(0.5), "wave", 0.9), (1, figure(0.2), None, 0.0)], 12.5)
    assert not np.array_equal(out, Overlay(OverlayOptions()).draw(image, [], 12.5))  # more than the fps text
    view = ov._as_view((0, None, "wave", 0.9))[2]
    assert isinstance(view, TrackView) and view.decided == "wave" and not view.no_action


# ---- recording --------------------------------------------------------------------------------------------


@pytest.fixture
def codecs(monkeypatch):
    """Pretend this OpenCV has only the given fourccs."""

    def have(*fourccs: str) -> None:
        monkeypatch.setattr(ov, "_encoder_works", lambda cv2, fourcc, suffix: fourcc in fourccs)

    return have


def test_recording_prefers_h264_then_webm_then_mjpg(codecs, tmp_path, caplog) -> None:
    want = tmp_path / "out.mp4"
    codecs("avc1", "VP80", "MJPG")
    rec = plan_recording(want, cv2)
    assert (rec.path, rec.fourcc, rec.browser) == (str(want), "avc1", True)
    codecs("VP80", "VP90", "MJPG")
    with caplog.at_level(logging.WARNING, logger="realtime.overlay"):
        rec = plan_recording(want, cv2)
    assert (rec.path, rec.fourcc, rec.browser) == (str(tmp_path / "out.webm"), "VP80", True)
    # said once, by the start-up summary's line (rec.describe()); at the default level no second warning (a pose
    # audit of 7 December 2026, late, saw both)
    assert "recording to" not in caplog.text and "instead of" in rec.describe()
    codecs("VP90")
    assert plan_recording(tmp_path / "out.webm", cv2).fourcc == "VP90"
    caplog.clear()
    codecs("MJPG", "mp4v")  # mp4v (MPEG-4 Part 2) is not tried: browsers do not play it
    with caplog.at_level(logging.WARNING, logger="realtime.overlay"):
        rec = plan_recording(want, cv2)
    assert (rec.path, rec.fourcc, rec.browser) == (str(tmp_path / "out.avi"), "MJPG", False)
    assert "browsers will not play it" in caplog.text and "ffmpeg -i" in caplog.text
    assert "browsers will NOT play it" in rec.describe()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="realtime.overlay"):  # .avi asked for: no "this OpenCV has no"
        assert plan_recording(tmp_path / "out.avi", cv2).fourcc == "MJPG"
    assert "encoder" not in caplog.text
    codecs()
    with pytest.raises(Exception, match="can write none of"):
        plan_recording(want, cv2)
    with pytest.raises(ConfigError, match=r"expected a \.mp4, \.webm or \.avi"):
        plan_recording(tmp_path / "out.gif", cv2)


def test_this_opencv_records_what_plan_recording_says(tmp_path) -> None:
    """On the installed OpenCV (here: no H.264 encoder, VP8 .webm), the planned file is written and decodes."""
    overlay = Overlay(OverlayOptions(record=str(tmp_path / "rec.mp4"), fps=15))
    rec = overlay.recording
    assert rec.fourcc in ("avc1", "VP80", "VP90", "MJPG") and rec.browser == (rec.fourcc != "MJPG")
    view = make_view(0, np.array([0.1, 0.7, 0.2]), NAMES, no_action=False, min_score=0.2)
    for _ in range(6):
        assert overlay.show(np.zeros((120, 160, 3), np.uint8), [(0, figure(0.5), view)])
    overlay.close()
    overlay.close()
    cap = cv2.VideoCapture(rec.path)
    frames = 0
    while cap.read()[0]:
        frames += 1
    fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode(errors="replace")
    cap.release()
    assert frames == 6 and cap is not None
    assert fourcc.lower().startswith({"avc1": "avc1", "VP80": "vp8", "VP90": "vp9", "MJPG": "mjpg"}[rec.fourcc][:3])


def test_live_sources_never_wait_for_a_slow_encoder(monkeypatch, tmp_path, caplog) -> None:
    import threading
    import time

    release = threading.Event()

    class SlowWriter:
        written = 0

        def __init__(self, *args):
            pass

        def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
            return True

        def write(self, frame) -> None:
            release.wait(5.0)
            SlowWriter.written += 1

        def release(self) -> None:
            pass

    monkeypatch.setattr(cv2, "VideoWriter", SlowWriter)
    rec = ov.Recording(str(tmp_path / "x.webm"), "VP80", "VP8 in WebM", True, str(tmp_path / "x.webm"))
    sink = ov._VideoSink(cv2, rec, 30.0, (32, 32), queue_size=4, block=False)
    frame = np.zeros((32, 32, 3), np.uint8)
    t0 = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="realtime.overlay"):
        for _ in range(20):
            sink.write(frame)
        assert time.monotonic() - t0 < 1.0  # never waited for the stuck encoder
        release.set()
        sink.close()
    assert sink.dropped >= 20 - 4 - 1 and SlowWriter.written == 20 - sink.dropped
    assert "slower than the live source" in caplog.text and "left out of the recording" in caplog.text


def test_a_second_ctrl_c_while_encoding_still_finishes_the_file(monkeypatch, tmp_path, caplog) -> None:
    """Review of 6 December 2026: KeyboardInterrupt in close() skipped release(): the file was cut mid-frame and the
    process aborted while the daemon encoder thread still ran."""
    import threading

    calls: list[str] = []
    gate = threading.Event()

    class Writer:
        def __init__(self, *args):
            pass

        def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
            return True

        def write(self, frame) -> None:
            gate.wait(5.0)
            calls.append("write")

        def release(self) -> None:
            calls.append("release")

    monkeypatch.setattr(cv2, "VideoWriter", Writer)
    rec = ov.Recording(str(tmp_path / "x.webm"), "VP80", "VP8 in WebM", True, str(tmp_path / "x.webm"))
    sink = ov._VideoSink(cv2, rec, 30.0, (32, 32), queue_size=32, block=True)
    for _ in range(20):
        sink.write(np.zeros((32, 32, 3), np.uint8))
    real_wait, interrupts = sink._done.wait, [2]

    def interrupted_wait(*args, **kw):  # Ctrl-Cs land while close() waits for the encoder: the first cuts the
        if interrupts[0]:  # queue, the next one must not shorten the wait for the frame being encoded
            interrupts[0] -= 1
            gate.set()
            raise KeyboardInterrupt
        return real_wait(*args, **kw)

    sink._done.wait = interrupted_wait
    with caplog.at_level(logging.WARNING, logger="realtime.overlay"), pytest.raises(KeyboardInterrupt):
        sink.close()
    # released only once the encoder had ended (a second Ctrl-C released it under the encoding thread: a
    # segmentation fault, the overlay audit of 7 December 2026)
    sink._thread.join(5.0)  # its end is signalled in its finally: the thread itself may still be returning
    assert calls[-1] == "release" and calls.count("write") < 20 and not sink._thread.is_alive()  # queue dropped
    assert "finishing the recording" in caplog.text and "cut short" in caplog.text


def test_help_says_which_codecs_record() -> None:
    from realtime.cli import build_parser

    text = " ".join(build_parser().format_help().split())
    assert "H.264 .mp4" in text and ".webm" in text and "Motion-JPEG .avi" in text and "browsers do not play" in text
    assert "every window of every person" in text


def test_a_panel_says_which_body_parts_are_out_of_view() -> None:
    """A person framed from the hips up gets an amber "legs out of view" line under the scores, in a taller panel."""
    w, h = 640, 480
    style = panel_style(w, h)
    plain = make_view(0, np.array([0.1, 0.7, 0.2]), NAMES, no_action=False, min_score=0.2)
    legs = make_view(0, np.array([0.1, 0.7, 0.2]), NAMES, no_action=False, min_score=0.2, out_of_view=("legs",))
    assert ov.panel_notes(plain) == [] and ov.panel_notes(None) == []
    assert ov.panel_notes(legs) == ["legs out of view"]
    names = [n for n, _ in legs.topk]
    assert panel_size(style, names, ov.panel_notes(legs))[1] == panel_size(style, names)[1] + style.line
    overlay = Overlay(OverlayOptions())
    image = np.full((h, w, 3), 90, np.uint8)
    amber = [np.all(overlay.draw(image, [(0, figure(0.3), v)], 25.0) == ov._AMBER, axis=2).sum() for v in (plain, legs)]
    assert amber[0] == 0 and amber[1] > 20
