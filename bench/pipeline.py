"""The measurements that need the running stack: the raw Kafka passthrough baseline,
intake at saturation, end-to-end completion at fixed rates, ``docket audit rebuild`` and
the replay of the ledger into a fresh audit database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.cases import REPO, http_cases, load_cases
from bench.intake_rate import LoadResult, percentile
from bench.stack import Stack, stop_processes
from deploy.kafka.launcher import ensure_topics
from deploy.kafka.security import KafkaAccess
from deploy.postgres.launcher import prepare_database
from shared.events import (
    NotificationFailed,
    NotificationScheduled,
    NotificationWithheld,
    RequestClassified,
    RequestReceived,
    UserNotified,
    envelope_for,
)
from shared.submission import Submission

RECEIVED = RequestReceived.EVENT_TYPE
CLASSIFIED = RequestClassified.EVENT_TYPE
NOTICES = frozenset(
    cls.EVENT_TYPE
    for cls in (UserNotified, NotificationScheduled, NotificationWithheld, NotificationFailed)
)
WATCHED = (RECEIVED, CLASSIFIED, *sorted(NOTICES))


# --- 1. baseline: raw aiokafka passthrough --------------------------------------------


def received_payloads(count: int) -> list[tuple[bytes, bytes]]:
    """``count`` RequestReceived envelopes (key, value) cycling through the case mix."""
    submissions = [Submission.model_validate(c.request) for c in http_cases(load_cases())]
    made = []
    for i in range(count):
        request_id = str(uuid.uuid4())
        event = RequestReceived(
            request_id=request_id,
            submission=submissions[i % len(submissions)],
            submitted_by="bench",
            accepted_at=datetime.now(UTC),
        )
        made.append((request_id.encode(), envelope_for(event, source="/bench").to_bytes()))
    return made


async def baseline_passthrough(kafka: KafkaAccess, count: int) -> dict[str, float]:
    """A producer (acks=all, idempotent, as the services publish) writing ``count``
    RequestReceived envelopes to a 6-partition topic and a consumer reading them back on
    the same broker: messages/s from the first send to the last record read."""
    topic = f"bench.passthrough.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka, {topic: 6})
    payloads = received_payloads(count)
    consumer = AIOKafkaConsumer(
        topic,
        **kafka.client_options(),
        group_id=f"bench-{topic}",
        auto_offset_reset="earliest",
        enable_auto_commit=True,
    )
    producer = AIOKafkaProducer(
        **kafka.client_options(), acks="all", enable_idempotence=True, linger_ms=0
    )
    await consumer.start()
    await producer.start()
    try:
        while not consumer.assignment():  # joined the group before the clock starts
            await consumer.getmany(timeout_ms=100)
        began = time.perf_counter()

        async def produce() -> float:
            futures = [await producer.send(topic, value, key=key) for key, value in payloads]
            await asyncio.gather(*futures)
            return time.perf_counter() - began

        async def consume() -> float:
            seen = 0
            while seen < count:
                batches = await consumer.getmany(timeout_ms=500, max_records=1000)
                seen += sum(len(records) for records in batches.values())
            return time.perf_counter() - began

        produced_s, consumed_s = await asyncio.gather(produce(), consume())
    finally:
        await producer.stop()
        await consumer.stop()
    return {
        "messages": count,
        "messages_per_s": count / consumed_s,
        "produce_acked_per_s": count / produced_s,
        "payload_bytes_avg": sum(len(v) for _, v in payloads) / count,
    }


# --- 2./3. intake and end to end --------------------------------------------------------


@dataclass
class Completion:
    """What the audit log holds of one request."""

    types: set[str] = field(default_factory=set)
    #: stored_at (epoch seconds) of the event that completed it
    completed_at: float | None = None


class CompletionTracker:
    """Polls ``audit.event_log`` (new leaves only) and notes when each request first
    holds RequestReceived, RequestClassified and a notifier decision."""

    def __init__(self, database_url: str, interval_s: float = 0.05) -> None:
        self._url = database_url
        self._interval = interval_s
        self._next_leaf = 0
        self.requests: dict[str, Completion] = {}
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> CompletionTracker:
        self._conn: asyncpg.Connection = await asyncpg.connect(self._url)
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._conn.close()

    async def _run(self) -> None:
        while True:
            await self.poll()
            await asyncio.sleep(self._interval)

    async def poll(self) -> None:
        rows = await self._conn.fetch(
            "SELECT leaf_index, request_id, event_type, stored_at FROM audit.event_log"
            " WHERE leaf_index >= $1 AND event_type = ANY($2::text[]) ORDER BY leaf_index",
            self._next_leaf,
            list(WATCHED),
        )
        for row in rows:
            self._next_leaf = row["leaf_index"] + 1
            state = self.requests.setdefault(row["request_id"], Completion())
            kind = row["event_type"]
            state.types.add("notice" if kind in NOTICES else kind)
            if state.completed_at is None and len(state.types) == 3:
                state.completed_at = row["stored_at"].timestamp()

    def completed(self, request_ids: list[str]) -> dict[str, float]:
        done = {}
        for request_id in request_ids:
            state = self.requests.get(request_id)
            if state is not None and state.completed_at is not None:
                done[request_id] = state.completed_at
        return done

    async def wait_for(self, request_ids: list[str], timeout_s: float) -> dict[str, float]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            done = self.completed(request_ids)
            if len(done) == len(request_ids):
                return done
            await asyncio.sleep(0.1)
        return self.completed(request_ids)


async def run_load(stack: Stack, out: Path, args: list[str]) -> LoadResult:
    """The load generator (``bench.intake_rate``) in its own process."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.intake_rate",
        "--url",
        stack.intake_url,
        "--out",
        str(out),
        *args,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "DOCKET_API_KEY": stack.api_key},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{output.decode(errors='replace')}")
    return LoadResult.from_json(json.loads(await asyncio.to_thread(out.read_text)))


