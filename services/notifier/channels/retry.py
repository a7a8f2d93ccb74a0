"""A short burst of retries around one channel send, for blips (a 503, a dropped
connection). Longer outages are the dispatcher's business: it records the failure and
schedules the notice again later, with the same notice id."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import structlog

from services.notifier.channels.base import (
    DeliveryFailed,
    DeliveryReceipt,
    NoticeChannel,
    OutgoingNotice,
)

log = structlog.get_logger("docket.notifier.channels.retry")

Sleep = Callable[[float], Awaitable[None]]


def backoff_delay(
    retry: int, base_delay_s: float, max_delay_s: float, jitter: Callable[[], float]
) -> float:
    """Delay before retry number ``retry`` (1, 2, ...): ``base * 2^(retry-1)``, capped at
    ``max_delay_s``, then scaled into its upper half by ``jitter()`` in [0, 1) so senders
    that failed together do not come back together."""
    ceiling = min(base_delay_s * 2.0 ** (retry - 1), max_delay_s)
    return ceiling * (0.5 + jitter() / 2)


async def send_with_retries(
    channel: NoticeChannel,
    notice: OutgoingNotice,
    attempts: int = 3,
    base_delay_s: float = 0.5,
    max_delay_s: float = 5.0,
    *,
    sleep: Sleep = asyncio.sleep,
    jitter: Callable[[], float] = random.random,
) -> DeliveryReceipt:
    """Send, retrying retryable ``DeliveryFailed`` up to ``attempts`` sends in all.

    Waits with exponential backoff and jitter between sends, or as long as the receiver
    asked (``retry_after_s``), never more than ``max_delay_s``. A failure that is not
    retryable is raised at once; when every attempt failed, the last failure is raised.
    Keep ``attempts`` x (the channel's timeout + ``max_delay_s``) below the dispatcher's
    lease, or another instance may send the same notice concurrently.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(1, attempts):
        try:
            return await channel.send(notice)
        except DeliveryFailed as failure:
            if not failure.retryable:
                raise
            delay = backoff_delay(attempt, base_delay_s, max_delay_s, jitter)
            if failure.retry_after_s is not None:
                delay = min(max(delay, failure.retry_after_s), max_delay_s)
            log.info(
                "notice_send_retrying",
                notice_id=notice.notice_id,
                channel=channel.name,
                attempt=attempt,
                delay_s=round(delay, 3),
            )
            await sleep(delay)
    return await channel.send(notice)  # the last attempt: its failure is the caller's
