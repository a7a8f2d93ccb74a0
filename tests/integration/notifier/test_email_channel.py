"""The e-mail channel against a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from pydantic import ValidationError

from services.notifier.channels.base import DeliveryFailed, DeliveryUncertain, OutgoingNotice
from services.notifier.channels.config import SmtpConfig
from services.notifier.channels.email import EmailChannel
from services.notifier.channels.retry import send_with_retries
from services.notifier.domain.notice import Platform
from tests.fixtures.servers import free_port
from tests.integration.notifier.conftest import (
    SMTP_PASSWORD,
    SMTP_USER,
    Mailbox,
    SmtpServer,
    _run_smtp,
)

HTML = "<p>A request for your account data arrived under <b>19 U.S.C. § 1509</b>.</p>"
#: aiosmtpd warns whenever AUTH is offered without TLS, which these tests do on purpose.
PLAIN_AUTH = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
TEXT = "A request for your account data arrived under 19 U.S.C. § 1509.\nReply within 10 days."

PLATFORM = Platform(name="Chirp", sender="notices@docket.test")


def a_notice(**changes: object) -> OutgoingNotice:
    fields: dict[str, object] = {
        "notice_id": "3f9c2a7e5b1d4c08a6e2f1b0c9d8e7f6",
        "request_id": "req-0314",
        "recipient_email": "owner@example.org",
        "platform_user_id": "8214",
        "handle": "@ALT_uscis",
        "subject": "A government request for your account data",
        "text": TEXT,
        "html": HTML,
    }
    return OutgoingNotice.model_validate({"platform": PLATFORM} | fields | changes)


def smtp_config(port: int, **changes: object) -> SmtpConfig:
    fields: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "sender": "notices@docket.test",
        "timeout_s": 5.0,
        "local_hostname": "localhost",
    }
    return SmtpConfig.model_validate(fields | changes)


def body_parts(message: EmailMessage) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_content()
        for part in message.walk()
        if not part.is_multipart()
    }


@pytest.mark.integration
async def test_a_notice_arrives_as_text_and_html_with_a_deterministic_message_id(
    smtp_server: SmtpServer,
) -> None:
    channel = EmailChannel(smtp_config(smtp_server.port))

    receipt = await channel.send(a_notice())

    [delivery] = smtp_server.mailbox.deliveries
    message = delivery.message
    assert delivery.mail_from == "notices@docket.test"
    assert delivery.rcpt_tos == ["owner@example.org"]
    assert message["To"] == "owner@example.org"
    assert message["From"] == "Chirp <notices@docket.test>"
    assert message["Reply-To"] is None
    assert message["Content-Language"] == "en"
    assert message["Subject"] == "A government request for your account data"
    assert message["Message-ID"] == "<3f9c2a7e5b1d4c08a6e2f1b0c9d8e7f6@docket.test>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"] is not None
    assert message.get_content_type() == "multipart/alternative"
    parts = body_parts(message)
    assert set(parts) == {"text/plain", "text/html"}
    assert parts["text/plain"].replace("\r\n", "\n") == TEXT + "\n"
    assert parts["text/html"].replace("\r\n", "\n").rstrip("\n") == HTML
    assert receipt.channel == "email"
    assert receipt.provider_message_id == message["Message-ID"]


@pytest.mark.integration
async def test_a_resend_is_recognisably_the_same_message(smtp_server: SmtpServer) -> None:
    channel = EmailChannel(smtp_config(smtp_server.port, message_id_domain="notices.example"))

    await channel.send(a_notice())
    await channel.send(a_notice())

    first, second = (d.message["Message-ID"] for d in smtp_server.mailbox.deliveries)
    assert first == second == "<3f9c2a7e5b1d4c08a6e2f1b0c9d8e7f6@notices.example>"


@pytest.mark.integration
async def test_a_notice_without_html_is_plain_text(smtp_server: SmtpServer) -> None:
    await EmailChannel(smtp_config(smtp_server.port)).send(a_notice(html=None))

    [delivery] = smtp_server.mailbox.deliveries
    assert delivery.message.get_content_type() == "text/plain"
    assert delivery.message.get_content().replace("\r\n", "\n") == TEXT + "\n"


@pytest.mark.integration
async def test_the_channel_reaches_only_accounts_with_an_address(
    smtp_server: SmtpServer,
) -> None:
    channel = EmailChannel(smtp_config(smtp_server.port))
    without_email = a_notice(recipient_email=None)

    assert channel.can_reach(a_notice())
    assert not channel.can_reach(without_email)
    with pytest.raises(DeliveryFailed) as failed:
        await channel.send(without_email)
    assert failed.value.retryable is False
    assert smtp_server.mailbox.deliveries == []


@pytest.mark.integration
@PLAIN_AUTH
async def test_a_server_requiring_auth_accepts_the_configured_credentials(
    smtp_auth_server: SmtpServer,
) -> None:
    config = smtp_config(smtp_auth_server.port, username=SMTP_USER, password=SMTP_PASSWORD)

    await EmailChannel(config).send(a_notice())

    assert len(smtp_auth_server.mailbox.deliveries) == 1


@pytest.mark.integration
@PLAIN_AUTH
@pytest.mark.parametrize(
    "credentials",
    [{}, {"username": SMTP_USER, "password": "wrong"}],
    ids=["no-credentials", "wrong-password"],
)
async def test_refused_credentials_are_not_retryable(
    smtp_auth_server: SmtpServer, credentials: dict[str, str]
) -> None:
    channel = EmailChannel(smtp_config(smtp_auth_server.port, **credentials))

    with pytest.raises(DeliveryFailed) as failed:
        await channel.send(a_notice())

    assert failed.value.retryable is False
    assert "owner@example.org" not in failed.value.reason
    assert smtp_auth_server.mailbox.deliveries == []


@pytest.mark.integration
@pytest.mark.parametrize(
    ("reply", "retryable"),
    [("550 5.1.1 <owner@example.org>: no such user", False), ("451 4.3.0 try later", True)],
    ids=["permanent", "temporary"],
)
async def test_a_refused_recipient_is_retryable_only_when_temporary(
    smtp_server: SmtpServer, reply: str, retryable: bool
) -> None:
    smtp_server.mailbox.rcpt_reply = reply

    with pytest.raises(DeliveryFailed) as failed:
        await EmailChannel(smtp_config(smtp_server.port)).send(a_notice())

    assert failed.value.retryable is retryable
    assert "owner@example.org" not in failed.value.reason


@pytest.mark.integration
async def test_starttls_against_a_server_without_it_is_not_retryable(
    smtp_server: SmtpServer,
) -> None:
    with pytest.raises(DeliveryFailed) as failed:
        await EmailChannel(smtp_config(smtp_server.port, starttls=True)).send(a_notice())

    assert failed.value.retryable is False
    assert smtp_server.mailbox.deliveries == []


@pytest.mark.integration
async def test_starttls_verifies_the_server_certificate(
    smtp_untrusted_tls_server: SmtpServer,
) -> None:
    channel = EmailChannel(smtp_config(smtp_untrusted_tls_server.port, starttls=True))

    with pytest.raises(DeliveryFailed) as failed:
        await channel.send(a_notice())

    assert failed.value.reason == "smtp starttls: certificate not trusted"
    assert failed.value.retryable is False
    assert smtp_untrusted_tls_server.mailbox.deliveries == []


@pytest.mark.integration
async def test_a_server_that_is_down_is_a_retryable_failure() -> None:
    channel = EmailChannel(smtp_config(free_port()))
    delays: list[float] = []

    async def record_sleep(delay: float) -> None:
        delays.append(delay)

    with pytest.raises(DeliveryFailed) as failed:
        await send_with_retries(channel, a_notice(), attempts=3, sleep=record_sleep)

    assert failed.value.retryable is True
    assert len(delays) == 2


class SlowToAnswerMailbox(Mailbox):
    """Keeps the message, then waits ``stall_s`` before answering the end of it."""

    def __init__(self, stall_s: float) -> None:
        super().__init__()
        self.stall_s = stall_s

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(self.stall_s)
        return answer


class FlakyMailbox(Mailbox):
    """Answers the first ``refusals`` RCPTs with ``reply``, the rest as usual; or, with
    ``data_reply``, takes no message and answers the end of each with it."""

    def __init__(self, reply: str = "", refusals: int = 0, data_reply: str | None = None):
        super().__init__()
        self.reply = reply
        self.refusals = refusals
        self.data_reply = data_reply
        self.rcpt_seen = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        self.rcpt_seen += 1
        if self.rcpt_seen <= self.refusals:
            return self.reply
        return await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply is not None:
            return self.data_reply
        return await super().handle_DATA(server, session, envelope)


smtp_answering = contextlib.contextmanager(_run_smtp)


@pytest.fixture
def slow_to_answer_smtp() -> Iterator[SmtpServer]:
    yield from _run_smtp(SlowToAnswerMailbox(stall_s=3.0))


async def no_sleep(_delay: float) -> None:
    raise AssertionError("a retry was scheduled")


@pytest.mark.integration
async def test_no_answer_after_the_message_was_sent_is_uncertain_and_not_retried(
    slow_to_answer_smtp: SmtpServer,
) -> None:
    channel = EmailChannel(smtp_config(slow_to_answer_smtp.port, timeout_s=1.0))

    with pytest.raises(DeliveryUncertain) as uncertain:
        await send_with_retries(channel, a_notice(), attempts=3, sleep=no_sleep)

    assert uncertain.value.retryable is False
    assert "the mail server may have it" in uncertain.value.reason
    assert "owner@example.org" not in uncertain.value.reason
    [delivery] = slow_to_answer_smtp.mailbox.deliveries  # exactly one, never a second
    assert delivery.message["Message-ID"] == "<3f9c2a7e5b1d4c08a6e2f1b0c9d8e7f6@docket.test>"


@pytest.mark.integration
async def test_a_temporary_refusal_at_rcpt_is_retried_and_then_delivered() -> None:
    delays: list[float] = []

    async def record_sleep(delay: float) -> None:
        delays.append(delay)

    with smtp_answering(FlakyMailbox("451 4.3.0 try later", refusals=1)) as server:
        channel = EmailChannel(smtp_config(server.port, timeout_s=1.0))
        receipt = await send_with_retries(channel, a_notice(), attempts=3, sleep=record_sleep)

        assert len(delays) == 1
        [delivery] = server.mailbox.deliveries
        assert receipt.provider_message_id == delivery.message["Message-ID"]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("reply", "retryable"),
    [("451 4.3.0 queue full", True), ("554 5.6.0 message refused", False)],
    ids=["temporary", "permanent"],
)
async def test_a_clear_answer_to_the_message_is_a_definite_failure(
    reply: str, retryable: bool
) -> None:
    with smtp_answering(FlakyMailbox(data_reply=reply)) as server:
        with pytest.raises(DeliveryFailed) as failed:
            await EmailChannel(smtp_config(server.port)).send(a_notice())

        assert not isinstance(failed.value, DeliveryUncertain)
        assert failed.value.retryable is retryable
        assert failed.value.reason == f"smtp SMTPDataError: {reply[:3]}"


def test_smtp_credentials_come_in_pairs_and_the_password_stays_hidden() -> None:
    with pytest.raises(ValidationError):
        smtp_config(25, username=SMTP_USER)

    config = smtp_config(25, username=SMTP_USER, password=SMTP_PASSWORD)
    assert SMTP_PASSWORD not in repr(config)


def test_a_notice_id_or_header_field_that_could_forge_headers_is_refused() -> None:
    with pytest.raises(ValidationError):
        a_notice(notice_id="abc>\r\nBcc: someone@example.org")
    with pytest.raises(ValidationError):
        a_notice(subject="Hello\r\nBcc: someone@example.org")
