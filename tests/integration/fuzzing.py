"""Schema-driven fuzzing (schemathesis) of a running service against its checked-in
OpenAPI document, the keys given taking turns on every operation
(``tests/integration/fuzz_roles.py``): every answer is written down, so a test can
check which role got what."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

SCHEMATHESIS = Path(sys.executable).with_name("st")
HOOKS = Path(__file__).with_name("fuzz_roles.py")
DOCS = Path(__file__).resolve().parents[2] / "docs"
#: no 5xx, no schema-invalid input accepted, every answer as documented
CHECKS = (
    "not_a_server_error,negative_data_rejection,status_code_conformance,"
    "content_type_conformance,response_schema_conformance,response_headers_conformance"
)


async def fuzz(
    service: str,
    url: str,
    keys: dict[str, str],
    config: Path,
    workdir: Path,
    *,
    seed: int,
    examples: int,
) -> list[dict[str, Any]]:
    """Run schemathesis on ``service`` at ``url`` (``docs/openapi-<service>.json``: the
    service serves none by default) with ``examples`` examples per operation
    (``DOCKET_FUZZ_EXAMPLES`` overrides); every answer as ``{"role", "operation",
    "status"}``.
    AssertionError with the report on any failure."""
    answers = workdir / "answers.jsonl"
    environment = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": str(HOOKS),
        "DOCKET_FUZZ_KEYS": json.dumps(keys),
        "DOCKET_FUZZ_LOG": str(answers),
    }
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        "--config-file",
        str(config),
        "run",
        str(DOCS / f"openapi-{service}.json"),
        "--url",
        url,
        "--checks",
        CHECKS,
        "--max-examples",
        os.environ.get("DOCKET_FUZZ_EXAMPLES", str(examples)),
        "--seed",
        str(seed),
        "--no-color",
        cwd=workdir,  # schemathesis keeps its state in ./.schemathesis
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=900)
    report = output.decode("utf-8", "replace")
    print(report[-2500:])
    assert process.returncode == 0, report[-8000:]
    return [json.loads(line) for line in answers.read_text().splitlines()]
