"""Audit's two Kafka entry points.

1. ``ingest``: every record on every Docket topic becomes a ledger entry on the
   single-partition ledger topic (unreadable records included, with the reason).
2. ``write_log``: the ledger, read in order by one writer, is appended to the log in
   PostgreSQL a batch of records per transaction, with the ledger position in the same
   transaction.

Both read batches; on an outage of the broker or database nothing of a batch is
committed and it is read again after a pause (duplicates are absorbed by event id).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import Any

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from services.audit.domain.ledger import LedgerEntry, UnreadableRecord
from services.audit.store import AuditStore, PendingEntry
from shared import topics
from shared.events import EventRejected, parse_data, parse_envelope
from shared.kafka import (
    TRANSIENT_ERRORS,
    EventPublisher,
    RecordInfo,
    batch_records,
    pause_for_outage,
    publish_dead_letter,
)
from shared.telemetry import trace_id_from_traceparent

log = structlog.get_logger("docket.audit")

MAX_KEPT_BYTES = 64 * 1024
#: Records per batch of either subscriber: one transaction (log writer) or one round of
#: acks (ingest) each; small enough to stay far below ``max_poll_interval_ms``.
MAX_BATCH_RECORDS = 500
#: How long a poll waits for records; a batch is handed over as soon as records arrive,
#: but FastStream sleeps this long again after an empty poll: it bounds the added latency.
BATCH_WAIT_MS = 50
_PROPAGATOR = TraceContextTextMapPropagator()


def ledger_entry_for(body: bytes, info: RecordInfo) -> LedgerEntry:
    """A record read from a Docket topic as a ledger entry (an unreadable one with its
    reason)."""
    trace_id = trace_id_from_traceparent(info.headers.get("traceparent"))
    try:
        envelope = parse_envelope(body, info.headers)
        parse_data(envelope)  # an unknown type or version is kept with its reason too
    except EventRejected as rejected:
        return LedgerEntry(
            source_topic=info.topic,
            trace_id=trace_id,
            unreadable=UnreadableRecord(
                reason=rejected.reason,
                partition=info.partition,
                offset=info.offset,
                key=info.key,
                size=len(body),
                sha256=hashlib.sha256(body).hexdigest(),
                value_b64=base64.b64encode(body[:MAX_KEPT_BYTES]).decode("ascii"),
            ),
        )
    return LedgerEntry(
        source_topic=info.topic,
        trace_id=trace_id,
        event=envelope.model_dump(mode="json"),
    )


def pending_entry_for(body: bytes, info: RecordInfo) -> PendingEntry:
    """A record of the ledger topic and its position; one that is not a ledger entry is
    kept as an unreadable record with its reason instead of blocking the log."""
    try:
        entry = LedgerEntry.model_validate_json(body)
    except ValueError:
        entry = ledger_entry_for(body, info)
    return PendingEntry(entry, info.topic, info.partition, info.offset)


def register_handlers(
    broker: KafkaBroker,
    store: AuditStore,
    instance_id: str | None = None,
    group_prefix: str = "docket-audit",
    ingest: bool = True,
    tracer: Tracer | None = None,
) -> None:
    """``ingest=False`` registers the log writer only: replaying the ledger into an
    empty database must not copy the Docket topics into the ledger a second time."""
    tracer = tracer or trace.get_tracer(__name__)
    if ingest:
        _register_ingest(broker, f"{group_prefix}-ingest", instance_id, tracer)

    @broker.subscriber(
        topics.AUDIT_LEDGER,
        group_id=f"{group_prefix}-log",
        group_instance_id=instance_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        batch=True,
        max_records=MAX_BATCH_RECORDS,
        batch_timeout_ms=BATCH_WAIT_MS,
    )
    async def write_log(message: KafkaMessage) -> None:
        """A batch of ledger records in one transaction; on an outage nothing is
        committed and the whole batch is read again."""
        records = batch_records(message)
        pending = [pending_entry_for(body, info) for body, info in records]
        # One "append" span per record, in the trace of the request it belongs to.
        spans = [tracer.start_span("append", context=_traced(info)) for _, info in records]
        try:
            added = await store.append_many(pending)
        except BaseException as error:
            for span in spans:
                span.set_status(StatusCode.ERROR, type(error).__name__)
                span.end()
            await _pause_if_outage(error)
            raise
        for span in spans:
            span.set_attribute("docket.audit.batch_leaves_added", added)
            span.end()
        log.debug("ledger_batch_stored", records=len(pending), added=added)


#: Topics whose records only audit reads: an unreadable one is dead-lettered by audit.
#: (Poison on the dead-letter topic itself is already there; it is kept with its reason.)
AUDIT_IS_ONLY_READER = frozenset(
    {topics.REQUEST_CLASSIFIED_SHADOW, topics.NOTIFICATION, topics.DEADLINE}
)


async def _pause_if_outage(error: BaseException) -> None:
    """Before a batch is read again after an outage (as ``subscribe_events`` does)."""
    if isinstance(error, TRANSIENT_ERRORS):
        await pause_for_outage(error)


def _traced(info: RecordInfo) -> Context:
    return _PROPAGATOR.extract({"traceparent": info.headers.get("traceparent", "")})


def _register_ingest(
    broker: KafkaBroker, group_id: str, instance_id: str | None, tracer: Tracer
) -> None:
    dead_letters = EventPublisher(broker, source="/docket/audit")

    @broker.subscriber(
        *topics.AUDITED_TOPICS,
        group_id=group_id,
        group_instance_id=instance_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=16 * 1024 * 1024,
        batch=True,
        max_records=MAX_BATCH_RECORDS,
        batch_timeout_ms=BATCH_WAIT_MS,
    )
    async def ingest(message: KafkaMessage) -> None:
        """Every record of a batch onto the ledger, sent in the order read (one
        partition, idempotent producer: order kept) and the acks awaited together; on
        a failure nothing is committed and the batch is read again (the log writer
        absorbs the duplicates)."""
        try:
            unreadable = await _to_ledger(batch_records(message))
            for body, info, reason in unreadable:
                # No other service reads this topic, so no one else would dead-letter it.
                await publish_dead_letter(dead_letters, body, info, "audit", reason)
        except BaseException as error:
            await _pause_if_outage(error)
            raise

    async def _to_ledger(
        records: list[tuple[bytes, RecordInfo]],
    ) -> list[tuple[bytes, RecordInfo, str]]:
        """Publish every record's ledger entry without waiting, then await every ack;
        returns the unreadable records audit alone must dead-letter."""
        sends: list[asyncio.Future[Any]] = []
        unreadable: list[tuple[bytes, RecordInfo, str]] = []
        try:
            for body, info in records:
                entry = ledger_entry_for(body, info)
                with tracer.start_as_current_span("ledger", context=_traced(info)):
                    sent = await broker.publish(
                        entry.to_record(),
                        topic=topics.AUDIT_LEDGER,
                        key=entry.request_id.encode("utf-8"),
                        headers={"content-type": "application/json"},
                        no_confirm=True,
                    )
                if isinstance(sent, asyncio.Future):
                    sends.append(sent)
                if entry.unreadable is not None and info.topic in AUDIT_IS_ONLY_READER:
                    unreadable.append((body, info, entry.unreadable.reason))
        finally:
            results = await asyncio.gather(*sends, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return unreadable
