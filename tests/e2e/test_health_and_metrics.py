"""Every service says whether it is alive and ready, and exports Prometheus metrics on
its admin port only; no API port describes itself (OpenAPI docs are off by default)."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.system import DocketSystem

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

EXPECTED_METRICS = {
    "intake": ["docket_http_server_request_duration_seconds_count"],
    "classifier": ["docket_consumer_lag", "docket_end_to_end_seconds", "faststream_"],
    "notifier": ["docket_notices", "docket_processing_seconds"],
    "audit": ["docket_audit_log_size"],
}


async def test_every_service_is_alive_ready_and_measured(docket_system: DocketSystem) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        await client.post(  # one call so that intake's request counter has a sample
            f"{docket_system.intake_url}/v1/requests", json={}, headers=docket_system.auth
        )
        for name, running in docket_system.services.items():
            assert (await client.get(f"{running.url}/healthz")).json() == {"status": "alive"}
            ready = await client.get(f"{running.url}/readyz")
            assert ready.status_code == 200, ready.text
            checks = ready.json()["checks"]
            assert checks["kafka"] is True
            assert checks["consumers"] is True
            if name in ("intake", "notifier", "audit"):
                assert checks["postgres"] is True
            assert ready.json()["failing"] == []
            metrics = await client.get(f"{running.admin_url}/metrics")
            assert metrics.headers["content-type"].startswith("text/plain")
            for metric in EXPECTED_METRICS[name]:
                assert metric in metrics.text, f"{name} does not export {metric}"
            for path in ("/metrics", "/docs", "/redoc", "/openapi.json"):
                answer = await client.get(f"{running.url}{path}")
                assert answer.status_code == 404, f"{name} serves {path} on its API port"
            for path in ("/healthz", "/readyz", "/v1/requests"):
                answer = await client.get(f"{running.admin_url}{path}")
                assert answer.status_code == 404, f"{name} serves {path} on its admin port"
