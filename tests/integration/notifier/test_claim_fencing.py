"""A notifier that stalls past its claim's lease (a slow amendment barrier, a loaded
machine, a batch of twenty slow sends) must not send a notice another instance has
claimed since: the lease is the claim's fencing token. Found by the soak: two e-mails
with one Message-ID, one from each notifier instance.

Two dispatchers run in-process on the real database, broker (their confirmations) and
an SMTP server; the first one's last look before the send is held until the second has
claimed and sent the notice."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from deploy.kafka.security import KafkaAccess
from services.notifier.channels.config import SmtpConfig
from services.notifier.channels.email import EmailChannel
from services.notifier.dispatcher import (
    AmendmentsRead,
    DispatchSettings,
    NoticeDispatcher,
    NoticeMetrics,
)
from services.notifier.planning import plan_request
from services.notifier.store import NotifierStore
from shared.accounts import Account, AccountDirectory
from shared.db import Database
from shared.kafka import EventPublisher, create_broker
from shared.kafka_acl import principal_of
from shared.schemas import SCHEMAS
from tests.fixtures.postgres import DocketDatabase
from tests.integration.notifier.conftest import SmtpServer, _run_smtp
from tests.integration.notifier.test_schedule import gagged_subpoena, request_events

pytestmark = pytest.mark.integration

LEASE_S = 1.0


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    yield from _run_smtp()


class StalledLastLook:
    """The barrier answers at once before the claim; the last look before the send
    waits until ``release`` is set."""

    def __init__(self) -> None:
        self.calls = 0
        self.waiting = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self) -> datetime:
        self.calls += 1
        if self.calls > 1:
            self.waiting.set()
            await self.release.wait()
        return datetime.now(UTC)


async def all_amendments_read() -> datetime:
    return datetime.now(UTC)


async def test_a_sender_that_outlived_its_lease_does_not_send_a_reclaimed_notice(
    kafka_access: KafkaAccess,
    docket_database: DocketDatabase,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = secrets.token_hex(4)
    account = Account(
        handle=f"@fenced_{token}",
        platform_user_id=f"acct-fenced-{token}",
        email=f"fenced-{token}@example.org",
        country="US",
    )
    monkeypatch.setattr("tests.integration.notifier.test_schedule.ACCOUNT", account)
    accounts = AccountDirectory([account])
    now = datetime.now(UTC)
    request_id = f"fenced-{token}"
    subpoena = gagged_subpoena(request_id, now, None)  # no gag: due at once
    received, verdict = request_events(subpoena, request_id, (account,))

    database = Database(docket_database.url("notifier"), "notifier", SCHEMAS["notifier"])
    broker = create_broker(
        kafka_access.bootstrap_servers,
        "notifier",
        TracerProvider(),
        CollectorRegistry(),
        kafka_access.security(principal_of("notifier")),
    )
    channel = EmailChannel(SmtpConfig(host="127.0.0.1", port=smtp_server.port))
    await broker.start()
    try:
        async with database.opened():
            store = NotifierStore(database)
            async with store.pool.acquire() as conn, conn.transaction():
                await store.lock_request(conn, request_id)
                await store.save_submission(conn, received)
                await store.save_verdict(conn, verdict)
                for plan in plan_request(verdict, received.submission, (), accounts, now):
                    await store.apply_plan(conn, plan.notice)

            def dispatcher(amendments_read: AmendmentsRead) -> NoticeDispatcher:
                return NoticeDispatcher(
                    store,
                    accounts,
                    {"email": channel},
                    EventPublisher(broker, source="/docket/notifier"),
                    TracerProvider().get_tracer("test"),
                    NoticeMetrics(CollectorRegistry()),
                    amendments_read,
                    DispatchSettings(lease_s=LEASE_S),
                )

            def delivered() -> int:
                return sum(
                    1 for d in smtp_server.mailbox.deliveries if d.rcpt_tos == [account.email]
                )

            stalled = StalledLastLook()
            first = asyncio.create_task(dispatcher(stalled).run_once())
            await asyncio.wait_for(stalled.waiting.wait(), 30)  # claimed, about to look
            await asyncio.sleep(LEASE_S + 0.5)  # its lease runs out

            second = dispatcher(all_amendments_read)
            assert await second.run_once() == 1  # claimed again, and sent
            assert delivered() == 1

            stalled.release.set()
            assert await asyncio.wait_for(first, 30) == 1  # it had claimed one...
            await asyncio.sleep(0.5)
            assert delivered() == 1  # ...and did not send it
            assert await store.count_by_state() == {"sent": 1}
    finally:
        await broker.stop()
