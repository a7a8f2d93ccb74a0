"""Keys done properly and the trust boundaries that matter most, on the running system:
a cross-agency gag lift answers 404 and no notice is sent; authors come from the key;
request ids are random; a revoked key is refused within the cache window and after a
restart (a bootstrap key is never revived); a rotated key's old secret stops working;
the per-client rate limit answers 429 with Retry-After; a published placeholder secret
is refused outside development mode."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.intake.app import create_app as create_intake
from shared.auth.cache import CREDENTIAL_TTL_S
from shared.cli import main
from shared.settings import IntakeSettings, listen_environment
from tests.fixtures.keys import bearer
from tests.fixtures.postgres import service_url
from tests.fixtures.servers import RunningService, free_port, start_service
from tests.fixtures.system import DocketSystem
from tests.security.world import GAGGED_RECIPIENT, body_of, submit, submit_and_settle

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]
COMPOSE_PLACEHOLDER = "compose-dev-key-change-me-0123456789"
StartIntake = Callable[..., Awaitable[RunningService]]


@pytest.fixture
async def extra_intake(docket_system: DocketSystem) -> AsyncIterator[StartIntake]:
    """Starts another intake on the system's broker and database, with the given
    settings; the same port each time, so a restart is the same address."""
    port = free_port()
    running: list[RunningService] = []

    async def start(**settings: Any) -> RunningService:
        app = create_intake(
            IntakeSettings(
                **docket_system.kafka.service_settings("intake"),
                database_url=service_url(docket_system.database_url, "intake"),
                port=port,
                **settings,
            )
        )
        service = await start_service("intake-extra", app, port)
        running.append(service)
        return service

    yield start
    for service in running:
        if not service.task.done():
            await service.stop()


def _keys(database_url: str, *args: str) -> int:
    return main(["keys", *args, "--database-url", database_url])


async def _create_key(
    system: DocketSystem, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[str, str]:
    """``docket keys create ARGS``: (key id, secret)."""
    capsys.readouterr()
    assert await asyncio.to_thread(_keys, system.database_url, "create", *args) == 0
    return _issued(capsys.readouterr().out)


def _issued(out: str) -> tuple[str, str]:
    """(key id, secret) from what ``docket keys create|rotate`` printed (the services
    log to the same stdout)."""
    [key_id] = re.findall(r"^key (k_[0-9a-f]+): ", out, re.MULTILINE)
    [secret] = re.findall(r"^  secret \(shown once[^)]*\): (\S+)$", out, re.MULTILINE)
    return key_id, secret


def _note() -> dict[str, Any]:
    return {"note": "boundary test", "effective_at": datetime.now(UTC).isoformat()}


async def _refused_within_ttl(call: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    """Calls until the answer is 401; fails if that takes longer than the cache TTL."""
    since = time.monotonic()
    while True:
        response = await call()
        if response.status_code == 401:
            return response
        assert time.monotonic() - since <= CREDENTIAL_TTL_S + 0.5, response.status_code
        await asyncio.sleep(0.2)


async def test_a_cross_agency_gag_lift_is_404_and_no_notice_is_sent(
    docket_system: DocketSystem,
) -> None:
    system = docket_system
    gagged = await submit_and_settle(system, "other")  # the other agency's, gagged to 2099
    own = await submit(system, "own")  # a notice the notifier does send: it is working
    lift = {"nondisclosure": {"ordered": False}, "effective_at": datetime.now(UTC).isoformat()}
    async with httpx.AsyncClient(base_url=system.intake_url, timeout=30) as client:
        for body in (lift, {**_note(), "withdrawn": True}):
            forged = await client.post(
                f"/v1/requests/{gagged}/amendments", json=body, headers=system.auth_as("submitter")
            )
            assert forged.status_code == 404, forged.text
            assert forged.json()["detail"] == f"no request {gagged}"
    await system.wait_for_history(own, lambda h: h["state"] == "notice_sent")
    history = await system.wait_for_history(gagged, lambda h: bool(h["notifications"]))
    await asyncio.sleep(2.0)  # anything a forged lift set off would have happened by now
    history = await system.wait_for_history(gagged, lambda h: True)
    types = [event["type"] for event in history["events"]]
    assert "RequestAmended" not in types
    assert "UserNotified" not in types
    assert {n["decision"] for n in history["notifications"]} == {"delayed"}  # the gag holds
    recipients = [str(message["To"]) for message in system.mailbox.messages]
    assert GAGGED_RECIPIENT not in recipients
    assert recipients  # the notice about the CBP request was sent


async def test_authors_come_from_the_key_not_the_body(docket_system: DocketSystem) -> None:
    system = docket_system
    request_id = await submit(system, "own")
    async with httpx.AsyncClient(base_url=system.intake_url, timeout=30) as client:
        amended = await client.post(
            f"/v1/requests/{request_id}/amendments",
            json=_note(),
            headers=system.auth_as("submitter"),
        )
        assert amended.status_code == 202
        impostor = await client.post(
            f"/v1/requests/{request_id}/decision",
            json={"outcome": "rejected", "decided_by": "General Counsel"},
            headers=system.auth,
        )
        assert impostor.status_code == 422
        assert impostor.json()["errors"][0]["pointer"] == "#/decided_by"
        decided = await client.post(
            f"/v1/requests/{request_id}/decision",
            json={"outcome": "rejected", "decided_by": "legal-ops"},  # its own name: accepted
            headers=system.auth,
        )
        assert decided.status_code == 202, decided.text
    history = await system.wait_for_history(
        request_id, lambda h: h["decision"] is not None and bool(h["amendments"])
    )
    assert history["decision"]["decided_by"] == "legal-ops"
    assert history["decision"]["submitted_by"] == "legal-ops"
    assert [a["submitted_by"] for a in history["amendments"]] == ["cbp-portal"]
    assert history["received"]["submitted_by"] == "cbp-portal"


async def test_request_ids_are_random_and_a_resubmission_finds_the_first(
    docket_system: DocketSystem,
) -> None:
    system = docket_system
    body = body_of("own")
    async with httpx.AsyncClient(base_url=system.intake_url, timeout=30) as client:
        auth = system.auth_as("submitter")
        first = await client.post("/v1/requests", json=body, headers=auth)
        again = await client.post("/v1/requests", json=body, headers=auth)
        by_legal = await client.post("/v1/requests", json=body, headers=system.auth)
        keyed = await client.post(
            "/v1/requests", json=body, headers={**auth, "Idempotency-Key": "sec-1"}
        )
        other = await client.post("/v1/requests", json=body_of("own"), headers=auth)
    ids = {r.json()["request_id"] for r in (first, again, by_legal, keyed)}
    assert len(ids) == 1  # the same (agency, external_ref) is the same request
    [request_id] = ids
    assert uuid.UUID(request_id).version == 4
    assert uuid.UUID(other.json()["request_id"]).version == 4
    assert other.json()["request_id"] != request_id


def _no_reuse_client(secret: str) -> httpx.AsyncClient:
    """A client that opens a new connection per call: these tests restart intake, and a
    connection kept alive to the stopped instance would fail the next call (ReadError)."""
    return httpx.AsyncClient(
        timeout=30, headers=bearer(secret), limits=httpx.Limits(max_keepalive_connections=0)
    )


async def test_a_revoked_key_is_refused_within_the_cache_window_and_after_a_restart(
    docket_system: DocketSystem,
    extra_intake: StartIntake,
    capsys: pytest.CaptureFixture[str],
) -> None:
    system = docket_system
    intake = await extra_intake()
    key_id, secret = await _create_key(system, capsys, "revoked-ops", "--role", "legal")
    request_id = await submit(system, "own")
    async with _no_reuse_client(secret) as client:

        async def amend() -> httpx.Response:
            return await client.post(
                f"{intake.url}/v1/requests/{request_id}/amendments", json=_note()
            )

        async def read() -> httpx.Response:
            return await client.get(f"{system.audit_url}/v1/requests/{request_id}")

        assert (await amend()).status_code == 202
        assert (await read()).status_code in (200, 404)  # 404 until audit has it
        assert await asyncio.to_thread(_keys, system.database_url, "revoke", key_id) == 0
        refused = await _refused_within_ttl(amend)
        assert refused.headers["www-authenticate"].startswith("Bearer")
        await _refused_within_ttl(read)  # audit checks the same keys
        await intake.stop()
        intake = await extra_intake()
        assert (await amend()).status_code == 401


async def test_a_bootstrap_key_is_created_once_and_a_revoked_one_stays_revoked(
    docket_system: DocketSystem,
    extra_intake: StartIntake,
    capsys: pytest.CaptureFixture[str],
) -> None:
    system = docket_system
    name = f"boot-{uuid.uuid4().hex[:8]}"
    secret = "boot-" + uuid.uuid4().hex + uuid.uuid4().hex
    settings = {"bootstrap_key": f"{name}:legal:{secret}"}
    intake = await extra_intake(**settings)
    async with _no_reuse_client(secret) as client:

        async def amend_unknown() -> httpx.Response:
            return await client.post(
                f"{intake.url}/v1/requests/{uuid.uuid4()}/amendments", json=_note()
            )

        assert (await amend_unknown()).status_code == 404  # known key, unknown request
        revoke = await asyncio.to_thread(_keys, system.database_url, "revoke", f"bootstrap-{name}")
        assert revoke == 0
        await _refused_within_ttl(amend_unknown)
        for _ in range(2):  # the same environment, restarted: the key is not revived
            await intake.stop()
            intake = await extra_intake(**settings)
            assert (await amend_unknown()).status_code == 401
    capsys.readouterr()
    assert await asyncio.to_thread(_keys, system.database_url, "list") == 0
    listing = capsys.readouterr().out.splitlines()
    [line] = [row for row in listing if row.startswith(f"bootstrap-{name} ")]
    assert "revoked" in line
    assert secret not in line


async def test_a_rotated_key_gets_a_new_secret_and_the_old_one_stops(
    docket_system: DocketSystem, capsys: pytest.CaptureFixture[str]
) -> None:
    system = docket_system
    organisation = body_of("own")["requester"]["agency"]
    key_id, old = await _create_key(
        system, capsys, "rotating-portal", "--role", "submitter", "--organisation", organisation
    )
    assert await asyncio.to_thread(_keys, system.database_url, "rotate", key_id) == 0
    [new] = re.findall(r"^  secret \(shown once\): (\S+)$", capsys.readouterr().out, re.MULTILINE)
    assert new != old
    async with httpx.AsyncClient(base_url=system.intake_url, timeout=30) as client:

        async def submit_with(secret: str) -> httpx.Response:
            return await client.post("/v1/requests", json=body_of("own"), headers=bearer(secret))

        await _refused_within_ttl(lambda: submit_with(old))
        assert (await submit_with(new)).status_code == 202  # same role and organisation
        assert (
            await client.post("/v1/requests", json=body_of("other"), headers=bearer(new))
        ).status_code == 403


async def test_the_rate_limit_answers_429_with_retry_after(
    docket_system: DocketSystem, extra_intake: StartIntake
) -> None:
    system = docket_system
    intake = await extra_intake(rate_limit_per_s=0.5, rate_limit_burst=2)
    async with httpx.AsyncClient(base_url=intake.url, timeout=30) as client:

        async def call(caller: str) -> httpx.Response:
            return await client.post(
                f"/v1/requests/{uuid.uuid4()}/amendments",
                json=_note(),
                headers=system.auth_as(caller),
            )

        assert [(await call("legal")).status_code for _ in range(2)] == [404, 404]
        limited = await call("legal")
        assert limited.status_code == 429
        assert limited.headers["content-type"] == "application/problem+json"
        retry_after = int(limited.headers["retry-after"])
        assert 1 <= retry_after <= 2
        assert (await call("reader")).status_code == 403  # another client, its own bucket
        await asyncio.sleep(retry_after)
        assert (await call("legal")).status_code == 404


async def test_a_placeholder_secret_is_refused_unless_development_mode_is_on(
    docket_system: DocketSystem, extra_intake: StartIntake
) -> None:
    system = docket_system
    bootstrap = f"compose:legal:{COMPOSE_PLACEHOLDER}"
    env = {
        **os.environ,
        **system.kafka.service_env("intake"),
        "DOCKET_DATABASE_URL": service_url(system.database_url, "intake"),
        **listen_environment("intake", free_port(), free_port()),
        "DOCKET_INTAKE_BOOTSTRAP_KEY": bootstrap,
    }
    env.pop("DOCKET_DEVELOPMENT_MODE", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.intake.app",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 2, output.decode()
    assert b"startup_failed" in output
    assert b"placeholder" in output
    assert COMPOSE_PLACEHOLDER.encode() not in output  # the secret is never logged

    intake = await extra_intake(bootstrap_key=bootstrap, development_mode=True)
    async with httpx.AsyncClient(base_url=intake.url, timeout=30) as client:
        response = await client.post(
            "/v1/requests", json=body_of("own"), headers=bearer(COMPOSE_PLACEHOLDER)
        )
    assert response.status_code == 202
