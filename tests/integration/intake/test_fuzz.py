"""Schema-driven fuzzing (schemathesis) of the running intake against its own OpenAPI
document: no 5xx, no schema-invalid input accepted, every answer as documented.

Valid generated submissions reach the real broker and database (they are accepted);
invalid ones must be refused. ``DOCKET_FUZZ_EXAMPLES`` sets the examples per operation
(60 unless set).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.servers import RunningService
from tests.integration.fuzzing import fuzz
from tests.integration.intake.conftest import SECRET

pytestmark = pytest.mark.integration

CONFIG = Path(__file__).with_name("schemathesis.toml")
REPO = Path(__file__).resolve().parents[3]


async def test_no_input_gives_a_5xx_or_is_wrongly_accepted(
    intake: RunningService, tmp_path: Path
) -> None:
    keys = {"legal": SECRET}
    answers = await fuzz("intake", intake.url, keys, CONFIG, tmp_path, seed=20171, examples=60)
    documented = json.loads((REPO / "docs" / "openapi-intake.json").read_text())["paths"]
    every_operation = {
        f"{method.upper()} {path}" for path, methods in documented.items() for method in methods
    }
    assert "POST /v1/requests/{request_id}/holds/end" in every_operation  # counsel's, too
    assert {a["operation"] for a in answers} == every_operation
    assert 202 in {a["status"] for a in answers}  # valid submissions were accepted
