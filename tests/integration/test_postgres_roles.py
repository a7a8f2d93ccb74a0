"""Least privilege in PostgreSQL, on the real server: each service's role holds exactly
the grants of ``shared/schemas.py`` on its own schema and nothing else, audit's role can
only append to the log, ``docket migrate`` is idempotent and safe to run twice at once,
and a service refuses to start on a schema it was not migrated to, or as the owner."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from deploy.kafka.security import KafkaAccess
from shared.cli import main
from shared.db import MigrationError
from shared.schemas import GRANTS, SCHEMAS
from tests.fixtures.postgres import (
    ROLE_PASSWORDS,
    DocketDatabase,
    PostgresTestServer,
    migrate_database,
    service_url,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
LEAF = (
    "INSERT INTO audit.event_log (leaf_index, event_id, event_type, request_id,"
    " source_topic, occurred_at, leaf_data, leaf_hash)"
    " VALUES ($1, $2, 'Probe', 'req-probe', 'probe', now(), '\\x00', '\\x00')"
)


async def connect(url: str) -> asyncpg.Connection[asyncpg.Record]:
    return await asyncpg.connect(url)


@pytest.fixture
async def audit_conn(
    docket_database: DocketDatabase,
) -> AsyncIterator[asyncpg.Connection[asyncpg.Record]]:
    conn = await connect(docket_database.url("audit"))
    yield conn
    await conn.close()


async def tables_of(conn: asyncpg.Connection[asyncpg.Record], schema: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1", schema
    )
    return [row["tablename"] for row in rows]


async def test_audit_role_appends_to_the_log_and_can_do_nothing_else(
    audit_conn: asyncpg.Connection[asyncpg.Record],
) -> None:
    await audit_conn.execute(LEAF, 0, "probe-0")  # what it is for
    assert await audit_conn.fetchval("SELECT count(*) FROM audit.event_log") == 1
    refused = [
        "ALTER TABLE audit.event_log DISABLE TRIGGER event_log_append_only",
        "ALTER TABLE audit.event_log DISABLE TRIGGER ALL",
        "DROP TRIGGER event_log_append_only ON audit.event_log",
        "UPDATE audit.event_log SET event_type = 'Forged'",
        "DELETE FROM audit.event_log",
        "TRUNCATE audit.event_log",
        "ALTER TABLE audit.event_log OWNER TO current_user",
        "DROP TABLE audit.event_log",
        "SET session_replication_role = replica",  # would skip the triggers
        "DELETE FROM audit.request_views",  # the rebuild runs as the owner
        "UPDATE audit.tree_heads SET signature = 'forged'",
        "DELETE FROM audit.tree_heads",
        "CREATE OR REPLACE FUNCTION audit.refuse_log_change() RETURNS trigger"
        " LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
    ]
    for statement in refused:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await audit_conn.execute(statement)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):  # the table itself: no
        async with audit_conn.transaction():
            await audit_conn.execute("LOCK TABLE audit.event_log IN EXCLUSIVE MODE")
    triggers = await audit_conn.fetch(
        "SELECT tgname, tgenabled::text AS enabled FROM pg_trigger"
        " WHERE tgrelid = 'audit.event_log'::regclass ORDER BY 1"
    )
    assert [(row["tgname"], row["enabled"]) for row in triggers] == [
        ("event_log_append_only", "O"),
        ("event_log_no_truncate", "O"),
    ]
    assert await audit_conn.fetchval("SELECT count(*) FROM audit.event_log") == 1


async def test_every_role_holds_exactly_the_listed_grants(
    docket_database: DocketDatabase,
) -> None:
    conn = await connect(docket_database.owner_url)
    try:
        for service in GRANTS:
            role = f"docket_{service}"
            for schema in SCHEMAS:
                listed = GRANTS[service].get(schema)
                usage = await conn.fetchval(
                    "SELECT has_schema_privilege($1, $2, 'USAGE')", role, schema
                )
                assert usage == (listed is not None), (role, schema)
                assert not await conn.fetchval(
                    "SELECT has_schema_privilege($1, $2, 'CREATE')", role, schema
                ), (role, schema)
                for table in await tables_of(conn, schema):
                    expected: set[str] = set()
                    if listed is not None:
                        expected = set(listed.tables.get(table, set()))
                        if table == "schema_migrations":
                            expected = {"SELECT"}
                    held = {
                        privilege
                        for privilege in PRIVILEGES
                        if await conn.fetchval(
                            "SELECT has_table_privilege($1, $2, $3)",
                            role,
                            f"{schema}.{table}",
                            privilege,
                        )
                    }
                    assert held == expected, (role, schema, table)
            attributes = await conn.fetchrow(
                "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls,"
                " rolcanlogin FROM pg_roles WHERE rolname = $1",
                role,
            )
            assert attributes is not None
            assert list(attributes.values()) == [False, False, False, False, False, True]
    finally:
        await conn.close()


async def test_no_role_reads_or_writes_another_services_schema(
    docket_database: DocketDatabase,
) -> None:
    owner = await connect(docket_database.owner_url)
    try:
        tables = {schema: await tables_of(owner, schema) for schema in SCHEMAS}
    finally:
        await owner.close()
    refused = 0
    for service in GRANTS:
        conn = await connect(docket_database.url(service))
        try:
            for schema, names in tables.items():
                if schema in GRANTS[service]:
                    continue
                for table in names:
                    for statement in (
                        f"SELECT * FROM {schema}.{table} LIMIT 1",
                        f"DELETE FROM {schema}.{table}",
                    ):
                        with pytest.raises(asyncpg.InsufficientPrivilegeError):
                            await conn.execute(statement)
                        refused += 1
        finally:
            await conn.close()
    # each role refused both statements on every table of every schema it has no entry for
    every = sum(len(names) for names in tables.values())
    granted = {service: sum(len(tables[s]) for s in GRANTS[service]) for service in GRANTS}
    assert refused == 2 * sum(every - granted[service] for service in GRANTS)


async def test_a_service_role_cannot_create_objects(docket_database: DocketDatabase) -> None:
    for service in GRANTS:
        conn = await connect(docket_database.url(service))
        try:
            for statement in (
                f"CREATE TABLE {service}.smuggled (id int)",
                "CREATE TABLE public.smuggled (id int)",
                f"CREATE FUNCTION {service}.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                f"CREATE SCHEMA {service}_extra",
            ):
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(statement)
        finally:
            await conn.close()


async def test_migrate_is_idempotent_and_two_runs_at_once_are_safe(
    database_url: str,
) -> None:
    await asyncio.gather(migrate_database(database_url), migrate_database(database_url))
    await migrate_database(database_url)  # and once more: nothing to do
    conn = await connect(database_url)
    try:
        for schema, directory in SCHEMAS.items():
            recorded = await conn.fetch(
                f"SELECT version, name FROM {schema}.schema_migrations ORDER BY version"
            )
            files = sorted(path.name for path in directory.glob("*.sql"))
            assert [row["name"] for row in recorded] == files
    finally:
        await conn.close()
    service = await connect(service_url(database_url, "classifier"))
    try:  # the grants survived the repeated runs
        await service.execute("INSERT INTO classifier.requests (request_id) VALUES ('r1')")
        assert await service.fetchval("SELECT count(*) FROM classifier.requests") == 1
    finally:
        await service.close()


async def test_migrate_refuses_a_table_without_a_grants_decision(
    docket_database: DocketDatabase,
) -> None:
    conn = await connect(docket_database.owner_url)
    try:
        await conn.execute("CREATE TABLE intake.stray (id int)")
    finally:
        await conn.close()
    with pytest.raises(MigrationError, match=r"no grants decided for stray"):
        await migrate_database(docket_database.owner_url)


def run_service(service: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"services.{service}.app"],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def startup_failures(result: subprocess.CompletedProcess[str]) -> list[dict[str, str]]:
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return [line for line in lines if line["event"] == "startup_failed"]


async def test_a_service_refuses_an_unmigrated_database_and_the_owner_role(
    kafka_access: KafkaAccess, postgres_server: PostgresTestServer, docket_database: DocketDatabase
) -> None:
    empty = await postgres_server.create_database(f"test_empty_{secrets.token_hex(4)}")
    base = {**kafka_access.service_env("classifier"), "DOCKET_CLASSIFIER_PORT": "0"}
    cases = {
        service_url(empty, "classifier"): r"schema 'classifier' is at version 0000",
        docket_database.owner_url: r"docket_owner', the owner of schema 'classifier'",
        postgres_server.url("postgres"): r"a superuser",
    }
    for url, reason in cases.items():
        result = await asyncio.to_thread(
            run_service, "classifier", {**base, "DOCKET_DATABASE_URL": url}
        )
        assert result.returncode == 2, result.stdout[-2000:]
        failures = startup_failures(result)
        assert len(failures) == 1, result.stdout[-2000:]
        assert reason in failures[0]["reason"].replace('"', "'")
        assert "Traceback" not in result.stdout + result.stderr
        password = ROLE_PASSWORDS["classifier"]
        assert password not in result.stdout + result.stderr


def docket(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "docket"), *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_docket_migrate_command_reports_status_and_migrates(database_url: str) -> None:
    env = {
        "DOCKET_MIGRATION_DATABASE_URL": database_url,
        **{
            f"DOCKET_{service.upper()}_DATABASE_PASSWORD": password
            for service, password in ROLE_PASSWORDS.items()
        },
    }
    before = await asyncio.to_thread(docket, "migrate", "--status", env=env)
    assert before.returncode == 1
    assert "audit       version 0000  pending: 0001_event_log.sql" in before.stdout
    done = await asyncio.to_thread(docket, "migrate", env=env)
    assert done.returncode == 0, done.stderr
    assert "applied 0001_intake.sql" in done.stdout
    for password in ROLE_PASSWORDS.values():
        assert password not in done.stdout + done.stderr
    after = await asyncio.to_thread(docket, "migrate", "--status", env=env)
    assert after.returncode == 0
    assert after.stdout.count("up to date") == len(SCHEMAS)
    conn = await connect(service_url(database_url, "notifier"))  # the password it set works
    try:
        assert await conn.fetchval("SELECT count(*) FROM notifier.notices") == 0
    finally:
        await conn.close()


async def test_each_cli_runs_with_the_role_the_docs_name(
    docket_database: DocketDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    audit_url, owner = docket_database.url("audit"), docket_database.owner_url
    # the rebuild deletes views: the audit service's role may not, the owner may
    rebuild = ["audit", "rebuild", "--database-url"]
    assert await asyncio.to_thread(main, [*rebuild, audit_url]) == 5
    refused = capsys.readouterr().err
    assert "runs as the owner role" in refused
    assert refused.count("\n") == 1  # one line, no traceback
    assert await asyncio.to_thread(main, [*rebuild, owner]) == 0
    # export and the report only read: the audit role is enough
    export = Path(tempfile.mkdtemp()) / "log.jsonl"
    args = ["audit", "export", str(export), "--database-url", audit_url]
    assert await asyncio.to_thread(main, args) == 0
    report = ["report", "--from", "2030-01-01", "--to", "2030-02-01", "--database-url", audit_url]
    assert await asyncio.to_thread(main, report) == 0
    # docket keys manages the API keys (schema auth) as the owner
    create = ["keys", "create", "on-call", "--role", "reader", "--database-url", owner]
    assert await asyncio.to_thread(main, create) == 0
    assert await asyncio.to_thread(main, ["keys", "list", "--database-url", owner]) == 0
    listed = capsys.readouterr().out
    assert "on-call" in listed
    key_id = next(line.split()[0] for line in listed.splitlines() if "on-call" in line)
    # ... a service role may not revoke, rotate or (audit) add one
    for url, action in [
        (docket_database.url("intake"), ["revoke", key_id]),
        (docket_database.url("intake"), ["rotate", key_id]),
        (audit_url, ["create", "forged", "--role", "legal"]),
    ]:
        assert await asyncio.to_thread(main, ["keys", *action, "--database-url", url]) == 5
        assert "owner role" in capsys.readouterr().err


@pytest.mark.parametrize("service", ["intake", "notifier", "audit"])
async def test_every_service_checks_its_schema_before_it_starts(
    service: str,
    kafka_access: KafkaAccess,
    postgres_server: PostgresTestServer,
    docket_database: DocketDatabase,  # the roles exist; this database is another
    tmp_path: Path,
) -> None:
    empty = await postgres_server.create_database(f"test_empty_{secrets.token_hex(4)}")
    env = {
        **kafka_access.service_env(service),
        "DOCKET_DATABASE_URL": service_url(empty, service),
        f"DOCKET_{service.upper()}_PORT": "0",
        "DOCKET_SIGNING_KEY_FILE": str(tmp_path / "signing.pem"),
    }
    result = await asyncio.to_thread(run_service, service, env)
    assert result.returncode == 2, result.stdout[-2000:]
    (failure,) = startup_failures(result)
    assert failure["service"] == service
    assert f"schema {service!r} is at version 0000" in failure["reason"]
    assert "docket migrate" in failure["reason"]
    assert "Traceback" not in result.stdout + result.stderr
