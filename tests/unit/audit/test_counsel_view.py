"""Counsel's decisions in a request's view: the assignee the queue reads, the override
in force (over this and every later verdict), the verification, production per account
and category, and the outcome split the transparency report counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.audit.domain.request_view import (
    counsel_of,
    effective_authority,
    effective_risk_level,
    fold_views,
    national_security_of,
)
from services.audit.domain.transparency import transparency_report
from shared.auth.policy import REDACTED, without_personal_data
from shared.counsel import (
    AuthorityOverride,
    CategoryDecision,
    CounselTarget,
    ProductionChoice,
    VerificationMethod,
    VerificationOutcome,
)
from shared.events import (
    CommentAdded,
    EventData,
    ProductionDecided,
    RequestAssigned,
    RequesterVerificationRecorded,
    VerdictOverridden,
)
from shared.submission import DataCategory
from shared.verdict import RiskLevel
from tests.unit.audit import factories as f
from tests.unit.audit.report_counts import count_views

AT = datetime(2026, 2, 11, tzinfo=UTC)
BY = {"author": "legal-ops", "recorded_at": AT}


def _view(*events: EventData):  # type: ignore[no-untyped-def]
    [view] = fold_views(events).values()
    return view


def _production(request_id: str, user: str, *decided: tuple[str, str]) -> ProductionDecided:
    return ProductionDecided(
        request_id=request_id,
        **BY,
        target=CounselTarget(platform_user_id=user),
        decisions=tuple(
            CategoryDecision(
                category=DataCategory(category),
                decision=ProductionChoice(choice),
                narrowed_to="one week" if choice == "narrowed" else None,
            )
            for category, choice in decided
        ),
        reason="scope",
    )


def test_the_latest_assignment_is_the_assignee() -> None:
    sub = f.submission()
    view = _view(
        f.received("r1", sub),
        RequestAssigned(request_id="r1", **BY, assignee="alice", reason="first look"),
        RequestAssigned(request_id="r1", **BY, assignee="bob", reason="alice is away"),
    )
    assert view.assignee == "bob"
    assert [a["type"] for a in view.counsel] == ["RequestAssigned", "RequestAssigned"]
    assert view.counsel[0]["author"] == "legal-ops"


def test_an_override_stands_over_a_later_verdict_and_the_verdicts_stay() -> None:
    sub = f.submission()
    override = VerdictOverridden(
        request_id="r1",
        **BY,
        authority=AuthorityOverride(code="CIVIL_SUBPOENA", family="civil", jurisdiction="US"),
        risk_level=RiskLevel.CRITICAL,
        reason="the agency acts for a private party",
    )
    view = _view(
        f.received("r1", sub),
        f.classified("r1", sub, "subpoena", risk="low"),
        override,
        f.classified("r1", sub, "administrative", risk="medium"),  # a new policy version
    )
    assert view.classification is not None
    assert view.classification["authority"]["family"] == "administrative"  # kept as it came
    assert effective_authority(view)["family"] == "civil"
    assert effective_risk_level(view) == "critical"
    assert view.reclassified_since_override
    assert counsel_of(view)["override"]["risk_level"]["reason"] == override.reason


def test_an_override_never_takes_a_request_out_of_national_security_process() -> None:
    sub = f.submission()
    view = _view(
        f.received("r1", sub),
        f.classified("r1", sub, "national_security"),
        VerdictOverridden(
            request_id="r1",
            **BY,
            authority=AuthorityOverride(code="X_ORDER", family="court_order", jurisdiction="US"),
            reason="r",
        ),
    )
    assert national_security_of(view)
    assert effective_authority(view)["family"] == "national_security"


def test_a_failed_verification_marks_suspected_fraud() -> None:
    sub = f.submission()
    view = _view(
        f.received("r1", sub),
        RequesterVerificationRecorded(
            request_id="r1",
            **BY,
            method=VerificationMethod.DIRECTORY_CALLBACK,
            contact="the agency's duty desk",
            contacted_at=AT - timedelta(hours=1),
            outcome=VerificationOutcome.FAILED,
            reason="the agency has no such case",
        ),
    )
    assert view.suspected_fraud
    assert view.verification is not None
    assert view.verification["outcome"] == "failed"


def test_production_decisions_decide_the_outcome_split() -> None:
    sub = f.submission(targets=2)
    content = _view(
        f.received("r1", sub),
        _production("r1", "u0", ("subscriber_identity", "produce"), ("content", "narrowed")),
    )
    assert content.outcome_split == "content_disclosed"
    assert content.production["u0"]["content"]["narrowed_to"] == "one week"
    refused_one = _view(
        f.received("r2", sub),
        _production("r2", "u0", ("subscriber_identity", "produce")),
        _production("r2", "u1", ("subscriber_identity", "do_not_produce")),
    )
    assert refused_one.outcome_split == "non_content_only"
    later = _view(
        f.received("r3", sub),
        _production("r3", "u0", ("subscriber_identity", "produce")),
        _production("r3", "u0", ("subscriber_identity", "do_not_produce")),
    )
    assert later.outcome_split == "rejected"  # the later decision replaced the earlier one
    assert _view(f.received("r4", sub), f.decided("r4", "no_data")).outcome_split == "no_data_found"
    assert _view(f.received("r5", sub), f.decided("r5", "challenged")).outcome_split is None


def test_the_report_counts_the_split_and_some_data_produced() -> None:
    sub = f.submission()
    views = list(
        fold_views(
            [
                f.received("r1", sub),
                _production("r1", "u0", ("subscriber_identity", "produce")),
                f.received("r2", sub),
                _production("r2", "u0", ("subscriber_identity", "do_not_produce")),
                f.decided("r2", "partially_disclosed"),  # production decisions say nothing
                f.received("r3", sub),
                f.decided("r3", "rejected"),
                f.received("r4", sub),
            ]
        ).values()
    )
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)
    report = transparency_report(count_views(views, start, end), start, end)
    totals = report.totals
    assert (totals.requests, totals.some_data_produced) == (4, 2)
    assert (totals.non_content_only, totals.content_disclosed) == (2, 0)
    assert (totals.rejected, totals.no_data_found) == (1, 0)


def test_readers_see_no_reason_comment_contact_or_account_of_counsel() -> None:
    sub = f.submission()
    view = _view(
        f.received("r1", sub),
        _production("r1", "u0", ("subscriber_identity", "narrowed")),
        CommentAdded(request_id="r1", **BY, comment="spoke to Agent Smith"),
        RequestAssigned(request_id="r1", **BY, assignee="alice", reason="Smith's case"),
    )
    shown = without_personal_data({"assignee": view.assignee, "counsel": counsel_of(view)})
    text = str(shown)
    for secret in ("Agent Smith", "Smith's case", "one week", "'u0'"):
        assert secret not in text, secret
    assert shown["assignee"] == "alice"
    assert shown["counsel"]["actions"][1]["comment"] == REDACTED
