"""The read side of one request (contract section 4), folded from its events.

Pure: ``apply_event(view, event)`` is all there is, so ``docket audit rebuild`` and the
live writer produce the same view from the same log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.auth.policy import is_national_security
from shared.events import (
    DeadlineEvent,
    DecisionRecorded,
    EventData,
    NoticeEvent,
    NotificationFailed,
    NotificationScheduled,
    NotificationWithheld,
    RequestAmended,
    RequestClassified,
    RequestReceived,
    UserNotified,
)

#: States move forward only: a late or redelivered event never moves a request back.
STATE_RANK = {
    "unknown": -1,
    "received": 0,
    "classified": 1,
    "notice_withheld": 2,
    "notice_scheduled": 3,
    "notice_sent": 4,
    "decided": 5,
    "withdrawn": 5,
}


class NotificationView(BaseModel):
    model_config = ConfigDict(frozen=True)

    target: dict[str, str | None]
    decision: str
    reason: str
    not_before: datetime | None = None
    sent_at: datetime | None = None
    channel: str | None = None
    last_event: str
    #: When a withheld notice is to be looked at again (its hold's review date).
    review_after: datetime | None = None


class RequestView(BaseModel):
    model_config = ConfigDict(frozen=True)

    request_id: str
    state: str = "unknown"
    received: dict[str, Any] | None = None
    classification: dict[str, Any] | None = None
    notifications: tuple[NotificationView, ...] = ()
    decision: dict[str, Any] | None = None
    amendments: tuple[dict[str, Any], ...] = ()
    #: Earlier requests for the same account or from the same requester (``RequestLink``).
    links: tuple[dict[str, Any], ...] = ()
    #: The earlier request this one submits again: its notices and clocks are that one's.
    duplicate_of: str | None = None
    #: The reviewer the request is assigned to (``RequestAssigned``); None: unassigned.
    assignee: str | None = None
    #: Deadline events reported for the request, in the order they arrived.
    deadline_events: tuple[dict[str, Any], ...] = ()


def _advance(current: str, candidate: str) -> str:
    if current in ("decided", "withdrawn"):
        return current
    return candidate if STATE_RANK[candidate] >= STATE_RANK[current] else current


def _target_key(event: NoticeEvent) -> str:
    return event.target.platform_user_id or (event.target.handle or "").casefold()


def _notification(event: NoticeEvent) -> NotificationView:
    return NotificationView(
        target=event.target.model_dump(),
        decision=event.decision.value,
        reason=event.reason,
        not_before=event.not_before,
        sent_at=event.sent_at if isinstance(event, UserNotified) else None,
        channel=event.channel if isinstance(event, UserNotified | NotificationFailed) else None,
        last_event=event.EVENT_TYPE,
        review_after=event.review_after if isinstance(event, NotificationWithheld) else None,
    )


def _notice_state(notifications: tuple[NotificationView, ...]) -> str:
    events = {n.last_event for n in notifications}
    if "UserNotified" in events:
        return "notice_sent"
    if events & {"NotificationScheduled", "NotificationFailed"}:
        return "notice_scheduled"
    return "notice_withheld"


def apply_event(view: RequestView | None, data: EventData) -> RequestView:
    """The view after one more event; events of other kinds leave it unchanged."""
    current = view or RequestView(request_id=data.request_id)
    if isinstance(data, RequestReceived):
        received = data.model_dump(mode="json", by_alias=True, exclude={"request_id"})
        return current.model_copy(
            update={"received": received, "state": _advance(current.state, "received")}
        )
    if isinstance(data, RequestClassified):
        classification = data.model_dump(
            mode="json",
            by_alias=True,
            exclude={"submission", "amendments", "links", "duplicate_of"},
        )
        return current.model_copy(
            update={
                "classification": classification,
                "links": tuple(link.model_dump(mode="json") for link in data.links),
                "duplicate_of": data.duplicate_of,
                "state": _advance(current.state, "classified"),
            }
        )
    if isinstance(
        data, UserNotified | NotificationScheduled | NotificationWithheld | NotificationFailed
    ):
        key = _target_key(data)
        previous = {
            (n.target.get("platform_user_id") or (n.target.get("handle") or "").casefold()): n
            for n in current.notifications
        }
        if key not in previous or not _already_sent(previous[key]):
            previous[key] = _notification(data)
        notifications = tuple(previous[k] for k in sorted(previous))
        return current.model_copy(
            update={
                "notifications": notifications,
                "state": _advance(current.state, _notice_state(notifications)),
            }
        )
    if isinstance(data, RequestAmended):
        amendment = data.model_dump(mode="json", exclude={"request_id"})
        state = _advance(current.state, "withdrawn") if data.withdrawn else current.state
        return current.model_copy(
            update={"amendments": (*current.amendments, amendment), "state": state}
        )
    if isinstance(data, DecisionRecorded):
        decision = data.model_dump(mode="json", exclude={"request_id"})
        return current.model_copy(
            update={"decision": decision, "state": _advance(current.state, "decided")}
        )
    if isinstance(data, DeadlineEvent):
        reported = {
            "event": data.EVENT_TYPE,
            **data.model_dump(mode="json", exclude={"request_id"}),
        }
        return current.model_copy(update={"deadline_events": (*current.deadline_events, reported)})
    assignee = assignee_named(data)
    if assignee is not None:
        return current.model_copy(update={"assignee": assignee})
    return current


#: The event that assigns a request to a reviewer, ``RequestAssigned{request_id,
#: assignee, reason}``, is defined by the counsel commands (issue #17), not here.
ASSIGNMENT_EVENT = "RequestAssigned"


def assignee_named(data: EventData) -> str | None:
    """The reviewer an assignment names; None for any other event.

    MERGE POINT (issue #17, counsel branch): the one place the view reads
    ``RequestAssigned``. Once that event is in ``shared.events`` it reaches here by its
    type name; at merge, replace the look-up below by
    ``isinstance(data, RequestAssigned)`` and ``data.assignee``."""
    if data.EVENT_TYPE != ASSIGNMENT_EVENT:
        return None
    assignee = getattr(data, "assignee", None)
    return assignee if isinstance(assignee, str) and assignee else None


def _already_sent(notification: NotificationView) -> bool:
    """A sent notice stays the answer for that target: later events cannot unsend it."""
    return notification.last_event == "UserNotified"


def fold_views(
    events: Iterable[EventData], start: Mapping[str, RequestView] | None = None
) -> dict[str, RequestView]:
    """Every request's view after the events, in log order, from the ``start`` views
    (none: what rebuild stores); only requests the events touch are returned."""
    before = start or {}
    views: dict[str, RequestView] = {}
    for event in events:
        key = event.request_id
        views[key] = apply_event(views[key] if key in views else before.get(key), event)
    return views


def changed_views(
    events: Iterable[EventData], start: Mapping[str, RequestView]
) -> dict[str, RequestView]:
    """The views a batch of events changes, each after all of them (what an append
    stores): a request without a view yet gets one even when the events leave it blank."""
    return {
        request_id: view
        for request_id, view in fold_views(events, start).items()
        if start.get(request_id) != view
    }


def owner_of(view: RequestView) -> str | None:
    """The organisation that submitted the request (``requester.agency``); None before
    the RequestReceived is in the view."""
    if view.received is None:
        return None
    agency = view.received.get("submission", {}).get("requester", {}).get("agency")
    return agency if isinstance(agency, str) else None


def national_security_of(view: RequestView) -> bool:
    """Whether the request is national-security process (``shared.auth.policy``); a view
    that has no RequestReceived yet counts as one (its form is unknown: fail closed)."""
    if view.received is None:
        return True
    submission = view.received.get("submission", {})
    family = ((view.classification or {}).get("authority") or {}).get("family")
    return is_national_security(
        submission.get("instrument", {}).get("type"),
        submission.get("requester", {}).get("agency_type"),
        family,
    )
