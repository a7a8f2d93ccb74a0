"""Schema-driven fuzzing (schemathesis) of the running audit against its checked-in
OpenAPI document, every role's key (``STANDARD_KEYS``) taking turns on every operation
(``tests/integration/fuzz_roles.py``), on a log that holds
requests, notices, decisions and dead letters: no 5xx, no schema-invalid input
accepted, every answer (problems included) as documented. NUL bytes in a filter or a
path, once answered 500, are tried explicitly too.

``DOCKET_FUZZ_EXAMPLES`` sets the examples per operation (10 unless set)."""

from __future__ import annotations

import json
import secrets
from collections import Counter
from pathlib import Path

import httpx
import pytest

from deploy.kafka.security import KafkaAccess
from tests.fixtures.keys import STANDARD_KEYS, bearer, issue_keys
from tests.integration.audit.helpers import publish, scenario, start_audit, wait_until, window
from tests.integration.fuzzing import fuzz

REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.integration

CONFIG = Path(__file__).with_name("schemathesis.toml")
#: Once 500s: the database refuses NUL in text.
NUL_CALLS = (
    "/v1/requests?risk_level=%00",
    "/v1/requests?state=%00",
    "/v1/requests?country=a%00b",
    "/v1/requests/%00",
    "/v1/requests/req%00x",
    "/v1/deadletters?from=%00",
)


async def test_no_role_gets_a_5xx_or_an_undocumented_answer(
    kafka_access: KafkaAccess, database_url: str, tmp_path: Path
) -> None:
    start, _end = window()
    prefix = f"req-fuzz-{secrets.token_hex(4)}"
    # rate limit off: a 429 is documented, but would stop the fuzzer short of the routes
    audit = await start_audit(
        kafka_access, database_url, tree_head_interval_s=0.5, rate_limit_per_s=0
    )
    try:
        keys = await issue_keys(database_url)
        assert set(keys) == set(STANDARD_KEYS)
        await publish(kafka_access, scenario(prefix, start), [])
        async with httpx.AsyncClient(
            base_url=audit.url, timeout=10, headers=bearer(keys["natsec"])
        ) as client:

            async def stored() -> bool:
                history = await client.get(f"/v1/requests/{prefix}-3")
                return history.status_code == 200

            await wait_until(stored)
            # one page per item, by following `next`: every list pages the same way
            for path, key in (("/v1/requests", "request_id"), ("/v1/deadletters", "leaf_index")):
                seen, url = [], f"{path}?limit=1"
                while url is not None:
                    page = (await client.get(url)).json()
                    seen += [item[key] for item in page["items"]]
                    url = page["next"]
                assert len(seen) == len(set(seen)) >= 1, (path, seen)
                if path == "/v1/requests":  # among others' requests read from the broker
                    ours = [rid for rid in seen if str(rid).startswith(prefix)]
                    assert ours == [f"{prefix}-{n}" for n in (1, 2, 3)]
            for call in NUL_CALLS:
                answer = await client.get(call)
                assert answer.status_code == 422, (call, answer.text)
                assert answer.headers["content-type"] == "application/problem+json"
        answers = await fuzz("audit", audit.url, keys, CONFIG, tmp_path, seed=9457, examples=10)
    finally:
        await audit.stop()
    print(Counter((a["operation"], a["role"], a["status"]) for a in answers))
    operations = {answer["operation"] for answer in answers}
    documented = json.loads((REPO / "docs" / "openapi-audit.json").read_text())["paths"]
    assert operations == {
        f"{method.upper()} {path}" for path, methods in documented.items() for method in methods
    }
    assert "GET /v1/queue" in operations
    for operation in operations:  # every role tried every operation
        roles = {a["role"] for a in answers if a["operation"] == operation}
        assert roles == set(STANDARD_KEYS), (operation, roles)
    assert not [a for a in answers if a["status"] >= 500]
    refused = {(a["role"], a["status"]) for a in answers if a["operation"] == "GET /v1/deadletters"}
    assert ("submitter", 403) in refused  # the keys really were sent, role by role
    assert ("auditor", 200) in refused
