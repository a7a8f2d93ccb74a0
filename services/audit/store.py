"""PostgreSQL adapter of the audit log: appends ledger entries exactly once, in commit
order, with the read-side views updated in the same transaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from pydantic import BaseModel

from services.audit.deadline_store import sync_deadlines
from services.audit.domain.ledger import DeadLetterView, LedgerEntry, dead_letter_of
from services.audit.domain.merkle import leaf_hash
from services.audit.domain.request_view import (
    RequestView,
    changed_views,
    effective_authority,
    effective_risk_level,
    fold_views,
)
from services.audit.domain.transparency import (
    DemandGroup,
    MonthGroup,
    NoticeGroup,
    ReportCounts,
)
from services.audit.domain.tree_head import SignedTreeHead
from shared.db import DatabaseStore
from shared.events import EventData

Connection = asyncpg.Connection | PoolConnectionProxy

#: The columns of ``transparency.ProcessKind``, from a view's submission ``s``.
_PROCESS_KIND = (
    "authority_family AS family, s->'instrument'->>'type' AS instrument,"
    " s->'requester'->>'agency_type' AS agency_type"
)
#: The views, each with its submission as ``s``.
_VIEWS = " FROM request_views CROSS JOIN LATERAL (SELECT view->'received'->'submission' AS s) AS r"
#: One row per notice decision of a view, as ``n``.
_EACH_NOTICE = " CROSS JOIN LATERAL jsonb_array_elements(view->'notifications') AS n"
#: Demands received in [$1, $2).
_RECEIVED_BETWEEN = " WHERE received_at >= $1 AND received_at < $2"


@dataclass(frozen=True)
class PendingEntry:
    """A ledger entry and its position in the ledger topic."""

    entry: LedgerEntry
    topic: str
    partition: int
    offset: int


#: Only one instance signs periodic tree heads: the holder of this advisory lock.
SIGNER_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"docket.audit.tree-head-signer").digest()[:8], "big", signed=True
)
DEAD_LETTER_TYPES = ("DeadLettered", "UnreadableRecord")
#: Appends and the rebuild run one at a time (``event_log`` itself takes INSERT only).
TAKE_WRITER_TURN = "LOCK TABLE log_writer_turn IN EXCLUSIVE MODE"


@dataclass(frozen=True)
class ViewFilter:
    """Filters of ``GET /v1/requests``; None means "any"."""

    state: str | None = None
    authority_code: str | None = None
    authority_family: str | None = None
    risk_level: str | None = None
    country: str | None = None
    deadline_before: datetime | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None


@dataclass(frozen=True)
class ViewAccess:
    """What a caller reaches of the read side: only ``organisation``'s requests (its
    ``requester.agency``, case-insensitively) when given; national-security process only
    with ``national_security``."""

    organisation: str | None = None
    national_security: bool = False


#: ``shared.auth.policy.is_national_security`` over a row of ``request_views`` (``v``).
NATIONAL_SECURITY_FORM = (
    "(coalesce(v.authority_family, '') = 'national_security'"
    " OR v.view #>> '{received,submission,instrument,type}' = 'national_security_letter'"
    " OR v.view #>> '{received,submission,requester,agency_type}' = 'intelligence')"
)
#: A view with no RequestReceived yet: its form is unknown.
NOT_RECEIVED = "coalesce(jsonb_typeof(v.view -> 'received'), 'null') = 'null'"
#: What is hidden without the national-security scope (unknown form: fail closed).
NATIONAL_SECURITY_VIEW = f"({NOT_RECEIVED} OR {NATIONAL_SECURITY_FORM})"
OWNER_VIEW = "lower(btrim(v.view #>> '{received,submission,requester,agency}'))"


class RequestSummary(BaseModel):
    """One row of ``GET /v1/requests``."""

    request_id: str
    state: str
    received_at: datetime | None
    deadline: datetime | None
    authority_code: str | None
    authority_family: str | None
    risk_level: str | None
    country: str | None


@dataclass(frozen=True)
class StoredDeadLetter:
    leaf_index: int
    stored_at: datetime
    dead_letter: DeadLetterView


@dataclass(frozen=True)
class StoredEvent:
    event_id: str
    event_type: str
    occurred_at: datetime
    leaf_index: int
    trace_id: str | None


class AuditStore(DatabaseStore):
    """The append-only log, its read side and the signed tree heads."""

    async def append(self, item: PendingEntry) -> bool:
        """Append one entry unless it is stored already; returns whether it was added."""
        return await self.append_many([item]) == 1

    async def append_many(self, pending: Sequence[PendingEntry]) -> int:
        """Append, in ledger order and in one transaction, the entries not stored yet;
        returns how many leaves were added.

        One writer at a time (the EXCLUSIVE lock of ``log_writer_turn``) keeps leaf indexes
        dense and in commit order: the next index is read under the lock on every call,
        never cached, so two instances sharing the ledger (a rebalance) cannot collide.
        The ledger positions are stored in the same transaction, so a crash between the
        two is impossible and a redelivered record is recognised by its offset as well
        as by its event id. A fixed number of statements per call, whatever its size."""
        if not pending:
            return 0
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(TAKE_WRITER_TURN)
            next_index: int = await conn.fetchval(
                "SELECT coalesce(max(leaf_index) + 1, 0) FROM event_log"
            )
            partitions = sorted({(item.topic, item.partition) for item in pending})
            stored_positions = await conn.fetch(
                "SELECT topic, partition, next_offset FROM consumer_positions"
                " JOIN unnest($1::text[], $2::int[]) AS batch(t, p)"
                " ON topic = batch.t AND partition = batch.p",
                [topic for topic, _ in partitions],
                [partition for _, partition in partitions],
            )
            stored_ids = await conn.fetch(
                "SELECT event_id FROM event_log WHERE event_id = ANY($1::text[])",
                list({item.entry.event_id for item in pending}),
            )
            fresh, positions = select_new(
                pending,
                {(r["topic"], r["partition"]): r["next_offset"] for r in stored_positions},
                {row["event_id"] for row in stored_ids},
            )
            if fresh:
                await self._insert(conn, [item.entry for item in fresh], next_index)
            await conn.execute(
                "INSERT INTO consumer_positions (topic, partition, next_offset)"
                " SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[])"
                " ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
                [topic for topic, _ in positions],
                [partition for _, partition in positions],
                list(positions.values()),
            )
        return len(fresh)

    async def _insert(self, conn: Connection, entries: Sequence[LedgerEntry], first: int) -> None:
        """Store ``entries`` as leaves ``first``, ``first + 1``, ... and project them."""
        data = [entry.leaf_data() for entry in entries]
        await conn.execute(
            "INSERT INTO event_log (leaf_index, event_id, event_type, request_id, source_topic,"
            " occurred_at, trace_id, leaf_data, leaf_hash)"
            " SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],"
            " $6::timestamptz[], $7::text[], $8::bytea[], $9::bytea[])",
            list(range(first, first + len(entries))),
            [entry.event_id for entry in entries],
            [entry.event_type for entry in entries],
            [entry.request_id for entry in entries],
            [entry.source_topic for entry in entries],
            [entry.occurred_at for entry in entries],
            [entry.trace_id for entry in entries],
            data,
            [leaf_hash(leaf) for leaf in data],
        )
        typed = [e for e in (entry.typed_event() for entry in entries) if e is not None]
        if typed:
            await self._project(conn, typed)

    async def _project(self, conn: Connection, events: Sequence[EventData]) -> None:
        rows = await conn.fetch(
            "SELECT request_id, view FROM request_views WHERE request_id = ANY($1::text[])"
            " ORDER BY request_id FOR UPDATE",
            list({event.request_id for event in events}),
        )
        current = {
            row["request_id"]: RequestView.model_validate(json.loads(row["view"])) for row in rows
        }
        await self.save_views(conn, changed_views(events, current).values())

    @staticmethod
    async def save_views(conn: Connection, views: Iterable[RequestView]) -> None:
        """Store the views and, in the same transaction, the clocks they say run."""
        views = list(views)
        rows = [_view_row(view) for view in views]
        if not rows:
            return
        await conn.executemany(
            "INSERT INTO request_views (request_id, state, received_at, deadline,"
            " authority_code, authority_family, risk_level, country, view, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())"
            " ON CONFLICT (request_id) DO UPDATE SET state = excluded.state,"
            " received_at = excluded.received_at, deadline = excluded.deadline,"
            " authority_code = excluded.authority_code,"
            " authority_family = excluded.authority_family,"
            " risk_level = excluded.risk_level, country = excluded.country,"
            " view = excluded.view, updated_at = now()",
            rows,
        )
        await sync_deadlines(conn, views)

    async def history_of(self, request_id: str) -> tuple[RequestView | None, list[StoredEvent]]:
        """A request's view and its events in the order they happened, read from one
        snapshot (the view and the events it was made from are stored together, so the
        state never lags the events listed). Their leaf indexes follow the order audit
        stored them in, which across topics need not be the same."""
        async with (
            self.pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            row = await conn.fetchrow(
                "SELECT view FROM request_views WHERE request_id = $1", request_id
            )
            rows = await conn.fetch(
                "SELECT event_id, event_type, occurred_at, leaf_index, trace_id FROM event_log"
                " WHERE request_id = $1 ORDER BY occurred_at, leaf_index",
                request_id,
            )
        view = RequestView.model_validate(json.loads(row["view"])) if row else None
        return view, [StoredEvent(**dict(event)) for event in rows]

    async def leaf_hashes_from(self, start: int) -> list[bytes]:
        rows = await self.pool.fetch(
            "SELECT leaf_hash FROM event_log WHERE leaf_index >= $1 ORDER BY leaf_index", start
        )
        return [bytes(row["leaf_hash"]) for row in rows]

    async def leaf(self, leaf_index: int, national_security: bool) -> bytes | None:
        """The exact bytes stored (and hashed) as leaf ``leaf_index``; None past the end,
        and, without ``national_security`` scope, for a leaf keyed by a national-security
        request (or by one whose form is not known yet: fail closed)."""
        hidden = (
            ""
            if national_security
            else " AND NOT EXISTS (SELECT 1 FROM request_views v"
            f" WHERE v.request_id = e.request_id AND {NATIONAL_SECURITY_VIEW})"
        )
        data: bytes | None = await self.pool.fetchval(
            f"SELECT leaf_data FROM event_log e WHERE leaf_index = $1{hidden}", leaf_index
        )
        return bytes(data) if data is not None else None

    async def tree_head(self, size: int) -> SignedTreeHead | None:
        row = await self.pool.fetchrow(
            "SELECT tree_size, root_hash, signed_at, signature, key_id FROM tree_heads"
            " WHERE tree_size = $1",
            size,
        )
        return _tree_head(row) if row else None

    async def tree_heads(self) -> list[SignedTreeHead]:
        rows = await self.pool.fetch(
            "SELECT tree_size, root_hash, signed_at, signature, key_id FROM tree_heads"
            " ORDER BY tree_size"
        )
        return [_tree_head(row) for row in rows]

    async def save_tree_head(self, head: SignedTreeHead) -> SignedTreeHead:
        """Keep the first head signed for a size; return the one kept."""
        await self.pool.execute(
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
        value: int = await self.pool.fetchval("SELECT count(*) FROM event_log")
        return value

    async def latest_tree_head_size(self) -> int | None:
        value: int | None = await self.pool.fetchval("SELECT max(tree_size) FROM tree_heads")
        return value

    @asynccontextmanager
    async def signer_lock(self) -> AsyncIterator[bool]:
        """Yield whether this instance holds the signer's advisory lock meanwhile."""
        async with self.pool.acquire() as conn:
            held: bool = await conn.fetchval("SELECT pg_try_advisory_lock($1)", SIGNER_LOCK_KEY)
            try:
                yield held
            finally:
                if held:
                    await conn.execute("SELECT pg_advisory_unlock($1)", SIGNER_LOCK_KEY)

    async def leaves(self, prefetch: int = 10_000) -> AsyncIterator[tuple[int, bytes, bytes]]:
        """Every stored leaf as (index, data, stored hash), in index order."""
        async with self.pool.acquire() as conn, conn.transaction(readonly=True):
            async for row in conn.cursor(
                "SELECT leaf_index, leaf_data, leaf_hash FROM event_log ORDER BY leaf_index",
                prefetch=prefetch,
            ):
                yield row["leaf_index"], bytes(row["leaf_data"]), bytes(row["leaf_hash"])

    async def list_views(
        self,
        where: ViewFilter,
        limit: int,
        after: tuple[datetime, str] | None,
        access: ViewAccess,
    ) -> list[RequestSummary]:
        """Views matching ``where`` that ``access`` reaches, in (received_at, request_id)
        order, after the cursor (views not received yet sort as received at the epoch)."""
        sort_key = "coalesce(received_at, 'epoch'::timestamptz)"
        clauses: list[str] = []
        params: list[Any] = []

        def add(clause: str, value: Any) -> None:
            params.append(value)
            clauses.append(clause.replace("?", f"${len(params)}"))

        for column in ("state", "authority_code", "authority_family", "risk_level", "country"):
            if getattr(where, column) is not None:
                add(f"{column} = ?", getattr(where, column))
        if access.organisation is not None:
            add(f"{OWNER_VIEW} = lower(btrim(?))", access.organisation)
        if not access.national_security:
            clauses.append(f"NOT {NATIONAL_SECURITY_VIEW}")
        if where.deadline_before is not None:
            add("deadline < ?", where.deadline_before)
        if where.received_from is not None:
            add("received_at >= ?", where.received_from)
        if where.received_to is not None:
            add("received_at < ?", where.received_to)
        if after is not None:
            params.append(after[0])
            add(f"({sort_key}, request_id) > (${len(params)}, ?)", after[1])
        params.append(limit)
        rows = await self.pool.fetch(
            "SELECT request_id, state, received_at, deadline, authority_code,"
            " authority_family, risk_level, country FROM request_views v"
            f" WHERE {' AND '.join(clauses) or 'true'}"
            f" ORDER BY {sort_key}, request_id LIMIT ${len(params)}",
            *params,
        )
        return [RequestSummary(**dict(row)) for row in rows]

    async def report_counts(self, start: datetime, end: datetime) -> ReportCounts:
        """The demands received in ``[start, end)`` and their notice decisions, counted
        in SQL by every attribute the transparency report distinguishes (a few rows,
        however many requests the period holds), from one snapshot of the views."""
        async with (
            self.pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            demands = await conn.fetch(
                f"SELECT {_PROCESS_KIND}, country,"
                " coalesce((s->'emergency'->>'claimed')::boolean, false) AS emergency_claimed,"
                " view->'decision'->>'outcome' AS outcome,"
                " view->>'outcome_split' AS outcome_split, count(*) AS requests,"
                " coalesce(sum(jsonb_array_length(s->'targets')), 0) AS accounts"
                f"{_VIEWS}{_RECEIVED_BETWEEN} GROUP BY 1, 2, 3, 4, 5, 6, 7",
                start,
                end,
            )
            notices = await conn.fetch(
                f"SELECT {_PROCESS_KIND}, n->>'decision' AS decision,"
                " n->>'last_event' AS last_event, count(*) AS notices"
                f"{_VIEWS}{_EACH_NOTICE}{_RECEIVED_BETWEEN} GROUP BY 1, 2, 3, 4, 5",
                start,
                end,
            )
        return ReportCounts(
            demands=tuple(DemandGroup(**dict(row)) for row in demands),
            notices=tuple(NoticeGroup(**dict(row)) for row in notices),
        )

    async def month_counts(self, start: datetime, end: datetime) -> list[MonthGroup]:
        """Demands received in ``[start, end)`` by UTC month and kind, counted in SQL."""
        rows = await self.pool.fetch(
            f"SELECT {_PROCESS_KIND},"
            " to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month, count(*) AS requests"
            f"{_VIEWS}{_RECEIVED_BETWEEN} GROUP BY 1, 2, 3, 4",
            start,
            end,
        )
        return [MonthGroup(**dict(row)) for row in rows]

    async def dead_letters(
        self,
        start: datetime | None,
        end: datetime | None,
        after: int,
        limit: int,
        access: ViewAccess,
    ) -> list[StoredDeadLetter]:
        """Dead-lettered and unreadable records stored in ``[start, end)``, by leaf index;
        without national-security scope, none keyed by a national-security request."""
        hidden = (
            ""
            if access.national_security
            else " AND NOT EXISTS (SELECT 1 FROM request_views v"
            f" WHERE v.request_id = e.request_id AND {NATIONAL_SECURITY_FORM})"
        )
        rows = await self.pool.fetch(
            "SELECT leaf_index, stored_at, leaf_data FROM event_log e"
            " WHERE event_type = ANY($1::text[]) AND leaf_index > $2"
            " AND ($3::timestamptz IS NULL OR stored_at >= $3)"
            f" AND ($4::timestamptz IS NULL OR stored_at < $4){hidden}"
            " ORDER BY leaf_index LIMIT $5",
            list(DEAD_LETTER_TYPES),
            after,
            start,
            end,
            limit,
        )
        found: list[StoredDeadLetter] = []
        for row in rows:
            view = dead_letter_of(LedgerEntry.model_validate_json(bytes(row["leaf_data"])))
            if view is not None:
                found.append(StoredDeadLetter(row["leaf_index"], row["stored_at"], view))
        return found

    async def rebuild_views(self) -> int:
        """Replace every request view by folding the log; returns how many were written.

        Appends wait meanwhile (the writer's turn), so no event is missed. Runs as the
        owner role: the service's role may not delete views."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(TAKE_WRITER_TURN)
            await conn.execute("DELETE FROM request_views")
            events = []
            async for row in conn.cursor("SELECT leaf_data FROM event_log ORDER BY leaf_index"):
                typed = LedgerEntry.model_validate_json(bytes(row["leaf_data"])).typed_event()
                if typed is not None:
                    events.append(typed)
            views = fold_views(events)
            await self.save_views(conn, views.values())
        return len(views)


def select_new(
    pending: Sequence[PendingEntry],
    positions: Mapping[tuple[str, int], int],
    stored_ids: Collection[str],
) -> tuple[list[PendingEntry], dict[tuple[str, int], int]]:
    """The entries of a batch to append, in ledger order, and each ledger partition's
    next offset after the batch. An entry below its partition's stored position was
    processed before; one whose event id is stored, or earlier in the batch, is a
    duplicate: both are skipped, so an event is never stored twice."""
    after = {
        (item.topic, item.partition): positions.get((item.topic, item.partition), 0)
        for item in pending
    }
    seen = set(stored_ids)
    fresh: list[PendingEntry] = []
    for item in pending:
        where = (item.topic, item.partition)
        if item.offset < after[where]:
            continue
        after[where] = item.offset + 1
        if item.entry.event_id not in seen:
            seen.add(item.entry.event_id)
            fresh.append(item)
    return fresh, after


def _view_row(view: RequestView) -> tuple[Any, ...]:
    received = view.received or {}
    submission = received.get("submission", {})
    authority = effective_authority(view)
    return (
        view.request_id,
        view.state,
        _timestamp(submission.get("received_at")),
        _timestamp(submission.get("instrument", {}).get("response_deadline")),
        authority.get("code"),
        authority.get("family"),
        effective_risk_level(view),
        submission.get("requester", {}).get("country"),
        view.model_dump_json(),
    )


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
