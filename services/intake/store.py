"""PostgreSQL adapter of intake: accepted requests (with the organisation that owns
each), Idempotency-Key records and accepted changes (schema ``intake``). API keys live
in schema ``auth`` (``shared.auth.store``).

Every write that stands for an event happens in one transaction that holds the row
*while the event is published*: the rows are committed only after Kafka acknowledged,
and a failed publish rolls them back. Concurrent duplicates wait on the row (the unique
index of a new request, the row lock of a change), then see the committed rows and
replay them.
"""

from __future__ import annotations

from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from services.intake.domain.commands import (
    Change,
    ChangeResult,
    NewRequest,
    NotFound,
    Publish,
    Recorded,
    Refused,
    RequestOwner,
)
from services.intake.domain.idempotency import (
    New,
    Prior,
    Replay,
    Resolution,
    resolve_submission,
)
from services.intake.domain.lifecycle import RequestState
from shared.db import DatabaseStore
from shared.events import Outcome
from shared.submission import DataCategory

Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


#: A request's lifecycle and owner, locked for the rest of the transaction.
LOCK_REQUEST = (
    "SELECT data_requested, nondisclosure_ordered, withdrawn_at, outcome,"
    " organisation, national_security FROM requests WHERE request_id = $1 FOR UPDATE"
)


def request_state(row: asyncpg.Record) -> RequestState:
    """The lifecycle of a request's row (read with :data:`LOCK_REQUEST`)."""
    return RequestState(
        data_requested=frozenset(DataCategory(name) for name in row["data_requested"]),
        nondisclosure_ordered=row["nondisclosure_ordered"],
        withdrawn_at=row["withdrawn_at"],
        outcome=None if row["outcome"] is None else Outcome(row["outcome"]),
    )


def request_owner(row: asyncpg.Record) -> RequestOwner:
    return RequestOwner(row["organisation"], row["national_security"])


class IntakeStore(DatabaseStore):
    # --- submissions ------------------------------------------------------------------

    async def accept_submission(
        self, request: NewRequest, idempotency_key: str | None, publish: Publish
    ) -> Resolution:
        """Replay, refuse, or record ``request`` once ``publish`` returned.

        The request's row (and the Idempotency-Key's) is claimed with ``INSERT ... ON
        CONFLICT DO NOTHING``: a concurrent duplicate's insert waits on the unique index
        until this transaction ends, then finds the committed row (a replay) or, had the
        publish failed and everything rolled back, claims it itself. The request's row
        is always claimed before the key's, so two claims never wait on each other."""
        async with self.pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            try:
                resolution, keep = await _claim(conn, request, idempotency_key)
                if isinstance(resolution, New):
                    await publish()
            except BaseException:
                await transaction.rollback()
                raise
            if keep:
                await transaction.commit()
            else:
                await transaction.rollback()
            return resolution

    # --- amendments and decisions -----------------------------------------------------

    async def accept_change(self, change: Change, publish: Publish) -> ChangeResult:
        """Record ``change`` once ``publish`` returned, unless its rules refuse it."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(LOCK_REQUEST, change.request_id)
            if row is None or not change.visible(request_owner(row)):
                return NotFound()
            seen = await conn.fetchval(
                "SELECT true FROM changes WHERE event_id = $1", change.event_id
            )
            if seen:
                return Recorded(replayed=True)
            state = request_state(row)
            reason = change.conflict(state)
            if reason is not None:
                return Refused(reason)
            after = change.apply(state)
            await conn.execute(
                "UPDATE requests SET nondisclosure_ordered = $2, withdrawn_at = $3, outcome = $4"
                " WHERE request_id = $1",
                change.request_id,
                after.nondisclosure_ordered,
                after.withdrawn_at,
                None if after.outcome is None else after.outcome.value,
            )
            await conn.execute(
                "INSERT INTO changes (event_id, request_id, kind, submitted_by, accepted_at)"
                " VALUES ($1, $2, $3, $4, $5)",
                change.event_id,
                change.request_id,
                change.kind,
                change.submitted_by,
                change.accepted_at,
            )
            await publish()
            return Recorded(replayed=False)


async def _claim(
    conn: Connection, request: NewRequest, idempotency_key: str | None
) -> tuple[Resolution, bool]:
    """How ``request`` resolves, having claimed what it may, and whether the claims are
    to be kept (a new request, or a replay first seen under this Idempotency-Key).

    The natural key (agency case-folded, external_ref) is claimed first; when it was
    taken, the Idempotency-Key is recorded against the request that holds it."""
    claimed = await conn.fetchval(
        "INSERT INTO requests (request_id, fingerprint, event_id, submitted_by,"
        " accepted_at, data_requested, nondisclosure_ordered, organisation, agency_key,"
        " external_ref, national_security)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT (agency_key, external_ref) DO NOTHING RETURNING true",
        request.request_id,
        request.fingerprint,
        request.event_id,
        request.submitted_by,
        request.accepted_at,
        [category.value for category in request.data_requested],
        request.nondisclosure_ordered,
        request.owner.organisation,
        request.agency_key,
        request.external_ref,
        request.owner.national_security,
    )
    by_natural_key = None
    if not claimed:
        by_natural_key = await _prior(
            conn,
            "SELECT request_id, fingerprint FROM requests"
            " WHERE agency_key = $1 AND external_ref = $2",
            request.agency_key,
            request.external_ref,
        )
    holder = by_natural_key.request_id if by_natural_key is not None else request.request_id
    key_claimed = False
    by_key = None
    if idempotency_key is not None:
        key_claimed = bool(
            await conn.fetchval(
                "INSERT INTO idempotency_keys (client_id, key, request_id, fingerprint)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (client_id, key) DO NOTHING RETURNING true",
                request.submitted_by,
                idempotency_key,
                holder,
                request.fingerprint,
            )
        )
        if not key_claimed:
            by_key = await _prior(
                conn,
                "SELECT request_id, fingerprint FROM idempotency_keys"
                " WHERE client_id = $1 AND key = $2",
                request.submitted_by,
                idempotency_key,
            )
    resolution = resolve_submission(request.fingerprint, by_key, by_natural_key)
    keep = isinstance(resolution, New) or (isinstance(resolution, Replay) and key_claimed)
    return resolution, keep


async def _prior(conn: Connection, query: str, *args: object) -> Prior | None:
    row = await conn.fetchrow(query, *args)
    if row is None:
        return None
    return Prior(request_id=str(row["request_id"]), fingerprint=row["fingerprint"])
