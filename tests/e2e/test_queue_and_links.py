"""Linked requests and the legal queue on the whole running system (real broker and
database): a copy of a summons served again through another channel is flagged as a
duplicate and its user is told once; a demand re-issued after the first was withdrawn
escalates; the queue lists what is open, says what waits on whom, filters, sorts and
pages with an opaque cursor."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import asyncpg
import httpx
import pytest

from tests.fixtures.system import EXAMPLES, DocketSystem

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SUMMONS = EXAMPLES / "requests" / "01-customs-summons-anonymous-critic.json"


def summons(external_ref: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(SUMMONS.read_text())
    body["external_ref"] = external_ref
    body["instrument"].update(changes.pop("instrument", {}))
    body.update(changes)
    return body


async def submit(client: httpx.AsyncClient, system: DocketSystem, body: dict[str, Any]) -> str:
    response = await client.post(f"{system.intake_url}/v1/requests", json=body, headers=system.auth)
    assert response.status_code == 202, response.text
    request_id: str = response.json()["request_id"]
    return request_id


def factor_codes(history: dict[str, Any]) -> set[str]:
    return {f["code"] for f in (history.get("classification") or {})["risk"]["factors"]}


def noticed(history: dict[str, Any]) -> bool:
    return history.get("classification") is not None and bool(history["notifications"])


async def test_duplicates_are_told_once_re_issues_escalate_and_the_queue_shows_both(
    docket_system: DocketSystem,
) -> None:
    system = docket_system
    run = secrets.token_hex(3)
    async with httpx.AsyncClient(timeout=15) as client:
        original = await submit(client, system, summons(f"CBP-{run}-A"))
        await system.wait_for_history(original, noticed)
        copy = await submit(client, system, summons(f"CBP-{run}-A-PORTAL", received_via="portal"))
        copied = await system.wait_for_history(copy, noticed)
        assert copied["duplicate_of"] == original
        [link] = [link for link in copied["links"] if link["request_id"] == original]
        assert set(link["reasons"]) == {"same_account", "same_requester", "same_instrument"}
        assert {n["reason"] for n in copied["notifications"]} == {"DUPLICATE_SUBMISSION"}
        first = await system.wait_for_history(
            original, lambda h: any(n["last_event"] == "UserNotified" for n in h["notifications"])
        )
        assert [n["last_event"] for n in first["notifications"]] == ["UserNotified"]
        assert len(system.mailbox.messages) == 1  # the user is told once of the summons

        # a second summons, withdrawn; then the same agency returns with a subpoena
        withdrawn = await submit(
            client,
            system,
            summons(
                f"CBP-{run}-B",
                instrument={"document_text": "SUMMONS. Produce all records of @ALT_USCIS."},
            ),
        )
        response = await client.post(
            f"{system.intake_url}/v1/requests/{withdrawn}/amendments",
            json={
                "withdrawn": True,
                "note": "withdrawn by the agency",
                "effective_at": "2017-04-07T16:00:00Z",
            },
            headers=system.auth,
        )
        assert response.status_code == 202, response.text
        await system.wait_for_history(
            withdrawn,
            lambda h: h["state"] == "withdrawn" and "WITHDRAWN_BY_REQUESTER" in factor_codes(h),
        )
        reissued = await submit(
            client,
            system,
            summons(
                f"CBP-{run}-C",
                instrument={
                    "type": "subpoena",
                    "cited_authority": "Fed. R. Crim. P. 17",
                    "issued_by": "Assistant United States Attorney",
                    "document_text": "GRAND JURY SUBPOENA. Produce subscriber records of "
                    "the account @ALT_USCIS.",
                },
            ),
        )
        again = await system.wait_for_history(reissued, noticed)
        assert "ESCALATION_AFTER_PUSHBACK" in factor_codes(again)
        statuses = {link["request_id"]: link["status"] for link in again["links"]}
        assert statuses[withdrawn] == "withdrawn"
        assert statuses[original] == "open"
        assert again["duplicate_of"] is None

        # the platform challenges the subpoena; the agency comes back once more
        response = await client.post(
            f"{system.intake_url}/v1/requests/{reissued}/decision",
            json={"outcome": "challenged", "note": "motion to quash filed"},
            headers=system.auth,
        )
        assert response.status_code == 202, response.text
        await system.wait_for_history(reissued, lambda h: h["state"] == "decided")
        await _decision_reached_the_classifier(system, reissued)
        third = await submit(
            client,
            system,
            summons(
                f"CBP-{run}-D",
                instrument={
                    "type": "court_order",
                    "cited_authority": "18 U.S.C. 2703(d)",
                    "issued_by": "United States District Court",
                    "document_text": "ORDER under 18 U.S.C. 2703(d) for records of @ALT_USCIS.",
                },
            ),
        )
        ordered = await system.wait_for_history(third, noticed)
        assert "ESCALATION_AFTER_PUSHBACK" in factor_codes(ordered)
        assert {link["request_id"]: link["status"] for link in ordered["links"]}[reissued] == (
            "challenged"
        )

        # the queue: open requests only, what waits on whom, sorted, paged
        queue = f"{system.audit_url}/v1/queue"
        page = (await client.get(queue, params={"limit": 200}, headers=system.auth)).json()
        rows = {row["request_id"]: row for row in page["items"]}
        assert {original, copy, third} <= set(rows)
        assert withdrawn not in rows
        assert reissued not in rows  # decided
        assert rows[copy]["duplicate_of"] == original
        assert rows[copy]["waiting"]["what"] == f"closing as a duplicate of request {original}"
        assert rows[copy]["next_deadline"] is None  # its clocks are the original's
        assert rows[original]["next_deadline"]["kind"] == "response"
        assert rows[original]["next_deadline"]["state"] == "missed"  # due in 2017
        assert rows[original]["waiting"]["on"] == "legal (unassigned)"
        assert rows[third]["linked_requests"] >= 3

        walked: list[str] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 1, "order": "risk"}
            if cursor:
                params["cursor"] = cursor
            body = (await client.get(queue, params=params, headers=system.auth)).json()
            walked += [row["request_id"] for row in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert sorted(walked) == sorted(rows)
        scores = [rows[r]["risk_score"] for r in walked]
        assert scores == sorted(scores, reverse=True)

        first_page = (await client.get(queue, params={"limit": 1}, headers=system.auth)).json()
        wrong_order = await client.get(
            queue,
            params={"order": "received", "cursor": first_page["next_cursor"]},
            headers=system.auth,
        )
        assert wrong_order.status_code == 422
        assert wrong_order.json()["errors"][0]["parameter"] == "cursor"
        garbled = await client.get(queue, params={"cursor": "not-a-cursor"}, headers=system.auth)
        assert garbled.status_code == 422
        assert garbled.headers["content-type"] == "application/problem+json"
        following = (await client.get(queue, params={"limit": 1}, headers=system.auth)).json()
        assert following["next"].startswith("/v1/queue?")
        nobody = await client.get(queue, params={"assignee": "counsel-x"}, headers=system.auth)
        assert nobody.json()["items"] == []
        unassigned = await client.get(
            queue, params={"unassigned": "true", "limit": 200}, headers=system.auth
        )
        assert {original, copy, third} <= {r["request_id"] for r in unassigned.json()["items"]}
        high = await client.get(
            queue, params={"risk_level": "critical", "limit": 200}, headers=system.auth
        )
        assert all(r["risk_level"] == "critical" for r in high.json()["items"])
        bad = await client.get(queue, params={"risk_level": "severe"}, headers=system.auth)
        assert bad.status_code == 422
        reader = await client.get(queue, headers=system.auth_as("reader"))
        assert reader.status_code == 403


async def _decision_reached_the_classifier(system: DocketSystem, request_id: str) -> None:
    """The classifier keeps decisions for later links; wait until it has this one."""
    conn = await asyncpg.connect(system.database_url)
    try:
        for _ in range(240):
            if await conn.fetchval(
                "SELECT count(*) FROM classifier.decisions WHERE request_id = $1", request_id
            ):
                return
            await asyncio.sleep(0.25)
        raise TimeoutError(f"the classifier never kept the decision on {request_id}")
    finally:
        await conn.close()
