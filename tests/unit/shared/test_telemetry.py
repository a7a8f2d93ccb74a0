"""Standard instrumentation: API calls traced and measured by OpenTelemetry's FastAPI
instrumentation (spans named ``{method} {route}`` with ``http.route``), the SDK set up
from the standard ``OTEL_*`` variables, W3C trace context read by the SDK's propagator,
and spans of process-wide instrumentations (asyncpg, httpx) kept in their service."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import generate_latest
from pydantic import SecretStr

from shared.service import create_http_app, create_runtime
from shared.settings import CommonSettings
from shared.telemetry import (
    ServiceTracerProvider,
    create_tracer_provider,
    trace_id_from_traceparent,
    trace_libraries_into,
)

router = APIRouter()


@router.get("/v1/things/{thing_id}")
async def read_thing(thing_id: str) -> dict[str, str]:
    return {"thing_id": thing_id}


def _settings() -> CommonSettings:
    return CommonSettings(
        kafka_bootstrap_servers="127.0.0.1:1",
        kafka_username="docket-test",
        kafka_password=SecretStr("never-used"),
    )


def _traced_app() -> tuple[Any, InMemorySpanExporter, Any]:
    spans = InMemorySpanExporter()
    runtime = create_runtime(
        "test", _settings(), create_tracer_provider("test", (SimpleSpanProcessor(spans),))
    )
    app = create_http_app(runtime, "Docket test")
    app.include_router(router)
    return app, spans, runtime


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_an_api_call_is_one_server_span_named_by_its_route() -> None:
    app, spans, _runtime = _traced_app()
    request_id = "6f1c1b9e-8c55-4d0e-9a53-0c7b1f1f2a10"
    async with _client(app) as client:
        assert (await client.get(f"/v1/things/{request_id}")).status_code == 200
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code in (200, 503)
    [span] = spans.get_finished_spans()
    assert span.name == "GET /v1/things/{thing_id}"
    assert span.kind is SpanKind.SERVER
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/v1/things/{thing_id}"
    assert span.attributes["http.request.method"] == "GET"
    assert span.attributes["http.response.status_code"] == 200
    assert request_id not in span.name


async def test_a_callers_traceparent_is_continued() -> None:
    app, spans, _runtime = _traced_app()
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    parent = f"00-{trace_id}-00f067aa0ba902b7-01"
    async with _client(app) as client:
        await client.get("/v1/things/x", headers={"traceparent": parent})
    [span] = spans.get_finished_spans()
    assert format(span.context.trace_id, "032x") == trace_id
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == "00f067aa0ba902b7"


async def test_api_calls_are_measured_by_route_on_the_admin_registry() -> None:
    app, _spans, runtime = _traced_app()
    async with _client(app) as client:
        for _ in range(3):
            await client.get("/v1/things/one")
        await client.get("/v1/things/two")
    text = generate_latest(runtime.registry).decode()
    counts = [
        line
        for line in text.splitlines()
        if line.startswith("docket_http_server_request_duration_seconds_count{")
    ]
    [line] = [line for line in counts if 'http_route="/v1/things/{thing_id}"' in line]
    assert 'http_request_method="GET"' in line
    assert 'http_response_status_code="200"' in line
    assert line.endswith(" 4.0")
    assert "one" not in "".join(counts)  # the path's values are not labels


def test_otel_service_name_wins_over_the_built_in_name(monkeypatch: pytest.MonkeyPatch) -> None:
    assert create_tracer_provider("intake").resource.attributes["service.name"] == ("docket-intake")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=staging")
    resource = create_tracer_provider("intake").resource.attributes
    assert resource["service.name"] == "docket-intake"
    assert resource["deployment.environment.name"] == "staging"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "legal-intake-eu")
    assert create_tracer_provider("intake").resource.attributes["service.name"] == (
        "legal-intake-eu"
    )


def test_otel_traces_exporter_is_read_and_a_wrong_one_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    create_tracer_provider("intake")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin-over-carrier-pigeon")
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER"):
        create_tracer_provider("intake")


def test_the_trace_id_of_a_traceparent() -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    assert trace_id_from_traceparent(f"00-{trace_id}-00f067aa0ba902b7-01") == trace_id
    assert trace_id_from_traceparent(None) is None
    assert trace_id_from_traceparent("") is None
    assert trace_id_from_traceparent("00-nothex-00f067aa0ba902b7-01") is None
    assert trace_id_from_traceparent(f"00-{'0' * 32}-00f067aa0ba902b7-01") is None  # invalid id


def test_library_spans_go_to_the_service_whose_span_is_current() -> None:
    exporters = {name: InMemorySpanExporter() for name in ("classifier", "audit")}
    providers: dict[str, TracerProvider] = {}
    for name, exporter in exporters.items():
        providers[name] = create_tracer_provider(name, (SimpleSpanProcessor(exporter),))
        trace_libraries_into(providers[name])
    library = ServiceTracerProvider().get_tracer("opentelemetry.instrumentation.asyncpg")

    with library.start_as_current_span("SELECT docket") as orphan:
        assert not orphan.is_recording()  # no service span: nothing recorded
    with (
        providers["audit"].get_tracer("docket.audit").start_as_current_span("append") as parent,
        library.start_as_current_span("INSERT docket", kind=SpanKind.CLIENT),
    ):
        pass

    assert exporters["classifier"].get_finished_spans() == ()
    names = {span.name: span for span in exporters["audit"].get_finished_spans()}
    assert set(names) == {"append", "INSERT docket"}
    child = names["INSERT docket"]
    assert child.parent is not None
    assert child.parent.span_id == parent.get_span_context().span_id
    assert child.resource.attributes["service.name"] == "docket-audit"


async def _receiver() -> tuple[asyncio.Server, list[dict[str, str]]]:
    """A minimal HTTP server on 127.0.0.1 keeping each request's headers; answers 204."""
    seen: list[dict[str, str]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")[1:]
        headers = dict(line.split(": ", 1) for line in head if ": " in line)
        seen.append({key.lower(): value for key, value in headers.items()})
        writer.write(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0), seen


async def test_an_outbound_call_is_a_client_span_without_the_urls_secrets() -> None:
    spans = InMemorySpanExporter()
    provider = create_tracer_provider("notifier", (SimpleSpanProcessor(spans),))
    trace_libraries_into(provider)
    server, seen = await _receiver()
    port = server.sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}/notices"
    async with server, httpx.AsyncClient() as client:
        with provider.get_tracer("docket.notifier").start_as_current_span("send"):
            await client.post(f"{url}?token=s3cret")
        await client.post(url)  # outside any span
    by_name = {span.name: span for span in spans.get_finished_spans()}
    assert set(by_name) == {"send", "POST"}
    call = by_name["POST"]
    assert call.kind is SpanKind.CLIENT
    assert call.parent is not None
    assert call.parent.span_id == by_name["send"].context.span_id
    assert call.attributes is not None
    assert call.attributes["url.full"] == url
    assert "s3cret" not in str(dict(call.attributes))
    assert f"{call.context.trace_id:032x}" in seen[0]["traceparent"]
    assert "traceparent" not in seen[1]  # no span, no context sent
