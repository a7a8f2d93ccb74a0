"""Accepted requests per second at intake, with acks=all and the idempotency record.

Against a running intake (``make run``), with a key that may submit::

    DOCKET_API_KEY=... python -m bench.intake_rate --url http://127.0.0.1:8080

Or self-contained: a Kafka broker, a PostgreSQL and intake are started for the run::

    python -m bench.intake_rate --self-contained

Each request is example 01 under a fresh ``external_ref``, so every one is a new request
(one Kafka write acknowledged by all in-sync replicas, one committed database row).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "requests"


def _body() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(
        (EXAMPLE / "01-customs-summons-anonymous-critic.json").read_text()
    )
    body["external_ref"] = f"BENCH-{uuid.uuid4()}"
    return body


async def measure(url: str, key: str, count: int, concurrency: int) -> tuple[float, int]:
    """Post ``count`` new requests, ``concurrency`` at a time; (requests/s, non-202s)."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for _ in range(count):
        queue.put_nowait(_body())
    failures = 0
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url, headers={"authorization": f"Bearer {key}"}, timeout=60, limits=limits
    ) as client:

        async def worker() -> None:
            nonlocal failures
            while not queue.empty():
                answer = await client.post("/v1/requests", json=queue.get_nowait())
                failures += answer.status_code != 202

        await client.post("/v1/requests", json=_body())  # warm-up: connections, metadata
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return (count - failures) / elapsed, failures


async def self_contained(count: int, concurrency: int) -> tuple[float, int]:
    from deploy.kafka.launcher import ensure_kafka
    from deploy.postgres.launcher import LocalPostgres, create_database, with_database
    from services.intake.app import create_app
    from shared.settings import IntakeSettings
    from tests.fixtures.servers import free_port, start_service

    work = Path(tempfile.mkdtemp(prefix="docket-bench-"))
    pg_data = Path(tempfile.mkdtemp(prefix="docket-pg-bench-"))  # the data dir itself
    postgres = LocalPostgres(pg_data)
    bootstrap_servers, broker = await ensure_kafka(work / "kafka")
    try:
        admin_url = postgres.start()
        await create_database(admin_url, "bench")
        secret = secrets.token_urlsafe(32)
        port = free_port()
        settings = IntakeSettings(
            kafka_bootstrap_servers=bootstrap_servers,
            database_url=with_database(admin_url, "bench"),
            bootstrap_key=f"bench:submit:{secret}",
            port=port,
        )
        service = await start_service("intake", create_app(settings), port)
        try:
            return await measure(service.url, secret, count, concurrency)
        finally:
            await service.stop()
    finally:
        if broker is not None:
            await broker.stop()
        postgres.stop()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(pg_data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--url", default=os.environ.get("DOCKET_INTAKE_URL", "http://127.0.0.1:8080")
    )
    parser.add_argument("--count", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--self-contained", action="store_true")
    args = parser.parse_args()
    if args.self_contained:
        rate, failures = asyncio.run(self_contained(args.count, args.concurrency))
    else:
        key = os.environ.get("DOCKET_API_KEY")
        if not key:
            parser.error("set DOCKET_API_KEY to a key with the submit scope")
        rate, failures = asyncio.run(measure(args.url, key, args.count, args.concurrency))
    print(
        f"{rate:.0f} accepted requests/s ({args.count} requests, concurrency "
        f"{args.concurrency}, {failures} not accepted)"
    )


if __name__ == "__main__":
    main()
