"""Composition root of intake: settings -> database, broker, publisher, HTTP app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from opentelemetry.sdk.trace import TracerProvider

from services.intake.api import install_routes, problem_schema
from services.intake.credentials import CredentialCache
from services.intake.domain.keys import parse_bootstrap_key
from services.intake.ports import Repository
from services.intake.store import IntakeStore
from shared.db import Database
from shared.kafka import EventPublisher
from shared.schemas import SCHEMAS
from shared.service import ServiceRuntime, create_http_app, create_runtime, serve
from shared.settings import IntakeSettings

SERVICE = "intake"
SCHEMA = "intake"
MIGRATIONS = SCHEMAS[SCHEMA]


def create_app(
    settings: IntakeSettings,
    tracer_provider: TracerProvider | None = None,
    repository: Repository | None = None,
) -> FastAPI:
    """The intake service. ``repository`` replaces PostgreSQL (unit tests only)."""
    runtime = create_runtime(SERVICE, settings, tracer_provider)
    if repository is None:
        repository = _database(settings, runtime)
    app = create_http_app(runtime, "Docket intake")
    publisher = EventPublisher(runtime.broker, source="/docket/intake")
    install_routes(
        app,
        repository,
        publisher,
        settings.audit_base_url,
        settings.publish_timeout_s,
        runtime.tracer_provider.get_tracer("docket.intake"),
        CredentialCache(repository.credential),
    )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, routes=app.routes, summary=None
            )
            schema["components"]["schemas"].update(problem_schema())
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _database(settings: IntakeSettings, runtime: ServiceRuntime) -> IntakeStore:
    database = Database.for_service(
        settings, SCHEMA, MIGRATIONS, max_size=settings.database_pool_size
    )
    bootstrap = parse_bootstrap_key(settings.bootstrap_key) if settings.bootstrap_key else None
    store = IntakeStore(database)

    @asynccontextmanager
    async def opened() -> AsyncIterator[None]:
        async with database.opened():
            if bootstrap is not None:
                await store.put_key(
                    bootstrap.key_id, bootstrap.client_id, bootstrap.scopes, bootstrap.secret
                )
            yield

    runtime.resources.append(opened)
    runtime.readiness["postgres"] = database.ping
    runtime.preflight.append(database.check)
    return store


def main() -> None:
    settings = IntakeSettings()
    serve(SERVICE, settings, settings.port, settings.admin_port, lambda: create_app(settings))


if __name__ == "__main__":
    main()
