"""A deadline falling due while the scheduler is SIGKILLed is reported exactly once after
restart: audit (the scheduler's home) runs as its own OS process on the real broker
and database, is killed without warning after reporting the clock's approach, the
clock falls due while it is dead, and after the restart the miss is in the log once,
on ``docket.deadline`` once and at the pager once."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from deploy.kafka.security import KafkaAccess
from shared.events import event_name
from tests.chaos.harness import Instance
from tests.fixtures.postgres import DocketDatabase
from tests.fixtures.servers import free_port
from tests.integration.audit.deadline_helpers import (
    ROUTING_KEY,
    PagerReceiver,
    logged,
    on_topic,
    pager_receiver,
    request_due,
)
from tests.integration.audit.helpers import publish, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
async def pager() -> AsyncIterator[PagerReceiver]:
    async for receiver in pager_receiver():
        yield receiver


async def test_a_deadline_due_while_the_scheduler_is_killed_is_reported_once_after_restart(
    kafka_access: KafkaAccess,
    docket_database: DocketDatabase,
    pager: PagerReceiver,
    tmp_path: Path,
) -> None:
    request_id = f"req-kill-{secrets.token_hex(4)}"
    env = {
        **os.environ,
        **kafka_access.service_env("audit"),
        "DOCKET_DATABASE_URL": docket_database.url("audit"),
        "DOCKET_SIGNING_KEY_FILE": str(tmp_path / "signing.pem"),
        "DOCKET_CONSUMER_GROUP_PREFIX": f"docket-audit-kill-{secrets.token_hex(4)}",
        "DOCKET_INSTANCE_ID": f"audit-kill-{secrets.token_hex(4)}",
        "DOCKET_KAFKA_CONNECT_TIMEOUT_S": "120",
        "DOCKET_DEADLINE_SCAN_INTERVAL_S": "0.5",
        "DOCKET_DEADLINE_RESPONSE_LEAD_S": "3600",
        "DOCKET_DEADLINE_ALERT_URL": pager.url,
        "DOCKET_DEADLINE_ALERT_ROUTING_KEY": ROUTING_KEY,
        "DOCKET_DEVELOPMENT_MODE": "true",  # the pager receiver is plain http on 127.0.0.1
    }
    audit = Instance("audit", "audit", free_port(), env, tmp_path / "audit.log")
    conn = await asyncpg.connect(docket_database.owner_url)
    try:
        await audit.start()
        await audit.wait_ready()
        due = datetime.now(UTC) + timedelta(seconds=25)
        await publish(kafka_access, request_due(request_id, due), [])

        async def approach_reported() -> bool:
            return await logged(conn, request_id, "DeadlineApproaching") == 1

        await wait_until(approach_reported, timeout_s=20)
        await audit.kill()
        assert datetime.now(UTC) < due, "the test machine was too slow to kill before the due date"

        # the clock falls due while the scheduler is dead
        await asyncio.sleep((due - datetime.now(UTC)).total_seconds() + 2)
        assert await logged(conn, request_id, "DeadlineMissed") == 0

        await audit.start()
        await audit.wait_ready()

        async def miss_reported() -> bool:
            return await logged(conn, request_id, "DeadlineMissed") >= 1

        await wait_until(miss_reported, timeout_s=60)
        await asyncio.sleep(3)  # several more rounds of the scheduler
        assert await logged(conn, request_id, "DeadlineMissed") == 1
        assert await logged(conn, request_id, "DeadlineApproaching") == 1
        published = [event_name(p["type"]) for p in await on_topic(kafka_access, request_id)]
        assert published == ["DeadlineApproaching", "DeadlineMissed"]
        classes = [e["payload"]["class"] for e in pager.of(request_id)]
        assert classes == ["approaching", "missed"]
        missed_for = await conn.fetchval(
            "SELECT missed_reported_for FROM audit.deadlines WHERE request_id = $1", request_id
        )
        assert missed_for == due
    finally:
        await conn.close()
        await audit.kill()
