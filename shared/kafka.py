"""Kafka adapters shared by the services: a broker with durable producer settings,
an event publisher, and a consumer wrapper that never loses or silently drops a record.

Delivery contract of a consumer built with :func:`subscribe_events`:

* a record that is not a Docket event this service reads (not JSON, not a CloudEvents
  event in structured or binary mode, unknown type or version, invalid data) goes to
  ``docket.deadletter`` with the reason, then its offset is committed: the consumer
  moves on;
* a handler that fails on a good record is retried a few times, then the record is
  dead-lettered the same way;
* when the infrastructure itself is down (broker, database) nothing is committed: the
  record is read again after a pause, so it is processed once the outage ends.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg
import structlog
from aiokafka import AIOKafkaClient, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError, OutOfOrderSequenceNumber
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from shared.events import (
    CONTENT_TYPE,
    DeadLettered,
    Envelope,
    EventData,
    EventRejected,
    envelope_for,
    event_name,
    parse_event,
)
from shared.kafka_security import KafkaSecurity, client_options, faststream_security
from shared.retry import KAFKA_STARTUP, RECORD_HANDLER

log = structlog.get_logger("docket.kafka")

#: Failures of the infrastructure rather than of the record: retried without end.
#: PostgreSQL's own classes of them count too: 53 insufficient resources (a full disk,
#: out of memory, too many connections), 57 operator intervention (shutting down,
#: starting up, a statement cancelled) and 58 system errors (I/O): a record is never
#: dead-lettered because the database's disk was full (found by the full-disk test).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    KafkaError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InsufficientResourcesError,
    asyncpg.OperatorInterventionError,
    asyncpg.PostgresSystemError,
)
#: How long an outage of the broker or database is waited out before a re-read.
OUTAGE_PAUSE_S = 2.0
#: Stable namespace for deterministic event ids (uuid5).
EVENT_ID_NAMESPACE = uuid.UUID("5b0b6f0e-6a53-4c1f-9f7e-2d6a4c0d0c3e")


def derived_event_id(*parts: str) -> str:
    """A deterministic event id: the same cause yields the same event, so a handler
    that runs twice after a crash produces a duplicate the sinks absorb."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, "|".join(parts)))


def server_list(bootstrap_servers: str) -> list[str]:
    """``host:port,host:port`` as a list."""
    return [server.strip() for server in bootstrap_servers.split(",") if server.strip()]


def create_broker(
    bootstrap_servers: str,
    service: str,
    tracer_provider: TracerProvider,
    registry: CollectorRegistry,
    security: KafkaSecurity,
    linger_ms: int = 0,
) -> KafkaBroker:
    """Producer: acks from all in-sync replicas and idempotence (no duplicates from
    producer retries); a publish waits up to ``linger_ms`` for others to share its batch.
    Every subscriber commits only after its handler finished. Raises
    ``KafkaSecurityError`` (a ``ValueError``) for unusable or unsafe security settings."""
    return KafkaBroker(
        server_list(bootstrap_servers),
        security=faststream_security(security),
        client_id=f"docket-{service}",
        acks="all",
        enable_idempotence=True,
        linger_ms=linger_ms,
        request_timeout_ms=15_000,
        graceful_timeout=20.0,
        middlewares=(
            KafkaTelemetryMiddleware(tracer_provider=tracer_provider),
            KafkaPrometheusMiddleware(registry=registry, app_name=f"docket-{service}"),
        ),
        logger=None,
    )


async def wait_for_kafka(bootstrap_servers: str, security: KafkaSecurity, timeout_s: float) -> None:
    """Retry the broker (``KAFKA_STARTUP``) until it answers or ``timeout_s`` has passed;
    one log line per retry, a ``ConnectionError`` with one clear sentence at the end."""
    options = client_options(security)

    async def connect() -> None:
        client = AIOKafkaClient(
            bootstrap_servers=bootstrap_servers, request_timeout_ms=5_000, **options
        )
        try:
            await client.bootstrap()
        finally:
            await client.close()

    try:
        await replace(KAFKA_STARTUP, within_s=timeout_s).call(
            connect,
            retry_if=lambda error: isinstance(error, KafkaError),
            bootstrap_servers=bootstrap_servers,
        )
    except KafkaError as error:
        raise ConnectionError(
            f"Kafka at {bootstrap_servers} is unreachable (or refused our credentials)"
            f" after {timeout_s:.0f}s ({type(error).__name__})"
        ) from None


