"""Which e-mail failures may be retried: before the message was handed over, a
temporary failure may; after the whole message was sent, no answer means the mail
server may have it (``DeliveryUncertain``), never sent again automatically."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime

import pytest

from services.notifier.channels.base import (
    DeliveryFailed,
    DeliveryReceipt,
    DeliveryUncertain,
    NoticeChannel,
    OutgoingNotice,
)
from services.notifier.channels.email import smtp_failure
from services.notifier.channels.retry import may_send_again, send_with_retries
from services.notifier.dispatcher import channel_uncertain
from services.notifier.domain.notice import Platform

NO_ANSWER = [
    smtplib.SMTPServerDisconnected("Connection unexpectedly closed: timed out"),
    TimeoutError("timed out"),
    ConnectionResetError(104, "reset"),
]


@pytest.mark.parametrize("error", NO_ANSWER, ids=lambda e: type(e).__name__)
def test_no_answer_before_the_message_was_handed_over_is_retryable(error: Exception) -> None:
    failure = smtp_failure(error, handed_over=False)
    assert not isinstance(failure, DeliveryUncertain)
    assert failure.retryable is True
    assert may_send_again(failure)


@pytest.mark.parametrize("error", NO_ANSWER, ids=lambda e: type(e).__name__)
def test_no_answer_after_the_message_was_handed_over_is_uncertain(error: Exception) -> None:
    failure = smtp_failure(error, handed_over=True)
    assert isinstance(failure, DeliveryUncertain)
    assert failure.retryable is False
    assert not may_send_again(failure)
    assert "the mail server may have it" in failure.reason
    assert type(error).__name__ in failure.reason


@pytest.mark.parametrize(
    ("code", "retryable"), [(451, True), (452, True), (554, False), (550, False)]
)
def test_a_clear_answer_to_the_message_is_a_definite_failure(code: int, retryable: bool) -> None:
    failure = smtp_failure(smtplib.SMTPDataError(code, b"<a@b.example> refused"), handed_over=True)
    assert not isinstance(failure, DeliveryUncertain)
    assert failure.retryable is retryable
    assert failure.reason == f"smtp SMTPDataError: {code}"


def test_refusals_before_data_keep_their_meaning() -> None:
    refused = smtplib.SMTPRecipientsRefused({"a@b.example": (451, b"later")})
    assert smtp_failure(refused).retryable is True
    assert smtp_failure(smtplib.SMTPSenderRefused(553, b"no", "x@y.example")).retryable is False
    assert smtp_failure(ConnectionRefusedError(111, "refused")).retryable is True
    assert "a@b.example" not in smtp_failure(refused).reason


def test_the_dispatchers_reason_says_the_notice_is_held() -> None:
    reason = channel_uncertain("smtp: no answer (TimeoutError); the mail server may have it")
    assert reason.startswith("delivery uncertain: smtp: no answer")
    assert reason.endswith("held for counsel, not sent again")


class ScriptedChannel(NoticeChannel):
    name = "email"

    def __init__(self, failures: list[DeliveryFailed]) -> None:
        self.failures = failures
        self.sends = 0

    def can_reach(self, notice: OutgoingNotice) -> bool:
        return True

    async def send(self, notice: OutgoingNotice) -> DeliveryReceipt:
        self.sends += 1
        if self.failures:
            raise self.failures.pop(0)
        return DeliveryReceipt(channel=self.name, sent_at=datetime.now(UTC))


NOTICE = OutgoingNotice(
    notice_id="n1",
    request_id="r1",
    recipient_email="a@b.example",
    subject="s",
    text="t",
    platform=Platform(name="Chirp", sender="notices@docket.test"),
)


async def no_wait(_delay: float) -> None:
    return None


async def test_an_uncertain_delivery_is_never_sent_again() -> None:
    channel = ScriptedChannel([DeliveryUncertain("no answer; the mail server may have it")])
    with pytest.raises(DeliveryUncertain):
        await send_with_retries(channel, NOTICE, attempts=5, sleep=no_wait)
    assert channel.sends == 1


async def test_a_failure_before_the_hand_over_is_sent_again() -> None:
    channel = ScriptedChannel([DeliveryFailed("smtp recipient refused: 451", retryable=True)])
    receipt = await send_with_retries(channel, NOTICE, attempts=3, sleep=no_wait)
    assert channel.sends == 2
    assert receipt.channel == "email"
