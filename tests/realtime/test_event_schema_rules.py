"""The subscriber contract, review of 6 December 2026: a consumer schema that tolerates compatible additions and a
strict one for our own payloads, schema_version checked first, stop reasons as a closed list in the code, the rules
the docs state (an end has a reason, heartbeats have no details, every message has seq and session), an ipc://
address in use is refused, a reproducible labels_hash, the status interval in status events, and the latency keys
documented."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import socket
import time
from pathlib import Path

import pytest

from realtime.events.examples import BATCH_STAGES, LABELS_FILE, STAGE_MS, examples
from realtime.events.format import (
    END_REASONS,
    PRECISIONS,
    SCHEMA_VERSION,
    STATUS_REASONS,
    STOP_REASONS,
    SchemaVersionError,
    load_schema,
    make_status_event,
    validate,
)
from sadvae.errors import ConfigError, DataFormatError, SourceError

jsonschema = pytest.importorskip("jsonschema")

DOC = Path(__file__).resolve().parents[2] / "docs" / "live.md"
NTU_FILE = "ntu/S001C001P001R001A001.skeleton"


def contract_text() -> str:
    """docs/live.md's subscriber contract: from its heading to the next top-level section."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index("## Events: the subscriber contract")
    return text[start : text.index("\n## ", start + 1)]


def consumer(event: dict) -> None:
    """What a subscriber in another language does: the shipped file, a stock 2020-12 validator, nothing of ours."""
    schema = json.loads((Path(__file__).resolve().parents[2] / "realtime/events/event_schema.json").read_text())
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(event))
    assert not errors, [e.message for e in errors]


# ---- 1. versioning: the shipped schema is a consumer schema; a strict one checks our payloads ------------------------


def test_an_example_with_an_unknown_field_validates_under_the_consumer_schema_only() -> None:
    ex = examples()
    with_extra = [
        {**ex["start"], "confidence_band": [0.6, 0.8]},
        {**ex["end"], "model": {**ex["end"]["model"], "device": "cuda:0"}},
        {**ex["start"], "window": {**ex["start"]["window"], "frames": 96}},
        {**ex["start"], "topk": [{**ex["start"]["topk"][0], "rank": 1}]},
        {**ex["status"], "gpu_memory_mb": 812},
        {**ex["status"], "persons": [{**ex["status"]["persons"][0], "hands": "up"}]},
        {**ex["status_stopped"], "details": {**ex["status_stopped"]["details"], "uptime_s": 137.6}},
    ]
    for event in with_extra:
        validate(event)  # what `sadvae events --validate` checks
        consumer(event)
        with pytest.raises(DataFormatError, match="was unexpected"):
            validate(event, strict=True)


def test_values_added_to_the_open_lists_validate_under_the_consumer_schema_only() -> None:
    ex = examples()
    person = {**ex["status"]["persons"][1], "out_of_view": ["hands"]}
    added = [
        {**ex["end"], "reason": "occluded"},  # a later end reason: a plain end
        {**ex["status"], "reason": "model_reloaded"},  # a later status reason: news for humans
        {**ex["status_stopped"], "details": {**ex["status_stopped"]["details"], "stop_reason": "power_low"}},
        {**ex["start"], "model": {**ex["start"]["model"], "precision": "fp8"}},
        {**ex["status"], "persons": [person]},
    ]
    for event in added:
        validate(event)
        consumer(event)
        with pytest.raises(DataFormatError, match="is not one of"):
            validate(event, strict=True)


def test_the_strict_schema_lists_exactly_the_values_the_code_knows() -> None:
    from realtime.view import BODY_PARTS

    strict, shipped = load_schema(strict=True)["$defs"], load_schema()["$defs"]
    for path, values in (
        (("action", "properties", "reason"), END_REASONS),
        (("status", "properties", "reason"), STATUS_REASONS),
        (("status", "properties", "details", "properties", "stop_reason"), STOP_REASONS),
        (("action", "properties", "model", "properties", "precision"), PRECISIONS),
        (("person", "properties", "out_of_view", "items"), tuple(BODY_PARTS)),
    ):
        s, c = strict, shipped
        for key in path:
            s, c = s[key], c[key]
        assert tuple(s["enum"]) == tuple(c["examples"]) == values, path
        assert "enum" not in c, f"{path}: the shipped schema closes an open list"
    text = json.dumps(load_schema())
    assert '"additionalProperties": false' not in text and '"unevaluatedProperties": false' not in text
    jsonschema.Draft202012Validator.check_schema(load_schema(strict=True))


