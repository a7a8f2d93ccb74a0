"""A short burst of retries around one channel send, for blips (a 503, a dropped
connection). Longer outages are the dispatcher's business: it records the failure and
schedules the notice again later, with the same notice id."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import replace

from services.notifier.channels.base import (
    DeliveryFailed,
    DeliveryReceipt,
    DeliveryUncertain,
    NoticeChannel,
    OutgoingNotice,
)
from shared.retry import CHANNEL_SEND

Sleep = Callable[[float], Awaitable[None]]


def may_send_again(error: BaseException) -> bool:
    """A failure after which the same notice may be sent again at once: a retryable
    ``DeliveryFailed``, never one that leaves its delivery uncertain."""
    return (
        isinstance(error, DeliveryFailed)
        and error.retryable
        and not isinstance(error, DeliveryUncertain)
    )


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
    """Send, retrying retryable ``DeliveryFailed`` up to ``attempts`` sends in all, with
    Docket's retry policy (``shared.retry.CHANNEL_SEND``).

    Waits with exponential backoff and jitter between sends, or as long as the receiver
    asked (``retry_after_s``), never more than ``max_delay_s``. A failure that is not
    retryable is raised at once, and so is a ``DeliveryUncertain`` (the receiver may
    have the notice: another send could deliver it twice); when every attempt failed,
    the last failure is raised.
    Keep ``attempts`` x (the channel's timeout + ``max_delay_s``) below the dispatcher's
    lease, or another instance may send the same notice concurrently.
    """
    policy = replace(CHANNEL_SEND, attempts=attempts, initial_s=base_delay_s, max_s=max_delay_s)
    return await policy.call(
        lambda: channel.send(notice),
        retry_if=may_send_again,
        wait_hint=lambda error: error.retry_after_s if isinstance(error, DeliveryFailed) else None,
        sleep=sleep,
        jitter=jitter,
        notice_id=notice.notice_id,
        channel=channel.name,
    )
