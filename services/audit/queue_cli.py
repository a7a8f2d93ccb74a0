"""``docket queue``: legal staff's queue of open requests (``GET /v1/queue`` of the
audit service, with the key in ``DOCKET_API_KEY``): by deadline, risk or age, filtered,
one page or every page, as a table or JSON."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlencode

import typer

from shared import cli_http
from shared.cli_http import AUDIT_URL, AuditUrl
from shared.cli_support import ExitCode, JsonFlag, fail, print_json


def format_queue(rows: list[dict[str, Any]]) -> str:
    """One line per request: its next deadline, risk, state, assignee, id, and what
    it waits for on whom."""
    lines = [
        f"{'due (UTC)':<17} {'deadline':<17} {'state':<11} {'risk':<8} {'request':<36} "
        "waiting for (on)"
    ]
    for row in rows:
        deadline = row.get("next_deadline")
        due = deadline["due_at"][:16].replace("T", " ") if deadline else "-"
        clock = f"{deadline['kind']}:{deadline['state']}" if deadline else "-"
        waiting = row["waiting"]
        lines.append(
            f"{due:<17} {clock:<17} {row['state']:<11} {row.get('risk_level') or '-':<8} "
            f"{row['request_id']:<36} {waiting['what']} ({waiting['on']})"
        )
    if not rows:
        lines.append("(nothing open)")
    return "\n".join(lines)


class Order(StrEnum):
    deadline = "deadline"
    risk = "risk"
    received = "received"


class RiskLevel(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class DeadlineKind(StrEnum):
    response = "response"
    gag_expiry = "gag_expiry"
    preservation_end = "preservation_end"
    hold_review = "hold_review"


def queue_params(
    *,
    order: str = "deadline",
    limit: int = 50,
    state: str | None = None,
    risk_level: str | None = None,
    authority: str | None = None,
    assignee: str | None = None,
    deadline_before: str | None = None,
    kind: str | None = None,
    unassigned: bool = False,
) -> dict[str, str]:
    """The query of ``GET /v1/queue`` for these filters (absent ones left out)."""
    params = {"order": order, "limit": str(limit)}
    named = {
        "state": state,
        "risk_level": risk_level,
        "authority": authority,
        "assignee": assignee,
        "deadline_before": deadline_before,
        "deadline_kind": kind,
    }
    params.update({name: value for name, value in named.items() if value is not None})
    if unassigned:
        params["unassigned"] = "true"
    return params


def queue(
    order: Annotated[Order, typer.Option(help="sort by")] = Order.deadline,
    state: Annotated[str | None, typer.Option(help="only requests in this state")] = None,
    risk_level: Annotated[RiskLevel | None, typer.Option(help="only this risk level")] = None,
    authority: Annotated[str | None, typer.Option(help="only this authority code")] = None,
    assignee: Annotated[str | None, typer.Option(help="only this reviewer's")] = None,
    unassigned: Annotated[bool, typer.Option(help="only requests nobody is assigned")] = False,
    deadline_before: Annotated[
        str | None, typer.Option(help="next deadline before this ISO 8601 date-time")
    ] = None,
    kind: Annotated[DeadlineKind | None, typer.Option(help="kind of the next deadline")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help="rows per page")] = 50,
    every_page: Annotated[bool, typer.Option("--all", help="follow every page")] = False,
    audit_url: AuditUrl = AUDIT_URL,
    json_output: JsonFlag = False,
) -> None:
    """Legal staff's queue of open requests (DOCKET_API_KEY, legal role), soonest due
    first: each row's next deadline, state, risk, and what it waits for on whom."""
    if assignee is not None and unassigned:
        fail(ExitCode.USAGE, "--assignee and --unassigned exclude each other")
    params = queue_params(
        order=order.value,
        limit=limit,
        state=state,
        risk_level=risk_level.value if risk_level else None,
        authority=authority,
        assignee=assignee,
        deadline_before=deadline_before,
        kind=kind.value if kind else None,
        unassigned=unassigned,
    )
    rows: list[dict[str, Any]] = []
    while True:
        page = cli_http.get(
            cli_http.url(audit_url, f"/v1/queue?{urlencode(params)}"), service="audit"
        )
        rows += page["items"]
        if not every_page or page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    if json_output:
        print_json(rows)
    else:
        print(format_queue(rows))
