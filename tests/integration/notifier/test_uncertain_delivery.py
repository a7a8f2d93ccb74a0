"""A notifier killed after the mail server took a notice but before the send was
recorded: the notice's delivery is uncertain. It is held for counsel, with a
``NotificationFailed`` saying so in the audit trail, and never sent a second time
when its lease runs out. A claim killed before its send started is still sent once.

The kill is deterministic: the SMTP server SIGKILLs the notifier process from inside
its DATA handler, after it holds the message and before it answers."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from deploy.kafka.security import KafkaAccess
from services.notifier.dispatcher import DELIVERY_UNCERTAIN
from services.notifier.store import NoticePlan, NotifierStore
from shared.db import Database
from shared.events import NoticeTarget
from shared.schemas import SCHEMAS
from tests.fixtures.postgres import DocketDatabase
from tests.integration.notifier.conftest import Mailbox, SmtpServer, _run_smtp
from tests.integration.notifier.test_schedule import (
    ACCOUNT,
    Notifiers,
    eventually,
    fresh_account,  # noqa: F401  (autouse: each test its own account, see test_schedule)
    gagged_subpoena,
    notices_of,
    notifiers,  # noqa: F401  (the fixture)
    publish,
    request_events,
)

pytestmark = pytest.mark.integration


class KillingMailbox(Mailbox):
    """Takes the message, then SIGKILLs the sender before answering: the notice has
    reached the mail server, and the notifier never learns so."""

    def __init__(self) -> None:
        super().__init__()
        self.victim: int | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        if self.victim is not None:
            os.kill(self.victim, signal.SIGKILL)
            self.victim = None
        return answer


@pytest.fixture
def killing_smtp() -> Iterator[SmtpServer]:
    """An SMTP server answering through a :class:`KillingMailbox`."""
    yield from _run_smtp(KillingMailbox())


def to_reader(mailbox: Mailbox) -> int:
    return sum(1 for d in mailbox.deliveries if d.rcpt_tos == [ACCOUNT.email])


async def notice_row(owner_url: str, request_id: str) -> asyncpg.Record | None:
    connection = await asyncpg.connect(owner_url)
    try:
        return await connection.fetchrow(
            "SELECT state, released_at, uncertain_since, uncertain_published"
            " FROM notifier.notices WHERE request_id = $1",
            request_id,
        )
    finally:
        await connection.close()


async def expire_lease(owner_url: str, request_id: str) -> None:
    """Stand-in for waiting out the 60 s lease: move its end into the past."""
    connection = await asyncpg.connect(owner_url)
    try:
        await connection.execute(
            "UPDATE notifier.notices SET next_attempt_at = now() - interval '1 second'"
            " WHERE request_id = $1 AND state = 'sending'",
            request_id,
        )
    finally:
        await connection.close()


async def test_killed_between_acceptance_and_record_is_held_not_resent(
    kafka_access: KafkaAccess,
    notifiers: Notifiers,  # noqa: F811
    killing_smtp: SmtpServer,
    docket_database: DocketDatabase,
) -> None:
    mailbox = killing_smtp.mailbox
    assert isinstance(mailbox, KillingMailbox)
    now = datetime.now(UTC)
    request_id = f"uncertain-{secrets.token_hex(4)}"
    notifier = await notifiers.start(smtp_port=killing_smtp.port)
    mailbox.victim = notifier.pid
    await publish(kafka_access, *request_events(gagged_subpoena(request_id, now, None), request_id))

    await eventually(lambda: to_reader(mailbox) == 1)
    await notifier.wait()
    assert notifier.returncode == -signal.SIGKILL
    row = await notice_row(docket_database.owner_url, request_id)
    assert row is not None
    assert row["state"] == "sending"  # the send was never recorded
    assert row["released_at"] is not None  # but it had been handed to the channel

    await expire_lease(docket_database.owner_url, request_id)
    await notifiers.start(smtp_port=killing_smtp.port)

    async def held() -> bool:
        found = await notice_row(docket_database.owner_url, request_id)
        return found is not None and found["state"] == "uncertain" and found["uncertain_published"]

    await eventually(held)
    await asyncio.sleep(3)  # several dispatcher rounds: nothing may be sent again
    assert to_reader(mailbox) == 1
    events = await notices_of(kafka_access, request_id)
    failed = [d for t, d in events if t == "NotificationFailed"]
    assert [d["error"] for d in failed] == [DELIVERY_UNCERTAIN]
    assert [t for t, _ in events if t == "UserNotified"] == []


def _plan(notice_id: str, request_id: str) -> NoticePlan:
    return NoticePlan(
        notice_id=notice_id,
        request_id=request_id,
        account_key=f"acct-{notice_id}",
        channel="email",
        target=NoticeTarget(handle="@someone", platform_user_id=f"acct-{notice_id}"),
        state="scheduled",
        reason="POLICY_DEFAULT_NOTICE",
        not_before=datetime.now(UTC) - timedelta(seconds=1),
    )


async def test_expired_claims_before_and_after_the_send_started(
    docket_database: DocketDatabase,
) -> None:
    """Before the send started: claimed again. After: held as uncertain, never claimed,
    no second channel for the account, and a late record of the send settles it."""
    database = Database(docket_database.url("notifier"), "notifier", SCHEMAS["notifier"])
    async with database.opened():
        store = NotifierStore(database)
        request_id = f"req-expired-{secrets.token_hex(3)}"
        async with store.pool.acquire() as conn, conn.transaction():
            now = await store.database_clock(conn)
            await store.lock_request(conn, request_id)
            for notice_id in ("never-left", "left"):
                await store.apply_plan(conn, _plan(notice_id, request_id))
                await store.mark_sending(conn, notice_id, now - timedelta(seconds=1))
            lease = now - timedelta(seconds=1)
            assert await store.mark_released(conn, "left", lease, now - timedelta(seconds=2), lease)
        async with store.pool.acquire() as conn, conn.transaction():
            later = await store.database_clock(conn)
            held = await store.hold_uncertain(conn, later, 10, DELIVERY_UNCERTAIN)
            due = await store.lock_due_notices(conn, [request_id], later)
        assert [row.notice_id for row in held] == ["left"]
        assert [row.notice_id for row in due] == ["never-left"]

        async with store.pool.acquire() as conn, conn.transaction():
            # The planner may not reschedule it, whatever the decision says now.
            assert not await store.apply_plan(conn, _plan("left", request_id))
        assert [r.notice_id for r in await store.uncertain_unpublished(10)] == ["left"]

        await store.mark_sent("left", later)  # its sender was only cut off, and recorded late
        assert (await store.count_by_state()).get("uncertain", 0) == 0


class StallingMailbox(Mailbox):
    """Takes the message, then answers the end of it only after ``stall_s``: longer
    than the channel's timeout, so the sender gives up with the message delivered."""

    def __init__(self, stall_s: float) -> None:
        super().__init__()
        self.stall_s = stall_s

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(self.stall_s)
        return answer


