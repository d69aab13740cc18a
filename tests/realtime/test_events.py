from __future__ import annotations

import json
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from realtime.events import publisher as ev
from realtime.events.publisher import (
    Publisher,
    PublisherOptions,
    Subscriber,
    decode,
    encode,
    load_schema,
    make_action_event,
    make_status_event,
    sanitize_source,
    topic_for,
    validate,
)
from sadvae.errors import ConfigError, DataFormatError, MissingDependencyError

zmq = pytest.importorskip("zmq")
jsonschema = pytest.importorskip("jsonschema")

ANY_PORT = "tcp://127.0.0.1:*"
HASH = "0123456789abcdef" * 4


def action(source: str = "cam0", **overrides) -> dict:
    kwargs = dict(
        source=source,
        track_id=2,
        event_type="start",
        label="wave hand",
        score=0.8734,
        topk=[("wave hand", 0.8734), ("drink water", 0.1)],
        window_ms=(1000.0, 3066.7),
        labels_hash=HASH,
        model_id="sadvae-ntu60-5u",
        precision="fp16",
        latency_ms={"pose": 21.3, "model": 4.1, "total": 27.0},
    )
    kwargs.update(overrides)
    return make_action_event(**kwargs)


def status(source: str = "cam0", **overrides) -> dict:
    kwargs = dict(source=source, fps=29.5, latency_ms={"total": 30.2}, dropped={"frames": 1, "events": 0})
    kwargs.update(overrides)
    return make_status_event(**kwargs)


def test_schema_is_valid_draft_2020_12() -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    on_disk = json.loads((Path(ev.__file__).parent / "event_schema.json").read_text(encoding="utf-8"))
    assert on_disk == schema


def test_action_event_fields_validate_and_round_trip() -> None:
    e = action(label="saluer de la main", topk=[{"label": "saluer de la main", "score": 0.9}], event_type="update")
    validate(e, strict=True, published=False)
    assert e["schema_version"] == 2 and len(e["id"]) == 32 and int(e["id"], 16) >= 0
    assert e["time"].endswith("Z") and e["monotonic_ns"] > 0 and e["source"] == "cam0"
    assert e["window"] == {"start_ms": 1000.0, "end_ms": 3066.7}
    assert e["model"] == {"id": "sadvae-ntu60-5u", "precision": "fp16"}
    data = encode(e)
    assert b" " not in data.replace(b"saluer de la main", b"") and b"saluer" in data
    assert decode(data) == e
    # "no action" and the end of an action are events too
    for e in (action(label=None, score=0.2, event_type="end", reason="no_action", topk=[]), action(score=1.0000001)):
        validate(e, strict=True, published=False)
        assert decode(encode(e)) == e


@pytest.mark.parametrize("change", [{"label": ""}, {"label": "x" * 101}, {"topk": [("y" * 101, 0.5)]}])
def test_labels_outside_the_schema_bounds_fail_at_build_time(change) -> None:
    with pytest.raises(ValueError, match="labels must be 1 to 100 characters"):
        action(**change)


def test_end_events_carry_their_reason() -> None:
    from realtime.decisions import END_REASONS

    assert tuple(load_schema(strict=True)["$defs"]["action"]["properties"]["reason"]["enum"]) == END_REASONS
    assert tuple(load_schema()["$defs"]["action"]["properties"]["reason"]["examples"]) == END_REASONS  # open list
    for reason in END_REASONS:
        event = action(event_type="end", reason=reason)
        validate(event, strict=True, published=False)
        assert decode(encode(event))["reason"] == reason
    assert "reason" not in action(event_type="update")
    bad_ones = (
        dict(event_type="end", reason="bored"),
        dict(event_type="start", reason="switch"),
        dict(event_type="end"),
    )
    for bad in bad_ones:  # every end has a reason (review of 6 December 2026: an end without one was accepted)
        with pytest.raises(ValueError, match="reason is for end events"):
            action(**bad)


def test_status_event_validates_and_round_trips() -> None:
    for e in (status(), status(message="camera reconnected (attempt 2)", tracks=3, fps=0)):
        validate(e, strict=True, published=False)
        assert e["type"] == "status"
        assert decode(encode(e)) == e
    assert status()["message"] is None and "tracks" not in status()


