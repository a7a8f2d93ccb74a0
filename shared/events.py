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
from shared.counsel import (
    Assignment,
    Comment,
    HoldEnd,
    NoticeWithhold,
    ProductionDecision,
    RequesterVerification,
    VerdictOverride,
)
from shared.submission import STORED, DataCategory, Submission, UtcDatetime
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


# --- counsel (recorded by intake, from legal staff) ---------------------------------------


class CounselAction(EventData):
    """Fields every decision of legal staff shares. ``author`` is the client id of the
    API key that made it (never a body field); ``recorded_at`` is when intake took it."""

    TOPIC: ClassVar[str] = topics.REQUEST_COUNSEL

    author: str
    recorded_at: UtcDatetime


_COUNSEL_EVENT = ConfigDict(frozen=True, extra="ignore")


class RequesterVerificationRecorded(CounselAction, RequesterVerification):
    """Counsel checked who sent the request. ``verified`` releases notices held until
    the requester is verified (each re-decided as at every release); ``failed`` marks the
    request as suspected fraud and withholds every notice."""

    model_config = _COUNSEL_EVENT
    EVENT_TYPE: ClassVar[str] = "RequesterVerificationRecorded"


class VerdictOverridden(CounselAction, VerdictOverride):
    """Counsel's correction of the classifier's verdict: each field given supersedes
    the classifier's, for this and every later verdict of the request, until counsel
    overrides it again. The classifier's own verdicts stay in the history."""

    model_config = _COUNSEL_EVENT
    EVENT_TYPE: ClassVar[str] = "VerdictOverridden"


class HoldEnded(CounselAction, HoldEnd):
    """Counsel ended an emergency, child-safety or counter-productive hold of one
    account's notice (``target``) or of every account's (``target`` null); the notice is
    re-decided and sent only if nothing else (a gag above all) still holds it."""

    model_config = _COUNSEL_EVENT
    EVENT_TYPE: ClassVar[str] = "HoldEnded"


class NoticeWithheldForGood(CounselAction, NoticeWithhold):
    """Counsel decided one account's notice (or every account's) is never sent."""

    model_config = _COUNSEL_EVENT
    EVENT_TYPE: ClassVar[str] = "NoticeWithheldForGood"


class ProductionDecided(CounselAction, ProductionDecision):
    """What is produced for one account, per data category; a later decision for the
    same account and category replaces the earlier one."""

    model_config = _COUNSEL_EVENT
    EVENT_TYPE: ClassVar[str] = "ProductionDecided"


class RequestAssigned(CounselAction, Assignment):
    """The request is assigned to a reviewer (``assignee``: a client id or staff name)."""

    model_config = _COUNSEL_EVENT
    EVENT_TYPE: ClassVar[str] = "RequestAssigned"


class CommentAdded(CounselAction, Comment):
    """A comment on the request by legal staff (its text is its own reason)."""

    model_config = _COUNSEL_EVENT
    EVENT_TYPE: ClassVar[str] = "CommentAdded"


COUNSEL_EVENTS: tuple[type[CounselAction], ...] = (
    RequesterVerificationRecorded,
    VerdictOverridden,
    HoldEnded,
    NoticeWithheldForGood,
    ProductionDecided,
    RequestAssigned,
    CommentAdded,
)


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
    *COUNSEL_EVENTS,
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
