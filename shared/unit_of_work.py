"""A unit of work on PostgreSQL: one transaction on one pooled connection, opened by
``async with``, committed as a whole by ``commit()`` or rolled back on leaving. Each
service's ``service_layer/unit_of_work.py`` adds the statements it needs."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import asyncpg
from asyncpg.pool import PoolConnectionProxy


class PostgresTransaction:
    def __init__(self, pool: asyncpg.Pool[asyncpg.Record]) -> None:
        self._pool = pool
        self._conn: PoolConnectionProxy[asyncpg.Record] | None = None
        self._transaction: asyncpg.transaction.Transaction | None = None

    async def __aenter__(self) -> Self:
        self._conn = await self._pool.acquire()
        self._transaction = self._conn.transaction()
        await self._transaction.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed, and give the connection back."""
        try:
            if self._transaction is not None:
                await self._transaction.rollback()
        finally:
            if self._conn is not None:
                await self._pool.release(self._conn)
            self._conn = self._transaction = None

    @property
    def connection(self) -> PoolConnectionProxy[asyncpg.Record]:
        """The unit's connection (only while it is open)."""
        if self._conn is None:
            raise RuntimeError("the unit of work is not open (use `async with`)")
        return self._conn

    async def commit(self) -> None:
        if self._transaction is None:
            raise RuntimeError("the unit of work is not open (use `async with`)")
        await self._transaction.commit()
        self._transaction = None
