"""The doors of every service's HTTP frame: ``/readyz`` costs at most one broker and one
database round trip per interval however often it is called, the API port serves no
metrics and no OpenAPI documents unless enabled, and the admin port serves only
``/metrics``."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from shared.readiness import CachedReadiness
from shared.service import ServiceRuntime, admin_app_of, create_http_app, create_runtime
from shared.settings import CommonSettings


class CountingCheck:
    """A dependency check that counts its round trips."""

    def __init__(self, answer: bool = True, takes_s: float = 0.0) -> None:
        self.answer = answer
        self.takes_s = takes_s
        self.calls = 0

    async def __call__(self) -> bool:
        self.calls += 1
        await asyncio.sleep(self.takes_s)
        return self.answer


def _service(**settings: Any) -> tuple[ServiceRuntime, FastAPI]:
    runtime = create_runtime(
        "test",
        CommonSettings(
            kafka_bootstrap_servers="127.0.0.1:1",
            kafka_username="docket-test",
            kafka_password=SecretStr("never-used"),
            **settings,
        ),
    )
    return runtime, create_http_app(runtime, "Docket test")


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_a_hundred_rapid_readiness_calls_make_one_round_trip() -> None:
    runtime, app = _service(readiness_interval_s=60)  # no refresh on a slow machine
    kafka, postgres = CountingCheck(), CountingCheck()
    runtime.readiness.update(kafka=kafka, postgres=postgres)
    async with _client(app) as client:
        answers = [await client.get("/readyz") for _ in range(100)]
    assert {a.status_code for a in answers} == {200}
    assert (kafka.calls, postgres.calls) == (1, 1)
    assert answers[-1].json() == {
        "status": "ready",
        "checks": {"kafka": True, "consumers": True, "postgres": True},
        "failing": [],
    }


async def test_concurrent_callers_share_one_check() -> None:
    runtime, app = _service(readiness_interval_s=60)
    slow_kafka, slow_postgres = CountingCheck(takes_s=0.2), CountingCheck(takes_s=0.2)
    runtime.readiness.update(kafka=slow_kafka, postgres=slow_postgres)
    async with _client(app) as client:
        answers = await asyncio.gather(*(client.get("/readyz") for _ in range(100)))
    assert {a.status_code for a in answers} == {200}
    assert (slow_kafka.calls, slow_postgres.calls) == (1, 1)


async def test_the_check_runs_again_once_the_interval_passed() -> None:
    now = [100.0]
    kafka = CountingCheck()
    readiness = CachedReadiness({"kafka": kafka}, interval_s=2.0, clock=lambda: now[0])
    for _ in range(20):
        await readiness.results()
    now[0] += 1.9
    await readiness.results()
    assert kafka.calls == 1
    now[0] += 0.2
    for _ in range(20):
        await readiness.results()
    assert kafka.calls == 2


async def test_not_ready_names_the_failing_dependency() -> None:
    runtime, app = _service()

    async def database_down() -> bool:
        raise OSError("connection refused")

    runtime.readiness.update(kafka=CountingCheck(), postgres=database_down)
    async with _client(app) as client:
        answer = await client.get("/readyz")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["title"] == "Service Unavailable"
    assert answer.json()["detail"] == "not ready: postgres down"
    assert answer.json()["failing"] == ["postgres"]
    assert answer.json()["checks"]["kafka"] is True


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/metrics"])
async def test_the_api_port_does_not_describe_or_measure_itself(path: str) -> None:
    _runtime, app = _service()
    async with _client(app) as client:
        assert (await client.get(path)).status_code == 404


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
async def test_openapi_documents_are_served_when_enabled(path: str) -> None:
    _runtime, app = _service(openapi_docs=True)
    async with _client(app) as client:
        assert (await client.get(path)).status_code == 200


async def test_the_admin_port_serves_only_metrics() -> None:
    runtime, app = _service()
    runtime.dead_letters.labels("docket.request.received").inc()
    async with _client(admin_app_of(app)) as admin:
        metrics = await admin.get("/metrics")
        assert metrics.status_code == 200
        assert 'docket_dead_letters_total{topic="docket.request.received"} 1.0' in metrics.text
        for path in ("/healthz", "/readyz", "/docs", "/openapi.json"):
            assert (await admin.get(path)).status_code == 404
