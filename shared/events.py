"""Docket's events (contract section 3) and their CloudEvents 1.0 envelope.

Every event is a small immutable pydantic model (its ``data``) inside a CloudEvents
envelope. The envelope's ``id`` is the event id (stable across redelivery, the key
every sink deduplicates on), ``subject`` is the request id (also the Kafka record key
and the ``partitionkey`` extension), ``type`` is the reverse-DNS name of the event and
its version (``org.docket.request.received.v2``) and ``dataschema`` names the same
version, so that a consumer can refuse a version it does not know instead of
misreading it. Both are one function of an event's ``EVENT_TYPE`` and ``VERSION``
(:func:`type_name`, :func:`dataschema_uri`).

Readers follow the CloudEvents specification: any extension attribute is kept,
``datacontenttype`` may carry parameters (``application/json; charset=utf-8``), and a
Kafka record may be in structured mode (the envelope is the value) or binary mode (the
attributes are ``ce_`` headers, the value is the data). Versions published before the
current one are still read when the model declares them (``READS_SINCE``).

Pure models only: no Kafka, HTTP or SQL here.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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
from shared.submission import (
    STORED,
    AgencyType,
    DataCategory,
    InstrumentType,
    Nondisclosure,
    Submission,
    UtcDatetime,
)
from shared.verdict import (
    Authority,
    DataScope,
    RecommendedAction,
    Risk,
)

SCHEMA_PREFIX = "urn:docket:event:"
#: Reverse-DNS prefix of every event ``type`` (CloudEvents: "SHOULD be prefixed with a
#: reverse-DNS name").
TYPE_PREFIX = "org.docket."

#: The versions published before ``type`` was a reverse-DNS name: their ``type`` was the
#: bare event name (``RequestReceived``). They are read, never written again.
BARE_TYPE_VERSIONS = frozenset(
    (name, 1)
    for name in (
        "RequestReceived",
        "RequestAmended",
        "DecisionRecorded",
        "RequestClassified",
        "ShadowClassified",
        "UserNotified",
        "NotificationScheduled",
        "NotificationWithheld",
        "NotificationFailed",
        "DeadLettered",
    )
)

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def type_name(event_type: str, version: int) -> str:
    """The CloudEvents ``type`` of one version of an event: ``RequestReceived`` v2 is
    ``org.docket.request.received.v2`` (the words of the name, lower case, dotted)."""
    if (event_type, version) in BARE_TYPE_VERSIONS:
        return event_type
    return f"{TYPE_PREFIX}{_WORD_BOUNDARY.sub('.', event_type).lower()}.v{version}"


def dataschema_uri(event_type: str, version: int) -> str:
    """The ``dataschema`` of one version of an event: ``urn:docket:event:<Type>:v<N>``."""
    return f"{SCHEMA_PREFIX}{event_type}:v{version}"


class EventData(BaseModel):
    """Base of every event's ``data``. Unknown fields are ignored so that adding an
    optional field is a compatible change for existing subscribers.

    An event declares ``EVENT_TYPE``, ``VERSION`` and ``TOPIC``; its ``type`` and
    ``dataschema`` follow from the first two. ``READS_SINCE`` is the oldest version this
    model still reads (default: only ``VERSION``); ``make contract`` proves that the data
    of each of those versions is compatible with the model."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    EVENT_TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1
    READS_SINCE: ClassVar[int | None] = None
    TOPIC: ClassVar[str]

    request_id: str

    @classmethod
    def type_name(cls, version: int | None = None) -> str:
        return type_name(cls.EVENT_TYPE, version or cls.VERSION)

    @classmethod
    def dataschema(cls, version: int | None = None) -> str:
        return dataschema_uri(cls.EVENT_TYPE, version or cls.VERSION)

    @classmethod
    def readable_versions(cls) -> range:
        """Every version of this event today's consumers read, oldest first."""
        return range(cls.READS_SINCE or cls.VERSION, cls.VERSION + 1)


# --- intake ---------------------------------------------------------------------------


