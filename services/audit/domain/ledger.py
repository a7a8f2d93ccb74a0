"""One entry of audit's ledger: a record read from a Docket topic, as it will be kept.

The leaf of the Merkle tree is the RFC 8785 canonical JSON of this entry, so it is
reproducible from the ledger topic alone. A record that is not a readable Docket event
is kept too, with the reason, never dropped.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator

from services.audit.domain.canonical import canonical_json
from shared.events import (
    DeadLettered,
    Envelope,
    EventData,
    EventRejected,
    event_name,
    parse_data,
)


class UnreadableRecord(BaseModel):
    """A record audit could not read as a Docket event."""

    model_config = ConfigDict(frozen=True)

    reason: str
    partition: int
    offset: int
    key: str | None = None
    size: int
    sha256: str
    value_b64: str


class LedgerEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    source_topic: str
    trace_id: str | None = None
    event: dict[str, Any] | None = None
    unreadable: UnreadableRecord | None = None
    #: ``event`` validated once, as an envelope (an entry is read many times per append).
    _envelope: Envelope | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _one_record(self) -> LedgerEntry:
        """Exactly one of ``event`` (a CloudEvents envelope) and ``unreadable``: a
        record on the ledger topic that is JSON of another shape is not an entry (the
        log writer keeps it as an unreadable record instead of failing on it forever)."""
        if (self.event is None) == (self.unreadable is None):
            raise ValueError("a ledger entry holds either an event or an unreadable record")
        if self.event is not None:
            self._envelope = Envelope.model_validate(self.event)
        return self

    @property
    def event_id(self) -> str:
        if self.event is not None:
            return str(self.event["id"])
        assert self.unreadable is not None
        return (
            f"unreadable:{self.source_topic}:{self.unreadable.partition}:{self.unreadable.offset}"
        )

    @property
    def event_type(self) -> str:
        """The event's name (``RequestReceived``), the same for all its versions."""
        return event_name(str(self.event["type"])) if self.event is not None else "UnreadableRecord"

    @property
    def request_id(self) -> str:
        if self.event is not None:
            return str(self.event["subject"])
        assert self.unreadable is not None
        return self.unreadable.key or "unknown"

    @property
    def occurred_at(self) -> datetime:
        if self._envelope is not None:
            return self._envelope.time
        return datetime.fromtimestamp(0, UTC)

    def typed_event(self) -> EventData | None:
        """The event's typed data, or None when it is unreadable or of a type/version
        this audit does not project (it is still kept in the log)."""
        if self._envelope is None:
            return None
        try:
            return parse_data(self._envelope)
        except (EventRejected, ValueError):
            return None

    def leaf_data(self) -> bytes:
        return canonical_json(self.model_dump(mode="json", exclude_none=True))

    def to_record(self) -> bytes:
        return json.dumps(self.model_dump(mode="json", exclude_none=True)).encode("utf-8")


class DeadLetterView(BaseModel):
    """A record some consumer (or audit itself) could not process, without its value."""

    model_config = ConfigDict(frozen=True)

    kind: str
    reason: str
    consumer: str
    source_topic: str
    partition: int
    offset: int
    key: str | None
    size: int
    sha256: str
    failed_at: datetime | None


def dead_letter_of(entry: LedgerEntry) -> DeadLetterView | None:
    """The dead-letter facts of an entry; None when it is neither kind."""
    if entry.unreadable is not None:
        record = entry.unreadable
        return DeadLetterView(
            kind="UnreadableRecord",
            reason=record.reason,
            consumer="audit",
            source_topic=entry.source_topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            size=record.size,
            sha256=record.sha256,
            failed_at=None,
        )
    typed = entry.typed_event()
    if not isinstance(typed, DeadLettered):
        return None
    return DeadLetterView(
        kind="DeadLettered",
        reason=typed.reason,
        consumer=typed.consumer,
        source_topic=typed.original_topic,
        partition=typed.original_partition,
        offset=typed.original_offset,
        key=typed.original_key,
        size=typed.original_size,
        sha256=typed.original_sha256,
        failed_at=typed.failed_at,
    )
