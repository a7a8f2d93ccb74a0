"""Replaying the ledger topic from its start into an empty database rebuilds the same
tree: same leaves in the same order, so the same root hash."""

from __future__ import annotations

import json
import secrets

import asyncpg
import pytest

from deploy.kafka.security import KafkaAccess
from deploy.postgres.launcher import drop_database
from services.audit.domain.merkle import MerkleLog
from shared import topics
from tests.fixtures.postgres import PostgresTestServer
from tests.integration.audit.helpers import (
    publish,
    scenario,
    start_audit,
    wait_until,
    window,
)

pytestmark = pytest.mark.integration


async def leaves(url: str) -> list[tuple[bytes, bytes]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT leaf_data, leaf_hash FROM audit.event_log ORDER BY leaf_index"
        )
    finally:
        await conn.close()
    return [(bytes(row["leaf_data"]), bytes(row["leaf_hash"])) for row in rows]


async def test_replaying_the_ledger_into_an_empty_database_gives_the_same_root(
    kafka_access: KafkaAccess, database_url: str, postgres_server: PostgresTestServer
) -> None:
    start, _end = window()
    prefix = f"req-replay-{secrets.token_hex(4)}"
    audit_a = await start_audit(kafka_access, database_url, tree_head_interval_s=0)
    try:
        poison = [(topics.REQUEST_RECEIVED, b"{not json"), (topics.AUDIT_LEDGER, b"\x00\x01")]
        await publish(kafka_access, scenario(prefix, start), poison)

        async def a_has_ours() -> bool:
            stored = await leaves(database_url)
            ours = sum(prefix.encode() in data for data, _ in stored) == 8
            poisoned_ledger = any(b'"value_b64":"AAE="' in data for data, _ in stored)
            return ours and poisoned_ledger

        await wait_until(a_has_ours)
    finally:
        await audit_a.stop()
    first = await leaves(database_url)
    root_a = MerkleLog.from_leaf_hashes(h for _, h in first).root

    replica = f"test_replay_{secrets.token_hex(6)}"
    replica_url = await postgres_server.create_database(replica)
    audit_b = await start_audit(kafka_access, replica_url, tree_head_interval_s=0, ingest=False)
    try:

        async def b_caught_up() -> bool:
            return len(await leaves(replica_url)) >= len(first)

        await wait_until(b_caught_up)
    finally:
        await audit_b.stop()
    second = await leaves(replica_url)
    await drop_database(postgres_server.admin_url, replica)

    assert second[: len(first)] == first
    tree_b = MerkleLog.from_leaf_hashes(h for _, h in second)
    assert tree_b.root_at(len(first)) == root_a
    unreadable = [json.loads(data) for data, _ in first if b'"unreadable":' in data]
    assert {entry["source_topic"] for entry in unreadable} >= {
        topics.REQUEST_RECEIVED,
        topics.AUDIT_LEDGER,
    }