class DocumentFinding(BaseModel):
    """A fact about the document that intake noticed but does not reject on (a deadline
    already past at receipt, an order dated after it was received)."""

    model_config = ConfigDict(frozen=True)

    code: str
    detail: str


class RequestReceived(EventData):
    EVENT_TYPE: ClassVar[str] = "RequestReceived"
    VERSION: ClassVar[int] = 2  # v2: reverse-DNS type, partitionkey
    READS_SINCE: ClassVar[int | None] = 1
    TOPIC: ClassVar[str] = topics.REQUEST_RECEIVED

    submission: Submission
    submitted_by: str
    accepted_at: UtcDatetime
    findings: tuple[DocumentFinding, ...] = ()


class RequestAmended(EventData, Amendment):
    model_config = ConfigDict(frozen=True, extra="ignore")

    EVENT_TYPE: ClassVar[str] = "RequestAmended"
    VERSION: ClassVar[int] = 2  # v2: reverse-DNS type, partitionkey
    READS_SINCE: ClassVar[int | None] = 1
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
    VERSION: ClassVar[int] = 2  # v2: reverse-DNS type, partitionkey
    READS_SINCE: ClassVar[int | None] = 1
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


class TargetReference(BaseModel):
    """A target of the request as classified, named without personal data: its place in
    the submission's ``targets`` (1 is the first) and whether the account directory knew
    it. Whoever may see the account (the notifier, legal staff) looks the target up in
    the submission (``RequestReceived``); evidence calls it "target 1", "target 2"...

    ``handle`` and ``platform_user_id`` are set only in versions before 3 (kept so those
    stay readable); from v3 on they are always null."""

    model_config = ConfigDict(frozen=True)

    #: 1-based position in the submission's ``targets`` (null only in v1 and v2 data read
    #: without its submission).
    index: int | None = Field(default=None, ge=1)
    found: bool
    handle: str | None = Field(default=None, description="v1/v2 only; null from v3 on")
    platform_user_id: str | None = Field(default=None, description="v1/v2 only; null from v3 on")


class RequesterOrganisation(BaseModel):
    """Who asked, as an organisation: the agency named, its type and country. Never the
    officer's name or contact details."""

    model_config = ConfigDict(frozen=True)

    agency: str
    agency_type: AgencyType
    country: str