def test_numpy_scalars_are_accepted() -> None:
    np = pytest.importorskip("numpy")
    e = action(score=np.float32(0.7), track_id=np.int64(4), topk=[("wave hand", np.float32(0.7))])
    validate(e, strict=True, published=False)
    assert decode(encode(e))["score"] == pytest.approx(0.7)


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        ({"score": 1.5}, "$.score", "1.5 is greater than the maximum of 1"),
        ({"type": "begin"}, "$.type", "'begin' is not one of"),
        ({"id": "not-a-uuid"}, "$.id", "does not match"),
        ({"labels_hash": "abc"}, "$.labels_hash", "does not match"),
        ({"time": "2024-01-01 10:00:00"}, "$.time", "does not match"),
        ({"topk": [{"label": "x"}]}, "$.topk[0]", "'score' is a required property"),
        ({"window": {"start_ms": 0}}, "$.window", "'end_ms' is a required property"),
        ({"latency_ms": {"Pose": 1.0}}, "$.latency_ms", "does not match"),
        ({"schema_version": 1}, "$.schema_version", "schema_version is 1, this subscriber reads version 2 only"),
    ],
)
def test_validate_names_the_field(change, where, message) -> None:
    e = {**action(), **change}
    with pytest.raises(DataFormatError, match=message) as info:
        validate(e, published=False)
    assert info.value.where == where
    with pytest.raises(DataFormatError, match=message):
        validate(e, strict=True, published=False)


def test_only_the_strict_schema_refuses_unknown_fields() -> None:
    e = {**action(), "extra": 1}
    validate(e, published=False)  # the consumer schema: a compatible addition
    with pytest.raises(DataFormatError, match="'extra' was unexpected") as info:
        validate(e, strict=True, published=False)
    assert info.value.where == "$"


def test_validate_status_and_missing_fields() -> None:
    e = status()
    del e["fps"]
    with pytest.raises(DataFormatError, match="status event does not match the schema: 'fps' is a required property"):
        validate(e, published=False)
    with pytest.raises(DataFormatError, match="'label' was unexpected"):
        validate({**status(), "label": "x"}, strict=True, published=False)
    with pytest.raises(DataFormatError, match="-1 is less than the minimum of 0"):
        validate({**status(), "dropped": {"frames": -1}}, published=False)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"event_type": "begin"}, r"event_type must be one of \('start', 'update', 'end'\), got 'begin'"),
        ({"precision": "fp64"}, "precision must be one of"),
        ({"score": float("nan")}, r"score must be a probability in \[0, 1\], got nan"),
        ({"topk": [("a", 1.2)]}, r"topk score of 'a' must be a probability"),
        ({"window_ms": (5.0, 1.0)}, r"window_ms must be \(start, end\) with 0 <= start <= end"),
        ({"track_id": -1}, "track_id must be >= 0"),
        ({"latency_ms": {"pose": float("inf")}}, "latency_ms: expected lower_snake_case names with finite values"),
        ({"latency_ms": {"pose stage": 1.0}}, "latency_ms: expected lower_snake_case names"),
    ],
)
def test_builder_rejects_bad_values(change, message) -> None:
    with pytest.raises(ValueError, match=message):
        action(**change)


def test_status_builder_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="fps must be a finite number >= 0"):
        status(fps=-1)
    with pytest.raises(ValueError, match="dropped: expected lower_snake_case names"):
        status(dropped={"frames": -2})


def test_encode_refuses_nan_and_decode_reports_bad_payloads() -> None:
    with pytest.raises(ValueError):
        encode({"score": float("nan")})
    for payload, message in [
        (b"\xff\xfe", "expected a UTF-8 JSON object, got undecodable data"),
        (b"{not json", "undecodable data"),
        (b'{"score": NaN}', "NaN is not valid JSON"),
        (b"[1, 2]", "expected a JSON object, got list"),
    ]:
        with pytest.raises(DataFormatError, match=message):
            decode(payload)


