"""Example payloads of every event type, made by the real builders; ``docs/live.md`` shows exactly these.

``python -m realtime.events.examples`` prints the Markdown blocks of the docs' subscriber contract;
``tests/realtime/test_event_contract.py`` checks that the docs hold these very payloads and that each
validates against ``realtime/events/event_schema.json``, so the documentation cannot drift from the code.

Only the fields that differ on every run are pinned (``id``, ``time``, ``monotonic_ns``, ``session``,
``seq``), to fixed values of the right form; everything else comes from :func:`make_action_event`,
:func:`make_status_event`, :func:`realtime.view.make_view` and the JSON encoder as published.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from realtime.events.format import decode, encode, make_action_event, make_status_event
from realtime.view import make_view
from sadvae.labels import parse_labels_text

__all__ = ["examples", "markdown", "LABELS_FILE", "STAGE_MS", "BATCH_STAGES"]

_SOURCE = "cam0"
_MODEL = "e75a119518373a7d4a3bbd0f5ae8d8e59cb10c8ab7b7a15ad2e6e2f1d4c3a9b0"
LABELS_FILE = "walk\nsit down\nstand up\nwave\njump\n"  # the labels file of the examples
_LABELSET = parse_labels_text(LABELS_FILE)  # its labels_hash is the digest the publisher sends: LabelSet.sha256
_LABELS = _LABELSET.names
_SESSION = "9f3c2a7d41b05e88"
_STATUS_INTERVAL_S = 1.0  # sadvae-live --status-interval's default
# a status event's latency_ms: the mean ms per call of every stage realtime.stats.StageStats records (its STAGES,
# in that order; a test holds them equal), here a camera at 30 fps, the default model (stride 24), no --display:
# "overlay" is left out, as it is without an overlay. "total" is one frame through every stage but "read"; the
# batch stages (window .. publish) run once every 24 frames, so they add a 24th of their time to its mean.
STAGE_MS = {
    "read": 16.5,
    "pose": 16.4,
    "mapping": 0.21,
    "tracking": 0.19,
    "buffer": 0.05,
    "window": 0.35,
    "model": 3.2,
    "head": 0.2,
    "decide": 0.08,
    "publish": 0.06,
    "total": 17.0,
}
# an action event's latency_ms: the stages of the batch that made it (realtime.pipeline.Pipeline._infer); its
# "total" runs from the pose of the frame that completed the batch to the decision (pose to decide of that frame)
BATCH_STAGES = ("window", "model", "head", "pose", "total")
_T0 = 1_764_760_000_000  # ms; the pinned wall clock of the first example


def _pin(event: dict[str, Any], n: int, seq: int, uid: int | None = None) -> dict[str, Any]:
    """Fix what changes on every run (time ``n`` windows after the first example's; ``uid`` the id's number, else
    ``n + 1``); add ``seq``/``session`` as :class:`realtime.events.publisher.Publisher` does."""
    ms = _T0 + 800 * n  # one window every 0.8 s: the default model's stride of 24 frames at 30 fps
    secs, frac = divmod(ms, 1000)
    from datetime import datetime, timezone

    stamp = datetime.fromtimestamp(secs, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:03d}Z"
    event.update(id=f"{n + 1 if uid is None else uid:032x}", time=stamp, monotonic_ns=812_345_678_901 + 800_000_000 * n)
    return decode(encode({**event, "seq": seq, "session": _SESSION}))


def examples() -> dict[str, dict[str, Any]]:
    """``{name: payload}`` for "status_started" (the first event of a run), "start", "update", "end", "status" (a
    heartbeat with two persons), "status_reconnecting" (a camera retrying) and "status_stopped" (the last status of a
    run), as received."""
    common = dict(source=_SOURCE, labels_hash=_LABELSET.sha256, model_id=_MODEL, precision="fp16")
    latency = dict(STAGE_MS)
    # an action event's total: one frame from its pose to the decision
    frame = ("pose", "mapping", "tracking", "buffer", "window", "model", "head", "decide")
    batch = {k: round(sum(STAGE_MS[s] for s in frame), 3) if k == "total" else STAGE_MS[k] for k in BATCH_STAGES}

    def sit_down(
        event_type: str,
        score: float,
        topk: list[tuple[str, float]],
        window_ms: tuple[float, float],
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Track 0's "sit down" action event of ``event_type`` from the batch that scored ``window_ms``."""
        return make_action_event(
            track_id=0,
            event_type=event_type,
            label="sit down",
            score=score,
            topk=topk,
            window_ms=window_ms,
            latency_ms=batch,
            reason=reason,
            **common,
        )

    start = sit_down("start", 0.71, [("sit down", 0.71), ("stand up", 0.17), ("walk", 0.06)], (9133.3, 12300.0))
    update = sit_down("update", 0.78, [("sit down", 0.78), ("stand up", 0.12), ("walk", 0.05)], (9933.3, 13100.0))
    end = sit_down(
        "end", 0.2, [("stand up", 0.64), ("sit down", 0.2), ("walk", 0.09)], (10733.3, 13900.0), reason="switch"
    )
    persons = [
        make_view(
            0,
            np.array([0.09, 0.2, 0.64, 0.04, 0.03]),
            _LABELS,
            no_action=False,
            min_score=0.2,
            decided="stand up",
            decided_score=0.64,
            window_ms=(10733.3, 13900.0),
            moving_ms=(12033.3, 13900.0),
        ),
        make_view(
            3,
            np.array([0.11, 0.05, 0.04, 0.09, 0.06]),
            _LABELS,
            no_action=True,
            min_score=0.2,
            window_ms=(10666.7, 13833.3),
            out_of_view=("legs",),
        ),
    ]
    status = make_status_event(
        source=_SOURCE,
        fps=29.8,
        latency_ms=latency,
        dropped={"frames": 0, "pose_stale": 0, "events": 0},
        tracks=2,
        persons=persons,
        status_interval_s=_STATUS_INTERVAL_S,
    )
    stopped = make_status_event(
        source=_SOURCE,
        fps=29.5,
        latency_ms=latency,
        dropped={"frames": 3, "pose_stale": 0, "events": 0},
        tracks=0,
        reason="stopped",
        details={"stop_reason": "sigint", "frames": 4127, "windows": 512},
        message="stopped (sigint) after 4127 frames",
        persons=[],
        status_interval_s=_STATUS_INTERVAL_S,
    )
    reconnecting = make_status_event(
        source=_SOURCE,
        fps=0.0,
        latency_ms=latency,  # the recent calls' means, as before the camera dropped
        dropped={"frames": 3, "pose_stale": 0, "events": 0},
        tracks=0,
        reason="source_reconnecting",
        details={"attempt": 2, "delay_s": 1.0},
        message="reconnecting to camera 0 (attempt 2, 1 s)",
        persons=[],
        status_interval_s=_STATUS_INTERVAL_S,
    )
    started = make_status_event(  # the first event of every run: nothing measured or tracked yet
        source=_SOURCE,
        fps=0.0,
        latency_ms={},
        dropped={"frames": 0, "pose_stale": 0, "events": 0},
        tracks=0,
        reason="started",
        message="started",
        persons=[],
        status_interval_s=_STATUS_INTERVAL_S,
    )
    return {
        "status_started": _pin(started, -52, 0, uid=0),
        "start": _pin(start, 0, 41),
        "update": _pin(update, 1, 42),
        "end": _pin(end, 4, 45),
        "status": _pin(status, 5, 13),
        "status_reconnecting": _pin(reconnecting, 7, 15),
        "status_stopped": _pin(stopped, 9, 17),
    }


def _pretty(event: dict[str, Any]) -> str:
    """One top-level field a line (lists of objects one item a line): readable and still plain JSON."""

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))

    lines = []
    for key, value in event.items():
        if isinstance(value, list) and value and len(dump(value)) > 100:
            items = ",\n".join(f"    {dump(v)}" for v in value)
            lines.append(f'  "{key}": [\n{items}\n  ]')
        else:
            lines.append(f'  "{key}": {dump(value)}')
    return "{\n" + ",\n".join(lines) + "\n}"


def markdown() -> str:
    """The examples as the Markdown of docs/live.md: a marker comment and a fenced JSON block each."""
    parts = [f"<!-- example: {name} -->\n```json\n{_pretty(event)}\n```" for name, event in examples().items()]
    return "\n\n".join(parts) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
