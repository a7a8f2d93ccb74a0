"""A service started while the broker is unreachable says so in one clear log line and
exits non-zero, instead of looping on stack traces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
