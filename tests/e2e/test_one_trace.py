"""On-call engineers follow one request across four services: one connected trace from
the HTTP request at intake, through every Kafka hop and database call, to the audit
write; and they read it in Jaeger, where the services export it over OTLP/HTTP as the
standard ``OTEL_*`` variables say."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from deploy.tools import jaeger as jaeger_tool
from services.audit.trace_cli import trace_json
from tests.fixtures.system import EXAMPLES, DocketSystem

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SEARCH_WARRANT = EXAMPLES / "requests" / "03-search-warrant-no-gag.json"
SERVICES = {"docket-intake", "docket-classifier", "docket-notifier", "docket-audit"}


@pytest.fixture(scope="module", autouse=True)
def jaeger() -> Iterator[jaeger_tool.Jaeger]:
    """Jaeger (built into .cache/tools on first use) on free ports, and the services of
    this module's ``docket_system`` exporting to it: set up before it, as autouse."""
    running = jaeger_tool.start()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", running.otlp_endpoint)
        env.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
        env.delenv("OTEL_SERVICE_NAME", raising=False)
        env.delenv("OTEL_TRACES_EXPORTER", raising=False)
        try:
            yield running
        finally:
            running.stop()
            jaeger_tool.remove_workdir(running)


async def _traced_request(docket_system: DocketSystem, tag: str) -> tuple[str, str]:
    """Submit the search warrant; once audit holds its notice, (request id, trace id)."""
    body = json.loads(SEARCH_WARRANT.read_text())
    body["external_ref"] = f"{body['external_ref']}-{tag}"
    # Another case, or the classifier links it to the first as a duplicate (same
    # requester, account and case number) and no user is notified again.
    body["instrument"]["case_number"] = f"{body['instrument']['case_number']}-{tag}"
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
    return request_id, trace_id


async def test_one_request_yields_one_connected_trace_across_all_services(
    docket_system: DocketSystem,
) -> None:
    request_id, trace_id = await _traced_request(docket_system, "trace")
    spans = [
        span
        for span in docket_system.spans.get_finished_spans()
        if format(span.context.trace_id, "032x") == trace_id
    ]
    services = {span.resource.attributes["service.name"] for span in spans}
    assert services == SERVICES

    names = {span.name for span in spans}
    assert {"POST /v1/requests", "validate", "classify", "decide", "send", "append"} <= names

    # The API call: the FastAPI instrumentation's span, named by route, no id in names.
    [http] = [span for span in spans if span.name == "POST /v1/requests"]
    assert http.attributes is not None
    assert http.attributes["http.route"] == "/v1/requests"
    assert http.attributes["http.response.status_code"] == 202
    assert not [span for span in spans if request_id in span.name]

    # Database calls: asyncpg instrumentation's spans, in the service that made them.
    database = [span for span in spans if span.attributes and "db.system" in span.attributes]
    assert {span.attributes["db.system"] for span in database if span.attributes} == {"postgresql"}
    assert {"docket-classifier", "docket-notifier"} <= {
        span.resource.attributes["service.name"] for span in database
    }

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


async def test_the_trace_is_read_back_from_jaegers_query_api(
    docket_system: DocketSystem, jaeger: jaeger_tool.Jaeger
) -> None:
    _request_id, trace_id = await _traced_request(docket_system, "jaeger")
    ours = {
        span.context.span_id
        for span in docket_system.spans.get_finished_spans()
        if format(span.context.trace_id, "032x") == trace_id
    }
    found: dict[str, Any] | None = None
    for _ in range(150):  # the exporters send every 200 ms; Jaeger batches for 200 ms
        found = await asyncio.to_thread(jaeger.trace, trace_id)
        if found is not None and ours <= {int(span["spanID"], 16) for span in found["spans"]}:
            break
        await asyncio.sleep(0.2)
    assert found is not None, f"Jaeger has no trace {trace_id}:\n{jaeger.log_tail()}"
    assert found["traceID"] == trace_id
    processes = found["processes"]
    services = {processes[span["processID"]]["serviceName"] for span in found["spans"]}
    assert services == SERVICES
    # Every span the services made for it so far, as Jaeger read it from OTLP.
    assert ours <= {int(span["spanID"], 16) for span in found["spans"]}
    names = {span["operationName"] for span in found["spans"]}
    assert {"POST /v1/requests", "classify", "send", "append"} <= names


async def test_docket_trace_links_open_dockets_trace_viewer_in_jaeger(
    docket_system: DocketSystem, jaeger: jaeger_tool.Jaeger
) -> None:
    """The link ``docket trace`` prints leads to a page, not Jaeger's placeholder: the
    query service serves Docket's viewer (``deploy/tools/trace_viewer``) for the trace's
    path, and the viewer's script and stylesheet with it."""
    request_id, trace_id = await _traced_request(docket_system, "viewer")
    history = await docket_system.wait_for_history(request_id, lambda _history: True)
    links = trace_json(history, jaeger.ui_url)["traces"]
    assert links == {trace_id: f"{jaeger.ui_url}/trace/{trace_id}"}

    viewer = jaeger_tool.VIEWER
    async with httpx.AsyncClient(timeout=10) as client:
        page = await client.get(links[trace_id])
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert page.text == (viewer / "index.html").read_text(encoding="utf-8")
        assert "placeholder" not in page.text
        for asset, content_type in (
            ("static/viewer.js", "text/javascript"),
            ("static/viewer.css", "text/css"),
        ):
            assert f'"{asset}"' in page.text  # linked relative to <base href="/">
            answer = await client.get(f"{jaeger.ui_url}/{asset}")
            assert answer.status_code == 200, asset
            assert answer.headers["content-type"].split(";")[0] == content_type
            assert answer.text == (viewer / asset).read_text(encoding="utf-8")
        # The search page is the same document; an unknown asset is a 404, not the page.
        home = await client.get(f"{jaeger.ui_url}/")
        assert home.status_code == 200
        assert home.text == page.text
        assert (await client.get(f"{jaeger.ui_url}/static/missing.js")).status_code == 404
        # What the page reads: the trace (its spans are checked above), and the search's
        # service list and recent traces, which list this trace.
        services = (await client.get(f"{jaeger.ui_url}/api/services")).json()["data"]
        assert "docket-intake" in services
        recent = await client.get(
            f"{jaeger.ui_url}/api/traces", params={"service": "docket-intake", "limit": 20}
        )
        assert recent.status_code == 200
        assert trace_id in {trace["traceID"] for trace in recent.json()["data"]}
