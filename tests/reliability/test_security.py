"""Security defaults of the event sockets: loopback by default, a warning for exposed plain endpoints, CURVE with a
client allow-list (real sockets, real ZAP handler), ``sadvae events keygen`` and ``sadvae-live --curve-keys``."""

from __future__ import annotations

import json
import logging
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

zmq = pytest.importorskip("zmq")

from realtime.cli import build_parser  # noqa: E402
from realtime.events.publisher import Publisher, PublisherOptions, Subscriber, make_status_event  # noqa: E402
from realtime.events.security import CurveClient, CurveServer, _write_certificate, generate_keys, is_local_endpoint  # noqa: E402
from sadvae.cli import main as sadvae_main  # noqa: E402
from sadvae.errors import ConfigError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ANY_PORT = "tcp://127.0.0.1:*"
SADVAE = [sys.executable, "-c", "import sys; from sadvae.cli import main; sys.exit(main())"]


def heartbeat(source: str = "cam0") -> dict:
    return make_status_event(source=source, fps=1.0, latency_ms={}, dropped={})


def receive_counts(pub: Publisher, subs: dict[str, Subscriber], seconds: float = 1.5) -> dict[str, int]:
    """Publish heartbeats for ``seconds`` and count what each subscriber gets."""
    counts = dict.fromkeys(subs, 0)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pub.publish(heartbeat(pub.source))
        for name, sub in subs.items():
            while sub.recv(timeout_ms=0) is not None:
                counts[name] += 1
        time.sleep(0.01)
    return counts


def test_defaults_are_loopback() -> None:
    assert PublisherOptions().endpoint == "tcp://127.0.0.1:5555" and PublisherOptions().curve is None
    from realtime.cli import _options

    for argv, endpoint in (([], "tcp://127.0.0.1:5555"), (["--connect"], "tcp://127.0.0.1:5559")):  # bound / proxy
        args = build_parser().parse_args(["--demo", "--labels", "labels/demo.txt", *argv])
        assert _options(args).publisher.endpoint == endpoint and is_local_endpoint(endpoint)
    for ep in ("tcp://127.0.0.1:5555", "tcp://localhost:1", "tcp://[::1]:5555", "ipc:///tmp/x", "inproc://x"):
        assert is_local_endpoint(ep), ep
    for ep in ("tcp://*:5555", "tcp://0.0.0.0:5555", "tcp://eth0:5555", "tcp://10.0.0.5:5555", "tcp://[::]:1"):
        assert not is_local_endpoint(ep), ep


def test_exposed_plain_endpoint_warns_and_curve_or_loopback_does_not(tmp_path, caplog) -> None:
    keys = generate_keys(tmp_path / "keys")
    with caplog.at_level(logging.WARNING, logger="realtime.events.security"):
        with Publisher(PublisherOptions(endpoint=ANY_PORT)):
            pass
        with Publisher(PublisherOptions(endpoint="tcp://0.0.0.0:*", curve=CurveServer.from_dir(tmp_path / "keys"))):
            pass
        assert caplog.records == []
        with Publisher(PublisherOptions(endpoint="tcp://0.0.0.0:*")) as pub:
            pass
    (record,) = caplog.records
    assert f"events on {pub.endpoint} are reachable from other machines, in clear text" in record.getMessage()
    assert "--curve-keys" in record.getMessage() and keys.server_secret.is_file()


