"""ZeroMQ endpoints: parsed and checked once, before any socket is made, with one clear error per mistake.

ZeroMQ itself is lenient in the wrong places: ``tcp://127.0.0.1:99999`` binds port 34463 (the port wraps
at 65536), ``tcp://999.0.0.1:5555`` connects and then silently retries forever, a host name that does not
resolve looks exactly like a publisher that sends nothing, and a missing ``tcp://`` gives "Invalid
argument". :func:`parse_endpoint` is the one place that checks an address; the publisher and subscriber
(:func:`realtime.events.security.open_socket`), ``sadvae-live --endpoint``, ``sadvae events --endpoint``
and ``sadvae events proxy`` all call it, and :func:`socket_error_hint` turns what ZeroMQ still refuses
(an address in use, one that is not this machine's) into the fix.

Accepted forms:

- ``tcp://HOST:PORT``: HOST is an IPv4 address, ``[IPv6]``, or a name: a host name that resolves (to
  connect), or a network interface or host name of this machine (to bind); ``*`` (every interface) binds
  only. PORT is 1..65535; ``*`` or 0 (any free port) binds only. Connecting also takes ZeroMQ's
  ``tcp://SOURCE;HOST:PORT`` (the local address to connect from).
- ``ipc://PATH``: a Unix socket file (binding needs its folder to exist); ``@NAME``: Linux's abstract namespace.
- ``inproc://NAME``: sockets of the same process only (the CLIs refuse it: another process never sees it).

Only the standard library is imported here.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import re
import socket
import stat
import time
from dataclasses import dataclass

from sadvae.errors import ConfigError

__all__ = ["TRANSPORTS", "Endpoint", "parse_endpoint", "socket_error_hint"]

TRANSPORTS = ("tcp", "ipc", "inproc")
_EXAMPLE = "tcp://127.0.0.1:5555"
_DOTTED = re.compile(r"^[0-9.]+$")
_NAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$")
_IPC_PATH_MAX = 107  # sun_path holds 108 bytes with the terminating NUL (Linux; macOS has 104)
IPC_IN_USE_S = 0.5  # an ipc:// socket file that keeps answering this long is in use (a closed one stops at once)


@dataclass(frozen=True)
class Endpoint:
    """One checked endpoint.

    Attributes:
        text: the endpoint as given (what ZeroMQ gets); transport: "tcp", "ipc" or "inproc".
        host: the TCP host ("*", an address without brackets, or a name); None for ipc/inproc.
        port: the TCP port; None for "*" / 0 (any free port) and for ipc/inproc.
        ipv6: the host is an IPv6 address (the socket needs ZeroMQ's IPV6 option).
        path: the ipc path or inproc name; None for tcp.
    """

    text: str
    transport: str
    host: str | None = None
    port: int | None = None
    ipv6: bool = False
    path: str | None = None


def parse_endpoint(
    text: str,
    *,
    bind: bool,
    what: str = "endpoint",
    resolve: bool = False,
    allow_inproc: bool = True,
) -> Endpoint:
    """Check a ZeroMQ endpoint for a socket that binds or connects.

    Args:
        text: the endpoint, e.g. ``tcp://127.0.0.1:5555``.
        bind: the socket binds it (else it connects).
        what: how the message names it: the flag (``--endpoint``) or a phrase ending in "to".
        resolve: look the host name up now (a name that does not resolve is an error); without it only the
            syntax is checked and ZeroMQ resolves (and retries) by itself.
        allow_inproc: accept ``inproc://`` (one process only; the command-line tools pass False).

    Returns:
        The parsed :class:`Endpoint`.

    Raises:
        ConfigError: naming ``what`` and the endpoint, what is wrong and what to write instead.
    """
    text = str(text)

    def bad(problem: str, fix: str) -> ConfigError:
        return ConfigError(f"{what} {text!r}: {problem}; {fix}")

    transport, sep, rest = text.partition("://")
    if not sep:
        if re.match(r"^[\w.\-\[\]:*]+:(\d+|\*)$", text):  # "127.0.0.1:5555", "localhost:5555"
            raise bad("no transport", f"write tcp://{text}")
        raise bad("not a ZeroMQ endpoint", f"write tcp://HOST:PORT (e.g. {_EXAMPLE})")
    if transport.lower() in TRANSPORTS and transport not in TRANSPORTS:
        raise bad("ZeroMQ reads the transport in lower case only", f"write {transport.lower()}://{rest}")
    if transport not in TRANSPORTS:
        hint = f"tcp://{rest}" if re.match(r"^[^/]+:\d+/?$", rest) else "tcp://HOST:PORT"
        usable = "tcp:// or ipc://" if not allow_inproc else "tcp://, ipc:// or inproc://"
        raise bad(f"transport '{transport}://' is not supported", f"use {usable} (e.g. {hint})")
    if transport == "inproc":
        if not allow_inproc:
            raise bad(
                "inproc:// reaches sockets of the same process only, never another program",
                f"use tcp://HOST:PORT (e.g. {_EXAMPLE}) or ipc://PATH",
            )
        if not rest:
            raise bad("inproc:// needs a name", "write inproc://NAME")
        return Endpoint(text, "inproc", path=rest)
    if transport == "ipc":
        return Endpoint(text, "ipc", path=_ipc_path(rest, bind, bad))
    return _tcp(text, rest, bind, resolve, bad)


def _ipc_path(path: str, bind: bool, bad) -> str:
    if not path:
        raise bad("ipc:// needs a path", "write ipc:///tmp/sadvae.sock (a socket file) or ipc://@NAME")
    if path == "*" and bind:
        return path
    if len(path.encode()) > _IPC_PATH_MAX:
        raise bad(
            f"the socket path is {len(path.encode())} bytes, more than the {_IPC_PATH_MAX} the system allows",
            "use a shorter path (e.g. under /tmp)",
        )
    if bind and not path.startswith("@"):
        folder = os.path.dirname(path) or "."
        if not os.path.isdir(folder):
            raise bad(f"folder {folder} does not exist", "create it first or choose a path in an existing folder")
        _ipc_free(path, bad)
    return path


def _ipc_free(path: str, bad) -> None:
    """Refuse to bind a socket file another socket serves: ZeroMQ deletes whatever is at the path and binds a new
    socket there, so the first one's subscribers would silently get nothing (and a regular file would be lost).
    A socket file nobody serves (left by a killed process) is stale: it is removed, and the bind goes ahead."""
    try:
        st = os.lstat(path)
    except OSError:
        return  # nothing there (or nothing we can see: ZeroMQ reports it)
    if not stat.S_ISSOCK(st.st_mode):
        raise bad(
            f"{path} exists and is not a socket (binding would delete it)",
            "choose another path, or remove the file yourself if it is not needed",
        )
    # a socket just closed still listens for a few milliseconds (ZeroMQ closes it on its I/O thread): only one
    # that keeps answering for IPC_IN_USE_S is in use
    deadline = time.monotonic() + IPC_IN_USE_S
    while _ipc_answers(path):
        if time.monotonic() >= deadline:
            raise bad(
                f"the socket {path} is in use (by another sadvae-live, proxy or subscriber?)",
                "stop that process or choose another path (binding would take the address from it silently)",
            )
        time.sleep(0.02)
    with contextlib.suppress(OSError):  # stale; ZeroMQ would remove it too
        os.unlink(path)


def _ipc_answers(path: str) -> bool:
    """Whether a Unix socket listens at ``path`` (False too when that cannot be told: ZeroMQ's bind reports it)."""
    family = getattr(socket, "AF_UNIX", None)
    if family is None:
        return False
    probe = socket.socket(family, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
    except (BlockingIOError, TimeoutError):  # a full backlog: someone listens
        return True
    except OSError:  # refused (stale), gone, or no permission
        return False
    finally:
        probe.close()
    return True


def _tcp(text: str, rest: str, bind: bool, resolve: bool, bad) -> Endpoint:
    if ";" in rest:  # ZeroMQ's tcp://SOURCE;HOST:PORT (connect from a chosen local address)
        if bind:
            raise bad("'SOURCE;' is for connecting", "bind tcp://HOST:PORT")
        source, _, rest = rest.partition(";")
        if not source:
            raise bad("empty source before ';'", "write tcp://SOURCE;HOST:PORT or drop the ';'")
    host, sep, port_text = rest.rpartition(":")
    if not sep or not host:
        if not sep:
            raise bad("no port", f"write tcp://{rest or 'HOST'}:PORT (e.g. {_EXAMPLE})")
        raise bad("no host", f"write tcp://HOST:{port_text} (e.g. tcp://127.0.0.1:{port_text or 5555})")
    port = _port(port_text, bind, bad)
    ipv6 = False
    if host.startswith("["):
        if not host.endswith("]"):
            raise bad("an IPv6 address needs a closing ']'", "write tcp://[ADDRESS]:PORT (e.g. tcp://[::1]:5555)")
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise bad(
                f"[{host}] is not a valid IPv6 address", "write tcp://[ADDRESS]:PORT (e.g. tcp://[::1]:5555)"
            ) from None
        ipv6 = True
    elif ":" in host:
        raise bad("an IPv6 address must be in brackets", f"write tcp://[{host}]:{port_text}")
    elif host == "*":
        if not bind:
            raise bad(
                "'*' (every interface) is for binding; connecting needs the publisher's address",
                f"write tcp://HOST:{port_text} (e.g. tcp://127.0.0.1:{port_text})",
            )
    elif _DOTTED.match(host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise bad(
                f"{host} is not a valid IPv4 address (four numbers 0-255 separated by dots)",
                f"check it (e.g. tcp://127.0.0.1:{port_text})",
            ) from None
    elif not _NAME.match(host) or len(host) > 253:
        raise bad(f"{host!r} is not a host name, IP address or interface", f"e.g. {_EXAMPLE}")
    elif resolve:
        _resolve(host, bind, port_text, bad)
    return Endpoint(text, "tcp", host=host, port=port, ipv6=ipv6)


def _port(text: str, bind: bool, bad) -> int | None:
    if text == "*" or text == "0":
        if not bind:
            raise bad(
                f"port {text} (any free port) is for binding; connecting needs the publisher's port",
                "write the port it printed (e.g. tcp://127.0.0.1:5555)",
            )
        return None
    if not text.isdigit() or not text.isascii():
        raise bad(f"port {text!r} is not a number", "write a port from 1 to 65535 (e.g. tcp://127.0.0.1:5555)")
    port = int(text)
    if not 1 <= port <= 65535:
        raise bad(f"port {port} is out of range", "use a port from 1 to 65535 (e.g. tcp://127.0.0.1:5555)")
    return port


def _interfaces() -> list[str]:
    try:
        return [name for _, name in socket.if_nameindex()]
    except (OSError, AttributeError):  # not every platform lists them
        return []


def _resolve(host: str, bind: bool, port_text: str, bad) -> None:
    """A name must be an interface (bind) or resolve (bind and connect)."""
    nics = _interfaces() if bind else []
    if host in nics:
        return
    try:
        socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as e:
        why = getattr(e, "strerror", None) or str(e)
        if bind:
            known = f" (interfaces: {', '.join(nics)})" if nics else ""
            raise bad(
                f"{host!r} is neither a network interface of this machine{known} nor a host name that resolves ({why})",
                f"bind an address of this machine, 127.0.0.1 (this machine only) or * (every interface), "
                f"e.g. tcp://127.0.0.1:{port_text}",
            ) from None
        raise bad(
            f"host name {host!r} does not resolve ({why})",
            "check the name (or the DNS / /etc/hosts), or write the publisher's IP address",
        ) from None


def socket_error_hint(err: BaseException, endpoint: str, bind: bool) -> str:
    """The fix for a bind / connect that ZeroMQ refused although :func:`parse_endpoint` accepted it.

    Args:
        err: the ``zmq.ZMQError`` (its ``errno`` picks the hint); endpoint: the endpoint; bind: it was a bind.

    Returns:
        ``"<what ZeroMQ said>; <what to do>"``, without the endpoint.
    """
    code = getattr(err, "errno", None)
    said = str(err).split(" (addr=")[0]
    host = endpoint.partition("://")[2].rpartition(":")[0].strip("[]")
    if code == errno.EADDRINUSE:
        fix = (
            "another process (another sadvae-live or proxy?) is bound there: stop it or choose another port"
            if bind
            else "choose another endpoint"
        )
    elif code == errno.EADDRNOTAVAIL:
        fix = (
            f"{host} is not an address of this machine: bind one of its own addresses, 127.0.0.1 (this "
            "machine only) or * (every interface)"
        )
    elif code == errno.EACCES:
        fix = (
            "ports below 1024 need administrator rights (choose a port above 1023)"
            if endpoint.startswith("tcp://")
            else "choose a folder you can write"
        )
    elif code == errno.ENODEV:
        known = ", ".join(_interfaces())
        fix = (
            f"{host!r} is not a network interface or address of this machine"
            + (f" (interfaces: {known})" if known else "")
            + "; bind 127.0.0.1 (this machine only) or * (every interface)"
        )
    elif code == errno.ENOENT and endpoint.startswith("ipc://"):
        fix = "the socket's folder does not exist: create it or choose another path"
    else:
        fix = f"check the endpoint (e.g. {_EXAMPLE})"
    return f"{said}; {fix}"
