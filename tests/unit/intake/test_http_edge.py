"""Intake's HTTP edge without a broker or database: bad input and bad credentials get a
specific 4xx problem document and never reach Kafka (the app's lifespan is not run)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.intake.app import create_app
from shared.submission import Submission
from tests.unit.intake.fakes import FULL_KEY, OFFLINE_SETTINGS, SUBMIT_ONLY_KEY, KeysOnlyRepository

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "requests"


@pytest.fixture
def client() -> TestClient:
    app = create_app(OFFLINE_SETTINGS, repository=KeysOnlyRepository())
    return TestClient(app, headers={"authorization": f"Bearer {FULL_KEY}"})


@pytest.fixture
def body() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (EXAMPLE / "01-customs-summons-anonymous-critic.json").read_text()
    )
    return document


def test_unknown_field_is_named(client: TestClient, body: dict[str, Any]) -> None:
    body["requester"]["agnecy_type"] = "court"
    response = client.post("/v1/requests", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert {
        "path": "requester.agnecy_type",
        "message": "unknown field: not part of the contract (check the spelling)",
    } in errors


def test_every_invalid_field_is_listed(client: TestClient, body: dict[str, Any]) -> None:
    body["targets"] = [{"handle": "@"}]
    body["data_requested"] = ["subscriber_identity", "dna"]
    body["received_at"] = "yesterday"
    response = client.post("/v1/requests", json=body)
    assert response.status_code == 422
    paths = {error["path"] for error in response.json()["errors"]}
    assert {"targets.0.handle", "data_requested.1", "received_at"} <= paths


@pytest.mark.parametrize(
    "identifier",
    ["Jane Q. Doe", "https://social.example/@critic", "critic@example.org", "+1 (555) 010-4477"],
)
def test_an_account_is_accepted_in_any_form(identifier: str, body: dict[str, Any]) -> None:
    body["targets"] = [{"handle": identifier}]
    assert Submission.model_validate(body).targets[0].handle == identifier


def test_a_demand_naming_no_account_or_data_category_is_not_refused(
    body: dict[str, Any],
) -> None:
    body["targets"] = []
    body["data_requested"] = []
    submission = Submission.model_validate(body)
    assert (submission.targets, submission.data_requested) == ([], [])


def test_a_control_character_in_an_identifier_is_refused(
    client: TestClient, body: dict[str, Any]
) -> None:
    body["targets"] = [{"handle": "@critic\u0007"}]
    response = client.post("/v1/requests", json=body)
    assert response.status_code == 422
    assert "control characters" in json.dumps(response.json()["errors"])


def test_non_json_is_415(client: TestClient) -> None:
    response = client.post(
        "/v1/requests", content=b"<summons/>", headers={"content-type": "application/xml"}
    )
    assert response.status_code == 415
    assert response.json()["status"] == 415


def test_over_one_mebibyte_is_413(client: TestClient, body: dict[str, Any]) -> None:
    body["instrument"]["document_text"] = "x" * (1024 * 1024)
    response = client.post("/v1/requests", json=body)
    assert response.status_code == 413


def test_a_streamed_body_over_one_mebibyte_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the size is known only by reading
        yield b'{"external_ref": "'
        for _ in range(20):
            yield b"x" * 65_536
        yield b'"}'

    response = client.post(
        "/v1/requests", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["status"] == 413


def test_a_streamed_body_reaches_validation_whole(client: TestClient, body: dict[str, Any]) -> None:
    body["instrument"]["type"] = "not-a-type"
    encoded = json.dumps(body).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(encoded), 100):
            yield encoded[start : start + 100]

    response = client.post(
        "/v1/requests", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert [e["path"] for e in response.json()["errors"]] == ["instrument.type"]


def test_malformed_json_is_422_not_500(client: TestClient) -> None:
    response = client.post(
        "/v1/requests", content=b'{"external_ref": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


def test_no_key_is_401_with_challenge(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post("/v1/requests", json=body, headers={"authorization": ""})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == "application/problem+json"


def test_unknown_key_is_401(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post("/v1/requests", json=body, headers={"authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json()["detail"] == "the API key is unknown or revoked"


def test_key_without_scope_is_403(client: TestClient) -> None:
    response = client.post(
        "/v1/requests/0f3c6d2e-8d0b-4a55-9a43-8b1f2f3c9d10/decision",
        json={"outcome": "no_data", "decided_by": "counsel"},
        headers={"authorization": f"Bearer {SUBMIT_ONLY_KEY}"},
    )
    assert response.status_code == 403
    assert "decide" in response.json()["detail"]


@pytest.mark.parametrize(
    ("decision", "message"),
    [
        ({"outcome": "disclosed", "decided_by": "counsel"}, "must name the data disclosed"),
        (
            {"outcome": "rejected", "data_disclosed": ["ip_logs"], "decided_by": "counsel"},
            "discloses no data",
        ),
        ({"outcome": "no_data", "decided_by": "  "}, "at least 1 character"),
    ],
)
def test_inconsistent_decision_is_422(
    client: TestClient, decision: dict[str, Any], message: str
) -> None:
    response = client.post(
        "/v1/requests/0f3c6d2e-8d0b-4a55-9a43-8b1f2f3c9d10/decision", json=decision
    )
    assert response.status_code == 422
    assert message in json.dumps(response.json()["errors"])


def test_empty_amendment_is_422(client: TestClient) -> None:
    response = client.post(
        "/v1/requests/0f3c6d2e-8d0b-4a55-9a43-8b1f2f3c9d10/amendments",
        json={"effective_at": "2017-03-20T00:00:00Z"},
    )
    assert response.status_code == 422


def test_unknown_route_is_a_problem_document(client: TestClient) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
