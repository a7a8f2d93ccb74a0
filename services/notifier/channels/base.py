"""The one small interface every delivery channel (e-mail, the platform's in-app webhook)
implements, the notice it is handed and what it answers.

A channel sends one notice and reports either a receipt or a ``DeliveryFailed`` saying
whether trying again soon could help, or a ``DeliveryUncertain`` when the receiver may
already have it. Retrying, recording and deciding whether a notice
may go out at all belong to the caller (``retry.py`` and the dispatcher).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.notifier.domain.notice import FALLBACK_LOCALE, Platform

#: A notice id is used verbatim as the left part of an e-mail ``Message-ID`` and as an
#: HTTP ``Idempotency-Key``, so it is a plain token: dot-separated runs of letters,
#: digits, ``_`` and ``-`` (a UUID or a hex digest fits).
NOTICE_ID_PATTERN = r"^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$"
_LINE_BREAK = re.compile(r"[\r\n]")


class OutgoingNotice(BaseModel):
    """What a channel sends: rendered content and whatever reaches the account."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Deterministic idempotency key per (request, account, channel), computed by the
    #: caller: a resend after a crash carries the same id, so receivers can recognise it.
    notice_id: str = Field(min_length=1, max_length=200, pattern=NOTICE_ID_PATTERN)
    request_id: str = Field(min_length=1)
    recipient_email: str | None = None
    platform_user_id: str | None = None
    handle: str | None = None
    subject: str
    text: str
    html: str | None = None
    #: The language it is written in (``Content-Language``; the webhook's ``locale``).
    locale: str = Field(default=FALLBACK_LOCALE, pattern=r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})*$")
    #: Who it comes from, as the user knows them (the ``From`` name, ``Reply-To``).
    platform: Platform

    @field_validator("request_id", "recipient_email", "platform_user_id", "handle", "subject")
    @classmethod
    def _single_line(cls, value: str | None) -> str | None:
        # These end up in mail headers; a line break would let content forge headers.
        if value is not None and _LINE_BREAK.search(value):
            raise ValueError("must not contain line breaks")
        return value


class DeliveryReceipt(BaseModel):
    """Proof that a channel handed the notice over."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: str
    sent_at: datetime
    #: The provider's id for the message when it has one (the e-mail's ``Message-ID``).
    provider_message_id: str | None = None


class DeliveryFailed(Exception):
    """A notice was not delivered.

    ``retryable`` says whether the same send may succeed soon (a server down, a timeout,
    a 5xx or 4xx SMTP reply, HTTP 408/429/5xx); ``False`` means trying again will not help
    until something changes (rejected credentials or recipient, HTTP 4xx). ``reason``
    never holds personal data: it ends up in logs and ``NotificationFailed`` events.
    """

    def __init__(self, reason: str, retryable: bool, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        #: How long the receiver asked us to wait (HTTP ``Retry-After``), if it said.
        self.retry_after_s = retry_after_s

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r}, retryable={self.retryable})"


class DeliveryUncertain(DeliveryFailed):
    """The notice was handed over and no answer came: the receiver may have it (an SMTP
    server that took the whole message and never answered the end of it). Never
    retryable: sending again could tell the user twice, so the dispatcher holds the
    notice as 'uncertain' for counsel instead of scheduling it again."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, retryable=False)


class NoticeChannel(ABC):
    """A way of reaching an account. Subclasses set ``name`` (the channel recorded with
    each notice: ``"email"``, ``"webhook"``)."""

    name: str

    @abstractmethod
    def can_reach(self, notice: OutgoingNotice) -> bool:
        """Whether the notice carries what this channel needs to reach the account."""

    @abstractmethod
    async def send(self, notice: OutgoingNotice) -> DeliveryReceipt:
        """Deliver the notice once. Raises ``DeliveryFailed`` for every expected failure."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release connections the channel holds; called once at shutdown."""
