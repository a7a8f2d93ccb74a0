"""The log writer's batch logic without a broker or database: which entries of a batch
are new, the views a batch leaves, and ledger records that are not entries."""

from __future__ import annotations

from services.audit.domain.ledger import LedgerEntry
from services.audit.domain.request_view import RequestView, apply_event, changed_views
from services.audit.handlers import pending_entry_for
from services.audit.store import PendingEntry, select_new
from shared import topics
from shared.events import envelope_for
from shared.kafka import RecordInfo
from tests.unit.audit import factories as f

LEDGER = topics.AUDIT_LEDGER


def entry(request_id: str, user: str, event_id: str) -> LedgerEntry:
    event = f.notified(request_id, user)
    envelope = envelope_for(event, source="/tests", event_id=event_id)
    return LedgerEntry(source_topic=event.TOPIC, event=envelope.model_dump(mode="json"))


def at(offset: int, item: LedgerEntry, partition: int = 0) -> PendingEntry:
    return PendingEntry(item, LEDGER, partition, offset)


def test_a_batch_keeps_new_entries_in_ledger_order() -> None:
    batch = [at(offset, entry("r", f"u{offset}", f"e{offset}")) for offset in range(5)]
    fresh, positions = select_new(batch, {}, set())
    assert fresh == batch
    assert positions == {(LEDGER, 0): 5}


def test_a_duplicate_in_the_batch_or_already_stored_is_skipped_once() -> None:
    batch = [
        at(10, entry("r", "u1", "stored-before")),
        at(11, entry("r", "u2", "e2")),
        at(12, entry("r", "u2", "e2")),  # redelivered by a producer retry
        at(13, entry("r", "u3", "e3")),
    ]
    fresh, positions = select_new(batch, {(LEDGER, 0): 10}, {"stored-before"})
    assert [item.entry.event_id for item in fresh] == ["e2", "e3"]
    assert [item.offset for item in fresh] == [11, 13]
    assert positions == {(LEDGER, 0): 14}


def test_offsets_below_the_stored_position_were_processed_and_are_skipped() -> None:
    batch = [at(offset, entry("r", f"u{offset}", f"e{offset}")) for offset in range(3, 8)]
    fresh, positions = select_new(batch, {(LEDGER, 0): 6}, set())
    assert [item.offset for item in fresh] == [6, 7]
    assert positions == {(LEDGER, 0): 8}
    # A batch entirely behind the stored position adds nothing and moves nothing back.
    fresh, positions = select_new(batch[:2], {(LEDGER, 0): 6}, set())
    assert fresh == []
    assert positions == {(LEDGER, 0): 6}


def test_positions_are_kept_per_partition() -> None:
    batch = [at(4, entry("r", "a", "a"), 0), at(9, entry("r", "b", "b"), 1)]
    fresh, positions = select_new(batch, {(LEDGER, 1): 10}, set())
    assert [item.entry.event_id for item in fresh] == ["a"]
    assert positions == {(LEDGER, 0): 5, (LEDGER, 1): 10}


def test_changed_views_equal_applying_the_events_one_at_a_time() -> None:
    sub = f.submission()
    events = [f.received("a", sub), f.notified("a", "u1"), f.received("b", sub)]
    events += [f.notified("a", "u2"), f.decided("b", "disclosed")]
    start = {"a": apply_event(None, events[0])}
    one_by_one: dict[str, RequestView] = dict(start)
    for event in events[1:]:
        one_by_one[event.request_id] = apply_event(one_by_one.get(event.request_id), event)
    assert changed_views(events[1:], start) == one_by_one


def test_a_view_left_unchanged_by_a_batch_is_not_written_again() -> None:
    sub = f.submission()
    view = apply_event(None, f.received("a", sub))
    assert changed_views([f.received("a", sub)], {"a": view}) == {}
    # A request seen for the first time gets its view.
    [(request_id, view)] = changed_views([f.decided("c", "disclosed")], {}).items()
    assert request_id == "c"
    assert view.state == "decided"


def test_a_ledger_record_that_is_not_an_entry_is_kept_as_unreadable() -> None:
    good = entry("r", "u1", "e1")
    info = RecordInfo(LEDGER, 0, 41, "r", {}, 0)
    assert pending_entry_for(good.to_record(), info) == PendingEntry(good, LEDGER, 0, 41)
    for body in (b"\x00\x01", b'{"source_topic": "x"}', b"[]"):
        kept = pending_entry_for(body, info)
        assert kept.entry.unreadable is not None
        assert kept.entry.unreadable.reason
        assert kept.entry.event_id == f"unreadable:{LEDGER}:0:41"
        assert kept.offset == 41
