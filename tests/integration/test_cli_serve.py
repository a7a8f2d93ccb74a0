"""``docket serve <service>`` is how every launcher starts a service (``make run``,
compose, Kubernetes): on the real broker and database it becomes ready, serves, and
stops cleanly on SIGTERM; an invalid setting ends in one line and exit 6."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

import httpx
import pytest

from deploy.kafka.security import KafkaAccess
from tests.fixtures.postgres import DocketDatabase
from tests.fixtures.servers import free_port
from tests.integration.test_service_startup import REPO, _classifier_env
from tests.unit.cli.support import assert_one_error_line, docket_process


@pytest.mark.integration
async def test_docket_serve_runs_a_service_until_sigterm(
    kafka_access: KafkaAccess, docket_database: DocketDatabase
) -> None:
    port, admin_port = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "shared.cli", "serve", "classifier"),
        cwd=REPO,
        env=_classifier_env(kafka_access, docket_database.url("classifier"), port, admin_port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(timeout=3) as client:
            for _ in range(600):
                assert process.returncode is None, "docket serve classifier exited during start"
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                pytest.fail("docket serve classifier never became ready")
            metrics = await client.get(f"http://127.0.0.1:{admin_port}/metrics")
            assert metrics.status_code == 200
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 0, output.decode()[-3000:]
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_docket_serve_refuses_an_invalid_setting_in_one_line() -> None:
    ran = docket_process("serve", "intake", env={"DOCKET_INTAKE_PORT": "eighty"})
    assert_one_error_line(ran, 6, "docket serve: invalid configuration: DOCKET_INTAKE_PORT")
    assert "eighty" not in ran.err  # a setting's value may be a secret: never echoed
