"""PostgreSQL adapter of the classifier (schema ``classifier``): each request's
submission and amendments, in the order they arrived. Each write runs in one
transaction holding the request's row lock, so an amendment and its request arriving
at the same time on two instances still get one consistent order."""

from __future__ import annotations

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from services.classifier.history import RequestHistory, StoredAmendment
from shared.amendments import Amendment
from shared.db import DatabaseStore
from shared.submission import STORED, Submission

Connection = asyncpg.Connection | PoolConnectionProxy


class ClassifierStore(DatabaseStore):
    async def keep_submission(
        self, request_id: str, event_id: str, submission: Submission
    ) -> RequestHistory:
        """Store the submission unless one is already stored; the request's history."""
        async with self.pool.acquire() as conn, conn.transaction():
            await _lock(conn, request_id)
            await conn.execute(
                "UPDATE requests SET submission = $2::jsonb, received_event_id = $3,"
                " received_position = nextval('arrival')"
                " WHERE request_id = $1 AND submission IS NULL",
                request_id,
                submission.model_dump_json(by_alias=True),
                event_id,
            )
            return await _history(conn, request_id)

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


async def _history(conn: Connection, request_id: str) -> RequestHistory:
    row = await conn.fetchrow(
        "SELECT submission, received_position FROM requests WHERE request_id = $1", request_id
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
    )
