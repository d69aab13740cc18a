"""Optional OpenCV overlay: skeletons and a panel per person showing what the model sees; a window and/or a video.

Nothing here runs unless ``--display`` or ``--record`` asks for it, and a window is never opened on a
headless machine (:func:`has_display`). OpenCV is imported when an :class:`Overlay` is built.

Each person gets a panel (:func:`draw_panel`): the track id and the decided action (or "no action"),
then the latest window's top 3 labels with their probabilities as bars. Font and panel sizes follow
the frame (160x120 up to 1920x1080 and beyond), and the panel goes beside the person, not over them,
wherever the frame leaves room (:func:`place_panel`).

Recordings are written in a format a web browser plays where the installed OpenCV can
(:func:`plan_recording`): H.264 in ``.mp4`` if OpenCV has an H.264 encoder, else VP8 (or VP9) in
``.webm``, else Motion-JPEG in ``.avi`` with a warning (browsers do not play it). The frames are
encoded on a writer thread, so a slow encoder overlaps with the pose stage instead of adding to it.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import queue
import sys
import tempfile
import threading
import time
import unicodedata
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from realtime.frames import opencv
from realtime.view import TrackView
from sadvae.errors import ConfigError, SourceError

__all__ = [
    "OverlayOptions",
    "Overlay",
    "Recording",
    "RECORD_SUFFIXES",
    "plan_recording",
    "has_display",
    "plausible_fps",
    "panel_style",
    "panel_size",
    "place_panel",
    "draw_panel",
    "drawable",
    "POSE_EDGES",
]

log = logging.getLogger(__name__)

# MediaPipe Pose landmark pairs drawn as bones (face outline left out: nose to shoulders gives the head)
POSE_EDGES: tuple[tuple[int, int], ...] = (
    (11, 12),
    (11, 13),
    (13, 15),
    (12, 14),
    (14, 16),
    (11, 23),
    (12, 24),
    (23, 24),
    (23, 25),
    (25, 27),
    (24, 26),
    (26, 28),
    (27, 29),
    (29, 31),
    (27, 31),
    (28, 30),
    (30, 32),
    (28, 32),
    (15, 19),
    (16, 20),
    (0, 7),
    (0, 8),
)
_COLOURS = ((0, 200, 255), (255, 160, 0), (120, 255, 120), (255, 80, 200), (80, 80, 255), (255, 255, 80))
_GREY = (170, 170, 170)
_WHITE = (240, 240, 240)
_AMBER = (0, 176, 255)  # BGR: notes (body parts out of view)
_KEYS_QUIT = (ord("q"), 27)  # q, Esc
WINDOW = "sadvae-live"
MAX_REPEAT = 10  # a recorded frame is written at most this often to fill the frames the source dropped after it
FPS_RANGE = (1.0, 240.0)  # frame rates a source may declare; outside (RTSP's 90000, a camera's 0): measured instead
_MEASURE_S, _MEASURE_FRAMES = 1.0, 30  # a recording whose rate is measured waits this long (or this many frames)

# ---- recording formats ------------------------------------------------------------------------------------

RECORD_SUFFIXES = (".mp4", ".webm", ".avi")
# (fourcc, suffix, what it is, browsers play it); tried in order for each requested suffix
_H264 = ("avc1", ".mp4", "H.264 in MP4", True)
_VP8 = ("VP80", ".webm", "VP8 in WebM", True)
_VP9 = ("VP90", ".webm", "VP9 in WebM", True)
_MJPG = ("MJPG", ".avi", "Motion-JPEG in AVI", False)
_CHAINS = {".mp4": (_H264, _VP8, _VP9, _MJPG), ".webm": (_VP8, _VP9, _H264, _MJPG), ".avi": (_MJPG,)}
_PROBED: dict[str, bool] = {}


@dataclass(frozen=True)
class Recording:
    """The file and codec a recording is written with (:func:`plan_recording`).

    Attributes:
        path: the file actually written (its suffix may differ from the one asked for).
        fourcc: the OpenCV codec tag ("avc1", "VP80", "VP90" or "MJPG").
        codec: what it is, in words ("H.264 in MP4").
        browser: whether web browsers play the file.
        requested: the path asked for.
    """

    path: str
    fourcc: str
    codec: str
    browser: bool
    requested: str

    def describe(self) -> str:
        """One line for the start-up summary."""
        where = "" if self.path == self.requested else f" instead of {self.requested}"
        plays = "browsers play it" if self.browser else "browsers will NOT play it"
        return f"{self.path}{where}, {self.codec} ({plays})"


@contextlib.contextmanager
def _silent_stderr() -> Iterator[None]:
    """Native encoder probes print to file descriptor 2 ("Could not find encoder ..."); hide it for a moment."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real descriptor 2 (embedded interpreters)
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _encoder_works(cv2: Any, fourcc: str, suffix: str) -> bool:
    """Whether this OpenCV can write ``fourcc`` into a ``suffix`` file (one 64x64 frame, cached per process)."""
    key = fourcc + suffix
    if key not in _PROBED:
        with tempfile.TemporaryDirectory(prefix="sadvae-codec-") as tmp:
            path = os.path.join(tmp, "probe" + suffix)
            level = cv2.utils.logging.getLogLevel()
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
            try:
                with _silent_stderr():
                    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), 30.0, (64, 64))
                    ok = writer.isOpened()
                    if ok:
                        writer.write(np.zeros((64, 64, 3), np.uint8))
                    writer.release()
            finally:
                cv2.utils.logging.setLogLevel(level)
            _PROBED[key] = ok and os.path.exists(path) and os.path.getsize(path) > 0
    return _PROBED[key]


