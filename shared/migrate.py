"""``docket migrate [--status]``: the schema of every service, its roles and their grants.

Runs as the owner role (``DOCKET_MIGRATION_DATABASE_URL``, else ``DOCKET_DATABASE_URL``),
once per release, before the services start (a Kubernetes Job, compose's ``migrate``
service, ``make run``); services never migrate, they refuse to start on a schema that is
behind. One run, under a database-wide advisory lock so concurrent runs take turns:

1. applies each schema's pending migrations (``shared.db.migrate``: one transaction per
   file, recorded with its checksum in ``<schema>.schema_migrations``);
2. checks that the owner owns every schema, table and sequence it manages, and that every
   table has an entry in ``shared/schemas.py``;
3. creates the service roles (``docket_intake``, ...) that are missing, checks they hold
   no attribute or membership beyond LOGIN, and sets the passwords given
   (``DOCKET_<SERVICE>_DATABASE_PASSWORD``) as SCRAM verifiers computed here, so the
   password itself never reaches the server's logs;
4. in one transaction, revokes every privilege of every service role on every managed
   schema (and CREATE on ``public`` from everyone) and grants exactly those of
   ``shared.schemas.GRANTS``.

Roles are cluster-wide and advisory locks per database, so runs on two databases of one
server may race on a role: that step is retried.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, TypeAlias

import asyncpg
import typer
from pydantic import SecretStr

from shared.cli_support import (
    ExitCode,
    JsonFlag,
    fail,
    one_line,
    print_json,
    run_database,
)
from shared.db import (
    MigrationError,
    Target,
    applied_migrations,
    load_migrations,
    migrate,
    quote_ident,
)
from shared.schemas import GRANTS, SCHEMAS, role_name, unlisted_tables
from shared.settings import MigrateSettings

Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record]"

#: Held for the whole run: a second ``docket migrate`` waits for the first.
RUN_LOCK_KEY = int.from_bytes(hashlib.sha256(b"docket.migrate").digest()[:8], "big", signed=True)
_ROLE_ATTRIBUTES = ("rolsuper", "rolcreaterole", "rolcreatedb", "rolreplication", "rolbypassrls")
_ROLE_RETRIES = 5


@dataclass
class MigrationReport:
    """What one run changed."""

    applied: dict[str, list[str]] = field(default_factory=dict)
    created_roles: list[str] = field(default_factory=list)
    passwords_set: list[str] = field(default_factory=list)
    roles_without_password: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = []
        for schema, names in self.applied.items():
            lines.append(f"{schema:<11} {'applied ' + ', '.join(names) if names else 'up to date'}")
        for role in self.created_roles:
            lines.append(f"role {role} created")
        if self.passwords_set:
            lines.append(f"passwords set: {', '.join(self.passwords_set)}")
        for role in self.roles_without_password:
            lines.append(f"role {role} has no password set by docket migrate (unchanged)")
        lines.append(f"grants: {len(GRANTS)} service roles on {len(SCHEMAS)} schemas, as listed")
        return lines


async def migrate_all(
    target: Target,
    *,
    passwords: Mapping[str, SecretStr],
    role_prefix: str = "docket_",
) -> MigrationReport:
    """Apply every schema's migrations, then the roles and grants; see the module doc."""
    report = MigrationReport()
    conn = await target.connect(connect_timeout=30.0)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", RUN_LOCK_KEY)
        try:
            for schema, directory in SCHEMAS.items():
                report.applied[schema] = await migrate(conn, schema, directory)
            await _check_ownership(conn)
            roles = {service: role_name(service, role_prefix) for service in GRANTS}
            await _ensure_roles(conn, roles, passwords, report)
            await _grant(conn, roles)
        finally:
            if not conn.is_closed():
                await conn.execute("SELECT pg_advisory_unlock($1)", RUN_LOCK_KEY)
    finally:
        await conn.close()
    return report


async def migration_status(target: Target) -> dict[str, tuple[int, list[str]]]:
    """Schema -> (its version, the migration files still to apply)."""
    conn = await target.connect()
    try:
        status = {}
        for schema, directory in SCHEMAS.items():
            rows = await applied_migrations(conn, schema)
            applied = {row["version"] for row in rows}
            pending = [m.name for m in load_migrations(directory) if m.version not in applied]
            status[schema] = (max(applied, default=0), pending)
        return status
    finally:
        await conn.close()