def test_curve_admits_only_allow_listed_subscribers(tmp_path: Path) -> None:
    baseline = set(threading.enumerate())
    keys = generate_keys(tmp_path / "keys", ("laptop",))
    stranger = generate_keys(tmp_path / "other", ("stranger",))  # a valid key pair the publisher does not know
    with Publisher(PublisherOptions(endpoint=ANY_PORT, curve=CurveServer.from_dir(keys.server_secret.parent))) as pub:
        subs = {
            "allowed": Subscriber(pub.endpoint, curve=CurveClient.from_dir(tmp_path / "keys", "laptop")),
            "unknown key": Subscriber(
                pub.endpoint, curve=CurveClient(str(keys.server_public), str(stranger.client_secrets[0]))
            ),
            "wrong server key": Subscriber(
                pub.endpoint, curve=CurveClient(str(stranger.server_public), str(keys.client_secrets[0]))
            ),
            "plain": Subscriber(pub.endpoint),
        }
        try:
            counts = receive_counts(pub, subs)
        finally:
            for s in subs.values():
                s.close()
    assert counts["allowed"] > 10 and counts["unknown key"] == counts["wrong server key"] == counts["plain"] == 0
    # a plain publisher is not readable by a CURVE subscriber either
    with Publisher(PublisherOptions(endpoint=ANY_PORT)) as plain_pub:
        with Subscriber(plain_pub.endpoint, curve=CurveClient.from_dir(tmp_path / "keys", "laptop")) as sub:
            assert receive_counts(plain_pub, {"curve": sub}, 0.5) == {"curve": 0}
    end = time.monotonic() + 3.0  # the ZAP handler thread stops with its last publisher
    while set(threading.enumerate()) - baseline and time.monotonic() < end:
        time.sleep(0.05)
    assert set(threading.enumerate()) - baseline == set()


def test_two_curve_publishers_share_one_zap_handler(tmp_path: Path) -> None:
    a, b = generate_keys(tmp_path / "a", ("ca",)), generate_keys(tmp_path / "b", ("cb",))
    with (
        Publisher(PublisherOptions(endpoint=ANY_PORT, curve=CurveServer.from_dir(tmp_path / "a")), "cam_a") as pa,
        Publisher(PublisherOptions(endpoint=ANY_PORT, curve=CurveServer.from_dir(tmp_path / "b")), "cam_b") as pb,
    ):
        sa = Subscriber(pa.endpoint, curve=CurveClient.from_dir(tmp_path / "a", "ca"))
        sb_wrong = Subscriber(pb.endpoint, curve=CurveClient(str(b.server_public), str(a.client_secrets[0])))
        try:
            counts = receive_counts(pa, {"a": sa}, 1.0) | receive_counts(pb, {"b with a's key": sb_wrong}, 1.0)
        finally:
            sa.close()
            sb_wrong.close()
    assert counts["a"] > 10 and counts["b with a's key"] == 0  # each publisher keeps its own allow-list


def test_curve_errors_are_one_clear_line(tmp_path: Path) -> None:
    keys = generate_keys(tmp_path / "keys")
    with pytest.raises(ConfigError, match=r"CURVE key file .*nope\.key_secret not found; make keys with"):
        Publisher(PublisherOptions(endpoint=ANY_PORT, curve=CurveServer(str(tmp_path / "nope.key_secret"), "x")))
    with pytest.raises(ConfigError, match=r"server\.key holds a public key only; pass the secret key file"):
        Publisher(
            PublisherOptions(endpoint=ANY_PORT, curve=CurveServer(str(keys.server_public), str(keys.clients_dir)))
        )
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match=r"no client public keys \(\*\.key\) in the CURVE allow-list .*empty: add"):
        Publisher(PublisherOptions(endpoint=ANY_PORT, curve=CurveServer(str(keys.server_secret), str(empty))))
    junk = tmp_path / "junk.key_secret"
    junk.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match=r"junk\.key_secret is not a ZeroMQ CURVE certificate"):
        Subscriber("tcp://127.0.0.1:9", curve=CurveClient(str(keys.server_public), str(junk)))
    with pytest.raises(ConfigError, match="CURVE keys need a bound publisher"):
        PublisherOptions(bind=False, curve=CurveServer.from_dir(tmp_path / "keys"))
    with pytest.raises(ConfigError, match=r"client\.key exists already"):
        generate_keys(tmp_path / "keys")
    with pytest.raises(ConfigError, match="client key name 'server'"):
        generate_keys(tmp_path / "keys", ("server",))


