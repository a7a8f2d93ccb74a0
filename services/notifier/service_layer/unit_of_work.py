"""The notifier's unit of work: one transaction over schema ``notifier`` that a handler
commits as a whole, or that rolls back (``NotifierUnitOfWork``; on PostgreSQL
``PostgresUnitOfWork``, over dictionaries in the unit tests).
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from services.notifier.store import NoticePlan, NotifierStore, RequestRecord
from shared.events import CounselAction
from shared.unit_of_work import PostgresTransaction


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


class PostgresUnitOfWork(PostgresTransaction):
    """A transaction on one connection of the store's pool, opened by ``async with``."""

    def __init__(self, store: NotifierStore) -> None:
        super().__init__(store.pool)
        self._store = store

    async def lock_request(self, request_id: str) -> RequestRecord:
        return await self._store.lock_request(self.connection, request_id)

    async def add_counsel_action(self, event_id: str, action: CounselAction) -> bool:
        return await self._store.add_counsel_action(self.connection, event_id, action)

    async def apply_plan(self, plan: NoticePlan, traceparent: str | None) -> bool:
        return await self._store.apply_plan(self.connection, plan, traceparent)