class ConsideredAmendment(BaseModel):
    """An amendment a verdict took into account, without its free-text note."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    nondisclosure: Nondisclosure | None = None
    withdrawn: bool = False
    note: str | None = Field(default=None, description="v1/v2 only; null from v3 on")
    effective_at: UtcDatetime


class RequestClassified(EventData):
    """The classifier's verdict (contract section 3), with what a policy team needs and
    no personal data (v3): verdict, risk factors whose evidence names no person, account
    or address, targets as references into the submission, the instrument type and the
    requesting organisation, the amendments considered (without notes), links.

    Versions 1 and 2 carried the whole submission (document text, contact e-mail,
    handles); they are still read (``submission`` filled, targets with handles), and
    the fields v3 adds are then derived from that submission. A consumer that needs the
    submission itself reads ``RequestReceived`` (the notifier keeps it)."""

    EVENT_TYPE: ClassVar[str] = "RequestClassified"
    # v2: reverse-DNS type, partitionkey. v3: no personal data (no submission, target
    # references, requester organisation, instrument type, amendment notes dropped).
    VERSION: ClassVar[int] = 3
    READS_SINCE: ClassVar[int | None] = 1
    TOPIC: ClassVar[str] = topics.REQUEST_CLASSIFIED

    policy_version: str
    authority: Authority
    data_scope: DataScope
    risk: Risk
    recommended_action: RecommendedAction
    targets: tuple[TargetReference, ...] = ()
    #: The instrument's type (null only in v1/v2 data without a submission).
    instrument_type: InstrumentType | None = None
    #: The requesting organisation (null only in v1/v2 data without a submission).
    requester: RequesterOrganisation | None = None
    #: v1/v2 only: the whole submission. Always null from v3 on.
    submission: Submission | None = Field(default=None, description="v1/v2 only; null from v3")
    amendments: tuple[ConsideredAmendment, ...] = ()
    classified_at: UtcDatetime
    #: The event this verdict answers (a RequestReceived, or a RequestAmended on
    #: reclassification); a later verdict for the same request supersedes earlier ones.
    caused_by: str
    #: Earlier requests for the same account or from the same requester, on arrival.
    links: tuple[RequestLink, ...] = ()
    #: The earlier request this one submits again (same requester, same instrument):
    #: notices are planned on that one only, never a second time for this one.
    duplicate_of: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_older_versions(cls, data: Any) -> Any:
        """v1/v2 data: instrument type, requester and target positions from the
        submission it carries (its targets are in the submission's order)."""
        if not isinstance(data, dict) or not isinstance(data.get("submission"), dict):
            return data
        submission = data["submission"]
        upgraded = dict(data)
        instrument = submission.get("instrument")
        if upgraded.get("instrument_type") is None and isinstance(instrument, dict):
            upgraded["instrument_type"] = instrument.get("type")
        requester = submission.get("requester")
        if upgraded.get("requester") is None and isinstance(requester, dict):
            upgraded["requester"] = {
                name: requester.get(name) for name in ("agency", "agency_type", "country")
            }
        targets = upgraded.get("targets")
        if isinstance(targets, list | tuple):
            upgraded["targets"] = [
                {"index": position, **target}
                if isinstance(target, dict) and target.get("index") is None
                else target
                for position, target in enumerate(targets, start=1)
            ]
        return upgraded


class ShadowClassified(EventData):
    """A candidate policy's verdict, published beside the active one and never acted on
    (v3: the verdict is a ``RequestClassified`` v3, without personal data)."""

    EVENT_TYPE: ClassVar[str] = "ShadowClassified"
    VERSION: ClassVar[int] = 3  # v2: reverse-DNS type, partitionkey; v3: minimal verdict
    READS_SINCE: ClassVar[int | None] = 1
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
    VERSION: ClassVar[int] = 2  # v2: reverse-DNS type, partitionkey
    READS_SINCE: ClassVar[int | None] = 1

    channel: str
    sent_at: UtcDatetime
    notice_id: str
    #: The moment up to which every amendment Kafka had acknowledged was read and
    #: found not to forbid the notice, right before it was sent.
    released_at: UtcDatetime | None = None


class NotificationScheduled(NoticeEvent):
    EVENT_TYPE: ClassVar[str] = "NotificationScheduled"
    VERSION: ClassVar[int] = 2  # v2: reverse-DNS type, partitionkey
    READS_SINCE: ClassVar[int | None] = 1


class NotificationWithheld(NoticeEvent):
    EVENT_TYPE: ClassVar[str] = "NotificationWithheld"
    VERSION: ClassVar[int] = 2  # v2: reverse-DNS type, partitionkey
    READS_SINCE: ClassVar[int | None] = 1

    review_after: UtcDatetime | None = None


class NotificationFailed(NoticeEvent):
    EVENT_TYPE: ClassVar[str] = "NotificationFailed"
    VERSION: ClassVar[int] = 2  # v2: reverse-DNS type, partitionkey
    READS_SINCE: ClassVar[int | None] = 1

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
    VERSION: ClassVar[int] = 2  # v2: reverse-DNS type, partitionkey
    READS_SINCE: ClassVar[int | None] = 1
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
    *COUNSEL_EVENTS,
    DeadLettered,
)
EVENT_TYPES: dict[str, type[EventData]] = {cls.EVENT_TYPE: cls for cls in EVENT_CLASSES}
#: CloudEvents ``type`` -> (model, version), for every version today's consumers read.
READABLE_TYPES: dict[str, tuple[type[EventData], int]] = {
    cls.type_name(version): (cls, version)
    for cls in EVENT_CLASSES
    for version in cls.readable_versions()
}


# --- the envelope ---------------------------------------------------------------------

#: CloudEvents attribute names: lower-case ASCII letters and digits (spec, "Naming").
_ATTRIBUTE_NAME = re.compile(r"^[a-z0-9]+$")
#: ``type/subtype`` of a media type, then its parameters.
_MEDIA_TYPE = re.compile(r"^\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*(;.*)?$")


