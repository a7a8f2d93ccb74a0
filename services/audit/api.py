"""Audit's HTTP read side (contract section 4)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from services.audit.chart import requests_chart_svg
from services.audit.domain.ledger import DeadLetterView
from services.audit.domain.request_view import (
    NotificationView,
    counsel_of,
    national_security_of,
    owner_of,
)
from services.audit.domain.transparency import (
    TransparencyReport,
    period_problems,
    report_csv,
    requests_by_month,
    transparency_report,
)
from services.audit.domain.tree_head import SignedTreeHead
from services.audit.store import AuditStore, RequestSummary, ViewAccess, ViewFilter
from services.audit.tree import LogTree
from shared.auth.guard import Authorised, Caller
from shared.auth.policy import Reach, may_see, without_personal_data

MAX_PAGE = 500


class EventRef(BaseModel):
    event_id: str
    type: str
    occurred_at: datetime
    leaf_index: int
    trace_id: str | None


class RequestHistory(BaseModel):
    request_id: str
    state: str
    received: dict[str, Any] | None
    classification: dict[str, Any] | None
    notifications: list[NotificationView]
    decision: dict[str, Any] | None
    amendments: list[dict[str, Any]]
    #: Who reviews the request (``RequestAssigned``); the queue reads it.
    assignee: str | None = None
    #: What legal staff decided (``request_view.counsel_of``).
    counsel: dict[str, Any] = {}
    events: list[EventRef]


class InclusionProof(BaseModel):
    leaf_index: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str]


class ConsistencyProof(BaseModel):
    first: int
    second: int
    consistency_path: list[str]


class RequestPage(BaseModel):
    items: list[RequestSummary]
    #: Pass as ``cursor`` for the next page; null on the last page.
    next_cursor: str | None


class DeadLetterEntry(DeadLetterView):
    leaf_index: int
    stored_at: datetime


class DeadLetterPage(BaseModel):
    items: list[DeadLetterEntry]
    #: Pass as ``after`` for the next page; null on the last page.
    next_after: int | None


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _encode_cursor(received_at: datetime | None, request_id: str) -> str:
    moment = received_at or datetime.fromtimestamp(0, UTC)
    raw = json.dumps([moment.isoformat(), request_id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        moment, request_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(moment), str(request_id)
    except (ValueError, TypeError, binascii.Error) as error:
        raise HTTPException(status_code=400, detail="cursor is not one this API gave") from error


class PublicKey(BaseModel):
    key_id: str
    algorithm: str = "Ed25519"
    public_key_pem: str
    public_key_base64: str


@dataclass(frozen=True)
class Audit:
    """What audit's routes use, kept as ``app.state.audit`` by the composition root."""

    store: AuditStore
    tree: LogTree
    public_key: PublicKey
    national_security_band: int = 250


def audit(request: Request) -> Audit:
    context: Audit = request.app.state.audit
    return context


Context = Annotated[Audit, Depends(audit)]
router = APIRouter(prefix="/v1")


def install_routes(app: FastAPI, context: Audit) -> None:
    app.state.audit = context
    app.include_router(router)


def _access(caller: Authorised) -> ViewAccess:
    """What of the read side ``caller`` reaches (filtered in SQL)."""
    principal = caller.principal
    return ViewAccess(
        organisation=principal.organisation if caller.reach is Reach.OWN_ORGANISATION else None,
        national_security=principal.national_security,
    )


@router.get("/requests", response_model=RequestPage)
async def list_requests(
    caller: Caller,
    context: Context,
    state: str | None = None,
    authority: Annotated[str | None, Query(description="authority code")] = None,
    authority_family: str | None = None,
    risk_level: str | None = None,
    country: str | None = None,
    deadline_before: datetime | None = None,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: str | None = None,
) -> RequestPage:
    """Requests the caller may see: a submitter its organisation's only; national-security
    process only with the national-security scope."""
    where = ViewFilter(
        state=state,
        authority_code=authority,
        authority_family=authority_family,
        risk_level=risk_level,
        country=country,
        deadline_before=_utc(deadline_before),
        received_from=_utc(received_from),
        received_to=_utc(received_to),
    )
    after = _decode_cursor(cursor) if cursor else None
    rows = await context.store.list_views(where, limit + 1, after, _access(caller))
    items = rows[:limit]
    last = items[-1] if len(rows) > limit else None
    return RequestPage(
        items=items,
        next_cursor=_encode_cursor(last.received_at, last.request_id) if last else None,
    )


