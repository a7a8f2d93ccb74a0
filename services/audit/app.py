"""Composition root of audit: database pool and migrations, the log writer, the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider

from services.audit.api import PublicKey, install_routes
from services.audit.domain.tree_head import key_id
from services.audit.handlers import register_handlers
from services.audit.signing_key import (
    load_or_create_signing_key,
    public_key_base64,
    public_key_pem,
)
from services.audit.store import AuditStore
from services.audit.tree import LogTree
from shared.db import create_pool, migrate
from shared.service import create_http_app, create_runtime, serve
from shared.settings import AuditSettings

SERVICE = "audit"
SCHEMA = "audit"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: AuditSettings, tracer_provider: TracerProvider | None = None) -> FastAPI:
    if not settings.database_url:
        raise ValueError("DOCKET_DATABASE_URL is required for the audit service")
    database_url = settings.database_url
    runtime = create_runtime(SERVICE, settings, tracer_provider)
    store = AuditStore()
    signing_key = load_or_create_signing_key(
        settings.signing_key_file or Path(".run/audit-signing-key.pem"), settings.signing_key
    )
    public = signing_key.public_key()
    tree = LogTree(store, signing_key)

    @asynccontextmanager
    async def database() -> AsyncIterator[None]:
        pool = await create_pool(database_url, schema=SCHEMA)
        try:
            await migrate(pool, SCHEMA, MIGRATIONS)
            store.bind(pool)
            await tree.catch_up()
            yield
        finally:
            await pool.close()

    runtime.resources.append(database)
    runtime.readiness["postgres"] = store.ping

    register_handlers(runtime.broker, store, settings.instance_id)
    app = create_http_app(runtime, "Docket audit")
    install_routes(
        app,
        store,
        tree,
        PublicKey(
            key_id=key_id(public),
            public_key_pem=public_key_pem(public),
            public_key_base64=public_key_base64(public),
        ),
    )
    return app


def main() -> None:
    settings = AuditSettings()
    serve(SERVICE, settings, settings.port, lambda: create_app(settings))


if __name__ == "__main__":
    main()
