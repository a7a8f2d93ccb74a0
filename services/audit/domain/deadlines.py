"""A request's clocks, from its view: when it must be answered, when its gag expires,
when its preservation ends, when a withheld notice is to be reviewed. Pure.

``deadlines_of(view)`` is every clock still running for a request; the store keeps them
in a table the scheduler reads (``services/audit/deadlines.py``). ``stage_to_report``
says what a clock is due to report now, once: a clock that fell due while nobody
looked reports only that it was missed (its approach is moot by then).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from services.audit.domain.request_view import RequestView
from shared.amendments import Amendment, effective_state
from shared.events import DeadlineKind, LinkReason
from shared.submission import STORED, InstrumentType, Submission

#: 18 U.S.C. 2703(f)(2): records are preserved for 90 days, extended once for another
#: 90 days on a renewed request.
PRESERVATION_PERIOD = timedelta(days=90)
#: Requests whose clocks have stopped: nothing more is asked of the platform.
CLOSED_STATES = frozenset({"decided", "withdrawn"})


class Stage(StrEnum):
    PENDING = "pending"
    APPROACHING = "approaching"
    MISSED = "missed"


class Deadline(BaseModel):
    """One running clock of one request."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    kind: DeadlineKind
    due_at: datetime


class Leads(BaseModel):
    """How long before each kind of deadline it is reported as approaching."""

    model_config = ConfigDict(frozen=True)

    response: timedelta
    gag_expiry: timedelta
    preservation_end: timedelta
    hold_review: timedelta

    def of(self, kind: DeadlineKind) -> timedelta:
        lead: timedelta = getattr(self, kind.value)
        return lead

    def as_seconds(self) -> Mapping[DeadlineKind, float]:
        return {kind: self.of(kind).total_seconds() for kind in DeadlineKind}


def submission_of(view: RequestView) -> Submission | None:
    if view.received is None:
        return None
    return Submission.model_validate(view.received["submission"], context=STORED)


def amendments_of(view: RequestView) -> list[Amendment]:
    fields = set(Amendment.model_fields)
    return [
        Amendment.model_validate({k: v for k, v in a.items() if k in fields}, context=STORED)
        for a in view.amendments
    ]


def deadlines_of(view: RequestView) -> tuple[Deadline, ...]:
    """Every clock still running for the request, by kind.

    - response: the instrument's ``response_deadline``, until the request is decided or
      withdrawn;
    - gag expiry: the non-disclosure order in force after every amendment, while it is
      ordered with an expiry (it binds whatever happens to the request);
    - preservation end: a preservation request's 90 days from receipt, or, for a renewed
      request (the same requester preserving the same account while an earlier
      preservation still ran), 90 days more from the earlier one's end; until decided
      or withdrawn;
    - hold review: the earliest ``review_after`` of a notice still withheld.

    A duplicate submission has no clocks of its own: its original's run for both.
    """
    submission = submission_of(view)
    if submission is None or view.duplicate_of is not None:
        return ()
    found: list[Deadline] = []

    def add(kind: DeadlineKind, due_at: datetime | None) -> None:
        if due_at is not None:
            found.append(Deadline(request_id=view.request_id, kind=kind, due_at=due_at))

    running = view.state not in CLOSED_STATES
    if running:
        add(DeadlineKind.RESPONSE, submission.instrument.response_deadline)
    gag = effective_state(submission, amendments_of(view), datetime.max.replace(tzinfo=UTC))
    if gag.nondisclosure.ordered and not gag.withdrawn:
        add(DeadlineKind.GAG_EXPIRY, gag.nondisclosure.expires_at)
    if running and submission.instrument.type is InstrumentType.PRESERVATION_REQUEST:
        add(DeadlineKind.PRESERVATION_END, preservation_end(view, submission))
    reviews = [
        n.review_after
        for n in view.notifications
        if n.last_event == "NotificationWithheld" and n.review_after is not None
    ]
    add(DeadlineKind.HOLD_REVIEW, min(reviews) if reviews else None)
    return tuple(found)


def renewed_preservation(view: RequestView, submission: Submission) -> str | None:
    """The earlier preservation this request renews: linked for the same account and
    from the same requester, a preservation request itself, still running when this one
    arrived; None when it renews nothing."""
    for link in view.links:
        reasons = set(link.get("reasons", ()))
        earlier_received = link.get("received_at")
        if (
            {LinkReason.SAME_ACCOUNT.value, LinkReason.SAME_REQUESTER.value} <= reasons
            and link.get("instrument_type") == InstrumentType.PRESERVATION_REQUEST.value
            and link.get("status") == "open"
            and isinstance(earlier_received, str)
            and datetime.fromisoformat(earlier_received) + PRESERVATION_PERIOD
            > submission.received_at
        ):
            return str(link["request_id"])
    return None


def preservation_end(view: RequestView, submission: Submission) -> datetime:
    renewed = renewed_preservation(view, submission)
    if renewed is None:
        return submission.received_at + PRESERVATION_PERIOD
    earlier = next(link for link in view.links if link["request_id"] == renewed)
    return datetime.fromisoformat(earlier["received_at"]) + 2 * PRESERVATION_PERIOD


def stage_at(due_at: datetime, lead: timedelta, now: datetime) -> Stage:
    if due_at <= now:
        return Stage.MISSED
    if due_at - lead <= now:
        return Stage.APPROACHING
    return Stage.PENDING


def stage_to_report(
    due_at: datetime,
    lead: timedelta,
    now: datetime,
    approaching_reported_for: datetime | None,
    missed_reported_for: datetime | None,
) -> Stage | None:
    """What this clock has to report now and has not reported for this due date yet:
    MISSED once it is past, APPROACHING once inside its lead time (never after its miss
    was reported), else None. A new due date (a renewed gag) reports afresh."""
    stage = stage_at(due_at, lead, now)
    if missed_reported_for == due_at:
        return None
    if stage is Stage.MISSED:
        return Stage.MISSED
    if stage is Stage.APPROACHING and approaching_reported_for != due_at:
        return Stage.APPROACHING
    return None
