"""``make run``: the whole of Docket on this machine, without Docker.

Starts Apache Kafka (KRaft) and PostgreSQL (or uses ``KAFKA_BOOTSTRAP_SERVERS`` /
``DOCKET_DATABASE_URL``), runs ``docket migrate`` once as the owner role, then a local
mail catcher that keeps every notice as an ``.eml`` file under ``.run/mail``, and the four
services as separate processes (logs in ``.run/logs``), each logged in to PostgreSQL as its
own role. The roles' passwords are kept in ``.run/postgres-roles.json`` (mode 0600).
Jaeger (``deploy/tools/jaeger.py``, built from the Go module proxy the first time)
receives the services' spans over OTLP/HTTP on 4318 and shows them on 16686 (free ports
instead when those are taken); ``docket trace`` links point at it.
Authentication is on: it makes one API key per role (kept under ``.run/keys``, reused
across runs while the database keeps them) and prints them. Then legal staff's key
submits every request in ``examples/requests`` and it prints, read with the
national-security counsel's key, each one's id, authority, risk, notice decision and
history. It keeps serving until Ctrl-C, or exits after the summary with ``--once``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from deploy.kafka.launcher import ensure_kafka
from deploy.kafka.security import KafkaAccess
from deploy.postgres.launcher import (
    DATABASE_URL_ENV,
    DatabaseRoles,
    LocalPostgres,
    prepare_database,
)
from deploy.tools import ToolUnavailable
from deploy.tools import jaeger as jaeger_tool
from shared.auth.keys import KeySpec, Role
from shared.auth.store import opened_key_store
from shared.db import MigrationError
from shared.settings import listen_environment

REPO = Path(__file__).resolve().parents[1]
RUN = REPO / ".run"
EXAMPLES = REPO / "examples"
MIGRATION_URL_ENV = "DOCKET_MIGRATION_DATABASE_URL"
SERVICES = {"audit": 8083, "classifier": 8081, "notifier": 8082, "intake": 8080}
#: Each service's admin port (``/metrics``), the settings' defaults.
ADMIN_PORTS = {"audit": 9183, "classifier": 9181, "notifier": 9182, "intake": 9180}
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


def _example_agency(name: str) -> str:
    agency: str = json.loads((EXAMPLES / "requests" / name).read_text())["requester"]["agency"]
    return agency


#: The keys ``make run`` makes, by file name under ``.run/keys``. Legal staff enter the
#: examples (as they do for demands received by fax or mail, from several agencies);
#: ``submitter`` is CBP's portal, which may submit, read and amend only CBP's requests.
LOCAL_KEYS = {
    "legal": KeySpec("legal-ops", Role.LEGAL),
    "natsec": KeySpec("natsec-counsel", Role.LEGAL, national_security=True),
    "submitter": KeySpec(
        "cbp-portal",
        Role.SUBMITTER,
        _example_agency("01-customs-summons-anonymous-critic.json"),
    ),
    "reader": KeySpec("on-call", Role.READER),
    "auditor": KeySpec("auditor", Role.AUDITOR),
    # the web console's: acts only for the person signed in to it (docs/console.md)
    "console": KeySpec("console", Role.LEGAL, national_security=True, delegates=True),
}
#: The web console's port (``DOCKET_CONSOLE_PORT``).
CONSOLE_PORT = 8084


async def local_keys(database_url: str) -> dict[str, str]:
    """name -> secret of every :data:`LOCAL_KEYS` key: the one in ``.run/keys/<name>`` if
    the database still knows it, else a new one written there (mode 0600)."""
    folder = RUN / "keys"
    folder.mkdir(parents=True, exist_ok=True)
    keys: dict[str, str] = {}
    async with opened_key_store(database_url) as store:
        for name, spec in LOCAL_KEYS.items():
            path = folder / name
            if path.exists() and await store.principal(SecretStr(path.read_text().strip())):
                keys[name] = path.read_text().strip()
                continue
            issued = await store.create(spec)
            path.write_text(issued.secret.get_secret_value())
            path.chmod(0o600)
            keys[name] = issued.secret.get_secret_value()
    return keys


def print_keys(keys: dict[str, str]) -> None:
    say("API keys (one per role; send as 'Authorization: Bearer <key>'):")
    for name, secret in keys.items():
        spec = LOCAL_KEYS[name]
        what = spec.role.value + (" + national security" if spec.national_security else "")
        what += " (acts for the console's signed-in people)" if spec.delegates else ""
        owner = f" for {spec.organisation}" if spec.organisation else ""
        say(f"  {name:<10} {spec.client_id:<15} {what}{owner}")
        say(f"             {secret}   (.run/keys/{name})")


def start_services(
    env: dict[str, str], kafka: KafkaAccess, database_urls: dict[str, str]
) -> dict[str, subprocess.Popen[bytes]]:
    """Each service as a process, connecting to Kafka as its own principal and to
    PostgreSQL as its own role (``database_urls[name]``)."""
    logs = RUN / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    for name in SERVICES:
        log_file = (logs / f"{name}.log").open("ab")
        processes[name] = subprocess.Popen(
            [sys.executable, "-m", "shared.cli", "serve", name],  # docket serve NAME
            cwd=REPO,
            env={**env, **kafka.service_env(name), DATABASE_URL_ENV: database_urls[name]},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    return processes


def start_console(env: dict[str, str], key: str, jaeger_url: str | None) -> subprocess.Popen[bytes]:
    """The web console as a process: no database, no Kafka; it calls intake and audit
    with its delegating key. Development mode: the local sign-in (no identity provider
    on a developer's machine)."""
    log_file = (RUN / "logs" / "console.log").open("ab")
    console_env = {
        **env,
        "DOCKET_CONSOLE_PORT": str(CONSOLE_PORT),
        "DOCKET_CONSOLE_API_KEY": key,
        "DOCKET_DEVELOPMENT_MODE": "true",
        "DOCKET_INTAKE_URL": f"http://127.0.0.1:{SERVICES['intake']}",
        "DOCKET_AUDIT_URL": f"http://127.0.0.1:{SERVICES['audit']}",
    }
    if jaeger_url:
        console_env["DOCKET_JAEGER_URL"] = jaeger_url
    return subprocess.Popen(
        [sys.executable, "-m", "shared.cli", "serve", "console"],
        cwd=REPO,
        env=console_env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )


async def wait_console(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    url = f"http://127.0.0.1:{CONSOLE_PORT}/healthz"
    deadline = asyncio.get_running_loop().time() + timeout_s
    async with httpx.AsyncClient(timeout=2) as client:
        while asyncio.get_running_loop().time() < deadline:
            if process.poll() is not None:
                raise SystemExit("the console exited during start: see .run/logs/console.log")
            try:
                if (await client.get(url)).status_code == 200:
                    say(f"  console    ready on http://127.0.0.1:{CONSOLE_PORT}")
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
    raise SystemExit("the console did not start: see .run/logs/console.log")


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
                        say(
                            f"  {name:<10} ready on http://127.0.0.1:{port}"
                            f"  (metrics: http://127.0.0.1:{ADMIN_PORTS[name]}/metrics)"
                        )
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


async def settled_history(
    client: httpx.AsyncClient, request_id: str, api_key: str
) -> dict[str, Any]:
    url = f"http://127.0.0.1:{SERVICES['audit']}/v1/requests/{request_id}"
    for _ in range(300):
        response = await client.get(url, headers={"authorization": f"Bearer {api_key}"})
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


def start_jaeger() -> jaeger_tool.Jaeger | None:
    """Jaeger on 4318 (OTLP/HTTP) and 16686 (UI) when free, else on free ports; built
    from the Go module proxy the first time (minutes). None, said, when it cannot be."""
    say(f"starting Jaeger {jaeger_tool.VERSION} (built into .cache/tools the first time) ...")
    try:
        running = jaeger_tool.start(
            jaeger_tool.port_or_free(jaeger_tool.OTLP_HTTP_PORT),
            jaeger_tool.port_or_free(jaeger_tool.UI_PORT),
            workdir=RUN / "jaeger",
        )
    except (ToolUnavailable, RuntimeError) as error:
        say(f"  no trace viewer: {error}")
        return None
    say(f"  jaeger     UI {running.ui_url}, OTLP/HTTP {running.otlp_endpoint}")
    return running


def tracing_environment(jaeger: jaeger_tool.Jaeger | None) -> dict[str, str]:
    """The services export their spans to Jaeger (standard ``OTEL_*`` variables), and
    ``docket trace`` links to its UI, unless the caller chose otherwise."""
    if jaeger is None:
        return {}
    chosen = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": jaeger.otlp_endpoint,
        "DOCKET_JAEGER_URL": jaeger.ui_url,
    }
    return {key: value for key, value in chosen.items() if key not in os.environ}


async def run(once: bool) -> int:
    RUN.mkdir(exist_ok=True)
    say("starting Kafka ...")
    kafka, broker = await ensure_kafka(RUN / "kafka", port=9092)
    say_kafka(kafka)
    postgres: LocalPostgres | None = None
    jaeger: jaeger_tool.Jaeger | None = None
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        jaeger = await asyncio.to_thread(start_jaeger)
        roles = DatabaseRoles.kept_in(RUN / "postgres-roles.json")
        owner_url = os.environ.get(MIGRATION_URL_ENV) or os.environ.get(DATABASE_URL_ENV)
        if owner_url:
            say("docket migrate (as the owner role of DOCKET_DATABASE_URL) ...")
            await roles.migrate(owner_url)
        else:
            say("starting PostgreSQL, then docket migrate (as the owner role) ...")
            postgres = LocalPostgres(RUN / "postgres")
            admin_url = await asyncio.to_thread(postgres.start)
            try:
                owner_url = await prepare_database(admin_url, "docket", roles)
            except MigrationError as error:
                if "does not own" not in str(error):
                    raise
                raise SystemExit(
                    f"{error}\n.run/postgres predates the per-service roles: `make clean`"
                    " (deletes the local state) and `make run` again"
                ) from None
        database_urls = {name: roles.service_url(owner_url, name) for name in SERVICES}
        users = ", ".join(urlsplit(url).username or "?" for url in database_urls.values())
        say(f"  migrated; the services log in as {users} (passwords: .run/postgres-roles.json)")
        smtp_port = int(os.environ.get("DOCKET_SMTP_PORT", "2525"))
        keys = await local_keys(owner_url)
        env = {
            **{key: value for key, value in os.environ.items() if key != MIGRATION_URL_ENV},
            **{
                key: value
                for name, port in SERVICES.items()
                for key, value in listen_environment(name, port, ADMIN_PORTS[name]).items()
            },
            "DOCKET_ACCOUNTS_FILE": str(EXAMPLES / "accounts.jsonl"),
            "DOCKET_SMTP_HOST": "127.0.0.1",
            "DOCKET_SMTP_PORT": str(smtp_port),
            "DOCKET_SIGNING_KEY_FILE": str(RUN / "audit-signing-key.pem"),
            **tracing_environment(jaeger),
        }
        with mail_catcher(smtp_port):
            say("starting the services (logs in .run/logs) ...")
            processes = start_services(env, kafka, database_urls)
            await wait_ready(processes, timeout_s=120)
            processes["console"] = start_console(
                env, keys["console"], jaeger.ui_url if jaeger is not None else None
            )
            await wait_console(processes["console"], timeout_s=60)
            print_keys(keys)
            say("submitting examples/requests with the legal key ...")
            request_ids = await submit_examples(keys["legal"])
            async with httpx.AsyncClient(timeout=5) as client:
                for request_id in request_ids:
                    print_summary(await settled_history(client, request_id, keys["natsec"]))
            say(f"\nnotices sent by e-mail are in {RUN / 'mail'}")
            say(f"call as legal staff with: export DOCKET_API_KEY=$(cat {RUN / 'keys' / 'legal'})")
            if jaeger is not None:
                say(
                    f"traces: {jaeger.ui_url} (for `docket trace` links:"
                    f" export DOCKET_JAEGER_URL={jaeger.ui_url})"
                )
            say(
                "the national security letter is visible only with the natsec key; "
                "the reader and auditor keys read history without document text or contacts"
            )
            say(f"web console: http://127.0.0.1:{CONSOLE_PORT} (local sign-in: development only)")
            if once:
                return 0
            viewer = f", traces {jaeger.ui_url}" if jaeger is not None else ""
            say(
                "Docket is running: intake http://127.0.0.1:8080, audit http://127.0.0.1:8083"
                f"{viewer}. Ctrl-C stops it."
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
        if jaeger is not None:
            jaeger.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument("--once", action="store_true", help="exit after the summary")
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.once)))


if __name__ == "__main__":
    main()
