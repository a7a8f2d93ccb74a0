"""``GET /v1/queue``: legal staff's queue of open requests, read from audit's read side.

Open means not decided and not withdrawn. Each row has its next running deadline (the
clocks of ``services/audit/domain/deadlines.py``), its risk, authority, assignee, and
what it is waiting for and on whom. Filters and sort orders are done in SQL with keyset
paging: the cursor is opaque (it encodes the sort order and the last row's position)
and stays valid while rows are added. National-security process appears only for keys
with the national-security scope (``shared/auth/policy.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict

from services.audit.domain.deadlines import Leads, Stage, stage_at
from services.audit.domain.queue import Waiting, waiting_on
from services.audit.domain.request_view import RequestView
from services.audit.store import NATIONAL_SECURITY_VIEW
from shared.auth.guard import Caller
from shared.db import DatabaseStore
from shared.events import DeadlineKind
from shared.paging import CURSOR_PARAMETER, Cursor, Page, decode_cursor, page_links
from shared.problems import invalid_query
from shared.verdict import RiskLevel

MAX_PAGE = 200


class QueueOrder(StrEnum):
    #: The earliest running deadline first; requests without one last.
    DEADLINE = "deadline"
    #: The highest risk score first; requests not yet classified before all others.
    RISK = "risk"
    #: The oldest first.
    RECEIVED = "received"


class NextDeadline(BaseModel):
    kind: DeadlineKind
    due_at: datetime
    #: pending, approaching (inside its lead time) or missed.
    state: Stage


class QueueRow(BaseModel):
    request_id: str
    state: str
    received_at: datetime | None
    risk_level: str | None
    risk_score: int | None
    authority_code: str | None
    authority_family: str | None
    assignee: str | None
    next_deadline: NextDeadline | None
    waiting: Waiting
    #: Earlier requests linked to this one; the one it duplicates.
    linked_requests: int
    duplicate_of: str | None


class QueuePage(Page):
    """One page (``shared/paging.py``): pass ``next_cursor`` back as ``cursor``, with the
    same ``order`` and filters, or follow ``next``."""

    items: list[QueueRow]


@dataclass(frozen=True)
class QueueFilter:
    state: str | None = None
    risk_level: RiskLevel | None = None
    authority: str | None = None
    authority_family: str | None = None
    assignee: str | None = None
    unassigned: bool = False
    deadline_before: datetime | None = None
    deadline_kind: DeadlineKind | None = None


#: The sort key of each order, over a view ``v`` and its next deadline ``d``, and the
#: SQL type the cursor's key is cast to.
_SORT_KEYS = {
    QueueOrder.DEADLINE: ("coalesce(d.due_at, 'infinity'::timestamptz)", "timestamptz"),
    QueueOrder.RISK: (
        "-coalesce((v.view #>> '{classification,risk,score}')::bigint, 1000000000)",
        "bigint",
    ),
    QueueOrder.RECEIVED: ("coalesce(v.received_at, 'epoch'::timestamptz)", "timestamptz"),
}


class QueueStore(DatabaseStore):
    async def open_requests(
        self,
        where: QueueFilter,
        order: QueueOrder,
        after: tuple[str, str] | None,
        limit: int,
        national_security: bool,
    ) -> list[asyncpg.Record]:
        """Open requests matching ``where`` in ``order``, after the cursor's position."""
        sort_key, sort_type = _SORT_KEYS[order]
        clauses = ["v.state NOT IN ('decided', 'withdrawn')"]
        params: list[Any] = []

        def add(clause: str, *values: Any) -> None:
            for value in values:
                params.append(value)
                clause = clause.replace("?", f"${len(params)}", 1)
            clauses.append(clause)

        if where.state is not None:
            add("v.state = ?", where.state)
        if where.risk_level is not None:
            add("v.risk_level = ?", where.risk_level.value)
        if where.authority is not None:
            add("v.authority_code = ?", where.authority)
        if where.authority_family is not None:
            add("v.authority_family = ?", where.authority_family)
        if where.assignee is not None:
            add("v.view ->> 'assignee' = ?", where.assignee)
        if where.unassigned:
            clauses.append("v.view ->> 'assignee' IS NULL")
        if where.deadline_before is not None:
            add("d.due_at < ?", where.deadline_before)
        if where.deadline_kind is not None:
            add("d.kind = ?", where.deadline_kind.value)
        if not national_security:
            clauses.append(f"NOT {NATIONAL_SECURITY_VIEW}")
        if after is not None:
            add(f"({sort_key}, v.request_id) > (?::text::{sort_type}, ?)", *after)
        params.append(limit)
        return await self.pool.fetch(
            "SELECT v.request_id, v.state, v.received_at, v.risk_level, v.authority_code,"
            f" v.authority_family, v.view, d.kind AS next_kind, d.due_at AS next_due,"
            f" ({sort_key})::text AS sort_key"
            " FROM request_views v LEFT JOIN LATERAL (SELECT kind, due_at FROM deadlines"
            " WHERE request_id = v.request_id AND running ORDER BY due_at, kind LIMIT 1) d"
            f" ON true WHERE {' AND '.join(clauses)}"
            f" ORDER BY {sort_key}, v.request_id LIMIT ${len(params)}",
            *params,
        )


