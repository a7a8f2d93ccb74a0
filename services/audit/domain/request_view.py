"""The read side of one request (contract section 4), folded from its events.

Pure: ``apply_event(view, event)`` is all there is, so ``docket audit rebuild`` and the
live writer produce the same view from the same log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.auth.policy import NATIONAL_SECURITY_FAMILY, is_national_security
from shared.counsel import CONTENT_CATEGORIES, ProductionChoice
from shared.events import (
    CommentAdded,
    CounselAction,
    DeadlineEvent,
    DecisionRecorded,
    EventData,
    HoldEnded,
    NoticeEvent,
    NoticeWithheldForGood,
    NotificationFailed,
    NotificationScheduled,
    NotificationWithheld,
    ProductionDecided,
    RequestAmended,
    RequestAssigned,
    RequestClassified,
    RequesterVerificationRecorded,
    RequestReceived,
    UserNotified,
    VerdictOverridden,
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
    #: Deadline events reported for the request, in the order they arrived.
    deadline_events: tuple[dict[str, Any], ...] = ()
    #: Who reviews the request (the latest ``RequestAssigned``); the queue reads it.
    assignee: str | None = None
    #: What legal staff decided, in order: ``{"type": ..., **the event's data}``.
    counsel: tuple[dict[str, Any], ...] = ()
    #: Counsel's override in force: each overridden field with the override's reason,
    #: author and time (``authority``, ``risk_level``, ``recommended_action``).
    override: dict[str, Any] = {}
    #: A verdict of the classifier arrived after counsel's override (which still
    #: stands): counsel may want to look again.
    reclassified_since_override: bool = False
    #: The latest verification of the requester (``verified`` or ``failed``).
    verification: dict[str, Any] | None = None
    suspected_fraud: bool = False
    #: What is produced: account (handle or platform user id) -> category -> decision.
    production: dict[str, dict[str, dict[str, Any]]] = {}
    #: The transparency report's outcome (``transparency.OUTCOME_SPLITS``); None while
    #: nothing is decided.
    outcome_split: str | None = None


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
                "reclassified_since_override": bool(current.override),
            }
        )
    if isinstance(data, CounselAction):
        return _counsel(current, data)
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
            update={
                "decision": decision,
                "state": _advance(current.state, "decided"),
                "outcome_split": outcome_split(decision, current.production),
            }
        )
    if isinstance(data, DeadlineEvent):
        reported = {
            "event": data.EVENT_TYPE,
            **data.model_dump(mode="json", exclude={"request_id"}),
        }
        return current.model_copy(update={"deadline_events": (*current.deadline_events, reported)})
    return current


def _counsel(view: RequestView, action: CounselAction) -> RequestView:
    """The view after one decision of legal staff."""
    entry = {"type": action.EVENT_TYPE, **action.model_dump(mode="json", exclude={"request_id"})}
    update: dict[str, Any] = {"counsel": (*view.counsel, entry)}
    if isinstance(action, RequestAssigned):
        update["assignee"] = action.assignee
    elif isinstance(action, RequesterVerificationRecorded):
        update["verification"] = entry
        update["suspected_fraud"] = action.outcome.value == "failed"
    elif isinstance(action, VerdictOverridden):
        override = dict(view.override)
        said = {"reason": action.reason, "author": action.author, "at": entry["recorded_at"]}
        for name in ("authority", "risk_level", "recommended_action"):
            if getattr(action, name) is not None:
                override[name] = {"value": entry[name], **said}
        update["override"] = override
        update["reclassified_since_override"] = False
    elif isinstance(action, ProductionDecided):
        production = {account: dict(decided) for account, decided in view.production.items()}
        account = action.target.platform_user_id or action.target.handle or ""
        for decided in action.decisions:
            production.setdefault(account, {})[decided.category.value] = decided.model_dump(
                mode="json", exclude={"category"}
            )
        update["production"] = production
        update["outcome_split"] = outcome_split(view.decision, production)
    elif not isinstance(action, HoldEnded | NoticeWithheldForGood | CommentAdded):
        raise TypeError(f"no view of {action.EVENT_TYPE}")  # a new kind of decision
    return view.model_copy(update=update)


#: The outcome split of the transparency report (Microsoft's: content disclosed, only
#: non-content disclosed, no data found, rejected).
CONTENT_DISCLOSED = "content_disclosed"
NON_CONTENT_ONLY = "non_content_only"
NO_DATA_FOUND = "no_data_found"
REJECTED = "rejected"
_PRODUCED = frozenset({ProductionChoice.PRODUCE.value, ProductionChoice.NARROWED.value})
_CONTENT = frozenset(category.value for category in CONTENT_CATEGORIES)


def outcome_split(
    decision: dict[str, Any] | None, production: dict[str, dict[str, dict[str, Any]]]
) -> str | None:
    """How a request ended for the report: counsel's per-account production decisions
    when there are any (something produced, or nothing at all), else the recorded
    decision's outcome and data disclosed; None while undecided (or challenged)."""
    produced = {
        category
        for decided in production.values()
        for category, choice in decided.items()
        if choice.get("decision") in _PRODUCED
    }
    outcome = (decision or {}).get("outcome")
    if not produced and outcome in ("disclosed", "partially_disclosed"):
        # a disclosure that names no category counts as non-content (content is
        # reported only when it is known to have been disclosed)
        disclosed = set((decision or {}).get("data_disclosed") or ())
        return CONTENT_DISCLOSED if disclosed & _CONTENT else NON_CONTENT_ONLY
    if produced:
        return CONTENT_DISCLOSED if produced & _CONTENT else NON_CONTENT_ONLY
    if outcome == "no_data":
        return NO_DATA_FOUND
    if outcome == "rejected" or production:
        return REJECTED
    return None


def counsel_of(view: RequestView) -> dict[str, Any]:
    """What legal staff decided, as a request's history shows it: every decision in
    order (``actions``), and what is in force of them."""
    return {
        "actions": list(view.counsel),
        "verification": view.verification,
        "suspected_fraud": view.suspected_fraud,
        "override": view.override,
        "reclassified_since_override": view.reclassified_since_override,
        "production": [
            {"account": account, "decisions": decided}
            for account, decided in sorted(view.production.items())
        ],
        "outcome_split": view.outcome_split,
        "authority": effective_authority(view) or None,
        "risk_level": effective_risk_level(view),
    }


def effective_authority(view: RequestView) -> dict[str, Any]:
    """The authority in force: counsel's override over the classifier's, except that an
    override never takes a request out of national-security process (who may see it,
    how it is reported): that is the classifier's finding to keep."""
    classified: dict[str, Any] = (view.classification or {}).get("authority") or {}
    overridden = view.override.get("authority")
    if overridden is None or classified.get("family") == NATIONAL_SECURITY_FAMILY:
        return classified
    value: dict[str, Any] = overridden["value"]
    return value


def effective_risk_level(view: RequestView) -> str | None:
    overridden = view.override.get("risk_level")
    if overridden is not None:
        level: str = overridden["value"]
        return level
    classified: str | None = ((view.classification or {}).get("risk") or {}).get("level")
    return classified


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
    family = effective_authority(view).get("family")
    return is_national_security(
        submission.get("instrument", {}).get("type"),
        submission.get("requester", {}).get("agency_type"),
        family,
    )