async def _check_ownership(conn: Connection) -> None:
    rows = await conn.fetch(
        "SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,"
        " pg_get_userbyid(c.relowner) AS owner FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'p', 'S', 'v', 'm')",
        list(SCHEMAS),
    )
    user = await conn.fetchval("SELECT current_user")
    foreign = [f"{r['schema']}.{r['name']} ({r['owner']})" for r in rows if r["owner"] != user]
    foreign += [
        f"schema {r['nspname']} ({r['owner']})"
        for r in await conn.fetch(
            "SELECT nspname, pg_get_userbyid(nspowner) AS owner FROM pg_namespace"
            " WHERE nspname = ANY($1::text[])",
            list(SCHEMAS),
        )
        if r["owner"] != user
    ]
    if foreign:
        raise MigrationError(
            f"the migration role {user!r} does not own {', '.join(sorted(foreign))}; "
            f"hand them over first (REASSIGN OWNED BY <old role> TO {user})"
        )
    for schema in SCHEMAS:
        tables = {r["name"] for r in rows if r["schema"] == schema and r["kind"] in "rpvm"}
        missing = unlisted_tables(schema, tables)
        if missing:
            raise MigrationError(
                f"schema {schema!r}: no grants decided for {', '.join(missing)}; add them to"
                " GRANTS (or OWNER_ONLY) in shared/schemas.py"
            )


async def _ensure_roles(
    conn: Connection,
    roles: Mapping[str, str],
    passwords: Mapping[str, SecretStr],
    report: MigrationReport,
) -> None:
    for attempt in range(_ROLE_RETRIES):
        try:
            async with conn.transaction():
                await _roles_once(conn, roles, passwords, report)
            return
        except (asyncpg.UniqueViolationError, asyncpg.DuplicateObjectError):
            pass  # created meanwhile by a run on another database of this server
        except asyncpg.InternalServerError as error:
            if "concurrently" not in str(error):
                raise
        report.created_roles.clear()
        report.passwords_set.clear()
        report.roles_without_password.clear()
        await asyncio.sleep(0.05 * (attempt + 1) + secrets.randbelow(50) / 1000)
    raise MigrationError("the service roles kept changing underneath; run docket migrate again")


async def _roles_once(
    conn: Connection,
    roles: Mapping[str, str],
    passwords: Mapping[str, SecretStr],
    report: MigrationReport,
) -> None:
    for service, role in roles.items():
        ident = quote_ident(role)
        attributes = await conn.fetchrow(
            f"SELECT {', '.join(_ROLE_ATTRIBUTES)} FROM pg_roles WHERE rolname = $1", role
        )
        try:
            if attributes is None:
                await conn.execute(f"CREATE ROLE {ident} LOGIN")
                report.created_roles.append(role)
            elif [name for name in _ROLE_ATTRIBUTES if attributes[name]]:
                held = [name.removeprefix("rol") for name in _ROLE_ATTRIBUTES if attributes[name]]
                raise MigrationError(f"role {role} must not have {', '.join(held)}; remove it")
            memberships = await conn.fetch(
                "SELECT pg_get_userbyid(roleid) AS name FROM pg_auth_members"
                " WHERE member = (SELECT oid FROM pg_roles WHERE rolname = $1)",
                role,
            )
            if memberships:
                names = ", ".join(sorted(row["name"] for row in memberships))
                raise MigrationError(f"role {role} is a member of {names}; revoke that")
            password = passwords.get(service)
            if password is not None:
                verifier = scram_verifier(password.get_secret_value())
                await conn.execute(f"ALTER ROLE {ident} WITH LOGIN PASSWORD {_literal(verifier)}")
                report.passwords_set.append(role)
            else:
                report.roles_without_password.append(role)
        except asyncpg.InsufficientPrivilegeError as error:
            raise MigrationError(
                f"the migration role may not create or alter role {role} ({error}); it needs"
                " CREATEROLE (and ADMIN on roles made by someone else)"
            ) from None


