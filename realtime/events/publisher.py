"""Decision and status events: building, JSON encoding, schema validation and ZeroMQ PUB/SUB.

Every message is two frames, ``[topic, payload]``: the topic is ``sadvae.<source>.action`` for
action events (type start | update | end) and ``sadvae.<source>.status`` for heartbeats; the
payload is compact UTF-8 JSON described by ``realtime/events/event_schema.json`` (JSON Schema 2020-12).

Publishing never blocks the pipeline. A PUB socket drops messages for a subscriber whose queue is
full (``sndhwm`` on our side, its ``rcvhwm`` and the TCP buffers in between) and keeps serving the
others; ZeroMQ does not report such drops to the sender. Each message therefore carries ``seq``
(0, 1, 2, ... per topic) so every subscriber can count what it missed (:attr:`Subscriber.missed`), and
``session`` (random per publisher): a new one is a restarted publisher (:attr:`Subscriber.restarts`), not misses.
With ``PublisherOptions(nodrop=True)`` a full queue instead makes the send fail at once; the
message is dropped for every subscriber and counted in :attr:`Publisher.dropped` (one stalled
subscriber then costs the others those messages too: use it with a single subscriber or a proxy).
Endpoints, loopback defaults and CURVE encryption: :mod:`realtime.events.security`.

``zmq`` and ``jsonschema`` are imported only when a socket is made or an event validated.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from realtime.events.format import (  # noqa: F401 - re-exported: the public API lives here too
    END_REASONS,
    EVENT_TYPES,
    PRECISIONS,
    SCHEMA_VERSION,
    STATUS_REASONS,
    STOP_REASONS,
    TOPIC_KINDS,
    TOPIC_PREFIX,
    SchemaVersionError,
    decode,
    encode,
    load_schema,
    make_action_event,
    make_status_event,
    require_module,
    sanitize_source,
    topic_for,
    validate,
    version_problem,
)
from realtime.events.security import DEFAULT_ENDPOINT, CurveClient, CurveServer, open_socket, warn_if_exposed
from sadvae.errors import ConfigError, DataFormatError

__all__ = [
    "SCHEMA_VERSION",
    "END_REASONS",
    "EVENT_TYPES",
    "PRECISIONS",
    "STATUS_REASONS",
    "STOP_REASONS",
    "SchemaVersionError",
    "sanitize_source",
    "topic_for",
    "make_action_event",
    "make_status_event",
    "encode",
    "decode",
    "load_schema",
    "validate",
    "PublisherOptions",
    "Publisher",
    "Subscriber",
]

log = logging.getLogger(__name__)


class _Endpoint:
    """Owns one socket: idempotent :meth:`close` and context management."""

    _sock: Any = None
    _linger_ms = 0
    _release: Any = None

    def close(self) -> None:
        """Close the socket (waiting at most the linger time to flush); safe to call twice."""
        if self._sock is not None:
            self._sock.close(linger=self._linger_ms)
            self._sock = None
            self._release()

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
        sndbuf: kernel send buffer per subscriber connection, bytes (0: the OS's, which grows to MBs).
        linger_ms: how long :meth:`Publisher.close` may wait to flush queued messages.
        nodrop: make a full queue fail the send so drops are counted here (see the module docstring).
        curve: encrypt and admit only allow-listed subscribers (:class:`realtime.events.security.CurveServer`;
            bind only). None: plain ZeroMQ, with a warning when the endpoint is not local.
        settle_ms: the first event waits until the socket has been open this long. A subscriber started before
            the publisher retries its connection every 100 ms (ZeroMQ's reconnect interval) and subscribes only
            then; without the wait it misses the first events, the ``started`` status among them. Not applied to
            a wildcard port (``:*``: nobody can be waiting on a port not yet chosen) or ``inproc://``.
    """

    endpoint: str = DEFAULT_ENDPOINT
    bind: bool = True
    sndhwm: int = 100
    sndbuf: int = 0
    linger_ms: int = 100
    nodrop: bool = False
    curve: CurveServer | None = None
    settle_ms: int = 300

    def __post_init__(self) -> None:
        for name, least in (("sndhwm", 1), ("sndbuf", 0), ("linger_ms", 0), ("settle_ms", 0)):
            if getattr(self, name) < least:
                raise ConfigError(f"events {name} must be >= {least}, got {getattr(self, name)}")
        if self.curve is not None and not self.bind:
            raise ConfigError("CURVE keys need a bound publisher (subscribers authenticate to its port); no --connect")