def _latency_stats(values_ms: list[float], prefix: str) -> dict[str, float]:
    return {
        f"{prefix}_p50_ms": percentile(values_ms, 50),
        f"{prefix}_p95_ms": percentile(values_ms, 95),
        f"{prefix}_p99_ms": percentile(values_ms, 99),
    }


async def end_to_end(
    stack: Stack,
    tracker: CompletionTracker,
    out: Path,
    load_args: list[str],
    drain_timeout_s: float,
) -> dict[str, Any]:
    """One load run and the pipeline's completion of every request it got accepted."""
    load = await run_load(stack, out, load_args)
    accepted = load.accepted
    ids = [s.request_id for s in accepted if s.request_id]
    done = await tracker.wait_for(ids, drain_timeout_s)
    sent = {s.request_id: s.sent_at for s in accepted}
    e2e_ms = [(done[r] - sent[r]) * 1000 for r in done]
    first_sent = min((s.sent_at for s in load.samples), default=load.started_at)
    last_done = max(done.values(), default=first_sent)
    intake_ms = [s.latency_s * 1000 for s in accepted]
    offered_span = max((s.sent_at for s in load.samples), default=first_sent) - first_sent
    result: dict[str, Any] = {
        "requests": len(load.samples),
        "accepted": len(accepted),
        "completed": len(done),
        "incomplete": len(ids) - len(done),
        "offered_per_s": (len(load.samples) - 1) / offered_span if offered_span > 0 else 0.0,
        "intake_accepted_per_s": load.accepted_per_s(),
        "e2e_per_s": len(done) / (last_done - first_sent) if last_done > first_sent else 0.0,
        **_latency_stats(intake_ms, "intake"),
        **_latency_stats(e2e_ms, "e2e"),
    }
    return result


# --- 5. rebuild and replay --------------------------------------------------------------


async def log_size(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM audit.event_log")
        return count
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await conn.close()


async def rebuild_rate(stack: Stack) -> dict[str, float]:
    """``docket audit rebuild`` on the benchmark's audit database: events/s."""
    events = await log_size(stack.database_url)
    began = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.cli",
        "audit",
        "rebuild",
        "--database-url",
        stack.database_url,
        cwd=REPO,
        env=stack.env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    elapsed = time.perf_counter() - began
    if process.returncode != 0:
        raise RuntimeError(f"docket audit rebuild failed:\n{output.decode(errors='replace')}")
    return {"events": events, "seconds": elapsed, "events_per_s": events / elapsed}


async def replay_rate(stack: Stack, timeout_s: float) -> dict[str, float]:
    """A fresh audit (fresh consumer-group prefix, ``DOCKET_INGEST=false``, empty
    database) replaying the ledger: events/s from its first stored leaf to the last,
    and from process start."""
    expected = await log_size(stack.database_url)
    name = f"docket_replay_{stack.token}"
    url = await prepare_database(stack.admin_url, name, stack.roles)
    began = time.perf_counter()
    process = stack.spawn(
        "audit",
        extra_env={
            "DOCKET_DATABASE_URL": stack.roles.service_url(url, "audit"),
            "DOCKET_INGEST": "false",
            "DOCKET_CONSUMER_GROUP_PREFIX": f"bench-{stack.token}-replay",
            "DOCKET_TREE_HEAD_INTERVAL_S": "0",
        },
        label="audit-replay",
    )
    first_leaf_at: float | None = None
    stored = 0
    try:
        deadline = began + timeout_s
        while time.perf_counter() < deadline:
            if process.popen.poll() is not None:
                raise RuntimeError(f"replaying audit exited:\n{process.log.read_text()[-3000:]}")
            stored = await log_size(url)
            now = time.perf_counter()
            if stored and first_leaf_at is None:
                first_leaf_at = now
            if stored >= expected:
                break
            await asyncio.sleep(0.1)
        finished = time.perf_counter()
    finally:
        await asyncio.to_thread(stop_processes, [process])
    streaming = finished - (first_leaf_at or began)
    return {
        "events": stored,
        "expected": expected,
        "events_per_s": stored / streaming if streaming > 0 else 0.0,
        "events_per_s_with_startup": stored / (finished - began),
    }
