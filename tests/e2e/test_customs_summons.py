"""The case that started Docket, end to end on the real broker and database: a customs
summons used to unmask an anonymous critic is accepted over HTTP, classified, the user
is told at once (before any disclosure), and the audit log holds every event of the
request under one trace id."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.system import EXAMPLES, DocketSystem

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

CUSTOMS_SUMMONS = EXAMPLES / "requests" / "01-customs-summons-anonymous-critic.json"


def fresh_demand(path: Path) -> dict[str, Any]:
    """The example as a demand of its own: the suite shares one database, where another
    module's copy of the same instrument would make this one its duplicate."""
    body: dict[str, Any] = json.loads(path.read_text())
    tag = uuid.uuid4().hex[:8]
    body["external_ref"] = f"{body['external_ref']}-{tag}"
    body["instrument"]["case_number"] = f"{body['instrument'].get('case_number') or 'CASE'}-{tag}"
    return body


def _has_types(*types: str) -> Any:
    def check(history: dict[str, Any]) -> bool:
        seen = {event["type"] for event in history["events"]}
        return set(types) <= seen

    return check


async def test_customs_summons_travels_the_whole_pipeline(docket_system: DocketSystem) -> None:
    body = fresh_demand(CUSTOMS_SUMMONS)
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{docket_system.intake_url}/v1/requests", json=body, headers=docket_system.auth
        )
    assert response.status_code == 202, response.text
    accepted = response.json()
    request_id = accepted["request_id"]
    assert accepted["status_url"].endswith(f"/v1/requests/{request_id}")

    history = await docket_system.wait_for_history(
        request_id, _has_types("RequestReceived", "RequestClassified", "UserNotified")
    )

    assert history["state"] == "notice_sent"
    assert history["classification"]["authority"]["code"] == "CUSTOMS_SUMMONS_1509"
    assert history["classification"]["risk"]["level"] == "critical"
    factors = {f["code"] for f in history["classification"]["risk"]["factors"]}
    assert {"ANON_SPEAKER_UNMASKING", "AUTHORITY_SCOPE_MISMATCH"} <= factors
    [notification] = history["notifications"]
    assert notification["decision"] == "now"
    assert notification["channel"] == "email"
    assert notification["sent_at"] is not None

    events = history["events"]
    trace_ids = {event["trace_id"] for event in events}
    assert len(trace_ids) == 1, events
    assert None not in trace_ids
    assert [e["type"] for e in events] == ["RequestReceived", "RequestClassified", "UserNotified"]
    assert len({event["leaf_index"] for event in events}) == len(events)

    [message] = [
        m for m in docket_system.mailbox.messages if m["To"] == "owner-tw-2017-0001@example.org"
    ]
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    assert "1509" in text.get_content()


async def test_resubmitting_the_same_document_names_the_same_request(
    docket_system: DocketSystem,
) -> None:
    body = fresh_demand(CUSTOMS_SUMMONS)
    async with httpx.AsyncClient(timeout=30) as client:
        url = f"{docket_system.intake_url}/v1/requests"
        first = await client.post(url, json=body, headers=docket_system.auth)
        second = await client.post(url, json=body, headers=docket_system.auth)
    assert first.status_code == second.status_code == 202
    request_id = first.json()["request_id"]
    assert second.json()["request_id"] == request_id
    history = await docket_system.wait_for_history(
        request_id, _has_types("RequestReceived", "UserNotified")
    )
    assert [e["type"] for e in history["events"]].count("RequestReceived") == 1
    assert [e["type"] for e in history["events"]].count("UserNotified") == 1
