"""The OpenAPI document served by intake is the one checked into the repository."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from services.intake.app import create_app
from services.intake.openapi import render
from tests.unit.intake.fakes import OFFLINE_SETTINGS, KeysOnlyRepository

CHECKED_IN = Path(__file__).resolve().parents[3] / "docs" / "openapi-intake.json"


def test_served_openapi_is_the_checked_in_one() -> None:
    app = create_app(OFFLINE_SETTINGS, repository=KeysOnlyRepository())
    served = TestClient(app).get("/openapi.json").json()
    assert served == json.loads(CHECKED_IN.read_text()), (
        "docs/openapi-intake.json is stale: run "
        "`python -m services.intake.openapi > docs/openapi-intake.json`"
    )
    assert render() == CHECKED_IN.read_text()
