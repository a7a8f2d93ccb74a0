"""In-app notices: a signed JSON POST to the platform's notification endpoint.

Each request carries three headers:

``Idempotency-Key: <notice_id>``
    The same for every attempt at the same notice, including resends after a crash: the
    receiver shows a notice once per key.
``X-Docket-Timestamp: <unix seconds>``
    When this attempt was signed.
``X-Docket-Signature: v1=<hex>``
    ``HMAC-SHA256(secret, f"{timestamp}.{raw body}")`` in lowercase hex.

A receiver checks the signature over the raw body bytes, before parsing them, with
``verify_webhook_signature`` (or the same few lines in its own language)::

    ok = verify_webhook_signature(
        secret,
        request.headers["X-Docket-Timestamp"],
        await request.body(),
        request.headers["X-Docket-Signature"],
    )

and answers 2xx once the notice is stored (a repeat of a known ``Idempotency-Key``
included), 4xx for a request it will never accept, 408/429/5xx to have it sent again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import httpx
import structlog

from services.notifier.channels.base import (
    DeliveryFailed,
    DeliveryReceipt,
    NoticeChannel,
    OutgoingNotice,
)
from services.notifier.channels.config import WebhookConfig

log = structlog.get_logger("docket.notifier.channels.webhook")

SIGNATURE_VERSION = "v1"


def sign_webhook(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Docket-Signature`` value for a body sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={digest.hexdigest()}"


def verify_webhook_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    tolerance_s: float = 300,
    now: float | None = None,
) -> bool:
    """Whether ``signature`` (the ``X-Docket-Signature`` header) was made with ``secret``
    over exactly these body bytes at ``timestamp`` (the ``X-Docket-Timestamp`` header),
    and that timestamp is within ``tolerance_s`` of ``now`` (default: the current time),
    which bounds replays. Compares in constant time; never raises on malformed input."""
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_s:
        return False
    expected = sign_webhook(secret, str(sent_at), body)
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


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
        self._client = httpx.AsyncClient(timeout=config.timeout_s, follow_redirects=False)

    def can_reach(self, notice: OutgoingNotice) -> bool:
        return bool(notice.platform_user_id or notice.handle)

    async def send(self, notice: OutgoingNotice) -> DeliveryReceipt:
        if not self.can_reach(notice):
            raise DeliveryFailed("the notice names no platform account", retryable=False)
        body = json.dumps(
            notice.model_dump(
                include={"notice_id", "request_id", "platform_user_id", "handle", "subject", "text"}
            ),
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": notice.notice_id,
            "X-Docket-Timestamp": timestamp,
            "X-Docket-Signature": sign_webhook(
                self._config.secret.get_secret_value(), timestamp, body
            ),
        }
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
