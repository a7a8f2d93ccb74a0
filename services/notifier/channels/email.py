"""E-mail notices over SMTP (stdlib ``smtplib`` in a worker thread).

Where a failure happens decides what it means. Before the whole message went out after
``DATA`` (the connection, greeting, EHLO, STARTTLS, AUTH, MAIL, RCPT, the ``DATA``
command itself, or the body cut off on its way) the server cannot have it, and a
temporary failure may be retried. Once the body and its terminating ``.`` were sent,
only the server's answer tells: a 4xx/5xx answer is a definite failure (4xx
retryable), but a timeout or a dropped connection while waiting for it leaves the
delivery uncertain (``DeliveryUncertain``): the server may have the message, so it is
never sent again automatically. After the server accepted it, a failed ``QUIT`` is
ignored.

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
from typing import Any

import structlog

from services.notifier.channels.base import (
    DeliveryFailed,
    DeliveryReceipt,
    DeliveryUncertain,
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
        smtp: _SmtpSession | None = None
        try:
            smtp = _SmtpSession(
                config.host,
                config.port,
                local_hostname=config.local_hostname,
                timeout=config.timeout_s,
            )
            smtp.ehlo()
            if config.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if config.username is not None and config.password is not None:
                smtp.login(config.username, config.password.get_secret_value())
            smtp.send_message(message, from_addr=config.sender, to_addrs=[recipient])
        except Exception as error:
            handed_over = smtp is not None and smtp.message_handed_over
            if smtp is not None:
                smtp.close()
            raise smtp_failure(error, handed_over=handed_over) from None
        # Accepted: the server has the message, whatever becomes of the QUIT.
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            log.info("smtp_quit_failed_after_acceptance")
        finally:
            smtp.close()


class _SmtpSession(smtplib.SMTP):
    """``smtplib.SMTP`` that notes when the whole message has been sent after ``DATA``.

    ``SMTP.data`` sends the command, reads the 354, sends the body with its terminating
    ``.``, then reads the final answer; ``message_handed_over`` becomes true once the
    body was sent in full, so a failure after that point can be told apart."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._in_data = False
        self._ready_for_body = False
        self.message_handed_over = False
        super().__init__(*args, **kwargs)

    def data(self, msg: Any) -> tuple[int, bytes]:
        self._in_data = True
        try:
            return super().data(msg)
        finally:
            self._in_data = self._ready_for_body = False

    def getreply(self) -> tuple[int, bytes]:
        code, text = super().getreply()
        if self._in_data and not self._ready_for_body:
            self._ready_for_body = code == 354  # anything else: data() raises
        return code, text

    def send(self, s: Any) -> None:
        super().send(s)
        if self._in_data and self._ready_for_body:
            self.message_handed_over = True


def smtp_failure(error: Exception, *, handed_over: bool = False) -> DeliveryFailed:
    """Classify an ``smtplib``/socket error. SMTP 4xx replies are temporary and 5xx
    permanent (RFC 5321); a server that cannot be reached or drops the connection may be
    back soon. ``handed_over`` says the whole message had been sent after ``DATA``: then
    anything but a clear answer (a timeout, a dropped connection) means the server may
    have it, a ``DeliveryUncertain``. The server's reply text is left out: it often
    quotes the address."""
    kind = type(error).__name__
    if handed_over and not isinstance(error, smtplib.SMTPResponseException):
        return DeliveryUncertain(
            f"smtp: no answer after the message was sent ({kind}); the mail server may have it"
        )
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
