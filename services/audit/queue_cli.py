"""``docket queue``: legal staff's queue of open requests (``GET /v1/queue`` of the
audit service, with the key in ``DOCKET_API_KEY``): by deadline, risk or age, filtered,
one page or every page, as a table or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import httpx

from services.audit.trace_cli import AUDIT_URL
from shared.cli import api_key_headers

ORDERS = ("deadline", "risk", "received")
KINDS = ("response", "gag_expiry", "preservation_end", "hold_review")


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


def queue_params(args: argparse.Namespace) -> dict[str, str]:
    params = {"order": args.order, "limit": str(args.limit)}
    for name in ("state", "risk_level", "authority", "assignee", "deadline_before"):
        value = getattr(args, name)
        if value is not None:
            params[name] = value
    if args.kind is not None:
        params["deadline_kind"] = args.kind
    if args.unassigned:
        params["unassigned"] = "true"
    return params


def queue_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="docket queue", description="Open requests for legal staff, soonest due first."
    )
    parser.add_argument("--order", choices=ORDERS, default="deadline")
    parser.add_argument("--state")
    parser.add_argument("--risk-level", choices=("low", "medium", "high", "critical"))
    parser.add_argument("--authority", help="authority code")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--assignee")
    who.add_argument("--unassigned", action="store_true")
    parser.add_argument("--deadline-before", help="ISO 8601 date-time")
    parser.add_argument("--kind", choices=KINDS, help="kind of the next deadline")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--all", action="store_true", help="follow every page")
    parser.add_argument("--audit-url", default=AUDIT_URL, help="default: $DOCKET_AUDIT_URL")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    params = queue_params(args)
    rows: list[dict[str, Any]] = []
    while True:
        try:
            response = httpx.get(
                f"{args.audit_url.rstrip('/')}/v1/queue",
                params=params,
                headers=api_key_headers(),
                timeout=30,
            )
        except httpx.HTTPError as error:
            print(f"cannot reach the audit service at {args.audit_url}: {error}", file=sys.stderr)
            return 2
        if response.status_code != 200:
            print(f"audit answered {response.status_code}: {response.text[:500]}", file=sys.stderr)
            return 1
        page = response.json()
        rows += page["items"]
        if not args.all or page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    print(json.dumps(rows, indent=2) if args.json else format_queue(rows))
    return 0
