"""Counsel's routes at intake's edge, without a broker or database: a body naming its
own author, a missing reason, a hold that is not counsel's to end and other bad input
get a 422 naming the field; a key of another role gets 403; none reaches the store."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.intake.app import create_app
from shared.auth.policy import COUNSEL_ROUTES
from tests.unit.intake.fakes import (
    FULL_KEY,
    OFFLINE_SETTINGS,
    SUBMIT_ONLY_KEY,
    StoresNothing,
    known_key,
)

RID = str(uuid.uuid4())


@pytest.fixture
def client() -> TestClient:
    app = create_app(OFFLINE_SETTINGS, repository=StoresNothing(), keys=known_key)
    return TestClient(app, headers={"authorization": f"Bearer {FULL_KEY}"})


def _paths(response: Any) -> set[str]:
    assert response.status_code == 422, response.text
    # RFC 9457 pointers (#/authority/code), read as dotted paths (authority.code)
    return {
        error["pointer"].removeprefix("#/").replace("/", ".") for error in response.json()["errors"]
    }


@pytest.mark.parametrize("path", [path for path, _ in COUNSEL_ROUTES])
def test_only_legal_staff_may_call_and_the_author_is_never_a_body_field(
    client: TestClient, path: str
) -> None:
    url = f"/v1/requests/{RID}/{path}"
    other = client.post(url, json={}, headers={"authorization": f"Bearer {SUBMIT_ONLY_KEY}"})
    assert other.status_code == 403
    assert client.post(url, json={}, headers={"authorization": ""}).status_code == 401
    assert "author" in _paths(client.post(url, json={"author": "someone-else"}))


def test_every_decision_needs_a_reason(client: TestClient) -> None:
    body = {"assignee": "alice"}
    assert "reason" in _paths(client.post(f"/v1/requests/{RID}/assignment", json=body))
    blank = {"assignee": "alice", "reason": "   "}
    assert "reason" in _paths(client.post(f"/v1/requests/{RID}/assignment", json=blank))


def test_a_gag_is_no_hold_counsel_can_end(client: TestClient) -> None:
    body = {"hold": "NDO_ACTIVE_UNTIL_EXPIRY", "reason": "we disagree with the order"}
    assert "hold" in _paths(client.post(f"/v1/requests/{RID}/holds/end", json=body))
    body = {"hold": "VERIFY_REQUESTER_FIRST", "reason": "looks fine"}
    assert "hold" in _paths(client.post(f"/v1/requests/{RID}/holds/end", json=body))


def test_verification_names_method_contact_time_and_outcome(client: TestClient) -> None:
    body = {"method": "email", "contact": "x", "outcome": "probably", "reason": "r"}
    paths = _paths(client.post(f"/v1/requests/{RID}/requester-verification", json=body))
    assert {"method", "contacted_at", "outcome"} <= paths


def test_an_override_overrides_something(client: TestClient) -> None:
    response = client.post(f"/v1/requests/{RID}/verdict-override", json={"reason": "r"})
    assert response.status_code == 422
    body = {"authority": {"code": "x y", "family": "subpoena", "jurisdiction": "US"}, "reason": "r"}
    assert "authority.code" in _paths(
        client.post(f"/v1/requests/{RID}/verdict-override", json=body)
    )


def test_a_production_decision_is_per_account_and_category(client: TestClient) -> None:
    url = f"/v1/requests/{RID}/production"
    twice = {
        "target": {"handle": "@a"},
        "decisions": [
            {"category": "ip_logs", "decision": "produce"},
            {"category": "ip_logs", "decision": "do_not_produce"},
        ],
        "reason": "r",
    }
    assert client.post(url, json=twice).status_code == 422
    unnamed = {"target": {}, "decisions": [{"category": "ip_logs", "decision": "produce"}]}
    assert "target" in _paths(client.post(url, json={**unnamed, "reason": "r"}))
    vague = {
        "target": {"handle": "@a"},
        "decisions": [{"category": "ip_logs", "decision": "narrowed"}],
        "reason": "r",
    }
    assert client.post(url, json=vague).status_code == 422
