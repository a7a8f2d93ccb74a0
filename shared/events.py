"""Docket's events (contract section 3) and their CloudEvents 1.0 envelope.

Every event is a small immutable pydantic model (its ``data``) inside a structured-mode
CloudEvents envelope. The envelope's ``id`` is the event id (stable across redelivery,
the key every sink deduplicates on), ``subject`` is the request id (also the Kafka
record key), and ``dataschema`` names the event type and its version, so that a
consumer can refuse a version it does not know instead of misreading it.

Pure models only: no Kafka, HTTP or SQL here.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared import topics
from shared.amendments import Amendment
from shared.submission import STORED, DataCategory, InstrumentType, Submission, UtcDatetime
from shared.verdict import (
    Authority,
    DataScope,
    RecommendedAction,
    Risk,
    TargetMatch,
)

SCHEMA_PREFIX = "urn:docket:event:"


class EventData(BaseModel):
    """Base of every event's ``data``. Unknown fields are ignored so that adding an
    optional field is a compatible change for existing subscribers."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    EVENT_TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1
    TOPIC: ClassVar[str]

    request_id: str

    @classmethod
    def dataschema(cls) -> str:
        return f"{SCHEMA_PREFIX}{cls.EVENT_TYPE}:v{cls.VERSION}"


# --- intake ---------------------------------------------------------------------------


class DocumentFinding(BaseModel):
    """A fact about the document that intake noticed but does not reject on (a deadline
    already past at receipt, an order dated after it was received)."""

    model_config = ConfigDict(frozen=True)

    code: str
    detail: str


class RequestReceived(EventData):
    EVENT_TYPE: ClassVar[str] = "RequestReceived"
    TOPIC: ClassVar[str] = topics.REQUEST_RECEIVED

    submission: Submission
    submitted_by: str
    accepted_at: UtcDatetime
    findings: tuple[DocumentFinding, ...] = ()


class RequestAmended(EventData, Amendment):
    model_config = ConfigDict(frozen=True, extra="ignore")

    EVENT_TYPE: ClassVar[str] = "RequestAmended"
    TOPIC: ClassVar[str] = topics.REQUEST_AMENDED

    submitted_by: str


class Outcome(StrEnum):
    DISCLOSED = "disclosed"
    PARTIALLY_DISCLOSED = "partially_disclosed"
    NO_DATA = "no_data"
    REJECTED = "rejected"
    CHALLENGED = "challenged"


class DecisionRecorded(EventData):
    EVENT_TYPE: ClassVar[str] = "DecisionRecorded"
    TOPIC: ClassVar[str] = topics.REQUEST_DECIDED

    outcome: Outcome
    data_disclosed: tuple[DataCategory, ...] = ()
    decided_by: str
    note: str | None = None
    submitted_by: str


# --- classifier -----------------------------------------------------------------------


class LinkReason(StrEnum):
    """Why two requests are linked (``services.classifier.domain.links``)."""

    #: They name the same account (by platform user id, or an identifier the account
    #: directory resolves to it).
    SAME_ACCOUNT = "same_account"
    #: They come from the same requester (agency).
    SAME_REQUESTER = "same_requester"
    #: The same requester's same instrument (case number, or document text), submitted
    #: again: a duplicate.
    SAME_INSTRUMENT = "same_instrument"