async def _grant(conn: Connection, roles: Mapping[str, str]) -> None:
    """Every service role's privileges on the managed schemas, exactly as listed."""
    async with conn.transaction():
        if await conn.fetchval("SELECT to_regnamespace('public') IS NOT NULL"):
            # PostgreSQL 15 and later already refuse it; 14 and earlier let anyone create
            # tables in public (a warning, not an error, when the owner cannot revoke it).
            await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        for service, role in roles.items():
            grantee = quote_ident(role)
            for schema in SCHEMAS:
                ns = quote_ident(schema)
                await conn.execute(
                    f"REVOKE ALL ON ALL TABLES IN SCHEMA {ns} FROM {grantee};"
                    f" REVOKE ALL ON ALL SEQUENCES IN SCHEMA {ns} FROM {grantee};"
                    f" REVOKE ALL ON SCHEMA {ns} FROM {grantee}"
                )
            for schema, access in GRANTS[service].items():
                ns = quote_ident(schema)
                statements = [
                    f"GRANT USAGE ON SCHEMA {ns} TO {grantee}",
                    f"GRANT SELECT ON {ns}.schema_migrations TO {grantee}",
                ]
                for table, privileges in access.tables.items():
                    statements.append(
                        f"GRANT {', '.join(sorted(privileges))} ON TABLE"
                        f" {ns}.{quote_ident(table)} TO {grantee}"
                    )
                for sequence, privileges in access.sequences.items():
                    statements.append(
                        f"GRANT {', '.join(sorted(privileges))} ON SEQUENCE"
                        f" {ns}.{quote_ident(sequence)} TO {grantee}"
                    )
                await conn.execute("; ".join(statements))


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """PostgreSQL's SCRAM-SHA-256 verifier of ``password`` (RFC 5802/7677), as
    ``ALTER ROLE ... PASSWORD`` stores it. ASCII passwords only: SASLprep of any other
    would have to be applied first, and generated secrets are ASCII anyway."""
    if not password or not password.isascii() or not password.isprintable():
        raise MigrationError("database passwords must be non-empty printable ASCII")
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def _literal(text: str) -> str:
    """``text`` as an SQL string literal (standard_conforming_strings is on)."""
    return "'" + text.replace("'", "''") + "'"


def migrate_cli(
    status: Annotated[
        bool,
        typer.Option(
            "--status",
            help="only list each schema's applied version and pending files (exit 1: behind)",
        ),
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Apply every service's migrations, create the service roles and grant them their
    privileges, as the owner role (DOCKET_MIGRATION_DATABASE_URL, else
    DOCKET_DATABASE_URL), setting the passwords in DOCKET_<SERVICE>_DATABASE_PASSWORD.
    The one way schemas change: services never migrate, in development too; they refuse
    to start on a schema that is behind. Safe to run twice at once (advisory lock)."""
    settings = MigrateSettings()
    url = settings.owner_url()
    if url is None:
        fail(ExitCode.CONFIG, "set DOCKET_MIGRATION_DATABASE_URL (the owner role's URL)")
    try:
        target = Target.of(url, settings.database_sslmode, settings.database_sslrootcert)
    except ValueError as error:
        fail(ExitCode.CONFIG, f"invalid database settings: {one_line(str(error))}")
    if status:
        schemas = run_database(migration_status(target))
        if json_output:
            print_json(
                {
                    schema: {"version": version, "pending": pending}
                    for schema, (version, pending) in schemas.items()
                }
            )
        else:
            for schema, (version, pending) in schemas.items():
                todo = f"pending: {', '.join(pending)}" if pending else "up to date"
                print(f"{schema:<11} version {version:04d}  {todo}")
        if any(pending for _, pending in schemas.values()):
            raise typer.Exit(int(ExitCode.FAILED))
        return
    report = run_database(
        migrate_all(
            target, passwords=settings.passwords(), role_prefix=settings.database_role_prefix
        )
    )
    if json_output:
        print_json(
            {
                "applied": report.applied,
                "created_roles": report.created_roles,
                "passwords_set": report.passwords_set,
                "roles_without_password": report.roles_without_password,
            }
        )
    else:
        print("\n".join(report.lines()))
