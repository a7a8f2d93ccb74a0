"""Measure audit: events stored per second (AuditStore.append on real PostgreSQL, as
the log writer calls it) and Merkle proof generation time at 10^4 and 10^6 leaves.

    PYTHONPATH=. .venv/bin/python bench/audit_append.py [--events 2000] [--batch 1 100]

Uses ``DOCKET_DATABASE_URL`` (a fresh database is created on that server), else starts
a throwaway local PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from deploy.postgres.launcher import LocalPostgres, create_database, drop_database, with_database
from services.audit.app import MIGRATIONS, SCHEMA
from services.audit.domain.ledger import LedgerEntry
from services.audit.domain.merkle import MerkleLog, leaf_hash, verify_consistency, verify_inclusion
from services.audit.store import AuditStore, PendingEntry
from shared import topics
from shared.db import Database, create_pool, migrate
from shared.events import envelope_for
from tests.unit.audit import factories as f


def entries(count: int) -> list[LedgerEntry]:
    sub = f.submission()
    made = []
    for i in range(count):
        event = f.notified(f"bench-{i % 500}", f"u{i}") if i % 2 else f.received(f"bench-{i}", sub)
        envelope = envelope_for(event, source="/bench", event_id=str(uuid.uuid4()))
        made.append(LedgerEntry(source_topic=event.TOPIC, event=envelope.model_dump(mode="json")))
    return made


async def append_rate(admin_url: str, count: int, batch: int) -> float:
    name = f"bench_{secrets.token_hex(4)}"
    await create_database(admin_url, name)
    pool = await create_pool(with_database(admin_url, name), schema=SCHEMA, max_size=2)
    try:
        await migrate(pool, SCHEMA, MIGRATIONS)
        store = AuditStore(Database.of(pool))
        pending = [
            PendingEntry(entry, topics.AUDIT_LEDGER, 0, offset)
            for offset, entry in enumerate(entries(count))
        ]
        began = time.perf_counter()
        for i in range(0, count, batch):
            await store.append(pending[i : i + batch])
        elapsed = time.perf_counter() - began
        assert await store.size() == count
    finally:
        await pool.close()
        await drop_database(admin_url, name)
    return count / elapsed


def proof_times(size: int, samples: int = 1000) -> dict[str, float]:
    began = time.perf_counter()
    tree = MerkleLog.from_leaf_hashes(leaf_hash(i.to_bytes(8, "big")) for i in range(size))
    build_s = time.perf_counter() - began
    rng = secrets.SystemRandom()
    inclusion, consistency, verify = [], [], []
    root = tree.root
    for _ in range(samples):
        index = rng.randrange(size)
        t0 = time.perf_counter()
        path = tree.inclusion_proof(index, size)
        inclusion.append(time.perf_counter() - t0)
        first = rng.randrange(1, size)
        t0 = time.perf_counter()
        proof = tree.consistency_proof(first, size)
        consistency.append(time.perf_counter() - t0)
        leaf, first_root = tree.leaf_at(index), tree.root_at(first)
        t0 = time.perf_counter()
        assert verify_inclusion(index, size, leaf, path, root)
        assert verify_consistency(first, size, first_root, root, proof)
        verify.append(time.perf_counter() - t0)
    return {
        "build_s": build_s,
        "inclusion_us": statistics.median(inclusion) * 1e6,
        "consistency_us": statistics.median(consistency) * 1e6,
        "verify_both_us": statistics.median(verify) * 1e6,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 100])
    args = parser.parse_args()
    external = os.environ.get("DOCKET_DATABASE_URL")
    local = None if external else LocalPostgres(Path(tempfile.mkdtemp(prefix="docket-bench-")))
    admin_url = external or local.start()  # type: ignore[union-attr]
    try:
        for batch in args.batch:
            rate = await append_rate(admin_url, args.events, batch)
            print(f"append: {args.events} events, batch {batch}: {rate:,.0f} events/s")
    finally:
        if local is not None:
            local.stop()
    for size in (10**4, 10**6):
        times = proof_times(size)
        print(
            f"proofs at {size:>9,} leaves: build {times['build_s']:.2f} s, "
            f"inclusion {times['inclusion_us']:.1f} us, "
            f"consistency {times['consistency_us']:.1f} us, "
            f"verify both {times['verify_both_us']:.1f} us (medians of 1000)"
        )
    print(f"at {datetime.now(UTC):%Y-%m-%dT%H:%MZ}")


if __name__ == "__main__":
    asyncio.run(main())
