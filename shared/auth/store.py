"""PostgreSQL adapter of the API keys (schema ``auth``), shared by intake and audit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import SecretStr

from shared.auth.keys import (
    BootstrapKey,
    KeySpec,
    Principal,
    Role,
    digest_matches,
    new_key_id,
    new_secret,
    secret_digest,
)
from shared.db import (
    Database,
    DatabaseStore,
    SchemaNotReady,
    Target,
    create_pool,
    require_migrated,
)
from shared.settings import DatabaseSettings

SCHEMA = "auth"
MIGRATIONS = Path(__file__).parent / "migrations"


def key_database(settings: DatabaseSettings, service: str) -> Database:
    """The ``auth`` schema, opened by a service beside its own (a small pool), with the
    service's own role (``shared.schemas.GRANTS``: intake may add its bootstrap key,
    audit only reads)."""
    if settings.database_url is None:
        raise ValueError(f"DOCKET_DATABASE_URL is required for the {service} service")
    return Database(
        Target.from_settings(settings),
        SCHEMA,
        MIGRATIONS,
        application_name=f"docket-{service}",
        max_size=2,
    )


@asynccontextmanager
async def opened_key_store(url: str) -> AsyncIterator[KeyStore]:
    """The key store of a tool (``docket keys``, ``make run``), as the owner role (the
    only one that may revoke or rotate): its own small pool, on a database ``docket
    migrate`` has brought up to date."""
    pool = await create_pool(Target.of(url), schema=SCHEMA)
    try:
        async with pool.acquire() as conn:
            try:
                await require_migrated(conn, SCHEMA, MIGRATIONS)
            except SchemaNotReady as error:
                raise SystemExit(f"docket keys: {error}") from None
        yield KeyStore(Database.of(pool))
    finally:
        await pool.close()


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    client_id: str
    role: str
    organisation: str | None
    national_security: bool
    delegates: bool
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    secret: SecretStr


class KeyStore(DatabaseStore):
    async def principal(self, secret: SecretStr) -> Principal | None:
        row = await self.pool.fetchrow(
            "SELECT key_id, client_id, role, organisation, national_security, delegates,"
            " key_sha256 FROM api_keys WHERE key_sha256 = $1 AND revoked_at IS NULL",
            secret_digest(secret),
        )
        if row is None or not digest_matches(secret, row["key_sha256"]):
            return None
        return Principal(
            key_id=row["key_id"],
            client_id=row["client_id"],
            role=Role(row["role"]),
            organisation=row["organisation"],
            national_security=row["national_security"],
            delegates=row["delegates"],
        )

    async def create(self, spec: KeySpec, secret: SecretStr | None = None) -> IssuedKey:
        issued = IssuedKey(new_key_id(), secret or new_secret())
        await self._insert(issued.key_id, spec, issued.secret)
        return issued

    async def ensure_bootstrap(self, key: BootstrapKey) -> bool:
        """Create the bootstrap key once. A key with its id that exists already, revoked
        or not, is left exactly as it is (a restart never revives it). True if created."""
        return await self._insert(key.key_id, key.spec, key.secret)

    async def _insert(self, key_id: str, spec: KeySpec, secret: SecretStr) -> bool:
        status = await self.pool.execute(
            "INSERT INTO api_keys (key_id, client_id, role, organisation, national_security,"
            " delegates, key_sha256) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (key_id) DO NOTHING",
            key_id,
            spec.client_id,
            spec.role.value,
            spec.organisation,
            spec.national_security,
            spec.delegates,
            secret_digest(secret),
        )
        return status.endswith(" 1")

    async def list_keys(self) -> list[KeyInfo]:
        rows = await self.pool.fetch(
            "SELECT key_id, client_id, role, organisation, national_security, delegates,"
            " created_at, revoked_at FROM api_keys ORDER BY client_id, created_at"
        )
        return [KeyInfo(**dict(row)) for row in rows]

    async def revoke(self, key_id: str) -> bool:
        status = await self.pool.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL",
            key_id,
        )
        return status.endswith(" 1")

    async def rotate(self, key_id: str) -> IssuedKey | None:
        """A new key (new id and secret) with the same client, role, organisation and
        scope; the old one is revoked in the same transaction. None: no active key."""
        issued = IssuedKey(new_key_id(), new_secret())
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT client_id, role, organisation, national_security, delegates"
                " FROM api_keys WHERE key_id = $1 AND revoked_at IS NULL FOR UPDATE",
                key_id,
            )
            if row is None:
                return None
            await conn.execute(
                "INSERT INTO api_keys (key_id, client_id, role, organisation,"
                " national_security, delegates, key_sha256) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                issued.key_id,
                row["client_id"],
                row["role"],
                row["organisation"],
                row["national_security"],
                row["delegates"],
                secret_digest(issued.secret),
            )
            await conn.execute(
                "UPDATE api_keys SET revoked_at = now(), replaced_by = $2 WHERE key_id = $1",
                key_id,
                issued.key_id,
            )
        return issued
