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


@pytest.mark.parametrize("service", ["intake", "classifier"])
def test_unreachable_broker_fails_fast_and_clearly(service: str) -> None:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "DOCKET_KAFKA_CONNECT_TIMEOUT_S": "2",
    }
    result = subprocess.run(
        [sys.executable, "-m", f"services.{service}.app"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    failures = [line for line in lines if line["event"] == "startup_failed"]
    assert len(failures) == 1
    assert "unreachable" in failures[0]["reason"]
    assert failures[0]["service"] == service
    assert "Traceback" not in result.stdout + result.stderr
    retries = [line for line in lines if line["event"] == "kafka_unreachable_retrying"]
    assert retries, "the service should say it is retrying before it gives up"
