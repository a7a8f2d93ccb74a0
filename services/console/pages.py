"""The console's pages: the queue, a request, the transparency report, the policy."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.auth import ConsoleUser
from services.console.context import Console, Context, PageProblem, Staff, render
from services.console.forms import ACTIONS
from services.console.policy_view import policy_page_values
from services.console.views import (
    ENDABLE_HOLDS,
    countdown,
    event_leaves,
    gag_in_force,
    parse_time,
    shows,
    submission_of,
    targets_of,
    verdict_of,
)
from shared.auth.keys import Role
from shared.counsel import ProductionChoice, VerificationMethod, VerificationOutcome
from shared.verdict import RecommendedAction, RiskLevel

router = APIRouter()
#: The queue's filters passed on to audit's ``GET /v1/queue`` (none names a person).
QUEUE_FILTERS = ("order", "state", "risk_level", "authority_family", "deadline_kind", "cursor")
QUEUE_ORDERS = ("deadline", "risk", "received")
STATES = ("received", "classified", "notice_scheduled", "notice_withheld", "notice_sent")
DEADLINE_KINDS = ("response", "gag_expiry", "preservation_end", "hold_review")
#: A request id as intake gives them (a UUID), or anything audit stored (up to 500).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,500}")


def _upstream_problem(service: str, status: int) -> PageProblem:
    if status == 404:
        return PageProblem(404, "Not found", "no such request, or not one you may see")
    if status == 403:
        return PageProblem(403, "Not for your role", f"{service} refused this for your role")
    return PageProblem(502, f"{service} refused the call", f"{service} answered {status}")


@router.get("/", include_in_schema=False)
async def start(user: Staff) -> Response:
    """Legal staff start at the queue (theirs); readers and auditors at the report."""
    return RedirectResponse("/queue" if user.role is Role.LEGAL else "/report", status_code=303)


@router.get("/queue", response_class=HTMLResponse)
async def queue(request: Request, user: Staff, context: Context) -> Response:
    query = {
        name: request.query_params[name] for name in QUEUE_FILTERS if request.query_params.get(name)
    }
    if request.query_params.get("unassigned") == "on":
        query["unassigned"] = "true"
    response = await context.upstream.audit(user, "/v1/queue", params=query)
    problems: list[str] = []
    page: dict[str, Any] = {"items": []}
    if response.status_code == 422:
        problems = [
            f"{e.get('parameter') or 'filter'}: {e.get('detail')}"
            for e in response.json().get("errors") or []
        ] or ["a filter is not valid"]
    elif response.status_code != 200:
        raise _upstream_problem("audit", response.status_code)
    else:
        page = response.json()
    now = datetime.now(UTC)
    rows = []
    for item in page["items"]:
        deadline = item.get("next_deadline")
        due = parse_time(deadline["due_at"]) if deadline else None
        rows.append({**item, "due": due, "countdown": countdown(due, now) if due else None})
    next_query = None
    if page.get("next_cursor"):
        next_query = {**query, "cursor": page["next_cursor"]}
        next_query.pop("unassigned", None)
        if "unassigned" in query:
            next_query["unassigned"] = "on"
    return render(
        request,
        "queue.html.jinja",
        {
            "rows": rows,
            "filters": {name: request.query_params.get(name, "") for name in QUEUE_FILTERS},
            "unassigned": request.query_params.get("unassigned") == "on",
            "orders": QUEUE_ORDERS,
            "states": STATES,
            "risk_levels": [level.value for level in RiskLevel],
            "deadline_kinds": DEADLINE_KINDS,
            "problems": problems,
            "next_query": next_query,
        },
        user,
    )


@router.get("/requests", include_in_schema=False)
async def open_request(_user: Staff, request_id: Annotated[str, Query(max_length=500)]) -> Response:
    """The "open a request by id" form."""
    wanted = request_id.strip()
    if _REQUEST_ID.fullmatch(wanted) is None:
        raise PageProblem(422, "Not a request id", "a request id is what intake answered")
    return RedirectResponse(f"/requests/{wanted}", status_code=303)


async def verifier_key(context: Console, user: ConsoleUser) -> str:
    """The verify badge's trust anchor: the key pinned in the settings; read from audit's
    public-key route only in development mode (``docs/checkpoints.md``)."""
    pinned = context.settings.console_verifier_key
    if pinned is not None or not context.settings.development_mode:
        return pinned or ""
    if not context.public_key:
        response = await context.upstream.audit(user, "/v1/audit/public-key")
        if response.status_code == 200:
            context.public_key.update(response.json())
    return str(context.public_key.get("note_verifier_key", ""))


async def request_page(
    request: Request,
    request_id: str,
    user: ConsoleUser,
    context: Console,
    problems: dict[str, dict[str, str]] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """A request's page; ``problems`` and ``values``: a form sent back to be corrected."""
    response = await context.upstream.audit(user, f"/v1/requests/{request_id}")
    if response.status_code != 200:
        raise _upstream_problem("audit", response.status_code)
    history: dict[str, Any] = response.json()
    now = datetime.now(UTC)
    received = submission_of(history)
    instrument = received.get("instrument") or {}
    due = parse_time(instrument.get("response_deadline"))
    recorded = request.query_params.get("recorded")
    awaited = request.query_params.get("event")
    return render(
        request,
        "request.html.jinja",
        {
            "request_id": request_id,
            "history": history,
            "received": received,
            "instrument": instrument,
            "verdict": verdict_of(history),
            "counsel": history.get("counsel") or {},
            "targets": targets_of(history),
            "gag": gag_in_force(history, now),
            "due": due,
            "due_countdown": countdown(due, now) if due else None,
            "leaves": ",".join(str(leaf) for leaf in event_leaves(history)),
            "verifier_key": await verifier_key(context, user) if user.role is Role.LEGAL else "",
            "jaeger_url": (context.settings.jaeger_url or "").rstrip("/"),
            "recorded": ACTIONS[recorded].label if recorded in ACTIONS else None,
            "awaiting": awaited if awaited and not shows(history, awaited) else None,
            "problems": problems or {},
            "values": values or {},
            "failed_action": next(iter(problems), None) if problems else None,
            "holds": ENDABLE_HOLDS,
            "methods": [m.value for m in VerificationMethod],
            "outcomes": [o.value for o in VerificationOutcome],
            "choices": [c.value for c in ProductionChoice],
            "risk_levels": [level.value for level in RiskLevel],
            "actions_recommended": [a.value for a in RecommendedAction],
            "categories": received.get("data_requested") or [],
        },
        user,
        status_code,
    )


