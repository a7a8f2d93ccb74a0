"""PostgreSQL adapter of intake: API keys, accepted requests, Idempotency-Key records
and accepted changes (schema ``intake``).

Every write that stands for an event happens in one transaction that holds the row
*while the event is published*: the rows are committed only after Kafka acknowledged,
and a failed publish rolls them back. Concurrent duplicates wait on the row (the unique
index of a new request, the row lock of a change), then see the committed rows and
replay them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from services.intake.domain.idempotency import (
    New,
    Prior,
    Replay,
    Resolution,
    resolve_submission,
)
from services.intake.domain.keys import Credential, Scope, digest_matches, secret_digest
from services.intake.domain.lifecycle import RequestState
from shared.db import DatabaseStore
from shared.events import Outcome
from shared.submission import DataCategory

Publish = Callable[[], Awaitable[None]]
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


@dataclass(frozen=True)
class NewRequest:
    request_id: str
    fingerprint: str
    event_id: str
    submitted_by: str
    accepted_at: datetime
    data_requested: tuple[DataCategory, ...]
    nondisclosure_ordered: bool


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    client_id: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class NotFound:
    pass


@dataclass(frozen=True)
class Refused:
    reason: str


@dataclass(frozen=True)
class Recorded:
    """The change is recorded: just now, or earlier (``replayed``)."""

    replayed: bool


ChangeResult = NotFound | Refused | Recorded


@dataclass(frozen=True)
class Change:
    """An amendment or a decision, with the rules that decide whether it applies."""

    request_id: str
    event_id: str
    kind: str
    submitted_by: str
    accepted_at: datetime
    conflict: Callable[[RequestState], str | None]
    apply: Callable[[RequestState], RequestState]


class IntakeStore(DatabaseStore):
    # --- API keys ---------------------------------------------------------------------

    async def credential(self, secret: str) -> Credential | None:
        digest = secret_digest(secret)
        row = await self.pool.fetchrow(
            "SELECT key_id, client_id, scopes, key_sha256 FROM api_keys"
            " WHERE key_sha256 = $1 AND revoked_at IS NULL",
            digest,
        )
        if row is None or not digest_matches(secret, row["key_sha256"]):
            return None
        return Credential(
            key_id=row["key_id"],
            client_id=row["client_id"],
            scopes=frozenset(Scope(name) for name in row["scopes"]),
        )

    async def put_key(
        self, key_id: str, client_id: str, scopes: Iterable[Scope], secret: str
    ) -> None:
        """Create the key, or replace the one with this id (scopes, secret; un-revoked)."""
        await self.pool.execute(
            "INSERT INTO api_keys (key_id, client_id, scopes, key_sha256) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (key_id) DO UPDATE SET client_id = EXCLUDED.client_id,"
            " scopes = EXCLUDED.scopes, key_sha256 = EXCLUDED.key_sha256, revoked_at = NULL",
            key_id,
            client_id,
            sorted(scope.value for scope in scopes),
            secret_digest(secret),
        )

    async def list_keys(self) -> list[KeyInfo]:
        rows = await self.pool.fetch(
            "SELECT key_id, client_id, scopes, created_at, revoked_at FROM api_keys"
            " ORDER BY client_id, created_at"
        )
        return [
            KeyInfo(
                key_id=row["key_id"],
                client_id=row["client_id"],
                scopes=tuple(row["scopes"]),
                created_at=row["created_at"],
                revoked_at=row["revoked_at"],
            )
            for row in rows
        ]

    async def revoke_key(self, key_id: str) -> bool:
        status = await self.pool.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL",
            key_id,
        )
        return status.endswith(" 1")

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
            row = await conn.fetchrow(
                "SELECT data_requested, nondisclosure_ordered, withdrawn_at, outcome"
                " FROM requests WHERE request_id = $1 FOR UPDATE",
                change.request_id,
            )
            if row is None:
                return NotFound()
            seen = await conn.fetchval(
                "SELECT true FROM changes WHERE event_id = $1", change.event_id
            )
            if seen:
                return Recorded(replayed=True)
            state = RequestState(
                data_requested=frozenset(DataCategory(name) for name in row["data_requested"]),
                nondisclosure_ordered=row["nondisclosure_ordered"],
                withdrawn_at=row["withdrawn_at"],
                outcome=None if row["outcome"] is None else Outcome(row["outcome"]),
            )
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
    to be kept (a new request, or a replay first seen under this Idempotency-Key)."""
    claimed = await conn.fetchval(
        "INSERT INTO requests (request_id, fingerprint, event_id, submitted_by,"
        " accepted_at, data_requested, nondisclosure_ordered)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (request_id) DO NOTHING RETURNING true",
        request.request_id,
        request.fingerprint,
        request.event_id,
        request.submitted_by,
        request.accepted_at,
        [category.value for category in request.data_requested],
        request.nondisclosure_ordered,
    )
    by_natural_key = None
    if not claimed:
        by_natural_key = await _prior(
            conn,
            "SELECT request_id, fingerprint FROM requests WHERE request_id = $1",
            request.request_id,
        )
    key_claimed = False
    by_key = None
    if idempotency_key is not None:
        key_claimed = bool(
            await conn.fetchval(
                "INSERT INTO idempotency_keys (client_id, key, request_id, fingerprint)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (client_id, key) DO NOTHING RETURNING true",
                request.submitted_by,
                idempotency_key,
                request.request_id,
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
