"""What the console's pages show, computed from what audit answers. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: Notice reasons that mean secrecy binds: no notice may be sent while one holds.
GAG_REASONS = frozenset(
    {
        "NDO_ACTIVE_UNTIL_EXPIRY",
        "NDO_INDEFINITE_SEEK_LIMIT",
        "STATUTORY_SECRECY",
        "NSL_NONDISCLOSURE",
        "FISA_SECRECY",
        "FOREIGN_CONFIDENTIALITY_UNRESOLVED",
    }
)
#: The holds counsel may end (``shared.counsel.HoldKind``): ending one sends the notice.
ENDABLE_HOLDS = ("EMERGENCY_DEFER", "CHILD_SAFETY_EXCEPTION", "COUNTERPRODUCTIVE_EXCEPTION")


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def countdown(due: datetime, now: datetime) -> str:
    """``in 2 d 3 h``, ``in 40 min``, ``overdue by 5 d``: the same words as console.js."""
    seconds = int((due - now).total_seconds())
    late = seconds < 0
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        text = f"{days} d {hours} h" if days < 10 else f"{days} d"
    elif hours:
        text = f"{hours} h {minutes} min"
    else:
        text = f"{minutes} min"
    return f"overdue by {text}" if late else f"in {text}"


@dataclass(frozen=True)
class Gag:
    """Why no notice may be sent now, and until when (None: indefinitely)."""

    reason: str
    until: datetime | None


def gag_in_force(history: dict[str, Any], now: datetime) -> Gag | None:
    """A non-disclosure order or statutory secrecy that binds now. The notifier's ruling
    (its notices' reasons) says whether the order as received binds (a secrecy *request*
    without an order does not); before it ruled, the order as received counts; an
    amendment ordering secrecy counts at once. Any of them binding is enough (fail
    closed)."""
    notices = history.get("notifications") or []
    for notice in notices:
        if notice.get("reason") in GAG_REASONS:
            return Gag(notice["reason"], parse_time(notice.get("not_before")))
    order: dict[str, Any] = {}
    if not notices:
        order = (submission_of(history).get("instrument") or {}).get("nondisclosure") or {}
    for amendment in sorted(
        history.get("amendments") or [], key=lambda a: str(a.get("effective_at"))
    ):
        effective = parse_time(amendment.get("effective_at"))
        if amendment.get("nondisclosure") is not None and (effective is None or effective <= now):
            order = amendment["nondisclosure"]
    if order.get("ordered"):
        until = parse_time(order.get("expires_at"))
        if until is None or until > now:
            return Gag(str(order.get("authority") or "non-disclosure order"), until)
    return None


def targets_of(history: dict[str, Any]) -> list[dict[str, Any]]:
    """The accounts a request names, each with its notice (when there is one)."""
    notices = history.get("notifications") or []
    rows = []
    for target in submission_of(history).get("targets") or []:
        handle, user_id = target.get("handle"), target.get("platform_user_id")
        notice = next((n for n in notices if _names(n.get("target") or {}, handle, user_id)), None)
        rows.append({"handle": handle, "platform_user_id": user_id, "notice": notice})
    return rows


def _bare(handle: object) -> str:
    return str(handle or "").strip().lstrip("@").casefold()


def _names(target: dict[str, Any], handle: str | None, user_id: str | None) -> bool:
    """Whether a notice's ``target`` is the account the demand names."""
    if user_id is not None and target.get("platform_user_id") == user_id:
        return True
    return handle is not None and _bare(target.get("handle")) == _bare(handle)


def submission_of(history: dict[str, Any]) -> dict[str, Any]:
    """The demand as received (``RequestReceived.submission``); empty before it is."""
    submission: dict[str, Any] = (history.get("received") or {}).get("submission") or {}
    return submission


def event_leaves(history: dict[str, Any]) -> list[int]:
    return [int(event["leaf_index"]) for event in history.get("events") or []]


def verdict_of(history: dict[str, Any]) -> dict[str, Any] | None:
    """The classifier's verdict as the page shows it (None before classification)."""
    classification: dict[str, Any] | None = history.get("classification") or None
    return classification


#: The events of counsel's decisions, each one entry of the history's ``counsel.actions``.
COUNSEL_EVENTS = frozenset(
    {
        "RequesterVerificationRecorded",
        "VerdictOverridden",
        "HoldEnded",
        "NoticeWithheldForGood",
        "ProductionDecided",
        "RequestAssigned",
        "CommentAdded",
    }
)


def shows(history: dict[str, Any], event_id: str) -> bool:
    """Whether the page shows the event ``event_id`` and what it changed: audit's log
    holds it, and its view of the request (projected beside the log, a moment later)
    has folded in every decision and amendment the log holds."""
    events = history.get("events") or []
    if all(event.get("event_id") != event_id for event in events):
        return False
    decisions = sum(1 for event in events if event.get("type") in COUNSEL_EVENTS)
    amendments = sum(1 for event in events if event.get("type") == "RequestAmended")
    return (
        len((history.get("counsel") or {}).get("actions") or []) >= decisions
        and len(history.get("amendments") or []) >= amendments
    )