def test_keygen_command_layout_and_permissions(tmp_path: Path, capsys) -> None:
    d = tmp_path / "keys"
    assert sadvae_main(["events", "keygen", str(d)]) == 0
    assert sadvae_main(["events", "keygen", str(d), "--client", "laptop", "--client", "phone"]) == 0
    out = capsys.readouterr().out
    server = (d / "server.key_secret").read_bytes()
    assert sorted(p.name for p in (d / "authorized_clients").iterdir()) == ["client.key", "laptop.key", "phone.key"]
    for name in ("server", "client", "laptop", "phone"):
        assert stat.S_IMODE(os.stat(d / f"{name}.key_secret").st_mode) == 0o600
    assert (d / "server.key_secret").read_bytes() == server  # the second run kept the server's pair
    assert f"sadvae-live --curve-keys {d}" in out and f"--curve-client-key {d / 'laptop.key_secret'}" in out
    assert out.strip().endswith("allowed subscribers: client, laptop, phone")
    assert sadvae_main(["events", "--curve-server-key", str(d / "server.key")]) == 2
    assert "CURVE needs both --curve-server-key" in capsys.readouterr().err


def test_keygen_writes_secrets_privately_and_never_through_symlinks(tmp_path: Path) -> None:
    d = tmp_path / "keys"
    keys = generate_keys(d, ("bob", "bob"))  # a repeated name is made once
    assert [p.name for p in keys.client_secrets] == ["bob.key_secret"]
    assert (
        stat.S_IMODE(os.stat(d).st_mode) & 0o077 == 0 and stat.S_IMODE(os.stat(keys.clients_dir).st_mode) & 0o077 == 0
    )
    for f in (keys.server_secret, keys.client_secrets[0]):
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
        public, secret = zmq.auth.load_certificate(f)  # pyzmq still reads our certificate format
        assert len(public) == len(secret) == 40
    assert zmq.auth.load_certificate(keys.clients_dir / "bob.key") == (
        zmq.auth.load_certificate(d / "bob.key")[0],
        None,
    )
    # a symlink planted where a secret goes: refused, and its target is not written
    target = tmp_path / "stolen"
    (d / "eve.key_secret").symlink_to(target)
    with pytest.raises(ConfigError, match=r"eve\.key_secret exists already"):
        generate_keys(d, ("eve",))
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    (shared / "server.key_secret").symlink_to(target)
    with pytest.raises(ConfigError, match=r"key folder .*shared is writable by other users .*chmod go-w"):
        generate_keys(shared)
    os.chmod(shared, 0o700)
    with pytest.raises(ConfigError, match=r"server\.key_secret exists already; keys are never overwritten"):
        _write_certificate(shared / "server.key_secret", b"p" * 40, b"s" * 40)  # O_NOFOLLOW|O_EXCL: not followed
    assert not target.exists()
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(ConfigError, match=r"afile exists and is not a folder"):
        generate_keys(afile)
    with pytest.raises(ConfigError, match=r"cannot create the key folder .*its parent must exist"):
        generate_keys(tmp_path / "missing" / "keys")


def test_keygen_command_errors_are_one_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "afile").write_text("x")
    for argv in (["events", "keygen", str(tmp_path / "afile")], ["events", "keygen", str(tmp_path / "no" / "keys")]):
        assert sadvae_main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "Traceback" not in err[0], err
    assert sadvae_main(["events", "keygen", str(tmp_path / "k"), "--client", "bob", "--client", "bob"]) == 0
    assert capsys.readouterr().out.strip().endswith("allowed subscribers: bob")


def test_allow_list_is_read_without_glob_and_a_bad_key_is_named(tmp_path: Path) -> None:
    d = tmp_path / "keys [cam] *"  # glob metacharacters in the folder name: pyzmq's glob would match nothing
    keys = generate_keys(d, ("laptop",))
    server = CurveServer.from_dir(d)
    assert list(server.allowed_keys()) == [zmq.auth.load_certificate(d / "laptop.key")[0]]
    with Publisher(PublisherOptions(endpoint=ANY_PORT, curve=server)) as pub:
        with Subscriber(pub.endpoint, curve=CurveClient.from_dir(d, "laptop")) as sub:
            assert receive_counts(pub, {"laptop": sub}, 1.0)["laptop"] > 5
    (keys.clients_dir / "broken.key").write_text("garbage\n")
    with pytest.raises(ConfigError, match=r"broken\.key is not a ZeroMQ CURVE certificate"):
        Publisher(PublisherOptions(endpoint=ANY_PORT, curve=server))


