"""Whatever the channel, one account hears about one request once: the database itself
refuses a second notice to the same account, and the dispatcher never claims one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from services.notifier.store import NoticePlan, NotifierStore
from shared.db import Database
from shared.events import NoticeTarget
from tests.fixtures.postgres import DocketDatabase

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[3] / "services" / "notifier" / "migrations"


def plan(channel: str) -> NoticePlan:
    return NoticePlan(
        notice_id=f"notice-{channel}",
        request_id="req-one-per-account",
        account_key="acct-1",
        channel=channel,
        target=NoticeTarget(handle="@someone", platform_user_id="acct-1"),
        state="scheduled",
        reason="POLICY_DEFAULT_NOTICE",
        not_before=datetime.now(UTC) - timedelta(seconds=1),
    )


async def test_a_second_channel_is_never_claimed_nor_sent(
    docket_database: DocketDatabase,
) -> None:
    database = Database(docket_database.url("notifier"), "notifier", MIGRATIONS)
    async with database.opened():
        store = NotifierStore(database)
        now = datetime.now(UTC)
        async with store.pool.acquire() as conn, conn.transaction():
            await store.lock_request(conn, "req-one-per-account")
            await store.apply_plan(conn, plan("email"))
            await store.apply_plan(conn, plan("webhook"))
            await store.mark_sending(conn, "notice-email", now + timedelta(minutes=1))
        async with store.pool.acquire() as conn, conn.transaction():
            due = await store.lock_due_notices(conn, ["req-one-per-account"], now)
        assert [row.notice_id for row in due] == []  # email is leased, webhook is barred

        with pytest.raises(asyncpg.UniqueViolationError):
            async with store.pool.acquire() as conn, conn.transaction():
                await store.mark_sending(conn, "notice-webhook", now + timedelta(minutes=1))
