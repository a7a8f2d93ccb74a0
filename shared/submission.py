"""The submission contract: a government or legal demand as it reaches intake.

This is section 1 of the public contract (``shared/docs/contract.md``). The models are
pure pydantic: no I/O. Unknown fields are rejected so that a typo is never silently
dropped, every timestamp is normalised to UTC, and handles are normalised to ``@name``.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    model_validator,
)


class ReceivedVia(StrEnum):
    PORTAL = "portal"
    EMAIL = "email"
    MAIL = "mail"
    FAX = "fax"
    SERVICE_OF_PROCESS = "service_of_process"


class AgencyType(StrEnum):
    FEDERAL_LAW_ENFORCEMENT = "federal_law_enforcement"
    STATE_LOCAL_LAW_ENFORCEMENT = "state_local_law_enforcement"
    REGULATORY = "regulatory"
    COURT = "court"
    PRIVATE_LITIGANT = "private_litigant"
    FOREIGN_GOVERNMENT = "foreign_government"
    INTELLIGENCE = "intelligence"
    OTHER = "other"


class InstrumentType(StrEnum):
    SUBPOENA = "subpoena"
    ADMINISTRATIVE_SUMMONS = "administrative_summons"
    COURT_ORDER = "court_order"
    SEARCH_WARRANT = "search_warrant"
    NATIONAL_SECURITY_LETTER = "national_security_letter"
    EMERGENCY_REQUEST = "emergency_request"
    PRESERVATION_REQUEST = "preservation_request"
    MLAT_REQUEST = "mlat_request"
    FOREIGN_ORDER = "foreign_order"
    REMOVAL_ORDER = "removal_order"
    CIVIL_SUBPOENA = "civil_subpoena"
    OTHER = "other"


class DataCategory(StrEnum):
    SUBSCRIBER_IDENTITY = "subscriber_identity"
    CONTACT_INFO = "contact_info"
    IP_LOGS = "ip_logs"
    CONNECTION_METADATA = "connection_metadata"
    CONTENT = "content"
    DIRECT_MESSAGES = "direct_messages"
    LOCATION = "location"
    DEVICE_INFO = "device_info"
    PAYMENT_INFO = "payment_info"


def to_utc(value: datetime) -> datetime:
    """Normalise an aware timestamp to UTC; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


#: Control characters prose may keep: tab, line breaks and the form feed that text
#: taken from a PDF uses as its page break.
PROSE_LAYOUT = frozenset("\t\n\r\f")

#: Validation context of a record Docket already accepted and stored (an event read
#: back from Kafka, a row from a service's own tables): it is read as it was written,
#: so a rule made stricter at the edge later never turns an old gag amendment into a
#: dead letter that the notifier would not see.
STORED: Final[dict[str, bool]] = {"stored": True}


