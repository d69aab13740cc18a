"""``sadvae events`` (print events) and ``sadvae events proxy`` (ZeroMQ XSUB/XPUB) with real sockets on loopback."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from realtime.commands.events import format_event

zmq = pytest.importorskip("zmq")
pytest.importorskip("jsonschema")

from sadvae_tests_helpers import free_endpoint  # noqa: E402

from realtime.events.publisher import (  # noqa: E402
    Publisher,
    PublisherOptions,
    Subscriber,
    make_action_event,
    make_status_event,
    validate,
)

ROOT = Path(__file__).resolve().parents[2]
SADVAE = [sys.executable, "-c", "import sys; from sadvae.cli import main; sys.exit(main())"]
HASH = "ab" * 32


def action(source: str, event_type: str = "start") -> dict:
    return make_action_event(
        source=source,
        track_id=1,
        event_type=event_type,
        label="wave",
        score=0.81,
        topk=[("wave", 0.81), ("clap", 0.19)],
        window_ms=(0.0, 2066.7),
        labels_hash=HASH,
        model_id="m1",
        precision="fp32",
        latency_ms={"model": 3.2, "total": 25.0},
    )


def status(source: str, message: str | None = None) -> dict:
    return make_status_event(
        source=source,
        fps=29.7,
        latency_ms={"pose": 21.04, "model": 3.2, "total": 26.5},
        dropped={"frames": 2, "events": 0},
        message=message,
        tracks=1,
    )


def test_format_event_is_one_readable_line() -> None:
    line = format_event("sadvae.cam0.action", action("cam0"))
    assert " cam0 track 1 START  wave 0.81  [wave 0.81, clap 0.19]" in line
    line = format_event("sadvae.cam0.status", status("cam0", "camera reconnected"))
    assert "cam0 status 29.7 fps, 1 track(s), ms: pose 21.0, model 3.2, total 26.5" in line
    assert line.endswith("dropped {'frames': 2} - camera reconnected")


def _publish_until(pubs: list[Publisher], proc: subprocess.Popen, timeout_s: float = 15.0) -> None:
    """Publish from every publisher until the subscriber process exits (it stops after its --count)."""
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None and time.monotonic() < deadline:
        for pub in pubs:
            pub.publish(status(pub.source))
            pub.publish(action(pub.source))
        time.sleep(0.05)


def test_events_command_prints_json_lines(tmp_path) -> None:
    endpoint = free_endpoint()
    with Publisher(PublisherOptions(endpoint=endpoint), "cam0") as pub:
        proc = subprocess.Popen(
            [*SADVAE, "events", "--json", "--validate", "--count", "4", "--endpoint", endpoint],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        _publish_until([pub], proc)
        stdout, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    events = [json.loads(line) for line in stdout.splitlines()]
    assert len(events) == 4 and {e["type"] for e in events} == {"status", "start"}
    for e in events:
        validate(e)
        assert e["source"] == "cam0" and isinstance(e["seq"], int)


def test_events_command_human_output_and_timeout() -> None:
    endpoint = free_endpoint()
    with Publisher(PublisherOptions(endpoint=endpoint), "cam7") as pub:
        proc = subprocess.Popen(
            [*SADVAE, "events", "--count", "2", "--topic", "sadvae.cam7.action", "--endpoint", endpoint],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        _publish_until([pub], proc)
        stdout, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert [ln.split(" ", 1)[1] for ln in stdout.splitlines()] == [
        "cam7 track 1 START  wave 0.81  [wave 0.81, clap 0.19]"
    ] * 2
    quiet = subprocess.run(
        [*SADVAE, "events", "--timeout", "0.3", "--endpoint", free_endpoint()],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert quiet.returncode == 1 and quiet.stderr.strip().startswith("sadvae events: no event for 0.3 s on tcp://")


def test_proxy_forwards_two_publishers_to_one_subscriber() -> None:
    """cam_a connects to the proxy's XSUB side (sadvae-live --connect); cam_b binds its own port and is dialled."""
    xsub, xpub, own = free_endpoint(), free_endpoint(), free_endpoint()
    proxy = subprocess.Popen(
        [*SADVAE, "events", "proxy", "--xsub", xsub, "--xpub", xpub, "--from", own],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        with (
            Publisher(PublisherOptions(endpoint=xsub, bind=False), "cam_a") as a,
            Publisher(PublisherOptions(endpoint=own), "cam_b") as b,
            Subscriber(xpub) as sub,
        ):
            got: dict[str, list[dict]] = {"cam_a": [], "cam_b": []}
            deadline = time.monotonic() + 20
            while min(len(v) for v in got.values()) < 3 and time.monotonic() < deadline:
                for pub in (a, b):
                    pub.publish(action(pub.source, "update"))
                while (msg := sub.recv(timeout_ms=50)) is not None:
                    topic, event = msg
                    validate(event)
                    assert topic == f"sadvae.{event['source']}.action"
                    got[event["source"]].append(event)
        assert min(len(v) for v in got.values()) >= 3, {k: len(v) for k, v in got.items()}
        for events in got.values():  # per-source sequence numbers survive the proxy, in order
            seqs = [e["seq"] for e in events]
            assert seqs == sorted(seqs)
    finally:
        proxy.send_signal(signal.SIGINT)
        _, stderr = proxy.communicate(timeout=10)
    assert "publishers -> " + xsub in stderr and f"dialling {own}" in stderr and "Traceback" not in stderr


def test_two_publishers_with_one_source_name_are_said(tmp_path) -> None:
    """Integrator audit of 7 December 2026, late: two sadvae-live without --source-name through one proxy published
    as one source, their events interleaved, and nothing said so."""
    xsub, xpub = free_endpoint(), free_endpoint()
    proxy = subprocess.Popen(
        [*SADVAE, "events", "proxy", "--xsub", xsub, "--xpub", xpub], stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        proxy.stderr.readline()  # bound
        with (
            Publisher(PublisherOptions(endpoint=xsub, bind=False, settle_ms=0), "demo") as a,
            Publisher(PublisherOptions(endpoint=xsub, bind=False, settle_ms=0), "demo") as b,
        ):
            sub = subprocess.Popen(
                [*SADVAE, "events", "--endpoint", xpub, "--count", "20"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            _publish_until([a, b], sub)
            _, err = sub.communicate(timeout=10)
    finally:
        proxy.send_signal(signal.SIGINT)
        proxy.communicate(timeout=10)
    said = [line for line in err.splitlines() if "two publishers share the topic sadvae.demo." in line]
    assert said and len(said) <= 2 and "give each sadvae-live its own --source-name" in said[0], err


def test_proxy_bad_address_is_one_line() -> None:
    proc = subprocess.run(
        [*SADVAE, "events", "proxy", "--xsub", "nonsense"], capture_output=True, text=True, timeout=30, cwd=ROOT
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    # the address is now checked before any socket is made, and the message names the flag and the fix
    assert len(lines) == 1 and lines[0].startswith("sadvae: error: --xsub 'nonsense': not a ZeroMQ endpoint")
    assert "write tcp://HOST:PORT" in lines[0]


BAD_PAYLOADS = [
    (b"sadvae.cam0.status", b'{"type": "status", "source": "cam0", "fps": null}'),
    (b"sadvae.cam0.action", b'{"type": "start", "source": "cam0", "label": "wave", "topk": [{"label": "wave"}]}'),
    (b"sadvae.cam0.status", b'{"type": "status", "source": "cam0", "fps": 1, "latency_ms": {"pose": "slow"}}'),
    (b"sadvae.cam0.action", b"not json {"),
    (b"sadvae.cam0.action", b"[1, 2]"),
]


def _raw_publish_until(proc: subprocess.Popen, endpoint: str, good: dict, timeout_s: float = 15.0) -> None:
    """A foreign publisher (raw pyzmq PUB): bad payloads, a 3-frame message, then a good event, until ``proc`` exits."""
    ctx = zmq.Context.instance()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind(endpoint)
    try:
        deadline = time.monotonic() + timeout_s
        while proc.poll() is None and time.monotonic() < deadline:
            for topic, payload in BAD_PAYLOADS:
                pub.send_multipart([topic, payload])
            pub.send_multipart([b"sadvae.cam0.status", b"{}", b"extra"])
            pub.send_multipart([b"sadvae.cam0.status", json.dumps(good).encode()])
            time.sleep(0.05)
    finally:
        pub.close(linger=0)


@pytest.mark.parametrize("flags", [[], ["--json", "--validate"], ["--validate"]])
def test_events_command_skips_malformed_events_and_carries_on(flags: list[str]) -> None:
    endpoint = free_endpoint()
    good = {**status("cam0"), "seq": 0, "session": "0123456789abcdef"}
    proc = subprocess.Popen(
        [*SADVAE, "events", "--count", "2", "--timeout", "20", "--endpoint", endpoint, *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    _raw_publish_until(proc, endpoint, good)
    stdout, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    lines = stdout.splitlines()
    assert len(lines) == 2
    if "--json" in flags:
        assert [json.loads(ln)["fps"] for ln in lines] == [29.7, 29.7]
    else:
        assert all("cam0 status 29.7 fps" in ln for ln in lines)
    err = stderr.splitlines()
    assert (
        "Traceback" not in stderr and err[-1].startswith("sadvae events: skipped ") and "malformed event(s)" in err[-1]
    )
    skipped = [ln for ln in err[:-1] if ln.startswith("sadvae events: skipped a malformed event on ")]
    assert len(skipped) == len(err) - 1 >= 3, stderr  # one line each, nothing else
    assert any(" on sadvae.cam0.status: " in ln for ln in skipped)
    assert any(f" on {endpoint}: " in ln and "JSON" in ln for ln in skipped)  # undecodable: topic not known
    if "--validate" in flags:
        assert any("does not match the schema" in ln for ln in skipped)


def test_format_event_errors_on_foreign_payloads_are_plain_exceptions() -> None:
    for event in ({"type": "status", "fps": None}, {"type": "start", "topk": [{"label": "a"}]}):
        with pytest.raises((TypeError, KeyError, ValueError)):
            format_event("sadvae.x.status", event)


def test_proxy_warns_when_its_binds_are_exposed() -> None:
    port_a, port_b = (free_endpoint().rsplit(":", 1)[1] for _ in range(2))
    xsub, xpub = f"tcp://0.0.0.0:{port_a}", f"tcp://0.0.0.0:{port_b}"
    proxy = subprocess.Popen(
        [*SADVAE, "events", "proxy", "--xsub", xsub, "--xpub", xpub],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proxy.stderr), daemon=True)
    reader.start()
    want = [f"the proxy at {ep} relays events in clear text; keep it on this host / loopback" for ep in (xsub, xpub)]
    running = "sadvae events proxy: publishers -> "  # printed once the proxy relays
    try:  # interrupt only once it runs (a loaded machine can take seconds to get there): no startup traceback
        deadline = time.monotonic() + 60.0
        while not any(ln.startswith(running) for ln in list(lines)) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        proxy.send_signal(signal.SIGINT)
        proxy.wait(timeout=10)
        reader.join(timeout=10)
    stderr = "".join(lines)
    for w in want:
        assert w in stderr, stderr
    assert "--curve-keys" not in stderr and "Traceback" not in stderr


def test_refused_curve_subscriber_is_told_why(tmp_path) -> None:
    from realtime.events.security import CurveServer, generate_keys

    keys = generate_keys(tmp_path / "keys")
    stranger = generate_keys(tmp_path / "other", ("stranger",))
    endpoint = free_endpoint()
    with Publisher(PublisherOptions(endpoint=endpoint, curve=CurveServer.from_dir(tmp_path / "keys")), "cam0"):
        proc = subprocess.run(
            [
                *SADVAE,
                "events",
                "--timeout",
                "2",
                "--endpoint",
                endpoint,
                "--curve-server-key",
                str(keys.server_public),
                "--curve-client-key",
                str(stranger.client_secrets[0]),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=ROOT,
        )
    assert proc.returncode == 1
    err = proc.stderr.strip().splitlines()
    assert err[0].startswith("sadvae events: the publisher refused this client's key: ZAP status 400"), err
    assert err[-1].startswith("sadvae events: no event for 2 s") and len(err) == 2


# ---- endpoints are checked before any socket is made (docs: realtime/events/endpoint.py) ----------------------


def _sadvae(*argv: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([*SADVAE, *argv], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.mark.parametrize(
    ("endpoint", "words"),
    [
        ("garbage", "not a ZeroMQ endpoint; write tcp://HOST:PORT"),
        ("127.0.0.1:5555", "no transport; write tcp://127.0.0.1:5555"),
        ("http://127.0.0.1:5555", "transport 'http://' is not supported"),
        ("tcp://999.0.0.1:5555", "999.0.0.1 is not a valid IPv4 address"),
        ("tcp://127.0.0.1:99999", "port 99999 is out of range; use a port from 1 to 65535"),
        ("tcp://nosuchhost.invalid:5555", "host name 'nosuchhost.invalid' does not resolve"),
        ("tcp://*:5555", "'*' (every interface) is for binding"),
        ("inproc://cam", "inproc:// reaches sockets of the same process only"),
    ],
)
def test_events_command_bad_endpoint_is_one_line(endpoint: str, words: str) -> None:
    """Review rows EV1-EV3, EV6, EV11, EV12: before, a syntax error got bind advice ("stop the process using
    it") and a bad address, port or host name only "no event for 2 s"."""
    proc = _sadvae("events", "--endpoint", endpoint, "--count", "1", "--timeout", "2")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"sadvae: error: --endpoint {endpoint!r}: ") and words in lines[0]
    assert "stop the process" not in lines[0] and "Traceback" not in proc.stderr


def test_events_command_without_timeout_says_once_that_it_waits() -> None:
    """Review row EV5: with no --timeout and nobody publishing, it used to print nothing at all."""
    endpoint = free_endpoint()
    proc = subprocess.Popen(
        [*SADVAE, "events", "--endpoint", endpoint, "--count", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        line = proc.stderr.readline()  # blocks until the notice (about 1 s after start)
        assert line.startswith(f"sadvae events: waiting for events on {endpoint} (topics sadvae.*)"), line
        time.sleep(1.5)  # still waiting, and silent: the notice comes once
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=10)
    assert "waiting for events" not in rest and "Traceback" not in rest
    # a publisher that starts later is still heard: waiting is legitimate for a subscriber
    with Publisher(PublisherOptions(endpoint=endpoint), "late") as pub:
        late = subprocess.Popen(
            [*SADVAE, "events", "--endpoint", endpoint, "--count", "1", "--topic", "sadvae.late.action"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        _publish_until([pub], late)
        out, _ = late.communicate(timeout=10)
    assert late.returncode == 0 and " late track 1 START " in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--xsub", "tcp://127.0.0.1:99999"], "--xsub 'tcp://127.0.0.1:99999': port 99999 is out of range"),
        (["--xpub", "tcp://999.0.0.1:5560"], "--xpub 'tcp://999.0.0.1:5560': 999.0.0.1 is not a valid IPv4 address"),
        (["--from", "garbage"], "--from 'garbage': not a ZeroMQ endpoint; write tcp://HOST:PORT"),
        (["--from", "tcp://127.0.0.1:*"], "--from 'tcp://127.0.0.1:*': port * (any free port) is for binding"),
        (["--xsub", "tcp://127.0.0.1:5581", "--xpub", "tcp://127.0.0.1:5581"], "--xsub and --xpub are both"),
        (["--xsub", "tcp://203.0.113.7:5581"], "203.0.113.7 is not an address of this machine"),
        # integrator audit of 7 December 2026, late: accepted, and every event of that publisher came twice
        (
            ["--from", "tcp://127.0.0.1:5590", "--from", "tcp://127.0.0.1:5590"],
            "--from 'tcp://127.0.0.1:5590' is given",
        ),
    ],
)
def test_proxy_bad_addresses_are_one_line_naming_the_flag(argv: list[str], message: str) -> None:
    """Review row PX3: --xsub tcp://127.0.0.1:99999 used to announce :99999 and listen on 34463."""
    proc = _sadvae("events", "proxy", *argv)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("sadvae: error: ") and message in lines[0]


def test_proxy_announces_the_ports_it_really_bound() -> None:
    proxy = subprocess.Popen(
        [*SADVAE, "events", "proxy", "--xsub", "tcp://127.0.0.1:*", "--xpub", "tcp://127.0.0.1:*"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        line = proxy.stderr.readline()
    finally:
        proxy.send_signal(signal.SIGINT)
        _, rest = proxy.communicate(timeout=10)
    assert line.startswith("sadvae events proxy: publishers -> tcp://127.0.0.1:"), line
    assert ":*" not in line and line.count("tcp://127.0.0.1:") == 2
    # a last line, and sadvae-live's statuses: 130 for a Ctrl-C (it ended silently with 0: integrator audit of
    # 7 December 2026, late), 0 for SIGTERM
    assert proxy.returncode == 130 and rest.strip().splitlines()[-1] == "sadvae events proxy: stopped (sigint)", rest
    proxy = subprocess.Popen(
        [*SADVAE, "events", "proxy", "--xsub", "tcp://127.0.0.1:*", "--xpub", "tcp://127.0.0.1:*"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        proxy.stderr.readline()
    finally:
        proxy.send_signal(signal.SIGTERM)
        _, rest = proxy.communicate(timeout=10)
    assert proxy.returncode == 0 and rest.strip().splitlines()[-1] == "sadvae events proxy: stopped (sigterm)", rest


# ---- review of 6 December 2026: key files, handshakes, topics, timeouts, losses ------------------------------


def test_subscriber_without_keys_is_told_the_publisher_encrypts(tmp_path) -> None:
    """Before, a subscriber without CURVE keys (or with a wrong server key) of a CURVE publisher saw only the
    timeout: ZeroMQ says nothing, and the handshake monitor ran only when keys were given."""
    from realtime.events.security import CurveServer, generate_keys

    keys = generate_keys(tmp_path / "keys")
    endpoint = free_endpoint()
    with Publisher(PublisherOptions(endpoint=endpoint, curve=CurveServer.from_dir(tmp_path / "keys")), "cam0"):
        proc = _sadvae("events", "--timeout", "2", "--endpoint", endpoint)
        other = generate_keys(tmp_path / "other")
        wrong = _sadvae(
            "events", "--timeout", "2", "--endpoint", endpoint, "--curve-server-key", str(other.server_public),
            "--curve-client-key", str(keys.client_secrets[0]),
        )  # fmt: skip
    assert proc.returncode == 1
    assert "it encrypts its events" in proc.stderr and "--curve-server-key" in proc.stderr, proc.stderr
    assert wrong.returncode == 1 and "its key is not the --curve-server-key given" in wrong.stderr, wrong.stderr
    assert "refused this client's key" not in wrong.stderr  # the server's key is wrong, not the client's


@pytest.mark.parametrize(
    "content",
    [
        "metadata\ncurve\n    public-key\n",  # a key line without "=": an IndexError inside pyzmq before
        'metadata\ncurve\n    public-key = "abc"\n    secret-key = "def"\n',  # too short: blamed on the endpoint
    ],
)
def test_malformed_key_files_are_one_line_naming_the_file(tmp_path, content: str) -> None:
    from realtime.events.security import generate_keys

    keys = generate_keys(tmp_path / "keys")
    bad = tmp_path / "bad.key_secret"
    bad.write_text(content)
    proc = _sadvae(
        "events", "--timeout", "1", "--endpoint", free_endpoint(), "--curve-server-key", str(keys.server_public),
        "--curve-client-key", str(bad),
    )  # fmt: skip
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert str(bad) in lines[0] and "sadvae events keygen" in lines[0] and "endpoint" not in lines[0]


def test_a_key_on_the_allow_list_that_is_no_key_is_refused(tmp_path) -> None:
    from realtime.events.security import CurveServer, generate_keys
    from sadvae.errors import ConfigError

    generate_keys(tmp_path / "keys")
    (tmp_path / "keys" / "authorized_clients" / "short.key").write_text('metadata\ncurve\n    public-key = "abc"\n')
    with pytest.raises(ConfigError, match=r"short\.key: public-key is not a 40-character Z85 CURVE key"):
        Publisher(PublisherOptions(endpoint=free_endpoint(), curve=CurveServer.from_dir(tmp_path / "keys")), "cam0")


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--topic", "sadvae.Cam0."], "did you mean sadvae.cam0. ?"),
        (["--topic", "cam0"], "did you mean sadvae.cam0. ?"),
        (["--topic", "sadvae.cam0.actions"], "did you mean sadvae.cam0. ?"),
        (["--timeout", "inf"], "--timeout must be > 0 and at most"),
        (["--timeout", "1e10"], "--timeout must be > 0 and at most"),
    ],
)
def test_events_arguments_that_cannot_work_are_refused(argv: list[str], words: str) -> None:
    """Before, a topic that can never match waited for ever and blamed the publisher; --timeout inf or 1e10 raised
    OverflowError from inside the poll."""
    proc = _sadvae("events", "--endpoint", free_endpoint(), "--count", "1", *argv)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert words in lines[0]


def test_topic_can_match() -> None:
    from realtime.events.format import topic_can_match, topic_for

    for good in ("s", "sadvae", "sadvae.", "sadvae.cam", "sadvae.cam0.", "sadvae.cam0.a", topic_for("Cam 0", "status")):
        assert topic_can_match(good), good
    for bad in ("cam0", "sadvae.Cam0", "sadvae..", "sadvae.cam0.actions", "sadvae.cam0.x", "sadvaex"):
        assert not topic_can_match(bad), bad


def test_a_subscriber_waiting_before_the_publisher_gets_its_first_event() -> None:
    """A subscriber started first reconnects every 100 ms and subscribes only then: before the publisher's settle
    time its first events (the ``started`` status) were lost, 6 runs out of 6 in the review."""
    endpoint = free_endpoint()
    got: list[int] = []

    def listen() -> None:
        with Subscriber(endpoint) as sub:
            end = time.monotonic() + 3.0
            while time.monotonic() < end and len(got) < 3:
                if (msg := sub.recv(timeout_ms=100)) is not None:
                    got.append(msg[1]["seq"])

    thread = threading.Thread(target=listen)
    thread.start()
    time.sleep(0.5)
    with Publisher(PublisherOptions(endpoint=endpoint), "cam0") as pub:
        for _ in range(3):
            pub.publish(status("cam0"))
        time.sleep(0.3)
    thread.join()
    assert got[:1] == [0], got