def plan_recording(path: str | Path, cv2: Any = None) -> Recording:
    """Choose the codec (and so the file suffix) of a recording for the OpenCV at hand.

    ``.mp4`` tries H.264, then VP8 and VP9 in ``.webm``, then Motion-JPEG in ``.avi``; ``.webm``
    tries VP8, VP9, then H.264 ``.mp4``, then ``.avi``; ``.avi`` is Motion-JPEG. A fallback keeps the
    file's stem and folder and changes its suffix, with a warning in the log.

    Raises:
        ConfigError: an unsupported suffix; SourceError: OpenCV can write none of them.
    """
    if cv2 is None:
        cv2 = opencv()
    p = Path(path)
    chain = _CHAINS.get(p.suffix.lower())
    if chain is None:
        raise ConfigError(f"--record {p}: expected a .mp4, .webm or .avi file name")
    for fourcc, suffix, codec, browser in chain:
        if _encoder_works(cv2, fourcc, suffix):
            out = p if p.suffix.lower() == suffix else p.with_suffix(suffix)
            rec = Recording(str(out), fourcc, codec, browser, str(p))
            if not browser and p.suffix.lower() == ".avi":  # asked for: no fallback to explain
                log.info("recording %s as %s (web browsers do not play it; .webm or .mp4 for that)", out, codec)
            elif not browser:
                log.warning(
                    "recording %s as %s: web browsers will not play it (this OpenCV has no H.264 or VP8/VP9 "
                    "encoder); convert it with `ffmpeg -i %s -c:v libx264 -pix_fmt yuv420p out.mp4`, or install an "
                    "OpenCV build with FFmpeg and libx264/libvpx",
                    out,
                    codec,
                    out,
                )
            elif out != p:  # the start-up summary says it ("recording: X instead of Y"): not twice on stderr
                log.info("this OpenCV cannot write %s: recording to %s (%s) instead", p, out, codec)
            return rec
    raise SourceError(f"cannot record {p}: this OpenCV can write none of H.264 (.mp4), VP8/VP9 (.webm), MJPG (.avi)")


class _VideoSink:
    """A ``cv2.VideoWriter`` fed from a bounded queue on its own thread (encoding overlaps with the next frames)."""

    def __init__(
        self, cv2: Any, rec: Recording, fps: float, size: tuple[int, int], queue_size: int = 32, block: bool = True
    ):
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        try:
            with _silent_stderr():  # FFmpeg notes the tag it maps the fourcc to, on stderr
                self._writer = cv2.VideoWriter(rec.path, cv2.VideoWriter_fourcc(*rec.fourcc), float(fps), size)
        finally:
            cv2.utils.logging.setLogLevel(level)
        if not self._writer.isOpened():
            raise SourceError(f"cannot write the recording {rec.path} ({rec.codec}): OpenCV could not open it")
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=queue_size)
        self._error: BaseException | None = None
        self.block, self.dropped, self.path = block, 0, rec.path
        # the writer thread's own end, and the cut a second Ctrl-C asks for: Thread.join() interrupted by a
        # KeyboardInterrupt may return early on a later call while the thread still encodes (CPython before 3.13),
        # and releasing the writer under it crashed the process (segmentation fault; overlay audit, 7 December 2026)
        self._done, self._cut = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, name="sadvae-record", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while (frame := self._queue.get()) is not None:
                if self._error is None and not self._cut.is_set():
                    try:
                        self._writer.write(frame)
                    except Exception as e:  # reported by the next write() or close()
                        self._error = e
        finally:
            self._done.set()

    def _wait_done(self, interruptible: bool) -> None:
        """Wait for the writer thread to end (a Ctrl-C raises here when ``interruptible``; once the queue is cut, the
        wait is for at most the frame being encoded, and no Ctrl-C shortens it)."""
        while True:
            try:
                if self._done.wait(0.1):
                    return
            except KeyboardInterrupt:
                if interruptible:
                    raise

    def write(self, frame: np.ndarray) -> None:
        """Queue one BGR frame; while the encoder is ``queue_size`` frames behind, wait (``block``) or drop it."""
        if self._error is not None:
            raise SourceError(f"writing the recording failed: {self._error}")
        if self.block:
            self._queue.put(frame)
            return
        try:
            self._queue.put_nowait(frame)
        except queue.Full:
            if not self.dropped:
                log.warning(
                    "the encoder of %s is slower than the live source: dropping recorded frames (the "
                    "recording plays faster); record a smaller frame or use .avi",
                    self.path,
                )
            self.dropped += 1

    def close(self) -> None:
        """Encode what is queued and finish the file. A Ctrl-C while it encodes drops the frames still queued and
        still finishes the file (it was cut off mid-frame, unplayable, and the process aborted)."""
        if (queued := self._queue.qsize()) > 8:
            log.warning(
                "finishing the recording %s: %d frame(s) still to encode (Ctrl-C cuts it short)", self.path, queued
            )
        try:
            self._queue.put(None)
            self._wait_done(interruptible=True)
        except KeyboardInterrupt:
            self._cut.set()  # the writer skips what is still queued
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            try:
                self._queue.put_nowait(None)
            except queue.Full:  # the writer took the None already (or will not need it: it has ended)
                pass
            self._wait_done(interruptible=False)
            self._writer.release()
            log.warning("recording %s cut short: the frames still queued were left out", self.path)
            raise
        self._writer.release()
        if self.dropped:
            log.warning(
                "%d frame(s) left out of the recording %s (the encoder could not keep up)", self.dropped, self.path
            )
        if self._error is not None:
            raise SourceError(f"writing the recording failed: {self._error}")