def media_type(value: str) -> tuple[str, dict[str, str]]:
    """``type/subtype`` (lower case) and the parameters (names lower case, quotes
    removed) of a content type; ``ValueError`` when it is not one."""
    match = _MEDIA_TYPE.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a media type")
    parameters: dict[str, str] = {}
    for part in (match.group(2) or "").split(";")[1:]:
        name, _, raw = part.partition("=")
        if name.strip():
            parameters[name.strip().lower()] = raw.strip().strip('"')
    return match.group(1).lower(), parameters


def is_json_media_type(value: str) -> bool:
    """``application/json`` or a ``+json`` type, in UTF-8 (RFC 8259) when a charset is
    named: the data content types Docket reads."""
    try:
        essence, parameters = media_type(value)
    except ValueError:
        return False
    charset = parameters.get("charset", "utf-8").lower()
    json_type = essence == "application/json" or essence.endswith("+json")
    return json_type and charset in ("utf-8", "utf8")


class Envelope(BaseModel):
    """A CloudEvents 1.0 event of Docket's: the attributes Docket requires, any
    extension attributes (``partitionkey``, ``traceparent``, ...) in ``extensions``,
    and JSON ``data``. In structured mode this whole object is the Kafka record value."""

    model_config = ConfigDict(
        frozen=True,
        extra="allow",
        json_schema_extra={
            "propertyNames": {"pattern": "^([a-z0-9]+|data_base64)$"},
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        },
    )

    specversion: Literal["1.0"] = "1.0"
    id: str
    type: str
    source: str
    subject: str
    time: UtcDatetime
    datacontenttype: str = Field(
        default="application/json",
        description="application/json, parameters allowed (charset utf-8)",
    )
    dataschema: str
    data: dict[str, Any]

    @model_validator(mode="before")
    @classmethod
    def _decoded_data(cls, document: Any) -> Any:
        """``data_base64`` (the JSON format's form for binary data) decoded to ``data``;
        a ``null`` attribute is an absent one (JSON event format)."""
        if not isinstance(document, dict):
            return document
        document = {name: value for name, value in document.items() if value is not None}
        if "data_base64" in document and "data" not in document:
            try:
                document["data"] = json.loads(base64.b64decode(document.pop("data_base64")))
            except (binascii.Error, TypeError, UnicodeDecodeError, json.JSONDecodeError) as e:
                raise ValueError(f"data_base64 is not base64 of JSON: {e}") from e
        return document

    @field_validator("datacontenttype")
    @classmethod
    def _json_content(cls, value: str) -> str:
        if not is_json_media_type(value):
            raise ValueError(f"{value!r} is not JSON (application/json or +json, utf-8)")
        return value

    @model_validator(mode="after")
    def _extension_attributes(self) -> Envelope:
        for name, value in self.extensions.items():
            if not _ATTRIBUTE_NAME.match(name):
                raise ValueError(
                    f"attribute name {name!r}: only lower-case letters and digits allowed"
                )
            if not isinstance(value, str | int | float | bool):
                raise ValueError(f"extension attribute {name}: a string, number or boolean")
        return self

    @property
    def extensions(self) -> dict[str, Any]:
        """The extension attributes, by name (``partitionkey``, ``traceparent``, ...)."""
        return dict(self.model_extra or {})

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode("utf-8")


#: Structured mode, JSON event format: the ``content-type`` header Docket writes.
CONTENT_TYPE = "application/cloudevents+json"
_STRUCTURED_PREFIX = "application/cloudevents"
_BINARY_PREFIX = "ce_"


def envelope_for(
    data: EventData,
    *,
    source: str,
    event_id: str | None = None,
    time: datetime | None = None,
) -> Envelope:
    """Wrap event data in its current version. Pass ``event_id`` to make the id
    deterministic (a retried handler then produces the same event, which sinks absorb
    as a duplicate). ``partitionkey`` (CloudEvents Partitioning) is the request id."""
    return Envelope(
        id=event_id or str(uuid.uuid4()),
        type=data.type_name(),
        source=source,
        subject=data.request_id,
        time=time or datetime.now(UTC),
        dataschema=data.dataschema(),
        data=data.model_dump(mode="json", by_alias=True),
        partitionkey=data.request_id,
    )