def test_every_documented_example_validates_strictly_as_received() -> None:
    for event in examples().values():
        validate(event, strict=True)  # seq and session required: these are payloads as received
        consumer(event)


def test_a_schema_version_3_event_gets_the_version_message_first() -> None:
    future = {"schema_version": 3, "type": "start", "label": {"name": "sit down"}, "seq": "41"}  # nothing else fits
    for strict in (False, True):
        with pytest.raises(SchemaVersionError) as info:
            validate(future, strict=strict)
        assert info.value.where == "$.schema_version" and info.value.version == 3
        message = str(info.value)
        assert "schema_version is 3, this subscriber reads version 2 only" in message and "\n" not in message
        assert "same sadvae-live release" in message  # the fix
    with pytest.raises(SchemaVersionError, match="schema_version is '2'"):
        validate({**examples()["start"], "schema_version": "2"})


def test_the_subscriber_reports_another_schema_version_in_one_line() -> None:
    pytest.importorskip("zmq")
    from realtime.events.publisher import Publisher, PublisherOptions, Subscriber

    endpoint = f"inproc://sadvae-contract-v2-{time.monotonic_ns()}"
    with Publisher(PublisherOptions(endpoint=endpoint), "cam0") as pub, Subscriber(endpoint) as sub:
        deadline = time.monotonic() + 5.0
        got = None
        while got is None and time.monotonic() < deadline:  # the subscription reaches the publisher asynchronously
            pub.publish(examples()["status"])  # (the publisher sets seq and session)
            got = sub.recv(timeout_ms=20)
        assert got is not None
        pub.publish({**examples()["status"], "schema_version": 3})
        with pytest.raises(SchemaVersionError) as info:
            for _ in range(1000):  # the probes still queued, then the version 3 event
                if sub.recv(timeout_ms=1000) is None:
                    break
    assert info.value.topic == "sadvae.cam0.status" and info.value.version == 3
    assert str(info.value).startswith("sadvae.cam0.status:$.schema_version: schema_version is 3, this subscriber")
    assert sub.missed == 0  # its seq still counted


def test_sadvae_events_says_another_version_once_and_validates_with_the_consumer_schema(capsys) -> None:
    from realtime.commands.events import _render

    args = argparse.Namespace(validate=True, json=True)
    extra = {**examples()["start"], "confidence_band": [0.6, 0.8]}
    line = _render(("sadvae.cam0.action", extra), args, "tcp://127.0.0.1:58123")
    assert line is not None and json.loads(line) == extra  # a compatible addition is not "malformed"
    versions: dict = {}
    for _ in range(3):
        error = SchemaVersionError(3, "sadvae.cam0.action")
        assert _render(("sadvae.cam0.action", error), args, "tcp://127.0.0.1:58123", versions) is None
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "sadvae events: skipped an event on sadvae.cam0.action: schema_version is 3, this subscriber reads version "
        f"{SCHEMA_VERSION} only (an incompatible format): run the same sadvae-live release on the publisher and the "
        "subscriber, or a subscriber written for version 3"
    ]
    assert versions == {"3": 3}


# ---- 2. stop reasons: a closed list; a crash or a lost source does not read as "closed" ------------------------------


class _FailingSource:
    """A replay whose iterator raises ``error`` after ``n`` frames (a camera given up, a file that breaks)."""

    def __init__(self, inner, n: int, error: BaseException):
        self.inner, self.n, self.error = inner, n, error
        self.name, self.fps = inner.name, inner.fps

    def __iter__(self):
        for i, frame in enumerate(self.inner):
            if i == self.n:
                raise self.error
            yield frame

    def close(self) -> None:
        self.inner.close()


def _pipeline(shared_data, live_model, tmp_path, source=None, **kw):
    pytest.importorskip("zmq")
    from realtime.decisions import DecisionOptions
    from realtime.events.publisher import PublisherOptions
    from realtime.head.zero_shot import HeadOptions
    from realtime.pipeline import Pipeline, PipelineOptions
    from realtime.sources.replay import ReplaySource

    labels = tmp_path / "labels.txt"
    labels.write_text("wave\nclap\n", encoding="utf-8")  # trained classes of the tiny bundle: no text encoder
    opts = PipelineOptions(
        stride=4,
        handle_signals=False,
        decisions=DecisionOptions(min_score=0.0, keep_score=0.0, start_score=0.0, start_windows=1),
        head=HeadOptions(cache_dir=str(tmp_path / "heads")),
        publisher=PublisherOptions(endpoint="tcp://127.0.0.1:*", sndhwm=10_000),
        **kw,
    )
    replay = ReplaySource(shared_data / NTU_FILE)
    return Pipeline(source(replay) if source else replay, live_model, labels, opts)