@router.get("/requests/{request_id}", response_class=HTMLResponse)
async def request_detail(
    request: Request, request_id: str, user: Staff, context: Context
) -> Response:
    if _REQUEST_ID.fullmatch(request_id) is None:
        raise PageProblem(404, "Not found", "no such request")
    return await request_page(request, request_id, user, context)


def _period(start: date | None, end: date | None) -> tuple[date, date]:
    today = datetime.now(UTC).date()
    return (
        start or date(today.year - 9, 1, 1),
        end or date(today.year + 1, 1, 1),
    )


@dataclass(frozen=True)
class Period:
    """A report period from the page's ``from``/``to`` dates (default: ten years)."""

    start: date
    end: date

    @property
    def query(self) -> dict[str, str]:
        return {
            "from": f"{self.start.isoformat()}T00:00:00Z",
            "to": f"{self.end.isoformat()}T00:00:00Z",
        }


def period(
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> Period:
    return Period(*_period(start, end))


ReportPeriod = Annotated[Period, Depends(period)]


async def _report(user: ConsoleUser, context: Console, path: str, params: dict[str, str]) -> bytes:
    response = await context.upstream.audit(user, path, params=params)
    if response.status_code == 422:
        raise PageProblem(422, "Not a report period", "pick a period after 2000, at most 100 years")
    if response.status_code != 200:
        raise _upstream_problem("audit", response.status_code)
    return response.content


@router.get("/report", response_class=HTMLResponse)
async def report(request: Request, user: Staff, context: Context, when: ReportPeriod) -> Response:
    body = await _report(user, context, "/v1/reports/transparency", when.query)
    values = {"report": json.loads(body), "start": when.start, "end": when.end}
    return render(request, "report.html.jinja", values, user)


@router.get("/report.csv")
async def report_csv(user: Staff, context: Context, when: ReportPeriod) -> Response:
    query = {**when.query, "format": "csv"}
    body = await _report(user, context, "/v1/reports/transparency", query)
    name = f"transparency-{when.start.isoformat()}-{when.end.isoformat()}.csv"
    return Response(
        body,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/report/chart.svg")
async def report_chart(user: Staff, context: Context, when: ReportPeriod) -> Response:
    body = await _report(user, context, "/v1/reports/transparency/chart.svg", when.query)
    return Response(body, media_type="image/svg+xml")


@router.get("/policy", response_class=HTMLResponse)
async def policy(request: Request, user: Staff, context: Context) -> Response:
    return render(request, "policy.html.jinja", await policy_page_values(user, context), user)


# --- the verify badge's reads, same-origin, as the signed-in person ------------------


@router.get("/log/checkpoint")
async def log_checkpoint(user: Staff, context: Context) -> Response:
    response = await context.upstream.audit(user, "/v1/log/checkpoint")
    return Response(
        response.content,
        status_code=response.status_code,
        media_type=response.headers.get("content-type", "text/plain"),
    )


@router.get("/log/proof")
async def log_proof(
    user: Staff,
    context: Context,
    leaf_index: Annotated[int, Query(ge=0)],
    tree_size: Annotated[int, Query(ge=1)],
) -> Response:
    response = await context.upstream.audit(
        user,
        "/v1/audit/proof/inclusion",
        params={"leaf_index": leaf_index, "tree_size": tree_size},
    )
    return Response(
        response.content,
        status_code=response.status_code,
        media_type=response.headers.get("content-type", "application/json"),
    )


@router.get("/log/leaves/{leaf_index}")
async def log_leaf(leaf_index: int, user: Staff, context: Context) -> Response:
    if leaf_index < 0:
        raise PageProblem(404, "Not found", "no such leaf")
    response = await context.upstream.audit(user, f"/v1/audit/leaves/{leaf_index}")
    return Response(
        response.content,
        status_code=response.status_code,
        media_type=response.headers.get("content-type", "application/octet-stream"),
    )
