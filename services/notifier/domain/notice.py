"""What a user notice says, and its idempotency key.

The content is built only from what the user is entitled to see about a request for
their own data: who asked, under which authority, for which kinds of data, by when,
whether anything has been disclosed yet, and where to find legal help. It never
carries other targets, internal risk scores, the requester's contact details or the
text of the document (which may name other people).

Rendering uses the Jinja2 templates beside this package (``templates/``); HTML is
autoescaped, so a hostile agency name or citation cannot inject markup.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import BaseModel, ConfigDict

from services.notifier.domain.decision import NotifyReason
from shared.events import NoticeTarget, RequestClassified
from shared.submission import DataCategory, to_utc

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TEXT_TEMPLATE = "notice.txt.jinja"
HTML_TEMPLATE = "notice.html.jinja"

SUBJECT = "A legal request for information about your account"

#: Plain-language names of the data categories (contract section 1).
DATA_CATEGORY_LABELS: dict[DataCategory, str] = {
    DataCategory("subscriber_identity"): "who you are (name, username, when the account was made)",
    DataCategory("contact_info"): "your contact details (e-mail address, phone number)",
    DataCategory("ip_logs"): "the internet (IP) addresses you used and when",
    DataCategory("connection_metadata"): (
        "information about your messages and connections (who, when), not what they said"
    ),
    DataCategory("content"): "your non-public posts, photos and files",
    DataCategory("direct_messages"): "your private messages",
    DataCategory("location"): "your location history",
    DataCategory("device_info"): "information about your devices",
    DataCategory("payment_info"): "your payment details",
}

#: Plain-language names of legal authorities by family (domain.md section 0).
AUTHORITY_FAMILY_LABELS: dict[str, str] = {
    "subpoena": "a subpoena (a demand issued by a prosecutor or a party, without a judge)",
    "administrative": "an administrative subpoena or summons (issued by a government agency)",
    "civil": "a subpoena in a civil lawsuit",
    "legislative": "a subpoena from a legislative committee",
    "court_order": "a court order",
    "warrant": "a search warrant issued by a judge",
    "surveillance": "a court order for surveillance",
    "national_security": "a national security demand",
    "emergency": "an emergency request from law enforcement",
    "preservation": "a request to preserve records",
    "international": "a request from another country's authorities made through an agreement",
    "foreign": "a request or order from another country's authorities",
    "removal": "a demand to remove or restrict content",
    "unknown": "a request that did not state its legal basis",
}

#: Reasons given before anything has been disclosed: the notice can say so.
BEFORE_DISCLOSURE_REASONS = frozenset(
    {
        NotifyReason.POLICY_DEFAULT_NOTICE,
        NotifyReason.NOTICE_TO_ENABLE_CHALLENGE,
        NotifyReason.NONBINDING_SECRECY_REQUEST,
        NotifyReason.REMOVAL_NOTICE_POLICY,
    }
)


class NoticeSettings(BaseModel):
    """The platform's own details printed in every notice (no personal data)."""

    model_config = ConfigDict(frozen=True)

    platform_name: str = "Docket"
    legal_help_url: str = "https://example.org/legal-help"
    legal_team_url: str = "https://example.org/legal-requests"


DEFAULT_NOTICE_SETTINGS = NoticeSettings()


class NoticeContent(BaseModel):
    """Everything a notice may show. Built only by ``notice_content``."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    handle: str | None
    agency: str
    requester_country: str
    authority: str
    cited_authority: str | None
    case_number: str | None
    data_requested: tuple[str, ...]
    period_from: datetime | None
    period_to: datetime | None
    response_deadline: datetime | None
    before_disclosure: bool
    gag_has_ended: bool
    challenge_invited: bool
    platform_name: str
    legal_help_url: str
    legal_team_url: str


class RenderedNotice(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject: str
    text: str
    html: str


def notice_id_for(request_id: str, account_key: str, channel: str) -> str:
    """Deterministic idempotency key of the one notice per (request, account, channel):
    the hex SHA-256 of the three values (JSON-encoded, so no separator can be forged).
    The e-mail channel uses it as the ``Message-ID`` (``<notice_id@domain>``)."""
    material = json.dumps([request_id, account_key, channel], ensure_ascii=False)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def notice_content(
    classified: RequestClassified,
    target: NoticeTarget,
    *,
    reason: str | None = None,
    settings: NoticeSettings = DEFAULT_NOTICE_SETTINGS,
) -> NoticeContent:
    """The content of the notice to ``target`` about ``classified``. ``reason`` is the
    ruling's notify reason; without it the notice is the default pre-disclosure one."""
    submission = classified.submission
    instrument = submission.instrument
    reason = reason or NotifyReason.POLICY_DEFAULT_NOTICE
    return NoticeContent(
        request_id=classified.request_id,
        handle=target.handle,
        agency=submission.requester.agency,
        requester_country=submission.requester.country,
        authority=AUTHORITY_FAMILY_LABELS.get(
            classified.authority.family, AUTHORITY_FAMILY_LABELS["unknown"]
        ),
        cited_authority=instrument.cited_authority,
        case_number=instrument.case_number,
        data_requested=tuple(DATA_CATEGORY_LABELS[c] for c in submission.data_requested),
        period_from=submission.date_range.from_,
        period_to=submission.date_range.to,
        response_deadline=instrument.response_deadline,
        before_disclosure=reason in BEFORE_DISCLOSURE_REASONS,
        gag_has_ended=reason == NotifyReason.NDO_EXPIRED,
        challenge_invited=reason == NotifyReason.NOTICE_TO_ENABLE_CHALLENGE,
        platform_name=settings.platform_name,
        legal_help_url=settings.legal_help_url,
        legal_team_url=settings.legal_team_url,
    )


def _day(value: datetime | None) -> str:
    return to_utc(value).strftime("%d %B %Y") if value is not None else ""


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html.jinja",), default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    environment.filters["day"] = _day
    return environment


def render_content(content: NoticeContent) -> RenderedNotice:
    environment = _environment()
    values = content.model_dump()
    return RenderedNotice(
        subject=SUBJECT,
        text=environment.get_template(TEXT_TEMPLATE).render(values),
        html=environment.get_template(HTML_TEMPLATE).render(values),
    )


def render_notice(
    classified: RequestClassified,
    target: NoticeTarget,
    *,
    reason: str | None = None,
    settings: NoticeSettings = DEFAULT_NOTICE_SETTINGS,
) -> RenderedNotice:
    """Subject, plain text and HTML of the notice to ``target`` about ``classified``."""
    return render_content(notice_content(classified, target, reason=reason, settings=settings))
