"""Audit's HTTP read side (contract section 4)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, WithJsonSchema

from services.audit.chart import requests_chart_svg
from services.audit.domain.checkpoint import CHECKPOINT_MEDIA_TYPE
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
from shared.paging import Cursor, Page, decode_cursor, page_links
from shared.problems import invalid_query
from shared.submission import ShortText, to_utc
from shared.verdict import RiskLevel

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
    links: list[dict[str, Any]] = []
    duplicate_of: str | None = None
    #: Who reviews the request (``RequestAssigned``); the queue reads it.
    assignee: str | None = None
    deadline_events: list[dict[str, Any]] = []
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


class RequestPage(Page):
    items: list[RequestSummary]


class DeadLetterEntry(DeadLetterView):
    leaf_index: int
    stored_at: datetime


class DeadLetterPage(Page):
    items: list[DeadLetterEntry]


#: A date (``2026-01-31``, midnight UTC) or an ISO 8601 date and time, its offset
#: optional (UTC when left out): ``2026-01-31T12:00:00Z``, ``2026-01-31T07:00-05:00``.
TIME_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([Tt][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?([Zz]|[+-][0-9]{2}:[0-9]{2})?)?$"
)


def _time_text(value: object) -> object:
    """A time given as text only in the forms :data:`TIME_PATTERN` names (pydantic
    would take ``0.5`` as a Unix time, and a space for the ``T``)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or re.fullmatch(TIME_PATTERN, value) is None:
        raise ValueError("a date (2026-01-31) or a date and time (2026-01-31T12:00:00Z)")
    return value


def _in_utc(value: datetime) -> datetime:
    try:
        return to_utc(value)
    except OverflowError as error:  # 9999-12-31T23:00-05:00 has no UTC time
        raise ValueError("this time is out of range once converted to UTC") from error


#: A time in a query, as UTC; one with no UTC equivalent is refused (422).
QueryTime = Annotated[
    datetime,
    BeforeValidator(_time_text),
    AfterValidator(_in_utc),
    WithJsonSchema({"type": "string", "pattern": TIME_PATTERN}),
]
#: A filter value: one line of text (control characters are refused before routing).
Filter = Annotated[str | None, Query(max_length=500)]


class RequestPosition(BaseModel):
    """Where a page of ``GET /v1/requests`` ended (its cursor)."""

    received_at: QueryTime
    request_id: ShortText


class LeafPosition(BaseModel):
    """Where a page of ``GET /v1/deadletters`` ended (its cursor)."""

    leaf_index: int = Field(ge=0, lt=2**63)


class PublicKey(BaseModel):
    key_id: str
    algorithm: str = "Ed25519"
    public_key_pem: str
    public_key_base64: str
    #: The checkpoints' origin, and the signed-note verifier key that checks them.
    log_origin: str
    note_verifier_key: str


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
    request: Request,
    caller: Caller,
    context: Context,
    state: Filter = None,
    authority: Annotated[str | None, Query(max_length=500, description="authority code")] = None,
    authority_family: Filter = None,
    risk_level: RiskLevel | None = None,
    country: Filter = None,
    deadline_before: QueryTime | None = None,
    received_from: QueryTime | None = None,
    received_to: QueryTime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Cursor = None,
) -> RequestPage:
    """Requests the caller may see, oldest first: a submitter its organisation's only;
    national-security process only with the national-security scope."""
    where = ViewFilter(
        state=state,
        authority_code=authority,
        authority_family=authority_family,
        risk_level=risk_level,
        country=country,
        deadline_before=deadline_before,
        received_from=received_from,
        received_to=received_to,
    )
    after = decode_cursor(cursor, RequestPosition) if cursor else None
    position = (after.received_at, after.request_id) if after else None
    rows = await context.store.list_views(where, limit + 1, position, _access(caller))
    items = rows[:limit]
    last = None
    if len(rows) > limit:
        moment = items[-1].received_at or datetime.fromtimestamp(0, UTC)
        last = RequestPosition(received_at=moment, request_id=items[-1].request_id)
    return RequestPage(items=items, **page_links(request, last))


