"""Intake's unit of work: one transaction over schema ``intake`` that a handler commits
as a whole (only once the event it stands for was acknowledged) or that rolls back.

``IntakeUnitOfWork`` is what the handlers need; ``PostgresUnitOfWork`` is it on
PostgreSQL (the unit tests use a fake over dictionaries).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from services.intake.domain.commands import CounselRecord, RequestOwner
from services.intake.domain.lifecycle import RequestState
from services.intake.store import LOCK_REQUEST, request_owner, request_state
from shared.unit_of_work import PostgresTransaction


@dataclass(frozen=True)
class LockedRequest:
    owner: RequestOwner
    state: RequestState


class IntakeUnitOfWork(Protocol):
    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed."""

    async def lock_request(self, request_id: str) -> LockedRequest | None:
        """The request, locked until the end of the unit; None when unknown."""

    async def last_counsel_action(self, request_id: str) -> CounselRecord | None: ...

    async def add_counsel_action(self, record: CounselRecord) -> None: ...

    async def commit(self) -> None: ...


class PostgresUnitOfWork(PostgresTransaction):
    """A transaction on one connection of ``pool``, opened by ``async with``."""

    async def lock_request(self, request_id: str) -> LockedRequest | None:
        row = await self.connection.fetchrow(LOCK_REQUEST, request_id)
        return None if row is None else LockedRequest(request_owner(row), request_state(row))

    async def last_counsel_action(self, request_id: str) -> CounselRecord | None:
        row = await self.connection.fetchrow(
            "SELECT event_id, request_id, kind, fingerprint, author, recorded_at"
            " FROM counsel_actions WHERE request_id = $1"
            " ORDER BY recorded_at DESC, event_id DESC LIMIT 1",
            request_id,
        )
        if row is None:
            return None
        return CounselRecord(
            event_id=str(row["event_id"]),
            request_id=str(row["request_id"]),
            kind=row["kind"],
            fingerprint=row["fingerprint"],
            author=row["author"],
            recorded_at=row["recorded_at"],
        )

    async def add_counsel_action(self, record: CounselRecord) -> None:
        await self.connection.execute(
            "INSERT INTO counsel_actions (event_id, request_id, kind, fingerprint, author,"
            " recorded_at) VALUES ($1, $2, $3, $4, $5, $6)",
            record.event_id,
            record.request_id,
            record.kind,
            record.fingerprint,
            record.author,
            record.recorded_at,
        )
