"""The webhook channel against a real local HTTP receiver (uvicorn) that verifies each
request with the ``standardwebhooks`` library, as any platform would."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import ValidationError

from services.notifier.channels.base import DeliveryFailed, OutgoingNotice
from services.notifier.channels.config import WebhookConfig
from services.notifier.channels.retry import send_with_retries
from services.notifier.channels.webhook import WebhookChannel
from services.notifier.domain.notice import Platform
from tests.fixtures.servers import free_port
from tests.integration.notifier.conftest import (
    WEBHOOK_SECRET,
    WebhookReceiver,
    standard_webhooks_verifies,
)

NOTICE_ID = "9b1e6f2c0d4a4e7f8a3b5c6d7e8f9a0b"

PLATFORM = Platform(name="Chirp", sender="notices@chirp.example")


def a_notice(**changes: object) -> OutgoingNotice:
    fields: dict[str, object] = {
        "notice_id": NOTICE_ID,
        "request_id": "req-0314",
        "recipient_email": None,
        "platform_user_id": "8214",
        "handle": "@ALT_uscis",
        "subject": "A government request for your account data",
        "text": "A request under 19 U.S.C. § 1509 names your account.",
        "html": "<p>not sent by webhook</p>",
    }
    return OutgoingNotice.model_validate({"platform": PLATFORM} | fields | changes)


@pytest.fixture
async def channel(webhook_receiver: WebhookReceiver) -> AsyncIterator[WebhookChannel]:
    webhook = WebhookChannel(
        WebhookConfig(url=webhook_receiver.url, secret=WEBHOOK_SECRET, timeout_s=2.0)
    )
    try:
        yield webhook
    finally:
        await webhook.aclose()


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.mark.integration
async def test_a_notice_is_posted_signed_with_its_idempotency_key(
    channel: WebhookChannel, webhook_receiver: WebhookReceiver
) -> None:
    receipt = await channel.send(a_notice())

    [hook] = webhook_receiver.received
    assert hook.signature_valid
    assert hook.headers["webhook-id"] == NOTICE_ID
    assert hook.headers["content-type"] == "application/json"
    assert abs(int(hook.headers["webhook-timestamp"]) - time.time()) < 60
    version, signature = hook.headers["webhook-signature"].split(",", 1)
    assert version == "v1"
    assert len(base64.b64decode(signature, validate=True)) == 32  # HMAC-SHA256
    assert json.loads(hook.body) == {
        "notice_id": NOTICE_ID,
        "request_id": "req-0314",
        "platform_user_id": "8214",
        "handle": "@ALT_uscis",
        "subject": "A government request for your account data",
        "text": "A request under 19 U.S.C. § 1509 names your account.",
        "locale": "en",
        "platform": {
            "name": "Chirp",
            "sender": "notices@chirp.example",
            "reply_to": None,
            "legal_help_url": "https://example.org/legal-help",
            "legal_team_url": "https://example.org/legal-requests",
        },
    }
    assert receipt.channel == "webhook"


@pytest.mark.integration
async def test_two_503s_then_200_is_one_receipt_after_three_requests(
    channel: WebhookChannel, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.statuses = [503, 503]
    sleeps = Sleeps()

    receipt = await send_with_retries(
        channel, a_notice(), attempts=4, base_delay_s=0.5, max_delay_s=10.0, sleep=sleeps
    )

    assert receipt.channel == "webhook"
    assert len(webhook_receiver.received) == 3
    assert {hook.headers["webhook-id"] for hook in webhook_receiver.received} == {NOTICE_ID}
    assert all(hook.signature_valid for hook in webhook_receiver.received)
    assert len(sleeps.delays) == 2
    assert 0.25 <= sleeps.delays[0] <= 0.5
    assert 0.5 <= sleeps.delays[1] <= 1.0


@pytest.mark.integration
async def test_a_400_fails_at_once_and_is_not_retryable(
    channel: WebhookChannel, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.statuses = [400]
    sleeps = Sleeps()

    with pytest.raises(DeliveryFailed) as failed:
        await send_with_retries(channel, a_notice(), attempts=5, sleep=sleeps)

    assert failed.value.retryable is False
    assert len(webhook_receiver.received) == 1
    assert sleeps.delays == []


@pytest.mark.integration
@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
async def test_retryable_statuses_are_retried_until_attempts_run_out(
    channel: WebhookChannel, webhook_receiver: WebhookReceiver, status: int
) -> None:
    webhook_receiver.statuses = [status] * 3
    sleeps = Sleeps()

    with pytest.raises(DeliveryFailed) as failed:
        await send_with_retries(channel, a_notice(), attempts=3, sleep=sleeps)

    assert failed.value.retryable is True
    assert failed.value.reason == f"webhook answered {status}"
    assert len(webhook_receiver.received) == 3
    assert len(sleeps.delays) == 2


@pytest.mark.integration
async def test_retry_after_is_honoured_up_to_the_maximum_delay(
    channel: WebhookChannel, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.statuses = [429, 429]
    webhook_receiver.retry_after = "3"
    sleeps = Sleeps()

    await send_with_retries(
        channel, a_notice(), attempts=3, base_delay_s=0.1, max_delay_s=5.0, sleep=sleeps
    )
    assert sleeps.delays == [3.0, 3.0]

    webhook_receiver.statuses = [429]
    sleeps.delays.clear()
    await send_with_retries(
        channel, a_notice(), attempts=3, base_delay_s=0.1, max_delay_s=2.0, sleep=sleeps
    )
    assert sleeps.delays == [2.0]


@pytest.mark.integration
async def test_a_receiver_that_rejects_the_signature_gets_no_retry(
    webhook_receiver: WebhookReceiver,
) -> None:
    other_secret = "whsec_" + base64.b64encode(b"another platform's signing key!!").decode()
    wrong = WebhookChannel(WebhookConfig(url=webhook_receiver.url, secret=other_secret))
    try:
        with pytest.raises(DeliveryFailed) as failed:
            await wrong.send(a_notice())
    finally:
        await wrong.aclose()

    assert failed.value.retryable is False
    assert failed.value.reason == "webhook answered 401"


@pytest.mark.integration
async def test_a_timeout_is_retryable(webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.delay_s = 1.0
    slow = WebhookChannel(
        WebhookConfig(url=webhook_receiver.url, secret=WEBHOOK_SECRET, timeout_s=0.2)
    )
    try:
        with pytest.raises(DeliveryFailed) as failed:
            await slow.send(a_notice())
    finally:
        await slow.aclose()

    assert failed.value.retryable is True


@pytest.mark.integration
async def test_an_unreachable_receiver_is_retryable() -> None:
    down = WebhookChannel(
        WebhookConfig(url=f"http://127.0.0.1:{free_port()}/notices", secret=WEBHOOK_SECRET)
    )
    try:
        with pytest.raises(DeliveryFailed) as failed:
            await down.send(a_notice())
    finally:
        await down.aclose()

    assert failed.value.retryable is True


async def test_the_channel_needs_a_platform_account() -> None:
    channel = WebhookChannel(WebhookConfig(url="http://127.0.0.1:9/notices", secret=WEBHOOK_SECRET))
    nobody = a_notice(platform_user_id=None, handle=None)
    try:
        assert channel.can_reach(a_notice(platform_user_id=None))
        assert not channel.can_reach(nobody)
        with pytest.raises(DeliveryFailed) as failed:
            await channel.send(nobody)
    finally:
        await channel.aclose()

    assert failed.value.retryable is False


@pytest.mark.integration
async def test_the_receiver_refuses_a_tampered_body_or_a_replayed_old_signature(
    channel: WebhookChannel, webhook_receiver: WebhookReceiver
) -> None:
    await channel.send(a_notice())
    [genuine] = webhook_receiver.received
    signed = {
        name: genuine.headers[name]
        for name in ("content-type", "webhook-id", "webhook-timestamp", "webhook-signature")
    }
    tampered = genuine.body.replace(b"req-0314", b"req-0315")
    assert tampered != genuine.body
    stale = signed | {"webhook-timestamp": str(int(time.time()) - 3600)}

    async with httpx.AsyncClient() as client:
        forged = await client.post(webhook_receiver.url, content=tampered, headers=signed)
        replayed = await client.post(webhook_receiver.url, content=genuine.body, headers=stale)
        again = await client.post(webhook_receiver.url, content=genuine.body, headers=signed)

    assert (forged.status_code, replayed.status_code, again.status_code) == (401, 401, 200)
    assert standard_webhooks_verifies(WEBHOOK_SECRET, genuine.body, genuine.headers)
    assert not standard_webhooks_verifies(WEBHOOK_SECRET, tampered, genuine.headers)


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("", "must start with 'whsec_'"),
        ("test-webhook-secret", "must start with 'whsec_'"),
        ("whsec_CHANGE-ME", "followed by base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "24 to 64 bytes, got 5"),
        ("whsec_" + base64.b64encode(bytes(65)).decode(), "24 to 64 bytes, got 65"),
    ],
)
def test_a_secret_that_is_not_a_standard_webhooks_secret_is_refused(
    secret: str, problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem) as refused:
        WebhookConfig(url="https://platform.example/notices", secret=secret)
    if secret:
        assert secret not in str(refused.value)
