"""PostgreSQL access: a small connection pool, TLS settings and versioned SQL migrations
(no ORM).

A service keeps its schema in plain SQL files named ``NNNN_description.sql`` (``0001``,
``0002``, ... without gaps). :func:`migrate` applies the pending ones in order, each in its
own transaction, and records them in ``<schema>.schema_migrations`` with the SHA-256 of the
file. A file that was changed after it was applied, or an applied version whose file is
gone, stops the run before anything is applied: fix the history with a new migration.
Migrations are applied by ``docket migrate`` (``shared/migrate.py``) as the owner role;
a service only checks, when it starts, that its schema is at the version it was built for
(:func:`require_migrated`) and that it does not run as the owner.
"""

from __future__ import annotations

import hashlib
import re
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeAlias, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from shared.settings import DatabaseSettings, SslMode

_MIGRATION_FILE: Final = re.compile(r"(?P<version>\d{4})_[a-z0-9_]+\.sql")
_SCHEMA_NAME: Final = re.compile(r"[a-z_][a-z0-9_]*")

_Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


class MigrationError(RuntimeError):
    """The migration files disagree with the migrations recorded in the database."""


class SchemaNotReady(RuntimeError):
    """A service's schema is not at the version it was built for, or the service
    connected as a role it must not run as (the owner, a superuser)."""


_SSL_MODES: Final = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_TLS_PARAMETERS: Final = frozenset({"sslmode", "sslrootcert", "sslcert", "sslkey"})


@dataclass(frozen=True)
class Target:
    """Where to connect: the URL (without its TLS parameters) and asyncpg's ``ssl``."""

    dsn: str
    ssl: ssl.SSLContext | SslMode | None

    @classmethod
    def of(
        cls, url: str, sslmode: SslMode | None = None, sslrootcert: Path | None = None
    ) -> Target:
        """``url``'s ``sslmode``, ``sslrootcert``, ``sslcert`` and ``sslkey`` as libpq
        reads them, ``sslmode``/``sslrootcert`` given here winning over the URL's.

        ``verify-full`` verifies the server's certificate against ``sslrootcert`` (the
        system's CAs when none is given, or ``sslrootcert=system``) and checks that it
        names the host connected to; ``verify-ca`` skips the host name check;
        ``require`` encrypts without verifying (unless a root certificate is given, as
        libpq does); ``allow``, ``prefer``, ``disable`` are passed to asyncpg."""
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        tls = {key: value for key, value in query if key in _TLS_PARAMETERS}
        rest = [(key, value) for key, value in query if key not in _TLS_PARAMETERS]
        dsn = urlunsplit(parts._replace(query=urlencode(rest)))
        mode = sslmode or tls.get("sslmode")
        root = str(sslrootcert) if sslrootcert else tls.get("sslrootcert")
        if mode is None:
            return cls(dsn, None)
        if mode not in _SSL_MODES:
            raise ValueError(f"sslmode must be one of {', '.join(_SSL_MODES)}, not {mode!r}")
        if mode in ("disable", "allow", "prefer"):
            return cls(dsn, cast(SslMode, mode))
        verify = mode != "require" or root is not None
        cafile = root if verify and root != "system" else None
        try:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
            if tls.get("sslcert"):
                context.load_cert_chain(tls["sslcert"], tls.get("sslkey"))
        except OSError as error:  # missing file, or not a PEM certificate or key
            raise ValueError(f"PostgreSQL TLS files cannot be used: {error}") from None
        context.check_hostname = mode == "verify-full"
        if not verify:
            context.verify_mode = ssl.CERT_NONE
        return cls(dsn, context)

    @classmethod
    def from_settings(cls, settings: DatabaseSettings, url: str | None = None) -> Target:
        """The target of ``url`` (default: ``DOCKET_DATABASE_URL``) with the TLS settings."""
        if url is None:
            if settings.database_url is None:
                raise ValueError("DOCKET_DATABASE_URL is not set")
            url = settings.database_url.get_secret_value()
        return cls.of(url, settings.database_sslmode, settings.database_sslrootcert)

    async def connect(self, connect_timeout: float = 10.0) -> asyncpg.Connection[asyncpg.Record]:
        return await asyncpg.connect(self.dsn, ssl=self.ssl, timeout=connect_timeout)


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str
    checksum: str


