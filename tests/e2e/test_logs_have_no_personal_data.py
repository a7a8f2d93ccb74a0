"""Logs carry ids, never people: a request full of personal data goes through the whole
system (each service in its own process, logging JSON as in production, at DEBUG) and
none of that data appears in any log line."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from deploy.kafka.security import KafkaAccess
from shared.settings import listen_environment
from tests.fixtures.postgres import DocketDatabase
from tests.fixtures.servers import free_port
from tests.fixtures.system import EXAMPLES, Mailbox

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]
SECRET = "logs-" + secrets.token_urlsafe(32)
PERSONAL = {
    "agency e-mail": "jane.officer@cbp.dhs.gov",  # the agency's own domain: a verified sender
    "owner e-mail": "whistle.blower@private-mail.example",
    "phone": "+1 (202) 555-0147",
    "ip address": "203.0.113.77",
    "document text": "the subject lives at 42 Quiet Lane and confided in a pastor",
}


async def test_no_personal_data_in_any_log_line(
    kafka_access: KafkaAccess, docket_database: DocketDatabase, tmp_path: Path
) -> None:
    body: dict[str, Any] = json.loads(
        (EXAMPLES / "requests" / "01-customs-summons-anonymous-critic.json").read_text()
    )
    handle = f"@pii_{secrets.token_hex(3)}"
    body["external_ref"] = f"PII-{secrets.token_hex(4)}"
    body["requester"]["contact_email"] = PERSONAL["agency e-mail"]
    body["targets"] = [{"handle": handle}]
    body["stated_purpose"] = f"call {PERSONAL['phone']} about login from {PERSONAL['ip address']}"
    body["instrument"]["document_text"] = (
        f"{PERSONAL['document text']}; reach the owner at {PERSONAL['owner e-mail']}"
    )
    accounts = tmp_path / "accounts.jsonl"
    accounts.write_text(
        json.dumps(
            {
                "handle": handle,
                "platform_user_id": f"pii-{secrets.token_hex(3)}",
                "email": PERSONAL["owner e-mail"],
                "anonymous": True,
                "country": "US",
                "speech_topics": ["politics"],
            }
        )
        + "\n"
    )
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    ports = {name: free_port() for name in ("audit", "classifier", "notifier", "intake")}
    token = secrets.token_hex(4)
    common = {
        **os.environ,
        "DOCKET_ACCOUNTS_FILE": str(accounts),
        "DOCKET_LOG_LEVEL": "DEBUG",
        "DOCKET_SMTP_HOST": "127.0.0.1",
        "DOCKET_SMTP_PORT": str(smtp.port),
        "DOCKET_SIGNING_KEY_FILE": str(tmp_path / "signing.pem"),
        "DOCKET_INTAKE_BOOTSTRAP_KEY": f"logs-test:legal:{SECRET}",
        "DOCKET_CONSUMER_GROUP_PREFIX": f"docket-audit-logs-{token}",
    }
    groups = {
        "classifier": f"docket-classifier-logs-{token}",
        "notifier": f"docket-notifier-logs-{token}",
    }
    processes: dict[str, asyncio.subprocess.Process] = {}
    logs = {name: tmp_path / f"{name}.log" for name in ports}
    try:
        for name, port in ports.items():
            env = {
                **common,
                **kafka_access.service_env(name),
                **listen_environment(name, port, free_port()),
                "DOCKET_DATABASE_URL": docket_database.url(name),
            }
            if name in groups:
                env["DOCKET_CONSUMER_GROUP"] = groups[name]
            processes[name] = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                f"services.{name}.app",
                cwd=REPO,
                env=env,
                stdout=logs[name].open("wb"),
                stderr=asyncio.subprocess.STDOUT,
            )
        async with httpx.AsyncClient(timeout=10) as client:
            for name, port in ports.items():
                for _ in range(300):
                    assert processes[name].returncode is None, logs[name].read_text()[-2000:]
                    try:
                        ready = await client.get(f"http://127.0.0.1:{port}/readyz")
                        if ready.status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.2)
            response = await client.post(
                f"http://127.0.0.1:{ports['intake']}/v1/requests",
                json=body,
                headers={"Authorization": f"Bearer {SECRET}"},
            )
            assert response.status_code == 202, response.text
            request_id = response.json()["request_id"]
            for _ in range(300):
                history = await client.get(
                    f"http://127.0.0.1:{ports['audit']}/v1/requests/{request_id}",
                    headers={"Authorization": f"Bearer {SECRET}"},
                )
                if history.status_code == 200 and "UserNotified" in {
                    e["type"] for e in history.json()["events"]
                }:
                    break
                await asyncio.sleep(0.2)
            else:
                raise TimeoutError("the request never reached UserNotified")
        assert len(mailbox.messages) == 1  # the notice itself does reach the user
    finally:
        for process in processes.values():
            if process.returncode is None:
                process.terminate()
                await process.wait()
        smtp.stop()

    lines = [line for log in logs.values() for line in log.read_text().splitlines() if line]
    assert len(lines) > 20
    for line in lines:
        record = json.loads(line)  # every line is JSON ...
        assert record["service"] in ports  # ... naming its service
        for kind, value in PERSONAL.items():
            assert value not in line, f"{kind} leaked into a log line: {line[:300]}"
        for user, password in kafka_access.passwords.items():  # nor a Kafka credential
            assert password.get_secret_value() not in line, f"{user}'s Kafka password leaked"
    assert any(request_id in line for line in lines), "logs should name the request by id"
