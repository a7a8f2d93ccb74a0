"""What intake's HTTP layer needs from storage (PostgreSQL in ``store``; a fake in the
unit tests)."""

from __future__ import annotations

from typing import Protocol

from services.intake.domain.commands import Change, ChangeResult, NewRequest, Publish
from services.intake.domain.idempotency import Resolution


class Repository(Protocol):
    async def accept_submission(
        self, request: NewRequest, idempotency_key: str | None, publish: Publish
    ) -> Resolution: ...

    async def accept_change(self, change: Change, publish: Publish) -> ChangeResult: ...