@pytest.fixture
def stalling_smtp() -> Iterator[SmtpServer]:
    """An SMTP server that never answers the DATA terminator in time (the notifier's
    SMTP timeout is the default 10 s)."""
    yield from _run_smtp(StallingMailbox(stall_s=12.0))


async def test_no_answer_after_the_message_was_sent_is_held_not_retried(
    kafka_access: KafkaAccess,
    notifiers: Notifiers,  # noqa: F811
    stalling_smtp: SmtpServer,
    docket_database: DocketDatabase,
) -> None:
    """The mail server has the notice and its answer never comes: no retry burst, no
    scheduled resend, the notice is 'uncertain' at once with a NotificationFailed saying
    the mail server may have it, and an expired lease sends nothing either."""
    mailbox = stalling_smtp.mailbox
    request_id = f"no-answer-{secrets.token_hex(4)}"
    await notifiers.start(smtp_port=stalling_smtp.port)
    await publish(
        kafka_access,
        *request_events(gagged_subpoena(request_id, datetime.now(UTC), None), request_id),
    )

    async def held() -> bool:
        found = await notice_row(docket_database.owner_url, request_id)
        return found is not None and found["state"] == "uncertain" and found["uncertain_published"]

    await eventually(lambda: to_reader(mailbox) == 1)
    await eventually(held, timeout_s=60)
    events = await notices_of(kafka_access, request_id)
    failed = [d for t, d in events if t == "NotificationFailed"]
    assert len(failed) == 1
    assert failed[0]["error"].startswith("delivery uncertain: smtp: no answer after the message")
    assert "the mail server may have it" in failed[0]["error"]
    assert failed[0]["attempts"] == 1
    assert [t for t, _ in events if t == "UserNotified"] == []

    connection = await asyncpg.connect(docket_database.owner_url)
    try:
        # Stand-in for the lease running out: nothing of this notice may be due again.
        await connection.execute(
            "UPDATE notifier.notices SET next_attempt_at = now() - interval '1 second'"
            " WHERE request_id = $1",
            request_id,
        )
    finally:
        await connection.close()
    await asyncio.sleep(15)  # past the stall and many dispatcher rounds
    assert to_reader(mailbox) == 1
    row = await notice_row(docket_database.owner_url, request_id)
    assert row is not None
    assert row["state"] == "uncertain"
    events = await notices_of(kafka_access, request_id)
    assert [t for t, _ in events] == ["NotificationFailed"]