@pytest.mark.parametrize(
    ("name", "clean"),
    [
        ("cam0", "cam0"),
        ("Camera 0", "camera_0"),
        ("rtsp://10.0.0.2:554/live", "rtsp_10_0_0_2_554_live"),
        ("ta_chi.mp4", "ta_chi_mp4"),
        ("front-door", "front-door"),
        ("  ", "source"),
        ("手", "source"),
        ("x" * 100, "x" * 64),
    ],
)
def test_sanitize_source(name, clean) -> None:
    assert sanitize_source(name) == clean


def test_topics() -> None:
    assert topic_for("Cam 0", "action") == "sadvae.cam_0.action"
    assert topic_for("cam0", "status") == "sadvae.cam0.status"
    with pytest.raises(ValueError, match="topic kind must be one of"):
        topic_for("cam0", "other")


def sync(pub: Publisher, sub: Subscriber, deadline_s: float = 2.0) -> None:
    """Beat the PUB/SUB slow joiner: publish heartbeats until one arrives, then drain."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        pub.publish(status(pub.source, message="sync"))
        if sub.recv(timeout_ms=20) is not None:
            while sub.recv(timeout_ms=20) is not None:
                pass
            return
    raise AssertionError("subscriber never received a message")


def test_publish_and_subscribe_on_loopback() -> None:
    with Publisher(PublisherOptions(endpoint=ANY_PORT), source_name="Cam 0") as pub:
        assert pub.endpoint.startswith("tcp://127.0.0.1:") and not pub.endpoint.endswith("*")
        with Subscriber(pub.endpoint) as sub:
            sync(pub, sub)
            sent = action(pub.source)
            assert pub.publish(sent) is True
            got = sub.recv(timeout_ms=1000)
            assert got is not None
            topic, event = got
            assert topic == "sadvae.cam_0.action"
            validate(event, strict=True)
            assert isinstance(event.pop("seq"), int) and event.pop("session") == pub.session and event == sent
            assert pub.publish(status(pub.source, tracks=1))
            topic, event = sub.recv(timeout_ms=1000)
            assert topic == "sadvae.cam_0.status"
            validate(event, strict=True)
            assert sub.missed == 0 and pub.dropped == 0
    # close is idempotent and publishing after it is an error
    pub.close()
    with pytest.raises(RuntimeError, match="after close"):
        pub.publish(status(pub.source))


def test_a_connected_publisher_drops_what_it_publishes_while_its_proxy_is_away() -> None:
    """Integrator audit of 7 December 2026, late: a publisher connected to a proxy queued up to `sndhwm` events while
    the proxy was down and sent them, seconds stale, when it came back (the newest were the ones lost). A plain SUB
    bound where the proxy's XSUB side would be stands in for the proxy."""
    zmq = pytest.importorskip("zmq")
    from sadvae_tests_helpers import free_endpoint

    endpoint = free_endpoint()
    ctx = zmq.Context.instance()

    def proxy():
        sock = ctx.socket(zmq.SUB)
        sock.setsockopt(zmq.SUBSCRIBE, b"")
        sock.bind(endpoint)
        return sock

    def seqs(sock, until_s: float) -> list[int]:
        got, end = [], time.monotonic() + until_s
        while time.monotonic() < end:
            if sock.poll(50):
                got.append(json.loads(sock.recv_multipart()[1])["seq"])
        return got

    with Publisher(PublisherOptions(endpoint=endpoint, bind=False, settle_ms=0), "cam0") as pub:
        first = proxy()
        for _ in range(100):  # until the connection and its subscription are up
            pub.publish(status(pub.source))
            if first.poll(20):
                break
        first.close(linger=0)  # the proxy goes away
        time.sleep(0.3)
        away = pub._seq["status"]
        for _ in range(20):
            pub.publish(status(pub.source))
        second = proxy()  # and comes back
        got: list[int] = []
        for _ in range(100):
            pub.publish(status(pub.source))
            got += seqs(second, 0.02)
            if len(got) >= 3:
                break
        second.close(linger=0)
    assert got and min(got) >= away + 20, (away, got)  # nothing published while it was away arrives


