"""A request's clocks from its view, and what each is due to report."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.audit.deadline_store import ClockRow
from services.audit.deadlines import deadline_event, deadline_event_id
from services.audit.domain.deadlines import (
    PRESERVATION_PERIOD,
    Deadline,
    Leads,
    Stage,
    deadlines_of,
    stage_at,
    stage_to_report,
)
from services.audit.domain.request_view import RequestView, fold_views
from shared.amendments import Amendment
from shared.events import (
    DeadlineKind,
    DeadlineMissed,
    EventData,
    LinkReason,
    NoticeDecision,
    NoticeTarget,
    NotificationWithheld,
    RequestAmended,
    RequestLink,
)
from shared.submission import InstrumentType, Nondisclosure, Submission
from tests.unit.audit import factories as f

AT = f.AT
DUE = AT + timedelta(days=10)
GAG_ENDS = AT + timedelta(days=180)


def gagged(sub: Submission, expires_at: datetime | None = GAG_ENDS) -> Submission:
    instrument = sub.instrument.model_copy(
        update={
            "nondisclosure": Nondisclosure(
                ordered=True, authority="18 U.S.C. 2705(b)", expires_at=expires_at
            )
        }
    )
    return sub.model_copy(update={"instrument": instrument})


def view_of(*events: EventData) -> RequestView:
    return fold_views(events)[events[0].request_id]


def clocks(view: RequestView) -> dict[DeadlineKind, datetime]:
    return {d.kind: d.due_at for d in deadlines_of(view)}


def test_an_open_request_runs_its_response_deadline_until_it_is_decided() -> None:
    sub = f.submission(deadline=DUE)
    open_view = view_of(f.received("r1", sub), f.classified("r1", sub))
    assert deadlines_of(open_view) == (
        Deadline(request_id="r1", kind=DeadlineKind.RESPONSE, due_at=DUE),
    )
    decided = view_of(f.received("r1", sub), f.decided("r1", "challenged"))
    assert clocks(decided) == {}


def test_a_request_without_a_deadline_or_a_submission_has_no_clock() -> None:
    assert clocks(view_of(f.received("r1", f.submission()))) == {}
    # the verdict overtook the RequestReceived: the clock starts once that is in
    assert clocks(view_of(f.classified("r1", f.submission(deadline=DUE)))) == {}
    assert deadlines_of(RequestView(request_id="r1")) == ()


def test_a_gag_runs_to_its_expiry_even_after_the_decision_and_follows_amendments() -> None:
    sub = gagged(f.submission())
    assert clocks(view_of(f.received("r1", sub), f.decided("r1", "disclosed"))) == {
        DeadlineKind.GAG_EXPIRY: GAG_ENDS
    }
    renewed = GAG_ENDS + timedelta(days=365)
    amended = RequestAmended(
        request_id="r1",
        submitted_by="t",
        **Amendment(
            nondisclosure=Nondisclosure(ordered=True, authority="2705(b)", expires_at=renewed),
            effective_at=AT + timedelta(days=1),
        ).model_dump(),
    )
    assert clocks(view_of(f.received("r1", sub), amended)) == {DeadlineKind.GAG_EXPIRY: renewed}
    lifted = RequestAmended(
        request_id="r1",
        submitted_by="t",
        nondisclosure=Nondisclosure(ordered=False),
        effective_at=AT + timedelta(days=2),
    )
    assert clocks(view_of(f.received("r1", sub), amended, lifted)) == {}


def test_an_open_ended_gag_has_no_expiry_to_watch() -> None:
    assert clocks(view_of(f.received("r1", gagged(f.submission(), None)))) == {}


def test_a_preservation_ends_ninety_days_after_receipt_and_a_renewal_adds_ninety() -> None:
    first = f.submission(instrument="preservation_request")
    assert clocks(view_of(f.received("p1", first))) == {
        DeadlineKind.PRESERVATION_END: AT + PRESERVATION_PERIOD
    }
    renewal_at = AT + timedelta(days=80)
    renewal = f.submission(instrument="preservation_request", received_at=renewal_at)
    link = RequestLink(
        request_id="p1",
        reasons=(LinkReason.SAME_ACCOUNT, LinkReason.SAME_REQUESTER),
        status="open",
        received_at=AT,
        instrument_type=InstrumentType.PRESERVATION_REQUEST,
    )
    verdict = f.classified("p2", renewal).model_copy(update={"links": (link,)})
    assert clocks(view_of(f.received("p2", renewal), verdict)) == {
        DeadlineKind.PRESERVATION_END: AT + 2 * PRESERVATION_PERIOD
    }
    # arriving after the first one ended, it is a preservation of its own
    late = f.submission(instrument="preservation_request", received_at=AT + timedelta(days=95))
    verdict = f.classified("p3", late).model_copy(update={"links": (link,)})
    assert clocks(view_of(f.received("p3", late), verdict)) == {
        DeadlineKind.PRESERVATION_END: AT + timedelta(days=95) + PRESERVATION_PERIOD
    }


def test_a_withheld_notice_is_reviewed_at_its_earliest_review_date() -> None:
    sub = f.submission(targets=2)

    def held(user: str, review: datetime) -> NotificationWithheld:
        return NotificationWithheld(
            request_id="r1",
            target=NoticeTarget(platform_user_id=user),
            decision=NoticeDecision.NEVER,
            reason="HOLD_EMERGENCY",
            review_after=review,
        )

    first, second = AT + timedelta(days=30), AT + timedelta(days=20)
    view = view_of(f.received("r1", sub), held("u0", first), held("u1", second))
    assert clocks(view) == {DeadlineKind.HOLD_REVIEW: second}
    sent = view_of(
        f.received("r1", sub), held("u0", first), held("u1", second), f.notified("r1", "u1")
    )
    assert clocks(sent) == {DeadlineKind.HOLD_REVIEW: first}


def test_a_duplicate_has_no_clocks_of_its_own() -> None:
    sub = f.submission(deadline=DUE)
    verdict = f.classified("r2", sub).model_copy(update={"duplicate_of": "r1"})
    view = view_of(f.received("r2", sub), verdict)
    assert view.duplicate_of == "r1"
    assert deadlines_of(view) == ()


def test_deadline_events_are_kept_in_the_view() -> None:
    sub = f.submission(deadline=DUE)
    missed = DeadlineMissed(
        request_id="r1", kind=DeadlineKind.RESPONSE, due_at=DUE, detected_at=DUE, risk_level="low"
    )
    view = view_of(f.received("r1", sub), missed)
    [event] = view.deadline_events
    assert event["event"] == "DeadlineMissed"
    assert event["kind"] == "response"
    assert clocks(view) == {DeadlineKind.RESPONSE: DUE}  # reporting it does not stop it


LEAD = timedelta(days=2)


def test_stages_follow_the_lead_time() -> None:
    assert stage_at(DUE, LEAD, DUE - LEAD - timedelta(seconds=1)) is Stage.PENDING
    assert stage_at(DUE, LEAD, DUE - LEAD) is Stage.APPROACHING
    assert stage_at(DUE, LEAD, DUE) is Stage.MISSED


def test_each_stage_is_reported_once_per_due_date() -> None:
    before = DUE - timedelta(days=1)
    assert stage_to_report(DUE, LEAD, before, None, None) is Stage.APPROACHING
    assert stage_to_report(DUE, LEAD, before, DUE, None) is None
    assert stage_to_report(DUE, LEAD, DUE, DUE, None) is Stage.MISSED
    assert stage_to_report(DUE, LEAD, DUE + LEAD, DUE, DUE) is None
    # fell due unseen: only the miss is reported, and never the approach after it
    assert stage_to_report(DUE, LEAD, DUE + LEAD, None, None) is Stage.MISSED
    assert stage_to_report(DUE, LEAD, before, None, DUE) is None
    # a new due date (a renewed gag) reports afresh
    later = DUE + timedelta(days=30)
    assert stage_to_report(later, LEAD, later - timedelta(days=1), DUE, DUE) is Stage.APPROACHING
    assert stage_to_report(DUE, LEAD, DUE - 2 * LEAD, None, None) is None


def test_leads_are_looked_up_by_kind() -> None:
    leads = Leads(
        response=timedelta(hours=48),
        gag_expiry=timedelta(days=30),
        preservation_end=timedelta(days=14),
        hold_review=timedelta(hours=24),
    )
    assert leads.of(DeadlineKind.GAG_EXPIRY) == timedelta(days=30)
    assert leads.as_seconds()[DeadlineKind.RESPONSE] == 48 * 3600
    assert set(leads.as_seconds()) == set(DeadlineKind)


def test_a_stage_republished_after_a_crash_has_the_same_event_id() -> None:
    clock = ClockRow(
        request_id="r1",
        kind=DeadlineKind.RESPONSE,
        due_at=DUE,
        risk_level="high",
        approaching_reported_for=None,
        missed_reported_for=None,
    )
    first = deadline_event_id(clock, Stage.MISSED)
    assert deadline_event_id(clock, Stage.MISSED) == first
    assert deadline_event_id(clock, Stage.APPROACHING) != first
    moved = ClockRow(**{**clock.__dict__, "due_at": DUE + timedelta(days=1)})
    assert deadline_event_id(moved, Stage.MISSED) != first
    leads = Leads(response=LEAD, gag_expiry=LEAD, preservation_end=LEAD, hold_review=LEAD)
    event = deadline_event(clock, Stage.APPROACHING, leads, DUE - LEAD)
    assert event.EVENT_TYPE == "DeadlineApproaching"
    assert event.model_dump()["lead_s"] == LEAD.total_seconds()
    assert deadline_event(clock, Stage.MISSED, leads, DUE).EVENT_TYPE == "DeadlineMissed"
