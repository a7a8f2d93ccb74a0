"""What a user notice says, and its idempotency key.

The content is built only from what the user is entitled to see about a request for
their own data: who asked, under which authority, for which kinds of data, by when,
whether anything has been disclosed yet, and where to find legal help. It never
carries other targets, internal risk scores, the requester's contact details or the
text of the document (which may name other people).

The notice speaks in the platform's voice, never Docket's: its name, sender, reply
address and help links are configuration (``Platform``). Rendering uses the Jinja2
templates of one locale, ``templates/<locale>/`` beside this package or the operator's
own folder of the same shape (``NoticeSettings.templates_dir``, searched first): the
text and HTML templates and ``messages.yaml`` (subject, the plain-language names of data
categories and authorities, month names). The account's locale picks the folder, then
its language alone, then the configured default, then English. HTML is autoescaped, so a
hostile agency name or citation cannot inject markup.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from functools import cache
from pathlib import Path

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.notifier.domain.decision import NotifyReason
from shared.events import NoticeTarget, RequestClassified
from shared.submission import DataCategory, Submission, to_utc

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TEXT_TEMPLATE = "notice.txt.jinja"
HTML_TEMPLATE = "notice.html.jinja"
MESSAGES = "messages.yaml"
#: The language every installation has, and the last fallback.
FALLBACK_LOCALE = "en"
_LOCALE = r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})*$"


class Messages(BaseModel):
    """A locale's fixed wording (``messages.yaml``): the subject, the plain-language
    names of data categories (contract section 1) and of authority families
    (domain.md section 0), and the month names dates are written with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str = Field(min_length=1)
    #: ``{day}``, ``{month}`` and ``{year}``: "23 March 2017", "23 de marzo de 2017".
    date_format: str
    months: tuple[str, ...] = Field(min_length=12, max_length=12)
    data_categories: dict[DataCategory, str]
    #: By authority family; ``unknown`` is required and used for any family not listed.
    authorities: dict[str, str]


#: Reasons given before anything has been disclosed: the notice can say so.
BEFORE_DISCLOSURE_REASONS = frozenset(
    {
        NotifyReason.POLICY_DEFAULT_NOTICE,
        NotifyReason.NOTICE_TO_ENABLE_CHALLENGE,
        NotifyReason.NONBINDING_SECRECY_REQUEST,
        NotifyReason.REMOVAL_NOTICE_POLICY,
    }
)


class Platform(BaseModel):
    """Who the notice comes from, as the user knows them: the platform, not Docket.
    Printed in the notice, put in the e-mail's headers and the webhook's payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(default="Example Platform", min_length=1, max_length=100)
    #: The address notices come from (``From``).
    sender: str = "notices@platform.example"
    #: Where the user's answer goes (``Reply-To``); none: replies go to ``sender``.
    reply_to: str | None = None
    legal_help_url: str = "https://example.org/legal-help"
    legal_team_url: str = "https://example.org/legal-requests"

    @field_validator("name", "sender", "reply_to", "legal_help_url", "legal_team_url")
    @classmethod
    def _single_line(cls, value: str | None) -> str | None:
        # The name and addresses end up in mail headers: a line break would forge one.
        if value is not None and ("\r" in value or "\n" in value):
            raise ValueError("must not contain line breaks")
        return value


class NoticeSettings(BaseModel):
    """The platform and its languages (no personal data)."""

    model_config = ConfigDict(frozen=True)

    platform: Platform = Platform()
    #: For accounts whose locale is unknown or has no templates.
    default_locale: str = Field(default=FALLBACK_LOCALE, pattern=_LOCALE)
    #: The operator's own templates, ``<dir>/<locale>/`` (searched before the shipped ones).
    templates_dir: Path | None = None


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
    #: The locale it was written in (the templates' folder name).
    locale: str
    platform: Platform


def available_locales(templates_dir: Path | None = None) -> frozenset[str]:
    """Locales with a full set of templates, shipped or in ``templates_dir``."""
    roots = [root for root in (templates_dir, TEMPLATES) if root is not None]
    return frozenset(
        folder.name
        for root in roots
        if root.is_dir()
        for folder in root.iterdir()
        if all((folder / name).is_file() for name in (TEXT_TEMPLATE, HTML_TEMPLATE, MESSAGES))
    )


def notice_locale(wanted: str | None, available: frozenset[str], default: str) -> str:
    """The locale to write in for an account that asked for ``wanted`` (``es-MX``,
    ``pt_BR``, or None): that locale, else its language alone, else ``default`` (or its
    language), else English."""
    for candidate in (wanted, default):
        if not candidate:
            continue
        tag = candidate.strip().replace("_", "-").lower()
        for choice in (tag, tag.split("-")[0]):
            if choice in available:
                return choice
    return FALLBACK_LOCALE


def notice_id_for(request_id: str, account_key: str, channel: str) -> str:
    """Deterministic idempotency key of the one notice per (request, account, channel):
    the hex SHA-256 of the three values (JSON-encoded, so no separator can be forged).
    The e-mail channel uses it as the ``Message-ID`` (``<notice_id@domain>``)."""
    material = json.dumps([request_id, account_key, channel], ensure_ascii=False)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def notice_content(
    classified: RequestClassified,
    submission: Submission,
    target: NoticeTarget,
    *,
    reason: str | None = None,
    platform: Platform = DEFAULT_NOTICE_SETTINGS.platform,
    messages: Messages | None = None,
) -> NoticeContent:
    """The content of the notice to ``target`` about the request ``submission`` as
    ``classified``, in the wording of ``messages`` (default: English). ``reason`` is the
    ruling's notify reason; without it the notice is the default pre-disclosure one."""
    wording = messages or load_messages(None, FALLBACK_LOCALE)
    instrument = submission.instrument
    reason = reason or NotifyReason.POLICY_DEFAULT_NOTICE
    authorities = wording.authorities
    return NoticeContent(
        request_id=classified.request_id,
        handle=target.handle,
        agency=submission.requester.agency,
        requester_country=submission.requester.country,
        authority=authorities.get(classified.authority.family, authorities["unknown"]),
        cited_authority=instrument.cited_authority,
        case_number=instrument.case_number,
        data_requested=tuple(wording.data_categories[c] for c in submission.data_requested),
        period_from=submission.date_range.from_,
        period_to=submission.date_range.to,
        response_deadline=instrument.response_deadline,
        before_disclosure=reason in BEFORE_DISCLOSURE_REASONS,
        gag_has_ended=reason == NotifyReason.NDO_EXPIRED,
        challenge_invited=reason == NotifyReason.NOTICE_TO_ENABLE_CHALLENGE,
        platform_name=platform.name,
        legal_help_url=platform.legal_help_url,
        legal_team_url=platform.legal_team_url,
    )


