"""Kafka topics of the public contract, with their partition counts.

Every record is keyed by ``request_id``: all events of one request land on the same
partition of a topic and are therefore read in the order they were written, while
different requests spread across partitions and consumer instances.
"""

from __future__ import annotations

from typing import Final

REQUEST_RECEIVED: Final = "docket.request.received"
REQUEST_AMENDED: Final = "docket.request.amended"
REQUEST_DECIDED: Final = "docket.request.decided"
REQUEST_CLASSIFIED: Final = "docket.request.classified"
REQUEST_CLASSIFIED_SHADOW: Final = "docket.request.classified.shadow"
NOTIFICATION: Final = "docket.notification"
#: What legal staff decided about a request (verification, overrides, holds, production,
#: assignment, comments): one topic, so one request's counsel actions stay in order.
REQUEST_COUNSEL: Final = "docket.request.counsel"
DEADLETTER: Final = "docket.deadletter"
#: A request's clocks: a deadline coming up or missed (audit's deadline scheduler).
DEADLINE: Final = "docket.deadline"
#: Audit's own ledger: every record audit read from the topics above, in the one order
#: the log is built in. A single partition makes that order total, so replaying it into
#: an empty database rebuilds the same tree.
AUDIT_LEDGER: Final = "docket.audit.ledger"

#: topic name -> partition count. Six partitions lets up to six instances of a
#: consumer service share the load while one request's events stay in order.
PARTITIONS: Final[dict[str, int]] = {
    REQUEST_RECEIVED: 6,
    REQUEST_AMENDED: 6,
    REQUEST_DECIDED: 6,
    REQUEST_CLASSIFIED: 6,
    REQUEST_CLASSIFIED_SHADOW: 6,
    NOTIFICATION: 6,
    REQUEST_COUNSEL: 6,
    DEADLETTER: 3,
    DEADLINE: 3,
    AUDIT_LEDGER: 1,
}

DAY_MS: Final = 24 * 60 * 60 * 1000
#: How long a record of a pipeline topic stays on it: long enough for every consumer to
#: read it through an outage of a week or more (consumer lag is alerted on long before),
#: short enough that personal data does not pile up on the broker. What must be kept is
#: in the services' own tables and audit's append-only log (docs/data-protection.md).
PIPELINE_RETENTION_MS: Final = 14 * DAY_MS
#: ``retention.ms`` of each topic (-1: kept for ever). The ledger is kept for ever
#: because replaying it from offset 0 into an empty audit database rebuilds the same
#: tree; the audit database stays the record (its backups, not Kafka, are what is kept).
RETENTION_MS: Final[dict[str, int]] = {
    REQUEST_RECEIVED: PIPELINE_RETENTION_MS,
    REQUEST_AMENDED: PIPELINE_RETENTION_MS,
    REQUEST_DECIDED: PIPELINE_RETENTION_MS,
    REQUEST_CLASSIFIED: PIPELINE_RETENTION_MS,
    REQUEST_CLASSIFIED_SHADOW: PIPELINE_RETENTION_MS,
    NOTIFICATION: PIPELINE_RETENTION_MS,
    REQUEST_COUNSEL: PIPELINE_RETENTION_MS,
    DEADLETTER: PIPELINE_RETENTION_MS,
    DEADLINE: PIPELINE_RETENTION_MS,
    AUDIT_LEDGER: -1,
}


def retention_configs(topic: str) -> dict[str, str]:
    """The topic-level configs that set ``topic``'s retention: ``retention.ms`` from
    :data:`RETENTION_MS`, no size bound, deletion (not compaction), and, for a bounded
    topic, a segment rolled daily so that expired records are deleted within a day
    (Kafka deletes whole segments only). Empty for a topic not listed."""
    if topic not in RETENTION_MS:
        return {}
    retention = RETENTION_MS[topic]
    configs = {"retention.ms": str(retention), "retention.bytes": "-1", "cleanup.policy": "delete"}
    if retention > 0:
        configs["segment.ms"] = str(min(DAY_MS, retention))
    return configs


#: Every topic whose records the audit log keeps.
AUDITED_TOPICS: Final[tuple[str, ...]] = (
    REQUEST_RECEIVED,
    REQUEST_AMENDED,
    REQUEST_DECIDED,
    REQUEST_CLASSIFIED,
    REQUEST_CLASSIFIED_SHADOW,
    NOTIFICATION,
    REQUEST_COUNSEL,
    DEADLETTER,
    DEADLINE,
)

ALL_TOPICS: Final[tuple[str, ...]] = tuple(PARTITIONS)
