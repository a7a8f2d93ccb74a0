"""``make run``: the whole of Docket on this machine, without Docker.

Starts Apache Kafka (KRaft) and PostgreSQL (or uses ``KAFKA_BOOTSTRAP_SERVERS`` /
``DOCKET_DATABASE_URL``), a local mail catcher that keeps every notice as an ``.eml``
file under ``.run/mail``, and the four services as separate processes (logs in
``.run/logs``). Then it submits every request in ``examples/requests`` and prints, for
each, the request id, authority, risk, notice decision and history. It keeps serving
until Ctrl-C, or exits after the summary with ``--once``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from deploy.kafka.launcher import ensure_kafka
from deploy.kafka.security import KafkaAccess
from deploy.postgres.launcher import DATABASE_URL_ENV, LocalPostgres, create_database

REPO = Path(__file__).resolve().parents[1]
RUN = REPO / ".run"
EXAMPLES = REPO / "examples"
SERVICES = {"audit": 8083, "classifier": 8081, "notifier": 8082, "intake": 8080}
SETTLED = {"notice_sent", "notice_scheduled", "notice_withheld", "decided", "withdrawn"}


def say(message: str) -> None:
    print(message, flush=True)


class MailCatcher:
    """SMTP server writing each message it receives to ``.run/mail/NNNN.eml``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        number = len(list(self.folder.glob("*.eml"))) + 1
        (self.folder / f"{number:04d}.eml").write_bytes(envelope.content)
        return "250 OK"


@contextmanager
def mail_catcher(port: int) -> Iterator[None]:
    controller = Controller(MailCatcher(RUN / "mail"), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield
    finally:
        controller.stop()


def local_api_key() -> str:
    """The key ``make run`` writes with, kept in ``.run/api-key`` across runs."""
    path = RUN / "api-key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def start_services(env: dict[str, str], kafka: KafkaAccess) -> dict[str, subprocess.Popen[bytes]]:
    """Every service as a process, connecting to Kafka as its own principal."""
    logs = RUN / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    for name in SERVICES:
        log_file = (logs / f"{name}.log").open("ab")
        processes[name] = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}.app"],
            cwd=REPO,
            env={**env, **kafka.service_env(name)},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return processes


