"""The event contract as an artefact (engineering item 11): JSON Schema of every event
version and of the CloudEvents envelope, one example envelope per event version, and
the AsyncAPI document, all generated from the pydantic models in :mod:`shared.events`.

``python -m shared.contract write`` (``make contract``) writes them under ``docs/``;
``python -m shared.contract check`` fails when the checked-in files differ from what
the code generates, and says whether the difference is a compatible change (rerun
``make contract``) or a breaking one (add a new event version instead).

Examples are fixtures: written once, never rewritten, so the payloads of every version
ever published stay in the repository and must keep validating and parsing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.security import SASLScram512
from faststream.specification import AsyncAPI
from pydantic import BaseModel, Field, create_model

from shared import topics
from shared.counsel import (
    CategoryDecision,
    CounselTarget,
    HoldKind,
    ProductionChoice,
    VerificationMethod,
    VerificationOutcome,
)
from shared.events import (
    CONTENT_TYPE,
    COUNSEL_EVENTS,
    EVENT_CLASSES,
    CommentAdded,
    DeadLettered,
    DeadlineApproaching,
    DeadlineKind,
    DeadlineMissed,
    DecisionRecorded,
    DocumentFinding,
    Envelope,
    EventData,
    HoldEnded,
    NoticeDecision,
    NoticeTarget,
    NoticeWithheldForGood,
    NotificationFailed,
    NotificationScheduled,
    NotificationWithheld,
    Outcome,
    ProductionDecided,
    RequestAmended,
    RequestAssigned,
    RequestClassified,
    RequesterOrganisation,
    RequesterVerificationRecorded,
    RequestReceived,
    ShadowClassified,
    TargetReference,
    UserNotified,
    VerdictOverridden,
    envelope_for,
)
from shared.submission import (
    AgencyType,
    DataCategory,
    Instrument,
    InstrumentType,
    Nondisclosure,
    ReceivedVia,
    Requester,
    Submission,
    Target,
)
from shared.verdict import (
    Authority,
    DataScope,
    RecommendedAction,
    Risk,
    RiskFactor,
    RiskLevel,
)

JsonObject = dict[str, Any]

ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = ROOT / "docs" / "events"
EXAMPLES_DIR = EVENTS_DIR / "examples"
ASYNCAPI_FILE = ROOT / "docs" / "asyncapi.json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ENVELOPE_NAME = "Envelope"
#: v2: extension attributes allowed, ``datacontenttype`` with parameters.
ENVELOPE_VERSION = 2

#: Which service publishes each event type (contract section 3); ``DeadLettered`` is
#: published by whichever consumer gave up on a record.
PRODUCERS: Mapping[str, str] = {
    RequestReceived.EVENT_TYPE: "intake",
    RequestAmended.EVENT_TYPE: "intake",
    DecisionRecorded.EVENT_TYPE: "intake",
    RequestClassified.EVENT_TYPE: "classifier",
    ShadowClassified.EVENT_TYPE: "classifier",
    UserNotified.EVENT_TYPE: "notifier",
    NotificationScheduled.EVENT_TYPE: "notifier",
    NotificationWithheld.EVENT_TYPE: "notifier",
    NotificationFailed.EVENT_TYPE: "notifier",
    DeadlineApproaching.EVENT_TYPE: "audit",
    DeadlineMissed.EVENT_TYPE: "audit",
    **{cls.EVENT_TYPE: "intake" for cls in COUNSEL_EVENTS},
    DeadLettered.EVENT_TYPE: "any consumer",
}

#: Topics each consuming service subscribes to (see each service's ``app.py``).
SUBSCRIPTIONS: Mapping[str, tuple[str, ...]] = {
    "classifier": (topics.REQUEST_RECEIVED, topics.REQUEST_AMENDED, topics.REQUEST_DECIDED),
    "notifier": (
        topics.REQUEST_RECEIVED,
        topics.REQUEST_CLASSIFIED,
        topics.REQUEST_AMENDED,
        topics.REQUEST_COUNSEL,
    ),
    "audit": topics.AUDITED_TOPICS,
}


# --- JSON Schema ----------------------------------------------------------------------


def schema_name(cls: type[EventData]) -> str:
    return f"{cls.EVENT_TYPE}.v{cls.VERSION}"


def envelope_model(cls: type[EventData]) -> type[BaseModel]:
    """The envelope of one event version: ``type`` and ``dataschema`` fixed, ``data``
    typed, ``partitionkey`` required. Used for the JSON Schema files and as the AsyncAPI
    message payload."""
    event_type: Any = Literal[cls.type_name()]
    dataschema: Any = Literal[cls.dataschema()]
    return create_model(
        f"{cls.EVENT_TYPE}Event",
        __base__=Envelope,
        __doc__=(
            f"A {cls.EVENT_TYPE} v{cls.VERSION} event on {cls.TOPIC}, published by "
            f"{PRODUCERS.get(cls.EVENT_TYPE, 'docket')}: a CloudEvents 1.0 event (JSON "
            "format, structured mode) whose subject and partitionkey are data.request_id; "
            "other extension attributes may be present."
        ),
        type=(event_type, Field(description="The event type and version (reverse-DNS)")),
        dataschema=(dataschema, Field(description="The event type and its version")),
        partitionkey=(
            str,
            Field(description="CloudEvents Partitioning extension: the request id (record key)"),
        ),
        data=(cls, Field(description=(cls.__doc__ or cls.EVENT_TYPE).strip())),
    )


def event_schema(cls: type[EventData]) -> JsonObject:
    """JSON Schema (2020-12) of a whole event envelope of this event version."""
    schema = envelope_model(cls).model_json_schema(mode="validation")
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": cls.dataschema(), **schema}


def envelope_schema() -> JsonObject:
    """JSON Schema of the envelope every Docket event travels in, whatever its type."""
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"urn:docket:envelope:v{ENVELOPE_VERSION}",
        **Envelope.model_json_schema(mode="validation"),
    }


def schemas() -> dict[str, JsonObject]:
    """File name (without ``.schema.json``) -> schema, for everything the code defines."""
    generated = {f"{ENVELOPE_NAME}.v{ENVELOPE_VERSION}": envelope_schema()}
    generated.update({schema_name(cls): event_schema(cls) for cls in EVENT_CLASSES})
    return generated


def older_versions() -> list[tuple[type[EventData], int]]:
    """(model, version) of every version older than the current one that today's
    consumers still read (``READS_SINCE``)."""
    return [
        (cls, version)
        for cls in EVENT_CLASSES
        for version in cls.readable_versions()
        if version != cls.VERSION
    ]


# --- compatibility --------------------------------------------------------------------

_UPPER_BOUNDS = ("maxLength", "maxItems", "maximum", "exclusiveMaximum", "maxProperties")
_LOWER_BOUNDS = ("minLength", "minItems", "minimum", "exclusiveMinimum", "minProperties")


def breaking_changes(old: JsonObject, new: JsonObject) -> list[str]:
    """Why a document valid under ``old`` may be refused under ``new``, or a field a
    reader of ``old`` relies on may be gone: one line per problem, empty when ``new``
    is a compatible evolution of ``old`` (an optional field added, an enum widened, a
    constraint relaxed, a description edited)."""
    problems: list[str] = []
    _compare(_Doc(old), old, _Doc(new), new, "", problems)
    return problems


@dataclass(frozen=True)
class _Doc:
    """A schema document, to resolve its local ``$ref``\\ s."""

    root: JsonObject

    def resolve(self, node: JsonObject) -> JsonObject:
        seen: set[str] = set()
        while "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/") or ref in seen:
                break
            seen.add(ref)
            target: Any = self.root
            for part in ref[2:].split("/"):
                target = target[part]
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return node


def _variants(node: JsonObject, doc: _Doc) -> list[JsonObject]:
    node = doc.resolve(node)
    alternatives = node.get("anyOf") or node.get("oneOf")
    if alternatives is None:
        return [node]
    return [variant for item in alternatives for variant in _variants(item, doc)]


_ANNOTATIONS = frozenset({"title", "description", "default", "examples", "deprecated"})


def _accepts_anything(node: JsonObject) -> bool:
    return set(node) <= _ANNOTATIONS


def _kind(node: JsonObject) -> tuple[str, str]:
    """What a variant accepts at the top: JSON type (``any`` when open) and format."""
    kind = node.get("type", "any")
    if isinstance(kind, list):
        kind = "|".join(sorted(kind))
    return str(kind), str(node.get("format", ""))


def _compare(
    old_doc: _Doc, old: JsonObject, new_doc: _Doc, new: JsonObject, path: str, out: list[str]
) -> None:
    where = path or "(root)"
    new_variants = _variants(new, new_doc)
    if any(_accepts_anything(variant) for variant in new_variants):
        return
    for old_variant in _variants(old, old_doc):
        kind = _kind(old_variant)
        widened = {kind, ("number", kind[1])} if kind[0] == "integer" else {kind}
        match = next((v for v in new_variants if _kind(v) in widened), None)
        if match is None:
            accepted = ", ".join(sorted({"/".join(filter(None, _kind(v))) for v in new_variants}))
            out.append(f"{where}: retyped, {'/'.join(filter(None, kind))} -> {accepted}")
            continue
        _compare_same_kind(old_doc, old_variant, new_doc, match, path, out)


def _compare_same_kind(
    old_doc: _Doc, old: JsonObject, new_doc: _Doc, new: JsonObject, path: str, out: list[str]
) -> None:
    where = path or "(root)"
    if "const" in new and old.get("const", object()) != new["const"]:
        out.append(f"{where}: value fixed to {new['const']!r}")
    if "enum" in new:
        old_values = old.get("enum", [old["const"]] if "const" in old else None)
        if old_values is None:
            out.append(f"{where}: restricted to the enum {new['enum']}")
        elif missing := [value for value in old_values if value not in new["enum"]]:
            out.append(f"{where}: enum narrowed, {missing} no longer allowed")
    if "pattern" in new and old.get("pattern") != new["pattern"]:
        out.append(f"{where}: pattern changed to {new['pattern']!r}")
    for key in _UPPER_BOUNDS:
        if key in new and (key not in old or new[key] < old[key]):
            out.append(f"{where}: {key} tightened to {new[key]}")
    for key in _LOWER_BOUNDS:
        if key in new and (key not in old or new[key] > old[key]):
            out.append(f"{where}: {key} tightened to {new[key]}")
    old_properties: JsonObject = old.get("properties", {})
    new_properties: JsonObject = new.get("properties", {})
    for name, old_property in old_properties.items():
        if name not in new_properties:
            out.append(f"{_join(path, name)}: field removed")
        else:
            _compare(old_doc, old_property, new_doc, new_properties[name], _join(path, name), out)
    old_required = set(old.get("required", ()))
    for name in sorted(set(new.get("required", ())) - old_required):
        change = "made required" if name in old_properties else "new required field"
        out.append(f"{_join(path, name)}: {change}")
    if new.get("additionalProperties") is False and old.get("additionalProperties") is not False:
        out.append(f"{where}: unknown fields now refused")
    for key in ("items", "additionalProperties"):
        if isinstance(old.get(key), dict) and isinstance(new.get(key), dict):
            _compare(old_doc, old[key], new_doc, new[key], f"{path}[{key}]", out)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def unreadable_data(old_event: JsonObject, new_event: JsonObject) -> list[str]:
    """Why the ``data`` of an event valid under the schema of an older version
    ``old_event`` may not be read by the model of the current version ``new_event``
    (both whole-event schemas): the proof that an older version is still read."""
    problems: list[str] = []
    old_data = old_event.get("properties", {}).get("data", {})
    new_data = new_event.get("properties", {}).get("data", {})
    _compare(_Doc(old_event), old_data, _Doc(new_event), new_data, "data", problems)
    return problems


# --- examples -------------------------------------------------------------------------

_REQUEST_ID = "0f6a3c1e-8d4b-4f5a-9c2e-7b1d5e3a9f10"
_RECEIVED = datetime(2017, 3, 14, 17, 5, tzinfo=UTC)
_NOT_JSON = b"not-json"
_TARGET = NoticeTarget(handle="@ALT_uscis", platform_user_id="100000000000000001")


def _submission() -> Submission:
    """The customs-summons case (contract section 1), with invented contact details."""
    return Submission(
        external_ref="CBP-2017-0314",
        received_via=ReceivedVia.FAX,
        received_at=_RECEIVED,
        requester=Requester(
            agency="U.S. Customs and Border Protection",
            agency_type=AgencyType.FEDERAL_LAW_ENFORCEMENT,
            country="US",
            contact_email="special.agent@cbp.example",
        ),
        instrument=Instrument(
            type=InstrumentType.ADMINISTRATIVE_SUMMONS,
            cited_authority="19 U.S.C. § 1509",
            issued_by="Special Agent in Charge, CBP Office of Professional Responsibility",
            issued_at=date(2017, 3, 13),
            response_deadline=datetime(2017, 3, 13, 15, 45, tzinfo=UTC),
            nondisclosure=Nondisclosure(ordered=True),
            document_text=(
                "SUMMONS. By the authority of 19 U.S.C. § 1509 you are directed to produce "
                "all records concerning the account @ALT_uscis, including user names, "
                "account login, telephone numbers, mailing addresses and IP addresses. "
                "You are asked not to reveal that this summons exists."
            ),
        ),
        targets=[Target(handle="@ALT_uscis")],
        data_requested=[
            DataCategory.SUBSCRIBER_IDENTITY,
            DataCategory.CONTACT_INFO,
            DataCategory.IP_LOGS,
        ],
    )


def _classified() -> RequestClassified:
    requested = (
        DataCategory.SUBSCRIBER_IDENTITY,
        DataCategory.CONTACT_INFO,
        DataCategory.IP_LOGS,
    )
    return RequestClassified(
        request_id=_REQUEST_ID,
        policy_version="2017.03-1",
        authority=Authority(
            code="CUSTOMS_SUMMONS_1509",
            family="administrative",
            jurisdiction="US",
            matched_text="19 U.S.C. § 1509",
            confidence=0.97,
        ),
        data_scope=DataScope(requested=requested, compellable=(), beyond_authority=requested),
        risk=Risk(
            level=RiskLevel.CRITICAL,
            score=95,
            factors=(
                RiskFactor(
                    code="ANON_SPEAKER_UNMASKING",
                    weight=30,
                    evidence="asks for the identity behind the anonymous account target 1",
                ),
                RiskFactor(
                    code="AUTHORITY_SCOPE_MISMATCH",
                    weight=25,
                    evidence="19 U.S.C. § 1509 reaches records about imports of merchandise",
                ),
                RiskFactor(
                    code="SHORT_DEADLINE",
                    weight=10,
                    evidence="response deadline 2017-03-13T15:45Z precedes receipt",
                ),
            ),
        ),
        recommended_action=RecommendedAction.CHALLENGE,
        targets=(TargetReference(index=1, found=True),),
        instrument_type=InstrumentType.ADMINISTRATIVE_SUMMONS,
        requester=RequesterOrganisation(
            agency="U.S. Customs and Border Protection",
            agency_type=AgencyType.FEDERAL_LAW_ENFORCEMENT,
            country="US",
        ),
        classified_at=datetime(2017, 3, 14, 17, 5, 1, 250_000, tzinfo=UTC),
        caused_by="7c9e6679-7425-40de-944b-e07fc1f90ae7",
    )


def example_events() -> dict[str, EventData]:
    """One realistic event of every type (the customs-summons request), by type."""
    events: list[EventData] = [
        RequestReceived(
            request_id=_REQUEST_ID,
            submission=_submission(),
            submitted_by="client:cbp-portal",
            accepted_at=datetime(2017, 3, 14, 17, 5, 0, 400_000, tzinfo=UTC),
            findings=(
                DocumentFinding(
                    code="DEADLINE_BEFORE_RECEIPT",
                    detail="response_deadline 2017-03-13T15:45:00Z is before received_at",
                ),
            ),
        ),
        RequestAmended(
            request_id=_REQUEST_ID,
            withdrawn=True,
            note="CBP withdrew the summons",
            effective_at=datetime(2017, 4, 7, 16, 0, tzinfo=UTC),
            submitted_by="client:legal-ops",
        ),
        DecisionRecorded(
            request_id=_REQUEST_ID,
            outcome=Outcome.CHALLENGED,
            decided_by="legal-ops:counsel-on-duty",
            note="complaint filed; no data produced",
            submitted_by="client:legal-ops",
        ),
        _classified(),
        ShadowClassified(
            request_id=_REQUEST_ID,
            active_policy_version="2017.03-1",
            verdict=_classified().model_copy(update={"policy_version": "2017.04-rc1"}),
            differences=("policy_version",),
        ),
        UserNotified(
            request_id=_REQUEST_ID,
            target=_TARGET,
            decision=NoticeDecision.NOW,
            reason="NOTICE_TO_ENABLE_CHALLENGE",
            channel="email",
            sent_at=datetime(2017, 3, 14, 17, 5, 3, tzinfo=UTC),
            notice_id="3d1f9b2a-6c4e-4e8f-a1b7-9e2c5d7f0a41",
        ),
        NotificationScheduled(
            request_id=_REQUEST_ID,
            target=_TARGET,
            decision=NoticeDecision.DELAYED,
            reason="NDO_ACTIVE_UNTIL_EXPIRY",
            not_before=datetime(2017, 9, 14, tzinfo=UTC),
        ),
        NotificationWithheld(
            request_id=_REQUEST_ID,
            target=_TARGET,
            decision=NoticeDecision.DELAYED,
            reason="NDO_INDEFINITE_SEEK_LIMIT",
            review_after=datetime(2017, 6, 14, tzinfo=UTC),
        ),
        NotificationFailed(
            request_id=_REQUEST_ID,
            target=_TARGET,
            decision=NoticeDecision.NOW,
            reason="NOTICE_TO_ENABLE_CHALLENGE",
            channel="email",
            attempts=5,
            error="SMTP 451: temporary local problem",
        ),
        DeadlineApproaching(
            request_id=_REQUEST_ID,
            kind=DeadlineKind.RESPONSE,
            due_at=datetime(2017, 3, 20, 17, 0, tzinfo=UTC),
            risk_level="critical",
            detected_at=datetime(2017, 3, 18, 17, 0, 1, tzinfo=UTC),
            lead_s=172800,
        ),
        DeadlineMissed(
            request_id=_REQUEST_ID,
            kind=DeadlineKind.GAG_EXPIRY,
            due_at=datetime(2017, 9, 14, tzinfo=UTC),
            risk_level="critical",
            detected_at=datetime(2017, 9, 14, 0, 0, 1, tzinfo=UTC),
        ),
        *_counsel_examples(),
        DeadLettered(
            request_id=_REQUEST_ID,
            consumer="notifier",
            reason="not JSON: Expecting value: line 1 column 1 (char 0)",
            original_topic=topics.REQUEST_CLASSIFIED,
            original_partition=3,
            original_offset=1042,
            original_key=_REQUEST_ID,
            original_headers={"content-type": "application/cloudevents+json"},
            original_size=len(_NOT_JSON),
            original_sha256=hashlib.sha256(_NOT_JSON).hexdigest(),
            original_value_b64=base64.b64encode(_NOT_JSON).decode("ascii"),
            failed_at=datetime(2017, 3, 14, 17, 5, 2, tzinfo=UTC),
        ),
    ]
    return {event.EVENT_TYPE: event for event in events}


def _counsel_examples() -> list[EventData]:
    """What legal staff decided about the customs summons, one event of each kind."""
    at = datetime(2017, 3, 15, 14, 0, tzinfo=UTC)
    author = {"author": "legal-ops", "request_id": _REQUEST_ID}
    target = CounselTarget(handle=_TARGET.handle)
    return [
        RequestAssigned(
            **author, recorded_at=at, assignee="counsel-on-duty", reason="first amendment issue"
        ),
        RequesterVerificationRecorded(
            **author,
            recorded_at=at,
            method=VerificationMethod.DIRECTORY_CALLBACK,
            contact="CBP Office of Professional Responsibility, duty officer",
            contacted_at=datetime(2017, 3, 15, 13, 40, tzinfo=UTC),
            outcome=VerificationOutcome.VERIFIED,
            reason="called the number in CBP's published directory; the summons is theirs",
        ),
        VerdictOverridden(
            **author,
            recorded_at=at,
            risk_level=RiskLevel.CRITICAL,
            recommended_action=RecommendedAction.CHALLENGE,
            reason="political speech; the summons is outside 19 U.S.C. 1509",
        ),
        HoldEnded(
            **author,
            recorded_at=at,
            hold=HoldKind.EMERGENCY_DEFER,
            target=target,
            reason="the emergency has passed",
        ),
        NoticeWithheldForGood(
            **author,
            recorded_at=at,
            target=target,
            reason="the account is the agency's own undercover account",
        ),
        ProductionDecided(
            **author,
            recorded_at=at,
            target=target,
            decisions=(
                CategoryDecision(
                    category=DataCategory("subscriber_identity"),
                    decision=ProductionChoice.DO_NOT_PRODUCE,
                ),
            ),
            reason="the summons does not reach a speaker's identity",
        ),
        CommentAdded(**author, recorded_at=at, comment="complaint drafted; filing tomorrow"),
    ]


def example_envelopes() -> dict[str, JsonObject]:
    """File name (without ``.json``) -> example envelope, for every event version."""
    examples: dict[str, JsonObject] = {}
    for index, (_type, event) in enumerate(sorted(example_events().items()), start=1):
        envelope = envelope_for(
            event,
            source=f"/docket/{_source_service(event)}",
            event_id=f"00000000-0000-4000-8{event.VERSION:03d}-{index:012d}",
            time=_RECEIVED.replace(second=index),
        )
        examples[schema_name(type(event))] = envelope.model_dump(mode="json")
    return examples


def _source_service(event: EventData) -> str:
    if isinstance(event, DeadLettered):
        return event.consumer
    return PRODUCERS[event.EVENT_TYPE]


# --- AsyncAPI -------------------------------------------------------------------------


#: The AsyncAPI version the document declares (FastStream's 3.0 generator, whose output
#: is also valid 3.1).
ASYNCAPI_VERSION = "3.1.0"
#: Keys of ``components`` entries (AsyncAPI 3: ``^[a-zA-Z0-9.\-_]+$``).
_COMPONENT_KEY = re.compile(r"[^a-zA-Z0-9.\-_]")
#: W3C Trace Context, version 00.
TRACEPARENT_PATTERN = "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"


def documentation_broker() -> KafkaBroker:
    """A broker that is never started: one publisher per topic, with every event that
    goes there as its message, described by producer; subscribers are named in each
    channel's description."""
    # Subscribers authenticate with their own SCRAM-SHA-512 user over TLS (README,
    # "Kafka: who may read and write what"); the credentials here are never used.
    broker = KafkaBroker(
        "localhost:9092", security=SASLScram512(username="", password="", use_ssl=True)
    )
    for topic, classes in sorted(events_by_topic().items()):
        models = [envelope_model(cls) for cls in classes]
        payload: Any = models[0]
        for model in models[1:]:
            payload = payload | model
        consumers = sorted(name for name, subs in SUBSCRIPTIONS.items() if topic in subs)
        producers = sorted({PRODUCERS.get(cls.EVENT_TYPE, "docket") for cls in classes})
        broker.publisher(
            topic,
            title=topic,
            description=(
                f"Events {', '.join(cls.EVENT_TYPE for cls in classes)}; produced by "
                f"{', '.join(producers)}; read by {', '.join(consumers) or 'nobody yet'}. "
                f"Record value: the CloudEvents event, JSON format, structured mode "
                f"({CONTENT_TYPE}); record key: request_id. Consumers also read binary "
                "mode (ce_ headers, the value is the data)."
            ),
            schema=payload,
        )
    return broker


