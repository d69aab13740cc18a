"""Events as data: building action and status events, their JSON encoding and JSON Schema validation.

The payload of every ZeroMQ message :mod:`realtime.events.publisher` sends: compact UTF-8 JSON described by
``realtime/events/event_schema.json`` (JSON Schema 2020-12); ``jsonschema`` is imported only when an event
is validated. :mod:`realtime.events.publisher` re-exports everything here.
"""

from __future__ import annotations

import functools
import importlib
import json
import math
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from importlib import resources
from typing import Any

from realtime.decisions import END_REASONS
from sadvae.errors import DataFormatError, MissingDependencyError

__all__ = [
    "SCHEMA_VERSION",
    "EVENT_TYPES",
    "PRECISIONS",
    "END_REASONS",
    "STATUS_REASONS",
    "TOPIC_PREFIX",
    "TOPIC_KINDS",
    "sanitize_source",
    "require_module",
    "topic_for",
    "topic_can_match",
    "make_action_event",
    "make_status_event",
    "encode",
    "decode",
    "load_schema",
    "validate",
]

SCHEMA_VERSION = 2  # 2: status events carry a structured `reason`, its `details` and per-person `persons`
EVENT_TYPES = ("start", "update", "end")
PRECISIONS = ("fp32", "fp16", "bf16", "int8", "mixed")
TOPIC_PREFIX = "sadvae"
TOPIC_KINDS = ("action", "status")  # the kinds of event, each with its own topic
# why a status event was sent; each reason's `details` fields are listed in event_schema.json
STATUS_REASONS = (
    "heartbeat",  # every --status-interval: nothing new
    "started",  # the pipeline is running
    "labels_reloaded",  # the labels file changed and the new labels are in use
    "source_disconnected",  # a camera/stream stopped delivering frames
    "source_reconnecting",  # a reconnect attempt is about to be made
    "source_reconnected",
    "source_gave_up",  # the source is lost for good; the pipeline stops
    "stopped",  # the last status event of a run
)
_STATUS_DETAILS = {
    "attempt": int,
    "delay_s": float,
    "stop_reason": str,
    "frames": int,
    "windows": int,
    "labels": int,
    "labels_hash": str,
    "labels_path": str,
    "head_mode": str,
}
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def require_module(module: str, package: str) -> Any:
    """Import ``module``, or raise :class:`MissingDependencyError` naming ``package`` and the ``live`` extra."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(package, "live") from None


def sanitize_source(name: str) -> str:
    """A source name fit for a topic: lower case, runs of characters outside [a-z0-9_-] become one "_".

    "Camera 0" -> "camera_0", "rtsp://10.0.0.2/live" -> "rtsp_10_0_0_2_live"; at most 64 characters;
    a name with nothing usable left becomes "source".
    """
    cleaned = re.sub(r"[^a-z0-9_-]+", "_", str(name).lower()).strip("_")[:64].strip("_")
    return cleaned or "source"


def topic_can_match(prefix: str) -> bool:
    """Whether a subscription ``prefix`` can match any topic ``sadvae.<source>.<kind>`` (:func:`topic_for`)."""
    head = TOPIC_PREFIX + "."
    if len(prefix) <= len(head):
        return head.startswith(prefix)
    if not prefix.startswith(head):
        return False
    source, dot, kind = prefix[len(head) :].partition(".")
    if not re.fullmatch(r"[a-z0-9_-]*", source) or not (1 if dot else 0) <= len(source) <= 64:
        return False
    return not dot or any(k.startswith(kind) for k in TOPIC_KINDS)


def topic_for(source: str, kind: str) -> str:
    """``sadvae.<source>.<kind>`` with the source sanitised; ``kind`` is "action" or "status"."""
    if kind not in TOPIC_KINDS:
        raise ValueError(f"topic kind must be one of {TOPIC_KINDS}, got {kind!r}")
    return f"{TOPIC_PREFIX}.{sanitize_source(source)}.{kind}"


def _header(source: str, event_type: str) -> dict[str, Any]:
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "schema_version": SCHEMA_VERSION,
        "id": uuid.uuid4().hex,
        "time": now,
        "monotonic_ns": time.monotonic_ns(),
        "source": sanitize_source(source),
        "type": event_type,
    }


def _score(value: float, what: str) -> float:
    x = float(value)
    if not -1e-6 <= x <= 1.0 + 1e-6:  # NaN fails too
        raise ValueError(f"{what} must be a probability in [0, 1], got {value!r}")
    return round(min(max(x, 0.0), 1.0), 6)


def _label(name: object) -> str:
    text = str(name)
    if not 1 <= len(text) <= 100:  # the schema's bound; realtime.head.labels keeps names within it
        raise ValueError(f"labels must be 1 to 100 characters, got {len(text)}: {text[:40]!r}")
    return text


def _stages(values: Mapping[str, float], what: str, cast: type = float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        v = cast(value)
        if not _KEY.match(key) or not math.isfinite(v) or v < 0:
            raise ValueError(f"{what}: expected lower_snake_case names with finite values >= 0, got {key!r}: {value!r}")
        out[key] = round(v, 3) if cast is float else v
    return out


def make_action_event(
    *,
    source: str,
    track_id: int,
    event_type: str,
    label: str | None,
    score: float,
    topk: Iterable[tuple[str, float]] | Iterable[Mapping[str, Any]],
    window_ms: tuple[float, float],
    labels_hash: str,
    model_id: str,
    precision: str,
    latency_ms: Mapping[str, float],
    reason: str | None = None,
) -> dict[str, Any]:
    """Build an action event (see ``event_schema.json``).

    Args:
        source: source name (sanitised as for the topic).
        track_id: the person's track id (>= 0).
        event_type: "start", "update" or "end".
        label: the decided action, or None for "no action".
        score: the decision's score in [0, 1].
        topk: best labels first, as ``(label, score)`` pairs or ``{"label", "score"}`` dicts.
        window_ms: ``(start_ms, end_ms)`` of the classified window on the source's timeline.
        labels_hash: sha256 hex digest of the label set (:attr:`realtime.head.labels.LabelSet.sha256`).
        model_id: the model bundle's id; precision: "fp32", "fp16", "bf16", "int8" or "mixed".
        latency_ms: milliseconds per stage, e.g. ``{"pose": 21.0, "model": 3.2, "total": 26.1}``.
        reason: for an ``end``, why the action ended (one of :data:`END_REASONS`); None leaves it out.

    Raises:
        ValueError: a value outside its contract (the message names it).
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"event_type must be one of {EVENT_TYPES}, got {event_type!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if int(track_id) < 0:
        raise ValueError(f"track_id must be >= 0, got {track_id}")
    start_ms, end_ms = (float(v) for v in window_ms)
    if not 0 <= start_ms <= end_ms:
        raise ValueError(f"window_ms must be (start, end) with 0 <= start <= end, got {tuple(window_ms)}")
    if reason is not None and (event_type != "end" or reason not in END_REASONS):
        raise ValueError(f"reason is for end events and one of {END_REASONS}, got {reason!r} on a {event_type!r}")
    pairs = [(t["label"], t["score"]) if isinstance(t, Mapping) else t for t in topk]
    event = _header(source, event_type)
    event.update(
        track_id=int(track_id),
        label=None if label is None else _label(label),
        score=_score(score, "score"),
        topk=[{"label": _label(name), "score": _score(s, f"topk score of {name!r}")} for name, s in pairs],
        window={"start_ms": round(start_ms, 3), "end_ms": round(end_ms, 3)},
        labels_hash=str(labels_hash),
        model={"id": str(model_id), "precision": precision},
        latency_ms=_stages(latency_ms, "latency_ms"),
    )
    if reason is not None:
        event["reason"] = reason
    return event


