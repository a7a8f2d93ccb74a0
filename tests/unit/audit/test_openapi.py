"""The OpenAPI document audit serves when its documents are enabled is the one checked
into the repository (``docs/openapi-audit.json``), and it follows the HTTP convention:
every failure a problem document, every list paged by one cursor style."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr

from services.audit.app import create_app
from services.audit.openapi import render
from shared.problems import PROBLEM_MEDIA_TYPE
from shared.settings import AuditSettings

CHECKED_IN = Path(__file__).resolve().parents[3] / "docs" / "openapi-audit.json"


def _settings(**changes: Any) -> AuditSettings:
    return AuditSettings(
        kafka_bootstrap_servers="127.0.0.1:1",
        database_url="postgresql://unused/unused",
        kafka_username="docket-audit",
        kafka_password=SecretStr("never-used"),
        signing_key=base64.b64encode(bytes(range(32))).decode(),
        **changes,
    )


def test_served_openapi_is_the_checked_in_one() -> None:
    app = create_app(_settings(openapi_docs=True))
    served = TestClient(app).get("/openapi.json").json()
    assert served == json.loads(CHECKED_IN.read_text()), (
        "docs/openapi-audit.json is stale: run "
        "`python -m services.audit.openapi > docs/openapi-audit.json`"
    )
    assert render() == CHECKED_IN.read_text()


def test_no_document_is_served_unless_enabled() -> None:
    client = TestClient(create_app(_settings()))
    for path in ("/openapi.json", "/docs", "/redoc"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == PROBLEM_MEDIA_TYPE


def test_every_failure_is_a_problem_and_every_list_pages_by_cursor() -> None:
    document = json.loads(CHECKED_IN.read_text())
    lists = []
    for path, operations in document["paths"].items():
        for operation in operations.values():
            for status, answer in operation["responses"].items():
                if int(status) >= 400:
                    assert list(answer["content"]) == [PROBLEM_MEDIA_TYPE], (path, status)
            names = {parameter["name"] for parameter in operation.get("parameters", [])}
            success = operation["responses"]["200"]["content"]
            schema = success.get("application/json", {}).get("schema", {}).get("$ref", "")
            properties = document["components"]["schemas"].get(schema.split("/")[-1], {})
            if "items" in properties.get("properties", {}):
                lists.append(path)
                assert {"limit", "cursor"} <= names, path
                assert {"next_cursor", "next"} <= set(properties["properties"]), path
    assert sorted(lists) == ["/v1/deadletters", "/v1/queue", "/v1/requests"]
