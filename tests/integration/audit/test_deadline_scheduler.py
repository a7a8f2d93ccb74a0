"""The deadline scheduler inside audit, on the real broker and database: each stage of
a clock reported once (with two audit instances), alerts to a real PagerDuty-format
receiver (trigger, the same incident worsening, resolve once decided; a refused alert
retried), the gauge, and the clocks' events in the request's history."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from deploy.kafka.security import KafkaAccess
from shared.events import event_name
from tests.integration.audit.deadline_helpers import (
    ROUTING_KEY,
    PagerReceiver,
    logged,
    on_topic,
    pager_receiver,
    request_due,
)
from tests.integration.audit.helpers import audit_client, publish, start_audit, wait_until
from tests.unit.audit import factories as f

pytestmark = pytest.mark.integration

HOUR = 3600.0


@pytest.fixture
async def pager() -> AsyncIterator[PagerReceiver]:
    async for receiver in pager_receiver():
        yield receiver


def alerting(pager: PagerReceiver) -> dict[str, object]:
    return {
        "deadline_scan_interval_s": 0.3,
        "deadline_response_lead_s": HOUR,
        "deadline_alert_url": pager.url,
        "deadline_alert_routing_key": SecretStr(ROUTING_KEY),
        "development_mode": True,  # the receiver is plain http on 127.0.0.1
    }


def _triggers(pager: PagerReceiver, request_id: str) -> list[dict[str, Any]]:
    return [e for e in pager.of(request_id) if e["event_action"] == "trigger"]


async def test_a_clock_approaches_is_missed_alerts_and_resolves(
    kafka_access: KafkaAccess, database_url: str, pager: PagerReceiver
) -> None:
    request_id = f"req-clock-{secrets.token_hex(4)}"
    pager.statuses = [503]  # the first alert is refused: it is sent again
    audit = await start_audit(kafka_access, database_url, **alerting(pager))
    client = await audit_client(audit, database_url)
    conn = await asyncpg.connect(database_url)
    # far enough ahead that the refused alert and its retry both happen before it falls
    # due, even on a loaded machine
    due = datetime.now(UTC) + timedelta(seconds=45)
    try:
        await publish(kafka_access, request_due(request_id, due), [])

        async def alerted(count: int) -> bool:
            return len([e for e in pager.of(request_id) if e["event_action"] == "trigger"]) >= count

        # inside the lead time at once: approaching, refused once, then accepted
        await wait_until(lambda: alerted(2), timeout_s=60)
        first, again = pager.of(request_id)[:2]
        assert first["routing_key"] == ROUTING_KEY
        assert first["dedup_key"] == f"docket/{request_id}/response"
        assert first["payload"]["class"] == "approaching"
        assert first["payload"]["severity"] == "error"  # high risk, approaching
        # the refused alert is sent again: the same incident (on a slow machine the
        # retry may already carry the next stage)
        assert again["dedup_key"] == first["dedup_key"]
        # (and may already know the risk the first attempt did not)
        assert again["payload"]["class"] in ("approaching", "missed")
        assert first["payload"]["timestamp"] <= again["payload"]["timestamp"]

        # then it falls due: the same incident, now critical
        async def missed_alerted() -> bool:
            return any(e["payload"]["class"] == "missed" for e in _triggers(pager, request_id))

        await wait_until(missed_alerted, timeout_s=120)
        missed = next(e for e in _triggers(pager, request_id) if e["payload"]["class"] == "missed")
        assert missed["dedup_key"] == first["dedup_key"]
        assert missed["payload"]["severity"] == "critical"

        history = await wait_until(
            lambda: _history_with(client, request_id, "DeadlineMissed"), timeout_s=60
        )
        [approaching, missed_event] = history["deadline_events"]
        assert approaching["event"] == "DeadlineApproaching"
        assert approaching["lead_s"] == HOUR
        assert missed_event["due_at"] == due.isoformat().replace("+00:00", "Z")

        metrics = (await httpx.AsyncClient().get(f"{audit.admin_url}/metrics")).text
        # the gauge counts every running clock in the database (other tests' too)
        assert _gauge(metrics, 'docket_deadlines{kind="response",state="missed"}') >= 1
        assert "docket_deadline_alert_failures_total 1.0" in metrics
        assert request_id not in metrics

        # the request is decided: its clock stops and the incident is resolved
        await publish(kafka_access, [f.decided(request_id, "challenged")], [])

        async def resolved() -> bool:
            return any(e["event_action"] == "resolve" for e in pager.of(request_id))

        await wait_until(resolved, timeout_s=60)
        assert pager.of(request_id)[-1] == {
            "routing_key": ROUTING_KEY,
            "event_action": "resolve",
            "dedup_key": f"docket/{request_id}/response",
        }
        await asyncio.sleep(1.5)  # a few more rounds: nothing more is sent or reported
        assert len(pager.of(request_id)) in (3, 4)  # the refused approach, maybe superseded
        assert await logged(conn, request_id, "DeadlineApproaching") == 1
        assert await logged(conn, request_id, "DeadlineMissed") == 1
        running = await conn.fetchval(
            "SELECT running FROM audit.deadlines WHERE request_id = $1", request_id
        )
        assert running is False
    finally:
        await conn.close()
        await client.aclose()
        await audit.stop()


def _gauge(metrics: str, series: str) -> float:
    [value] = [line.split()[-1] for line in metrics.splitlines() if line.startswith(series + " ")]
    return float(value)


async def _history_with(client: httpx.AsyncClient, request_id: str, event: str) -> object:
    response = await client.get(f"/v1/requests/{request_id}")
    if response.status_code != 200:
        return None
    body = response.json()
    return body if any(e["event"] == event for e in body["deadline_events"]) else None


async def test_two_instances_report_each_deadline_once(
    kafka_access: KafkaAccess, database_url: str
) -> None:
    prefix = f"req-twice-{secrets.token_hex(4)}"
    past = datetime.now(UTC) - timedelta(minutes=5)
    settings = {
        "deadline_scan_interval_s": 0.1,
        "consumer_group_prefix": f"docket-audit-twice-{secrets.token_hex(4)}",
    }
    first = await start_audit(kafka_access, database_url, **settings)
    second = await start_audit(kafka_access, database_url, **settings)
    conn = await asyncpg.connect(database_url)
    ids = [f"{prefix}-{n}" for n in range(20)]
    try:
        events = [event for request_id in ids for event in request_due(request_id, past)]
        await publish(kafka_access, events, [])

        async def all_missed() -> bool:
            counts = [await logged(conn, request_id, "DeadlineMissed") for request_id in ids]
            return all(counts)

        await wait_until(all_missed, timeout_s=90)
        await asyncio.sleep(1.0)
        for request_id in ids:
            assert await logged(conn, request_id, "DeadlineMissed") == 1
            # fell due before anyone looked: the approach is moot, only the miss is told
            assert await logged(conn, request_id, "DeadlineApproaching") == 0
            published = await on_topic(kafka_access, request_id)
            assert [event_name(p["type"]) for p in published] == ["DeadlineMissed"], request_id
    finally:
        await conn.close()
        await first.stop()
        await second.stop()
