"""Load generator for intake: accepted requests per second at saturation (closed loop)
or a fixed offered rate (open loop), with per-request latency.

``make bench`` runs it as a separate process (so its CPU is not the measured
services'); it can also be pointed at a running intake (``make run``)::

    DOCKET_API_KEY=... python -m bench.intake_rate --url http://127.0.0.1:8080
    DOCKET_API_KEY=... python -m bench.intake_rate --rate 200 --duration 10 --out run.json

or be self-contained (a broker, a PostgreSQL and intake are started for the run)::

    python -m bench.intake_rate --self-contained

Bodies cycle through the requests of ``tests/policy_cases`` under fresh
``external_ref`` values, so every POST is a new request: one Kafka write acknowledged by
all in-sync replicas and one committed database row. Bodies are encoded before the clock
starts and sent over plain-http keep-alive connections by a minimal HTTP/1.1 client, so
that the load generator's own CPU (it shares the machine, and with ``--self-contained``
the process) stays small next to intake's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.cases import BodyMix, http_cases, load_cases


@dataclass
class Sample:
    request_id: str | None
    #: wall clock (time.time()) when the POST was sent: comparable to PostgreSQL's now()
    sent_at: float
    latency_s: float
    status: int


@dataclass
class LoadResult:
    mode: str
    offered_rate: float | None
    started_at: float
    finished_at: float
    samples: list[Sample] = field(default_factory=list)

    @property
    def accepted(self) -> list[Sample]:
        return [s for s in self.samples if s.status == 202]

    def accepted_per_s(self) -> float:
        accepted = self.accepted
        if not accepted:
            return 0.0
        span = max(s.sent_at + s.latency_s for s in accepted) - self.started_at
        return len(accepted) / span if span > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "offered_rate": self.offered_rate,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "samples": [asdict(s) for s in self.samples],
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> LoadResult:
        return cls(
            mode=doc["mode"],
            offered_rate=doc["offered_rate"],
            started_at=doc["started_at"],
            finished_at=doc["finished_at"],
            samples=[Sample(**s) for s in doc["samples"]],
        )


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank on sorted values; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


class _Connection:
    """One keep-alive HTTP/1.1 connection that POSTs pre-encoded JSON bodies and reads
    each answer by its Content-Length. The load generator has to cost far less CPU per
    call than the server it measures: an httpx client spent about 2.5 ms per call here,
    more than intake itself, and capped the measured rate near 300/s."""

    def __init__(self, url: str, key: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"the load generator speaks plain http only, not {url!r}")
        self._host, self._port = parts.hostname, parts.port or 80
        self._head = (
            f"POST {parts.path.rstrip('/')}/v1/requests HTTP/1.1\r\n"
            f"host: {parts.netloc}\r\nauthorization: Bearer {key}\r\n"
            "content-type: application/json\r\ncontent-length: "
        ).encode()
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, body: bytes) -> Sample:
        sent_at, began = time.time(), time.perf_counter()
        try:
            status, answer = await self._exchange(body)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            await self.close()  # reconnect on the next call
            return Sample(None, sent_at, time.perf_counter() - began, 0)
        latency = time.perf_counter() - began
        request_id = json.loads(answer).get("request_id") if status == 202 else None
        return Sample(request_id, sent_at, latency, status)

    async def _exchange(self, body: bytes) -> tuple[int, bytes]:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._streams
        writer.write(self._head + str(len(body)).encode() + b"\r\n\r\n" + body)
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionResetError("the server closed the connection")
        status = int(status_line.split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
            elif name.strip().lower() == b"connection" and b"close" in value.lower():
                self._streams = None  # the server closes it after this answer
        answer = await reader.readexactly(length)
        if self._streams is None:
            writer.close()
        return status, answer

    async def close(self) -> None:
        if self._streams is not None:
            _, writer = self._streams
            self._streams = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _encoded(bodies: BodyMix, count: int) -> list[bytes]:
    return [json.dumps(bodies()).encode() for _ in range(count)]


async def closed_loop(url: str, key: str, count: int, concurrency: int) -> LoadResult:
    """Post ``count`` new requests, ``concurrency`` at a time (saturation)."""
    bodies = BodyMix(http_cases(load_cases()))
    warm_up, *prepared = _encoded(bodies, count + 1)
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in prepared:
        queue.put_nowait(body)
    connections = [_Connection(url, key) for _ in range(concurrency)]
    try:
        await connections[0].post(warm_up)  # connections, metadata
        result = LoadResult("closed", None, time.time(), 0.0)

        async def worker(connection: _Connection) -> None:
            while not queue.empty():
                result.samples.append(await connection.post(queue.get_nowait()))

        await asyncio.gather(*(worker(connection) for connection in connections))
        result.finished_at = time.time()
    finally:
        await asyncio.gather(*(connection.close() for connection in connections))
    return result


async def open_loop(
    url: str, key: str, rate: float, duration_s: float, max_in_flight: int = 512
) -> LoadResult:
    """Send at ``rate`` requests/s for ``duration_s`` whatever the answers' latency
    (open loop: a slow server does not slow the arrivals down, up to ``max_in_flight``)."""
    bodies = BodyMix(http_cases(load_cases()))
    count = max(1, round(rate * duration_s))
    warm_up, *prepared = _encoded(bodies, count + 1)
    idle: list[_Connection] = []
    opened: list[_Connection] = []
    slots = asyncio.Semaphore(max_in_flight)

    async def post(body: bytes) -> Sample:
        async with slots:
            if idle:
                connection = idle.pop()
            else:
                connection = _Connection(url, key)
                opened.append(connection)
            try:
                return await connection.post(body)
            finally:
                idle.append(connection)

    try:
        await post(warm_up)
        loop = asyncio.get_running_loop()
        result = LoadResult("open", rate, time.time(), 0.0)
        began = loop.time()
        tasks: list[asyncio.Task[Sample]] = []
        for i, body in enumerate(prepared):
            delay = began + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post(body)))
        result.samples = list(await asyncio.gather(*tasks))
        result.finished_at = time.time()
    finally:
        await asyncio.gather(*(connection.close() for connection in opened))
    return result


async def measure(url: str, key: str, count: int, concurrency: int) -> tuple[float, int]:
    """Post ``count`` new requests, ``concurrency`` at a time; (requests/s, non-202s)."""
    result = await closed_loop(url, key, count, concurrency)
    return result.accepted_per_s(), len(result.samples) - len(result.accepted)


async def self_contained(count: int, concurrency: int) -> tuple[float, int]:
    from deploy.kafka.launcher import ensure_kafka
    from deploy.postgres.launcher import DatabaseRoles, LocalPostgres, prepare_database
    from services.intake.app import create_app
    from shared.settings import IntakeSettings
    from tests.fixtures.servers import free_port, start_service

    work = Path(tempfile.mkdtemp(prefix="docket-bench-"))
    pg_data = Path(tempfile.mkdtemp(prefix="docket-pg-bench-"))  # the data dir itself
    postgres = LocalPostgres(pg_data)
    kafka, broker = await ensure_kafka(work / "kafka")
    try:
        admin_url = postgres.start()
        roles = DatabaseRoles.generate()
        owner_url = await prepare_database(admin_url, "bench", roles)
        secret = secrets.token_urlsafe(32)
        port = free_port()
        settings = IntakeSettings(
            **kafka.service_settings("intake"),
            database_url=roles.service_url(owner_url, "intake"),
            bootstrap_key=f"bench:legal:{secret}",
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


def summary(result: LoadResult) -> str:
    latencies = [s.latency_s * 1000 for s in result.accepted]
    refused = len(result.samples) - len(result.accepted)
    offered = f"offered {result.offered_rate:.0f}/s, " if result.offered_rate else ""
    mean = statistics.fmean(latencies) if latencies else float("nan")
    return (
        f"{result.mode} loop: {offered}{result.accepted_per_s():.0f} accepted/s "
        f"({len(result.samples)} requests, {refused} not accepted); latency ms "
        f"p50 {percentile(latencies, 50):.1f} p99 {percentile(latencies, 99):.1f} "
        f"mean {mean:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--url", default=os.environ.get("DOCKET_INTAKE_URL", "http://127.0.0.1:8080")
    )
    parser.add_argument("--count", type=int, default=2_000, help="closed loop: requests")
    parser.add_argument("--concurrency", type=int, default=32, help="closed loop: in flight")
    parser.add_argument("--rate", type=float, help="open loop at this rate (requests/s)")
    parser.add_argument("--duration", type=float, default=10.0, help="open loop: seconds")
    parser.add_argument("--out", type=Path, help="write every sample here (JSON)")
    parser.add_argument("--self-contained", action="store_true")
    args = parser.parse_args()
    if args.self_contained:
        rate, failures = asyncio.run(self_contained(args.count, args.concurrency))
        print(f"{rate:.0f} accepted requests/s ({args.count} requests, {failures} not accepted)")
        return
    key = os.environ.get("DOCKET_API_KEY")
    if not key:
        parser.error("set DOCKET_API_KEY to a key with the submit scope")
    if args.rate:
        result = asyncio.run(open_loop(args.url, key, args.rate, args.duration))
    else:
        result = asyncio.run(closed_loop(args.url, key, args.count, args.concurrency))
    if args.out:
        args.out.write_text(json.dumps(result.to_json()), encoding="utf-8")
    print(summary(result), flush=True)


if __name__ == "__main__":
    main()
