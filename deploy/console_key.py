"""``python -m deploy.console_key``: the web console's delegating API key, created once
from ``DOCKET_CONSOLE_API_KEY`` as key ``bootstrap-console`` (legal staff's role and
the national-security scope, acting only for a signed-in person; ``docs/console.md``),
for ``docker compose``. A revoked one stays revoked. A deployment makes the key with
``docket keys create console --role legal --delegates`` instead. A published
placeholder secret is refused unless ``DOCKET_DEVELOPMENT_MODE=true``."""

from __future__ import annotations

import asyncio
import os

from pydantic import SecretStr

from shared.auth.keys import MIN_SECRET_LENGTH, BootstrapKey, KeySpec, Role, is_placeholder
from shared.auth.store import opened_key_store
from shared.settings import MigrateSettings

CONSOLE_KEY = KeySpec("console", Role.LEGAL, national_security=True, delegates=True)


async def ensure(url: str, secret: SecretStr) -> bool:
    async with opened_key_store(url) as store:
        return await store.ensure_bootstrap(BootstrapKey(CONSOLE_KEY, secret))


def main() -> None:
    secret = os.environ.get("DOCKET_CONSOLE_API_KEY", "")
    development = os.environ.get("DOCKET_DEVELOPMENT_MODE", "").lower() == "true"
    if len(secret) < MIN_SECRET_LENGTH:
        raise SystemExit(f"DOCKET_CONSOLE_API_KEY needs {MIN_SECRET_LENGTH}+ characters")
    if is_placeholder(SecretStr(secret)) and not development:
        raise SystemExit("DOCKET_CONSOLE_API_KEY is a published placeholder")
    url = MigrateSettings().owner_url()
    if url is None:
        raise SystemExit("DOCKET_MIGRATION_DATABASE_URL (the owner role's URL) is required")
    created = asyncio.run(ensure(url, SecretStr(secret)))
    print("console key bootstrap-console " + ("created" if created else "exists already"))


if __name__ == "__main__":
    main()
