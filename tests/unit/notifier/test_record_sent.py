"""A notice that has left is recorded as sent even across a database outage, so its
lease never runs out unrecorded and it is not delivered a second time."""

from __future__ import annotations

import asyncpg
import pytest

from services.notifier.dispatcher import record_sent


async def test_a_sent_notice_is_recorded_once_the_database_is_back() -> None:
    outcomes: list[BaseException | None] = [
        ConnectionRefusedError(),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        None,
    ]
    calls = 0

    async def mark_sent() -> None:
        nonlocal calls
        calls += 1
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    await record_sent(mark_sent, max_delay_s=0.01)
    assert calls == 3
    assert outcomes == []


async def test_a_bug_is_not_retried_forever() -> None:
    async def mark_sent() -> None:
        raise ValueError("not a database outage")

    with pytest.raises(ValueError, match="outage"):
        await record_sent(mark_sent)
