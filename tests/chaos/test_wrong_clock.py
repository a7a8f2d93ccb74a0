"""A notifier whose clock runs an hour fast must not release a gagged notice an hour
early. Legal time is the database's clock; the dispatcher releases nothing while its
own clock disagrees with the database's beyond ``clock_skew_limit_s``.

The dispatcher runs in-process on the real database, broker (its confirmations) and an
SMTP server, with its clock injected: the real time shifted by an hour, then by less
than the bound."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from deploy.kafka.security import KafkaAccess
from services.notifier.channels.config import SmtpConfig
from services.notifier.channels.email import EmailChannel
from services.notifier.dispatcher import DispatchSettings, NoticeDispatcher, NoticeMetrics
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

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

SHIFT = timedelta(hours=1)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    yield from _run_smtp()


def shifted(by: timedelta) -> Callable[[], datetime]:
    return lambda: datetime.now(UTC) + by


async def all_amendments_read() -> datetime:
    """No amendment exists for these requests (the barrier has its own tests)."""
    return datetime.now(UTC)


async def test_a_clock_an_hour_fast_releases_nothing_early(
    kafka_access: KafkaAccess,
    docket_database: DocketDatabase,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = secrets.token_hex(4)
    account = Account(
        handle=f"@clock_reader_{token}",
        platform_user_id=f"acct-clock-{token}",
        email=f"clock-{token}@example.org",
        country="US",
    )
    monkeypatch.setattr("tests.integration.notifier.test_schedule.ACCOUNT", account)
    accounts = AccountDirectory([account])
    now = datetime.now(UTC)
    gagged = f"clock-gagged-{token}"  # a gag ending in 30 minutes
    free = f"clock-free-{token}"  # no gag: due at once
    requests = [
        request_events(
            gagged_subpoena(gagged, now, now + timedelta(minutes=30)), gagged, (account,)
        ),
        request_events(gagged_subpoena(free, now, None), free, (account,)),
    ]

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
                for received, verdict in requests:
                    await store.lock_request(conn, verdict.request_id)
                    await store.save_submission(conn, received)
                    await store.save_verdict(conn, verdict)
                    plans = plan_request(verdict, received.submission, (), accounts, now)
                    for plan in plans:
                        await store.apply_plan(conn, plan.notice)

            def dispatcher(clock: Callable[[], datetime]) -> tuple[NoticeDispatcher, NoticeMetrics]:
                metrics = NoticeMetrics(CollectorRegistry())
                return NoticeDispatcher(
                    store,
                    accounts,
                    {"email": channel},
                    EventPublisher(broker, source="/docket/notifier"),
                    TracerProvider().get_tracer("test"),
                    metrics,
                    all_amendments_read,
                    DispatchSettings(clock_skew_limit_s=30.0),
                    clock=clock,
                ), metrics

            def delivered() -> int:
                return sum(
                    1 for d in smtp_server.mailbox.deliveries if d.rcpt_tos == [account.email]
                )

            # An hour fast: the gag "has ended" by this clock; nothing at all may leave,
            # not even the notice that is due (the clock cannot be trusted).
            fast, fast_metrics = dispatcher(shifted(SHIFT))
            for _ in range(3):
                assert await fast.run_once() == 0
            assert delivered() == 0
            assert fast_metrics.clock_refusals._value.get() >= 3
            assert fast_metrics.clock_skew._value.get() == pytest.approx(3600, abs=5)
            states = await store.count_by_state()
            assert states == {"scheduled": 2}

            # An hour slow is refused too (it would hold the free notice an hour late
            # and could take another instance's lease).
            slow, _ = dispatcher(shifted(-SHIFT))
            assert await slow.run_once() == 0
            assert delivered() == 0

            # Within the bound: the due notice goes out once, the gagged one waits for
            # the gag's end by the database's clock.
            close, close_metrics = dispatcher(shifted(timedelta(seconds=2)))
            assert await close.run_once() == 1
            assert await close.run_once() == 0
            assert delivered() == 1
            assert close_metrics.clock_refusals._value.get() == 0
            assert await store.count_by_state() == {"scheduled": 1, "sent": 1}
    finally:
        await channel.aclose()
        await broker.stop()
