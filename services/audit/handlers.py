"""Audit's two Kafka entry points.

1. ``ingest``: every record on every Docket topic becomes a ledger entry on the
   single-partition ledger topic (unreadable records included, with the reason).
2. ``write_log``: the ledger, read in order by one writer, is appended to the log in
   PostgreSQL with the ledger position in the same transaction.
"""

from __future__ import annotations

import base64
import hashlib

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry import trace
from opentelemetry.trace import Tracer

from services.audit.domain.ledger import LedgerEntry, UnreadableRecord
from services.audit.store import AuditStore, PendingEntry
from shared import topics
from shared.events import EventRejected, parse_data, parse_envelope
from shared.kafka import EventPublisher, dead_letter_for, derived_event_id, record_info
from shared.telemetry import trace_id_from_traceparent

log = structlog.get_logger("docket.audit")

MAX_KEPT_BYTES = 64 * 1024


def ledger_entry_for(body: bytes, message: KafkaMessage) -> LedgerEntry:
    info = record_info(message)
    trace_id = trace_id_from_traceparent(info.headers.get("traceparent"))
    try:
        envelope = parse_envelope(body)
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
    if ingest:
        _register_ingest(broker, f"{group_prefix}-ingest", instance_id)

    @broker.subscriber(
        topics.AUDIT_LEDGER,
        group_id=f"{group_prefix}-log",
        group_instance_id=instance_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
    )
    async def write_log(message: KafkaMessage) -> None:
        info = record_info(message)
        try:
            entry = LedgerEntry.model_validate_json(message.body)
        except ValueError:
            entry = ledger_entry_for(message.body, message)
        with structlog.contextvars.bound_contextvars(
            request_id=entry.request_id, event_id=entry.event_id
        ):
            with (tracer or trace.get_tracer(__name__)).start_as_current_span("append") as span:
                added = await store.append(
                    [PendingEntry(entry, info.topic, info.partition, info.offset)]
                )
                span.set_attribute("docket.audit.leaves_added", added)
            log.debug("ledger_entry_stored", added=added, event_type=entry.event_type)


#: Topics whose records only audit reads: an unreadable one is dead-lettered by audit.
#: (Poison on the dead-letter topic itself is already there; it is kept with its reason.)
AUDIT_IS_ONLY_READER = frozenset(
    {topics.REQUEST_DECIDED, topics.REQUEST_CLASSIFIED_SHADOW, topics.NOTIFICATION}
)


def _register_ingest(broker: KafkaBroker, group_id: str, instance_id: str | None) -> None:
    dead_letters = EventPublisher(broker, source="/docket/audit")

    @broker.subscriber(
        *topics.AUDITED_TOPICS,
        group_id=group_id,
        group_instance_id=instance_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    async def ingest(message: KafkaMessage) -> None:
        entry = ledger_entry_for(message.body, message)
        await broker.publish(
            entry.to_record(),
            topic=topics.AUDIT_LEDGER,
            key=entry.request_id.encode("utf-8"),
            headers={"content-type": "application/json"},
        )
        info = record_info(message)
        if entry.unreadable is not None and info.topic in AUDIT_IS_ONLY_READER:
            # No other service reads this topic, so no one else would dead-letter it.
            letter = dead_letter_for(message.body, info, "audit", entry.unreadable.reason)
            await dead_letters.publish(
                letter,
                event_id=derived_event_id(
                    "deadletter", "audit", info.topic, str(info.partition), str(info.offset)
                ),
            )