def make_status_event(
    *,
    source: str,
    fps: float,
    latency_ms: Mapping[str, float],
    dropped: Mapping[str, int],
    message: str | None = None,
    tracks: int | None = None,
    reason: str = "heartbeat",
    details: Mapping[str, Any] | None = None,
    persons: Iterable[Any] | None = None,
) -> dict[str, Any]:
    """Build a status (heartbeat) event (see ``event_schema.json``).

    Args:
        source: source name (sanitised as for the topic).
        fps: frames processed per second since the previous status event.
        latency_ms: mean milliseconds per stage over recent frames.
        dropped: cumulative counts by kind, e.g. ``{"frames": 3, "events": 0}``.
        message: one line for humans ("camera reconnected after 2 attempt(s)"), or None for a plain heartbeat.
        tracks: persons tracked now, when known.
        reason: why this status was sent, one of :data:`STATUS_REASONS`.
        details: the reason's fields (``attempt``, ``delay_s``, ``stop_reason``, ``frames``, ``windows``,
            ``labels``, ``labels_hash``, ``labels_path``, ``head_mode``; None values are left out).
        persons: per tracked person what the model sees now: :class:`realtime.view.TrackView` objects (or
            anything with ``to_json()``) or ready dicts; None leaves the field out.

    Raises:
        ValueError: a value outside its contract (the message names it).
    """
    fps = float(fps)
    if not math.isfinite(fps) or fps < 0:
        raise ValueError(f"fps must be a finite number >= 0, got {fps!r}")
    if reason not in STATUS_REASONS:
        raise ValueError(f"status reason must be one of {STATUS_REASONS}, got {reason!r}")
    event = _header(source, "status")
    event.update(
        reason=reason,
        fps=round(fps, 3),
        latency_ms=_stages(latency_ms, "latency_ms"),
        dropped=_stages(dropped, "dropped", cast=int),
        message=None if message is None else str(message)[:1000],
    )
    if tracks is not None:
        event["tracks"] = int(tracks)
    if details:
        event["details"] = _details(details)
    if persons is not None:
        event["persons"] = [p.to_json() if hasattr(p, "to_json") else dict(p) for p in persons]
    return event


