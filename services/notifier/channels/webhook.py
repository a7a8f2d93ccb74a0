"""In-app notices: a JSON POST to the platform's notification endpoint, signed as
Standard Webhooks (https://www.standardwebhooks.com) says, so a receiver verifies it
with an off-the-shelf library.

Each request carries three headers:

``webhook-id: <notice_id>``
    The same for every attempt at the same notice, including resends after a crash: the
    receiver shows a notice once per id.
``webhook-timestamp: <unix seconds>``
    When this attempt was signed.
``webhook-signature: v1,<base64>``
    ``HMAC-SHA256(key, f"{id}.{timestamp}.{raw body}")``, where the key is the base64
    part of the ``whsec_...`` secret, decoded.

A receiver checks the signature over the raw body bytes, before parsing them, with the
``standardwebhooks`` package (or its port in any other language)::

    from standardwebhooks import Webhook

    payload = Webhook(secret).verify(await request.body(), request.headers)

which raises for a bad signature or a timestamp more than five minutes away, and
answers 2xx once the notice is stored (a repeat of a known ``webhook-id`` included), 4xx
for a request it will never accept, 408/429/5xx to have it sent again.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import structlog
from standardwebhooks import Webhook

from services.notifier.channels.base import (
    DeliveryFailed,
    DeliveryReceipt,
    NoticeChannel,
    OutgoingNotice,
)
from services.notifier.channels.config import WebhookConfig

log = structlog.get_logger("docket.notifier.channels.webhook")

#: The members of the JSON body: the notice, its language and the platform it speaks
#: for (``name``, ``sender``, ``reply_to``, ``legal_help_url``, ``legal_team_url``), as
#: in the e-mail.
PAYLOAD_FIELDS = frozenset(
    {
        "notice_id",
        "request_id",
        "platform_user_id",
        "handle",
        "locale",
        "platform",
        "subject",
        "text",
    }
)


def webhook_body(notice: OutgoingNotice) -> bytes:
    """The JSON body sent for ``notice`` (UTF-8, compact)."""
    return json.dumps(
        notice.model_dump(mode="json", include=set(PAYLOAD_FIELDS)),
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


def webhook_headers(signer: Webhook, notice_id: str, body: bytes, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt at sending ``body`` at ``at``."""
    return {
        "Content-Type": "application/json",
        "webhook-id": notice_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signer.sign(notice_id, at, body.decode()),
    }


def retry_after_seconds(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds, when given as a number (the HTTP-date form is ignored)."""
    value = response.headers.get("Retry-After", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


class WebhookChannel(NoticeChannel):
    name = "webhook"

    def __init__(self, config: WebhookConfig) -> None:
        self._config = config
        self._signer = Webhook(config.secret.get_secret_value())
        self._client = httpx.AsyncClient(timeout=config.timeout_s, follow_redirects=False)

    def can_reach(self, notice: OutgoingNotice) -> bool:
        return bool(notice.platform_user_id or notice.handle)

    async def send(self, notice: OutgoingNotice) -> DeliveryReceipt:
        if not self.can_reach(notice):
            raise DeliveryFailed("the notice names no platform account", retryable=False)
        body = webhook_body(notice)
        headers = webhook_headers(self._signer, notice.notice_id, body, datetime.now(UTC))
        try:
            response = await self._client.post(self._config.url, content=body, headers=headers)
        except httpx.UnsupportedProtocol:
            raise DeliveryFailed("webhook url has an unsupported scheme", False) from None
        except httpx.TransportError as error:  # timeouts, refused or dropped connections
            failure = DeliveryFailed(f"webhook unreachable ({type(error).__name__})", True)
            log.warning("webhook_not_sent", notice_id=notice.notice_id, reason=failure.reason)
            raise failure from None
        status = response.status_code
        if not response.is_success:
            # The response body is not read into the reason: it may echo the notice.
            failure = DeliveryFailed(
                f"webhook answered {status}",
                retryable=status in (408, 429) or status >= 500,
                retry_after_s=retry_after_seconds(response),
            )
            log.warning(
                "webhook_not_sent",
                notice_id=notice.notice_id,
                status=status,
                retryable=failure.retryable,
            )
            raise failure
        log.info("webhook_sent", notice_id=notice.notice_id, status=status)
        return DeliveryReceipt(channel=self.name, sent_at=datetime.now(UTC))

    async def aclose(self) -> None:
        await self._client.aclose()
