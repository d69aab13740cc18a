"""Transport security of the event sockets: loopback by default, CURVE encryption with a client allow-list.

The publisher binds ``tcp://127.0.0.1:5555`` unless told otherwise; a non-local endpoint without
CURVE is allowed but logged as a warning (events then travel in clear text to anyone who can reach
the port). With CURVE (ZeroMQ's elliptic-curve encryption and authentication) the publisher is the
CURVE *server*: it holds a secret key, and a ZAP handler (pyzmq's ``ThreadAuthenticator``, one per
ZeroMQ context, shared by every CURVE publisher of the process) admits only subscribers whose public
key is in an allow-list folder. Subscribers are CURVE *clients*: they hold the server's public key
and their own key pair. A subscriber that is not on the list, or speaks plain ZeroMQ, gets nothing.

Key layout made by :func:`generate_keys` (``sadvae events keygen DIR``)::

    DIR/server.key          the publisher's public key: give it to subscribers
    DIR/server.key_secret   the publisher's secret key: stays on the publishing machine
    DIR/authorized_clients/ public keys of the subscribers allowed in (<name>.key)
    DIR/<name>.key, DIR/<name>.key_secret   a subscriber's pair: move the secret to that subscriber

``zmq`` is imported only when keys are made or a socket is opened.
"""

from __future__ import annotations

import importlib
import ipaddress
import itertools
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sadvae.errors import ConfigError, MissingDependencyError

__all__ = [
    "SERVER_NAME", "CLIENTS_DIR", "CurveServer", "CurveClient", "KeyPaths", "generate_keys", "is_local_endpoint",
    "warn_if_exposed", "open_socket",
]  # fmt: skip

log = logging.getLogger(__name__)

SERVER_NAME = "server"
CLIENTS_DIR = "authorized_clients"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_DOMAINS = itertools.count()


def _zmq() -> Any:
    try:
        zmq = importlib.import_module("zmq")
        importlib.import_module("zmq.auth")  # makes zmq.auth an attribute
        return zmq
    except ImportError:
        raise MissingDependencyError("pyzmq", "live") from None