def _folders(templates_dir: Path | None, locale: str) -> list[Path]:
    roots = [root for root in (templates_dir, TEMPLATES) if root is not None]
    return [root / locale for root in roots if (root / locale / TEXT_TEMPLATE).is_file()]


@cache
def load_messages(templates_dir: Path | None, locale: str) -> Messages:
    """``messages.yaml`` of ``locale``; a missing category or ``unknown`` authority is
    refused here, at the first notice, rather than leaving a blank in one."""
    [folder, *_] = _folders(templates_dir, locale)
    messages = Messages.model_validate(yaml.safe_load((folder / MESSAGES).read_text("utf-8")))
    missing = set(DataCategory) - set(messages.data_categories)
    if missing or "unknown" not in messages.authorities:
        raise ValueError(f"{folder / MESSAGES} lacks {sorted(missing) or ['unknown authority']}")
    return messages


@cache
def _environment(templates_dir: Path | None, locale: str) -> Environment:
    messages = load_messages(templates_dir, locale)
    environment = Environment(
        loader=FileSystemLoader(_folders(templates_dir, locale)),
        autoescape=select_autoescape(enabled_extensions=("html.jinja",), default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )

    def day(value: datetime | None) -> str:
        if value is None:
            return ""
        moment = to_utc(value)
        month = messages.months[moment.month - 1]
        return messages.date_format.format(day=moment.day, month=month, year=moment.year)

    environment.filters["day"] = day
    return environment


def render_notice(
    classified: RequestClassified,
    submission: Submission,
    target: NoticeTarget,
    *,
    reason: str | None = None,
    settings: NoticeSettings = DEFAULT_NOTICE_SETTINGS,
    locale: str | None = None,
) -> RenderedNotice:
    """Subject, plain text and HTML of the notice to ``target`` about ``classified``,
    in ``locale`` (the account's, if known) or the nearest one there are templates for."""
    chosen = notice_locale(
        locale, available_locales(settings.templates_dir), settings.default_locale
    )
    messages = load_messages(settings.templates_dir, chosen)
    content = notice_content(
        classified,
        submission,
        target,
        reason=reason,
        platform=settings.platform,
        messages=messages,
    )
    environment = _environment(settings.templates_dir, chosen)
    values = content.model_dump()
    return RenderedNotice(
        subject=messages.subject,
        text=environment.get_template(TEXT_TEMPLATE).render(values),
        html=environment.get_template(HTML_TEMPLATE).render(values),
        locale=chosen,
        platform=settings.platform,
    )
