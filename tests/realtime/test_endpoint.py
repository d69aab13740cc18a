"""ZeroMQ endpoints are checked once (realtime/events/endpoint.py): one clear error naming the flag and the fix."""

from __future__ import annotations

import errno
import socket

import pytest

from realtime.events.endpoint import parse_endpoint, socket_error_hint
from realtime.events.security import is_local_endpoint
from sadvae.errors import ConfigError


@pytest.mark.parametrize(
    ("endpoint", "bind", "words"),
    [
        ("garbage", False, ["--endpoint 'garbage': not a ZeroMQ endpoint", "write tcp://HOST:PORT"]),
        ("127.0.0.1:5555", False, ["no transport", "write tcp://127.0.0.1:5555"]),
        ("localhost:5555", True, ["no transport", "write tcp://localhost:5555"]),
        ("http://127.0.0.1:5555", False, ["transport 'http://' is not supported", "tcp://127.0.0.1:5555"]),
        ("TCP://127.0.0.1:5555", False, ["lower case", "write tcp://127.0.0.1:5555"]),
        ("tcp://127.0.0.1:99999", False, ["port 99999 is out of range", "from 1 to 65535"]),
        ("tcp://127.0.0.1:99999", True, ["port 99999 is out of range", "from 1 to 65535"]),
        ("tcp://127.0.0.1:65536", True, ["port 65536 is out of range"]),
        ("tcp://127.0.0.1:abc", False, ["port 'abc' is not a number"]),
        ("tcp://127.0.0.1", False, ["no port", "write tcp://127.0.0.1:PORT"]),
        ("tcp://:5555", True, ["no host", "tcp://HOST:5555"]),
        ("tcp://999.0.0.1:5555", False, ["999.0.0.1 is not a valid IPv4 address", "four numbers 0-255"]),
        ("tcp://999.1.1.1:5555", True, ["999.1.1.1 is not a valid IPv4 address"]),
        ("tcp://1.2.3:5555", False, ["1.2.3 is not a valid IPv4 address"]),
        ("tcp://::1:5555", True, ["IPv6 address must be in brackets", "tcp://[::1]:5555"]),
        ("tcp://[::1:5555", True, ["closing ']'"]),
        ("tcp://[zz]:5555", True, ["[zz] is not a valid IPv6 address"]),
        ("tcp://*:5555", False, ["'*' (every interface) is for binding", "publisher's address"]),
        ("tcp://127.0.0.1:*", False, ["port * (any free port) is for binding"]),
        ("tcp://127.0.0.1:0", False, ["port 0 (any free port) is for binding"]),
        ("tcp://a b:5555", False, ["'a b' is not a host name"]),
        ("tcp://a;127.0.0.1:5555", True, ["'SOURCE;' is for connecting"]),
        ("ipc://", True, ["ipc:// needs a path"]),
        ("ipc:///nonexistent-folder-xyz/x.sock", True, ["folder /nonexistent-folder-xyz does not exist"]),
        ("ipc:///tmp/" + "x" * 120, True, ["more than the 107", "shorter path"]),
        ("inproc://", True, ["inproc:// needs a name"]),
    ],
)
def test_bad_endpoints_are_one_clear_error(endpoint: str, bind: bool, words: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        parse_endpoint(endpoint, bind=bind, what="--endpoint")
    text = str(err.value)
    assert text.startswith(f"--endpoint {endpoint!r}: ") and "\n" not in text
    for word in words:
        assert word in text
    assert "stop the process" not in text


@pytest.mark.parametrize(
    ("endpoint", "bind", "host", "port", "ipv6"),
    [
        ("tcp://127.0.0.1:5555", False, "127.0.0.1", 5555, False),
        ("tcp://127.0.0.1:65535", True, "127.0.0.1", 65535, False),
        ("tcp://127.0.0.1:1", False, "127.0.0.1", 1, False),
        ("tcp://127.0.0.1:*", True, "127.0.0.1", None, False),
        ("tcp://*:5555", True, "*", 5555, False),
        ("tcp://0.0.0.0:0", True, "0.0.0.0", None, False),
        ("tcp://[::1]:5555", True, "::1", 5555, True),
        ("tcp://[::1]:*", True, "::1", None, True),
        ("tcp://localhost:5555", False, "localhost", 5555, False),
        ("tcp://my-host.example:5555", False, "my-host.example", 5555, False),  # syntax only: not resolved
        ("tcp://10.0.0.1;127.0.0.1:5555", False, "127.0.0.1", 5555, False),
    ],
)
def test_good_tcp_endpoints_parse(endpoint, bind, host, port, ipv6) -> None:
    ep = parse_endpoint(endpoint, bind=bind)
    assert (ep.text, ep.transport, ep.host, ep.port, ep.ipv6) == (endpoint, "tcp", host, port, ipv6)


def test_ipc_and_inproc_endpoints(tmp_path) -> None:
    ep = parse_endpoint(f"ipc://{tmp_path}/events.sock", bind=True)
    assert (ep.transport, ep.path) == ("ipc", f"{tmp_path}/events.sock")
    assert parse_endpoint("ipc:///no/such/folder/x.sock", bind=False).transport == "ipc"  # connecting: no check
    assert parse_endpoint("ipc://@sadvae-abstract", bind=True).path == "@sadvae-abstract"
    assert parse_endpoint("inproc://x", bind=True).path == "x"
    with pytest.raises(ConfigError, match="inproc:// reaches sockets of the same process only.*use tcp://HOST:PORT"):
        parse_endpoint("inproc://x", bind=True, what="--endpoint", allow_inproc=False)


def test_host_names_are_resolved_only_when_asked(monkeypatch) -> None:
    def no_dns(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    assert parse_endpoint("tcp://nosuchhost.invalid:5555", bind=False).host == "nosuchhost.invalid"
    with pytest.raises(ConfigError) as err:
        parse_endpoint("tcp://nosuchhost.invalid:5555", bind=False, what="--endpoint", resolve=True)
    assert str(err.value) == (
        "--endpoint 'tcp://nosuchhost.invalid:5555': host name 'nosuchhost.invalid' does not resolve (Name or "
        "service not known); check the name (or the DNS / /etc/hosts), or write the publisher's IP address"
    )
    with pytest.raises(ConfigError, match="neither a network interface of this machine.*nor a host name that resolves"):
        parse_endpoint("tcp://nosuchhost.invalid:5555", bind=True, what="--endpoint", resolve=True)
    # IP addresses and '*' never need DNS
    assert parse_endpoint("tcp://127.0.0.1:5555", bind=False, resolve=True).port == 5555
    assert parse_endpoint("tcp://*:5555", bind=True, resolve=True).host == "*"


def test_a_network_interface_name_binds_without_dns(monkeypatch) -> None:
    monkeypatch.setattr(socket, "if_nameindex", lambda: [(1, "lo"), (2, "eth7")])
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: pytest.fail("an interface name needs no DNS"))
    assert parse_endpoint("tcp://eth7:5555", bind=True, resolve=True).host == "eth7"


@pytest.mark.parametrize(
    ("code", "endpoint", "bind", "words", "not_words"),
    [
        (errno.EADDRINUSE, "tcp://127.0.0.1:5555", True, ["another process", "choose another port"], []),
        (errno.EADDRNOTAVAIL, "tcp://203.0.113.7:5555", True, ["203.0.113.7 is not an address of this machine"], []),
        (errno.EACCES, "tcp://127.0.0.1:80", True, ["ports below 1024"], []),
        (errno.ENODEV, "tcp://wlan9:5555", True, ["'wlan9' is not a network interface"], []),
        (errno.ENOENT, "ipc:///x/y.sock", True, ["folder does not exist"], []),
        (errno.EINVAL, "tcp://127.0.0.1:5555", False, ["check the endpoint"], ["stop the process", "another process"]),
    ],
)
def test_socket_errors_get_the_hint_of_their_cause(code, endpoint, bind, words, not_words) -> None:
    zmq = pytest.importorskip("zmq")
    hint = socket_error_hint(zmq.ZMQError(code), endpoint, bind)
    assert hint.startswith(f"{zmq.ZMQError(code)}; ")  # what ZeroMQ said, then the fix
    for word in words:
        assert word in hint
    for word in not_words:
        assert word not in hint


def test_publisher_and_subscriber_refuse_a_wrapping_port_and_a_bad_address() -> None:
    """ZeroMQ binds :99999 as :34463 and connects to 999.0.0.1 forever; the sockets now refuse both."""
    pytest.importorskip("zmq")
    from realtime.events.publisher import Publisher, PublisherOptions, Subscriber

    with pytest.raises(ConfigError, match=r"cannot bind the event publisher to 'tcp://127.0.0.1:99999': port 99999"):
        Publisher(PublisherOptions(endpoint="tcp://127.0.0.1:99999"))
    with pytest.raises(ConfigError, match=r"cannot connect the event publisher to 'tcp://127.0.0.1:99999'"):
        Publisher(PublisherOptions(endpoint="tcp://127.0.0.1:99999", bind=False))
    with pytest.raises(ConfigError, match="999.0.0.1 is not a valid IPv4 address"):
        Subscriber("tcp://999.0.0.1:5555")
    with pytest.raises(ConfigError) as err:
        Subscriber("nonsense")
    assert "stop the process" not in str(err.value) and "write tcp://HOST:PORT" in str(err.value)


def test_bind_conflict_hint_still_says_to_stop_the_other_process() -> None:
    pytest.importorskip("zmq")
    from realtime.events.publisher import Publisher, PublisherOptions

    with Publisher(PublisherOptions(endpoint="tcp://127.0.0.1:*")) as first:
        with pytest.raises(ConfigError, match="Address already in use; another process .* stop it or choose another"):
            Publisher(PublisherOptions(endpoint=first.endpoint))


def test_ipv4_mapped_loopback_is_local() -> None:
    """An IPv6 proxy socket reports an IPv4 loopback bind as [::ffff:127.0.0.1]: still this machine only."""
    assert is_local_endpoint("tcp://[::ffff:127.0.0.1]:5559")
    assert not is_local_endpoint("tcp://[::ffff:10.0.0.1]:5559")