#: Producer errors aiokafka's idempotent producer does not recover from (its sequence
#: numbers broke, typically across a broker restart): every later send fails the same
#: way, so the instance must be replaced. ``/healthz`` answers 503 once one was seen.
FATAL_PRODUCER_ERRORS: Final = (OutOfOrderSequenceNumber,)
_wedged_producers: weakref.WeakKeyDictionary[KafkaBroker, str] = weakref.WeakKeyDictionary()


def producer_problem(broker: KafkaBroker) -> str | None:
    """Why ``broker``'s producer can no longer publish, or None while it can."""
    return _wedged_producers.get(broker)


class EventPublisher:
    """Publishes Docket events: CloudEvents structured envelope as the value, request
    id as the key, ``traceparent`` added by the telemetry middleware. Returns only
    once the broker acknowledged the write."""

    def __init__(self, broker: KafkaBroker, source: str) -> None:
        self._broker = broker
        self.source = source

    async def publish(self, data: EventData, *, event_id: str | None = None) -> Envelope:
        envelope = envelope_for(data, source=self.source, event_id=event_id)
        await self.publish_envelope(envelope, data.TOPIC)
        return envelope

    async def publish_envelope(self, envelope: Envelope, topic: str) -> None:
        try:
            await self._broker.publish(
                envelope.to_bytes(),
                topic=topic,
                key=envelope.subject.encode("utf-8"),
                headers={"content-type": CONTENT_TYPE},
            )
        except FATAL_PRODUCER_ERRORS as error:
            _wedged_producers[self._broker] = (
                f"the Kafka producer cannot publish any more ({type(error).__name__})"
            )
            raise


@dataclass(frozen=True)
class RecordInfo:
    """Where a record came from, for logs, dead letters and the audit log."""

    topic: str
    partition: int
    offset: int
    key: str | None
    headers: dict[str, str]
    timestamp_ms: int


def record_info(message: KafkaMessage) -> RecordInfo:
    raw = message.raw_message
    if isinstance(raw, tuple):  # a batch subscriber's message: see batch_records
        raise TypeError("expected a single Kafka record, got a batch")
    return _info_of(raw, {k: str(v) for k, v in message.headers.items()})


def batch_records(message: KafkaMessage) -> list[tuple[bytes, RecordInfo]]:
    """Each record of a batch subscriber's message (``batch=True``), in the order
    read, with its value and where it came from."""
    raw = message.raw_message
    records = raw if isinstance(raw, tuple) else (raw,)
    return [
        (
            record.value or b"",
            _info_of(record, {k: v.decode("utf-8", "replace") for k, v in record.headers}),
        )
        for record in records
    ]


def _info_of(raw: ConsumerRecord[Any, Any], headers: dict[str, str]) -> RecordInfo:
    key = raw.key.decode("utf-8", "replace") if isinstance(raw.key, bytes) else None
    return RecordInfo(
        topic=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        key=key,
        headers=headers,
        timestamp_ms=raw.timestamp,
    )


def dead_letter_for(body: bytes, info: RecordInfo, consumer: str, reason: str) -> DeadLettered:
    kept = body[: DeadLettered.MAX_KEPT_BYTES]
    return DeadLettered(
        request_id=info.key or "unknown",
        consumer=consumer,
        reason=reason[:2_000],
        original_topic=info.topic,
        original_partition=info.partition,
        original_offset=info.offset,
        original_key=info.key,
        original_headers=info.headers,
        original_size=len(body),
        original_sha256=hashlib.sha256(body).hexdigest(),
        original_value_b64=base64.b64encode(kept).decode("ascii"),
        failed_at=datetime.now(UTC),
    )


EventHandler = Callable[[Envelope, EventData, RecordInfo], Awaitable[None]]


