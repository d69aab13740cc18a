"""docs/live.md's subscriber contract cannot drift: its example payloads are the builders' and match the schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from realtime.decisions import END_REASONS
from realtime.events.examples import examples, markdown
from realtime.events.publisher import EVENT_TYPES, STATUS_REASONS, load_schema, validate

pytest.importorskip("jsonschema")

DOC = Path(__file__).resolve().parents[2] / "docs" / "live.md"
BLOCK = re.compile(r"<!-- example: (\w+) -->\n```json\n(.*?)\n```", re.S)


def doc_examples() -> dict[str, dict]:
    return {name: json.loads(body) for name, body in BLOCK.findall(DOC.read_text(encoding="utf-8"))}


def test_docs_hold_exactly_the_generated_examples() -> None:
    documented, made = doc_examples(), examples()
    assert documented == made, "docs/live.md is stale: paste the output of `python -m realtime.events.examples`"
    assert markdown() in DOC.read_text(encoding="utf-8")


def test_every_event_type_has_a_valid_example() -> None:
    documented = doc_examples()
    assert {e["type"] for e in documented.values()} == {*EVENT_TYPES, "status"}
    for name, event in documented.items():
        validate(event)
        assert isinstance(event["seq"], int) and len(event["session"]) == 16, name
    persons = documented["status"]["persons"]
    assert any(p["no_action"] and p["label"] is None for p in persons)
    assert any(p["decided"] is not None for p in persons)


def test_docs_name_every_field_and_reason_of_the_schema() -> None:
    text = DOC.read_text(encoding="utf-8")
    defs = load_schema()["$defs"]
    fields = set(defs["common"]["properties"]) | set(defs["action"]["properties"]) | set(defs["status"]["properties"])
    fields |= set(defs["person"]["properties"]) | set(defs["status"]["properties"]["details"]["properties"])
    missing = sorted(f for f in fields if f"`{f}`" not in text and f"`persons[].{f}`" not in text)
    assert not missing, f"docs/live.md does not explain {missing}"
    for reason in STATUS_REASONS:
        assert f"| `{reason}` |" in text, reason
    for reason in END_REASONS:
        assert f"`{reason}`" in text, reason
    for topic in ("CURVE", "slow joiner", "monotonic_ns", "server.key", "authorized_clients", "Z85"):
        assert topic in text


def test_sadvae_events_prints_what_each_person_sees() -> None:
    from realtime.commands.events import format_event

    line = format_event("sadvae.cam0.status", examples()["status"])
    assert "#0 stand up 0.64 (decided stand up)" in line and "#3 no action 0.11" in line
    assert "#3 no action 0.11, legs out of view" in line  # review of 6 December 2026: left out of the text line
    end = format_event("sadvae.cam0.action", examples()["end"])
    assert " END    sit down 0.20 (switch)  [" in end  # and the reason an action ended
