"""The local PostgreSQL launcher, the test fixtures and the SQL migrations, for real."""

from __future__ import annotations

import asyncio
import hashlib
import os
import pwd
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from deploy.postgres.launcher import (
    DATABASE_URL_ENV,
    SYSTEM_USER,
    LocalPostgres,
    ensure_database,
)
from shared.db import HALF_OPEN_BOUNDS, MigrationError, create_pool, migrate
from tests.fixtures.postgres import PostgresTestServer

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]

needs_local_server = pytest.mark.skipif(
    bool(os.environ.get(DATABASE_URL_ENV)),
    reason=f"{DATABASE_URL_ENV} is set: no local server is started",
)


@pytest_asyncio.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection[asyncpg.Record]]:
    """A connection to the test's own database."""
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


@pytest.fixture
def scratch_dir() -> Iterator[Path]:
    """An empty directory the server account can reach (unlike pytest's tmp_path as root)."""
    path = Path(tempfile.mkdtemp(prefix="docket-pg-scratch-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def write(directory: Path, name: str, sql: str) -> Path:
    """Write one migration file."""
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text(sql)
    return path


async def schema_migrations(
    conn: asyncpg.Connection[asyncpg.Record], schema: str
) -> list[tuple[int, str, str]]:
    """The recorded migrations of ``schema``."""
    rows = await conn.fetch(f"SELECT version, name, checksum FROM {schema}.schema_migrations")
    return sorted((row["version"], row["name"], row["checksum"]) for row in rows)


async def test_server_is_durable_loopback_only_and_unprivileged(
    postgres_server: PostgresTestServer, conn: asyncpg.Connection[asyncpg.Record]
) -> None:
    for setting in ("fsync", "synchronous_commit", "full_page_writes", "data_checksums"):
        assert await conn.fetchval(f"SHOW {setting}") == "on", setting
    if postgres_server.local is None:
        return
    assert await conn.fetchval("SHOW listen_addresses") == "127.0.0.1"
    backend_uid = os.stat(f"/proc/{conn.get_server_pid()}").st_uid
    expected = pwd.getpwnam(SYSTEM_USER).pw_uid if os.geteuid() == 0 else os.geteuid()
    assert backend_uid == expected != 0


async def test_databases_are_fresh_per_test(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    name = await conn.fetchval("SELECT current_database()")
    assert name.startswith("test_")
    user_tables = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
    assert await conn.fetchval(user_tables) == 0


async def test_migrations_apply_in_order_once(database_url: str, tmp_path: Path) -> None:
    files = [
        write(tmp_path, "0001_create_items.sql", "CREATE TABLE items (id int PRIMARY KEY);"),
        write(tmp_path, "0002_add_label.sql", "ALTER TABLE items ADD COLUMN label text;"),
        write(tmp_path, "0003_seed.sql", "INSERT INTO items VALUES (1, 'one'); SELECT 1;"),
    ]
    pool = await create_pool(database_url, schema="inventory")
    try:
        assert await migrate(pool, "inventory", tmp_path) == [path.name for path in files]
        assert await migrate(pool, "inventory", tmp_path) == []
        write(tmp_path, "0004_more.sql", "INSERT INTO items VALUES (2, 'two');")
        assert await migrate(pool, "inventory", tmp_path) == ["0004_more.sql"]
        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT id, label FROM items ORDER BY id")  # search_path
            assert [tuple(row) for row in rows] == [(1, "one"), (2, "two")]
            recorded = await conn.fetch(
                "SELECT version, name, checksum, applied_at FROM inventory.schema_migrations"
                " ORDER BY version"
            )
    finally:
        await pool.close()
    assert [(row["version"], row["name"], row["checksum"]) for row in recorded] == [
        (number, path.name, hashlib.sha256(path.read_bytes()).hexdigest())
        for number, path in enumerate([*files, tmp_path / "0004_more.sql"], start=1)
    ]
    assert all(row["applied_at"] is not None for row in recorded)


async def test_pooled_sessions_are_bounded_for_a_half_open_client(database_url: str) -> None:
    """A client that stopped answering inside a transaction (its link went half-open)
    cannot keep its row locks: the server ends the idle transaction and others go on."""
    pool = await create_pool(database_url)
    try:
        async with pool.acquire() as conn:
            shown = {name: await conn.fetchval(f"SHOW {name}") for name in HALF_OPEN_BOUNDS}
            await conn.execute(
                "CREATE TABLE held (id int PRIMARY KEY); INSERT INTO held VALUES (1)"
            )
    finally:
        await pool.close()
    assert shown == {
        "idle_in_transaction_session_timeout": "1min",
        "tcp_keepalives_idle": "30",
        "tcp_keepalives_interval": "10",
        "tcp_keepalives_count": "3",
    }
    ghost = await asyncpg.connect(database_url)
    other = await asyncpg.connect(database_url)
    try:
        # The bound, shortened for the test, as a pooled session would set it.
        await ghost.execute("SET idle_in_transaction_session_timeout = '1s'")
        await ghost.execute("BEGIN; SELECT id FROM held WHERE id = 1 FOR UPDATE")
        # The ghost never speaks again; the other session gets the row within the bound.
        locked = await other.fetchval("SELECT id FROM held WHERE id = 1 FOR UPDATE", timeout=20)
        assert locked == 1
        # the server ended the ghost's session: its next call fails, however asyncpg
        # happens to notice (the server's error, a closed connection, or its protocol
        # still reading the termination notice)
        ended = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)
        with pytest.raises((*ended, OSError)):
            await ghost.fetchval("SELECT 1")
    finally:
        ghost.terminate()
        await other.close()


async def test_concurrent_migrators_apply_each_file_exactly_once(
    database_url: str, tmp_path: Path
) -> None:
    write(
        tmp_path,
        "0001_create_log.sql",
        "CREATE TABLE log (tag text); INSERT INTO log VALUES ('0001'); SELECT pg_sleep(0.3);",
    )
    write(tmp_path, "0002_append.sql", "INSERT INTO log VALUES ('0002');")
    first, second = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    try:
        results = await asyncio.gather(
            migrate(first, "audit", tmp_path), migrate(second, "audit", tmp_path)
        )
        assert sorted(results, key=len) == [[], ["0001_create_log.sql", "0002_append.sql"]]
        assert await first.fetchval("SELECT count(*) FROM audit.log") == 2
        assert [v for v, _, _ in await schema_migrations(first, "audit")] == [1, 2]
    finally:
        await first.close()
        await second.close()


async def test_changed_migration_is_refused(
    conn: asyncpg.Connection[asyncpg.Record], tmp_path: Path
) -> None:
    applied = write(tmp_path, "0001_create.sql", "CREATE TABLE t (id int);")
    assert await migrate(conn, "svc", tmp_path) == ["0001_create.sql"]
    applied.write_text("CREATE TABLE t (id bigint);")
    write(tmp_path, "0002_next.sql", "CREATE TABLE u (id int);")
    with pytest.raises(MigrationError, match=r"0001_create\.sql changed after it was applied"):
        await migrate(conn, "svc", tmp_path)
    assert [v for v, _, _ in await schema_migrations(conn, "svc")] == [1]


async def test_missing_versions_are_refused(
    conn: asyncpg.Connection[asyncpg.Record], tmp_path: Path
) -> None:
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (id int);")
    write(tmp_path, "0003_c.sql", "CREATE TABLE c (id int);")
    with pytest.raises(MigrationError, match=r"found 0003_c\.sql where version 0002"):
        await migrate(conn, "svc", tmp_path)
    assert await conn.fetchval("SELECT to_regclass('svc.schema_migrations')") is None

    (tmp_path / "0003_c.sql").unlink()
    second = write(tmp_path, "0002_b.sql", "CREATE TABLE b (id int);")
    assert await migrate(conn, "svc", tmp_path) == ["0001_a.sql", "0002_b.sql"]
    second.unlink()
    with pytest.raises(MigrationError, match=r"0002_b\.sql \(version 0002\) is applied"):
        await migrate(conn, "svc", tmp_path)


async def test_failed_migration_is_rolled_back(
    conn: asyncpg.Connection[asyncpg.Record], tmp_path: Path
) -> None:
    write(tmp_path, "0001_ok.sql", "CREATE TABLE ok (id int);")
    broken = write(tmp_path, "0002_broken.sql", "CREATE TABLE half (id int); SELECT 1/0;")
    with pytest.raises(MigrationError, match=r"0002_broken\.sql failed"):
        await migrate(conn, "svc", tmp_path)
    assert await conn.fetchval("SELECT to_regclass('svc.half')") is None
    assert [v for v, _, _ in await schema_migrations(conn, "svc")] == [1]
    broken.write_text("CREATE TABLE half (id int);")
    assert await migrate(conn, "svc", tmp_path) == ["0002_broken.sql"]


async def test_committed_data_survives_a_restart(
    postgres_server: PostgresTestServer, database_url: str
) -> None:
    conn = await asyncpg.connect(database_url)
    await conn.execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before restart')")
    await conn.close()
    postgres_server.stop()
    try:
        with pytest.raises(ConnectionRefusedError):
            await asyncpg.connect(database_url)
    finally:
        postgres_server.start()
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT v FROM kept") == "before restart"
    finally:
        await conn.close()


@needs_local_server
async def test_ensure_database_reuses_and_restarts_a_data_dir(scratch_dir: Path) -> None:
    data_dir = scratch_dir / "data"
    url = await ensure_database("orders", data_dir=data_dir)
    try:
        assert url.endswith("/orders")
        assert await ensure_database("orders", data_dir=data_dir) == url  # reuses the server
        conn = await asyncpg.connect(url)
        await conn.execute("CREATE TABLE t AS SELECT 42 AS answer")
        await conn.close()
        LocalPostgres(data_dir).stop()
        url = await ensure_database("orders", data_dir=data_dir)
        conn = await asyncpg.connect(url)
        assert await conn.fetchval("SELECT answer FROM t") == 42
        await conn.close()
    finally:
        LocalPostgres(data_dir).stop()
    assert not (data_dir / "postmaster.pid").exists()


async def test_ensure_database_returns_external_url_untouched(
    monkeypatch: pytest.MonkeyPatch, scratch_dir: Path
) -> None:
    external = "postgresql://app:secret@db.internal:5432/audit"
    monkeypatch.setenv(DATABASE_URL_ENV, external)
    assert await ensure_database("audit", data_dir=scratch_dir / "data") == external
    assert not (scratch_dir / "data").exists()


@needs_local_server
async def test_cli_serves_in_foreground_until_sigterm(scratch_dir: Path) -> None:
    data_dir = scratch_dir / "data"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deploy.postgres.launcher",
        "start",
        "--data-dir",
        str(data_dir),
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        url = (await asyncio.wait_for(proc.stdout.readline(), timeout=60)).decode().strip()
        assert url.startswith("postgresql://docket:docket@127.0.0.1:")
        assert url.endswith("/docket")
        conn = await asyncpg.connect(url)
        assert await conn.fetchval("SELECT current_database()") == "docket"
        await conn.close()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=60) == 0
        assert not (data_dir / "postmaster.pid").exists()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        LocalPostgres(data_dir).stop()