# ---- panels -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PanelStyle:
    """Sizes of text and panels for one frame size (:func:`panel_style`).

    Attributes:
        scale: OpenCV font scale; thickness: text stroke; line: pixels per text line; text_h: cap height;
        bar: score bar height; pad: inner margin; max_width: widest panel allowed; rows: top-k rows shown.
    """

    scale: float
    thickness: int
    line: int
    text_h: int
    bar: int
    pad: int
    max_width: int
    rows: int


def panel_style(width: int, height: int, rows: int = 3) -> PanelStyle:
    """Font and panel sizes from the frame size.

    The font scale grows linearly with the frame height from OpenCV's smallest readable size (scale 0.3, text
    about 8 px) at 120 lines to 1.05 (about 28 px, 2.6 %) at 1080 lines, at most 1.5; a panel keeps fewer
    top-k rows when it would take more than 55 % of the height and is at most 45 % of the width.
    """
    import cv2

    short = min(height, width * 0.75)  # portrait or very wide frames: size by the shorter useful side
    scale = float(np.clip(0.3 + 0.75 * (short - 120.0) / 960.0, 0.3, 1.5))  # 0.3 at 120 lines, 1.05 at 1080
    thickness = 1 if scale < 0.6 else 2
    (_, text_h), base = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    bar = max(2, round(text_h * 0.35))
    pad = max(2, round(text_h * 0.45))
    line = text_h + base + 1
    max_width = max(60, int(width * 0.45))
    style = PanelStyle(scale, thickness, line, text_h, bar, pad, max_width, rows)
    while style.rows > 1 and panel_size(style, ["x"] * style.rows)[1] > 0.55 * height:
        style = PanelStyle(scale, thickness, line, text_h, bar, pad, max_width, style.rows - 1)
    return style


def _row_height(style: PanelStyle) -> int:
    return style.line + style.bar + style.pad // 2


def panel_size(style: PanelStyle, names: Sequence[str], notes: Sequence[str] = ()) -> tuple[int, int]:
    """(width, height) in pixels of a panel with a header, ``len(names)`` top-k rows and a line per note."""
    import cv2

    def text_w(text: str) -> int:
        return cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, style.scale, style.thickness)[0][0]

    rows = min(len(names), style.rows)
    # a row is drawn as the name, a pad, then the score (draw_panel); measured as such, not as "name  0.00", which
    # came out a pixel narrower at thickness 2 and cut "take off clothes" to "take off cloth.." (overlay audit, 7
    # December 2026); the header may name the decided label after the track's id
    widest = max(
        [max(text_w(n) + style.pad + text_w("0.00"), text_w(f"#00 {n}")) for n in names[:rows]]
        + [text_w("#00 no action")]
        + [text_w(n) for n in notes]
    )
    width = min(widest + 2 * style.pad, style.max_width)
    height = 2 * style.pad + style.line + style.pad // 2 + rows * _row_height(style) + len(notes) * style.line
    return int(width), int(height)


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> int:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(w, 0) * max(h, 0)


