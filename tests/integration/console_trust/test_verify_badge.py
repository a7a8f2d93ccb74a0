"""The verify badge in real chromium against a real audit service on the real broker
and database: a page at audit's origin names a request's leaves; verify.js reads audit's
checkpoint, inclusion proofs and the leaves' stored bytes and turns green; red once one
byte of one stored leaf (``audit.event_log.leaf_data``) is altered, and red with a
verifier key other than the log's."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.async_api import Browser, BrowserContext, Page

from deploy.kafka.security import KafkaAccess
from services.audit.domain.checkpoint import verifier_key
from tests.fixtures.keys import STANDARD_KEYS, bearer, issue_keys
from tests.integration.audit.helpers import publish, scenario, start_audit, wait_until, window
from tests.integration.console_trust.harness import open_harness

pytestmark = pytest.mark.integration

ORIGIN = "docket.test/verify-badge"


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    opened = await browser.new_context()
    try:
        yield opened
    finally:
        await opened.close()


async def _badge(page: Page) -> tuple[str, str, str]:
    badge = page.locator("[data-docket-verify]")
    done = "[data-docket-verify][data-state=verified], [data-docket-verify][data-state=failed]"
    await page.locator(done).wait_for(timeout=30_000)
    state = await badge.get_attribute("data-state") or ""
    role = await badge.get_attribute("role") or ""
    return state, role, await badge.inner_text()


async def test_the_badge_verifies_a_request_and_turns_red_when_a_leaf_changes(
    kafka_access: KafkaAccess, database_url: str, context: BrowserContext
) -> None:
    audit = await start_audit(kafka_access, database_url, log_origin=ORIGIN)
    conn = await asyncpg.connect(database_url)
    keys = await issue_keys(database_url, {"legal": STANDARD_KEYS["legal"]})
    prefix = f"req-badge-{secrets.token_hex(3)}"
    try:
        start, _ = window()
        await publish(kafka_access, scenario(prefix, start), [])
        request_id = f"{prefix}-1"  # received, classified, notified, decided

        async def stored() -> list[int]:
            rows = await conn.fetch(
                "SELECT leaf_index FROM audit.event_log WHERE request_id = $1 ORDER BY 1",
                request_id,
            )
            return [row["leaf_index"] for row in rows] if len(rows) == 4 else []

        leaves = await wait_until(stored)
        async with httpx.AsyncClient(base_url=audit.url, timeout=10) as http:
            vkey = (await http.get("/v1/audit/public-key")).json()["note_verifier_key"]
            history = await http.get(f"/v1/requests/{request_id}", headers=bearer(keys["legal"]))
        # the page's leaves are the request's history's leaf indexes
        assert sorted(e["leaf_index"] for e in history.json()["events"]) == leaves
        badge = {
            "leaf-indexes": ",".join(str(i) for i in leaves),
            "checkpoint-url": "/v1/log/checkpoint",
            "proof-url": "/v1/audit/proof/inclusion",
            "leaf-url": "/v1/audit/leaves",
            "verifier-key": vkey,
        }
        # the page's own fetches carry the legal key (the console sends its session)
        await context.set_extra_http_headers(bearer(keys["legal"]))
        page = await context.new_page()
        await open_harness(page, audit.url, [badge])
        state, role, text = await _badge(page)
        assert (state, role) == ("verified", "status"), text
        assert "4 events" in text
        assert f"signed by {ORIGIN}" in text
        assert "tree size" in text

        # another key, even under the log's name, is not the log's
        impostor = verifier_key(ORIGIN, Ed25519PrivateKey.generate().public_key())
        await open_harness(page, audit.url, [badge | {"verifier-key": impostor}])
        state, _, text = await _badge(page)
        assert state == "failed", text
        assert "Not verified" in text

        # one byte of one stored leaf changes: the browser's own hash no longer proves it
        victim = leaves[1]
        await conn.execute("ALTER TABLE audit.event_log DISABLE TRIGGER event_log_append_only")
        await conn.execute(
            "UPDATE audit.event_log SET leaf_data ="
            " set_byte(leaf_data, 30, (get_byte(leaf_data, 30) + 1) % 256)"
            " WHERE leaf_index = $1",
            victim,
        )
        await conn.execute("ALTER TABLE audit.event_log ENABLE TRIGGER event_log_append_only")
        await open_harness(page, audit.url, [badge])
        state, _, text = await _badge(page)
        assert state == "failed", text
        assert f"event {victim} as stored now is not the event the signed log holds" in text

        # the other events of the request still verify on their own
        others = ",".join(str(i) for i in leaves if i != victim)
        await open_harness(page, audit.url, [badge | {"leaf-indexes": others}])
        state, _, text = await _badge(page)
        assert state == "verified", text
        assert "3 events" in text

        # without a key that may read leaves, the badge says it could not check
        await context.set_extra_http_headers({})
        await open_harness(page, audit.url, [badge | {"leaf-indexes": others}])
        state, _, text = await _badge(page)
        assert state == "failed", text
        assert "HTTP 401" in text
    finally:
        await conn.close()
        await audit.stop()
