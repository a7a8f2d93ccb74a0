"""Duplicates, concurrent or after a restart, name one request and write one event."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from deploy.kafka.security import KafkaAccess
from shared import topics
from tests.fixtures.servers import RunningService
from tests.integration.intake.conftest import (
    AUTH,
    StartIntake,
    events_for,
    received_for_ref,
    submission,
)

pytestmark = pytest.mark.integration


async def test_twenty_concurrent_duplicates_make_one_request_and_one_event(
    intake: RunningService, kafka_access: KafkaAccess
) -> None:
    body = submission()
    headers = {**AUTH, "idempotency-key": "dup-1"}
    async with httpx.AsyncClient(base_url=intake.url, timeout=30) as client:
        answers = await asyncio.gather(
            *(client.post("/v1/requests", json=body, headers=headers) for _ in range(20))
        )
    assert {answer.status_code for answer in answers} == {202}
    request_ids = {answer.json()["request_id"] for answer in answers}
    assert len(request_ids) == 1
    events = await events_for(kafka_access, topics.REQUEST_RECEIVED, request_ids.pop())
    assert len(events) == 1
    assert events[0]["data"]["submitted_by"] == "legal-ops"


async def test_same_key_other_body_is_422_and_natural_key_replays(
    intake: RunningService, kafka_access: KafkaAccess
) -> None:
    body = submission()
    async with httpx.AsyncClient(base_url=intake.url, headers=AUTH, timeout=30) as client:
        first = await client.post("/v1/requests", json=body, headers={"idempotency-key": "k-1"})
        other = submission()
        reused = await client.post("/v1/requests", json=other, headers={"idempotency-key": "k-1"})
        again = await client.post("/v1/requests", json=body)  # no header: natural key
        changed = await client.post(
            "/v1/requests", json={**body, "stated_purpose": "something else"}
        )
    assert first.status_code == 202
    assert first.headers["location"] == first.json()["status_url"]
    assert first.headers["location"].endswith(f"/v1/requests/{first.json()['request_id']}")
    assert reused.status_code == 422  # draft-ietf-httpapi-idempotency-key-header
    assert reused.headers["content-type"] == "application/problem+json"
    assert [e["header"] for e in reused.json()["errors"]] == ["Idempotency-Key"]
    assert again.status_code == 202
    assert again.json()["request_id"] == first.json()["request_id"]
    assert changed.status_code == 409  # the natural key names another request
    assert "amendments" in changed.json()["detail"]
    assert (
        len(await events_for(kafka_access, topics.REQUEST_RECEIVED, first.json()["request_id"]))
        == 1
    )


async def test_idempotency_survives_a_restart(
    start_intake: StartIntake, kafka_access: KafkaAccess
) -> None:
    body = submission()
    headers = {**AUTH, "idempotency-key": "restart-1"}
    service = await start_intake()
    async with httpx.AsyncClient(timeout=30) as client:
        first = await client.post(f"{service.url}/v1/requests", json=body, headers=headers)
        await service.stop()
        service = await start_intake()
        second = await client.post(f"{service.url}/v1/requests", json=body, headers=headers)
        conflict = await client.post(
            f"{service.url}/v1/requests", json=submission(), headers=headers
        )
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert conflict.status_code == 422
    request_id = first.json()["request_id"]
    assert len(await events_for(kafka_access, topics.REQUEST_RECEIVED, request_id)) == 1


async def _received(kafka: KafkaAccess, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The RequestReceived events of ``body`` (by its external_ref: request ids are random)."""
    return await received_for_ref(kafka, body["external_ref"])


async def test_a_refused_key_leaves_nothing_of_the_other_body(
    intake: RunningService, kafka_access: KafkaAccess
) -> None:
    """The other body's request was claimed before its key was found taken: the claim is
    undone, so that body sent later (without the key) is new and gets its event."""
    first, other = submission(), submission()
    async with httpx.AsyncClient(base_url=intake.url, headers=AUTH, timeout=30) as client:
        accepted = await client.post("/v1/requests", json=first, headers={"idempotency-key": "r-1"})
        refused = await client.post("/v1/requests", json=other, headers={"idempotency-key": "r-1"})
        later = await client.post("/v1/requests", json=other)
    assert (accepted.status_code, refused.status_code, later.status_code) == (202, 422, 202)
    received = await _received(kafka_access, other)
    assert [event["data"]["request_id"] for event in received] == [later.json()["request_id"]]


async def test_a_new_key_on_a_known_request_replays_and_is_kept(
    intake: RunningService, kafka_access: KafkaAccess
) -> None:
    body = submission()
    headers = {"idempotency-key": "late-key"}
    async with httpx.AsyncClient(base_url=intake.url, headers=AUTH, timeout=30) as client:
        first = await client.post("/v1/requests", json=body)
        replay = await client.post("/v1/requests", json=body, headers=headers)
        reused = await client.post("/v1/requests", json=submission(), headers=headers)
    assert first.status_code == replay.status_code == 202
    assert replay.json() == first.json()
    assert reused.status_code == 422  # the key now names the first request
    assert len(await _received(kafka_access, body)) == 1


async def test_concurrent_duplicates_under_different_keys_make_one_event(
    intake: RunningService, kafka_access: KafkaAccess
) -> None:
    body = submission()
    async with httpx.AsyncClient(base_url=intake.url, headers=AUTH, timeout=30) as client:
        answers = await asyncio.gather(
            *(
                client.post("/v1/requests", json=body, headers={"idempotency-key": f"many-{i}"})
                for i in range(10)
            )
        )
        reused = await client.post(
            "/v1/requests", json=submission(), headers={"idempotency-key": "many-3"}
        )
    assert {answer.status_code for answer in answers} == {202}
    received = await _received(kafka_access, body)
    assert [event["data"]["request_id"] for event in received] == [answers[0].json()["request_id"]]
    assert {answer.json()["request_id"] for answer in answers} == {answers[0].json()["request_id"]}
    assert reused.status_code == 422


async def test_one_key_raced_with_different_bodies_accepts_exactly_one(
    intake: RunningService, kafka_access: KafkaAccess
) -> None:
    bodies = [submission() for _ in range(5)]
    headers = {**AUTH, "idempotency-key": "raced"}
    async with httpx.AsyncClient(base_url=intake.url, timeout=30) as client:
        answers = await asyncio.gather(
            *(client.post("/v1/requests", json=body, headers=headers) for body in bodies)
        )
    assert sorted(answer.status_code for answer in answers) == [202, 422, 422, 422, 422]
    for body, answer in zip(bodies, answers, strict=True):
        events = await _received(kafka_access, body)
        assert len(events) == (1 if answer.status_code == 202 else 0)
