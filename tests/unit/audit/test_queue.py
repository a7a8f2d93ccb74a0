"""What a queued request waits for and on whom; the queue's cursor; ``docket queue``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.exceptions import RequestValidationError

from services.audit.domain.queue import UNASSIGNED, waiting_on
from services.audit.domain.request_view import RequestView, fold_views
from services.audit.queue_api import QueueOrder, QueuePosition, cursor_position
from services.audit.queue_cli import format_queue, queue_params
from shared.events import (
    EventData,
    NoticeDecision,
    NoticeTarget,
    NotificationFailed,
    NotificationWithheld,
    RequestAssigned,
)
from shared.paging import encode_cursor
from tests.unit.audit import factories as f

SUB = f.submission()


def view_of(*events: EventData) -> RequestView:
    return fold_views(events)[events[0].request_id]


def held(reason: str) -> NotificationWithheld:
    return NotificationWithheld(
        request_id="r1",
        target=NoticeTarget(platform_user_id="u0"),
        decision=NoticeDecision.DELAYED,
        reason=reason,
    )


def test_a_request_waits_on_each_service_in_turn_then_on_its_reviewer() -> None:
    assert waiting_on(view_of(f.classified("r1", SUB))).on == "intake"
    assert waiting_on(view_of(f.received("r1", SUB))).on == "classifier"
    decision = waiting_on(view_of(f.received("r1", SUB), f.classified("r1", SUB)))
    assert (decision.what, decision.on) == ("the notice decision", "notifier")
    answer = waiting_on(
        view_of(f.received("r1", SUB), f.classified("r1", SUB), f.notified("r1", "u0"))
    )
    assert answer.on == UNASSIGNED
    assert answer.what.startswith("the response")


def test_a_hold_only_counsel_can_end_waits_on_the_assignee() -> None:
    view = view_of(f.received("r1", SUB), f.classified("r1", SUB), held("VERIFY_REQUESTER_FIRST"))
    assert waiting_on(view).what == "verification of the requester before any notice"
    assigned = view.model_copy(update={"assignee": "counsel-ana"})
    assert waiting_on(assigned).on == "counsel-ana"
    gagged = view_of(
        f.received("r1", SUB), f.classified("r1", SUB), held("NDO_ACTIVE_UNTIL_EXPIRY")
    )
    assert waiting_on(gagged).what.startswith("the response")


def test_a_failed_notice_waits_on_the_notifier_and_a_duplicate_on_closing() -> None:
    failed = NotificationFailed(
        request_id="r1",
        target=NoticeTarget(platform_user_id="u0"),
        decision=NoticeDecision.NOW,
        reason="POLICY_DEFAULT_NOTICE",
        error="SMTP 451",
    )
    view = view_of(f.received("r1", SUB), f.classified("r1", SUB), failed)
    assert waiting_on(view).on == "notifier"
    duplicate = view.model_copy(update={"duplicate_of": "r0"})
    assert waiting_on(duplicate).what == "closing as a duplicate of request r0"


def test_the_assignee_comes_from_the_latest_assignment() -> None:
    by = {"author": "legal-ops", "recorded_at": datetime(2026, 2, 11, tzinfo=UTC)}
    first = RequestAssigned(request_id="r1", **by, assignee="counsel-ana", reason="first look")
    view = view_of(f.received("r1", SUB), first)
    assert view.assignee == "counsel-ana"
    again = RequestAssigned(request_id="r1", **by, assignee="counsel-bo", reason="ana is away")
    assert view_of(f.received("r1", SUB), first, again).assignee == "counsel-bo"
    assert view_of(f.received("r1", SUB)).assignee is None


def test_a_cursor_is_opaque_and_bound_to_its_order() -> None:
    position = QueuePosition(order=QueueOrder.RISK, sort_key="-80", request_id="r-9")
    cursor = encode_cursor(position)
    assert "r-9" not in cursor
    assert cursor_position(cursor, QueueOrder.RISK) == ("-80", "r-9")
    with pytest.raises(RequestValidationError) as other_order:
        cursor_position(cursor, QueueOrder.DEADLINE)
    assert "another order" in str(other_order.value.errors())
    with pytest.raises(RequestValidationError):
        cursor_position("!!not base64!!", QueueOrder.RISK)


def test_docket_queue_asks_for_what_it_is_given_and_prints_a_line_per_request() -> None:
    assert queue_params(
        order="risk", limit=10, risk_level="high", kind="response", unassigned=True
    ) == {
        "order": "risk",
        "limit": "10",
        "risk_level": "high",
        "deadline_kind": "response",
        "unassigned": "true",
    }
    row = {
        "request_id": "r-1",
        "state": "classified",
        "risk_level": "high",
        "next_deadline": {
            "kind": "response",
            "due_at": "2026-03-01T17:00:00Z",
            "state": "approaching",
        },
        "waiting": {"what": "the notice decision", "on": "notifier"},
    }
    text = format_queue([row, {**row, "request_id": "r-2", "next_deadline": None}])
    first, second = text.splitlines()[1:]
    assert first.startswith("2026-03-01 17:00  response:approaching classified  high")
    assert first.endswith("the notice decision (notifier)")
    assert second.startswith("-")
    assert format_queue([]).endswith("(nothing open)")
