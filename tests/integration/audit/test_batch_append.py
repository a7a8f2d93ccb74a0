"""The log writer's batch append on real PostgreSQL: a batch per transaction stores the
same log (leaves, indexes, hashes, views) as one event per transaction, stores each event
once however often it is redelivered or by how many instances, and commits nothing when
it fails."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deploy.kafka.security import KafkaAccess
from deploy.postgres.launcher import drop_database
from services.audit.app import MIGRATIONS, SCHEMA
from services.audit.domain.ledger import LedgerEntry, UnreadableRecord
from services.audit.domain.verification import Leaf, verify_log
from services.audit.store import AuditStore, PendingEntry
from services.audit.tree import LogTree
from shared import topics
from shared.db import Database
from shared.events import envelope_for
from tests.fixtures.postgres import PostgresTestServer, migrate_database, service_url
from tests.integration.audit.helpers import publish, scenario, start_audit, wait_until, window
from tests.unit.audit import factories as f

pytestmark = pytest.mark.integration

LEDGER = topics.AUDIT_LEDGER


def ledger(count: int) -> list[PendingEntry]:
    """``count`` ledger records: events of a few requests, a redelivered event, and an
    unreadable record in the middle."""
    sub = f.submission()
    made: list[LedgerEntry] = []
    for i in range(count):
        request_id = f"req-batch-{i % 7}"
        event = f.received(request_id, sub) if i < 7 else f.notified(request_id, f"u{i}")
        envelope = envelope_for(event, source="/tests", event_id=f"event-{i}")
        made.append(LedgerEntry(source_topic=event.TOPIC, event=envelope.model_dump(mode="json")))
    made.insert(count // 2, made[3])  # the same event read twice from its topic ...
    made.insert(count // 2, made[count // 2 - 1])  # ... and twice in a row (one batch)
    made.insert(
        count // 3,
        LedgerEntry(
            source_topic=topics.NOTIFICATION,
            unreadable=UnreadableRecord(
                reason="not JSON", partition=2, offset=9, size=2, sha256="0" * 64, value_b64="AAE="
            ),
        ),
    )
    return [PendingEntry(entry, LEDGER, 0, offset) for offset, entry in enumerate(made)]


@asynccontextmanager
async def opened_store(url: str) -> AsyncIterator[AuditStore]:
    await migrate_database(url)
    database = Database(service_url(url, "audit"), SCHEMA, MIGRATIONS)
    async with database.opened():
        yield AuditStore(database)


@asynccontextmanager
async def second_database(server: PostgresTestServer) -> AsyncIterator[str]:
    name = f"test_batch_{secrets.token_hex(6)}"
    url = await server.create_database(name)
    try:
        yield url
    finally:
        await drop_database(server.admin_url, name)


async def stored(store: AuditStore) -> tuple[list[Any], list[Any], list[Any]]:
    log = await store.pool.fetch(
        "SELECT leaf_index, event_id, event_type, request_id, source_topic, occurred_at,"
        " leaf_data, leaf_hash FROM event_log ORDER BY leaf_index"
    )
    views = await store.pool.fetch(
        "SELECT request_id, state, received_at, view FROM request_views ORDER BY request_id"
    )
    positions = await store.pool.fetch("SELECT * FROM consumer_positions ORDER BY 1, 2")
    return [tuple(r) for r in log], [tuple(r) for r in views], [tuple(r) for r in positions]


def chunks(items: Sequence[PendingEntry], size: int) -> list[list[PendingEntry]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


async def test_batches_store_the_same_verifiable_log_as_one_event_per_transaction(
    database_url: str, postgres_server: PostgresTestServer
) -> None:
    records = ledger(60)
    unique = len({item.entry.event_id for item in records})
    async with (
        second_database(postgres_server) as other_url,
        opened_store(database_url) as one_by_one,
        opened_store(other_url) as batched,
    ):
        added = [await one_by_one.append(item) for item in records]
        assert sum(added) == unique
        # Odd batch sizes, and the ledger read again from an earlier offset (a rebalance).
        counts = [await batched.append_many(batch) for batch in chunks(records, 7)]
        counts += [await batched.append_many(batch) for batch in chunks(records[20:], 11)]
        assert sum(counts) == unique

        expected, got = await stored(one_by_one), await stored(batched)
        assert got == expected
        log, views, positions = got
        assert [row[0] for row in log] == list(range(unique))  # dense, no gaps
        assert len({row[1] for row in log}) == unique  # every event once
        assert "UnreadableRecord" in {row[2] for row in log}
        assert len(views) == 7
        assert positions == [(LEDGER, 0, len(records))]

        key = Ed25519PrivateKey.generate()
        head = await LogTree(batched, key, "docket.test/audit").sign_head()
        assert head.tree_size == unique
        leaves = [Leaf(i, data, stored) async for i, data, stored in batched.leaves()]
        report = verify_log(leaves, [head], key.public_key())
        assert report.ok, report.problems


async def test_two_writers_with_overlapping_batches_store_each_event_once_densely(
    database_url: str,
) -> None:
    """Two instances in one consumer group during a rebalance: each reads the ledger in
    order from the last committed offset, so both may append the same records at the
    same time; the lock, the stored positions and the event ids absorb it."""
    records = ledger(200)
    unique = len({item.entry.event_id for item in records})

    async def read_in_order(store: AuditStore, batch_size: int) -> int:
        return sum([await store.append_many(batch) for batch in chunks(records, batch_size)])

    async with opened_store(database_url) as first, opened_store(database_url) as second:
        added = await asyncio.gather(read_in_order(first, 50), read_in_order(second, 37))
        assert sum(added) == unique
        log, _views, positions = await stored(first)
    assert [row[0] for row in log] == list(range(unique))
    assert len({row[1] for row in log}) == unique
    assert positions == [(LEDGER, 0, len(records))]


async def test_a_batch_that_fails_commits_nothing_and_can_be_read_again(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = ledger(30)
    unique = len({item.entry.event_id for item in records})
    async with opened_store(database_url) as store:
        assert await store.append_many(records[:5]) == 5

        async def outage(*_args: object) -> None:
            raise ConnectionResetError("database went away")

        monkeypatch.setattr(AuditStore, "save_views", staticmethod(outage))
        with pytest.raises(ConnectionResetError):
            await store.append_many(records[5:])
        assert await store.size() == 5
        assert (await stored(store))[2] == [(LEDGER, 0, 5)]

        monkeypatch.undo()
        assert await store.append_many(records) == unique - 5
        log, _views, positions = await stored(store)
    assert [row[0] for row in log] == list(range(unique))
    assert positions == [(LEDGER, 0, len(records))]


async def test_poison_inside_a_batch_is_kept_with_its_reason_and_blocks_nothing(
    kafka_access: KafkaAccess, database_url: str
) -> None:
    """Everything is on the topics before audit starts, so both subscribers read it in
    batches: the unreadable records among the good ones are kept with their reason (and
    the one only audit reads is dead-lettered by audit), every good event is stored once
    although it was sent twice, and the leaf indexes stay dense."""
    start, _end = window()
    prefix = f"req-poison-batch-{secrets.token_hex(4)}"
    envelopes = [(e.TOPIC, envelope_for(e, source="/tests")) for e in scenario(prefix, start)]
    records = [(topic, envelope.to_bytes()) for topic, envelope in envelopes]
    poison_event = f"not json {prefix}".encode()
    poison_ledger = f"not a ledger entry {prefix}".encode()
    await publish(
        kafka_access,
        [],
        [
            *records[:4],
            (topics.NOTIFICATION, poison_event),
            (topics.AUDIT_LEDGER, poison_ledger),
            *records[4:],
            *records,  # every event delivered twice
        ],
    )
    audit = await start_audit(kafka_access, database_url, tree_head_interval_s=0)
    try:
        async with opened_store(database_url) as store:

            async def log_with_ours() -> list[tuple[int, LedgerEntry]] | None:
                rows = await store.pool.fetch(
                    "SELECT leaf_index, leaf_data FROM event_log ORDER BY leaf_index"
                )
                log = [
                    (row["leaf_index"], LedgerEntry.model_validate_json(bytes(row["leaf_data"])))
                    for row in rows
                ]
                entries = [entry for _, entry in log]
                done = (
                    len(good_events(entries, prefix)) >= len(envelopes)
                    and len(unreadable(entries, poison_event, poison_ledger)) == 2
                    and dead_lettered_by_audit(entries, poison_event)
                )
                return log if done else None

            log = await wait_until(log_with_ours)
    finally:
        await audit.stop()
    entries = [entry for _, entry in log]
    assert [index for index, _ in log] == list(range(len(log)))
    assert len({entry.event_id for entry in entries}) == len(entries)
    assert sorted(e.event_id for e in good_events(entries, prefix)) == sorted(
        envelope.id for _, envelope in envelopes
    )
    assert all(record.reason for record in unreadable(entries, poison_event, poison_ledger))


def good_events(entries: list[LedgerEntry], prefix: str) -> list[LedgerEntry]:
    return [e for e in entries if e.event is not None and e.request_id.startswith(prefix)]


def unreadable(entries: list[LedgerEntry], *values: bytes) -> list[UnreadableRecord]:
    return [
        e.unreadable
        for e in entries
        if e.unreadable is not None and base64.b64decode(e.unreadable.value_b64) in values
    ]


def dead_lettered_by_audit(entries: list[LedgerEntry], value: bytes) -> bool:
    return any(
        e.event is not None
        and e.event_type == "DeadLettered"
        and e.event["data"]["consumer"] == "audit"
        and base64.b64decode(e.event["data"]["original_value_b64"]) == value
        for e in entries
    )