@router.get("/deadletters", response_model=DeadLetterPage)
async def dead_letters(
    caller: Caller,
    context: Context,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    after: Annotated[int, Query(ge=-1)] = -1,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> DeadLetterPage:
    """Records some consumer could not process (never their values); those of
    national-security requests only with the national-security scope."""
    rows = await context.store.dead_letters(
        _utc(start), _utc(end), after, limit + 1, _access(caller)
    )
    items = [
        DeadLetterEntry(
            leaf_index=row.leaf_index, stored_at=row.stored_at, **row.dead_letter.model_dump()
        )
        for row in rows[:limit]
    ]
    return DeadLetterPage(
        items=items, next_after=items[-1].leaf_index if len(rows) > limit else None
    )


@router.get("/reports/transparency", response_model=TransparencyReport)
async def transparency(
    context: Context,
    start: Annotated[datetime, Query(alias="from")],
    end: Annotated[datetime, Query(alias="to")],
    format: Literal["json", "csv"] = "json",
) -> Any:
    begin, finish = _period(start, end)
    counts = await context.store.report_counts(begin, finish)
    report = transparency_report(counts, begin, finish, context.national_security_band)
    if format == "csv":
        return Response(report_csv(report), media_type="text/csv")
    return report


@router.get("/reports/transparency/chart.svg")
async def transparency_chart(
    context: Context,
    start: Annotated[datetime, Query(alias="from")],
    end: Annotated[datetime, Query(alias="to")],
) -> Response:
    begin, finish = _period(start, end)
    months = await context.store.month_counts(begin, finish)
    title = f"Requests by authority family, {begin:%Y-%m-%d} to {finish:%Y-%m-%d}"
    svg = requests_chart_svg(requests_by_month(months, begin, finish), title)
    return Response(svg, media_type="image/svg+xml")


@router.get("/audit/tree-head", response_model=SignedTreeHead)
async def tree_head(context: Context) -> SignedTreeHead:
    return await context.tree.sign_head()


@router.get("/audit/public-key", response_model=PublicKey)
async def signing_public_key(context: Context) -> PublicKey:
    return context.public_key


@router.get("/audit/proof/inclusion", response_model=InclusionProof)
async def inclusion(
    context: Context,
    leaf_index: Annotated[int, Query(ge=0)],
    tree_size: Annotated[int, Query(ge=1)],
) -> InclusionProof:
    tree = context.tree
    size = await tree.catch_up()
    if tree_size > size or leaf_index >= tree_size:
        raise HTTPException(
            status_code=400,
            detail=f"need 0 <= leaf_index < tree_size <= {size} (the current size)",
        )
    path = tree.tree.inclusion_proof(leaf_index, tree_size)
    leaf = tree.tree.leaf_at(leaf_index)
    return InclusionProof(
        leaf_index=leaf_index,
        tree_size=tree_size,
        leaf_hash=leaf.hex(),
        audit_path=[node.hex() for node in path],
    )


@router.get("/audit/proof/consistency", response_model=ConsistencyProof)
async def consistency(
    context: Context,
    first: Annotated[int, Query(ge=1)],
    second: Annotated[int, Query(ge=1)],
) -> ConsistencyProof:
    tree = context.tree
    size = await tree.catch_up()
    if first > second or second > size:
        raise HTTPException(
            status_code=400, detail=f"need 1 <= first <= second <= {size} (the current size)"
        )
    path = tree.tree.consistency_proof(first, second)
    return ConsistencyProof(
        first=first, second=second, consistency_path=[node.hex() for node in path]
    )


@router.get("/requests/{request_id}", response_model=RequestHistory)
async def request_history(request_id: str, caller: Caller, context: Context) -> RequestHistory:
    """A request's history; ``404`` when unknown or not the caller's to see. Readers and
    auditors get it without document text, contact data and notes."""
    view = await context.store.request_view(request_id)
    if view is None or not may_see(
        caller.principal, caller.reach, owner_of(view), national_security_of(view)
    ):
        # a request with no view yet has no known owner: nobody sees it before it is
        # received and projected (fail closed)
        raise HTTPException(status_code=404, detail=f"no request {request_id}")
    events = await context.store.events_of(request_id)
    history = RequestHistory(
        request_id=request_id,
        state=view.state,
        received=view.received,
        classification=view.classification,
        notifications=list(view.notifications),
        decision=view.decision,
        amendments=list(view.amendments),
        assignee=view.assignee,
        counsel=counsel_of(view),
        events=[
            EventRef(
                event_id=e.event_id,
                type=e.event_type,
                occurred_at=e.occurred_at,
                leaf_index=e.leaf_index,
                trace_id=e.trace_id,
            )
            for e in events
        ],
    )
    if caller.reach is Reach.ANY_WITHOUT_PERSONAL_DATA:
        return RequestHistory.model_validate(without_personal_data(history.model_dump(mode="json")))
    return history


def _period(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """``[from, to)`` in UTC, or 422 naming the query field that makes it no report
    period (before 2000, empty, or longer than ten years)."""
    begin = start if start.tzinfo else start.replace(tzinfo=UTC)
    finish = end if end.tzinfo else end.replace(tzinfo=UTC)
    given = {"from": start, "to": end}
    problems = period_problems(begin, finish)
    if problems:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", field),
                    "msg": message,
                    "input": given[field].isoformat(),
                }
                for field, message in problems
            ]
        )
    return begin, finish