def _details(details: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in details.items():
        if value is None:
            continue
        cast = _STATUS_DETAILS.get(key)
        if cast is None:
            raise ValueError(f"status details: unknown field {key!r}; known: {sorted(_STATUS_DETAILS)}")
        v = cast(value)
        if cast is not str and (not math.isfinite(v) or v < 0):
            raise ValueError(f"status details: {key} must be a finite number >= 0, got {value!r}")
        out[key] = round(v, 3) if cast is float else v
    return out


def encode(event: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON. Raises ValueError on NaN/inf (JSON has no such numbers)."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def decode(data: bytes) -> dict[str, Any]:
    """Parse one payload; raises DataFormatError when it is not a UTF-8 JSON object."""
    try:
        obj = json.loads(bytes(data).decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as e:
        raise DataFormatError("<event>", None, f"expected a UTF-8 JSON object, got undecodable data ({e})") from None
    if not isinstance(obj, dict):
        raise DataFormatError("<event>", None, f"expected a JSON object, got {type(obj).__name__}")
    return obj


@functools.cache
def load_schema() -> dict[str, Any]:
    """The event JSON Schema shipped in the package (a dict; do not modify it)."""
    return json.loads(resources.files("realtime.events").joinpath("event_schema.json").read_text(encoding="utf-8"))


@functools.cache
def _validators() -> dict[str, Any]:
    jsonschema = require_module("jsonschema", "jsonschema")
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    # one validator per branch, so that errors point at the field rather than at "oneOf"
    root = {k: v for k, v in schema.items() if k != "oneOf"}
    return {kind: jsonschema.Draft202012Validator({**root, "$ref": f"#/$defs/{kind}"}) for kind in ("action", "status")}


def validate(event: Mapping[str, Any]) -> None:
    """Check an event against the schema.

    Raises:
        DataFormatError: ``where`` is the offending field's JSON path; MissingDependencyError: no jsonschema.
    """
    kind = "status" if isinstance(event, Mapping) and event.get("type") == "status" else "action"
    validator = _validators()[kind]
    error = require_module("jsonschema", "jsonschema").exceptions.best_match(validator.iter_errors(event))
    if error is not None:
        raise DataFormatError("<event>", error.json_path, f"{kind} event does not match the schema: {error.message}")
