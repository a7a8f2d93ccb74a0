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
from shared.submission import STORED, Submission
from tests.unit.intake.fakes import (
    FULL_KEY,
    OFFLINE_SETTINGS,
    SUBMIT_ONLY_KEY,
    StoresNothing,
    known_key,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "requests"


@pytest.fixture
def client() -> TestClient:
    app = create_app(OFFLINE_SETTINGS, repository=StoresNothing(), keys=known_key)
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
        "pointer": "#/requester/agnecy_type",
        "detail": "unknown field: not part of the contract (check the spelling)",
    } in errors


def test_every_invalid_field_is_listed(client: TestClient, body: dict[str, Any]) -> None:
    body["targets"] = [{"handle": "@"}]
    body["data_requested"] = ["subscriber_identity", "dna"]
    body["received_at"] = "yesterday"
    response = client.post("/v1/requests", json=body)
    assert response.status_code == 422
    pointers = {error["pointer"] for error in response.json()["errors"]}
    assert {"#/targets/0/handle", "#/data_requested/1", "#/received_at"} <= pointers


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


SHORT_TEXT_FIELDS = [
    ("requester", "agency"),
    ("instrument", "cited_authority"),
    ("instrument", "issued_by"),
    ("instrument", "case_number"),
]


@pytest.mark.parametrize(("section", "field"), SHORT_TEXT_FIELDS)
@pytest.mark.parametrize("control", ["\u0000", "\u0007", "\u001b[2J", "\n", "\u0085"])
def test_a_control_character_in_text_that_reaches_a_notice_is_refused(
    client: TestClient, body: dict[str, Any], section: str, field: str, control: str
) -> None:
    body[section][field] = f"U.S. Customs{control}and Border Protection"
    response = client.post("/v1/requests", json=body)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [e["pointer"] for e in errors] == [f"#/{section}/{field}"]
    assert f"U+{ord(control[0]):04X}" in errors[0]["detail"]


def test_a_control_character_in_the_gag_authority_is_refused(
    client: TestClient, body: dict[str, Any]
) -> None:
    body["instrument"]["nondisclosure"] = {"ordered": True, "authority": "18 U.S.C.\u0000 2705(b)"}
    response = client.post("/v1/requests", json=body)
    assert response.status_code == 422
    assert [e["pointer"] for e in response.json()["errors"]] == [
        "#/instrument/nondisclosure/authority"
    ]


def test_control_characters_in_an_amendment_and_a_decision_are_refused(
    client: TestClient,
) -> None:
    request = "/v1/requests/0f3c6d2e-8d0b-4a55-9a43-8b1f2f3c9d10"
    amendment = {
        "nondisclosure": {"ordered": True, "authority": "court\u0008 order"},
        "note": "extended\u0000",
        "effective_at": "2026-01-01T00:00:00Z",
    }
    answer = client.post(f"{request}/amendments", json=amendment)
    assert answer.status_code == 422
    assert {e["pointer"] for e in answer.json()["errors"]} == {
        "#/nondisclosure/authority",
        "#/note",
    }
    decision = {"outcome": "rejected", "decided_by": "J. Doe\u001b", "note": "a\tb\nc"}
    answer = client.post(f"{request}/decision", json=decision)
    assert answer.status_code == 422
    assert [e["pointer"] for e in answer.json()["errors"]] == ["#/decided_by"]


@pytest.mark.parametrize("field", ["document_text", "stated_purpose"])
def test_prose_keeps_tabs_and_line_breaks_but_not_nul(body: dict[str, Any], field: str) -> None:
    # a page break (form feed) and a mis-decoded quote (U+0092) as PDF text brings them
    text = "SUMMONS\r\n\tYou are hereby required\nto produce:\f page 2 \u0092s"
    where = body["instrument"] if field == "document_text" else body
    where[field] = text
    submission = Submission.model_validate(body)
    kept = (
        submission.instrument.document_text
        if field == "document_text"
        else submission.stated_purpose
    )
    assert kept == text
    where[field] = text + "\u0000"
    with pytest.raises(ValueError, match="U\\+0000"):
        Submission.model_validate(body)


def test_a_stored_record_is_read_as_it_was_written(body: dict[str, Any]) -> None:
    """An event accepted before a rule grew stricter still reads (a gag amendment must
    never become a dead letter the notifier does not see); new input is refused."""
    body["requester"]["agency"] = "U.S. Customs\u0007and Border Protection"
    body["targets"] = [{"handle": "@critic\u0007"}]
    with pytest.raises(ValueError, match="U\\+0007"):
        Submission.model_validate(body)
    stored = Submission.model_validate(body, context=STORED)
    assert stored.requester.agency == "U.S. Customs\u0007and Border Protection"


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
    assert [e["pointer"] for e in response.json()["errors"]] == ["#/instrument/type"]


def test_malformed_json_is_422_not_500(client: TestClient) -> None:
    response = client.post(
        "/v1/requests", content=b'{"external_ref": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [{"detail": "the body is not valid JSON", "pointer": "#"}]


def test_no_key_is_401_with_challenge(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post("/v1/requests", json=body, headers={"authorization": ""})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == "application/problem+json"


def test_unknown_key_is_401(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post("/v1/requests", json=body, headers={"authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.json()["detail"] == "the API key is unknown or revoked"


def test_key_whose_role_may_not_decide_is_403(client: TestClient) -> None:
    response = client.post(
        "/v1/requests/0f3c6d2e-8d0b-4a55-9a43-8b1f2f3c9d10/decision",
        json={"outcome": "no_data"},
        headers={"authorization": f"Bearer {SUBMIT_ONLY_KEY}"},
    )
    assert response.status_code == 403
    assert "a submitter key may not call" in response.json()["detail"]


@pytest.mark.parametrize(
    ("decision", "message"),
    [
        ({"outcome": "disclosed"}, "must name the data disclosed"),
        ({"outcome": "rejected", "data_disclosed": ["ip_logs"]}, "discloses no data"),
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


@pytest.mark.parametrize(
    ("section", "field"), [("emergency", "claimed"), ("instrument.nondisclosure", "ordered")]
)
@pytest.mark.parametrize("value", [0, 1, "true", "yes"])
def test_a_yes_or_no_field_takes_only_true_or_false(
    client: TestClient, body: dict[str, Any], section: str, field: str, value: object
) -> None:
    where = body
    for part in section.split("."):
        where = where.setdefault(part, {})
    where[field] = value
    response = client.post("/v1/requests", json=body)
    assert response.status_code == 422
    assert [e["pointer"] for e in response.json()["errors"]] == [
        "#/" + "/".join([*section.split("."), field])
    ]
