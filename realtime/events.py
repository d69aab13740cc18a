"""Decision and status events: building, JSON encoding, schema validation and ZeroMQ PUB/SUB.

Every message is two frames, ``[topic, payload]``: the topic is ``sadvae.<source>.action`` for
action events (type start | update | end) and ``sadvae.<source>.status`` for heartbeats; the
payload is compact UTF-8 JSON described by ``realtime/event_schema.json`` (JSON Schema 2020-12).

Publishing never blocks the pipeline. A PUB socket drops messages for a subscriber whose queue is
full (``sndhwm`` on our side, its ``rcvhwm`` and the TCP buffers in between) and keeps serving the
others; ZeroMQ does not report such drops to the sender. Each message therefore carries ``seq``
(0, 1, 2, ... per topic) so every subscriber can count what it missed (:attr:`Subscriber.missed`).
With ``PublisherOptions(nodrop=True)`` a full queue instead makes the send fail at once; the
message is dropped for every subscriber and counted in :attr:`Publisher.dropped` (one stalled
subscriber then costs the others those messages too: use it with a single subscriber or a proxy).

``zmq`` and ``jsonschema`` are imported only when a socket is made or an event validated.
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import math
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from typing import Any

from sadvae.errors import ConfigError, DataFormatError, MissingDependencyError

__all__ = [
    "SCHEMA_VERSION", "EVENT_TYPES", "PRECISIONS", "sanitize_source", "topic_for", "make_action_event",
    "make_status_event", "encode", "decode", "load_schema", "validate", "PublisherOptions", "Publisher", "Subscriber",
]  # fmt: skip

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
EVENT_TYPES = ("start", "update", "end")
PRECISIONS = ("fp32", "fp16", "bf16", "int8", "mixed")
TOPIC_PREFIX = "sadvae"
_KINDS = ("action", "status")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def _require(module: str, package: str) -> Any:
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


def topic_for(source: str, kind: str) -> str:
    """``sadvae.<source>.<kind>`` with the source sanitised; ``kind`` is "action" or "status"."""
    if kind not in _KINDS:
        raise ValueError(f"topic kind must be one of {_KINDS}, got {kind!r}")
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
        labels_hash: sha256 hex digest of the label set (:attr:`realtime.labels.LabelSet.sha256`).
        model_id: the model bundle's id; precision: "fp32", "fp16", "bf16", "int8" or "mixed".
        latency_ms: milliseconds per stage, e.g. ``{"pose": 21.0, "model": 3.2, "total": 26.1}``.

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
    pairs = [(t["label"], t["score"]) if isinstance(t, Mapping) else t for t in topk]
    event = _header(source, event_type)
    event.update(
        track_id=int(track_id),
        label=None if label is None else str(label),
        score=_score(score, "score"),
        topk=[{"label": str(name), "score": _score(s, f"topk score of {name!r}")} for name, s in pairs],
        window={"start_ms": round(start_ms, 3), "end_ms": round(end_ms, 3)},
        labels_hash=str(labels_hash),
        model={"id": str(model_id), "precision": precision},
        latency_ms=_stages(latency_ms, "latency_ms"),
    )
    return event


def make_status_event(
    *,
    source: str,
    fps: float,
    latency_ms: Mapping[str, float],
    dropped: Mapping[str, int],
    message: str | None = None,
    tracks: int | None = None,
) -> dict[str, Any]:
    """Build a status (heartbeat) event: ``fps`` end to end, ``latency_ms`` per stage, cumulative
    ``dropped`` counts by kind (``{"frames": 3, "events": 0}``), a ``message`` for humans ("camera
    reconnected") or None for a plain heartbeat, and the number of ``tracks`` when known.
    """
    fps = float(fps)
    if not math.isfinite(fps) or fps < 0:
        raise ValueError(f"fps must be a finite number >= 0, got {fps!r}")
    event = _header(source, "status")
    event.update(
        fps=round(fps, 3),
        latency_ms=_stages(latency_ms, "latency_ms"),
        dropped=_stages(dropped, "dropped", cast=int),
        message=None if message is None else str(message)[:1000],
    )
    if tracks is not None:
        event["tracks"] = int(tracks)
    return event


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
    return json.loads(resources.files("realtime").joinpath("event_schema.json").read_text(encoding="utf-8"))


@functools.cache
def _validators() -> dict[str, Any]:
    jsonschema = _require("jsonschema", "jsonschema")
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
    error = _require("jsonschema", "jsonschema").exceptions.best_match(validator.iter_errors(event))
    if error is not None:
        raise DataFormatError("<event>", error.json_path, f"{kind} event does not match the schema: {error.message}")


def _open_socket(zmq: Any, sock_type: int, endpoint: str, bind: bool, options: list[tuple[int, Any]], role: str) -> Any:
    sock = zmq.Context.instance().socket(sock_type)
    try:
        for option, value in options:
            sock.setsockopt(option, value)
        (sock.bind if bind else sock.connect)(endpoint)
    except zmq.ZMQError as e:
        sock.close(linger=0)
        raise ConfigError(
            f"cannot {'bind' if bind else 'connect'} the event {role} to {endpoint!r}: {e}; "
            "choose another endpoint (e.g. tcp://127.0.0.1:5556) or stop the process using it"
        ) from None
    return sock


class _Endpoint:
    """Owns one socket: idempotent :meth:`close` and context management."""

    _sock: Any = None
    _linger_ms = 0

    def close(self) -> None:
        """Close the socket (waiting at most the linger time to flush); safe to call twice."""
        if self._sock is not None:
            self._sock.close(linger=self._linger_ms)
            self._sock = None

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class PublisherOptions:
    """Where and how events are published.

    Attributes:
        endpoint: ZeroMQ endpoint; ``tcp://127.0.0.1:*`` picks a free port (see :attr:`Publisher.endpoint`).
        bind: bind (the usual case) or connect (to a proxy's XSUB side).
        sndhwm: messages queued per subscriber before ZeroMQ drops for it.
        linger_ms: how long :meth:`Publisher.close` may wait to flush queued messages.
        nodrop: make a full queue fail the send so drops are counted here (see the module docstring).
    """

    endpoint: str = "tcp://127.0.0.1:5555"
    bind: bool = True
    sndhwm: int = 100
    linger_ms: int = 100
    nodrop: bool = False

    def __post_init__(self) -> None:
        if self.sndhwm < 1:
            raise ConfigError(f"events sndhwm must be >= 1, got {self.sndhwm}")
        if self.linger_ms < 0:
            raise ConfigError(f"events linger_ms must be >= 0, got {self.linger_ms}")


class Publisher(_Endpoint):
    """ZeroMQ PUB socket for one source; :meth:`publish` never blocks.

    Args:
        opts: endpoint and socket options.
        source_name: names the topics ``sadvae.<source>.action|status`` (sanitised).

    Attributes:
        source: the sanitised source name; endpoint: the bound/connected endpoint (real port).
        sent: messages handed to ZeroMQ; dropped: messages refused at once (``nodrop`` mode only).

    Raises:
        ConfigError: the endpoint cannot be bound or connected; MissingDependencyError: no pyzmq.
    """

    def __init__(self, opts: PublisherOptions | None = None, source_name: str = "default"):
        zmq = _require("zmq", "pyzmq")
        self.opts = opts or PublisherOptions()
        self.source = sanitize_source(source_name)
        self._topics = {kind: topic_for(self.source, kind).encode() for kind in _KINDS}
        self._seq = dict.fromkeys(_KINDS, 0)
        self.sent = self.dropped = 0
        self._again, self._flags = zmq.Again, zmq.NOBLOCK
        options = [(zmq.SNDHWM, self.opts.sndhwm), (zmq.LINGER, self.opts.linger_ms)]
        if self.opts.nodrop:
            options.append((zmq.XPUB_NODROP, 1))
        self._sock = _open_socket(zmq, zmq.PUB, self.opts.endpoint, self.opts.bind, options, "publisher")
        self.endpoint = self._sock.getsockopt(zmq.LAST_ENDPOINT).decode()
        self._linger_ms = self.opts.linger_ms
        log.info("publishing events on %s (topics sadvae.%s.action|status)", self.endpoint, self.source)

    def publish(self, event: Mapping[str, Any]) -> bool:
        """Send one event on its topic without blocking; adds ``seq``.

        Returns:
            True when ZeroMQ took the message, False when it was dropped (counted in :attr:`dropped`).
        """
        if self._sock is None:
            raise RuntimeError("publish() called after close()")
        if event.get("source") != self.source:
            raise ValueError(f"event source {event.get('source')!r} differs from the publisher's {self.source!r}")
        kind = "status" if event.get("type") == "status" else "action"
        seq = self._seq[kind]
        self._seq[kind] = seq + 1
        payload = encode({**event, "seq": seq})
        try:
            self._sock.send_multipart([self._topics[kind], payload], flags=self._flags)
        except self._again:
            self.dropped += 1
            return False
        self.sent += 1
        return True


class Subscriber(_Endpoint):
    """ZeroMQ SUB socket that yields decoded events and counts missed ones by their ``seq``.

    Args:
        endpoint: the publisher's (or proxy's XPUB) endpoint.
        topics: topic prefixes to receive; the default takes every sadvae topic. Note that
            ZeroMQ matches prefixes: "sadvae.cam" also matches "sadvae.cam2.action".
        bind: bind instead of connecting.
        rcvhwm: messages queued here before the publisher starts dropping for us.

    Attributes:
        received: events returned; missed: events skipped by the publisher's ``seq`` numbering.
    """

    def __init__(
        self, endpoint: str, topics: Iterable[str] = (f"{TOPIC_PREFIX}.",), *, bind: bool = False, rcvhwm: int = 1000
    ):
        zmq = _require("zmq", "pyzmq")
        options = [(zmq.RCVHWM, rcvhwm), (zmq.LINGER, 0)] + [(zmq.SUBSCRIBE, t.encode()) for t in topics]
        self._sock = _open_socket(zmq, zmq.SUB, endpoint, bind, options, "subscriber")
        self.endpoint = endpoint
        self._last_seq: dict[str, int] = {}
        self.received = self.missed = 0

    def recv(self, timeout_ms: int | None = 1000) -> tuple[str, dict[str, Any]] | None:
        """Wait up to ``timeout_ms`` (None: forever) for one event.

        Returns:
            ``(topic, event)``, or None on timeout.

        Raises:
            DataFormatError: the message is not ``[topic, JSON object]``.
        """
        if self._sock is None:
            raise RuntimeError("recv() called after close()")
        if not self._sock.poll(timeout_ms):
            return None
        frames = self._sock.recv_multipart()
        if len(frames) != 2:
            raise DataFormatError("<event>", None, f"expected 2 frames [topic, JSON], got {len(frames)}")
        topic = frames[0].decode("utf-8", errors="replace")
        event = decode(frames[1])
        seq = event.get("seq")
        if isinstance(seq, int):
            last = self._last_seq.get(topic)
            if last is not None and seq > last + 1:
                self.missed += seq - last - 1
            self._last_seq[topic] = seq  # a smaller seq means the publisher restarted: start counting again
        self.received += 1
        return topic, event
