"""Docket reads CloudEvents as the specification writes them: any extension attribute,
content-type parameters, structured and binary mode; writes reverse-DNS types and
``partitionkey``; still reads the first versions of its events. The official SDK
(``cloudevents``) produces and reads the records here, so "as the spec says" is the
SDK's reading, not only ours."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from shared import contract
from shared.events import (
    CONTENT_TYPE,
    EVENT_CLASSES,
    DecisionRecorded,
    EventRejected,
    Outcome,
    RequestReceived,
    envelope_for,
    event_name,
    event_version,
    parse_data,
    parse_envelope,
    parse_event,
    type_name,
)

REQUEST_ID = "0f6a3c1e-8d4b-4f5a-9c2e-7b1d5e3a9f10"
EXAMPLES = contract.EXAMPLES_DIR


def _decision() -> DecisionRecorded:
    return DecisionRecorded(
        request_id=REQUEST_ID,
        outcome=Outcome.CHALLENGED,
        decided_by="legal-ops:counsel-on-duty",
        submitted_by="client:legal-ops",
    )


def _structured(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(envelope_for(_decision(), source="/test").to_bytes())
    document.update(changes)
    return document


def _headers(message: ce_kafka.KafkaMessage) -> dict[str, str]:
    return {name: value.decode("utf-8") for name, value in message.headers.items()}


# --- the type scheme ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "version", "expected"),
    [
        ("RequestReceived", 2, "org.docket.request.received.v2"),
        ("NotificationWithheld", 2, "org.docket.notification.withheld.v2"),
        ("RequesterVerified", 1, "org.docket.requester.verified.v1"),
        ("VerdictOverridden", 3, "org.docket.verdict.overridden.v3"),
        ("DeadlineApproaching", 1, "org.docket.deadline.approaching.v1"),
        ("NDOLifted", 1, "org.docket.ndo.lifted.v1"),
        ("RequestReceived", 1, "RequestReceived"),  # published before the scheme
    ],
)
def test_type_is_one_function_of_name_and_version(name: str, version: int, expected: str) -> None:
    assert type_name(name, version) == expected


def test_every_event_is_written_with_a_reverse_dns_type_and_partitionkey() -> None:
    for cls in EVENT_CLASSES:
        assert cls.type_name().startswith("org.docket."), cls
        assert cls.type_name().endswith(f".v{cls.VERSION}")
        assert cls.dataschema() == f"urn:docket:event:{cls.EVENT_TYPE}:v{cls.VERSION}"
    envelope = envelope_for(_decision(), source="/test")
    assert envelope.type == "org.docket.decision.recorded.v2"
    assert envelope.extensions == {"partitionkey": REQUEST_ID}
    assert event_name(envelope.type) == event_name("DecisionRecorded") == "DecisionRecorded"


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda cls: cls.EVENT_TYPE)
def test_first_versions_are_still_read(cls: type[RequestReceived]) -> None:
    raw = (EXAMPLES / f"{cls.EVENT_TYPE}.v1.json").read_text()
    envelope, data = parse_event(raw)
    # The ten events of the first contract keep their bare v1 names; later events
    # start reverse-DNS at v1.
    assert envelope.type == type_name(cls.EVENT_TYPE, 1)
    assert event_version(envelope) == (cls, 1)
    assert type(data) is cls


def test_an_unread_version_is_refused_with_the_versions_read() -> None:
    document = _structured(dataschema="urn:docket:event:DecisionRecorded:v9")
    with pytest.raises(EventRejected) as rejected:
        parse_event(json.dumps(document))
    assert rejected.value.reason == (
        "unsupported schema 'urn:docket:event:DecisionRecorded:v9' for DecisionRecorded "
        "(this consumer reads 'urn:docket:event:DecisionRecorded:v1', "
        "'urn:docket:event:DecisionRecorded:v2')"
    )
    with pytest.raises(
        EventRejected, match=r"unknown event type 'org\.docket\.decision\.recorded\.v9'"
    ):
        parse_event(json.dumps(_structured(type="org.docket.decision.recorded.v9")))


# --- structured mode ------------------------------------------------------------------


def test_extension_attributes_are_accepted_and_kept() -> None:
    document = _structured(
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        sequence=42,
        sampled=True,
        comexampleextension1="value",
    )
    envelope, data = parse_event(json.dumps(document))
    assert envelope.extensions == {
        "partitionkey": REQUEST_ID,
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "sequence": 42,
        "sampled": True,
        "comexampleextension1": "value",
    }
    assert data == _decision()
    assert json.loads(envelope.to_bytes())["traceparent"].startswith("00-4bf9")


@pytest.mark.parametrize(
    ("attribute", "value", "reason"),
    [
        ("Trace_Parent", "x", "attribute name 'Trace_Parent': only lower-case letters and digits"),
        ("nested", {"a": 1}, "extension attribute nested: a string, number or boolean"),
    ],
)
def test_an_extension_the_spec_forbids_is_refused(attribute: str, value: Any, reason: str) -> None:
    with pytest.raises(EventRejected, match=reason):
        parse_envelope(json.dumps(_structured(**{attribute: value})))


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        'Application/JSON;charset="UTF-8"',
        "application/vnd.docket+json",
    ],
)
def test_json_content_types_with_parameters_are_read(content_type: str) -> None:
    envelope, _ = parse_event(json.dumps(_structured(datacontenttype=content_type)))
    assert envelope.datacontenttype == content_type


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/json; charset=iso-8859-1", "json"]
)
def test_data_that_is_not_json_is_refused(content_type: str) -> None:
    with pytest.raises(EventRejected, match=r"datacontenttype: Value error, .* is not JSON"):
        parse_envelope(json.dumps(_structured(datacontenttype=content_type)))


def test_an_absent_optional_attribute_may_be_null_and_data_may_be_base64() -> None:
    document = _structured(comexampleextension1=None)
    encoded = json.dumps(document.pop("data")).encode()
    document["data_base64"] = base64.b64encode(encoded).decode()
    envelope, data = parse_event(json.dumps(document))
    assert "comexampleextension1" not in envelope.extensions
    assert data == _decision()


def test_structured_mode_content_type_header_must_name_the_json_format() -> None:
    raw = json.dumps(_structured())
    parse_event(raw, {"content-type": "application/cloudevents+json; charset=UTF-8"})
    with pytest.raises(EventRejected, match="unsupported event format 'application/cloudevents"):
        parse_event(raw, {"content-type": "application/cloudevents+avro"})


# --- the official SDK, both content modes --------------------------------------------


def _sdk_event(**extensions: Any) -> CloudEvent:
    attributes = {
        "id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "source": "/agency-portal",
        "type": _decision().type_name(),
        "subject": REQUEST_ID,
        "time": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "datacontenttype": "application/json; charset=utf-8",
        "dataschema": _decision().dataschema(),
        "partitionkey": REQUEST_ID,
        **extensions,
    }
    return CloudEvent(attributes, _decision().model_dump(mode="json"))


def test_a_binary_mode_record_from_the_sdk_is_read() -> None:
    message = ce_kafka.to_binary(
        _sdk_event(traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        JSONFormat(),
    )
    assert message.key == REQUEST_ID
    assert "ce_specversion" in message.headers
    envelope, data = parse_event(message.value, _headers(message))
    assert data == _decision()
    assert envelope.id == "7c9e6679-7425-40de-944b-e07fc1f90ae7"
    assert envelope.time == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert envelope.datacontenttype == "application/json; charset=utf-8"
    assert envelope.extensions["traceparent"].startswith("00-4bf9")


def test_a_structured_mode_record_from_the_sdk_is_read() -> None:
    message = ce_kafka.to_structured(_sdk_event(comexampleextension1="x"), JSONFormat())
    envelope, data = parse_event(message.value, _headers(message))
    assert data == _decision()
    assert envelope.extensions["comexampleextension1"] == "x"


def test_a_binary_mode_record_whose_value_is_not_json_is_refused() -> None:
    message = ce_kafka.to_binary(_sdk_event(), JSONFormat())
    with pytest.raises(EventRejected, match="binary-mode data is not JSON"):
        parse_event(b"\xff not json", _headers(message))


def test_binary_mode_without_a_required_attribute_is_refused() -> None:
    message = ce_kafka.to_binary(_sdk_event(), JSONFormat())
    headers = {k: v for k, v in _headers(message).items() if k != "ce_subject"}
    with pytest.raises(EventRejected, match=r"not a CloudEvents 1\.0 envelope: subject"):
        parse_event(message.value, headers)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_the_sdk_reads_every_example_and_docket_reads_it_back(path: Path) -> None:
    """Every version's example, as a Kafka record, parsed by the SDK in structured mode,
    re-sent by the SDK in binary mode, and read by Docket again."""
    raw = path.read_bytes()
    document = json.loads(raw)
    message = ce_kafka.KafkaMessage(
        headers={"content-type": CONTENT_TYPE.encode()},
        key=document["subject"].encode(),
        value=raw,
    )
    event = ce_kafka.from_structured(message, JSONFormat())
    assert event.get_type() == document["type"]
    assert event.get_data() == document["data"]
    binary = ce_kafka.to_binary(event, JSONFormat())
    envelope, data = parse_event(binary.value, _headers(binary))
    assert envelope.type == document["type"]
    assert parse_data(parse_envelope(raw)) == data
