"""Live input: one :class:`~realtime.frames.Source` per camera, video file, network stream, skeleton replay or
the synthetic demo performer.

:mod:`.video` opens any of them from one spec (:func:`open_source`); :mod:`.capture` holds the camera and
stream readers with their reconnect policy; :mod:`.replay` the pre-computed NTU-25 replays and recorder;
:mod:`.demo` the synthetic stick figure.
"""

from __future__ import annotations

from realtime.sources.capture import (
    CameraSource,
    ReconnectPolicy,
    SourceStatus,
    StreamSource,
)
from realtime.sources.demo import (
    ACTIONS,
    DEFAULT_SCRIPT,
    demo_source,
    perform,
)
from realtime.sources.replay import (
    ReplaySource,
    TrackRecorder,
    load_recording,
    save_recording,
)
from realtime.sources.video import REPLAY_SUFFIXES, VideoSource, open_source

__all__ = [
    "CameraSource",
    "ReconnectPolicy",
    "SourceStatus",
    "StreamSource",
    "ACTIONS",
    "DEFAULT_SCRIPT",
    "demo_source",
    "perform",
    "ReplaySource",
    "TrackRecorder",
    "load_recording",
    "save_recording",
    "REPLAY_SUFFIXES",
    "VideoSource",
    "open_source",
]