@contextmanager
def raw_publisher():
    """(a bare PUB socket that sends any payload, a :class:`Subscriber` of it), past ZeroMQ's slow joiner."""
    raw = zmq.Context.instance().socket(zmq.PUB)
    raw.setsockopt(zmq.LINGER, 0)
    raw.bind(ANY_PORT)
    try:
        with Subscriber(raw.getsockopt(zmq.LAST_ENDPOINT).decode()) as sub:
            end = time.monotonic() + 2.0
            while sub.recv(timeout_ms=20) is None and time.monotonic() < end:
                raw.send_multipart([b"sadvae.sync.status", encode({"seq": 0})])
            while sub.recv(timeout_ms=20) is not None:  # drain the sync messages
                pass
            yield raw, sub
    finally:
        raw.close(linger=0)


def test_two_publishers_of_one_source_name_are_told_apart_from_a_restart() -> None:
    """Integrator audit of 7 December 2026, late: two sadvae-live with one --source-name interleaved on one topic
    unsaid. A restart (a new session that stays) is not such a pair; an older session coming back is."""
    with raw_publisher() as (raw, sub):
        topic = b"sadvae.cam0.status"
        for session, seq in (("a", 0), ("a", 1), ("b", 0), ("b", 1)):  # a restart: a, then b for good
            raw.send_multipart([topic, encode({"seq": seq, "session": session})])
        assert [sub.recv(timeout_ms=1000)[1]["seq"] for _ in range(4)] == [0, 1, 0, 1]
        assert sub.shared == {} and sub.restarts == 1
        for session, seq in (("a", 2), ("b", 2)):  # a is back: two publishers take turns
            raw.send_multipart([topic, encode({"seq": seq, "session": session})])
        for _ in range(2):
            sub.recv(timeout_ms=1000)
        assert sub.shared == {"sadvae.cam0.status": ("b", "a")}


def test_topic_filter_and_source_check() -> None:
    with Publisher(PublisherOptions(endpoint=ANY_PORT), source_name="cam0") as pub:
        with Subscriber(pub.endpoint, topics=[topic_for("cam0", "action")]) as sub:
            end = time.monotonic() + 2.0
            got = None
            while got is None and time.monotonic() < end:  # slow joiner: keep sending both kinds
                pub.publish(status("cam0"))
                pub.publish(action("cam0"))
                got = sub.recv(timeout_ms=20)
            assert got is not None
            for _ in range(5):
                pub.publish(status("cam0"))
            assert pub.publish(action("cam0", event_type="end", reason="switch"))
            topics = set()
            while (got := sub.recv(timeout_ms=100)) is not None:
                topics.add(got[0])
            assert topics == {"sadvae.cam0.action"}
        with pytest.raises(ValueError, match="event source 'cam1' differs from the publisher's 'cam0'"):
            pub.publish(action("cam1"))


def stalled_subscriber(endpoint: str):
    """A SUB that connects, subscribes to everything and never reads, with queues as small as possible."""
    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.RCVHWM, 1)
    sock.setsockopt(zmq.RCVBUF, 4096)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(endpoint)
    return sock


def flood(pub: Publisher, seconds: float, until=lambda: False) -> tuple[int, float]:
    event = action(pub.source, topk=[(f"action number {i}", 0.001) for i in range(200)])  # ~9 KB: fills TCP buffers
    calls, worst = 0, 0.0
    end = time.monotonic() + seconds
    while time.monotonic() < end and not until():
        t0 = time.perf_counter()
        pub.publish(event)
        worst = max(worst, time.perf_counter() - t0)
        calls += 1
    return calls, worst


def test_stalled_subscriber_never_blocks_and_others_keep_receiving() -> None:
    with Publisher(PublisherOptions(endpoint=ANY_PORT, sndhwm=10), source_name="cam0") as pub:
        stalled = stalled_subscriber(pub.endpoint)
        try:
            with Subscriber(pub.endpoint, rcvhwm=10) as healthy:
                sync(pub, healthy)
                # ~0.5 s of 9 KB messages: megabytes more than the stalled subscriber's queues hold
                calls, worst = flood(pub, seconds=0.5)
                # a blocking send would hang here; a few ms are the scheduler on a busy machine
                assert calls > 100 and worst < 0.05, (calls, worst)
                assert pub.dropped == 0  # default mode: ZeroMQ drops per subscriber, silently for the sender
                end = time.monotonic() + 1.5
                seen_marker = False
                while not seen_marker and time.monotonic() < end:
                    pub.publish(status(pub.source, message="after the flood"))
                    while (got := healthy.recv(timeout_ms=10)) is not None:
                        seen_marker |= got[1].get("message") == "after the flood"
                assert seen_marker  # the stalled subscriber did not stop the healthy one
        finally:
            stalled.close(linger=0)


