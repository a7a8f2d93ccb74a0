"""OpenTelemetry tracing: one tracer provider per service, passed explicitly to
FastStream's Kafka middleware so that tests can swap in an in-memory exporter.

Spans are exported over OTLP/HTTP when the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``
(or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) variable is set.
"""

from __future__ import annotations

import os

from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span


def create_tracer_provider(
    service: str, extra_processors: tuple[SpanProcessor, ...] = ()
) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: f"docket-{service}"}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    ):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    for processor in extra_processors:
        provider.add_span_processor(processor)
    return provider


def trace_id_of(span: Span) -> str | None:
    context = span.get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def trace_id_from_traceparent(traceparent: str | None) -> str | None:
    """``00-<trace id>-<span id>-<flags>`` -> the trace id, or None when malformed."""
    if not traceparent:
        return None
    parts = traceparent.split("-")
    if len(parts) != 4 or len(parts[1]) != 32:
        return None
    return parts[1]
