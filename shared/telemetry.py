"""OpenTelemetry: one tracer provider per service, configured from the standard
``OTEL_*`` variables, and the official instrumentations of FastAPI, asyncpg and httpx.

* The resource comes from ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` when
  set; otherwise the service is named ``docket-<service>``.
* Spans are exported over OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
  ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set or ``OTEL_TRACES_EXPORTER=otlp``;
  ``OTEL_TRACES_EXPORTER=console`` prints them, ``none`` keeps them in the process.
  Sampling (``OTEL_TRACES_SAMPLER``), batching (``OTEL_BSP_*``), the exporter's headers
  and timeouts (``OTEL_EXPORTER_OTLP_*``) and ``OTEL_SDK_DISABLED`` are the SDK's own.
* Context crosses Kafka and HTTP with the SDK's propagators (``OTEL_PROPAGATORS``,
  W3C ``traceparent`` by default).

The provider is passed explicitly (to FastStream's Kafka middleware and the FastAPI
instrumentation) so that tests can add an in-memory exporter, and several services can
share one process. asyncpg and httpx are instrumented once per process: their spans go
to the provider of the service whose span is current (see :class:`ServiceTracerProvider`).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

import httpx
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.environment_variables import OTEL_TRACES_EXPORTER
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.environment_variables import (
    OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    OTEL_SERVICE_NAME,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from opentelemetry.trace import Link, Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes
from prometheus_client import CollectorRegistry

#: The HTTP semantic conventions the instrumentations follow: the stable ones
#: (``http.request.method``, ``http.route``, ``http.server.request.duration`` in seconds).
SEMCONV_OPT_IN: Final = "OTEL_SEMCONV_STABILITY_OPT_IN"
#: API calls that are not traced (probes answer many times a minute).
UNTRACED_URLS: Final = "/healthz,/readyz"

_W3C: Final = TraceContextTextMapPropagator()
_providers: weakref.WeakValueDictionary[int, TracerProvider] = weakref.WeakValueDictionary()
_instrumented = False
_instrument_lock = threading.Lock()


def service_resource(service: str) -> Resource:
    """``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES`` when they name the service,
    else ``docket-<service>``; the SDK's own attributes (``telemetry.sdk.*``) beside."""
    from_environment = OTELResourceDetector().detect().attributes
    named = os.environ.get(OTEL_SERVICE_NAME) or SERVICE_NAME in from_environment
    return Resource.create({} if named else {SERVICE_NAME: f"docket-{service}"})


def _exporter_from_environment() -> SpanExporter | None:
    """The span exporter ``OTEL_TRACES_EXPORTER`` names (``otlp``, ``console``, ``none``);
    unset, OTLP when an OTLP endpoint is configured and none otherwise."""
    chosen = os.environ.get(OTEL_TRACES_EXPORTER, "").strip().lower()
    if not chosen:
        endpoint = os.environ.get(OTEL_EXPORTER_OTLP_ENDPOINT) or os.environ.get(
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
        )
        chosen = "otlp" if endpoint else "none"
    if chosen == "none":
        return None
    if chosen == "console":
        return ConsoleSpanExporter()
    if chosen == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    raise ValueError(f"{OTEL_TRACES_EXPORTER}={chosen!r}: use otlp, console or none")


def create_tracer_provider(
    service: str, extra_processors: tuple[SpanProcessor, ...] = ()
) -> TracerProvider:
    """The service's provider (sampler and limits from the environment, see above)."""
    provider = TracerProvider(resource=service_resource(service))
    exporter = _exporter_from_environment()
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    for processor in extra_processors:
        provider.add_span_processor(processor)
    return provider


def trace_libraries_into(provider: TracerProvider) -> None:
    """Instrument asyncpg and httpx for this process (once), and send their spans made
    under one of ``provider``'s spans to ``provider``."""
    instrument_process()
    _providers[id(provider.resource)] = provider


def create_meter_provider(resource: Resource, registry: CollectorRegistry) -> MeterProvider:
    """OpenTelemetry metrics (the HTTP instrumentation's ``http.server.*``) served with
    the service's Prometheus metrics, prefixed ``docket_`` like them."""
    reader = PrometheusMetricReader(prefix="docket", disable_target_info=True, registry=registry)
    return MeterProvider(metric_readers=[reader], resource=resource)


def instrument_process() -> None:
    """Instrument asyncpg and httpx, once per process, with :class:`ServiceTracerProvider`."""
    global _instrumented
    with _instrument_lock:
        if _instrumented:
            return
        os.environ.setdefault(SEMCONV_OPT_IN, "http")
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        routed = ServiceTracerProvider()
        AsyncPGInstrumentor().instrument(  # type: ignore[no-untyped-call]
            tracer_provider=routed
        )
        HTTPXClientInstrumentor().instrument(
            tracer_provider=routed,
            request_hook=_url_without_secrets,
            async_request_hook=_async_url_without_secrets,
        )
        _instrumented = True


def _url_without_secrets(span: Span, request: Any) -> None:
    """An outbound call's ``url.full`` without credentials, query or fragment: a
    receiver's URL may carry a token (``?token=...``) that must not reach the traces."""
    if span.is_recording():
        url = httpx.URL(request.url)
        port = f":{url.port}" if url.port else ""
        span.set_attribute("url.full", f"{url.scheme}://{url.host}{port}{url.path}")


async def _async_url_without_secrets(span: Span, request: Any) -> None:
    _url_without_secrets(span, request)


class ServiceTracerProvider(trace.TracerProvider):
    """For instrumentations that patch a library for the whole process (asyncpg, httpx):
    a span goes to the provider of the service whose span is current, as a child of it.

    With no current span (a polling loop between requests, a test's own HTTP client)
    nothing is recorded and no ``traceparent`` is sent, so a service's periodic queries
    do not flood the trace viewer with one-span traces."""

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes | None = None,
    ) -> Tracer:
        return _ServiceTracer(
            instrumenting_module_name, instrumenting_library_version, schema_url, attributes
        )


class _ServiceTracer(Tracer):
    def __init__(
        self,
        name: str,
        version: str | None,
        schema_url: str | None,
        attributes: Attributes | None,
    ) -> None:
        self._scope = (name, version, schema_url, attributes)

    def _tracer_for(self, context: Context | None) -> Tracer | None:
        resource = getattr(trace.get_current_span(context), "resource", None)
        provider = _providers.get(id(resource)) if resource is not None else None
        if provider is None:
            return None
        name, version, schema_url, attributes = self._scope
        return provider.get_tracer(name, version, schema_url, attributes)

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> Span:
        tracer = self._tracer_for(context)
        if tracer is None:
            return trace.INVALID_SPAN
        return tracer.start_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )

    @contextmanager  # the API's own decorator is private; this one behaves the same here
    def start_as_current_span(  # type: ignore[override]
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[Span]:
        span = self.start_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )
        with trace.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current


def trace_id_of(span: Span) -> str | None:
    context = span.get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def trace_id_from_traceparent(traceparent: str | None) -> str | None:
    """The trace id of a W3C ``traceparent`` header, or None when it is absent or
    malformed (read by the SDK's W3C trace-context propagator)."""
    carrier: Mapping[str, str] = {"traceparent": traceparent} if traceparent else {}
    context = trace.get_current_span(_W3C.extract(carrier)).get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