class EventRejected(ValueError):
    """A record that is not a Docket event this consumer understands; ``reason`` says
    why in one line (it goes into the dead-letter record)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_envelope(raw: bytes | str, headers: Mapping[str, str] | None = None) -> Envelope:
    """The envelope of a Kafka record in either content mode (Kafka protocol binding,
    section 3): binary when a ``ce_specversion`` header is present (attributes in
    ``ce_`` headers, ``content-type`` is ``datacontenttype``, the value is the data),
    else structured (the value is the envelope; a ``content-type`` header, when there
    is one, must be the JSON event format)."""
    by_name = {name.lower(): value for name, value in (headers or {}).items()}
    if f"{_BINARY_PREFIX}specversion" in by_name:
        return _binary_mode(raw, by_name)
    content_type = by_name.get("content-type", "")
    if content_type.strip().lower().startswith(_STRUCTURED_PREFIX):
        essence = media_type(content_type)[0] if _MEDIA_TYPE.match(content_type) else ""
        if essence != CONTENT_TYPE:
            raise EventRejected(
                f"unsupported event format {content_type!r} (this consumer reads {CONTENT_TYPE})"
            )
    document = _json(raw, "not JSON")
    return _validated(document)


def _binary_mode(raw: bytes | str, headers: Mapping[str, str]) -> Envelope:
    attributes: dict[str, Any] = {
        name.removeprefix(_BINARY_PREFIX): value
        for name, value in headers.items()
        if name.startswith(_BINARY_PREFIX)
    }
    if "content-type" in headers:
        attributes["datacontenttype"] = headers["content-type"]
    data = _json(raw, "binary-mode data is not JSON")
    return _validated({**attributes, "data": data})


def _json(raw: bytes | str, what: str) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise EventRejected(f"{what}: {error}") from error


def _validated(document: Any) -> Envelope:
    try:
        return Envelope.model_validate(document)
    except ValidationError as error:
        raise EventRejected(f"not a CloudEvents 1.0 envelope: {_first_error(error)}") from error


def event_version(envelope: Envelope) -> tuple[type[EventData], int]:
    """The model and version an envelope's ``type`` and ``dataschema`` name; refuses a
    type or version this consumer does not read."""
    found = READABLE_TYPES.get(envelope.type)
    if found is None:
        raise EventRejected(f"unknown event type {envelope.type!r}")
    cls, version = found
    if envelope.dataschema != cls.dataschema(version):
        reads = ", ".join(repr(cls.dataschema(v)) for v in cls.readable_versions())
        raise EventRejected(
            f"unsupported schema {envelope.dataschema!r} for {cls.EVENT_TYPE} "
            f"(this consumer reads {reads})"
        )
    return cls, version


def event_name(type_attribute: str) -> str:
    """The event's name whatever its version (``org.docket.request.received.v2`` and
    ``RequestReceived`` are both ``RequestReceived``); an unknown type as it is."""
    found = READABLE_TYPES.get(type_attribute)
    return found[0].EVENT_TYPE if found is not None else type_attribute


def parse_data(envelope: Envelope) -> EventData:
    """The typed ``data`` of an envelope; refuses unknown types and versions."""
    cls, _version = event_version(envelope)
    try:
        data = cls.model_validate(envelope.data, context=STORED)
    except ValidationError as error:
        raise EventRejected(f"{cls.EVENT_TYPE} data invalid: {_first_error(error)}") from error
    if data.request_id != envelope.subject:
        raise EventRejected("envelope subject and data.request_id differ")
    return data


def parse_event(
    raw: bytes | str, headers: Mapping[str, str] | None = None
) -> tuple[Envelope, EventData]:
    """A Kafka record's envelope and typed data (``headers``: the record's, decoded)."""
    envelope = parse_envelope(raw, headers)
    return envelope, parse_data(envelope)


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"]) or "(root)"
    more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{location}: {first['msg']}{more}"