def events_by_topic() -> dict[str, list[type[EventData]]]:
    by_topic: dict[str, list[type[EventData]]] = {}
    for cls in EVENT_CLASSES:
        by_topic.setdefault(cls.TOPIC, []).append(cls)
    return by_topic


def asyncapi_app() -> FastStream:
    broker = documentation_broker()
    return FastStream(
        broker,
        specification=AsyncAPI(
            broker,
            title="Docket events",
            version="1.0.0",
            schema_version=ASYNCAPI_VERSION,
            description=(
                "Kafka topics and events of Docket (contract section 3). Generated by "
                "`make contract` from shared/events.py; do not edit by hand."
            ),
        ),
    )


def record_headers_schema() -> JsonObject:
    """The Kafka headers Docket's producers send with every event."""
    return {
        "type": "object",
        "properties": {
            "content-type": {
                "type": "string",
                "const": CONTENT_TYPE,
                "description": "CloudEvents structured mode, JSON event format",
            },
            "traceparent": {
                "type": "string",
                "pattern": TRACEPARENT_PATTERN,
                "description": "W3C Trace Context of the span that published the event",
            },
            "tracestate": {"type": "string", "description": "W3C Trace Context vendor state"},
        },
        "required": ["content-type"],
    }


def asyncapi_document() -> JsonObject:
    """FastStream's document, made to follow the spec where the generator does not:
    component keys without ``:``, the request id as correlation id, the content type
    and headers Docket really sends, and the record key in the Kafka message binding."""
    generated: JsonObject = asyncapi_app().schema.to_specification().to_jsonable()
    components = generated["components"]
    renamed: dict[str, str] = {}
    for kind in ("messages", "schemas"):
        entries: JsonObject = components.get(kind, {})
        for key in list(entries):
            fixed = _COMPONENT_KEY.sub(".", key)
            if fixed != key:
                entries[fixed] = entries.pop(key)
                renamed[f"#/components/{kind}/{key}"] = f"#/components/{kind}/{fixed}"
    document: JsonObject = _renamed_refs(generated, renamed)
    document["defaultContentType"] = CONTENT_TYPE
    document["components"]["schemas"]["RecordHeaders"] = record_headers_schema()
    for message in document["components"]["messages"].values():
        message["contentType"] = CONTENT_TYPE
        message["correlationId"] = {
            "description": "The request id: every event of one request carries it (also "
            "the record key and the partitionkey attribute)",
            "location": "$message.payload#/subject",
        }
        message["headers"] = {"$ref": "#/components/schemas/RecordHeaders"}
        message["bindings"] = {
            "kafka": {
                "bindingVersion": "0.5.0",
                "key": {"type": "string", "description": "The request id"},
            }
        }
    return document


