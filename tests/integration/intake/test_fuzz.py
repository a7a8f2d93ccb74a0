"""Schema-driven fuzzing (schemathesis) of the running intake against its own OpenAPI
document: no 5xx, no schema-invalid input accepted, every answer as documented.

Valid generated submissions reach the real broker and database (they are accepted);
invalid ones must be refused. ``DOCKET_FUZZ_EXAMPLES`` sets the examples per operation.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.fixtures.servers import RunningService
from tests.integration.intake.conftest import SECRET

pytestmark = pytest.mark.integration

SCHEMATHESIS = Path(sys.executable).with_name("st")
OPENAPI = Path(__file__).resolve().parents[3] / "docs" / "openapi-intake.json"
CONFIG = Path(__file__).with_name("schemathesis.toml")


async def test_no_input_gives_a_5xx_or_is_wrongly_accepted(
    intake: RunningService, tmp_path: Path
) -> None:
    examples = os.environ.get("DOCKET_FUZZ_EXAMPLES", "60")
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        str(OPENAPI),  # the checked-in document: the service serves none by default
        "--url",
        intake.url,
        "--header",
        f"Authorization: Bearer {SECRET}",
        "--checks",
        "not_a_server_error,negative_data_rejection,status_code_conformance,"
        "content_type_conformance,response_schema_conformance,response_headers_conformance",
        "--max-examples",
        examples,
        "--seed",
        "20171",
        "--no-color",
        cwd=tmp_path,  # schemathesis keeps its state in ./.schemathesis
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=900)
    report = output.decode("utf-8", "replace")
    print(report)
    assert process.returncode == 0, report[-6000:]
