"""Composition root of intake: settings -> database, broker, publisher, HTTP app."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider

from services.intake.api import Intake, install_routes
from services.intake.counsel_api import Counsel, install_counsel_routes
from services.intake.ports import Repository
from services.intake.service_layer.unit_of_work import IntakeUnitOfWork, PostgresUnitOfWork
from services.intake.store import IntakeStore
from shared.auth.access import install_access
from shared.auth.cache import Lookup
from shared.db import Database
from shared.kafka import EventPublisher
from shared.problems import install_problems
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
    keys: Lookup | None = None,
    unit_of_work: Callable[[], IntakeUnitOfWork] | None = None,
) -> FastAPI:
    """The intake service. ``repository``, ``unit_of_work`` and ``keys`` replace
    PostgreSQL (unit tests only)."""
    runtime = create_runtime(SERVICE, settings, tracer_provider)
    if repository is None:
        store = _database(settings, runtime)
        repository = store
        unit_of_work = unit_of_work or (lambda: PostgresUnitOfWork(store.pool))
    app = create_http_app(runtime, "Docket intake")
    install_problems(app)
    publisher = EventPublisher(runtime.broker, source="/docket/intake")
    install_access(
        app,
        SERVICE,
        settings,
        runtime.resources,
        runtime.readiness,
        bootstrap_key=settings.bootstrap_key,
        lookup=keys,
    )
    context = Intake(
        repository,
        publisher,
        settings.audit_base_url,
        settings.publish_timeout_s,
        runtime.tracer_provider.get_tracer("docket.intake"),
    )
    install_routes(app, context)
    install_counsel_routes(app, Counsel(context, unit_of_work or _no_database))
    return app


def _no_database() -> IntakeUnitOfWork:
    raise RuntimeError("intake was built without a database for counsel's commands")


def _database(settings: IntakeSettings, runtime: ServiceRuntime) -> IntakeStore:
    database = Database.for_service(
        settings, SCHEMA, MIGRATIONS, max_size=settings.database_pool_size
    )
    store = IntakeStore(database)
    runtime.resources.append(database.opened)
    runtime.readiness["postgres"] = database.ping
    runtime.preflight.append(database.check)
    return store


def main() -> None:
    settings = IntakeSettings()
    serve(SERVICE, settings, settings.port, settings.admin_port, lambda: create_app(settings))


if __name__ == "__main__":
    main()