def _load(path: str | Path, secret: bool) -> tuple[bytes, bytes | None]:
    """(public, secret) z85 keys of a ZeroMQ certificate file; ConfigError naming the file and the fix."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"CURVE key file {p} not found; make keys with `sadvae events keygen DIR`")
    try:
        public, secret_key = _zmq().auth.load_certificate(p)
    except (ValueError, OSError) as e:
        raise ConfigError(
            f"{p} is not a ZeroMQ CURVE certificate ({e}); make keys with `sadvae events keygen`"
        ) from None
    if secret and secret_key is None:
        raise ConfigError(f"{p} holds a public key only; pass the secret key file ({p.stem}.key_secret)")
    return public, secret_key


@dataclass(frozen=True)
class CurveServer:
    """The publisher's CURVE settings.

    Attributes:
        secret_key_file: the publisher's secret certificate (``server.key_secret``).
        clients_dir: folder of the public certificates (``*.key``) of the subscribers allowed in;
            read when the publisher opens (restart the publisher after adding a key).
    """

    secret_key_file: str
    clients_dir: str

    @classmethod
    def from_dir(cls, keys_dir: str | Path) -> CurveServer:
        """``DIR/server.key_secret`` and ``DIR/authorized_clients`` (the layout of :func:`generate_keys`)."""
        d = Path(keys_dir)
        return cls(str(d / f"{SERVER_NAME}.key_secret"), str(d / CLIENTS_DIR))

    def socket_options(self, zmq: Any, domain: str) -> list[tuple[int, Any]]:
        public, secret = _load(self.secret_key_file, secret=True)
        clients = Path(self.clients_dir)
        if not clients.is_dir() or not any(clients.glob("*.key")):
            raise ConfigError(
                f"CURVE allow-list {clients} has no client key (*.key): add subscribers' public keys with "
                "`sadvae events keygen DIR --client NAME`"
            )
        return [(zmq.ZAP_DOMAIN, domain.encode()), (zmq.CURVE_SERVER, 1), (zmq.CURVE_SECRETKEY, secret),
                (zmq.CURVE_PUBLICKEY, public)]  # fmt: skip


@dataclass(frozen=True)
class CurveClient:
    """A subscriber's CURVE settings.

    Attributes:
        server_key_file: the publisher's public certificate (``server.key``).
        secret_key_file: this subscriber's secret certificate (``<name>.key_secret``); its public half
            must be in the publisher's allow-list.
    """

    server_key_file: str
    secret_key_file: str

    @classmethod
    def from_dir(cls, keys_dir: str | Path, name: str = "client") -> CurveClient:
        """``DIR/server.key`` and ``DIR/<name>.key_secret`` (the layout of :func:`generate_keys`)."""
        d = Path(keys_dir)
        return cls(str(d / f"{SERVER_NAME}.key"), str(d / f"{name}.key_secret"))

    def socket_options(self, zmq: Any) -> list[tuple[int, Any]]:
        server, _ = _load(self.server_key_file, secret=False)
        public, secret = _load(self.secret_key_file, secret=True)
        return [(zmq.CURVE_SERVERKEY, server), (zmq.CURVE_PUBLICKEY, public), (zmq.CURVE_SECRETKEY, secret)]


@dataclass(frozen=True)
class KeyPaths:
    """What :func:`generate_keys` left in the folder (existing files are kept, never overwritten)."""

    server_public: Path
    server_secret: Path
    clients_dir: Path
    client_secrets: tuple[Path, ...]


def generate_keys(keys_dir: str | Path, clients: tuple[str, ...] = ("client",)) -> KeyPaths:
    """Make the server key pair (unless present) and one key pair per client, allowing each client in.

    Args:
        keys_dir: the folder (created); see the module docstring for the layout.
        clients: names of the subscribers' key pairs (``[A-Za-z0-9_.-]``, not "server").

    Raises:
        ConfigError: a bad client name, or a client name whose key exists already.
    """
    zmq = _zmq()
    d = Path(keys_dir)
    for name in clients:
        if not _NAME.match(name) or name == SERVER_NAME:
            raise ConfigError(f"client key name {name!r}: expected letters, digits, '_', '.', '-' (not 'server')")
        if (d / f"{name}.key").exists() or (d / f"{name}.key_secret").exists():
            raise ConfigError(f"{d / name}.key exists already; choose another --client name or delete the old pair")
    allowed = d / CLIENTS_DIR
    allowed.mkdir(parents=True, exist_ok=True)
    server_public, server_secret = d / f"{SERVER_NAME}.key", d / f"{SERVER_NAME}.key_secret"
    if not server_secret.exists():
        zmq.auth.create_certificates(d, SERVER_NAME)
        server_secret.chmod(0o600)
    secrets = []
    for name in clients:
        public, secret = (Path(p) for p in zmq.auth.create_certificates(d, name))
        secret.chmod(0o600)
        (allowed / public.name).write_bytes(public.read_bytes())
        secrets.append(secret)
    return KeyPaths(server_public, server_secret, allowed, tuple(secrets))


def is_local_endpoint(endpoint: str) -> bool:
    """True for ``ipc://``, ``inproc://`` and TCP on a loopback address or ``localhost``; False otherwise
    (``tcp://*``, ``0.0.0.0``, an interface name, another machine's address)."""
    transport, _, rest = endpoint.partition("://")
    if transport in ("ipc", "inproc"):
        return True
    host = rest.rsplit(":", 1)[0].split(";")[-1].strip("[]")  # "src;dst" form: the destination
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def warn_if_exposed(endpoint: str, curve: Any) -> bool:
    """Log a warning when events leave the machine unencrypted; True when it warned."""
    if curve is not None or is_local_endpoint(endpoint):
        return False
    log.warning(
        "events on %s are reachable from other machines, in clear text and for any subscriber; use a loopback "
        "endpoint (tcp://127.0.0.1:PORT) or CURVE keys (sadvae-live --curve-keys DIR, see docs/reliability.md)",
        endpoint,
    )
    return True


class _Authenticators:
    """One ZAP handler per ZeroMQ context, shared by the CURVE publishers of the process (reference counted)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._auth: dict[int, tuple[Any, int]] = {}

    def acquire(self, zmq: Any, ctx: Any, domain: str, clients_dir: str) -> None:
        from zmq.auth.thread import ThreadAuthenticator

        with self._lock:
            auth, users = self._auth.get(id(ctx), (None, 0))
            if auth is None:
                auth = self._start(zmq, ctx, ThreadAuthenticator)
            auth.configure_curve(domain=domain, location=clients_dir)
            self._auth[id(ctx)] = (auth, users + 1)

    @staticmethod
    def _start(zmq: Any, ctx: Any, factory: Any) -> Any:
        # libzmq closes sockets asynchronously: right after a previous handler stopped, its inproc ZAP
        # endpoint can still be taken for a few milliseconds (EADDRINUSE); wait for it, up to 2 s
        deadline = time.monotonic() + 2.0
        while True:
            auth = factory(ctx, log=logging.getLogger(f"{__name__}.zap"))
            try:
                auth.start()
                return auth
            except zmq.ZMQError as e:
                if getattr(auth, "zap_socket", None) is not None:  # made before its bind failed
                    auth.zap_socket.close(linger=0)
                if e.errno != zmq.EADDRINUSE or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def release(self, ctx: Any, domain: str) -> None:
        with self._lock:
            auth, users = self._auth.get(id(ctx), (None, 0))
            if auth is None:
                return
            auth.certs.pop(domain, None)
            if users <= 1:
                del self._auth[id(ctx)]
                auth.stop()
            else:
                self._auth[id(ctx)] = (auth, users - 1)


_AUTHENTICATORS = _Authenticators()


def open_socket(
    sock_type: int,
    endpoint: str,
    bind: bool,
    options: list[tuple[int, Any]],
    role: str,
    *,
    server: CurveServer | None = None,
    client: CurveClient | None = None,
) -> tuple[Any, Any]:
    """A socket of ``Context.instance()`` with ``options`` (and CURVE) set, bound or connected.

    Returns:
        ``(socket, release)``: call ``release()`` after closing the socket (stops a ZAP handler no one uses).

    Raises:
        ConfigError: the endpoint cannot be bound / connected, or a CURVE key or allow-list is unusable.
    """
    zmq = _zmq()
    ctx = zmq.Context.instance()
    domain = f"sadvae-{os.getpid()}-{next(_DOMAINS)}"
    if client is not None:
        options = options + client.socket_options(zmq)
    if server is not None:
        options = options + server.socket_options(zmq, domain)
        _AUTHENTICATORS.acquire(zmq, ctx, domain, server.clients_dir)

    def release() -> None:
        if server is not None:
            _AUTHENTICATORS.release(ctx, domain)

    sock = ctx.socket(sock_type)
    try:
        for option, value in options:
            sock.setsockopt(option, value)
        (sock.bind if bind else sock.connect)(endpoint)
    except zmq.ZMQError as e:
        sock.close(linger=0)
        release()
        raise ConfigError(
            f"cannot {'bind' if bind else 'connect'} the event {role} to {endpoint!r}: {e}; "
            "choose another endpoint (e.g. tcp://127.0.0.1:5556) or stop the process using it"
        ) from None
    return sock, release