def test_nodrop_mode_counts_drops_without_blocking() -> None:
    opts = PublisherOptions(endpoint=ANY_PORT, sndhwm=10, nodrop=True)
    with Publisher(opts, source_name="cam0") as pub:
        stalled = stalled_subscriber(pub.endpoint)
        try:
            time.sleep(0.1)  # let the subscription arrive
            calls, worst = flood(pub, seconds=1.5, until=lambda: pub.dropped >= 100)
            assert pub.dropped >= 100, f"no drops after {calls} sends"
            assert pub.sent + pub.dropped == calls
            assert worst < 0.05, worst
        finally:
            stalled.close(linger=0)


def test_subscriber_counts_missed_messages_from_seq_gaps() -> None:
    with raw_publisher() as (raw, sub):
        topic = b"sadvae.cam0.action"
        for seq in (0, 1, 4, 5, 0, 2):  # 2 and 3 lost; then the publisher restarts and loses 1
            raw.send_multipart([topic, encode({"seq": seq})])
        raw.send_multipart([topic, b"[1]"])
        got = [sub.recv(timeout_ms=1000) for _ in range(6)]
        assert [g[1]["seq"] for g in got] == [0, 1, 4, 5, 0, 2]
        assert sub.missed == 3
        with pytest.raises(DataFormatError, match="expected a JSON object, got list"):
            sub.recv(timeout_ms=1000)
        raw.send(b"sadvae.cam0.action")  # one frame only
        with pytest.raises(DataFormatError, match=r"expected 2 frames \[topic, JSON\], got 1"):
            sub.recv(timeout_ms=1000)
        assert sub.recv(timeout_ms=0) is None


def test_bind_conflict_is_a_config_error() -> None:
    with Publisher(PublisherOptions(endpoint=ANY_PORT)) as first:
        with pytest.raises(ConfigError, match=r"cannot bind the event publisher to 'tcp://127\.0\.0\.1:\d+': .*"):
            Publisher(PublisherOptions(endpoint=first.endpoint))
    with pytest.raises(ConfigError, match="cannot bind the event publisher to 'nonsense'"):
        Publisher(PublisherOptions(endpoint="nonsense"))
    with pytest.raises(ConfigError, match="sndhwm must be >= 1"):
        PublisherOptions(sndhwm=0)


def test_missing_pyzmq_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "zmq", None)  # makes `import zmq` fail
    with pytest.raises(MissingDependencyError, match=r"pyzmq is not installed; install it with .*sadvae-live\[live\]"):
        Publisher(PublisherOptions(endpoint=ANY_PORT))


def test_importing_the_pipeline_stages_imports_no_heavy_dependency() -> None:
    code = (
        "import sys, realtime.events.publisher, realtime.pose.mapping, realtime.buffer, realtime.head.labels\n"
        "heavy = [m for m in ('zmq', 'jsonschema', 'mediapipe', 'torch', 'cv2') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


def test_ipv6_loopback_endpoint_works() -> None:
    import socket

    try:
        socket.socket(socket.AF_INET6).close()
    except OSError:
        pytest.skip("no IPv6 on this machine")
    with Publisher(PublisherOptions(endpoint="tcp://[::1]:*"), "cam") as pub, Subscriber(pub.endpoint) as sub:
        got = None
        for _ in range(50):  # the subscription reaches the publisher asynchronously
            pub.publish(make_status_event(source="cam", fps=1.0, latency_ms={}, dropped={}))
            if (got := sub.recv(timeout_ms=100)) is not None:
                break
        assert pub.endpoint.startswith("tcp://[::1]:") and got is not None