class RequestLink(BaseModel):
    """An earlier request this one is linked to, as it stood when this one arrived."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    reasons: tuple[LinkReason, ...]
    #: ``withdrawn``, the recorded outcome (``challenged``, ``rejected``, ...), or ``open``.
    status: str
    received_at: UtcDatetime
    instrument_type: InstrumentType


class RequestClassified(EventData):
    """The classifier's verdict (contract section 3), self-contained: it carries the
    submission and the amendments it took into account, so the notifier decides from
    this one event without joining topics."""

    EVENT_TYPE: ClassVar[str] = "RequestClassified"
    TOPIC: ClassVar[str] = topics.REQUEST_CLASSIFIED

    policy_version: str
    authority: Authority
    data_scope: DataScope
    risk: Risk
    recommended_action: RecommendedAction
    targets: tuple[TargetMatch, ...] = ()
    submission: Submission
    amendments: tuple[Amendment, ...] = ()
    classified_at: UtcDatetime
    #: The event this verdict answers (a RequestReceived, or a RequestAmended on
    #: reclassification); a later verdict for the same request supersedes earlier ones.
    caused_by: str
    #: Earlier requests for the same account or from the same requester, on arrival.
    links: tuple[RequestLink, ...] = ()
    #: The earlier request this one submits again (same requester, same instrument):
    #: notices are planned on that one only, never a second time for this one.
    duplicate_of: str | None = None


class ShadowClassified(EventData):
    """A candidate policy's verdict, published beside the active one and never acted on."""

    EVENT_TYPE: ClassVar[str] = "ShadowClassified"
    TOPIC: ClassVar[str] = topics.REQUEST_CLASSIFIED_SHADOW

    active_policy_version: str
    verdict: RequestClassified
    differences: tuple[str, ...] = ()


# --- notifier -------------------------------------------------------------------------


class NoticeDecision(StrEnum):
    NOW = "now"
    DELAYED = "delayed"
    NEVER = "never"
    NOT_APPLICABLE = "not_applicable"


class NoticeTarget(BaseModel):
    model_config = ConfigDict(frozen=True)

    handle: str | None = None
    platform_user_id: str | None = None


class NoticeEvent(EventData):
    """Fields every notifier event shares: one decision for one target account."""

    TOPIC: ClassVar[str] = topics.NOTIFICATION

    target: NoticeTarget
    decision: NoticeDecision
    reason: str
    not_before: UtcDatetime | None = None


class UserNotified(NoticeEvent):
    EVENT_TYPE: ClassVar[str] = "UserNotified"

    channel: str
    sent_at: UtcDatetime
    notice_id: str
    #: The moment up to which every amendment Kafka had acknowledged was read and
    #: found not to forbid the notice, right before it was sent.
    released_at: UtcDatetime | None = None


class NotificationScheduled(NoticeEvent):
    EVENT_TYPE: ClassVar[str] = "NotificationScheduled"


class NotificationWithheld(NoticeEvent):
    EVENT_TYPE: ClassVar[str] = "NotificationWithheld"

    review_after: UtcDatetime | None = None


class NotificationFailed(NoticeEvent):
    EVENT_TYPE: ClassVar[str] = "NotificationFailed"

    channel: str | None = None
    attempts: int = 0
    error: str


# --- audit's deadline scheduler -------------------------------------------------------


class DeadlineKind(StrEnum):
    #: The instrument's ``response_deadline``: answer (or challenge) by then.
    RESPONSE = "response"
    #: A non-disclosure order's expiry; the renewal window is the lead time before it.
    GAG_EXPIRY = "gag_expiry"
    #: The end of a preservation (18 U.S.C. 2703(f)(2): 90 days, extended 90 more on a
    #: renewed request).
    PRESERVATION_END = "preservation_end"
    #: The date a withheld notice is to be reviewed again.
    HOLD_REVIEW = "hold_review"


class DeadlineEvent(EventData):
    """Fields every deadline event shares: one clock of one request."""

    TOPIC: ClassVar[str] = topics.DEADLINE

    kind: DeadlineKind
    due_at: UtcDatetime
    #: The request's risk level when the scheduler looked (None: not classified yet).
    risk_level: str | None = None
    detected_at: UtcDatetime


class DeadlineApproaching(DeadlineEvent):
    EVENT_TYPE: ClassVar[str] = "DeadlineApproaching"

    #: The configured lead time of this kind, in seconds.
    lead_s: int


