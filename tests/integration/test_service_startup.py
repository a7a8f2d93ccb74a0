"""A service started while the broker is unreachable, or whose admin port is taken,
says so in one clear log line and exits non-zero, instead of looping on stack traces;
a running one serves its metrics on the admin port and nowhere else."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.kafka.security import KafkaAccess
from shared.settings import listen_environment
from tests.fixtures.postgres import DocketDatabase
from tests.fixtures.servers import free_port

REPO = Path(__file__).resolve().parents[2]


def run_service(service: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"services.{service}.app"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("service", ["intake", "classifier"])
def test_unreachable_broker_fails_fast_and_clearly(service: str) -> None:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "DOCKET_KAFKA_CONNECT_TIMEOUT_S": "2",
        "DOCKET_KAFKA_USERNAME": f"docket-{service}",
        "DOCKET_KAFKA_PASSWORD": "nobody-listens-there",
    }
    result = run_service(service, env)
    assert result.returncode == 2
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    failures = [line for line in lines if line["event"] == "startup_failed"]
    assert len(failures) == 1
    assert "unreachable" in failures[0]["reason"]
    assert failures[0]["service"] == service
    assert "Traceback" not in result.stdout + result.stderr
    retries = [line for line in lines if line["event"] == "kafka_unreachable_retrying"]
    assert retries, "the service should say it is retrying before it gives up"


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        ({"DOCKET_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}, "unencrypted"),
        ({"DOCKET_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}, "unencrypted"),
        ({}, "needs DOCKET_KAFKA_USERNAME and DOCKET_KAFKA_PASSWORD"),
        ({"DOCKET_KAFKA_SECURITY_PROTOCOL": "SSL"}, "authenticates nobody"),
    ],
)
def test_unsafe_or_incomplete_kafka_security_is_refused_at_start(
    settings: dict[str, str], said: str
) -> None:
    """Without ``DOCKET_DEVELOPMENT_MODE``: no Kafka connection in clear text, none
    without a credential; one log line saying which setting, exit status 2."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DOCKET_KAFKA_", "DOCKET_DEVELOPMENT_MODE"))
    }
    env.update(settings, KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{free_port()}")
    result = run_service("classifier", env)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    (failure,) = [line for line in lines if line["event"] == "startup_failed"]
    assert said in failure["reason"]
    assert not [line for line in lines if line["event"] == "kafka_unreachable_retrying"]
    assert "Traceback" not in result.stdout + result.stderr


def test_plaintext_is_allowed_in_development_mode_only() -> None:
    """With ``DOCKET_DEVELOPMENT_MODE=true`` PLAINTEXT passes the check (and the
    service goes on to look for the broker)."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "DOCKET_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
        "DOCKET_DEVELOPMENT_MODE": "true",
        "DOCKET_KAFKA_CONNECT_TIMEOUT_S": "1",
    }
    result = run_service("classifier", env)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    (failure,) = [line for line in lines if line["event"] == "startup_failed"]
    assert "unreachable" in failure["reason"]


def _classifier_env(kafka: KafkaAccess, database_url: str, port: int, admin_port: int) -> Any:
    return {
        **os.environ,
        **kafka.service_env("classifier"),
        "DOCKET_DATABASE_URL": database_url,
        "DOCKET_CONSUMER_GROUP": f"docket-classifier-startup-{secrets.token_hex(4)}",
        **listen_environment("classifier", port, admin_port),
    }


@pytest.mark.integration
async def test_metrics_are_served_on_the_admin_port_only(
    kafka_access: KafkaAccess, docket_database: DocketDatabase
) -> None:
    database_url = docket_database.url("classifier")
    port, admin_port = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.classifier.app",
        cwd=REPO,
        env=_classifier_env(kafka_access, database_url, port, admin_port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(timeout=3) as client:
            for _ in range(600):
                assert process.returncode is None, "the classifier exited during start"
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            metrics = await client.get(f"http://127.0.0.1:{admin_port}/metrics")
            assert metrics.status_code == 200
            assert "docket_consumer_lag" in metrics.text
            assert (await client.get(f"http://127.0.0.1:{port}/metrics")).status_code == 404
            assert (await client.get(f"http://127.0.0.1:{port}/openapi.json")).status_code == 404
            assert (await client.get(f"http://127.0.0.1:{admin_port}/readyz")).status_code == 404
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 0, output.decode()[-3000:]
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.integration
def test_a_taken_admin_port_stops_the_service_with_one_log_line(
    kafka_access: KafkaAccess, docket_database: DocketDatabase
) -> None:
    database_url = docket_database.url("classifier")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        admin_port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "services.classifier.app"],
            cwd=REPO,
            env=_classifier_env(kafka_access, database_url, free_port(), admin_port),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 2, result.stdout[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    failures = [line for line in lines if line["event"] == "startup_failed"]
    assert len(failures) == 1
    assert f"admin port 127.0.0.1:{admin_port}" in failures[0]["reason"]
    assert "Traceback" not in result.stdout + result.stderr