def quote_ident(name: str) -> str:
    """Quote ``name`` as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def load_migrations(migrations_dir: Path) -> list[Migration]:
    """Read the ``*.sql`` files of ``migrations_dir``, checking names and numbering."""
    if not migrations_dir.is_dir():
        raise MigrationError(f"migrations directory {migrations_dir} does not exist")
    migrations: list[Migration] = []
    for path in sorted(migrations_dir.glob("*.sql")):
        match = _MIGRATION_FILE.fullmatch(path.name)
        if match is None:
            raise MigrationError(f"{path}: migration files must be named NNNN_description.sql")
        data = path.read_bytes()
        migrations.append(
            Migration(
                version=int(match["version"]),
                name=path.name,
                sql=data.decode("utf-8"),
                checksum=hashlib.sha256(data).hexdigest(),
            )
        )
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise MigrationError(
                f"{migrations_dir}: found {migration.name} where version {expected:04d} was "
                "expected; versions must run 0001, 0002, ... without gaps or duplicates"
            )
    return migrations


async def migrate(
    target: asyncpg.Connection[asyncpg.Record] | asyncpg.Pool[asyncpg.Record],
    schema: str,
    migrations_dir: Path,
) -> list[str]:
    """Apply the pending migrations of ``migrations_dir`` to ``schema``.

    Returns the file names applied by this call (empty when up to date). Concurrent callers
    on the same schema are serialised with a session advisory lock, so each file is applied
    exactly once. ``search_path`` is ``<schema>, public`` while a migration runs. A file must
    not manage transactions itself nor use statements that cannot run inside one.
    """
    migrations = load_migrations(migrations_dir)
    if isinstance(target, asyncpg.Pool):
        async with target.acquire() as conn:
            return await _migrate(conn, schema, migrations)
    return await _migrate(target, schema, migrations)


#: Server-side bounds on every pooled session, for a link that goes half-open (the
#: service is heard but hears nothing back, or vanishes without a FIN): the server
#: ends a session left idle inside a transaction after a minute, so a client that gave
#: up on an answer cannot keep its row locks (other instances would wait on them), and
#: probes a silent client's TCP connection after 30 s idle (3 probes 10 s apart)
#: instead of the kernel's 2 hours. The client side is bounded by ``command_timeout``:
#: no query, cancel or reset waits longer.
HALF_OPEN_BOUNDS: Final = {
    "idle_in_transaction_session_timeout": "60000",
    "tcp_keepalives_idle": "30",
    "tcp_keepalives_interval": "10",
    "tcp_keepalives_count": "3",
}


async def create_pool(
    url: str | Target,
    *,
    min_size: int = 1,
    max_size: int = 5,
    command_timeout: float | None = 30.0,
    connect_timeout: float = 10.0,
    schema: str | None = None,
    application_name: str | None = None,
) -> asyncpg.Pool[asyncpg.Record]:
    """Open a small asyncpg pool; idle connections beyond ``min_size`` close after 5 minutes,
    every session with :data:`HALF_OPEN_BOUNDS`.

    With ``schema``, its connections resolve unqualified names in ``<schema>, public``.
    A plain URL is read as :meth:`Target.of` reads it (TLS parameters included).
    """
    target = url if isinstance(url, Target) else Target.of(url)
    settings: dict[str, str] = dict(HALF_OPEN_BOUNDS)
    if schema is not None:
        settings["search_path"] = f"{_schema_ident(schema)}, public"
    if application_name:
        settings["application_name"] = application_name
    return await asyncpg.create_pool(
        target.dsn,
        ssl=target.ssl,
        min_size=min_size,
        max_size=max_size,
        command_timeout=command_timeout,
        timeout=connect_timeout,
        max_inactive_connection_lifetime=300.0,
        server_settings=settings,
    )


def _schema_ident(schema: str) -> str:
    """``schema`` quoted, after checking it is a plain lower-case SQL name."""
    if _SCHEMA_NAME.fullmatch(schema) is None:
        raise ValueError(f"invalid schema name {schema!r}")
    return quote_ident(schema)


def _lock_key(schema: str) -> int:
    """Advisory lock key of the migrator of ``schema`` (a signed 64-bit integer)."""
    digest = hashlib.sha256(f"docket.migrate:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def _migrate(conn: _Conn, schema: str, migrations: Sequence[Migration]) -> list[str]:
    """Apply ``migrations`` under the schema's advisory lock."""
    ident = _schema_ident(schema)
    key = _lock_key(schema)
    table = f"{ident}.schema_migrations"
    await conn.execute("SELECT pg_advisory_lock($1)", key)
    try:
        await conn.execute(
            f"CREATE SCHEMA IF NOT EXISTS {ident};"
            f" CREATE TABLE IF NOT EXISTS {table} ("
            " version integer PRIMARY KEY,"
            " name text NOT NULL,"
            " checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = await conn.fetch(f"SELECT version, name, checksum FROM {table} ORDER BY version")
        pending = _pending(schema, migrations, rows)
        applied: list[str] = []
        for migration in pending:
            try:
                async with conn.transaction():
                    await conn.execute(f"SET LOCAL search_path TO {ident}, public")
                    await conn.execute(migration.sql)
                    await conn.execute(
                        f"INSERT INTO {table} (version, name, checksum) VALUES ($1, $2, $3)",
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
            except asyncpg.PostgresError as exc:
                raise MigrationError(f"{migration.name} failed and was rolled back: {exc}") from exc
            applied.append(migration.name)
        return applied
    finally:
        if not conn.is_closed():
            await conn.execute("SELECT pg_advisory_unlock($1)", key)


def _pending(
    schema: str, migrations: Sequence[Migration], rows: Sequence[asyncpg.Record]
) -> list[Migration]:
    """The migrations still to apply, after checking the recorded ones against the files."""
    by_version = {migration.version: migration for migration in migrations}
    for row in rows:
        version: int = row["version"]
        recorded_name: str = row["name"]
        migration = by_version.get(version)
        if migration is None:
            raise MigrationError(
                f"{recorded_name} (version {version:04d}) is applied to schema {schema!r} "
                "but its file is missing"
            )
        if migration.name != recorded_name:
            raise MigrationError(
                f"{migration.name}: version {version:04d} was applied to schema {schema!r} "
                f"as {recorded_name}"
            )
        if migration.checksum != row["checksum"]:
            raise MigrationError(
                f"{migration.name} changed after it was applied to schema {schema!r} "
                f"(recorded sha256 {row['checksum']}, file has {migration.checksum}); "
                "restore it and add a new migration instead"
            )
    applied = {row["version"] for row in rows}
    pending = [migration for migration in migrations if migration.version not in applied]
    if pending and applied and pending[0].version < max(applied):
        raise MigrationError(
            f"{pending[0].name} is not applied to schema {schema!r} but later versions are"
        )
    return pending


async def applied_migrations(conn: _Conn, schema: str) -> list[asyncpg.Record]:
    """The rows of ``<schema>.schema_migrations`` (none when the table does not exist)."""
    table = f"{_schema_ident(schema)}.schema_migrations"
    if await conn.fetchval("SELECT to_regclass($1)", table) is None:
        return []
    return await conn.fetch(f"SELECT version, name, checksum FROM {table} ORDER BY version")


async def require_migrated(conn: _Conn, schema: str, migrations_dir: Path) -> int:
    """Check that every migration of ``migrations_dir`` is applied to ``schema``, unchanged;
    returns the schema's version. Later versions applied by a newer build are accepted
    (``docket migrate`` runs before a rolling upgrade). Raises :class:`SchemaNotReady`."""
    migrations = load_migrations(migrations_dir)
    try:
        rows = await applied_migrations(conn, schema)
    except asyncpg.InsufficientPrivilegeError as error:
        raise SchemaNotReady(
            f"cannot read schema {schema!r} as role {await _current_user(conn)!r} ({error});"
            " run `docket migrate`, which grants each service's role its own schema"
        ) from None
    recorded = {row["version"]: row for row in rows}
    for migration in migrations:
        row = recorded.get(migration.version)
        if row is None:
            at = max(recorded, default=0)
            raise SchemaNotReady(
                f"schema {schema!r} is at version {at:04d} but this build needs "
                f"{migrations[-1].version:04d} ({migration.name} is not applied);"
                " run `docket migrate` as the owner role first"
            )
        if row["checksum"] != migration.checksum or row["name"] != migration.name:
            raise SchemaNotReady(
                f"schema {schema!r}: version {migration.version:04d} was applied as "
                f"{row['name']} with other contents than this build's {migration.name}"
            )
    return max(recorded, default=0)


async def _current_user(conn: _Conn) -> str:
    user: str = await conn.fetchval("SELECT current_user")
    return user


async def refuse_owner(conn: _Conn, schema: str) -> None:
    """Raise :class:`SchemaNotReady` when connected as a superuser or as a role that owns
    ``schema`` or may act as its owner: a service runs with its own, lesser role."""
    row = await conn.fetchrow(
        "SELECT current_user AS name, r.rolsuper AS super,"
        " n.nspowner IS NOT NULL AND pg_has_role(current_user, n.nspowner, 'MEMBER') AS owns"
        " FROM pg_roles r LEFT JOIN pg_namespace n ON n.nspname = $1"
        " WHERE r.rolname = current_user",
        schema,
    )
    if row is not None and (row["super"] or row["owns"]):
        what = "a superuser" if row["super"] else f"the owner of schema {schema!r}"
        raise SchemaNotReady(
            f"connected to PostgreSQL as {row['name']!r}, {what}; a service runs as its own"
            f" role (`docket migrate` creates {schema!r}'s role): give it that role's URL"
        )


class Database:
    """One service's schema in PostgreSQL. A service opens it in its lifespan
    (:meth:`opened`: a pool, once its schema is checked); a command-line tool that
    already holds a pool wraps it with :meth:`of`. Stores reach the pool through here."""

    def __init__(
        self,
        target: str | Target,
        schema: str,
        migrations_dir: Path,
        *,
        application_name: str | None = None,
        max_size: int = 5,
    ) -> None:
        self.target = target if isinstance(target, Target) else Target.of(target)
        self.schema = schema
        self.migrations_dir = migrations_dir
        self.application_name = application_name
        self.max_size = max_size
        self._pool: asyncpg.Pool[asyncpg.Record] | None = None

    @classmethod
    def for_service(
        cls, settings: DatabaseSettings, service: str, migrations_dir: Path, **options: Any
    ) -> Database:
        """The schema named after ``service``; refuses to go on without a URL."""
        if settings.database_url is None:
            raise ValueError(f"DOCKET_DATABASE_URL is required for the {service} service")
        return cls(
            Target.from_settings(settings),
            service,
            migrations_dir,
            application_name=f"docket-{service}",
            **options,
        )

    @classmethod
    def of(cls, pool: asyncpg.Pool[asyncpg.Record]) -> Database:
        database = cls("postgresql:///", "", Path())
        database._pool = pool
        return database

    @property
    def pool(self) -> asyncpg.Pool[asyncpg.Record]:
        if self._pool is None:
            raise RuntimeError(f"the {self.schema or 'service'} database is not open yet")
        return self._pool

    async def ping(self) -> bool:
        return bool(await self.pool.fetchval("SELECT true"))

    async def check(self) -> None:
        """Before a service starts: PostgreSQL answers, the service's role is not the
        owner, and the schema is migrated. Raises :class:`SchemaNotReady` with the reason."""
        try:
            conn = await self.target.connect()
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            raise SchemaNotReady(f"cannot connect to PostgreSQL: {error}") from None
        try:
            await self._check(conn)
        finally:
            await conn.close()

    async def _check(self, conn: _Conn) -> None:
        await refuse_owner(conn, self.schema)
        await require_migrated(conn, self.schema, self.migrations_dir)

    @asynccontextmanager
    async def opened(self) -> AsyncIterator[None]:
        pool = await create_pool(
            self.target,
            schema=self.schema,
            max_size=self.max_size,
            application_name=self.application_name,
        )
        try:
            async with pool.acquire() as conn:
                await self._check(conn)
            self._pool = pool
            yield
        finally:
            self._pool = None
            await pool.close()


class DatabaseStore:
    """Base of the services' PostgreSQL adapters."""

    def __init__(self, database: Database) -> None:
        self._database = database

    @property
    def pool(self) -> asyncpg.Pool[asyncpg.Record]:
        return self._database.pool

    async def ping(self) -> bool:
        return await self._database.ping()