class DeadlineMissed(DeadlineEvent):
    EVENT_TYPE: ClassVar[str] = "DeadlineMissed"


# --- any consumer ---------------------------------------------------------------------


class DeadLettered(EventData):
    """A record a consumer could not process, kept with the reason. ``request_id`` is
    the record key when it had one, else ``"unknown"``."""

    EVENT_TYPE: ClassVar[str] = "DeadLettered"
    TOPIC: ClassVar[str] = topics.DEADLETTER

    consumer: str
    reason: str
    original_topic: str
    original_partition: int
    original_offset: int
    original_key: str | None = None
    original_headers: dict[str, str] = Field(default_factory=dict)
    original_size: int
    original_sha256: str
    #: The original value, base64, cut to ``MAX_KEPT_BYTES`` (``original_size`` and
    #: ``original_sha256`` describe the whole record).
    original_value_b64: str
    failed_at: UtcDatetime

    MAX_KEPT_BYTES: ClassVar[int] = 64 * 1024


EVENT_CLASSES: tuple[type[EventData], ...] = (
    RequestReceived,
    RequestAmended,
    DecisionRecorded,
    RequestClassified,
    ShadowClassified,
    UserNotified,
    NotificationScheduled,
    NotificationWithheld,
    NotificationFailed,
    DeadlineApproaching,
    DeadlineMissed,
    DeadLettered,
)
EVENT_TYPES: dict[str, type[EventData]] = {cls.EVENT_TYPE: cls for cls in EVENT_CLASSES}


# --- the envelope ---------------------------------------------------------------------


class Envelope(BaseModel):
    """CloudEvents 1.0, structured mode: this whole object is the Kafka record value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: str
    type: str
    source: str
    subject: str
    time: UtcDatetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str
    data: dict[str, Any]

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode("utf-8")


CONTENT_TYPE = "application/cloudevents+json"


def envelope_for(
    data: EventData,
    *,
    source: str,
    event_id: str | None = None,
    time: datetime | None = None,
) -> Envelope:
    """Wrap event data. Pass ``event_id`` to make the id deterministic (a retried
    handler then produces the same event, which sinks absorb as a duplicate)."""
    return Envelope(
        id=event_id or str(uuid.uuid4()),
        type=data.EVENT_TYPE,
        source=source,
        subject=data.request_id,
        time=time or datetime.now(UTC),
        dataschema=data.dataschema(),
        data=data.model_dump(mode="json", by_alias=True),
    )


class EventRejected(ValueError):
    """A record that is not a Docket event this consumer understands; ``reason`` says
    why in one line (it goes into the dead-letter record)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_envelope(raw: bytes | str) -> Envelope:
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise EventRejected(f"not JSON: {error}") from error
    try:
        return Envelope.model_validate(document)
    except ValidationError as error:
        raise EventRejected(f"not a CloudEvents 1.0 envelope: {_first_error(error)}") from error


def parse_data(envelope: Envelope) -> EventData:
    """The typed ``data`` of an envelope; refuses unknown types and versions."""
    cls = EVENT_TYPES.get(envelope.type)
    if cls is None:
        raise EventRejected(f"unknown event type {envelope.type!r}")
    if envelope.dataschema != cls.dataschema():
        raise EventRejected(
            f"unsupported schema {envelope.dataschema!r} for {envelope.type} "
            f"(this consumer reads {cls.dataschema()!r})"
        )
    try:
        data = cls.model_validate(envelope.data, context=STORED)
    except ValidationError as error:
        raise EventRejected(f"{envelope.type} data invalid: {_first_error(error)}") from error
    if data.request_id != envelope.subject:
        raise EventRejected("envelope subject and data.request_id differ")
    return data


def parse_event(raw: bytes | str) -> tuple[Envelope, EventData]:
    envelope = parse_envelope(raw)
    return envelope, parse_data(envelope)


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"]) or "(root)"
    more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{location}: {first['msg']}{more}"
