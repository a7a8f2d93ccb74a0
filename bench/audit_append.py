"""Audit: events stored per second on real PostgreSQL, as the log writer stores them
(ledger records parsed, then a batch of them per ``AuditStore.append_many`` transaction;
batch 1 is one event per transaction through ``AuditStore.append``), and Merkle proof
generation and verification time by tree size.

    python -m bench.audit_append [--events 5000] [--batch 1 500] [--sizes 1000 1000000]

Uses ``DOCKET_DATABASE_URL`` (a fresh database is created on that server), else starts
a throwaway local PostgreSQL. ``make bench`` calls ``append_rate`` and ``proof_times``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from deploy.postgres.launcher import DatabaseRoles, LocalPostgres, drop_database, prepare_database
from services.audit.app import SCHEMA
from services.audit.domain.ledger import LedgerEntry
from services.audit.domain.merkle import MerkleLog, leaf_hash, verify_consistency, verify_inclusion
from services.audit.handlers import MAX_BATCH_RECORDS, pending_entry_for
from services.audit.store import AuditStore
from shared import topics
from shared.db import Database, create_pool
from shared.events import envelope_for
from shared.kafka import RecordInfo
from tests.unit.audit import factories as f

PROOF_SIZES = (10**3, 10**4, 10**5, 10**6)


def entries(count: int) -> list[LedgerEntry]:
    sub = f.submission()
    made = []
    for i in range(count):
        event = f.notified(f"bench-{i % 500}", f"u{i}") if i % 2 else f.received(f"bench-{i}", sub)
        envelope = envelope_for(event, source="/bench", event_id=str(uuid.uuid4()))
        made.append(LedgerEntry(source_topic=event.TOPIC, event=envelope.model_dump(mode="json")))
    return made


def ledger_records(count: int) -> list[tuple[bytes, RecordInfo]]:
    """``count`` records of the ledger topic as the log writer reads them."""
    return [
        (
            entry.to_record(),
            RecordInfo(topics.AUDIT_LEDGER, 0, offset, entry.request_id, {}, 0),
        )
        for offset, entry in enumerate(entries(count))
    ]


async def append_rate(admin_url: str, count: int, batch: int) -> float:
    """Events appended per second, ``batch`` ledger records per transaction (1: through
    ``append``, one event per transaction; more: through ``append_many``, as the log
    writer does with each batch it reads)."""
    name = f"bench_{secrets.token_hex(4)}"
    roles = DatabaseRoles.generate()
    owner_url = await prepare_database(admin_url, name, roles)
    pool = await create_pool(roles.service_url(owner_url, SCHEMA), schema=SCHEMA, max_size=2)
    try:
        store = AuditStore(Database.of(pool))
        records = ledger_records(count)
        began = time.perf_counter()
        for i in range(0, count, batch):
            pending = [pending_entry_for(body, info) for body, info in records[i : i + batch]]
            if batch == 1:
                await store.append(pending[0])
            else:
                await store.append_many(pending)
        elapsed = time.perf_counter() - began
        if await store.size() != count:
            raise RuntimeError("the store does not hold every appended event")
    finally:
        await pool.close()
        await drop_database(admin_url, name)
    return count / elapsed


def proof_times(size: int, samples: int = 1000) -> dict[str, float]:
    """Median generation and verification times (microseconds) of inclusion and
    consistency proofs at random positions of a tree of ``size`` leaves."""
    began = time.perf_counter()
    tree = MerkleLog.from_leaf_hashes(leaf_hash(i.to_bytes(8, "big")) for i in range(size))
    build_s = time.perf_counter() - began
    rng = random.Random(size)
    times: dict[str, list[float]] = {
        "inclusion": [],
        "verify_inclusion": [],
        "consistency": [],
        "verify_consistency": [],
    }
    root = tree.root
    clock = time.perf_counter
    for _ in range(samples):
        index = rng.randrange(size)
        t0 = clock()
        path = tree.inclusion_proof(index, size)
        t1 = clock()
        ok = verify_inclusion(index, size, tree.leaf_at(index), path, root)
        t2 = clock()
        first = rng.randrange(1, size)
        first_root = tree.root_at(first)
        t3 = clock()
        proof = tree.consistency_proof(first, size)
        t4 = clock()
        ok &= verify_consistency(first, size, first_root, root, proof)
        t5 = clock()
        if not ok:
            raise RuntimeError(f"a proof failed to verify at size {size}")
        times["inclusion"].append(t1 - t0)
        times["verify_inclusion"].append(t2 - t1)
        times["consistency"].append(t4 - t3)
        times["verify_consistency"].append(t5 - t4)
    result = {f"{name}_us": statistics.median(v) * 1e6 for name, v in times.items()}
    result["build_s"] = build_s
    return result


async def _main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument(
        "--batch",
        type=int,
        nargs="+",
        default=[1, MAX_BATCH_RECORDS],
        help=f"records per transaction (the log writer reads up to {MAX_BATCH_RECORDS})",
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=list(PROOF_SIZES))
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
    for size in args.sizes:
        times = proof_times(size)
        print(
            f"proofs at {size:>9,} leaves: build {times['build_s']:.2f} s, "
            f"inclusion {times['inclusion_us']:.1f} us "
            f"(verify {times['verify_inclusion_us']:.1f} us), "
            f"consistency {times['consistency_us']:.1f} us "
            f"(verify {times['verify_consistency_us']:.1f} us) (medians of 1000)"
        )
    print(f"at {datetime.now(UTC):%Y-%m-%dT%H:%MZ}")


def main() -> None:
    asyncio.run(_main())


if __name__ == "__main__":
    main()
