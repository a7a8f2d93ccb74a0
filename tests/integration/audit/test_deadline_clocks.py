"""The clocks as the projection stores them in PostgreSQL: added, moved, stopped (with
the pager's incident queued for a resolve), and a renewed preservation taking over
from the one it renews, for good."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from services.audit.domain.deadlines import PRESERVATION_PERIOD
from services.audit.domain.request_view import RequestView, fold_views
from services.audit.store import AuditStore
from shared.events import EventData, LinkReason, RequestLink
from shared.submission import InstrumentType
from tests.fixtures.postgres import DocketDatabase
from tests.unit.audit import factories as f

pytestmark = pytest.mark.integration


@pytest.fixture
async def conn(docket_database: DocketDatabase) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(docket_database.url("audit"))
    await connection.execute("SET search_path TO audit")
    try:
        yield connection
    finally:
        await connection.close()


async def save(conn: asyncpg.Connection, *events: EventData) -> RequestView:
    [view] = fold_views(events).values()
    async with conn.transaction():
        await AuditStore.save_views(conn, [view])
    return view


async def clocks(conn: asyncpg.Connection, request_id: str) -> dict[str, tuple[object, ...]]:
    rows = await conn.fetch(
        "SELECT kind, due_at, running, superseded_by, alert_pending FROM deadlines"
        " WHERE request_id = $1",
        request_id,
    )
    return {
        r["kind"]: (r["due_at"], r["running"], r["superseded_by"], r["alert_pending"]) for r in rows
    }


async def test_a_clock_is_added_moved_and_stopped_with_its_incident_resolved(
    conn: asyncpg.Connection,
) -> None:
    due = f.AT + timedelta(days=5)
    sub = f.submission(deadline=due)
    await save(conn, f.received("r1", sub))
    assert await clocks(conn, "r1") == {"response": (due, True, None, None)}
    # the pager was told: once the request is decided, the incident is to be resolved
    await conn.execute("UPDATE deadlines SET alert_open = true WHERE request_id = 'r1'")
    await save(conn, f.received("r1", sub), f.decided("r1", "no_data"))
    assert await clocks(conn, "r1") == {"response": (due, False, None, "resolve")}


async def test_a_renewed_preservation_takes_over_the_clock_it_renews(
    conn: asyncpg.Connection,
) -> None:
    first = f.submission(instrument="preservation_request")
    await save(conn, f.received("p1", first))
    assert (await clocks(conn, "p1"))["preservation_end"][:2] == (f.AT + PRESERVATION_PERIOD, True)

    renewal = f.submission(instrument="preservation_request", received_at=f.AT + timedelta(days=80))
    link = RequestLink(
        request_id="p1",
        reasons=(LinkReason.SAME_ACCOUNT, LinkReason.SAME_REQUESTER),
        status="open",
        received_at=f.AT,
        instrument_type=InstrumentType.PRESERVATION_REQUEST,
    )
    verdict = f.classified("p2", renewal).model_copy(update={"links": (link,)})
    await save(conn, f.received("p2", renewal), verdict)
    assert (await clocks(conn, "p2"))["preservation_end"][:2] == (
        f.AT + 2 * PRESERVATION_PERIOD,
        True,
    )
    assert (await clocks(conn, "p1"))["preservation_end"][1:3] == (False, "p2")
    # a later event of the first request does not start its clock again
    await save(conn, f.received("p1", first), f.classified("p1", first))
    assert (await clocks(conn, "p1"))["preservation_end"][1:3] == (False, "p2")
