"""PostgreSQL adapter of the audit log: appends ledger entries exactly once, in commit
order, with the read-side views updated in the same transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from services.audit.domain.ledger import LedgerEntry
from services.audit.domain.merkle import leaf_hash
from services.audit.domain.request_view import RequestView, apply_event
from services.audit.domain.tree_head import SignedTreeHead

Connection = asyncpg.Connection | PoolConnectionProxy


@dataclass(frozen=True)
class PendingEntry:
    """A ledger entry and its position in the ledger topic."""

    entry: LedgerEntry
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class StoredEvent:
    event_id: str
    event_type: str
    occurred_at: datetime
    leaf_index: int
    trace_id: str | None


class AuditStore:
    """Bound to a pool once the service's lifespan has opened one."""

    def __init__(self) -> None:
        self._bound: asyncpg.Pool | None = None

    def bind(self, pool: asyncpg.Pool) -> None:
        self._bound = pool

    @property
    def _pool(self) -> asyncpg.Pool:
        if self._bound is None:
            raise RuntimeError("the audit store is not connected to a database yet")
        return self._bound

    async def ping(self) -> bool:
        return bool(await self._pool.fetchval("SELECT true"))

    async def append(self, pending: Sequence[PendingEntry]) -> int:
        """Append entries not stored yet; returns how many leaves were added.

        One writer at a time (``LOCK TABLE ... IN EXCLUSIVE MODE``) keeps leaf indexes
        dense and in commit order; the ledger position is stored in the same
        transaction, so a crash between the two is impossible and a redelivered
        record is recognised by its offset as well as by its event id."""
        added = 0
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("LOCK TABLE event_log IN EXCLUSIVE MODE")
            next_index: int = await conn.fetchval(
                "SELECT coalesce(max(leaf_index) + 1, 0) FROM event_log"
            )
            positions: dict[tuple[str, int], int] = {}
            for item in pending:
                where = (item.topic, item.partition)
                if where not in positions:
                    positions[where] = (
                        await conn.fetchval(
                            "SELECT next_offset FROM consumer_positions "
                            "WHERE topic = $1 AND partition = $2",
                            item.topic,
                            item.partition,
                        )
                        or 0
                    )
                if item.offset < positions[where]:
                    continue
                positions[where] = item.offset + 1
                if await self._insert(conn, item.entry, next_index):
                    next_index += 1
                    added += 1
            await conn.executemany(
                "INSERT INTO consumer_positions (topic, partition, next_offset) "
                "VALUES ($1, $2, $3) ON CONFLICT (topic, partition) "
                "DO UPDATE SET next_offset = excluded.next_offset",
                [(t, p, o) for (t, p), o in positions.items()],
            )
        return added

    async def _insert(self, conn: Connection, entry: LedgerEntry, index: int) -> bool:
        data = entry.leaf_data()
        inserted = await conn.fetchval(
            "INSERT INTO event_log (leaf_index, event_id, event_type, request_id, source_topic,"
            " occurred_at, trace_id, leaf_data, leaf_hash)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            " ON CONFLICT (event_id) DO NOTHING RETURNING leaf_index",
            index,
            entry.event_id,
            entry.event_type,
            entry.request_id,
            entry.source_topic,
            entry.occurred_at,
            entry.trace_id,
            data,
            leaf_hash(data),
        )
        if inserted is None:
            return False
        typed = entry.typed_event()
        if typed is not None:
            await self._project(conn, typed)
        return True

    async def _project(self, conn: Connection, typed: Any) -> None:
        row = await conn.fetchrow(
            "SELECT view FROM request_views WHERE request_id = $1 FOR UPDATE", typed.request_id
        )
        current = RequestView.model_validate(json.loads(row["view"])) if row else None
        view = apply_event(current, typed)
        if view == current:
            return
        await self.save_view(conn, view)

    @staticmethod
    async def save_view(conn: Connection, view: RequestView) -> None:
        received = view.received or {}
        submission = received.get("submission", {})
        classification = view.classification or {}
        authority = classification.get("authority", {})
        await conn.execute(
            "INSERT INTO request_views (request_id, state, received_at, deadline,"
            " authority_code, authority_family, risk_level, country, view, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())"
            " ON CONFLICT (request_id) DO UPDATE SET state = excluded.state,"
            " received_at = excluded.received_at, deadline = excluded.deadline,"
            " authority_code = excluded.authority_code,"
            " authority_family = excluded.authority_family,"
            " risk_level = excluded.risk_level, country = excluded.country,"
            " view = excluded.view, updated_at = now()",
            view.request_id,
            view.state,
            _timestamp(submission.get("received_at")),
            _timestamp(submission.get("instrument", {}).get("response_deadline")),
            authority.get("code"),
            authority.get("family"),
            classification.get("risk", {}).get("level"),
            submission.get("requester", {}).get("country"),
            view.model_dump_json(),
        )

    async def request_view(self, request_id: str) -> RequestView | None:
        row = await self._pool.fetchrow(
            "SELECT view FROM request_views WHERE request_id = $1", request_id
        )
        return RequestView.model_validate(json.loads(row["view"])) if row else None

    async def events_of(self, request_id: str) -> list[StoredEvent]:
        rows = await self._pool.fetch(
            "SELECT event_id, event_type, occurred_at, leaf_index, trace_id FROM event_log"
            " WHERE request_id = $1 ORDER BY leaf_index",
            request_id,
        )
        return [StoredEvent(**dict(row)) for row in rows]

    async def leaf_hashes_from(self, start: int) -> list[bytes]:
        rows = await self._pool.fetch(
            "SELECT leaf_hash FROM event_log WHERE leaf_index >= $1 ORDER BY leaf_index", start
        )
        return [bytes(row["leaf_hash"]) for row in rows]

    async def tree_head(self, size: int) -> SignedTreeHead | None:
        row = await self._pool.fetchrow(
            "SELECT tree_size, root_hash, signed_at, signature, key_id FROM tree_heads"
            " WHERE tree_size = $1",
            size,
        )
        return _tree_head(row) if row else None

    async def tree_heads(self) -> list[SignedTreeHead]:
        rows = await self._pool.fetch(
            "SELECT tree_size, root_hash, signed_at, signature, key_id FROM tree_heads"
            " ORDER BY tree_size"
        )
        return [_tree_head(row) for row in rows]

    async def save_tree_head(self, head: SignedTreeHead) -> SignedTreeHead:
        """Keep the first head signed for a size; return the one kept."""
        await self._pool.execute(
            "INSERT INTO tree_heads (tree_size, root_hash, signed_at, signature, key_id)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tree_size) DO NOTHING",
            head.tree_size,
            head.root_hash,
            head.timestamp,
            head.signature,
            head.key_id,
        )
        kept = await self.tree_head(head.tree_size)
        assert kept is not None
        return kept

    async def size(self) -> int:
        value: int = await self._pool.fetchval("SELECT count(*) FROM event_log")
        return value


def _tree_head(row: asyncpg.Record) -> SignedTreeHead:
    return SignedTreeHead(
        tree_size=row["tree_size"],
        root_hash=row["root_hash"],
        timestamp=row["signed_at"],
        signature=row["signature"],
        key_id=row["key_id"],
    )


def _timestamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
