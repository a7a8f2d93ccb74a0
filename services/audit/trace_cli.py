"""``docket trace REQUEST_ID``: a request's path through the system, hop by hop.

Reads the request's history from the audit service (``GET /v1/requests/{id}``, contract
section 4, with the key in ``DOCKET_API_KEY``) and prints every event in the order it
happened: which service produced it, when, how long after the previous hop, where audit
stored it (leaf index), and the trace to open in Jaeger.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated, Any

import typer

from shared import cli_http
from shared.cli_http import AUDIT_URL, AuditUrl
from shared.cli_support import print_json

JAEGER_URL = "http://localhost:16686"

#: Event type -> the service that publishes it (contract section 3).
PRODUCERS: dict[str, str] = {
    "RequestReceived": "intake",
    "RequestAmended": "intake",
    "DecisionRecorded": "intake",
    "RequestClassified": "classifier",
    "ShadowClassified": "classifier",
    "UserNotified": "notifier",
    "NotificationScheduled": "notifier",
    "NotificationWithheld": "notifier",
    "NotificationFailed": "notifier",
    "DeadlineApproaching": "audit (deadline scheduler)",
    "DeadlineMissed": "audit (deadline scheduler)",
    "DeadLettered": "a consumer (dead letter)",
}


@dataclass(frozen=True)
class Hop:
    event_id: str
    type: str
    service: str
    occurred_at: str
    gap_ms: int | None
    leaf_index: int
    trace_id: str | None
    jaeger_url: str | None


def trace_hops(history: dict[str, Any], jaeger_url: str = JAEGER_URL) -> list[Hop]:
    """The events of a request history in the order they happened (audit order breaks
    ties), each with its producer and the gap to the previous one."""
    events = sorted(
        history.get("events", []),
        key=lambda e: (_time(e["occurred_at"]), e["leaf_index"]),
    )
    hops: list[Hop] = []
    previous: datetime | None = None
    for event in events:
        at = _time(event["occurred_at"])
        trace_id = event.get("trace_id")
        hops.append(
            Hop(
                event_id=event["event_id"],
                type=event["type"],
                service=PRODUCERS.get(event["type"], "unknown"),
                occurred_at=at.isoformat().replace("+00:00", "Z"),
                gap_ms=None if previous is None else round((at - previous).total_seconds() * 1000),
                leaf_index=event["leaf_index"],
                trace_id=trace_id,
                jaeger_url=f"{jaeger_url.rstrip('/')}/trace/{trace_id}" if trace_id else None,
            )
        )
        previous = at
    return hops


def trace_json(history: dict[str, Any], jaeger_url: str = JAEGER_URL) -> dict[str, Any]:
    hops = trace_hops(history, jaeger_url)
    return {
        "request_id": history["request_id"],
        "state": history.get("state"),
        "hops": [asdict(hop) for hop in hops],
        "traces": _traces(hops),
    }


def format_trace(history: dict[str, Any], jaeger_url: str = JAEGER_URL) -> str:
    """The human-readable trace: one line per hop, then the traces to open."""
    hops = trace_hops(history, jaeger_url)
    lines = [
        f"request {history['request_id']}  state: {history.get('state', '?')}  "
        f"hops: {len(hops)}  (every event stored by audit)",
        "",
        f"{'#':>2}  {'time (UTC)':<27} {'+ms':>9}  {'event':<22} {'produced by':<24} "
        f"{'leaf':>6}  trace",
    ]
    for number, hop in enumerate(hops, start=1):
        gap = "" if hop.gap_ms is None else f"+{hop.gap_ms}"
        lines.append(
            f"{number:>2}  {hop.occurred_at:<27} {gap:>9}  {hop.type:<22} {hop.service:<24} "
            f"{hop.leaf_index:>6}  {hop.trace_id or '-'}"
        )
    if not hops:
        lines.append("    (no events)")
    traces = _traces(hops)
    if traces:
        lines += ["", "open in Jaeger:", *(f"  {url}" for url in traces.values())]
    return "\n".join(lines)


def _traces(hops: list[Hop]) -> dict[str, str]:
    """trace id -> Jaeger URL, in the order first seen."""
    return {hop.trace_id: hop.jaeger_url for hop in hops if hop.trace_id and hop.jaeger_url}


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def trace(
    request_id: Annotated[str, typer.Argument(help="the request's id", metavar="REQUEST_ID")],
    audit_url: AuditUrl = AUDIT_URL,
    jaeger_url: Annotated[
        str, typer.Option(envvar="DOCKET_JAEGER_URL", help="Jaeger's UI, for the trace links")
    ] = JAEGER_URL,
    json_output: Annotated[bool, typer.Option("--json", help="print the hops as JSON")] = False,
) -> None:
    """A request's path through the system, hop by hop (DOCKET_API_KEY): every event in
    the order it happened, who produced it, the gap to the previous one, its audit leaf
    and the trace to open in Jaeger."""
    history = cli_http.get(
        cli_http.url(audit_url, f"/v1/requests/{request_id}"),
        service="audit",
        not_found=f"unknown request {request_id}",
    )
    if json_output:
        print_json(trace_json(history, jaeger_url))
    else:
        print(format_trace(history, jaeger_url))