def _distance(box: tuple[int, int, int, int], person: tuple[int, int, int, int]) -> float:
    """Pixels from the centre of ``box`` to the nearest point of ``person`` (0 inside it)."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    dx = max(person[0] - cx, 0.0, cx - person[2])
    dy = max(person[1] - cy, 0.0, cy - person[3])
    return float(np.hypot(dx, dy))


def place_panel(
    size: tuple[int, int],
    person: tuple[int, int, int, int],
    frame: tuple[int, int],
    avoid: Sequence[tuple[int, int, int, int]] = (),
    others: Sequence[tuple[int, int, int, int]] = (),
) -> tuple[int, int]:
    """Top-left corner of a panel of ``size`` (w, h) beside the ``person`` box (x0, y0, x1, y1).

    Tries right of and left of the person (aligned with their top, middle and bottom), above and below them
    (aligned with their left, centre and right), then the frame's corners, each shifted inside the ``frame``
    (width, height). Of those whose centre is nearer the person than any of the ``others`` (the other persons'
    boxes), if any, the one that covers the fewest pixels of all the persons and of the ``avoid`` boxes (panels
    placed before, the frame rate) together wins, then the one nearest the person: a panel never goes over someone
    else, or beside them, to spare a few pixels of its own person.
    """
    w, h = size
    fw, fh = frame
    x0, y0, x1, y1 = person
    gap = 4
    mid_x, mid_y = (x0 + x1 - w) // 2, (y0 + y1 - h) // 2
    candidates = [
        *((x1 + gap, y) for y in (y0, mid_y, y1 - h)),
        *((x0 - gap - w, y) for y in (y0, mid_y, y1 - h)),
        *((x, y0 - gap - h) for x in (x0, mid_x, x1 - w)),
        *((x, y1 + gap) for x in (x0, mid_x, x1 - w)),
        (fw - w, 0),
        (0, 0),
        (fw - w, fh - h),
        (0, fh - h),
    ]
    best, best_cost = (0, 0), None
    for cx, cy in candidates:
        cx = int(min(max(cx, 0), max(fw - w, 0)))
        cy = int(min(max(cy, 0), max(fh - h, 0)))
        box = (cx, cy, cx + w, cy + h)
        near = _distance(box, person)
        astray = any(_distance(box, other) < near for other in others)  # it would look like someone else's
        covered = sum(_overlap(box, b) for b in (person, *others, *avoid))
        cost = (astray, covered, near)
        if best_cost is None or cost < best_cost:
            best, best_cost = (cx, cy), cost
    return best


# letters and signs that NFKD leaves as they are, written the way ASCII writes them
_ASCII_FOLD = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "þ": "th",
        "Þ": "Th",
        "ı": "i",
        "‘": "'",
        "’": "'",
        "“": '"',
        "”": '"',
        "–": "-",
        "—": "-",
    }
)


def _ascii(text: str) -> str | None:
    """``text`` in the ASCII that OpenCV's Hershey fonts draw: accents dropped (NFKD, "Café" -> "Cafe"), a few letters
    spelled out ("ß" -> "ss"); None when something else is left (Chinese, Cyrillic, emoji, ...)."""
    folded = unicodedata.normalize("NFKD", text.translate(_ASCII_FOLD))
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return folded if folded.isascii() and folded.isprintable() else None


def drawable(text: str, aliases: dict[str, str] | None = None) -> str:
    """A label as the overlay draws it: OpenCV's Hershey fonts have ASCII only and draw any other character as "?",
    so "喝水" and "刷牙" would both read "??". Accents are dropped ("Café" -> "Cafe"); a label with other characters
    is drawn as its entry in ``aliases`` ("label 7": its line in the labels file, :meth:`Overlay.set_labels`), else as
    "label " and four hex digits of its CRC-32 (the same label always the same, two labels apart)."""
    if aliases and text in aliases:
        return aliases[text]
    folded = _ascii(text)
    if folded is not None:
        return folded
    return f"label {zlib.crc32(text.encode('utf-8')) & 0xFFFF:04x}"


def _fit(cv2: Any, text: str, style: PanelStyle, width: int) -> str:
    """``text`` shortened with ".." to fit ``width`` pixels."""
    if cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, style.scale, style.thickness)[0][0] <= width:
        return text
    while len(text) > 1:
        text = text[:-1]
        if cv2.getTextSize(text + "..", cv2.FONT_HERSHEY_SIMPLEX, style.scale, style.thickness)[0][0] <= width:
            return text + ".."
    return text


def _text(cv2: Any, img: np.ndarray, text: str, org: tuple[int, int], style: PanelStyle, colour) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, style.scale, colour, style.thickness, cv2.LINE_AA)


def draw_panel(
    img: np.ndarray,
    view: TrackView | None,
    track_id: int,
    at: tuple[int, int],
    size: tuple[int, int],
    style: PanelStyle,
    colour: tuple[int, int, int],
) -> None:
    """Draw one person's panel in place at ``at`` (top-left), ``size`` (w, h) as from :func:`panel_size`.

    Header: ``#id`` and the decided action in the track's colour, or "no action" (the head or the
    decision rule found none of the labels fits), "undecided" (a label leads but is not decided yet) or
    "waiting" (no full window yet). Rows: the latest window's best labels, probability as text and bar; then
    :func:`panel_notes` (body parts out of view) in amber.
    """
    import cv2

    x, y = at
    w, h = size
    roi = img[y : y + h, x : x + w]
    roi[:] = (roi * 0.3).astype(np.uint8)  # darkened background: readable on any scene
    cv2.rectangle(img, (x, y), (x + w - 1, y + h - 1), colour, 1)
    inner = w - 2 * style.pad
    ty = y + style.pad + style.text_h
    if view is None:
        head, head_colour = f"#{track_id} waiting", _GREY
    elif view.decided is not None:
        head, head_colour = f"#{track_id} {view.decided}", colour
    elif view.no_action:
        head, head_colour = f"#{track_id} no action", _GREY
    else:
        head, head_colour = f"#{track_id} undecided", _WHITE
    _text(cv2, img, _fit(cv2, head, style, inner), (x + style.pad, ty), style, head_colour)
    if view is None:
        return
    ty += style.line - style.text_h + style.pad // 2
    for name, score in view.topk[: style.rows]:
        ty += style.text_h
        num = f"{score:.2f}"
        num_w = cv2.getTextSize(num, cv2.FONT_HERSHEY_SIMPLEX, style.scale, style.thickness)[0][0]
        is_decided = name == view.decided
        text_colour = colour if is_decided else (_GREY if view.no_action else _WHITE)
        _text(cv2, img, _fit(cv2, name, style, inner - num_w - style.pad), (x + style.pad, ty), style, text_colour)
        _text(cv2, img, num, (x + w - style.pad - num_w, ty), style, text_colour)
        by = ty + style.line - style.text_h - 1
        cv2.rectangle(img, (x + style.pad, by), (x + style.pad + inner - 1, by + style.bar - 1), (70, 70, 70), -1)
        filled = int(round(inner * min(max(score, 0.0), 1.0)))
        if filled > 0:
            bar_colour = colour if is_decided else (_GREY if view.no_action else _WHITE)
            cv2.rectangle(img, (x + style.pad, by), (x + style.pad + filled - 1, by + style.bar - 1), bar_colour, -1)
        ty = by + style.bar + style.pad // 2
    for note in panel_notes(view):
        ty += style.line
        _text(cv2, img, _fit(cv2, note, style, inner), (x + style.pad, ty - style.line + style.text_h), style, _AMBER)


def panel_notes(view: TrackView | None) -> list[str]:
    """Lines under a panel's scores: the body parts out of view ("legs out of view"), where recognition suffers."""
    if view is None or not view.out_of_view:
        return []
    return [f"{', '.join(view.out_of_view)} out of view"]


