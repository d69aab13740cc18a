"""Events as data: building action and status events, their JSON encoding and JSON Schema validation.

The payload of every ZeroMQ message :mod:`realtime.events.publisher` sends: compact UTF-8 JSON described by
``realtime/events/event_schema.json`` (JSON Schema 2020-12); ``jsonschema`` is imported only when an event
is validated. :mod:`realtime.events.publisher` re-exports everything here.

The shipped schema is the *consumer* schema: it accepts what a later publisher of the same ``schema_version`` may
add (fields a subscriber ignores, new values of the open lists), so a subscriber validating with an older copy
keeps working. :func:`load_schema` ``(strict=True)`` derives from the same file the *strict* variant the project's
own tests check its payloads with: every object closed, every open list cut to the values this code knows
(:data:`END_REASONS`, :data:`STATUS_REASONS`, :data:`STOP_REASONS`, :data:`PRECISIONS`, the body parts).
:func:`validate` checks ``schema_version`` before anything else, so an event of another version gets one line
saying so (:class:`SchemaVersionError`) rather than a field-level complaint.
"""

from __future__ import annotations

import copy
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
    "STOP_REASONS",
    "TOPIC_PREFIX",
    "TOPIC_KINDS",
    "sanitize_source",
    "source_too_long",
    "MAX_SOURCE_CHARS",
    "require_module",
    "topic_for",
    "topic_can_match",
    "make_action_event",
    "make_status_event",
    "encode",
    "decode",
    "load_schema",
    "validate",
    "version_problem",
    "SchemaVersionError",
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
    "labels_rejected",  # the labels file changed and cannot be used (details.error says why); the labels in use stay
    "source_disconnected",  # a camera/stream stopped delivering frames
    "source_reconnecting",  # a reconnect attempt is about to be made
    "source_reconnected",
    "source_gave_up",  # the source is lost for good; the pipeline stops
    "stopped",  # the last status event of a run
)
# why a run stopped: the `stop_reason` of the last status event (`details` of reason "stopped")
STOP_REASONS = (
    "end",  # the input ended (a file or replay; --loop never ends)
    "max_frames",  # --max-frames frames were processed
    "sigint",  # SIGINT (Ctrl-C), or a KeyboardInterrupt
    "sigterm",  # SIGTERM (a service manager stopping it)
    "window_closed",  # the --display window was closed
    "taught",  # --teach recorded its take (a private run: its events reach no subscriber)
    "stop",  # a program embedding the pipeline called request_stop() (its own reason, if any, is in the message)
    "closed",  # closed before it ran
    "source_lost",  # the camera/stream was given up (after a source_gave_up status) or the source failed mid-run
    "error",  # an exception ended the run (the publisher logs it)
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
    "error": str,
}
MAX_TEXT_CHARS = 1000  # a status event's message and details.error (the schema's maxLength)
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
    cleaned = _topic_chars(name)[:MAX_SOURCE_CHARS].strip("_")
    return cleaned or "source"


MAX_SOURCE_CHARS = 64  # of a topic's source part


def source_too_long(name: str) -> bool:
    """Whether :func:`sanitize_source` cuts ``name`` (longer than :data:`MAX_SOURCE_CHARS` once cleaned)."""
    return len(_topic_chars(name)) > MAX_SOURCE_CHARS


def _topic_chars(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "_", str(name).lower()).strip("_")


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
        reason: for an ``end`` (required there), why the action ended, one of :data:`END_REASONS`; None for
            ``start`` and ``update``.

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
    if (reason is not None or event_type == "end") and (event_type != "end" or reason not in END_REASONS):
        raise ValueError(
            f"reason is for end events and one of {END_REASONS} (every end has one), got {reason!r} on a {event_type!r}"
        )
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
    status_interval_s: float | None = None,
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
        status_interval_s: seconds between heartbeats (what a subscriber's liveness rule needs); None leaves it out.

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
        message=None if message is None else str(message)[:MAX_TEXT_CHARS],
    )
    if tracks is not None:
        event["tracks"] = int(tracks)
    if status_interval_s is not None:
        interval = float(status_interval_s)
        if not math.isfinite(interval) or interval <= 0:
            raise ValueError(f"status_interval_s must be a finite number of seconds > 0, got {status_interval_s!r}")
        event["status_interval_s"] = round(interval, 3)
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
        if key == "stop_reason" and v not in STOP_REASONS:
            raise ValueError(f"status details: stop_reason must be one of {STOP_REASONS}, got {value!r}")
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


class SchemaVersionError(DataFormatError):
    """An event of another ``schema_version`` (an incompatible format): the one line says which and what to do.

    Attributes:
        version: the event's ``schema_version``; topic: the message's topic when known (set by the subscriber).
    """

    def __init__(self, version: Any, topic: str | None = None):
        self.version, self.topic = version, topic
        super().__init__(topic or "<event>", "$.schema_version", version_problem(version) or "")


def version_problem(version: Any) -> str | None:
    """The one-line message for an event whose ``schema_version`` is ``version``; None when it is this code's."""
    if version == SCHEMA_VERSION and type(version) is int:
        return None
    return (
        f"schema_version is {version!r}, this subscriber reads version {SCHEMA_VERSION} only (an incompatible "
        "format): run the same sadvae-live release on the publisher and the subscriber, or a subscriber written for "
        f"version {version!r}"
    )


