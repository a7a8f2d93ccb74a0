"""Audit on the real broker and database: periodic signed heads, the request list, dead
letters, the transparency report, rebuild == live writer, and tamper detection."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from deploy.kafka.security import KafkaAccess
from shared import topics
from shared.cli import main
from tests.integration.audit.helpers import (
    audit_client,
    publish,
    scenario,
    start_audit,
    wait_until,
    window,
)

pytestmark = pytest.mark.integration

VIEW_COLUMNS = (
    "request_id, state, received_at, deadline, authority_code, authority_family,"
    " risk_level, country, view"
)


async def views(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT {VIEW_COLUMNS} FROM audit.request_views ORDER BY 1")
    return [dict(row) for row in rows]


async def test_read_side_rebuild_and_tamper_detection(
    kafka_access: KafkaAccess, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    start, end = window()
    prefix = f"req-read-{secrets.token_hex(4)}"
    audit = await start_audit(kafka_access, database_url, tree_head_interval_s=0.5)
    client = await audit_client(audit, database_url)
    conn = await asyncpg.connect(database_url)
    try:
        await publish(kafka_access, scenario(prefix, start), [(topics.NOTIFICATION, b"\xff")])

        async def all_stored() -> bool:
            body = (await client.get(f"/v1/requests/{prefix}-3")).json()
            letters = (await client.get("/v1/deadletters", params={"limit": 500})).json()
            kept = {(d["kind"], d["consumer"]) for d in letters["items"]}
            return len(body.get("events", [])) == 2 and ("UnreadableRecord", "audit") in kept

        await wait_until(all_stored)
        period = {"received_from": start.isoformat(), "received_to": end.isoformat()}

        # the list: filters and stable keyset paging
        page = (await client.get("/v1/requests", params={**period, "limit": 2})).json()
        assert [i["request_id"] for i in page["items"]] == [f"{prefix}-1", f"{prefix}-2"]
        rest = (
            await client.get(
                "/v1/requests", params={**period, "limit": 2, "cursor": page["next_cursor"]}
            )
        ).json()
        assert [i["request_id"] for i in rest["items"]] == [f"{prefix}-3"]
        assert rest["next_cursor"] is None
        for params, expected in [
            ({"country": "DE"}, [f"{prefix}-2"]),
            ({"authority_family": "subpoena", "risk_level": "high"}, [f"{prefix}-1"]),
            ({"state": "received"}, [f"{prefix}-3"]),
            ({"deadline_before": (end + timedelta(days=30)).isoformat()}, [f"{prefix}-1"]),
        ]:
            found = (await client.get("/v1/requests", params={**period, **params})).json()
            assert [i["request_id"] for i in found["items"]] == expected, params

        # dead letters: the consumer's and the unreadable record audit kept itself
        letters = (await client.get("/v1/deadletters", params={"limit": 500})).json()["items"]
        reasons = {(d["kind"], d["consumer"]): d["reason"] for d in letters}
        assert reasons[("DeadLettered", "notifier")] == "webhook payload rejected"
        assert "not JSON" in reasons[("UnreadableRecord", "audit")]

        # the transparency report and its chart
        when = {"from": start.isoformat(), "to": end.isoformat()}
        report = (await client.get("/v1/reports/transparency", params=when)).json()
        assert report["totals"]["requests"] == 3
        assert report["totals"]["emergency"] == 1
        assert report["notices"]["sent"] == 1
        assert report["national_security"]["requests"] == "0-249"
        csv_text = (
            await client.get("/v1/reports/transparency", params={**when, "format": "csv"})
        ).text
        assert csv_text.startswith("section,key,requests")
        chart = await client.get("/v1/reports/transparency/chart.svg", params=when)
        assert chart.headers["content-type"].startswith("image/svg+xml")

        # the periodic signer caught up and the size gauge is exported
        size = await conn.fetchval("SELECT count(*) FROM audit.event_log")

        async def signed() -> bool:
            latest = await conn.fetchval("SELECT max(tree_size) FROM audit.tree_heads")
            return bool(latest is not None and latest >= size)

        await wait_until(signed, 20)
        metrics = (await client.get(f"{audit.admin_url}/metrics")).text
        assert "docket_audit_log_size" in metrics
        assert (await client.get("/metrics")).status_code == 404

        # rebuilding the views from the log yields what the live writer wrote
        live = await views(conn)
        args = ["--database-url", database_url]
        assert await asyncio.to_thread(main, ["audit", "rebuild", *args]) == 0
        assert await views(conn) == live

        # the log verifies, from an export and from the database ...
        export = tmp_path / "audit.jsonl"
        assert await asyncio.to_thread(main, ["audit", "export", str(export), *args]) == 0
        key = ["--audit-url", audit.url]
        verify = ["audit", "verify"]
        assert await asyncio.to_thread(main, [*verify, str(export), *key]) == 0
        assert await asyncio.to_thread(main, [*verify, *args, *key]) == 0
        capsys.readouterr()

        # ... until one byte of one stored leaf changes
        victim = await conn.fetchval(
            "SELECT leaf_index FROM audit.event_log WHERE request_id = $1 ORDER BY 1 LIMIT 1",
            f"{prefix}-2",
        )
        await conn.execute("ALTER TABLE audit.event_log DISABLE TRIGGER event_log_append_only")
        await conn.execute(
            "UPDATE audit.event_log SET leaf_data ="
            " set_byte(leaf_data, 20, (get_byte(leaf_data, 20) + 1) % 256)"
            " WHERE leaf_index = $1",
            victim,
        )
        await conn.execute("ALTER TABLE audit.event_log ENABLE TRIGGER event_log_append_only")
        assert await asyncio.to_thread(main, [*verify, *args, *key]) == 1
        assert f"first bad leaf: {victim}\n" in capsys.readouterr().out
        # the export taken before still verifies: it is independent evidence
        assert await asyncio.to_thread(main, [*verify, str(export), *key]) == 0
    finally:
        await conn.close()
        await client.aclose()
        await audit.stop()