def _as_view(item: Sequence[Any]) -> tuple[int, Any, TrackView | None]:
    """``(track_id, landmarks, view)``; the older ``(track_id, landmarks, label, score)`` form still works."""
    if len(item) == 4:
        track_id, landmarks, label, score = item
        view = TrackView(int(track_id), ((label, float(score)),) if label else (), label is None, label, float(score))
        return int(track_id), landmarks, view
    track_id, landmarks, view = item
    return int(track_id), landmarks, view


# ---- the overlay ------------------------------------------------------------------------------------------


def has_display() -> bool:
    """Whether a window can be opened: always on Windows and macOS, on Linux only with $DISPLAY or $WAYLAND_DISPLAY."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@dataclass(frozen=True)
class OverlayOptions:
    """What the overlay does.

    Attributes:
        display: show a window (``q`` or Esc closes it and stops the pipeline).
        record: write the annotated frames to this video file (``.mp4``, ``.webm`` or ``.avi``; the codec
            and possibly the suffix are chosen by :func:`plan_recording`), or None.
        fps: frame rate written into the recording.
        record_wait: when the encoder falls behind, wait for it (files: a complete recording) rather than
            leave frames out of the recording (live cameras and streams: the pipeline keeps its pace).
        measure_fps: a live source, whose declared frame rate may be wrong (a stream that says 0, 90000 or
            FFmpeg's default 25): the recording is written at the rate the frames arrive, measured over its first
            second (``fps`` when that is within 10 % of it, or when it cannot be measured).
        source_file: the video file being read (``--video``): a recording planned onto it is refused.
    """

    display: bool = False
    record: str | None = None
    fps: float = 30.0
    record_wait: bool = True
    measure_fps: bool = False
    source_file: str | None = None

    def __post_init__(self) -> None:
        if self.record is not None:
            p = Path(self.record)
            if p.suffix.lower() not in RECORD_SUFFIXES:
                raise ConfigError(f"--record {p}: expected a .mp4, .webm or .avi file name")
            if not p.parent.is_dir():
                raise ConfigError(f"--record {p}: folder {p.parent} does not exist")
        if self.display and not has_display():
            raise ConfigError(
                "--display needs a screen, but this machine has none ($DISPLAY is not set); "
                "use --no-display or --record out.mp4"
            )
        if not self.fps > 0:
            raise ConfigError(f"overlay fps must be > 0, got {self.fps!r}")


def plausible_fps(fps: Any) -> bool:
    """Whether a frame rate a source declares can be written into a recording (:data:`FPS_RANGE`)."""
    return isinstance(fps, int | float) and FPS_RANGE[0] <= fps <= FPS_RANGE[1]


def _same_file(a: Path, b: Path) -> bool:
    try:
        return (a.exists() and b.exists() and os.path.samefile(a, b)) or a.resolve() == b.resolve()
    except OSError:
        return False


def _check_recording(rec: Recording, source_file: str | None) -> None:
    """Refuse, before anything is read or loaded, a recording that would overwrite the video being read, or that
    cannot be written (a folder, no permission, a read-only disk): one line naming --record and the fix."""
    out, asked = Path(rec.path), Path(rec.requested)
    flag = f"--record {asked}" + (f" (written as {out}: {rec.codec})" if out != asked else "")
    if source_file is not None:
        video = Path(source_file)
        if _same_file(out, video) or _same_file(asked, video):
            # "would overwrite" only where it would: a .mp4 asked for and written as .webm names the video, no more
            what = "would overwrite" if _same_file(out, video) else "names"
            raise ConfigError(
                f"{flag} {what} the --video {video} being read; record to another file name, e.g. "
                f"--record {video.with_name(video.stem + '_overlay' + asked.suffix)}"
            )
    if out.is_dir():
        raise ConfigError(
            f"{flag}: {out} is a folder; name a video file, e.g. --record {out / ('overlay' + out.suffix)}"
        )
    existed = out.exists()
    if existed and out != asked:  # a file the user never named would be replaced
        raise ConfigError(
            f"{flag}: {out} exists, and this OpenCV cannot write {asked.suffix} files; to replace {out} name it "
            f"(--record {out}), else record to another name"
        )
    try:
        with open(out, "ab"):  # appends nothing: an existing file is left as it is until the first frame
            pass
    except OSError as e:
        raise ConfigError(f"{flag}: cannot write {out} ({e.strerror}); record to a folder you can write to") from None
    if not existed:
        with contextlib.suppress(OSError):
            out.unlink()


class Overlay:
    """Draws on frames and shows and/or records them.

    Args:
        opts: window and recording settings.

    Attributes:
        recording: the file and codec of the recording (:func:`plan_recording`), or None.
        frames: frames shown or recorded.

    Raises:
        MissingDependencyError: no OpenCV; SourceError: no codec can record here, or the file cannot be opened.
    """

    def __init__(self, opts: OverlayOptions):
        self.opts, self._cv2 = opts, opencv()
        self.recording = plan_recording(opts.record, self._cv2) if opts.record is not None else None
        if self.recording is not None:
            _check_recording(self.recording, opts.source_file)
        self._writer: _VideoSink | None = None
        self._size: tuple[int, int] | None = None  # (width, height) of the recording
        self._pending: list[tuple[np.ndarray, int, float]] = []  # (frame, times, arrival) while the rate is measured
        self._last_index: int | None = None
        self._warned: set[str] = set()
        self.written = 0  # frames written into the recording, repeats included
        self.source_dropped = 0  # frames the source dropped before they were shown (gaps in the frame index)
        self.record_fps: float | None = None  # the rate the recording is written at, once it is open
        self._clock = time.monotonic  # when frames arrive (tests replace it)
        self._window = False
        self._times: collections.deque[float] = collections.deque(maxlen=30)
        self._style: tuple[tuple[int, int], PanelStyle] | None = None
        self._aliases: dict[str, str] = {}  # label -> how it is drawn, for labels the font cannot draw
        self._named: set[str] = set()  # labels whose drawn name was logged
        self.frames = 0

    def set_labels(self, names: Iterable[str]) -> None:
        """The labels the panels will show (the labels file, in order): each that OpenCV's font cannot draw (not
        ASCII once its accents are dropped) is drawn as "label N", N its place in the list; logged once, here."""
        names = list(names)
        self._aliases = {}
        for i, name in enumerate(names, 1):
            if _ascii(name) is None:
                alias = f"label {i}"
                while alias in names or alias in self._aliases.values():  # a list that has a "label 3" of its own
                    alias += "*"
                self._aliases[name] = alias
        self._named |= set(self._aliases)
        if self._aliases:
            shown = ", ".join(f"{n!r} as {a!r}" for n, a in self._aliases.items())
            log.warning(
                "the overlay's font draws ASCII letters only: %d label(s) are shown by their place in the labels "
                "file: %s",
                len(self._aliases),
                shown,
            )

    def _drawable_view(self, view: TrackView | None) -> TrackView | None:
        """``view`` with its labels as the font can draw them (:func:`drawable`)."""
        if view is None:
            return None
        names = [n for n, _ in view.topk] + ([view.decided] if view.decided is not None else [])
        if all(n.isascii() and n.isprintable() for n in names):
            return view
        for n in names:
            if n not in self._named and _ascii(n) is None:
                self._named.add(n)
                log.warning("the overlay's font draws ASCII letters only: label %r is shown as %r", n, drawable(n))
        return replace(
            view,
            topk=tuple((drawable(n, self._aliases), score) for n, score in view.topk),
            decided=None if view.decided is None else drawable(view.decided, self._aliases),
        )

    def _style_for(self, w: int, h: int) -> PanelStyle:
        if self._style is None or self._style[0] != (w, h):
            self._style = ((w, h), panel_style(w, h))
        return self._style[1]

    def draw(self, image: np.ndarray, items: Sequence[Sequence[Any]], fps: float) -> np.ndarray:
        """Annotate a copy of ``image`` (BGR [H, W, 3]).

        Args:
            items: per person ``(track_id, image landmarks [33, 2] normalised or None, TrackView or None)``
                (a person without landmarks this frame is not drawn).
            fps: frames per second to print.
        """
        cv2, out = self._cv2, image.copy()
        h, w = out.shape[:2]
        style = self._style_for(w, h)
        people = []
        for item in items:
            track_id, landmarks, view = _as_view(item)
            if landmarks is None:
                continue
            view = self._drawable_view(view)
            pts = np.round(np.asarray(landmarks)[:, :2] * (w, h)).astype(np.int32)  # (K, 2) pixels
            colour = _COLOURS[track_id % len(_COLOURS)]
            line = max(1, round(style.scale * 3))
            for a, b in POSE_EDGES:
                if a < len(pts) and b < len(pts):
                    cv2.line(out, tuple(map(int, pts[a])), tuple(map(int, pts[b])), colour, line, cv2.LINE_AA)
            for p in pts[11:]:
                cv2.circle(out, tuple(map(int, p)), line + 1, colour, -1, cv2.LINE_AA)
            inside = np.clip(pts, 0, (w - 1, h - 1))
            box = (int(inside[:, 0].min()), int(inside[:, 1].min()), int(inside[:, 0].max()), int(inside[:, 1].max()))
            people.append((track_id, view, box, colour))
        placed: list[tuple[int, int, int, int]] = []
        fps_text = f"{fps:.1f} fps"
        (fw, fh), _ = cv2.getTextSize(fps_text, cv2.FONT_HERSHEY_SIMPLEX, style.scale, style.thickness)
        fps_box = (0, h - fh - 2 * style.pad, fw + 2 * style.pad, h)
        for track_id, view, box, colour in people:
            names = [n for n, _ in view.topk] if view is not None else []
            size = panel_size(style, names, panel_notes(view))
            if view is not None and view.decided is not None:  # the header may be the widest line
                size = (max(size[0], panel_size(style, [f"#{track_id} {view.decided}"])[0]), size[1])
            others = [b for _, _, b, _ in people if b is not box]
            at = place_panel(size, box, (w, h), [*placed, fps_box], others)
            draw_panel(out, view, track_id, at, size, style, colour)
            placed.append((at[0], at[1], at[0] + size[0], at[1] + size[1]))
        _text(cv2, out, fps_text, (style.pad, h - style.pad), style, _WHITE)
        return out

    def show(self, image: np.ndarray, items: Sequence[Sequence[Any]], index: int | None = None) -> bool:
        """Draw (with the frame rate of the latest 30 calls), record and display one frame.

        Args:
            index: the frame's :attr:`realtime.frames.Frame.index` (frames the source produced): a gap since the
                previous frame (frames a camera or stream dropped while the pipeline was busy) writes this frame
                that many times (at most :data:`MAX_REPEAT`), so the recording keeps the source's timing.

        Returns:
            False when the user closed the window (``q``, Esc or the close button), else True.
        """
        now = self._clock()
        self._times.append(now)
        span = self._times[-1] - self._times[0]
        out = self.draw(image, items, (len(self._times) - 1) / span if span > 0 else 0.0)
        self.frames += 1
        if self.recording is not None:
            self._record(out, self._repeats(index), now)
        if self.opts.display:
            cv2 = self._cv2
            cv2.imshow(WINDOW, out)
            self._window = True
            key = cv2.waitKey(1) & 0xFF
            if key in _KEYS_QUIT or cv2.getWindowProperty(WINDOW, cv2.WND_PROP_VISIBLE) < 1:
                return False
        return True

    def _warn_once(self, key: str, message: str, *args: Any) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message, *args)

    def _repeats(self, index: int | None) -> int:
        """How often the frame with source ``index`` is written: once, plus the frames dropped since the last one."""
        if index is None:
            return 1
        last, self._last_index = self._last_index, int(index)
        if last is None or index <= last + 1:  # the first frame, the next one, or a source that started over
            return 1
        self.source_dropped += index - last - 1
        self._warn_once(
            "dropped",
            "the source dropped frames while the pipeline was busy (%d after frame %d): in the recording %s, the "
            "frame after a gap is written once for each frame of the source since the last (at most %d times), to "
            "keep the source's timing",
            index - last - 1,
            last,
            self.recording.path if self.recording else "",
            MAX_REPEAT,
        )
        return min(index - last, MAX_REPEAT)

    def _record(self, out: np.ndarray, times: int, now: float) -> None:
        if self._writer is None and self.opts.measure_fps:
            self._pending.append((out, times, now))
            first = self._pending[0][2]
            if now - first < _MEASURE_S and len(self._pending) < _MEASURE_FRAMES:
                return
            self._open(self._measured_fps(), self._pending[0][0])
            return
        if self._writer is None:
            self._open(self.opts.fps, out)
        self._write(out, times)

    def _measured_fps(self) -> float:
        """Source frames per second over the frames held back (``opts.fps`` when that is near it or no rate can be
        measured)."""
        # the median interval per source frame: a burst of buffered frames at the start does not count
        steps = [(b[2] - a[2]) / b[1] for a, b in zip(self._pending, self._pending[1:], strict=False)]
        step = float(np.median(steps)) if steps else 0.0
        fps = round(1.0 / step, 2) if step > 0 else 0.0
        if not plausible_fps(fps):
            log.warning("could not measure the source's frame rate: recording at %g fps", self.opts.fps)
            return self.opts.fps
        if abs(fps / self.opts.fps - 1.0) <= 0.1:  # the rate declared (or the default) is right: the exact number
            return self.opts.fps
        log.warning(
            "the source's frames arrive at %g fps, not the %g fps expected (declared, or the default): the "
            "recording is written at %g fps",
            fps,
            self.opts.fps,
            fps,
        )
        return fps

    def _open(self, fps: float, first: np.ndarray) -> None:
        """Open the writer at ``fps``, sized as ``first``; write the frames held back while the rate was measured."""
        assert self.recording is not None
        self._size = (first.shape[1], first.shape[0])
        self._writer = _VideoSink(self._cv2, self.recording, fps, self._size, block=self.opts.record_wait)
        self.record_fps = fps
        log.info("recording the overlay to %s (%dx%d, %g fps)", self.recording.describe(), *self._size, fps)
        pending, self._pending = self._pending, []
        for frame, times, _ in pending:
            self._write(frame, times)

    def _write(self, out: np.ndarray, times: int) -> None:
        assert self._writer is not None and self._size is not None
        if (out.shape[1], out.shape[0]) != self._size:  # a camera or stream that changed its resolution
            self._warn_once(
                "size",
                "the source's frames changed size from %dx%d to %dx%d: they are scaled to %dx%d in the recording %s",
                *self._size,
                out.shape[1],
                out.shape[0],
                *self._size,
                self._writer.path,
            )
            out = self._cv2.resize(out, self._size, interpolation=self._cv2.INTER_AREA)
        for _ in range(times):
            self._writer.write(out)
        self.written += times

    def close(self) -> None:
        """Finish the recording and close the window; idempotent."""
        try:
            if self._writer is None and self._pending:  # a run shorter than the measuring: the rate of what it had
                try:
                    self._open(self._measured_fps(), self._pending[0][0])
                finally:
                    self._pending = []
            writer, self._writer = self._writer, None
            if writer is not None:
                writer.close()
        finally:
            if self._window:
                self._cv2.destroyWindow(WINDOW)
                self._window = False


# ---- which codecs this OpenCV has, and what they cost --------------------------------------------------------


def codec_report(
    video: str | Path, sizes: Sequence[tuple[int, int]] = ((340, 256), (1280, 720), (1920, 1080)), frames: int = 60
) -> list[dict[str, Any]]:
    """Encode the first ``frames`` frames of ``video``, resized to each size, with every recording codec.

    Returns:
        One row per (codec, size): ``fourcc``, ``codec``, ``browser``, ``width``, ``height``, ``available`` and
        ``ms_per_frame`` (None when the codec is missing). Run ``python -m realtime.overlay VIDEO``.
    """
    import cv2

    cap = cv2.VideoCapture(str(video))
    images = []
    while len(images) < frames:
        ok, image = cap.read()
        if not ok:
            break
        images.append(image)
    cap.release()
    if not images:
        raise SourceError(f"cannot read frames from {video}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="sadvae-codecs-") as tmp:
        for fourcc, suffix, codec, browser in (_H264, _VP8, _VP9, _MJPG):
            available = _encoder_works(cv2, fourcc, suffix)
            for w, h in sizes:
                ms = None
                if available:
                    resized = [cv2.resize(im, (w, h), interpolation=cv2.INTER_AREA) for im in images]
                    rec = Recording(os.path.join(tmp, f"{fourcc}_{w}{suffix}"), fourcc, codec, browser, "")
                    sink = _VideoSink(cv2, rec, 30.0, (w, h))
                    t0 = time.perf_counter()
                    for im in resized:
                        sink.write(im)
                    sink.close()
                    ms = (time.perf_counter() - t0) * 1000.0 / len(resized)
                rows.append(
                    dict(
                        fourcc=fourcc,
                        codec=codec,
                        browser=browser,
                        width=w,
                        height=h,
                        available=available,
                        ms_per_frame=ms,
                    )
                )
    return rows


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Which recording codecs this OpenCV has, and ms per frame.")
    parser.add_argument("video", help="a video whose first frames are encoded")
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    import cv2 as _cv

    print(f"OpenCV {_cv.__version__}; {args.frames} frames of {args.video}; encoding on one writer thread")
    for row in codec_report(args.video, frames=args.frames):
        cost = "missing" if row["ms_per_frame"] is None else f"{row['ms_per_frame']:.1f} ms/frame"
        plays = "browser" if row["browser"] else "no browser"
        print(f"  {row['fourcc']}  {row['codec']:<20} ({plays:<10})  {row['width']}x{row['height']:<5} {cost}")
