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