class Publisher(_Endpoint):
    """ZeroMQ PUB socket for one source; :meth:`publish` never blocks.

    Args:
        opts: endpoint and socket options.
        source_name: names the topics ``sadvae.<source>.action|status`` (sanitised).

    Attributes:
        source: the sanitised source name; endpoint: the bound/connected endpoint (real port).
        session: random id of this publisher instance, sent in every message.
        sent: messages handed to ZeroMQ; dropped: messages refused at once (``nodrop`` mode only).

    Raises:
        ConfigError: the endpoint cannot be bound or connected; MissingDependencyError: no pyzmq.
    """

    def __init__(self, opts: PublisherOptions | None = None, source_name: str = "default"):
        zmq = require_module("zmq", "pyzmq")
        self.opts = opts or PublisherOptions()
        self.source = sanitize_source(source_name)
        self._topics = {kind: topic_for(self.source, kind).encode() for kind in TOPIC_KINDS}
        self._seq = dict.fromkeys(TOPIC_KINDS, 0)
        self.session = uuid.uuid4().hex[:16]
        self.sent = self.dropped = 0
        self._again, self._flags = zmq.Again, zmq.NOBLOCK
        options = [(zmq.SNDHWM, self.opts.sndhwm), (zmq.LINGER, self.opts.linger_ms)]
        options += [(zmq.XPUB_NODROP, 1)] if self.opts.nodrop else []
        options += [(zmq.SNDBUF, self.opts.sndbuf)] if self.opts.sndbuf else []
        # connected to a proxy: while it is away, events are dropped, not queued and sent late when it returns (until
        # 7 December 2026, late, a restarted proxy got a burst of up to `sndhwm` stale events, the newest lost)
        options += [(zmq.IMMEDIATE, 1)] if not self.opts.bind else []
        self._sock, self._release = open_socket(
            zmq.PUB, self.opts.endpoint, self.opts.bind, options, "publisher", server=self.opts.curve
        )
        self.endpoint = self._sock.getsockopt(zmq.LAST_ENDPOINT).decode()
        warn_if_exposed(self.endpoint, self.opts.curve, bind=self.opts.bind)
        self._linger_ms = self.opts.linger_ms
        waitable = not self.opts.endpoint.rstrip().endswith(":*") and not self.opts.endpoint.startswith("inproc://")
        self._settle_until = time.monotonic() + self.opts.settle_ms / 1000 if waitable else None
        log.info("publishing events on %s (topics sadvae.%s.action|status)", self.endpoint, self.source)

    def publish(self, event: Mapping[str, Any]) -> bool:
        """Send one event on its topic without blocking; adds ``seq`` and ``session``.

        Returns:
            True when ZeroMQ took the message, False when it was dropped (counted in :attr:`dropped`).
        """
        if self._sock is None:
            raise RuntimeError("publish() called after close()")
        if event.get("source") != self.source:
            raise ValueError(f"event source {event.get('source')!r} differs from the publisher's {self.source!r}")
        if self._settle_until is not None:  # subscribers waiting before we opened: let them connect first
            time.sleep(max(0.0, self._settle_until - time.monotonic()))
            self._settle_until = None
        kind = "status" if event.get("type") == "status" else "action"
        seq = self._seq[kind]
        self._seq[kind] = seq + 1
        payload = encode({**event, "seq": seq, "session": self.session})
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
        curve: the keys for a CURVE publisher (:class:`realtime.events.security.CurveClient`).

    Attributes:
        received: events returned; missed: events skipped by the publisher's ``seq`` numbering;
        restarts: publisher restarts seen (a new ``session``, or ``seq`` going back); ZeroMQ reconnects itself.
        shared: topics on which two publishers' sessions take turns (two processes with one ``--source-name``),
            each with two of the sessions.

    An event of another ``schema_version`` (an incompatible format) is not returned: :meth:`recv` raises
    :class:`SchemaVersionError`, one line naming the version, the topic and the fix (its ``seq`` still counts).
    """

    def __init__(
        self,
        endpoint: str,
        topics: Iterable[str] = (f"{TOPIC_PREFIX}.",),
        *,
        bind: bool = False,
        rcvhwm: int = 1000,
        curve: CurveClient | None = None,
    ):
        zmq = require_module("zmq", "pyzmq")
        options = [(zmq.RCVHWM, rcvhwm), (zmq.LINGER, 0)] + [(zmq.SUBSCRIBE, t.encode()) for t in topics]
        self._sock, self._release = open_socket(zmq.SUB, endpoint, bind, options, "subscriber", client=curve)
        self.endpoint = endpoint
        self._last: dict[tuple[str, Any], int] = {}  # (topic, session) -> last seq
        self._sessions: set[str] = set()
        self._latest: dict[str, Any] = {}  # topic -> the session that sent its latest event
        self.received = self.missed = self.restarts = 0
        self.shared: dict[str, tuple[Any, Any]] = {}  # topic -> two sessions seen taking turns on it

    def recv(self, timeout_ms: int | None = 1000) -> tuple[str, dict[str, Any]] | None:
        """Wait up to ``timeout_ms`` (None: forever) for one event: ``(topic, event)``, or None on timeout.

        Raises:
            DataFormatError: the message is not ``[topic, JSON object]``; SchemaVersionError (a DataFormatError):
                the event has another ``schema_version``.
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
        seq, session = event.get("seq"), event.get("session")
        if isinstance(seq, int):  # numbering per (topic, publisher session): a proxy may merge two publishers
            key = (topic, session)
            last = self._last.get(key)
            if last is None and session not in self._sessions and any(t == topic for t, _ in self._last):
                self.restarts += 1  # a new publisher on a known topic: a restart (or a second camera), not misses
            elif last is not None and seq <= last:
                self.restarts += 1  # the same session numbering again (a publisher without sessions restarted)
            elif last is not None and seq > last + 1:
                self.missed += seq - last - 1
            # an older session of this topic back after a newer one: two live publishers share one source name
            # (a restart never comes back); their actions and seq numbers interleave (an integrator audit, 7
            # December 2026, late, saw `sadvae events` say nothing)
            before = self._latest.get(topic)
            if last is not None and before is not None and before != session and topic not in self.shared:
                self.shared[topic] = (before, session)
            self._latest[topic] = session
            self._last[key] = seq
            self._sessions.add(session)
        version = event.get("schema_version")
        if "schema_version" in event and version_problem(version):  # first: the rest means something else there
            raise SchemaVersionError(version, topic)
        self.received += 1
        return topic, event