def _received(pipe, run) -> list[dict]:
    """Every event the pipeline publishes during ``run()``, as a real subscriber receives it (seq and session)."""
    from realtime.events.publisher import Subscriber

    sub = Subscriber(pipe.publisher.endpoint, rcvhwm=100_000)
    try:
        deadline = time.monotonic() + 5.0
        while True:  # the slow joiner: probe until the subscription has arrived
            probe = make_status_event(source=pipe.publisher.source, fps=0.0, latency_ms={}, dropped={}, message="probe")
            pipe.publisher.publish(probe)
            if sub.recv(timeout_ms=50) is not None:
                break
            assert time.monotonic() < deadline, "the subscriber never connected"
        run()
        out = []
        while (got := sub.recv(timeout_ms=300)) is not None:
            out.append(got[1])
        return [e for e in out if e.get("message") != "probe"]
    finally:
        sub.close()


@pytest.mark.parametrize(
    ("error", "want"),
    [(SourceError("camera 0 lost: gave up after 3 reconnect attempts"), "source_lost"), (RuntimeError("bug"), "error")],
)
def test_a_run_ended_by_an_exception_says_so_in_its_stop_reason(shared_data, live_model, tmp_path, error, want):
    pipe = _pipeline(shared_data, live_model, tmp_path, source=lambda r: _FailingSource(r, 40, error))

    def run() -> None:
        with pytest.raises(type(error)):
            pipe.run()

    events = _received(pipe, run)
    stopped = events[-1]
    assert stopped["reason"] == "stopped" and stopped["details"]["stop_reason"] == want != "closed"
    assert stopped["details"]["frames"] == 40 and stopped["details"]["stop_reason"] in STOP_REASONS
    for event in events:
        validate(event, strict=True)


class _EditingSource:
    """A replay that saves ``edits`` into the labels file at the given frames (settled: stamped 10 s ago)."""

    pipe = None  # the pipeline reading it, set once built

    def __init__(self, inner, path, edits: dict[int, str]):
        self.inner, self.path, self.edits = inner, path, edits
        self.name, self.fps = inner.name, inner.fps

    def __iter__(self):
        for i, frame in enumerate(self.inner):
            if i in self.edits:
                self.path.write_text(self.edits[i], encoding="utf-8")
                past = time.time() - 10
                os.utime(self.path, (past, past))
            if i - 2 in self.edits:  # the pipeline has seen the edit: let the worker thread finish its build
                if (build := self.pipe._reloader._pending) is not None:
                    build.result(timeout=120)
            yield frame

    def close(self) -> None:
        self.inner.close()


def test_a_labels_edit_that_cannot_be_used_is_sent_to_subscribers(shared_data, live_model, tmp_path) -> None:
    """Review of 7 December 2026: a bad edit of the labels file was only logged; a program that writes the file
    never learnt that its labels were not in use. Now a labels_rejected status says why, once per failure."""
    from sadvae.labels import parse_labels_text

    labels = tmp_path / "labels.txt"
    edits = {10: "wave\nWave!\n", 30: "clap\nwave\n"}  # a duplicate name, then a good edit
    pipe = _pipeline(
        shared_data, live_model, tmp_path, source=lambda r: _EditingSource(r, labels, edits), labels_poll_s=0.001
    )
    pipe.source.pipe = pipe
    events = _received(pipe, pipe.run)
    news = [e for e in events if e["type"] == "status" and e["reason"].startswith("labels_")]
    assert [e["reason"] for e in news] == ["labels_rejected", "labels_reloaded"], news
    rejected = news[0]["details"]
    assert rejected["labels"] == 2 and rejected["labels_path"] == str(labels) and "Wave!" in rejected["error"]
    assert rejected["labels_hash"] == parse_labels_text("wave\nclap\n").sha256  # the set still in use
    assert news[1]["details"]["labels_hash"] != rejected["labels_hash"]
    for event in news:
        validate(event, strict=True)


def test_a_reason_of_a_program_s_own_is_sent_as_stop(shared_data, live_model, tmp_path) -> None:
    pipe = _pipeline(shared_data, live_model, tmp_path, max_frames=10)
    pipe.request_stop("operator pressed pause")
    events = _received(pipe, pipe.run)
    assert events[-1]["details"]["stop_reason"] == "stop"
    assert events[-1]["message"] == "stopped (operator pressed pause) after 0 frames"
    validate(events[-1], strict=True)


