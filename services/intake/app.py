"""Composition root of intake: settings -> broker, publisher, HTTP app."""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider

from services.intake.api import install_routes
from shared.kafka import EventPublisher
from shared.service import create_http_app, create_runtime, serve
from shared.settings import IntakeSettings

SERVICE = "intake"


def create_app(settings: IntakeSettings, tracer_provider: TracerProvider | None = None) -> FastAPI:
    runtime = create_runtime(SERVICE, settings, tracer_provider)
    app = create_http_app(runtime, "Docket intake")
    publisher = EventPublisher(runtime.broker, source="/docket/intake")
    install_routes(app, publisher, settings.audit_base_url)
    return app


def main() -> None:
    settings = IntakeSettings()
    serve(SERVICE, settings, settings.port, lambda: create_app(settings))


if __name__ == "__main__":
    main()
