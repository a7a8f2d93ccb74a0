"""The real Docket stack for the benchmark: a Kafka broker (or ``KAFKA_BOOTSTRAP_SERVERS``),
a local PostgreSQL with its durable defaults (or ``DOCKET_DATABASE_URL``'s server) with a
database migrated by ``docket migrate`` as the owner role, an SMTP sink in its own process,
and every service as its own process logged in as its own role, as ``make run`` starts
them; classifier and notifier can run as several instances of one group."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.cases import REPO, load_cases, write_accounts
from deploy.kafka.launcher import KafkaBroker, ensure_kafka, free_ports
from deploy.kafka.security import KafkaAccess
from deploy.postgres.launcher import (
    DATABASE_URL_ENV,
    DatabaseRoles,
    LocalPostgres,
    prepare_database,
)
from shared.settings import listen_environment


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def peak_rss_mb(self) -> float | None:
        """VmHWM (peak resident set) of the process, MiB; None once it has exited."""
        try:
            status = Path(f"/proc/{self.popen.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None


def start_smtp_sink(port: int) -> subprocess.Popen[bytes]:
    """An SMTP server that accepts and drops every notice, in its own process."""
    command = [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink"]
    return subprocess.Popen(
        [*command, "-l", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_processes(processes: list[Process], grace_s: float = 30.0) -> None:
    for process in processes:
        if process.popen.poll() is None:
            process.popen.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.popen.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.popen.kill()
            process.popen.wait()


@dataclass
class Stack:
    work: Path
    log_level: str = "INFO"
    kafka: KafkaAccess = field(default_factory=lambda: KafkaAccess(""))
    admin_url: str = ""
    #: The owner role's URL of the benchmark's database (each service uses its own role).
    database_url: str = ""
    roles: DatabaseRoles = field(default_factory=DatabaseRoles.generate)
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    token: str = field(default_factory=lambda: secrets.token_hex(3))
    broker: KafkaBroker | None = None
    postgres: LocalPostgres | None = None
    smtp: subprocess.Popen[bytes] | None = None
    smtp_port: int = 0
    services: dict[str, list[Process]] = field(default_factory=dict)
    pg_data: Path | None = None

    @property
    def intake_url(self) -> str:
        return self.services["intake"][0].url

    async def start(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        (self.work / "logs").mkdir(exist_ok=True)
        self.kafka, self.broker = await ensure_kafka(self.work / "kafka")
        external = os.environ.get(DATABASE_URL_ENV)
        if external:
            self.admin_url = external
        else:
            # Its own temporary directory: as root the server runs as another user, which
            # needs to enter every parent directory (mkdtemp makes the work dir 0700).
            self.pg_data = Path(tempfile.mkdtemp(prefix="docket-pg-bench-"))
            self.postgres = LocalPostgres(self.pg_data)
            self.admin_url = await asyncio.to_thread(self.postgres.start)
        name = f"docket_bench_{self.token}"
        self.database_url = await prepare_database(self.admin_url, name, self.roles)
        write_accounts(load_cases(), self.work / "accounts.jsonl")
        (self.smtp_port,) = free_ports(1)
        self.smtp = start_smtp_sink(self.smtp_port)
        self.services["audit"] = [self.spawn("audit")]
        self.services["classifier"] = [self.spawn("classifier")]
        self.services["notifier"] = [self.spawn("notifier")]
        self.services["intake"] = [self.spawn("intake")]
        await self.wait_ready(self.all_processes())

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        audit_port = self.services["audit"][0].port if self.services.get("audit") else 0
        return {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "DOCKET_ACCOUNTS_FILE": str(self.work / "accounts.jsonl"),
            "DOCKET_SMTP_HOST": "127.0.0.1",
            "DOCKET_SMTP_PORT": str(self.smtp_port),
            "DOCKET_SIGNING_KEY_FILE": str(self.work / "audit-signing-key.pem"),
            "DOCKET_INTAKE_BOOTSTRAP_KEY": f"bench:legal:{self.api_key}",
            # one client drives all the load: measure the pipeline, not the rate limit
            "DOCKET_RATE_LIMIT_PER_S": "0",
            "DOCKET_AUDIT_BASE_URL": f"http://127.0.0.1:{audit_port}",
            # Fresh groups: an external broker may hold other runs' offsets.
            "DOCKET_CONSUMER_GROUP_PREFIX": f"docket-audit-bench-{self.token}",
            "DOCKET_LOG_LEVEL": self.log_level,
            **(extra or {}),
        }

    def groups(self) -> dict[str, str]:
        """Consumer group of each pipeline stage, by stage name."""
        return {
            "classifier": f"docket-classifier-bench-{self.token}",
            "notifier": f"docket-notifier-bench-{self.token}",
            "audit-ingest": f"docket-audit-bench-{self.token}-ingest",
            "audit-log": f"docket-audit-bench-{self.token}-log",
        }

    def spawn(
        self,
        name: str,
        extra_env: dict[str, str] | None = None,
        wrapper: list[str] | None = None,
        label: str | None = None,
    ) -> Process:
        """Start one instance of service ``name`` on a free port."""
        port, admin_port = free_ports(2)
        database_url = self.roles.service_url(self.database_url, name)
        # Each service connects to Kafka as its own principal and to PostgreSQL as its role.
        env = self.env(
            {
                **self.kafka.service_env(name),
                **listen_environment(name, port, admin_port),
                DATABASE_URL_ENV: database_url,
                **(extra_env or {}),
            }
        )
        if name in ("classifier", "notifier"):
            env.setdefault("DOCKET_CONSUMER_GROUP", self.groups()[name])
        label = label or f"{name}-{len(self.services.get(name, []))}"
        log = self.work / "logs" / f"{label}.log"
        command = [*(wrapper or [sys.executable]), "-m", f"services.{name}.app"]
        with log.open("ab") as out:
            popen = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=out)
        return Process(label, popen, port, log)

    def all_processes(self) -> list[Process]:
        return [p for group in self.services.values() for p in group]

    async def wait_ready(self, processes: list[Process], timeout_s: float = 180.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        async with httpx.AsyncClient(timeout=3) as client:
            for process in processes:
                while True:
                    if process.popen.poll() is not None:
                        tail = process.log.read_text(errors="replace")[-3000:]
                        raise RuntimeError(f"{process.name} exited:\n{tail}")
                    try:
                        answer = await client.get(f"{process.url}/readyz")
                        if answer.status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if loop.time() > deadline:
                        raise TimeoutError(f"{process.name} not ready in {timeout_s:.0f} s")
                    await asyncio.sleep(0.3)

    async def scale(self, instances: int) -> None:
        """Run ``instances`` instances each of classifier and notifier (same groups)."""
        for name in ("classifier", "notifier"):
            group = self.services[name]
            while len(group) < instances:
                group.append(self.spawn(name))
            if len(group) > instances:
                await asyncio.to_thread(stop_processes, group[instances:])
                del group[instances:]
        await self.wait_ready(self.all_processes())

    async def replace(self, name: str, wrapper: list[str], label: str) -> Process:
        """Restart the single instance of ``name`` under ``wrapper`` (a profiler)."""
        await asyncio.to_thread(stop_processes, self.services[name])
        process = self.spawn(name, wrapper=wrapper, label=label)
        self.services[name] = [process]
        await self.wait_ready([process])
        return process

    def peak_rss_mb(self) -> dict[str, float]:
        """VmHWM of every running service process, by process label."""
        peaks = {}
        for process in self.all_processes():
            peak = process.peak_rss_mb()
            if peak is not None:
                peaks[process.name] = peak
        return peaks

    async def stop(self) -> None:
        await asyncio.to_thread(stop_processes, self.all_processes())
        if self.smtp is not None and self.smtp.poll() is None:
            self.smtp.terminate()
            self.smtp.wait(timeout=10)
        if self.broker is not None:
            await self.broker.stop()
        if self.postgres is not None:
            await asyncio.to_thread(self.postgres.stop)

    def remove_data(self) -> None:
        """Delete the database directory (the broker's is under ``work``)."""
        if self.pg_data is not None:
            shutil.rmtree(self.pg_data, ignore_errors=True)