def stop_services(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for name, process in processes.items():
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            say(f"{name} did not stop in 30 s; killing it")
            process.kill()


async def wait_ready(processes: dict[str, subprocess.Popen[bytes]], timeout_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    async with httpx.AsyncClient(timeout=3) as client:
        for name, port in SERVICES.items():
            while True:
                if processes[name].poll() is not None:
                    tail = (RUN / "logs" / f"{name}.log").read_text()[-3000:]
                    raise RuntimeError(f"{name} exited with {processes[name].returncode}:\n{tail}")
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        say(f"  {name:<10} ready on http://127.0.0.1:{port}")
                        break
                except httpx.HTTPError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"{name} was not ready within {timeout_s:.0f} s")
                await asyncio.sleep(0.3)


async def submit_examples(api_key: str) -> list[str]:
    request_ids = []
    async with httpx.AsyncClient(timeout=30) as client:
        for path in sorted((EXAMPLES / "requests").glob("*.json")):
            response = await client.post(
                f"http://127.0.0.1:{SERVICES['intake']}/v1/requests",
                content=path.read_bytes(),
                headers={
                    "content-type": "application/json",
                    "authorization": f"Bearer {api_key}",
                },
            )
            if response.status_code != 202:
                raise RuntimeError(f"{path.name}: {response.status_code} {response.text}")
            request_ids.append(response.json()["request_id"])
            say(f"  submitted {path.name} -> {request_ids[-1]}")
    return request_ids


async def settled_history(client: httpx.AsyncClient, request_id: str) -> dict[str, Any]:
    url = f"http://127.0.0.1:{SERVICES['audit']}/v1/requests/{request_id}"
    for _ in range(300):
        response = await client.get(url)
        if response.status_code == 200:
            history: dict[str, Any] = response.json()
            if history["state"] in SETTLED:
                return history
        await asyncio.sleep(0.2)
    raise TimeoutError(f"request {request_id} did not settle within 60 s")


def print_summary(history: dict[str, Any]) -> None:
    classification = history.get("classification") or {}
    authority = classification.get("authority", {})
    risk = classification.get("risk", {})
    say("")
    say(f"request {history['request_id']}  state={history['state']}")
    say(f"  authority : {authority.get('code')} ({authority.get('family')})")
    factors = ", ".join(f["code"] for f in risk.get("factors", []))
    say(f"  risk      : {risk.get('level')} (score {risk.get('score')}): {factors}")
    say(f"  action    : {classification.get('recommended_action')}")
    for notice in history["notifications"]:
        target = notice["target"].get("handle") or notice["target"].get("platform_user_id")
        when = notice["sent_at"] or notice["not_before"] or "-"
        say(
            f"  notice    : {target}: {notice['decision']} ({notice['reason']}) {when}"
            f"{' via ' + notice['channel'] if notice['channel'] else ''}"
        )
    say("  history   :")
    for event in history["events"]:
        say(
            f"    #{event['leaf_index']:<5} {event['occurred_at']}  {event['type']:<22} "
            f"trace {event['trace_id']}"
        )


def say_kafka(kafka: KafkaAccess) -> None:
    """Where Kafka is and who connects as whom (passwords stay in the file named)."""
    if kafka.external:
        say(f"  kafka      {kafka.bootstrap_servers} (security from DOCKET_KAFKA_*)")
        return
    users = ", ".join(sorted(kafka.passwords))
    say(f"  kafka      SASL_SSL (SCRAM-SHA-512) on {kafka.bootstrap_servers}, CA {kafka.ca_file}")
    say(f"  kafka users {users}: passwords in {RUN / 'kafka' / 'users.json'}")


async def run(once: bool) -> int:
    RUN.mkdir(exist_ok=True)
    say("starting Kafka ...")
    kafka, broker = await ensure_kafka(RUN / "kafka", port=9092)
    say_kafka(kafka)
    postgres: LocalPostgres | None = None
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        database_url = os.environ.get(DATABASE_URL_ENV)
        if not database_url:
            say("starting PostgreSQL ...")
            postgres = LocalPostgres(RUN / "postgres")
            admin_url = await asyncio.to_thread(postgres.start)
            await create_database(admin_url, "docket")
            database_url = postgres.url("docket")
        smtp_port = int(os.environ.get("DOCKET_SMTP_PORT", "2525"))
        api_key = local_api_key()
        env = {
            **os.environ,
            DATABASE_URL_ENV: database_url,
            "DOCKET_ACCOUNTS_FILE": str(EXAMPLES / "accounts.jsonl"),
            "DOCKET_SMTP_HOST": "127.0.0.1",
            "DOCKET_SMTP_PORT": str(smtp_port),
            "DOCKET_SIGNING_KEY_FILE": str(RUN / "audit-signing-key.pem"),
            "DOCKET_INTAKE_BOOTSTRAP_KEY": f"make-run:submit,amend,decide:{api_key}",
        }
        with mail_catcher(smtp_port):
            say("starting the services (logs in .run/logs) ...")
            processes = start_services(env, kafka)
            await wait_ready(processes, timeout_s=120)
            say("submitting examples/requests ...")
            request_ids = await submit_examples(api_key)
            async with httpx.AsyncClient(timeout=5) as client:
                for request_id in request_ids:
                    print_summary(await settled_history(client, request_id))
            say(f"\nnotices sent by e-mail are in {RUN / 'mail'}")
            say(f"write with: export DOCKET_API_KEY=$(cat {RUN / 'api-key'})")
            if once:
                return 0
            say(
                "Docket is running: intake http://127.0.0.1:8080, audit http://127.0.0.1:8083."
                " Ctrl-C stops it."
            )
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            await stop.wait()
            return 0
    finally:
        say("stopping ...")
        stop_services(processes)
        if broker is not None:
            await broker.stop()
        if postgres is not None:
            await asyncio.to_thread(postgres.stop)


def main() -> None:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument("--once", action="store_true", help="exit after the summary")
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.once)))


if __name__ == "__main__":
    main()