def test_an_unknown_stop_reason_is_refused_by_the_builder_and_the_strict_schema() -> None:
    with pytest.raises(ValueError, match=r"stop_reason must be one of \('end', 'max_frames'"):
        make_status_event(source="c", fps=0, latency_ms={}, dropped={}, reason="stopped", details={"stop_reason": "x"})
    stopped = examples()["status_stopped"]
    bad = {**stopped, "details": {**stopped["details"], "stop_reason": "crashed"}}
    with pytest.raises(DataFormatError, match="'crashed' is not one of") as info:
        validate(bad, strict=True)
    assert info.value.where == "$.details.stop_reason"
    validate(bad)  # the consumer schema: an unplanned stop of a later publisher


def test_every_stop_reason_is_documented() -> None:
    text = contract_text()
    for reason in STOP_REASONS:
        assert f"`{reason}` (" in text, reason


# ---- 3. the rules the docs state -------------------------------------------------------------------------------------


@pytest.mark.parametrize("strict", [False, True])
def test_the_documented_rules_are_in_the_schema(strict: bool) -> None:
    ex = examples()
    end_without = {k: v for k, v in ex["end"].items() if k != "reason"}
    cases = [
        (end_without, "$", "'reason' is a required property"),
        ({**ex["start"], "reason": "switch"}, "$.reason", "reason is for end events only"),
        ({**ex["update"], "reason": "gap"}, "$.reason", "reason is for end events only"),
        ({**ex["status"], "details": {"frames": 3}}, "$.details", "heartbeat and started status events carry no"),
        ({**ex["status"], "reason": "started", "details": {}}, "$.details", "carry no details"),
    ]
    for key in ("seq", "session"):
        for name in ("start", "status"):
            cases.append(({k: v for k, v in ex[name].items() if k != key}, "$", f"'{key}' is a required property"))
    for event, where, message in cases:
        with pytest.raises(DataFormatError, match=message) as info:
            validate(event, strict=strict)
        assert info.value.where == where, message
    # builder-only payloads (before the publisher adds seq and session) have their own path
    for name in ("start", "status"):
        validate({k: v for k, v in ex[name].items() if k not in ("seq", "session")}, strict=strict, published=False)


def test_the_builder_refuses_an_end_without_a_reason() -> None:
    from realtime.events.format import make_action_event

    common = dict(
        source="cam0",
        track_id=0,
        label="wave",
        score=0.5,
        topk=[("wave", 0.5)],
        window_ms=(0.0, 1.0),
        labels_hash="ab" * 32,
        model_id="m",
        precision="fp32",
        latency_ms={},
    )
    with pytest.raises(ValueError, match=r"reason is for end events .*every end has one.*got None on a 'end'"):
        make_action_event(event_type="end", **common)


# ---- 4. an ipc:// address in use -------------------------------------------------------------------------------------


def _short_dir(tmp_path: Path) -> Path:
    """A socket path must fit in 107 bytes."""
    assert len(str(tmp_path)) < 90, tmp_path
    return tmp_path


def test_a_second_bind_on_a_live_ipc_path_is_refused_and_the_first_keeps_its_subscribers(tmp_path) -> None:
    pytest.importorskip("zmq")
    from realtime.events.publisher import Publisher, PublisherOptions, Subscriber

    folder = _short_dir(tmp_path)
    endpoint = f"ipc://{folder}/events.sock"
    with Publisher(PublisherOptions(endpoint=endpoint, settle_ms=0), "cam0") as first:
        with pytest.raises(ConfigError) as info:
            Publisher(PublisherOptions(endpoint=endpoint), "cam1")
        message = str(info.value)
        assert endpoint in message and "is in use" in message and "choose another path" in message
        assert "\n" not in message
        with Subscriber(endpoint) as sub:  # the first publisher still reaches its subscribers
            deadline = time.monotonic() + 5.0
            got = None
            while got is None and time.monotonic() < deadline:
                first.publish(make_status_event(source="cam0", fps=0, latency_ms={}, dropped={}))
                got = sub.recv(timeout_ms=50)
            assert got is not None and got[0] == "sadvae.cam0.status"


