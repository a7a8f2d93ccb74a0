"""On-call engineers follow one request across four services: one connected trace from
the HTTP request at intake, through every Kafka hop, to the audit write."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.fixtures.system import EXAMPLES, DocketSystem

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SEARCH_WARRANT = EXAMPLES / "requests" / "03-search-warrant-no-gag.json"


async def test_one_request_yields_one_connected_trace_across_all_services(
    docket_system: DocketSystem,
) -> None:
    body = json.loads(SEARCH_WARRANT.read_text())
    body["external_ref"] = f"{body['external_ref']}-trace"
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{docket_system.intake_url}/v1/requests", json=body, headers=docket_system.auth
        )
    assert response.status_code == 202, response.text
    request_id = response.json()["request_id"]

    def complete(history: dict[str, Any]) -> bool:
        return {"RequestReceived", "RequestClassified", "UserNotified"} <= {
            e["type"] for e in history["events"]
        }

    history = await docket_system.wait_for_history(request_id, complete)
    [trace_id] = {event["trace_id"] for event in history["events"]}

    await docket_system.wait_for_history(request_id, complete)  # let the last append finish
    spans = [
        span
        for span in docket_system.spans.get_finished_spans()
        if format(span.context.trace_id, "032x") == trace_id
    ]
    services = {span.resource.attributes["service.name"] for span in spans}
    assert services == {"docket-intake", "docket-classifier", "docket-notifier", "docket-audit"}

    names = {span.name for span in spans}
    assert {"POST /v1/requests", "validate", "classify", "decide", "send", "append"} <= names

    # Connected: exactly one root (the HTTP request); every other span's parent is in the trace.
    span_ids = {span.context.span_id for span in spans}
    roots = [span for span in spans if span.parent is None]
    assert [root.name for root in roots] == ["POST /v1/requests"]
    assert all(span.parent.span_id in span_ids for span in spans if span.parent is not None)

    # Kafka hops follow the messaging semantic conventions.
    kafka = [
        dict(s.attributes) for s in spans if s.attributes and "messaging.system" in s.attributes
    ]
    assert kafka
    assert {attributes["messaging.system"] for attributes in kafka} == {"kafka"}
    destinations = {attributes.get("messaging.destination.name") for attributes in kafka}
    assert {"docket.request.received", "docket.request.classified", "docket.notification"} <= (
        destinations
    )
