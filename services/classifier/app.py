"""Composition root of the classifier: policies, account directory, database, broker,
handler."""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider

from services.classifier.domain import load_policy
from services.classifier.handlers import ClassifyHandler, Policies
from services.classifier.registry import load_agency_registry
from services.classifier.store import ClassifierStore
from shared import topics
from shared.accounts import AccountDirectory
from shared.db import Database
from shared.kafka import EventPublisher, subscribe_events
from shared.schemas import SCHEMAS
from shared.service import create_http_app, create_runtime, serve
from shared.settings import ClassifierSettings

SERVICE = "classifier"
SCHEMA = "classifier"
MIGRATIONS = SCHEMAS[SCHEMA]


def create_app(
    settings: ClassifierSettings, tracer_provider: TracerProvider | None = None
) -> FastAPI:
    """Raises ``PolicyError`` for a malformed active or candidate policy,
    ``RegistryError`` for an unreadable agency registry and ``ValueError`` without a
    database: the service refuses to start."""
    database = Database.for_service(settings, SCHEMA, MIGRATIONS)
    agencies = load_agency_registry(settings.agency_registry_file)
    policies = Policies(
        active=load_policy(settings.policy_dir, agencies),
        shadow=load_policy(settings.shadow_policy_dir, agencies)
        if settings.shadow_policy_dir
        else None,
    )
    accounts = AccountDirectory.from_setting(settings.accounts_file)
    runtime = create_runtime(SERVICE, settings, tracer_provider)
    publisher = EventPublisher(runtime.broker, source="/docket/classifier")
    store = ClassifierStore(database)
    runtime.resources.append(database.opened)
    runtime.readiness["postgres"] = database.ping
    runtime.preflight.append(database.check)
    handler = ClassifyHandler(
        policies,
        accounts,
        store,
        publisher,
        runtime.tracer_provider.get_tracer("docket.classifier"),
    )
    subscribe_events(
        runtime.broker,
        topic_names=(topics.REQUEST_RECEIVED, topics.REQUEST_AMENDED, topics.REQUEST_DECIDED),
        group_id=settings.consumer_group,
        consumer=SERVICE,
        handler=handler,
        publisher=publisher,
        dead_letters=runtime.dead_letters,
        metrics=runtime.consumer_metrics,
        instance_id=settings.instance_id,
    )
    return create_http_app(runtime, "Docket classifier")


def main() -> None:
    settings = ClassifierSettings()
    serve(SERVICE, settings, settings.port, settings.admin_port, lambda: create_app(settings))


if __name__ == "__main__":
    main()
