"""The notifier's unit of work: one transaction over schema ``notifier`` that a handler
commits as a whole, or that rolls back (``NotifierUnitOfWork``; on PostgreSQL
``PostgresUnitOfWork``, over dictionaries in the unit tests).
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from services.notifier.store import NoticePlan, NotifierStore, RequestRecord
from shared.events import CounselAction


class NotifierUnitOfWork(Protocol):
    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""

    async def lock_request(self, request_id: str) -> RequestRecord:
        """The request (created empty when unknown), locked until the end of the unit."""

    async def add_counsel_action(self, event_id: str, action: CounselAction) -> bool:
        """Keep counsel's decision once (by event id); True when it was new."""

    async def apply_plan(self, plan: NoticePlan, traceparent: str | None) -> bool:
        """Create or update a notice that has not gone out (a sent one never changes)."""

    async def commit(self) -> None: ...


class PostgresUnitOfWork:
    """A transaction on one connection of the store's pool, opened by ``async with``."""

    def __init__(self, store: NotifierStore) -> None:
        self._store = store
        self._conn: PoolConnectionProxy[asyncpg.Record] | None = None
        self._transaction: asyncpg.transaction.Transaction | None = None

    async def __aenter__(self) -> Self:
        self._conn = await self._store.pool.acquire()
        self._transaction = self._conn.transaction()
        await self._transaction.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._transaction is not None:
                await self._transaction.rollback()
        finally:
            if self._conn is not None:
                await self._store.pool.release(self._conn)
            self._conn = self._transaction = None

    @property
    def connection(self) -> PoolConnectionProxy[asyncpg.Record]:
        """The unit's connection, for the store's other statements in the same unit."""
        return self._connection

    @property
    def _connection(self) -> PoolConnectionProxy[asyncpg.Record]:
        if self._conn is None:
            raise RuntimeError("the unit of work is not open (use `async with`)")
        return self._conn

    async def lock_request(self, request_id: str) -> RequestRecord:
        return await self._store.lock_request(self._connection, request_id)

    async def add_counsel_action(self, event_id: str, action: CounselAction) -> bool:
        return await self._store.add_counsel_action(self._connection, event_id, action)

    async def apply_plan(self, plan: NoticePlan, traceparent: str | None) -> bool:
        return await self._store.apply_plan(self._connection, plan, traceparent)

    async def commit(self) -> None:
        if self._transaction is None:
            raise RuntimeError("the unit of work is not open (use `async with`)")
        await self._transaction.commit()
        self._transaction = None
