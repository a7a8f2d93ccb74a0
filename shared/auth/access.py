"""How a service puts its HTTP API behind API keys: the ``auth`` schema opened beside
its own, the bootstrap key created once, and the guard of ``shared.auth.guard``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from pydantic import SecretStr

from shared.auth.cache import CredentialCache, Lookup, RateLimiter
from shared.auth.guard import Guard, install_guard
from shared.auth.keys import parse_bootstrap_key
from shared.auth.store import KeyStore, key_database
from shared.settings import ApiSettings

log = structlog.get_logger("docket.auth")


def install_access(
    app: FastAPI,
    service: str,
    settings: ApiSettings,
    resources: list[Any],
    readiness: dict[str, Any],
    bootstrap_key: SecretStr | None = None,
    lookup: Lookup | None = None,
) -> None:
    """Every route of ``app`` outside the public ones needs a key. ``lookup`` replaces
    the database (unit tests only). Raises ``ValueError`` for a malformed bootstrap key
    or a placeholder secret outside development mode."""
    bootstrap = (
        parse_bootstrap_key(bootstrap_key, settings.development_mode) if bootstrap_key else None
    )
    if lookup is None:
        database = key_database(settings, service)
        store = KeyStore(database)

        @asynccontextmanager
        async def opened() -> AsyncIterator[None]:
            async with database.opened():
                if bootstrap is not None and await store.ensure_bootstrap(bootstrap):
                    log.info("bootstrap_key_created", key_id=bootstrap.key_id)
                yield

        resources.append(opened)
        readiness["keys"] = database.ping
        lookup = store.principal
    cache = CredentialCache(lookup, settings.key_cache_ttl_s, settings.unknown_key_cache_ttl_s)
    limiter = RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
    install_guard(app, Guard(service, cache, limiter))
