"""Amendments and decisions: events, 404, the 409 rules, and who may write (keys)."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from deploy.kafka.security import KafkaAccess
from shared import topics
from shared.auth.cache import CREDENTIAL_TTL_S
from shared.cli import main
from shared.events import RequestAmended
from tests.fixtures.keys import SUBMITTER_ORGANISATION
from tests.fixtures.servers import RunningService
from tests.integration.intake.conftest import AUTH, events_for, submission

pytestmark = pytest.mark.integration


async def test_amendments_and_decisions_follow_the_rules(
    intake: RunningService, kafka_access: KafkaAccess
) -> None:
    async with httpx.AsyncClient(base_url=intake.url, headers=AUTH, timeout=30) as client:
        accepted = await client.post("/v1/requests", json=submission())
        request_id = accepted.json()["request_id"]
        base = f"/v1/requests/{request_id}"

        unknown = await client.post(
            f"/v1/requests/{uuid.uuid4()}/decision",
            json={"outcome": "no_data"},
        )
        assert unknown.status_code == 404

        extend = {
            "nondisclosure": {"ordered": True, "expires_at": "2018-01-01T00:00:00Z"},
            "effective_at": "2017-03-20T00:00:00Z",
        }
        first = await client.post(f"{base}/amendments", json=extend)
        replay = await client.post(f"{base}/amendments", json=extend)
        assert first.status_code == replay.status_code == 202
        assert first.json()["event_id"] == replay.json()["event_id"]

        beyond = await client.post(
            f"{base}/decision",
            json={"outcome": "disclosed", "data_disclosed": ["content"]},
        )
        assert beyond.status_code == 409

        decided = await client.post(
            f"{base}/decision",
            json={"outcome": "disclosed", "data_disclosed": ["ip_logs"]},
        )
        assert decided.status_code == 202
        second = await client.post(f"{base}/decision", json={"outcome": "rejected"})
        assert second.status_code == 409
        withdraw = {"withdrawn": True, "effective_at": "2017-03-21T00:00:00Z"}
        late_withdrawal = await client.post(f"{base}/amendments", json=withdraw)
        assert late_withdrawal.status_code == 409
        assert late_withdrawal.headers["content-type"] == "application/problem+json"
        lift = await client.post(
            f"{base}/amendments",
            json={"nondisclosure": {"ordered": False}, "effective_at": "2017-04-01T00:00:00Z"},
        )
        assert lift.status_code == 202

        other = (await client.post("/v1/requests", json=submission())).json()["request_id"]
        assert (
            await client.post(f"/v1/requests/{other}/amendments", json=withdraw)
        ).status_code == 202
        twice = await client.post(
            f"/v1/requests/{other}/amendments", json={**withdraw, "note": "again"}
        )
        assert twice.status_code == 409
        on_withdrawn = await client.post(
            f"/v1/requests/{other}/decision", json={"outcome": "no_data"}
        )
        assert on_withdrawn.status_code == 409

    amended = await events_for(kafka_access, topics.REQUEST_AMENDED, request_id)
    assert [event["type"] for event in amended] == [RequestAmended.type_name()] * 2
    assert amended[0]["data"]["submitted_by"] == "legal-ops"
    decisions = await events_for(kafka_access, topics.REQUEST_DECIDED, request_id)
    assert [event["data"]["outcome"] for event in decisions] == ["disclosed"]


async def test_keys_created_scoped_and_revoked(
    intake: RunningService, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        await asyncio.to_thread(
            main,
            [
                "keys",
                "create",
                "--database-url",
                database_url,
                "cbp-portal",
                "--role",
                "submitter",
                "--organisation",
                SUBMITTER_ORGANISATION,
            ],
        )
        == 0
    )
    created = capsys.readouterr().out
    key_id = created.split()[1].rstrip(":")
    secret = created.rsplit(" ", 1)[-1].strip()
    portal = {"authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(base_url=intake.url, timeout=30) as client:
        accepted = await client.post("/v1/requests", json=submission(), headers=portal)
        assert accepted.status_code == 202
        request_id = accepted.json()["request_id"]
        forbidden = await client.post(
            f"/v1/requests/{request_id}/decision",
            json={"outcome": "no_data"},
            headers=portal,
        )
        assert forbidden.status_code == 403
        assert (
            await asyncio.to_thread(
                main, ["keys", "revoke", key_id, "--database-url", database_url]
            )
            == 0
        )
        assert await asyncio.to_thread(main, ["keys", "list", "--database-url", database_url]) == 0
        listing = capsys.readouterr().out
        assert secret not in listing
        assert "revoked" in listing
        # intake trusts a key it found for CREDENTIAL_TTL_S: revoked, it stops working
        # within that time, never later
        revoked_at = time.monotonic()
        while True:
            revoked = await client.post("/v1/requests", json=submission(), headers=portal)
            if revoked.status_code != 202:
                break
            assert time.monotonic() - revoked_at <= CREDENTIAL_TTL_S + 0.5
            await asyncio.sleep(0.2)
        assert revoked.status_code == 401
        assert "Bearer" in revoked.headers["www-authenticate"]