def test_a_stale_ipc_socket_file_is_replaced_and_a_regular_file_is_kept(tmp_path) -> None:
    pytest.importorskip("zmq")
    from realtime.events.publisher import Publisher, PublisherOptions

    folder = _short_dir(tmp_path)
    stale = folder / "stale.sock"
    left = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    left.bind(str(stale))  # bound, never listening, closed: what a killed process leaves
    left.close()
    assert stale.is_socket()
    with Publisher(PublisherOptions(endpoint=f"ipc://{stale}", settle_ms=0), "cam0"):
        pass
    regular = folder / "notes.txt"
    regular.write_text("keep me", encoding="utf-8")
    with pytest.raises(ConfigError, match="exists and is not a socket"):
        Publisher(PublisherOptions(endpoint=f"ipc://{regular}"), "cam0")
    assert regular.read_text(encoding="utf-8") == "keep me"  # ZeroMQ alone would have deleted it


# ---- 5. labels_hash: the publisher's digest, reproducible from the docs ----------------------------------------------


def test_the_examples_labels_hash_is_the_label_sets_digest_and_the_documented_formula() -> None:
    from realtime.head.labels import parse_labels_text

    labels = parse_labels_text(LABELS_FILE)
    assert examples()["start"]["labels_hash"] == labels.sha256  # what Pipeline._publish_decision sends
    pairs = [[n, d] for n, d in zip(labels.names, labels.descriptions, strict=True)]
    documented = hashlib.sha256(json.dumps(pairs, ensure_ascii=False).encode()).hexdigest()  # docs/live.md's line
    assert documented == labels.sha256
    text = contract_text()
    assert "json.dumps([[n, d] for n, d in zip(names, descriptions)], ensure_ascii=False)" in text
    described = parse_labels_text("walk | stroll\nwave\n")
    pairs = [["walk", "stroll"], ["wave", None]]
    assert described.sha256 == hashlib.sha256(json.dumps(pairs, ensure_ascii=False).encode()).hexdigest()


# ---- 6. the status interval in status events -------------------------------------------------------------------------


def test_every_status_event_of_a_run_carries_the_status_interval(shared_data, live_model, tmp_path) -> None:
    pipe = _pipeline(shared_data, live_model, tmp_path, status_interval_s=0.25)
    events = _received(pipe, pipe.run)
    statuses = [e for e in events if e["type"] == "status"]
    assert statuses[0]["reason"] == "started" and statuses[-1]["reason"] == "stopped"
    assert all(e["status_interval_s"] == 0.25 for e in statuses)
    for event in events:
        validate(event, strict=True)  # our real payloads, exactly
    actions = [e for e in events if e["type"] != "status"]
    assert actions and all(set(e["latency_ms"]) <= set(BATCH_STAGES) for e in actions)
    assert all(set(e["latency_ms"]) <= set(STAGE_MS) for e in statuses)
    assert {e["type"] for e in actions} == {"start", "update", "end"}
    with pytest.raises(ValueError, match="status_interval_s must be a finite number of seconds > 0"):
        make_status_event(source="cam0", fps=0, latency_ms={}, dropped={}, status_interval_s=0)
    assert all(e["status_interval_s"] == 1.0 for e in examples().values() if e["type"] == "status")
    assert "3 x `status_interval_s`" in contract_text()


# ---- 7. latency keys -------------------------------------------------------------------------------------------------


def test_every_stage_stats_can_record_is_documented_and_the_examples_use_the_real_names() -> None:
    from realtime.stats import STAGES

    text = contract_text()
    row = next(line for line in text.splitlines() if line.startswith("| `latency_ms` | mean milliseconds"))
    for stage in STAGES:
        assert f"`{stage}` (" in row, stage
    assert "but `read`" in row  # what total covers
    assert tuple(STAGE_MS) == tuple(s for s in STAGES if s != "overlay")  # an example without --display
    assert tuple(examples()["status"]["latency_ms"]) == tuple(STAGE_MS)
    assert tuple(examples()["start"]["latency_ms"]) == BATCH_STAGES
    action_row = next(line for line in text.splitlines() if line.startswith("| `latency_ms` | milliseconds per stage"))
    for stage in BATCH_STAGES:
        assert f"`{stage}`" in action_row, stage


# ---- 8. the docs' words ----------------------------------------------------------------------------------------------


def test_the_contract_names_only_fields_that_exist_and_says_what_score_is_for_a_motion() -> None:
    text = contract_text()
    assert "`t_ms`" not in text  # not a field of any event
    score_row = next(line for line in text.splitlines() if line.startswith("| `score` |"))
    assert "**mean**" in score_row and "motion_end" in score_row
    assert re.search(r"`motion_end` \(.*same `window`", text)
