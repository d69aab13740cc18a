"""Transport security of the event sockets: loopback by default, CURVE encryption with a client allow-list.

The publisher binds :data:`DEFAULT_ENDPOINT` (``tcp://127.0.0.1:5555``) unless told otherwise; a
non-local endpoint without CURVE is allowed but logged as a warning (events then travel in clear text to
anyone who can reach the port). With CURVE (ZeroMQ's elliptic-curve encryption and authentication) the
publisher is the CURVE *server*: it holds a secret key, and a ZAP handler (pyzmq's
``ThreadAuthenticator``, one per ZeroMQ context, shared by every CURVE publisher of the process) admits
only subscribers whose public key is in an allow-list folder. Subscribers are CURVE *clients*: they hold
the server's public key and their own key pair. A subscriber that is not on the list, or speaks plain
ZeroMQ, gets nothing.

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
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realtime.events.endpoint import parse_endpoint, socket_error_hint
from sadvae.errors import ConfigError, MissingDependencyError

__all__ = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_PROXY_XPUB",
    "DEFAULT_PROXY_XSUB",
    "SERVER_NAME",
    "CLIENTS_DIR",
    "CurveServer",
    "CurveClient",
    "KeyPaths",
    "generate_keys",
    "is_local_endpoint",
    "warn_if_exposed",
    "open_socket",
]

log = logging.getLogger(__name__)

# where the publisher binds and subscribers connect unless told otherwise: loopback only (see the module docstring)
DEFAULT_ENDPOINT = "tcp://127.0.0.1:5555"
# `sadvae events proxy`: publishers connect to its XSUB side, subscribers to its XPUB side
DEFAULT_PROXY_XSUB = "tcp://127.0.0.1:5559"
DEFAULT_PROXY_XPUB = "tcp://127.0.0.1:5560"

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
    zmq = _zmq()
    try:
        public, secret_key = zmq.auth.load_certificate(p)
    except (ValueError, OSError, IndexError) as e:  # IndexError: a "public-key" line without "= ..."
        raise ConfigError(
            f"{p} is not a ZeroMQ CURVE certificate ({e or 'a key line without a value'}); make keys with "
            "`sadvae events keygen`"
        ) from None
    if secret and secret_key is None:
        raise ConfigError(f"{p} holds a public key only; pass the secret key file ({p.stem}.key_secret)")
    for field, key in (("public-key", public), ("secret-key", secret_key)):
        if key is not None and not _is_z85_key(zmq, key):
            raise ConfigError(
                f"{p}: {field} is not a 40-character Z85 CURVE key; remake the keys with `sadvae events keygen`"
            )
    return public, secret_key


def _is_z85_key(zmq: Any, key: bytes) -> bool:
    """Whether ``key`` is a CURVE key in Z85 text: 40 characters that decode to 32 bytes."""
    if len(key) != 40:
        return False
    try:
        return len(zmq.utils.z85.decode(key)) == 32
    except (ValueError, KeyError, TypeError, IndexError):
        return False


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
        return [
            (zmq.ZAP_DOMAIN, domain.encode()),
            (zmq.CURVE_SERVER, 1),
            (zmq.CURVE_SECRETKEY, secret),
            (zmq.CURVE_PUBLICKEY, public),
        ]

    def allowed_keys(self) -> dict[bytes, bool]:
        """The z85 public keys of the allow-list (every ``*.key`` file of :attr:`clients_dir`), read without glob.

        Raises:
            ConfigError: the folder is missing or holds no key, or one ``*.key`` file is not a certificate.
        """
        clients = Path(self.clients_dir)
        try:
            names = sorted(n for n in os.listdir(clients) if n.endswith(".key") and (clients / n).is_file())
        except OSError as e:
            raise ConfigError(
                f"CURVE allow-list {clients} cannot be read ({e.strerror}); make it with "
                "`sadvae events keygen DIR --client NAME`"
            ) from None
        keys: dict[bytes, bool] = {}
        for name in names:
            public, _ = _load(clients / name, secret=False)
            keys[public] = True
        if not keys:
            raise ConfigError(
                f"no client public keys (*.key) in the CURVE allow-list {clients}: add subscribers' public keys with "
                "`sadvae events keygen DIR --client NAME`"
            )
        return keys


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


_SECRET_BANNER = (
    "#   ZeroMQ CURVE **Secret** Certificate\n#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n"
)
_PUBLIC_BANNER = "#   ZeroMQ CURVE Public Certificate\n#   Exchange securely, or verify its contents after exchange.\n"


def _write_certificate(path: Path, public: bytes, secret: bytes | None) -> None:
    """Write a certificate in pyzmq's format (``zmq.auth.load_certificate`` reads it): a new file only
    (O_EXCL), never through a symlink (O_NOFOLLOW), mode 0600 for a secret from its first byte."""
    text = (_SECRET_BANNER if secret else _PUBLIC_BANNER) + f"#   made by sadvae events keygen, {time.ctime()}\n\n"
    text += f'metadata\ncurve\n    public-key = "{public.decode()}"\n'
    text += f'    secret-key = "{secret.decode()}"\n' if secret else ""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600 if secret else 0o644)
    except FileExistsError:
        raise ConfigError(
            f"{path} exists already; keys are never overwritten: delete it or choose another name"
        ) from None
    except OSError as e:
        raise ConfigError(f"cannot write {path} ({e.strerror}); choose a folder you own and can write") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def _private_dir(d: Path) -> None:
    """Create ``d`` with mode 0700, or check that an existing one is a folder of ours that others cannot write."""
    try:
        st = os.stat(d)
    except FileNotFoundError:
        try:
            os.mkdir(d, 0o700)
        except OSError as e:
            raise ConfigError(
                f"cannot create the key folder {d} ({e.strerror}); its parent must exist and be "
                "writable: create it first or choose another DIR"
            ) from None
        return
    if not stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"key folder {d} exists and is not a folder; choose another DIR")
    if st.st_mode & 0o022 or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
        raise ConfigError(
            f"key folder {d} is writable by other users or owned by another user; use a folder of "
            f"yours that only you can write (chmod go-w {d}) or a new DIR"
        )


def generate_keys(keys_dir: str | Path, clients: tuple[str, ...] = ("client",)) -> KeyPaths:
    """Make the server key pair (unless present) and one key pair per client, allowing each client in.

    Folders are created with mode 0700, secret files with 0600 from the start, and no file is written
    through a symlink or over an existing file.

    Args:
        keys_dir: the folder (created; its parent must exist); see the module docstring for the layout.
        clients: names of the subscribers' key pairs (``[A-Za-z0-9_.-]``, not "server"); repeats are made once.

    Raises:
        ConfigError: a bad client name, a client name whose key exists already, a folder that is not ours
            or is writable by others, or a folder that cannot be created or written.
    """
    zmq = _zmq()
    d = Path(keys_dir)
    allowed = d / CLIENTS_DIR
    clients = tuple(dict.fromkeys(clients))
    for name in clients:
        if not _NAME.match(name) or name == SERVER_NAME:
            raise ConfigError(f"client key name {name!r}: expected letters, digits, '_', '.', '-' (not 'server')")
        for f in (d / f"{name}.key", d / f"{name}.key_secret", allowed / f"{name}.key"):
            if os.path.lexists(f):
                raise ConfigError(f"{f} exists already; choose another --client name or delete the old pair")
    _private_dir(d)
    _private_dir(allowed)
    server_public = d / f"{SERVER_NAME}.key"
    server_secret = d / f"{SERVER_NAME}.key_secret"
    if not os.path.lexists(server_secret):
        public, secret = zmq.curve_keypair()
        _write_certificate(server_secret, public, secret)
        _write_certificate(server_public, public, None)
    secrets = []
    for name in clients:
        public, secret = zmq.curve_keypair()
        _write_certificate(d / f"{name}.key_secret", public, secret)
        _write_certificate(d / f"{name}.key", public, None)
        _write_certificate(allowed / f"{name}.key", public, None)
        secrets.append(d / f"{name}.key_secret")
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
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1, as an IPv6 socket reports an IPv4 peer
    return (mapped or address).is_loopback


def warn_if_exposed(endpoint: str, curve: Any, bind: bool = True) -> bool:
    """Log a warning when events leave the machine unencrypted; True when it warned.

    Args:
        endpoint: the bound or connected endpoint.
        curve: the CURVE settings, or None for plain sockets.
        bind: False for a publisher that connects to a proxy (CURVE is not offered there).
    """
    if curve is not None or is_local_endpoint(endpoint):
        return False
    if not bind:
        log.warning(
            "the proxy at %s relays events in clear text; keep it on this host / loopback (tcp://127.0.0.1:PORT)",
            endpoint,
        )
        return True
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

    def acquire(self, zmq: Any, ctx: Any, domain: str, keys: dict[bytes, bool]) -> None:
        from zmq.auth.thread import ThreadAuthenticator

        with self._lock:
            auth, users = self._auth.get(id(ctx), (None, 0))
            if auth is None:
                auth = self._start(zmq, ctx, ThreadAuthenticator)
            auth.certs[domain] = keys  # loaded by us: pyzmq's configure_curve globs, and drops all on one bad file
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
_ENFORCE_LOGGED: list[bool] = []


def _enforce_zap_domain(zmq: Any, sock: Any) -> None:
    """ZAP_ENFORCE_DOMAIN: refuse CURVE clients when no ZAP handler answers (libzmq would admit them all)."""
    try:
        sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)
    except (AttributeError, zmq.ZMQError) as e:  # a draft option in some libzmq builds
        if not _ENFORCE_LOGGED:
            _ENFORCE_LOGGED.append(True)
            log.debug("ZAP_ENFORCE_DOMAIN unavailable (%s); relying on the ZAP handler alone", e)


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
        ConfigError: a malformed endpoint (:func:`realtime.events.endpoint.parse_endpoint`, syntax only: ZeroMQ
            resolves host names itself), one that cannot be bound / connected, or an unusable CURVE key or allow-list.
    """
    verb = "bind" if bind else "connect"
    parsed = parse_endpoint(endpoint, bind=bind, what=f"cannot {verb} the event {role} to")
    zmq = _zmq()
    ctx = zmq.Context.instance()
    if parsed.ipv6:  # an IPv6 address (tcp://[::1]:5555): ZeroMQ sockets are IPv4-only unless told
        options = [(zmq.IPV6, 1), *options]
    domain = f"sadvae-{os.getpid()}-{next(_DOMAINS)}"
    if client is not None:
        options = options + client.socket_options(zmq)
    if server is not None:
        options = options + server.socket_options(zmq, domain)
        _AUTHENTICATORS.acquire(zmq, ctx, domain, server.allowed_keys())

    def release() -> None:
        if server is not None:
            _AUTHENTICATORS.release(ctx, domain)

    sock = ctx.socket(sock_type)
    try:
        for option, value in options:
            sock.setsockopt(option, value)
        if server is not None:
            _enforce_zap_domain(zmq, sock)
        (sock.bind if bind else sock.connect)(endpoint)
    except zmq.ZMQError as e:
        sock.close(linger=0)
        release()
        raise ConfigError(
            f"cannot {verb} the event {role} to {endpoint!r}: {socket_error_hint(e, endpoint, bind)}"
        ) from None
    return sock, release
