"""Events: the wire format and its schema (``event_schema.json``), the ZeroMQ publisher and subscriber, CURVE
security, and the emitter that turns decisions into events.

:mod:`.format` builds, encodes, decodes and validates events; :mod:`.publisher` sends and receives them;
:mod:`.endpoint` parses and checks endpoints; :mod:`.security` holds the loopback rules and CURVE keys;
:mod:`.emit` is the pipeline's emitter; :mod:`.examples` the documented example payloads.

The names below import on first use (PEP 562), so ``from realtime.events.security import DEFAULT_ENDPOINT``
(``sadvae-live``'s and ``sadvae events``' parsers) stays free of numpy, as before the package existed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from realtime.events.emit import Emitter
    from realtime.events.endpoint import Endpoint, parse_endpoint
    from realtime.events.format import (
        EVENT_TYPES,
        STATUS_REASONS,
        STOP_REASONS,
        SchemaVersionError,
        decode,
        encode,
        load_schema,
        make_action_event,
        make_status_event,
        sanitize_source,
        topic_for,
        validate,
    )
    from realtime.events.publisher import Publisher, PublisherOptions, Subscriber
    from realtime.events.security import (
        DEFAULT_ENDPOINT,
        CurveClient,
        CurveServer,
        generate_keys,
        is_local_endpoint,
        warn_if_exposed,
    )

_HOME = {
    "Emitter": "realtime.events.emit",
    "Endpoint": "realtime.events.endpoint",
    "parse_endpoint": "realtime.events.endpoint",
    "EVENT_TYPES": "realtime.events.format",
    "STATUS_REASONS": "realtime.events.format",
    "STOP_REASONS": "realtime.events.format",
    "SchemaVersionError": "realtime.events.format",
    "decode": "realtime.events.format",
    "encode": "realtime.events.format",
    "load_schema": "realtime.events.format",
    "make_action_event": "realtime.events.format",
    "make_status_event": "realtime.events.format",
    "sanitize_source": "realtime.events.format",
    "topic_for": "realtime.events.format",
    "validate": "realtime.events.format",
    "Publisher": "realtime.events.publisher",
    "PublisherOptions": "realtime.events.publisher",
    "Subscriber": "realtime.events.publisher",
    "DEFAULT_ENDPOINT": "realtime.events.security",
    "CurveClient": "realtime.events.security",
    "CurveServer": "realtime.events.security",
    "generate_keys": "realtime.events.security",
    "is_local_endpoint": "realtime.events.security",
    "warn_if_exposed": "realtime.events.security",
}

__all__ = [
    "Emitter",
    "Endpoint",
    "parse_endpoint",
    "EVENT_TYPES",
    "STATUS_REASONS",
    "STOP_REASONS",
    "SchemaVersionError",
    "decode",
    "encode",
    "load_schema",
    "make_action_event",
    "make_status_event",
    "sanitize_source",
    "topic_for",
    "validate",
    "Publisher",
    "PublisherOptions",
    "Subscriber",
    "DEFAULT_ENDPOINT",
    "CurveClient",
    "CurveServer",
    "generate_keys",
    "is_local_endpoint",
    "warn_if_exposed",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