def _is_stored(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and bool(info.context.get("stored"))


def refuse_control_characters(value: str) -> str:
    """``value`` unchanged, or ``ValueError`` naming its first control character
    (Unicode category Cc: U+0000-U+001F, U+007F-U+009F). Such characters reach
    notices, logs and terminals and have no place in a name, a citation or a reference."""
    for ch in value:
        if unicodedata.category(ch) == "Cc":
            raise ValueError(
                f"control characters (here U+{ord(ch):04X}) are not allowed in this field"
            )
    return value


def refuse_control_characters_in_prose(value: str) -> str:
    """Prose (a letter's text, a justification) as a demand really comes: any character
    but the C0 controls that break storage and terminals (NUL, escape and the like);
    tab, line breaks and form feeds are kept."""
    for ch in value:
        if ch not in PROSE_LAYOUT and (ord(ch) < 0x20 or ord(ch) == 0x7F):
            raise ValueError(
                f"control characters (here U+{ord(ch):04X}) are not allowed in this text"
            )
    return value


def _one_line(value: str, info: ValidationInfo) -> str:
    return value if _is_stored(info) else refuse_control_characters(value)


def _prose(value: str, info: ValidationInfo) -> str:
    return value if _is_stored(info) else refuse_control_characters_in_prose(value)


def _account_identifier(value: str, info: ValidationInfo) -> str:
    if not _is_stored(info):
        refuse_control_characters(value)
    return normalise_handle(value)


def normalise_handle(value: str) -> str:
    """An account identifier in whatever form the demand uses, tidied but never refused
    for its shape: a bare handle (``"  alt_uscis "``, ``"@ALT_uscis"``) becomes
    ``"@..."`` with case kept; a display name, profile URL, e-mail address or phone
    number keeps its form, with runs of white space folded to one space."""
    folded = " ".join(value.split())
    stripped = folded.lstrip("@").strip()
    if not stripped:
        raise ValueError("an account identifier needs at least one character besides '@'")
    if _is_bare_handle(stripped):
        return "@" + stripped
    return folded


def _is_bare_handle(value: str) -> bool:
    """A single token that is not an e-mail address, URL or phone number."""
    if " " in value or "@" in value or "/" in value or ":" in value:
        return False
    digits = sum(ch.isdigit() for ch in value)
    return not (value.startswith("+") or (digits >= 7 and digits >= len(value) - 4))


def handle_key(handle: str) -> str:
    """The case-insensitive matching key of a handle (no ``@``, lower case)."""
    return handle.strip().lstrip("@").strip().casefold()


UtcDatetime = Annotated[datetime, AfterValidator(to_utc)]
Handle = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_account_identifier)]
#: One line of text (a name, a citation, a reference): no control characters at all.
ONE_LINE = AfterValidator(_one_line)
#: Free text (a letter, a justification): layout kept, no C0 control characters (NUL
#: and the like break storage and the terminals notices are read on).
PROSE = AfterValidator(_prose)
ShortText = Annotated[str, Field(min_length=1, max_length=500), ONE_LINE]
#: ISO 3166-1 alpha-2; ``ZZ`` when the country is unknown.
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]


class ContractModel(BaseModel):
    """Immutable, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Requester(ContractModel):
    agency: ShortText
    agency_type: AgencyType
    country: CountryCode
    contact_email: Annotated[str, Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None


class Nondisclosure(ContractModel):
    ordered: StrictBool = False
    authority: ShortText | None = None
    expires_at: UtcDatetime | None = None


class Instrument(ContractModel):
    type: InstrumentType
    cited_authority: Annotated[str, Field(max_length=500), ONE_LINE] | None = None
    issued_by: Annotated[str, Field(max_length=500), ONE_LINE] | None = None
    issued_at: date | None = None
    case_number: Annotated[str, Field(max_length=200), ONE_LINE] | None = None
    response_deadline: UtcDatetime | None = None
    nondisclosure: Nondisclosure = Field(default_factory=Nondisclosure)
    document_text: Annotated[str, Field(max_length=200_000), PROSE] | None = None


class Target(ContractModel):
    handle: Handle | None = None
    platform_user_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None

    @model_validator(mode="after")
    def _identified(self) -> Target:
        if self.handle is None and self.platform_user_id is None:
            raise ValueError("a target needs a handle or a platform_user_id")
        return self


class DateRange(ContractModel):
    from_: UtcDatetime | None = Field(default=None, alias="from")
    to: UtcDatetime | None = None

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.from_ is not None and self.to is not None and self.from_ > self.to:
            raise ValueError("date_range.from must not be after date_range.to")
        return self


class Emergency(ContractModel):
    claimed: StrictBool = False
    justification: Annotated[str, Field(max_length=5_000), PROSE] | None = None


class Submission(ContractModel):
    """A demand as Docket records it.

    ``targets`` may be empty here: a bulk directive or a reverse search names no
    account, and the classifier must still answer it. Intake's HTTP edge requires at
    least one target (see ``services.intake``); cases for ``docket policy test`` may not.
    """

    external_ref: Annotated[str, Field(min_length=1, max_length=200)]
    received_via: ReceivedVia
    received_at: UtcDatetime
    requester: Requester
    instrument: Instrument
    targets: Annotated[list[Target], Field(max_length=10_000)]
    data_requested: Annotated[list[DataCategory], Field(max_length=len(DataCategory))]
    date_range: DateRange = Field(default_factory=DateRange)
    stated_purpose: Annotated[str, Field(max_length=5_000), PROSE] | None = None
    emergency: Emergency = Field(default_factory=Emergency)

    @model_validator(mode="after")
    def _categories_once(self) -> Submission:
        if len(set(self.data_requested)) != len(self.data_requested):
            raise ValueError("data_requested lists a category twice")
        return self
