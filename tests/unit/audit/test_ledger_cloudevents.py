"""Audit keeps a binary-mode CloudEvent as the structured event it is, extensions
included, and names every version of an event the same way in its log."""

from __future__ import annotations

import json
from datetime import datetime

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from services.audit.handlers import ledger_entry_for
from shared import contract, topics
from shared.kafka import RecordInfo


def _info(headers: dict[str, str]) -> RecordInfo:
    return RecordInfo(topics.REQUEST_RECEIVED, 0, 7, "r-1", headers, 0)


def test_a_binary_mode_event_is_kept_as_a_structured_one_with_its_extensions() -> None:
    example = json.loads((contract.EXAMPLES_DIR / "RequestReceived.v2.json").read_text())
    data = example.pop("data")
    example["time"] = datetime.fromisoformat(example["time"])  # the SDK takes a datetime
    event = CloudEvent({**example, "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"}, data)
    message = ce_kafka.to_binary(event, JSONFormat())
    headers = {name: value.decode() for name, value in message.headers.items()}
    entry = ledger_entry_for(message.value, _info(headers))
    assert entry.unreadable is None, entry.unreadable
    assert entry.event is not None
    assert entry.event["data"] == data
    assert entry.event["traceparent"].startswith("00-aaaa")
    assert entry.event["partitionkey"] == example["subject"]
    assert entry.event_type == "RequestReceived"


def test_both_versions_of_an_event_have_one_name_in_the_log() -> None:
    for version in (1, 2):
        raw = (contract.EXAMPLES_DIR / f"UserNotified.v{version}.json").read_bytes()
        entry = ledger_entry_for(raw, _info({"content-type": "application/cloudevents+json"}))
        assert entry.event is not None
        assert entry.event_type == "UserNotified"


def test_an_unknown_event_format_is_kept_unreadable_with_the_reason() -> None:
    raw = (contract.EXAMPLES_DIR / "UserNotified.v2.json").read_bytes()
    entry = ledger_entry_for(raw, _info({"content-type": "application/cloudevents+avro"}))
    assert entry.unreadable is not None
    assert entry.unreadable.reason.startswith("unsupported event format")
    assert entry.event_type == "UnreadableRecord"