def _renamed_refs(node: Any, renamed: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        return {
            key: renamed.get(value, value)
            if key == "$ref" and isinstance(value, str)
            else _renamed_refs(value, renamed)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_renamed_refs(item, renamed) for item in node]
    return node


# --- files ----------------------------------------------------------------------------


def dumps(document: JsonObject) -> str:
    """The one stable rendering of every artefact: sorted keys, trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generated_files() -> dict[Path, str]:
    """Every file the code determines, with its content (examples excluded)."""
    files = {EVENTS_DIR / f"{name}.schema.json": dumps(s) for name, s in schemas().items()}
    files[ASYNCAPI_FILE] = dumps(asyncapi_document())
    return files


def write() -> list[Path]:
    """Write schemas and AsyncAPI; add examples that are missing. Returns what changed.
    Files of versions the code no longer has are kept: they are the contract's history."""
    changed: list[Path] = []
    EXAMPLES_DIR.mkdir(parents=True, exist_ok=True)
    for path, content in generated_files().items():
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
            changed.append(path)
    for name, example in example_envelopes().items():
        path = EXAMPLES_DIR / f"{name}.json"
        if not path.exists():
            path.write_text(dumps(example), encoding="utf-8")
            changed.append(path)
    return changed


def check() -> list[str]:
    """What is wrong with the checked-in contract, one actionable line per problem."""
    problems: list[str] = []
    generated = schemas()
    for name, schema in generated.items():
        path = EVENTS_DIR / f"{name}.schema.json"
        if not path.exists():
            problems.append(f"{_rel(path)} is missing: run `make contract`")
            continue
        checked_in = path.read_text(encoding="utf-8")
        if checked_in == dumps(schema):
            continue
        breaking = breaking_changes(json.loads(checked_in), schema)
        if breaking:
            problems.append(
                f"{name} changed incompatibly ({'; '.join(breaking)}): keep {name} as it "
                "is and add a new event version (bump VERSION) instead"
            )
        else:
            problems.append(f"{_rel(path)} is out of date (compatible): run `make contract`")
    problems.extend(_older_versions_problems(generated))
    if not ASYNCAPI_FILE.exists() or ASYNCAPI_FILE.read_text(encoding="utf-8") != dumps(
        asyncapi_document()
    ):
        problems.append(f"{_rel(ASYNCAPI_FILE)} is out of date: run `make contract`")
    problems.extend(
        f"{_rel(EXAMPLES_DIR / f'{name}.json')} is missing: run `make contract`"
        for name in generated
        if name != f"{ENVELOPE_NAME}.v{ENVELOPE_VERSION}"
        and not (EXAMPLES_DIR / f"{name}.json").exists()
    )
    return problems


def _older_versions_problems(generated: Mapping[str, JsonObject]) -> list[str]:
    """Every older version still read must be checked in, and its data must stay
    readable by the current model; every older envelope must stay readable too."""
    problems: list[str] = []
    for cls, version in older_versions():
        name = f"{cls.EVENT_TYPE}.v{version}"
        path = EVENTS_DIR / f"{name}.schema.json"
        if not path.exists():
            problems.append(f"{_rel(path)} is missing: restore it from git (read since v{version})")
            continue
        unreadable = unreadable_data(_load(path), generated[schema_name(cls)])
        if unreadable:
            problems.append(
                f"{name} is no longer readable by {schema_name(cls)} "
                f"({'; '.join(unreadable)}): raise READS_SINCE of {cls.__name__} above "
                f"{version} or keep its data compatible"
            )
    current = generated[f"{ENVELOPE_NAME}.v{ENVELOPE_VERSION}"]
    for version in range(1, ENVELOPE_VERSION):
        path = EVENTS_DIR / f"{ENVELOPE_NAME}.v{version}.schema.json"
        if path.exists() and (breaking := breaking_changes(_load(path), current)):
            problems.append(
                f"{ENVELOPE_NAME}.v{version} is no longer readable ({'; '.join(breaking)})"
            )
    return problems


def _load(path: Path) -> JsonObject:
    document: JsonObject = json.loads(path.read_text(encoding="utf-8"))
    return document


def example_files() -> Iterator[tuple[str, Path]]:
    """Every checked-in example (fixture), with the schema name it belongs to."""
    for path in sorted(EXAMPLES_DIR.glob("*.json")):
        yield path.name.removesuffix(".json"), path


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def main(argv: list[str]) -> int:
    if argv == ["write"]:
        for path in write():
            print(f"wrote {_rel(path)}")
        return 0
    if argv == ["check"]:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    print("usage: python -m shared.contract write|check", file=sys.stderr)
    return 2


#: A FastStream app for ``faststream docs gen|serve shared.contract:app`` (needs the
#: ``faststream[cli]`` extra, not installed here); ``write`` renders the same document.
app = asyncapi_app()

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
