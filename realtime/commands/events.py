"""``sadvae events``: print the events of running ``sadvae-live`` processes; ``sadvae events proxy``: fan them in.

``sadvae events [--endpoint EP] [--json]`` subscribes and prints one line per event (``--json``: the
payload as it arrived, one JSON object per line, for ``jq`` and friends).

``sadvae events keygen DIR [--client NAME]`` makes CURVE keys (:func:`realtime.events.security.generate_keys`):
the publisher's pair and one pair per subscriber, whose public key is put on the allow-list; then
``sadvae-live --curve-keys DIR`` and ``sadvae events --curve-server-key DIR/server.key
--curve-client-key DIR/client.key_secret``.

``sadvae events proxy`` runs ZeroMQ's own XSUB/XPUB proxy (``zmq.proxy``) so that subscribers connect
to one address for every camera: each ``sadvae-live`` either connects to the proxy's XSUB side
(``--endpoint tcp://HOST:5559 --connect``) or binds its own port, which the proxy then dials with
``--from``; subscribers connect to the XPUB side (default ``tcp://127.0.0.1:5560``).

A plug-in of the ``sadvae`` command (:mod:`realtime.commands`); the work is done by
:mod:`realtime.events.publisher` and :mod:`realtime.events.security`, imported only when a command runs
(the default endpoint comes from :mod:`realtime.events.security`, which needs only the standard library).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from datetime import datetime
from functools import partial

from realtime.events.security import DEFAULT_ENDPOINT, DEFAULT_PROXY_XPUB, DEFAULT_PROXY_XSUB

__all__ = ["register", "format_event"]

DEFAULT_XSUB, DEFAULT_XPUB = DEFAULT_PROXY_XSUB, DEFAULT_PROXY_XPUB
WAIT_NOTICE_S = 1.0  # `sadvae events` says it is waiting when the first event takes longer than this
MAX_TIMEOUT_S = 1e6  # ZeroMQ polls with an int of milliseconds


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("events", help="print live events (sadvae-live), or run the multi-camera proxy")
    p.add_argument(
        "--endpoint", default=DEFAULT_ENDPOINT, help=f"publisher or proxy address (default {DEFAULT_ENDPOINT})"
    )
    p.add_argument("--json", action="store_true", help="print each payload as one JSON line")
    p.add_argument("--topic", action="append", help="topic prefix to receive (repeatable; default all sadvae.*)")
    p.add_argument("--count", type=int, help="exit after this many events")
    p.add_argument(
        "--timeout",
        type=float,
        help="exit with status 1 after this many seconds without an event (default: wait, saying so once on stderr)",
    )
    p.add_argument(
        "--validate",
        action="store_true",
        help="check every event against the JSON Schema (fields added within its schema_version pass)",
    )
    p.add_argument("--curve-server-key", metavar="FILE", help="a CURVE publisher's public key (server.key)")
    p.add_argument("--curve-client-key", metavar="FILE", help="this subscriber's secret key (NAME.key_secret)")
    p.set_defaults(func=_listen)
    psub = p.add_subparsers(dest="events_command", metavar="{proxy,keygen}")
    keygen = psub.add_parser("keygen", help="make CURVE keys: server pair, client pairs, allow-list")
    keygen.add_argument(
        "dir",
        metavar="DIR",
        help="folder for the keys (created; a server pair there is kept, and a --client name whose pair exists is "
        "refused: give new names to add subscribers)",
    )
    keygen.add_argument(
        "--client",
        dest="clients",
        action="append",
        metavar="NAME",
        help="a subscriber key pair to make and allow (repeatable; default 'client')",
    )
    keygen.set_defaults(func=_keygen)
    proxy = psub.add_parser("proxy", help="XSUB/XPUB proxy: many publishers, one address for subscribers")
    proxy.add_argument("--xsub", default=DEFAULT_XSUB, help=f"bind: publishers connect here (default {DEFAULT_XSUB})")
    proxy.add_argument("--xpub", default=DEFAULT_XPUB, help=f"bind: subscribers connect here (default {DEFAULT_XPUB})")
    proxy.add_argument(
        "--from",
        dest="sources",
        action="append",
        default=[],
        metavar="ENDPOINT",
        help="also dial a publisher that binds its own address (repeatable)",
    )
    proxy.set_defaults(func=_proxy)


def _clock(event: dict) -> str:
    try:
        return (
            datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00")).astimezone().strftime("%H:%M:%S.%f")[:-3]
        )
    except (KeyError, ValueError):
        return "--:--:--.---"


def format_event(topic: str, event: dict) -> str:
    """One human-readable line for an event."""
    src = event.get("source", "?")
    if event.get("type") == "status":
        lat = event.get("latency_ms") or {}
        parts = [f"{k} {lat[k]:.1f}" for k in ("pose", "model", "total") if k in lat]
        drops = {k: v for k, v in (event.get("dropped") or {}).items() if v}
        line = f"{_clock(event)} {src} status {event.get('fps', 0):.1f} fps, {event.get('tracks', 0)} track(s)"
        line += f", ms: {', '.join(parts)}" if parts else ""
        line += f", dropped {drops}" if drops else ""
        for person in event.get("persons") or ():  # what the model sees now, per person
            seen = "no action" if person.get("no_action") else person.get("label")
            decided = f" (decided {person['decided']})" if person.get("decided") else ""
            unseen = f", {' and '.join(person['out_of_view'])} out of view" if person.get("out_of_view") else ""
            line += f"; #{person.get('track_id')} {seen} {person.get('score', 0):.2f}{decided}{unseen}"
        return line + (f" - {event['message']}" if event.get("message") else "")
    top = ", ".join(f"{t['label']} {t['score']:.2f}" for t in event.get("topk", []))
    reason = f" ({event['reason']})" if event.get("type") == "end" and event.get("reason") else ""
    return (
        f"{_clock(event)} {src} track {event.get('track_id')} {str(event.get('type')).upper():<6} "
        f"{event.get('label')} {event.get('score', 0):.2f}{reason}  [{top}]"
    )


def _keygen(args: argparse.Namespace) -> int:
    from realtime.events.security import generate_keys

    keys = generate_keys(args.dir, tuple(args.clients or ("client",)))
    print(f"publisher: sadvae-live --curve-keys {args.dir}  (secret {keys.server_secret}, keep it there)")
    for secret in keys.client_secrets:
        print(
            f"subscriber: sadvae events --curve-server-key {keys.server_public} --curve-client-key {secret}"
            f"  (move {secret.name} to the subscriber's machine)"
        )
    print(f"allowed subscribers: {', '.join(sorted(p.stem for p in keys.clients_dir.iterdir() if p.suffix == '.key'))}")
    return 0


def _listen(args: argparse.Namespace) -> int:
    from realtime.events.endpoint import parse_endpoint
    from realtime.events.format import SCHEMA_VERSION, TOPIC_PREFIX, sanitize_source, topic_can_match
    from realtime.events.publisher import Subscriber
    from realtime.events.security import CurveClient
    from sadvae.errors import ConfigError

    parse_endpoint(args.endpoint, bind=False, what="--endpoint", resolve=True, allow_inproc=False)
    if args.count is not None and args.count < 1:
        raise ConfigError(f"--count must be >= 1, got {args.count}")
    if args.timeout is not None and not 0 < args.timeout <= MAX_TIMEOUT_S:
        raise ConfigError(f"--timeout must be > 0 and at most {MAX_TIMEOUT_S:g} seconds, got {args.timeout}")
    for topic in args.topic or []:
        if not topic_can_match(topic):
            rest = topic.removeprefix(TOPIC_PREFIX + ".").split(".")[0]
            raise ConfigError(
                f"--topic {topic!r} can never match: topics are {TOPIC_PREFIX}.SOURCE.action|status with SOURCE the "
                f"publisher's --source-name in lower case (did you mean {TOPIC_PREFIX}.{sanitize_source(rest)}. ?)"
            )
    if (args.curve_server_key is None) != (args.curve_client_key is None):
        raise ConfigError("CURVE needs both --curve-server-key (server.key) and --curve-client-key (NAME.key_secret)")
    curve = CurveClient(args.curve_server_key, args.curve_client_key) if args.curve_server_key else None
    seen = skipped = 0
    said_shared: set[str] = set()
    versions: dict = {}  # repr(schema_version) -> events skipped for it (another version: said once, counted)
    with Subscriber(args.endpoint, args.topic or ["sadvae."], curve=curve) as sub:
        monitor = _HandshakeMonitor(sub, curve is not None)
        try:
            while args.count is None or seen < args.count:
                # without --timeout, say once that it waits rather than sit there silently (a --timeout ends
                # with its own line)
                first = args.timeout is None and seen == skipped == 0
                got = _recv(sub, args.timeout, monitor, notice=partial(_waiting, args) if first else None)
                if got is None:
                    print(f"sadvae events: no event for {args.timeout:g} s on {args.endpoint}", file=sys.stderr)
                    return 1
                for topic in sub.shared.keys() - said_shared:  # said once per topic, when first seen
                    said_shared.add(topic)
                    a, b = sub.shared[topic]
                    print(
                        f"sadvae events: two publishers share the topic {topic} (sessions {a} and {b}): their events "
                        "interleave; give each sadvae-live its own --source-name",
                        file=sys.stderr,
                        flush=True,
                    )
                line = _render(got, args, sub.endpoint, versions)
                if line is None:
                    skipped += 1
                    continue
                seen += 1
                print(line, flush=True)
        finally:
            monitor.close()
            other = sum(versions.values())
            if skipped - other:
                print(f"sadvae events: skipped {skipped - other} malformed event(s)", file=sys.stderr)
            if other:
                said = ", ".join(versions)
                print(
                    f"sadvae events: skipped {other} event(s) of schema_version {said} (this sadvae reads version "
                    f"{SCHEMA_VERSION}): run the same sadvae-live release on both sides",
                    file=sys.stderr,
                )
            if sub.missed:
                print(
                    f"sadvae events: missed {sub.missed} event(s) (gaps in the publishers' seq numbering: the "
                    "subscriber read too slowly, or joined while they were sent)",
                    file=sys.stderr,
                )
    return 0


def _waiting(args: argparse.Namespace) -> None:
    topics = ", ".join(args.topic) if args.topic else "sadvae.*"
    print(
        f"sadvae events: waiting for events on {args.endpoint} (topics {topics}); nothing yet: is a sadvae-live "
        "publishing there? (Ctrl-C stops)",
        file=sys.stderr,
        flush=True,
    )


def _recv(sub, timeout_s: float | None, monitor: _HandshakeMonitor, notice=None):
    """One ``(topic, event)``, ``(topic, DataFormatError)`` for an undecodable message, or None on timeout.

    ``notice`` is called once when nothing has arrived for :data:`WAIT_NOTICE_S` (unless the handshake monitor
    has reported a failed handshake).
    """
    from sadvae.errors import DataFormatError

    now = time.monotonic()
    deadline = None if timeout_s is None else now + timeout_s
    notice_at = None if notice is None else now + WAIT_NOTICE_S
    while True:
        wait_ms = None if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
        wait_ms = 200 if wait_ms is None else min(wait_ms, 200)  # wake up now and then to report a failed handshake
        if notice_at is not None:
            left_ms = max(0, int((notice_at - time.monotonic()) * 1000))
            wait_ms = left_ms if wait_ms is None else min(wait_ms, left_ms)
        try:
            got = sub.recv(timeout_ms=wait_ms)
        except DataFormatError as e:
            return getattr(e, "topic", None), e  # the topic of an undecodable message is not known here
        if got is not None:
            return got
        monitor.check()
        if deadline is not None and time.monotonic() >= deadline:
            return None
        if notice_at is not None and time.monotonic() >= notice_at:
            if not monitor.said:  # a failed handshake is the explanation already
                notice()
            notice_at = None


def _render(got: tuple, args: argparse.Namespace, endpoint: str, versions: dict | None = None) -> str | None:
    """The line to print for one message, or None (and one line on stderr) when it is malformed.

    An event of another ``schema_version`` is said once per version (``versions`` counts them: version -> events),
    before anything else is checked: the rest of such an event means something else.
    """
    from realtime.events.publisher import SchemaVersionError, validate

    topic, event = got
    try:
        if isinstance(event, Exception):
            raise event
        if args.validate:
            validate(event)  # the consumer schema: fields and values added within this version pass
        if args.json:
            return json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        return format_event(topic, event)
    except SchemaVersionError as e:
        versions, key = ({} if versions is None else versions), repr(e.version)  # repr: a list is no dict key
        if key not in versions:
            print(f"sadvae events: skipped an event on {topic or endpoint}: {e.problem}", file=sys.stderr)
        versions[key] = versions.get(key, 0) + 1
        return None
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as e:
        reason = getattr(e, "problem", None) or f"{type(e).__name__}: {e}"
        where = f" (at {e.where})" if getattr(e, "where", None) else ""
        print(f"sadvae events: skipped a malformed event on {topic or endpoint}: {reason}{where}", file=sys.stderr)
        return None


class _HandshakeMonitor:
    """Prints one line when the handshake with the publisher fails (ZeroMQ itself only stays silent): a client key
    the publisher's allow-list refuses, a wrong ``--curve-server-key``, or CURVE on one side only."""

    def __init__(self, sub, curve: bool) -> None:
        import zmq

        self._zmq, self.said, self.curve = zmq, False, curve
        self._sock = getattr(sub, "_sock", None)
        events = (
            zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
        )
        self._mon = self._sock.get_monitor_socket(events) if self._sock is not None else None

    def check(self) -> None:
        from zmq.utils.monitor import recv_monitor_message

        while self._mon is not None and self._mon.poll(0):
            msg = recv_monitor_message(self._mon)
            if self.said:
                continue
            self.said = True
            if not self.curve:
                print(
                    "sadvae events: the handshake with the publisher failed: it encrypts its events (sadvae-live "
                    "--curve-keys: pass --curve-server-key DIR/server.key --curve-client-key DIR/NAME.key_secret), "
                    "or it is not a sadvae-live publisher",
                    file=sys.stderr,
                    flush=True,
                )
                continue
            if msg["event"] == self._zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                said = (
                    f"the publisher refused this client's key: ZAP status {msg['value']}: this client's public key is "
                    "not on its allow-list"
                )
            else:  # not the client's key: the server's (until 7 December 2026, late, this too blamed the client's)
                said = (
                    "the CURVE handshake with the publisher failed: its key is not the --curve-server-key given, or "
                    "it does not use CURVE"
                )
            print(f"sadvae events: {said}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._mon is not None:
            try:
                self._sock.disable_monitor()
            except self._zmq.ZMQError:
                pass
            self._mon.close(linger=0)
            self._mon = None


def _proxy(args: argparse.Namespace) -> int:
    try:
        import zmq
    except ImportError:
        from sadvae.errors import MissingDependencyError

        raise MissingDependencyError("pyzmq", "live") from None
    from realtime.events.endpoint import parse_endpoint, socket_error_hint
    from realtime.events.security import warn_if_exposed
    from sadvae.errors import ConfigError

    checked = {"--xsub": args.xsub, "--xpub": args.xpub}  # every address is checked before any socket is made
    sides = {f: parse_endpoint(e, bind=True, what=f, resolve=True, allow_inproc=False) for f, e in checked.items()}
    ipv6 = {flag: ep.ipv6 for flag, ep in sides.items()}
    for endpoint in args.sources:
        ipv6["--xsub"] |= parse_endpoint(endpoint, bind=False, what="--from", resolve=True, allow_inproc=False).ipv6
    if twice := sorted({e for e in args.sources if args.sources.count(e) > 1}):
        # ZeroMQ dials it twice and relays each of its events twice (integrator audit, 7 December 2026, late)
        raise ConfigError(f"--from {twice[0]!r} is given twice: its events would arrive twice; give it once")
    if args.xsub == args.xpub and (sides["--xsub"].port is not None or sides["--xsub"].path not in (None, "*")):
        raise ConfigError(f"--xsub and --xpub are both {args.xsub!r}; give the two sides different addresses")
    ctx = zmq.Context.instance()
    xsub, xpub = ctx.socket(zmq.XSUB), ctx.socket(zmq.XPUB)
    stopped, status = "stopped", 0
    try:
        for sock, flag in ((xsub, "--xsub"), (xpub, "--xpub")):
            if ipv6[flag]:  # ZeroMQ sockets are IPv4-only unless told
                sock.setsockopt(zmq.IPV6, 1)
        bound = []  # the real addresses (the port of ':*'), before --from changes LAST_ENDPOINT
        for sock, endpoint, flag in ((xsub, args.xsub, "--xsub"), (xpub, args.xpub, "--xpub")):
            try:
                sock.bind(endpoint)
            except zmq.ZMQError as e:
                hint = socket_error_hint(e, endpoint, bind=True)
                raise ConfigError(f"proxy cannot bind {flag} {endpoint!r}: {hint}") from None
            bound.append(sock.getsockopt(zmq.LAST_ENDPOINT).decode())
        for endpoint in args.sources:
            try:
                xsub.connect(endpoint)
            except zmq.ZMQError as e:
                hint = socket_error_hint(e, endpoint, bind=False)
                raise ConfigError(f"proxy cannot connect to publisher --from {endpoint!r}: {hint}") from None
        for endpoint in bound:  # the proxy relays in clear text: CURVE is not offered here
            warn_if_exposed(endpoint, None, bind=False)
        dialled = f"; dialling {', '.join(args.sources)}" if args.sources else ""
        # zmq.proxy blocks inside libzmq, where a Ctrl-C is not always seen; run the steerable proxy on a
        # worker thread (it owns both sockets from here on) and stop it from the main thread with TERMINATE
        ctrl_addr = f"inproc://sadvae-proxy-control-{id(xsub)}"
        control = ctx.socket(zmq.PAIR)
        control.bind(ctrl_addr)
        # the worker's end is an Event, not Thread.join / is_alive: a Ctrl-C that interrupts join() can leave
        # is_alive() False while the thread still runs (CPython 3.11), and the sockets would be closed under it
        done = threading.Event()
        worker = threading.Thread(target=_run_proxy, args=(zmq, ctx, xsub, xpub, ctrl_addr, done), daemon=True)
        worker.start()
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            # announced once the worker runs and a signal is caught here: a Ctrl-C right after the line (a script
            # that waits for it) stopped the proxy with a worker thread's traceback and "sadvae: interrupted"
            print(
                f"sadvae events proxy: publishers -> {bound[0]} (XSUB){dialled}; subscribers -> {bound[1]} (XPUB)",
                file=sys.stderr,
                flush=True,
            )
            while not done.wait(0.2):
                pass
        except _Terminated:
            stopped = "stopped (sigterm)"
        except KeyboardInterrupt:
            stopped, status = "stopped (sigint)", 130
        finally:
            signal.signal(signal.SIGTERM, previous)
            if not done.is_set():
                control.send(b"TERMINATE")
                done.wait(5.0)
            control.close(linger=0)
    finally:
        xsub.close(linger=0)
        xpub.close(linger=0)
    # a last line and sadvae-live's exit statuses: 130 for a Ctrl-C, 0 for SIGTERM (until 7 December 2026, late,
    # the proxy stopped without a word, 0 either way)
    print(f"sadvae events proxy: {stopped}", file=sys.stderr, flush=True)
    return status


class _Terminated(KeyboardInterrupt):
    """SIGTERM, told apart from a Ctrl-C."""


def _raise_interrupt(signum, frame) -> None:
    raise _Terminated


def _run_proxy(zmq, ctx, xsub, xpub, ctrl_addr: str, done: threading.Event) -> None:
    try:
        control = ctx.socket(zmq.PAIR)
        control.connect(ctrl_addr)
        try:
            zmq.proxy_steerable(xsub, xpub, None, control)
        except zmq.ContextTerminated:
            pass
        finally:
            control.close(linger=0)
    finally:
        done.set()
