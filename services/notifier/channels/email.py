"""E-mail notices over SMTP (stdlib ``smtplib`` in a worker thread).

The ``Message-ID`` is ``<notice_id@domain>``: a resend after a crash is the same message
to the receiving side, and to whoever reads the mail logs. Nothing about the recipient or
the content is logged or put into a failure reason, only the notice id and SMTP codes.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import structlog

from services.notifier.channels.base import (
    DeliveryFailed,
    DeliveryReceipt,
    NoticeChannel,
    OutgoingNotice,
)
from services.notifier.channels.config import SmtpConfig

log = structlog.get_logger("docket.notifier.channels.email")


class EmailChannel(NoticeChannel):
    name = "email"

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    def can_reach(self, notice: OutgoingNotice) -> bool:
        return bool(notice.recipient_email)

    def message_id(self, notice: OutgoingNotice) -> str:
        domain = self._config.message_id_domain or self._config.sender_domain
        return f"<{notice.notice_id}@{domain}>"

    def build_message(
        self, notice: OutgoingNotice, recipient: str, sent_at: datetime
    ) -> EmailMessage:
        """text/plain, plus text/html as a multipart/alternative when the notice has it,
        from the platform's name and address (the envelope sender is the SMTP one)."""
        message = EmailMessage()
        message["From"] = formataddr((notice.platform.name, notice.platform.sender))
        if notice.platform.reply_to:
            message["Reply-To"] = notice.platform.reply_to
        message["To"] = recipient
        message["Subject"] = notice.subject
        message["Date"] = format_datetime(sent_at)
        message["Message-ID"] = self.message_id(notice)
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(notice.text)
        if notice.html is not None:
            message.add_alternative(notice.html, subtype="html")
        message["Content-Language"] = notice.locale  # after the content: it resets Content-*
        return message

    async def send(self, notice: OutgoingNotice) -> DeliveryReceipt:
        recipient = notice.recipient_email
        if not recipient:
            raise DeliveryFailed("the notice has no e-mail address", retryable=False)
        sent_at = datetime.now(UTC)
        try:
            message = self.build_message(notice, recipient, sent_at)
        except (ValueError, TypeError) as error:  # an address the e-mail package refuses
            raise DeliveryFailed(
                f"could not build the message ({type(error).__name__})", retryable=False
            ) from None
        try:
            await asyncio.to_thread(self._submit, message, recipient)
        except DeliveryFailed as failure:
            log.warning(
                "email_not_sent",
                notice_id=notice.notice_id,
                reason=failure.reason,
                retryable=failure.retryable,
            )
            raise
        log.info("email_sent", notice_id=notice.notice_id)
        return DeliveryReceipt(
            channel=self.name, sent_at=sent_at, provider_message_id=self.message_id(notice)
        )

    def _submit(self, message: EmailMessage, recipient: str) -> None:
        """One SMTP session: connect, EHLO, STARTTLS and AUTH if configured, send."""
        config = self._config
        try:
            with smtplib.SMTP(
                config.host,
                config.port,
                local_hostname=config.local_hostname,
                timeout=config.timeout_s,
            ) as smtp:
                smtp.ehlo()
                if config.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if config.username is not None and config.password is not None:
                    smtp.login(config.username, config.password.get_secret_value())
                smtp.send_message(message, from_addr=config.sender, to_addrs=[recipient])
        except Exception as error:
            raise smtp_failure(error) from None


def smtp_failure(error: Exception) -> DeliveryFailed:
    """Classify an ``smtplib``/socket error. SMTP 4xx replies are temporary and 5xx
    permanent (RFC 5321); a server that cannot be reached or drops the connection may be
    back soon. The server's reply text is left out: it often quotes the address."""
    kind = type(error).__name__
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _text in error.recipients.values()]
        code = codes[0] if codes else 550
        return DeliveryFailed(f"smtp recipient refused: {code}", retryable=400 <= code < 500)
    if isinstance(error, smtplib.SMTPResponseException):  # auth, sender, data, helo refused
        code = error.smtp_code
        return DeliveryFailed(f"smtp {kind}: {code}", retryable=400 <= code < 500)
    if isinstance(error, smtplib.SMTPNotSupportedError):  # no STARTTLS or AUTH offered
        return DeliveryFailed(f"smtp {kind}: server lacks a required extension", False)
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return DeliveryFailed(f"smtp server unreachable ({kind})", retryable=True)
    if isinstance(error, smtplib.SMTPException):  # e.g. no AUTH mechanism in common
        return DeliveryFailed(f"smtp {kind}", retryable=False)
    if isinstance(error, ssl.SSLCertVerificationError):
        return DeliveryFailed("smtp starttls: certificate not trusted", retryable=False)
    if isinstance(error, OSError):  # refused, timed out, no route, DNS, TLS handshake
        return DeliveryFailed(f"smtp server unreachable ({kind})", retryable=True)
    return DeliveryFailed(f"smtp error ({kind})", retryable=False)
