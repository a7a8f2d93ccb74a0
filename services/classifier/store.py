"""PostgreSQL adapter of the classifier (schema ``classifier``): each request's
submission and amendments, in the order they arrived. Each write runs in one
transaction holding the request's row lock, so an amendment and its request arriving
at the same time on two instances still get one consistent order."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from services.classifier.domain.links import EarlierRequest, LinkKeys, link_request
from services.classifier.history import RequestHistory, StoredAmendment
from shared.amendments import Amendment
from shared.db import DatabaseStore
from shared.events import RequestLink
from shared.submission import STORED, InstrumentType, Submission

Connection = asyncpg.Connection | PoolConnectionProxy


class ClassifierStore(DatabaseStore):
    async def keep_submission(
        self, request_id: str, event_id: str, submission: Submission, keys: LinkKeys
    ) -> RequestHistory:
        """Store the submission unless one is already stored, linked to the earlier
        requests it shares keys with; the request's history.

        Arrivals from one requester are linked one at a time (a transaction-scoped
        advisory lock on its key), so two copies of one instrument arriving together on
        two instances still see each other: the second is the duplicate."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _lock_key(keys.requester))
            await _lock(conn, request_id)
            position = await conn.fetchval(
                "UPDATE requests SET submission = $2::jsonb, received_event_id = $3,"
                " received_position = nextval('arrival'), requester_key = $4,"
                " account_keys = $5::text[], instrument_key = $6"
                " WHERE request_id = $1 AND submission IS NULL RETURNING received_position",
                request_id,
                submission.model_dump_json(by_alias=True),
                event_id,
                keys.requester,
                list(keys.accounts),
                keys.instrument,
            )
            if position is not None:
                linked = link_request(keys, await _earlier(conn, request_id, position, keys))
                await conn.execute(
                    "UPDATE requests SET links = $2::jsonb, duplicate_of = $3"
                    " WHERE request_id = $1",
                    request_id,
                    json.dumps([link.model_dump(mode="json") for link in linked.links]),
                    linked.duplicate_of,
                )
            return await _history(conn, request_id)

    async def keep_decision(self, request_id: str, event_id: str, outcome: str) -> None:
        """Keep a recorded outcome once (by event id), for requests linked later."""
        await self.pool.execute(
            "INSERT INTO decisions (event_id, request_id, outcome) VALUES ($1, $2, $3)"
            " ON CONFLICT (event_id) DO NOTHING",
            event_id,
            request_id,
            outcome,
        )

    async def keep_amendment(
        self, request_id: str, event_id: str, amendment: Amendment
    ) -> RequestHistory:
        """Store the amendment once (by event id); the request's history."""
        async with self.pool.acquire() as conn, conn.transaction():
            await _lock(conn, request_id)
            await conn.execute(
                "INSERT INTO amendments (event_id, request_id, amendment)"
                " VALUES ($1, $2, $3::jsonb) ON CONFLICT (event_id) DO NOTHING",
                event_id,
                request_id,
                amendment.model_dump_json(by_alias=True),
            )
            return await _history(conn, request_id)


async def _lock(conn: Connection, request_id: str) -> None:
    await conn.execute(
        "INSERT INTO requests (request_id) VALUES ($1) ON CONFLICT DO NOTHING", request_id
    )
    await conn.execute("SELECT 1 FROM requests WHERE request_id = $1 FOR UPDATE", request_id)


#: Earlier requests looked at when linking one (the most recent first).
MAX_EARLIER = 200


def _lock_key(requester_key: str) -> int:
    return int.from_bytes(bytes.fromhex(requester_key)[:8], "big", signed=True)


async def _earlier(
    conn: Connection, request_id: str, position: int, keys: LinkKeys
) -> list[EarlierRequest]:
    """The requests that arrived before ``position`` and share the requester or an
    account, with what became of them, in arrival order."""
    rows = await conn.fetch(
        "SELECT r.request_id, r.requester_key, r.account_keys, r.instrument_key,"
        " r.submission->>'received_at' AS received_at,"
        " r.submission->'instrument'->>'type' AS instrument_type,"
        " r.duplicate_of IS NOT NULL AS duplicate,"
        " EXISTS (SELECT 1 FROM amendments a WHERE a.request_id = r.request_id"
        " AND (a.amendment->>'withdrawn')::boolean) AS withdrawn,"
        " (SELECT d.outcome FROM decisions d WHERE d.request_id = r.request_id"
        " ORDER BY d.stored_at DESC, d.event_id LIMIT 1) AS outcome"
        " FROM requests r WHERE r.request_id <> $1 AND r.received_position < $2"
        " AND (r.requester_key = $3 OR r.account_keys && $4::text[])"
        " ORDER BY r.received_position DESC LIMIT $5",
        request_id,
        position,
        keys.requester,
        list(keys.accounts),
        MAX_EARLIER,
    )
    return [
        EarlierRequest(
            request_id=row["request_id"],
            keys=LinkKeys(
                requester=row["requester_key"],
                accounts=tuple(row["account_keys"] or ()),
                instrument=row["instrument_key"],
            ),
            received_at=datetime.fromisoformat(row["received_at"]),
            instrument_type=InstrumentType(row["instrument_type"]),
            withdrawn=row["withdrawn"],
            outcome=row["outcome"],
            duplicate=row["duplicate"],
        )
        for row in reversed(rows)
    ]


async def _history(conn: Connection, request_id: str) -> RequestHistory:
    row = await conn.fetchrow(
        "SELECT submission, received_position, links, duplicate_of FROM requests"
        " WHERE request_id = $1",
        request_id,
    )
    assert row is not None
    amendments = await conn.fetch(
        "SELECT event_id, position, amendment FROM amendments WHERE request_id = $1"
        " ORDER BY position",
        request_id,
    )
    submission = row["submission"]
    return RequestHistory(
        request_id=request_id,
        submission=Submission.model_validate_json(submission, context=STORED)
        if submission
        else None,
        received_position=row["received_position"],
        amendments=tuple(
            StoredAmendment(
                event_id=a["event_id"],
                position=a["position"],
                amendment=Amendment.model_validate_json(a["amendment"], context=STORED),
            )
            for a in amendments
        ),
        links=tuple(RequestLink.model_validate(link) for link in json.loads(row["links"] or "[]")),
        duplicate_of=row["duplicate_of"],
    )
