"""Composition root of audit: database pool (its schema checked), the log writer, the API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import structlog
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import Gauge

from services.audit.alerts import PagerDutyAlerts
from services.audit.api import Audit, PublicKey, install_routes
from services.audit.deadline_store import DeadlineStore
from services.audit.deadlines import DeadlineMetrics, DeadlineScheduler
from services.audit.domain.checkpoint import verifier_key
from services.audit.domain.deadlines import Leads
from services.audit.domain.tree_head import key_id
from services.audit.handlers import register_handlers
from services.audit.queue_api import Queue, QueueStore
from services.audit.queue_api import router as queue_router
from services.audit.signing_key import (
    load_or_create_signing_key,
    public_key_base64,
    public_key_pem,
)
from services.audit.store import AuditStore
from services.audit.tree import LogTree
from shared.auth.access import install_access
from shared.db import Database
from shared.kafka import EventPublisher
from shared.problems import install_problems
from shared.schemas import SCHEMAS
from shared.service import (
    Resource,
    ServiceRuntime,
    create_http_app,
    create_runtime,
    loop_running,
    serve,
)
from shared.settings import AuditSettings

log = structlog.get_logger("docket.audit")

SERVICE = "audit"
SCHEMA = "audit"
MIGRATIONS = SCHEMAS[SCHEMA]


def create_app(settings: AuditSettings, tracer_provider: TracerProvider | None = None) -> FastAPI:
    database = Database.for_service(settings, SCHEMA, MIGRATIONS)
    runtime = create_runtime(SERVICE, settings, tracer_provider)
    store = AuditStore(database)
    signing_key = load_or_create_signing_key(
        settings.signing_key_file or Path(".run/audit-signing-key.pem"),
        settings.signing_key.get_secret_value() if settings.signing_key else None,
    )
    public = signing_key.public_key()
    tree = LogTree(store, signing_key, settings.log_origin)

    @asynccontextmanager
    async def log_opened() -> AsyncIterator[None]:
        async with database.opened():
            await tree.catch_up()
            yield

    runtime.resources.append(log_opened)
    runtime.readiness["postgres"] = database.ping
    runtime.preflight.append(database.check)

    log_size = Gauge("docket_audit_log_size", "Leaves in the audit log", registry=runtime.registry)
    signed_size = Gauge(
        "docket_audit_signed_tree_size",
        "Size of the latest signed tree head",
        registry=runtime.registry,
    )

    async def sign_periodically(interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                head = await tree.sign_if_grown()
                log_size.set(await tree.catch_up())
            except Exception:  # a database outage must not end the loop
                log.exception("tree_head_signing_failed")
                continue
            if head is not None:
                signed_size.set(head.tree_size)
                log.info("tree_head_signed", tree_size=head.tree_size)

    if settings.tree_head_interval_s > 0:
        runtime.background.append(
            lambda: loop_running(sign_periodically(settings.tree_head_interval_s))
        )
    if settings.deadline_scan_interval_s > 0:
        runtime.background.append(deadline_scheduler(settings, database, runtime))

    register_handlers(
        runtime.broker,
        store,
        settings.instance_id,
        group_prefix=settings.consumer_group_prefix,
        ingest=settings.ingest,
        tracer=runtime.tracer_provider.get_tracer("docket.audit"),
    )
    app = create_http_app(runtime, "Docket audit")
    install_problems(app)
    install_access(app, SERVICE, settings, runtime.resources, runtime.readiness)
    install_routes(
        app,
        Audit(
            store,
            tree,
            PublicKey(
                key_id=key_id(public),
                public_key_pem=public_key_pem(public),
                public_key_base64=public_key_base64(public),
                log_origin=settings.log_origin,
                note_verifier_key=verifier_key(settings.log_origin, public),
            ),
            settings.national_security_band,
        ),
    )
    app.state.queue = Queue(QueueStore(database), leads_from(settings))
    app.include_router(queue_router)
    return app


def deadline_scheduler(
    settings: AuditSettings, database: Database, runtime: ServiceRuntime
) -> Resource:
    """The deadline scheduler (``docs/deadlines.md``), run while the broker runs."""
    alerts = (
        PagerDutyAlerts(
            settings.deadline_alert_url,
            settings.deadline_alert_routing_key,
            settings.deadline_alert_timeout_s,
        )
        if settings.deadline_alert_url and settings.deadline_alert_routing_key
        else None
    )
    scheduler = DeadlineScheduler(
        DeadlineStore(database),
        EventPublisher(runtime.broker, source="/docket/audit/deadlines"),
        leads_from(settings),
        DeadlineMetrics(runtime.registry),
        runtime.tracer_provider.get_tracer("docket.audit.deadlines"),
        alerts,
    )

    @asynccontextmanager
    async def scheduling() -> AsyncIterator[None]:
        try:
            async with loop_running(scheduler.run_forever(settings.deadline_scan_interval_s)):
                yield
        finally:
            if alerts is not None:
                await alerts.aclose()

    return scheduling


def leads_from(settings: AuditSettings) -> Leads:
    return Leads(
        response=timedelta(seconds=settings.deadline_response_lead_s),
        gag_expiry=timedelta(seconds=settings.deadline_gag_renewal_lead_s),
        preservation_end=timedelta(seconds=settings.deadline_preservation_lead_s),
        hold_review=timedelta(seconds=settings.deadline_hold_review_lead_s),
    )


def main() -> None:
    settings = AuditSettings()
    serve(SERVICE, settings, settings.port, settings.admin_port, lambda: create_app(settings))


if __name__ == "__main__":
    main()