@router.get("/deadletters", response_model=DeadLetterPage)
async def dead_letters(
    request: Request,
    caller: Caller,
    context: Context,
    start: Annotated[QueryTime | None, Query(alias="from")] = None,
    end: Annotated[QueryTime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Cursor = None,
) -> DeadLetterPage:
    """Records some consumer could not process (never their values), oldest first;
    those of national-security requests only with the national-security scope."""
    after = decode_cursor(cursor, LeafPosition).leaf_index if cursor else -1
    rows = await context.store.dead_letters(start, end, after, limit + 1, _access(caller))
    items = [
        DeadLetterEntry(
            leaf_index=row.leaf_index, stored_at=row.stored_at, **row.dead_letter.model_dump()
        )
        for row in rows[:limit]
    ]
    last = LeafPosition(leaf_index=items[-1].leaf_index) if len(rows) > limit else None
    return DeadLetterPage(items=items, **page_links(request, last))


@router.get(
    "/reports/transparency",
    response_model=TransparencyReport,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def transparency(
    context: Context,
    start: Annotated[QueryTime, Query(alias="from")],
    end: Annotated[QueryTime, Query(alias="to")],
    format: Literal["json", "csv"] = "json",
) -> Any:
    begin, finish = _period(start, end)
    counts = await context.store.report_counts(begin, finish)
    report = transparency_report(counts, begin, finish, context.national_security_band)
    if format == "csv":
        return Response(report_csv(report), media_type="text/csv")
    return report


@router.get(
    "/reports/transparency/chart.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}}}},
)
async def transparency_chart(
    context: Context,
    start: Annotated[QueryTime, Query(alias="from")],
    end: Annotated[QueryTime, Query(alias="to")],
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


@router.get(
    "/log/checkpoint",
    response_class=PlainTextResponse,
    responses={200: {"content": {CHECKPOINT_MEDIA_TYPE: {}}}},
)
async def checkpoint(context: Context) -> PlainTextResponse:
    """The latest tree head as a C2SP checkpoint (a signed note), for transparency-dev
    tooling and witnesses; verify it with ``note_verifier_key`` of ``/audit/public-key``."""
    text = await context.tree.checkpoint()
    return PlainTextResponse(text, media_type=CHECKPOINT_MEDIA_TYPE)


@router.get("/audit/proof/inclusion", response_model=InclusionProof)
async def inclusion(
    context: Context,
    leaf_index: Annotated[int, Query(ge=0)],
    tree_size: Annotated[int, Query(ge=1)],
) -> InclusionProof:
    tree = context.tree
    size = await tree.catch_up()
    if tree_size > size or leaf_index >= tree_size:
        problems = [("leaf_index", "leaf_index must be below tree_size")]
        if tree_size > size:
            problems = [("tree_size", f"the log has {size} leaves: tree_size is at most that")]
        raise invalid_query(*problems)
    path = tree.tree.inclusion_proof(leaf_index, tree_size)
    leaf = tree.tree.leaf_at(leaf_index)
    return InclusionProof(
        leaf_index=leaf_index,
        tree_size=tree_size,
        leaf_hash=leaf.hex(),
        audit_path=[node.hex() for node in path],
    )


LEAF_MEDIA_TYPE = "application/octet-stream"


@router.get(
    "/audit/leaves/{leaf_index}",
    summary="A leaf's stored bytes",
    response_class=Response,
    responses={
        200: {
            "content": {LEAF_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            "description": "The leaf's exact bytes: SHA-256(0x00 || these) is its leaf hash",
        }
    },
)
async def leaf(
    leaf_index: Annotated[int, Path(ge=0, lt=2**63)], caller: Caller, context: Context
) -> Response:
    """The exact bytes stored as leaf ``leaf_index`` (the RFC 8785 JSON of its ledger
    entry, personal data included: legal staff only), for a verifier that hashes the leaf
    itself rather than trust ``leaf_hash``; ``404`` past the end, and for a leaf of
    national-security process without the national-security scope."""
    data = await context.store.leaf(leaf_index, caller.principal.national_security)
    if data is None:
        raise HTTPException(status_code=404, detail=f"no leaf {leaf_index}")
    return Response(data, media_type=LEAF_MEDIA_TYPE, headers={"Cache-Control": "no-store"})


@router.get("/audit/proof/consistency", response_model=ConsistencyProof)
async def consistency(
    context: Context,
    first: Annotated[int, Query(ge=1)],
    second: Annotated[int, Query(ge=1)],
) -> ConsistencyProof:
    tree = context.tree
    size = await tree.catch_up()
    if first > second or second > size:
        problems = [("first", "first must not exceed second")]
        if second > size:
            problems = [("second", f"the log has {size} leaves: second is at most that")]
        raise invalid_query(*problems)
    path = tree.tree.consistency_proof(first, second)
    return ConsistencyProof(
        first=first, second=second, consistency_path=[node.hex() for node in path]
    )


RequestIdentifier = Annotated[
    str, Path(max_length=500, description="The request_id intake answered")
]


@router.get("/requests/{request_id}", response_model=RequestHistory)
async def request_history(
    request_id: RequestIdentifier, caller: Caller, context: Context
) -> RequestHistory:
    """A request's history; ``404`` when unknown or not the caller's to see. Readers and
    auditors get it without document text, contact data and notes."""
    view, events = await context.store.history_of(request_id)
    if view is None or not may_see(
        caller.principal, caller.reach, owner_of(view), national_security_of(view)
    ):
        # a request with no view yet has no known owner: nobody sees it before it is
        # received and projected (fail closed)
        raise HTTPException(status_code=404, detail=f"no request {request_id}")
    history = RequestHistory(
        request_id=request_id,
        state=view.state,
        received=view.received,
        classification=view.classification,
        notifications=list(view.notifications),
        decision=view.decision,
        amendments=list(view.amendments),
        links=list(view.links),
        duplicate_of=view.duplicate_of,
        assignee=view.assignee,
        deadline_events=list(view.deadline_events),
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


def _period(begin: datetime, finish: datetime) -> tuple[datetime, datetime]:
    """``[from, to)`` (UTC), or 422 naming the query field that makes it no report
    period (before 2000, empty, or longer than a hundred years)."""
    problems = period_problems(begin, finish)
    if problems:
        raise invalid_query(*problems)
    return begin, finish