@dataclass(frozen=True)
class Queue:
    """What the queue route uses, kept as ``app.state.queue`` by the composition root."""

    store: QueueStore
    leads: Leads


def queue_context(request: Request) -> Queue:
    context: Queue = request.app.state.queue
    return context


router = APIRouter(prefix="/v1")


class QueuePosition(BaseModel):
    """Where a page of the queue ended: the order it was in and its last row."""

    model_config = ConfigDict(frozen=True)

    order: QueueOrder
    sort_key: str
    request_id: str


def cursor_position(cursor: str, order: QueueOrder) -> tuple[str, str]:
    """The position a cursor encodes; ``422`` naming ``cursor`` for one this API did
    not give, or gave for another ``order``."""
    position = decode_cursor(cursor, QueuePosition)
    if position.order is not order:
        raise invalid_query(
            (CURSOR_PARAMETER, "this cursor was given for another order: pass the same order")
        )
    return position.sort_key, position.request_id


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def queue_row(record: asyncpg.Record, leads: Leads, now: datetime) -> QueueRow:
    view = RequestView.model_validate(json.loads(record["view"]))
    next_deadline = None
    if record["next_kind"] is not None:
        kind = DeadlineKind(record["next_kind"])
        next_deadline = NextDeadline(
            kind=kind,
            due_at=record["next_due"],
            state=stage_at(record["next_due"], leads.of(kind), now),
        )
    score = ((view.classification or {}).get("risk") or {}).get("score")
    return QueueRow(
        request_id=view.request_id,
        state=view.state,
        received_at=record["received_at"],
        risk_level=record["risk_level"],
        risk_score=score if isinstance(score, int) else None,
        authority_code=record["authority_code"],
        authority_family=record["authority_family"],
        assignee=view.assignee,
        next_deadline=next_deadline,
        waiting=waiting_on(view),
        linked_requests=len(view.links),
        duplicate_of=view.duplicate_of,
    )


@router.get("/queue", response_model=QueuePage)
async def queue(
    request: Request,
    caller: Caller,
    context: Annotated[Queue, Depends(queue_context)],
    order: QueueOrder = QueueOrder.DEADLINE,
    state: str | None = None,
    risk_level: RiskLevel | None = None,
    authority: Annotated[str | None, Query(description="authority code")] = None,
    authority_family: str | None = None,
    assignee: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    unassigned: bool = False,
    deadline_before: datetime | None = None,
    deadline_kind: DeadlineKind | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Cursor = None,
) -> QueuePage:
    """Open requests for legal staff, by deadline (default), risk or age."""
    if assignee is not None and unassigned:
        raise invalid_query(("unassigned", "pass assignee or unassigned, not both"))
    where = QueueFilter(
        state=state,
        risk_level=risk_level,
        authority=authority,
        authority_family=authority_family,
        assignee=assignee,
        unassigned=unassigned,
        deadline_before=_utc(deadline_before),
        deadline_kind=deadline_kind,
    )
    after = cursor_position(cursor, order) if cursor else None
    records = await context.store.open_requests(
        where, order, after, limit + 1, caller.principal.national_security
    )
    now = datetime.now(UTC)
    page = records[:limit]
    last = page[-1] if len(records) > limit else None
    position = (
        QueuePosition(order=order, sort_key=last["sort_key"], request_id=last["request_id"])
        if last
        else None
    )
    return QueuePage(
        items=[queue_row(record, context.leads, now) for record in page],
        **page_links(request, position),
    )
