"""The OpenAPI document intake serves when its documents are enabled is the one
checked into the repository; by default it serves none."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from services.intake.app import create_app
from services.intake.openapi import render
from tests.unit.intake.fakes import OFFLINE_SETTINGS, StoresNothing, known_key

CHECKED_IN = Path(__file__).resolve().parents[3] / "docs" / "openapi-intake.json"


def test_served_openapi_is_the_checked_in_one() -> None:
    app = create_app(
        OFFLINE_SETTINGS.model_copy(update={"openapi_docs": True}),
        repository=StoresNothing(),
        keys=known_key,
    )
    served = TestClient(app).get("/openapi.json").json()
    assert served == json.loads(CHECKED_IN.read_text()), (
        "docs/openapi-intake.json is stale: run "
        "`python -m services.intake.openapi > docs/openapi-intake.json`"
    )
    assert render() == CHECKED_IN.read_text()


def test_no_document_is_served_unless_enabled() -> None:
    app = create_app(OFFLINE_SETTINGS, repository=StoresNothing(), keys=known_key)
    client = TestClient(app)
    for path in ("/openapi.json", "/docs", "/redoc"):
        assert client.get(path).status_code == 404, path
    assert app.openapi() == json.loads(CHECKED_IN.read_text())