def _check_version(event: Any) -> None:
    """Raise :class:`SchemaVersionError` when ``event`` carries a ``schema_version`` other than this code's."""
    if isinstance(event, Mapping) and "schema_version" in event and version_problem(event["schema_version"]):
        raise SchemaVersionError(event["schema_version"])


# the strict variant (load_schema(strict=True)): the objects it closes and the open lists it cuts to what this code
# knows, as paths under "$defs"; the consumer schema lists the same values as "examples" (checked when it is made)
_CLOSED = (
    (("action",), "unevaluatedProperties"),  # these two draw fields from "common" through $ref
    (("status",), "unevaluatedProperties"),
    (("action", "properties", "model"), "additionalProperties"),
    (("status", "properties", "details"), "additionalProperties"),
    (("topk", "items"), "additionalProperties"),
    (("window",), "additionalProperties"),
    (("person",), "additionalProperties"),
)


def _known_values() -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    from realtime.view import BODY_PARTS

    return (
        (("action", "properties", "reason"), END_REASONS),
        (("status", "properties", "reason"), STATUS_REASONS),
        (("status", "properties", "details", "properties", "stop_reason"), STOP_REASONS),
        (("action", "properties", "model", "properties", "precision"), PRECISIONS),
        (("person", "properties", "out_of_view", "items"), tuple(BODY_PARTS)),
    )


def _node(schema: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    node = schema["$defs"]
    for key in path:
        node = node[key]
    return node


@functools.cache
def _consumer_schema() -> dict[str, Any]:
    return json.loads(resources.files("realtime.events").joinpath("event_schema.json").read_text(encoding="utf-8"))


@functools.cache
def _strict_schema() -> dict[str, Any]:
    schema = copy.deepcopy(_consumer_schema())
    for path, keyword in _CLOSED:
        _node(schema, path)[keyword] = False
    for path, values in _known_values():
        node = _node(schema, path)
        if tuple(node.get("examples", ())) != values:
            raise RuntimeError(
                f"event_schema.json lists {node.get('examples')} as the known values of $defs/{'/'.join(path)}, the "
                f"code {list(values)}: make the schema's 'examples' the code's values"
            )
        node["enum"] = list(values)
    return schema


def load_schema(strict: bool = False) -> dict[str, Any]:
    """The event JSON Schema (a dict; do not modify it).

    Args:
        strict: False: the consumer schema shipped in the package (``event_schema.json``: accepts compatible
            additions); True: the strict variant made from it (no unknown fields, only the values this code knows),
            for checking this project's own payloads.
    """
    return _strict_schema() if strict else _consumer_schema()


@functools.cache
def _validators(strict: bool = False, published: bool = True) -> dict[str, Any]:
    jsonschema = require_module("jsonschema", "jsonschema")
    schema = load_schema(strict)
    jsonschema.Draft202012Validator.check_schema(schema)
    if not published:  # as built, before the publisher adds seq and session
        schema = copy.deepcopy(schema)
        common = schema["$defs"]["common"]
        common["required"] = [k for k in common["required"] if k not in ("seq", "session")]
    # one validator per branch, so that errors point at the field rather than at "oneOf"
    root = {k: v for k, v in schema.items() if k != "oneOf"}
    return {kind: jsonschema.Draft202012Validator({**root, "$ref": f"#/$defs/{kind}"}) for kind in ("action", "status")}


_FORBIDDEN = {  # the fields a rule of the schema forbids (a `false` schema): why, for the message
    "reason": "reason is for end events only: remove it from a start or update",
    "details": "heartbeat and started status events carry no details: remove them",
}


def _problem(error: Any, event: Any, kind: str) -> tuple[str, str]:
    """``(where, problem)`` of a schema error, one line; a field a rule forbids is named with the rule (jsonschema
    reports a ``false`` schema without the field's name)."""
    if error.schema is False and isinstance(event, Mapping):
        field = next((k for k in _FORBIDDEN if k in event and event[k] is error.instance), None)
        if field is not None:
            return f"$.{field}", f"{kind} event does not match the schema: {_FORBIDDEN[field]}"
    return error.json_path, f"{kind} event does not match the schema: {error.message}"


def validate(event: Mapping[str, Any], *, strict: bool = False, published: bool = True) -> None:
    """Check an event against the schema, its ``schema_version`` first.

    Args:
        event: the event.
        strict: check against the strict variant (:func:`load_schema`): this project's own payloads, exactly.
        published: the event as received, with the publisher's ``seq`` and ``session`` (required); False for an
            event as :func:`make_action_event` / :func:`make_status_event` built it.

    Raises:
        SchemaVersionError: another ``schema_version`` (a :class:`DataFormatError`); DataFormatError: ``where`` is
        the offending field's JSON path; MissingDependencyError: no jsonschema.
    """
    _check_version(event)
    kind = "status" if isinstance(event, Mapping) and event.get("type") == "status" else "action"
    validator = _validators(strict, published)[kind]
    error = require_module("jsonschema", "jsonschema").exceptions.best_match(validator.iter_errors(event))
    if error is not None:
        raise DataFormatError("<event>", *_problem(error, event, kind))