class ConsumerMetrics:
    """Prometheus metrics every consumer reports: processing time, end-to-end latency
    (event time to processed) by event type, and lag per partition."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._processing = Histogram(
            "docket_processing_seconds",
            "Time a handler took for one event",
            ["consumer", "event_type"],
            registry=registry,
        )
        self._end_to_end = Histogram(
            "docket_end_to_end_seconds",
            "From the event's time to the moment this consumer finished with it",
            ["consumer", "event_type"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=registry,
        )
        self._lag = Gauge(
            "docket_consumer_lag",
            "Records behind the end of the partition when a record was read",
            ["group", "topic", "partition"],
            registry=registry,
        )

    def processed(self, envelope: Envelope, consumer: str, seconds: float) -> None:
        name = event_name(envelope.type)  # one label value per event, whatever its version
        self._processing.labels(consumer, name).observe(seconds)
        age = (datetime.now(UTC) - envelope.time).total_seconds()
        self._end_to_end.labels(consumer, name).observe(max(age, 0.0))

    def observe_lag(self, kafka_consumer: object, info: RecordInfo, group: str) -> None:
        highwater = getattr(kafka_consumer, "highwater", None)
        if highwater is None:
            return
        end = highwater(TopicPartition(info.topic, info.partition))
        if end is not None:
            self._lag.labels(group, info.topic, str(info.partition)).set(
                max(end - info.offset - 1, 0)
            )


async def publish_dead_letter(
    publisher: EventPublisher, body: bytes, info: RecordInfo, consumer: str, reason: str
) -> None:
    """The record, with the reason, on the dead-letter topic. Its event id comes from
    where the record was read, so dead-lettering it again after a re-read is absorbed."""
    await publisher.publish(
        dead_letter_for(body, info, consumer, reason),
        event_id=derived_event_id(
            "deadletter", consumer, info.topic, str(info.partition), str(info.offset)
        ),
    )


async def pause_for_outage(error: BaseException) -> None:
    """Before records are read again because the broker or database is down: the
    offsets stay uncommitted, and this pause keeps the re-reads from spinning."""
    log.warning("infrastructure_unavailable_will_reread", error=type(error).__name__)
    await asyncio.sleep(OUTAGE_PAUSE_S)


def subscribe_events(
    broker: KafkaBroker,
    *,
    topic_names: tuple[str, ...],
    group_id: str,
    consumer: str,
    handler: EventHandler,
    publisher: EventPublisher,
    dead_letters: Counter,
    metrics: ConsumerMetrics | None = None,
    instance_id: str | None = None,
    attempts: int = 3,
) -> None:
    """Register ``handler`` for every Docket event on ``topic_names``; see the module
    docstring for what happens to records it cannot process."""

    async def dead_letter(body: bytes, info: RecordInfo, reason: str) -> None:
        await publish_dead_letter(publisher, body, info, consumer, reason)
        dead_letters.labels(topic=info.topic).inc()
        log.warning(
            "record_dead_lettered",
            topic=info.topic,
            partition=info.partition,
            offset=info.offset,
            reason=reason[:300],
        )

    subscriber = broker.subscriber(
        *topic_names,
        group_id=group_id,
        group_instance_id=instance_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        max_poll_interval_ms=300_000,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=3_000,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )

    @subscriber
    async def on_record(message: KafkaMessage) -> None:
        body: bytes = message.body
        info = record_info(message)
        if metrics is not None:
            metrics.observe_lag(subscriber.consumer, info, group_id)
        try:
            envelope, data = parse_event(body, info.headers)
        except EventRejected as rejected:
            await dead_letter(body, info, rejected.reason)
            return
        with structlog.contextvars.bound_contextvars(
            request_id=envelope.subject, event_id=envelope.id, event_type=data.EVENT_TYPE
        ):

            async def handle() -> None:
                started = time.perf_counter()
                await handler(envelope, data, info)
                if metrics is not None:
                    metrics.processed(envelope, consumer, time.perf_counter() - started)

            try:
                await replace(RECORD_HANDLER, attempts=attempts).call(
                    handle, retry_if=lambda error: not isinstance(error, TRANSIENT_ERRORS)
                )
            except TRANSIENT_ERRORS as error:
                await pause_for_outage(error)
                raise
            except Exception as error:  # a bug or a record the handler cannot take
                await dead_letter(
                    body,
                    info,
                    f"handler failed {attempts} times: {type(error).__name__}: {error}",
                )