def test_curve_server_socket_enforces_the_zap_domain(tmp_path: Path) -> None:
    generate_keys(tmp_path / "keys")
    with Publisher(PublisherOptions(endpoint=ANY_PORT, curve=CurveServer.from_dir(tmp_path / "keys"))) as pub:
        if hasattr(zmq, "ZAP_ENFORCE_DOMAIN"):
            assert pub._sock.getsockopt(zmq.ZAP_ENFORCE_DOMAIN) == 1


def test_connected_publisher_warning_does_not_offer_curve(caplog) -> None:
    from realtime.events.security import warn_if_exposed

    with caplog.at_level(logging.WARNING, logger="realtime.events.security"):
        assert warn_if_exposed("tcp://10.0.0.5:5559", None, bind=False)
        assert not warn_if_exposed("tcp://127.0.0.1:5559", None, bind=False)
        with Publisher(PublisherOptions(endpoint="tcp://192.0.2.1:5559", bind=False)):  # connects lazily
            pass
    assert len(caplog.records) == 2
    for record, ep in zip(caplog.records, ("tcp://10.0.0.5:5559", "tcp://192.0.2.1:5559"), strict=True):
        msg = record.getMessage()
        assert msg.startswith(f"the proxy at {ep} relays events in clear text; keep it on this host / loopback")
        assert "--curve-keys" not in msg


def test_live_with_curve_keys_reaches_only_the_keyed_events_command(model_files, cache_root, tmp_path):
    """``sadvae-live --curve-keys`` and two ``sadvae events`` processes: with the client key, and without."""
    from realtime.sources.demo import perform
    from realtime.sources.replay import save_recording

    bundle, cache = model_files[0], cache_root
    joints, times, _ = perform()
    rec = save_recording(tmp_path / "rec.npz", joints[:120], times[:120])
    labels = tmp_path / "labels.txt"
    labels.write_text("wave\nclap\n", encoding="utf-8")
    keys = generate_keys(tmp_path / "keys")
    with socket_port() as port:
        endpoint = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "SADVAE_CACHE_DIR": str(cache), "PYTHONUNBUFFERED": "1"}
    listen = [*SADVAE, "events", "--json", "--endpoint", endpoint]
    client = ["--curve-server-key", str(keys.server_public), "--curve-client-key", str(keys.client_secrets[0])]
    pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    keyed = subprocess.Popen([*listen, "--count", "3", "--timeout", "60", *client], **pipes)
    plain = subprocess.Popen(listen, **pipes)  # runs until stopped below
    live = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "realtime.cli",
            "--replay",
            str(rec),
            "--loop",
            "--labels",
            str(labels),
            "--model",
            str(bundle),
            "--endpoint",
            endpoint,
            "--curve-keys",
            str(tmp_path / "keys"),
            "--status-interval",
            "0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        keyed_out, keyed_err = keyed.communicate(timeout=90)
        time.sleep(1.0)  # the plain subscriber had every chance too
    finally:
        still_listening = plain.poll() is None
        plain.send_signal(signal.SIGINT)
        plain_out, plain_err = plain.communicate(timeout=20)
        live.terminate()
        _, live_err = live.communicate(timeout=30)
    assert keyed.returncode == 0, keyed_err + live_err
    assert [json.loads(line)["source"] for line in keyed_out.splitlines()] == ["rec"] * 3
    # the subscriber without the key was listening all along (not crashed or gone) and received nothing
    assert still_listening and "sadvae: interrupted" in plain_err and "Traceback" not in plain_err, plain_err
    assert plain_out == ""
    # the start-up summary says so (integrator audit of 7 December 2026, late: it read as a plain run)
    assert f"; CURVE-encrypted, 1 subscriber key(s) allowed ({tmp_path / 'keys'}" in live_err, live_err
    assert live.returncode == 0


class socket_port:
    """A free loopback TCP port (closed again on exit, so the test can bind it)."""

    def __enter__(self) -> int:
        import socket

        self._s = socket.socket()
        self._s.bind(("127.0.0.1", 0))
        return self._s.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        self._s.close()
