"""Notice decisions under counsel's decisions (``domain.counsel``), and the notifier's
counsel handler with a fake unit of work (no broker or database)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from services.notifier.domain.counsel import NO_COUNSEL, CounselState, counsel_state
from services.notifier.domain.decision import NoticeRuling, NotifyReason, decide_notice
from services.notifier.service_layer.handlers import ApplyCounsel, handle
from services.notifier.store import NoticePlan, RequestRecord
from shared.accounts import Account, AccountDirectory
from shared.amendments import Amendment
from shared.counsel import (
    AuthorityOverride,
    CounselTarget,
    HoldKind,
    VerificationMethod,
    VerificationOutcome,
)
from shared.events import (
    CounselAction,
    EventData,
    HoldEnded,
    NoticeDecision,
    NoticeWithheldForGood,
    NotificationWithheld,
    RequestClassified,
    RequesterVerificationRecorded,
    VerdictOverridden,
)
from shared.submission import Submission
from shared.verdict import (
    Authority,
    DataScope,
    RecommendedAction,
    Risk,
    RiskFactor,
    RiskLevel,
    TargetMatch,
    Verdict,
)

T0 = datetime(2026, 1, 5, tzinfo=UTC)
ACCOUNT = Account(handle="@user0", platform_user_id="id0", email="u@example.org")
TARGET = TargetMatch(handle="@user0", found=True)
ACTION = {"request_id": "req-1", "author": "legal-ops", "recorded_at": T0, "reason": "r"}


def _submission(*, emergency: bool = False, gag_until: datetime | None = None) -> Submission:
    nondisclosure: dict[str, Any] = {}
    if gag_until is not None:
        nondisclosure = {
            "ordered": True,
            "authority": "18 U.S.C. 2705(b)",
            "expires_at": gag_until.isoformat(),
        }
    return Submission.model_validate(
        {
            "external_ref": "REF-C",
            "received_via": "portal",
            "received_at": T0.isoformat(),
            "requester": {
                "agency": "Agency",
                "agency_type": "federal_law_enforcement",
                "country": "US",
            },
            "instrument": {"type": "subpoena", "nondisclosure": nondisclosure},
            "targets": [{"handle": "@user0"}],
            "data_requested": ["subscriber_identity"],
            "emergency": {"claimed": emergency},
        }
    )


def _verdict(code: str = "GRAND_JURY_SUBPOENA", family: str = "subpoena", *factors: str) -> Verdict:
    return Verdict(
        policy_version="test",
        authority=Authority(code=code, family=family, jurisdiction="US", confidence=1.0),
        data_scope=DataScope(),
        risk=Risk(
            level=RiskLevel.LOW,
            score=0,
            factors=tuple(RiskFactor(code=c, weight=0, evidence="test") for c in factors),
        ),
        recommended_action=RecommendedAction.COMPLY,
        targets=(TARGET,),
    )


def _decide(
    submission: Submission,
    verdict: Verdict,
    counsel: CounselState = NO_COUNSEL,
    amendments: tuple[Amendment, ...] = (),
    as_of: datetime = T0,
) -> NoticeRuling:
    return decide_notice(
        submission=submission,
        verdict=verdict,
        amendments=amendments,
        target=TARGET,
        account=ACCOUNT,
        as_of=as_of,
        counsel=counsel,
    )


def _verification(outcome: VerificationOutcome) -> RequesterVerificationRecorded:
    return RequesterVerificationRecorded(
        **ACTION,
        method=VerificationMethod.DIRECTORY_CALLBACK,
        contact="duty officer",
        contacted_at=T0,
        outcome=outcome,
    )


def test_a_verified_requester_releases_the_verification_hold() -> None:
    verdict = _verdict("GRAND_JURY_SUBPOENA", "subpoena", "REQUESTER_IDENTITY_UNVERIFIED")
    held = _decide(_submission(), verdict)
    assert held.reason == NotifyReason.VERIFY_REQUESTER_FIRST
    verified = counsel_state([_verification(VerificationOutcome.VERIFIED)])
    assert _decide(_submission(), verdict, verified).decision is NoticeDecision.NOW


def test_a_verified_requester_does_not_lift_a_gag() -> None:
    verdict = _verdict("GRAND_JURY_SUBPOENA", "subpoena", "REQUESTER_IDENTITY_UNVERIFIED")
    gagged = _submission(gag_until=T0 + timedelta(days=30))
    verified = counsel_state([_verification(VerificationOutcome.VERIFIED)])
    ruling = _decide(gagged, verdict, verified)
    assert ruling.decision is NoticeDecision.DELAYED
    assert ruling.reason == NotifyReason.NDO_ACTIVE_UNTIL_EXPIRY


def test_a_failed_verification_withholds_every_notice_as_suspected_fraud() -> None:
    failed = counsel_state([_verification(VerificationOutcome.FAILED)])
    ruling = _decide(_submission(), _verdict(), failed)
    assert (ruling.decision, ruling.reason) == (NoticeDecision.NEVER, NotifyReason.SUSPECTED_FRAUD)


def test_ending_an_emergency_hold_releases_only_the_account_it_names() -> None:
    held = _decide(_submission(emergency=True), _verdict())
    assert held.reason == NotifyReason.EMERGENCY_DEFER
    for named, released in ((CounselTarget(handle="user0"), True), (None, True)):
        ended = counsel_state([HoldEnded(**ACTION, hold=HoldKind.EMERGENCY_DEFER, target=named)])
        assert (
            _decide(_submission(emergency=True), _verdict(), ended).decision is NoticeDecision.NOW
        ) == released
    other = counsel_state(
        [HoldEnded(**ACTION, hold=HoldKind.EMERGENCY_DEFER, target=CounselTarget(handle="@b"))]
    )
    assert _decide(_submission(emergency=True), _verdict(), other).reason == held.reason
    wrong_kind = counsel_state([HoldEnded(**ACTION, hold=HoldKind.CHILD_SAFETY_EXCEPTION)])
    assert _decide(_submission(emergency=True), _verdict(), wrong_kind).reason == held.reason


def test_an_ended_hold_never_sends_under_a_gag() -> None:
    gagged = _submission(emergency=True, gag_until=T0 + timedelta(days=3))
    ended = counsel_state([HoldEnded(**ACTION, hold=HoldKind.EMERGENCY_DEFER)])
    ruling = _decide(gagged, _verdict(), ended)
    assert ruling.reason == NotifyReason.NDO_ACTIVE_UNTIL_EXPIRY
    after = _decide(gagged, _verdict(), ended, as_of=T0 + timedelta(days=4))
    assert after.decision is NoticeDecision.NOW


def test_a_notice_withheld_for_good_is_never_sent() -> None:
    withheld = counsel_state(
        [NoticeWithheldForGood(**ACTION, target=CounselTarget(handle="@user0"))]
    )
    ruling = _decide(_submission(), _verdict(), withheld)
    assert (ruling.decision, ruling.reason) == (NoticeDecision.NEVER, NotifyReason.COUNSEL_WITHHELD)
    ended_later = counsel_state(
        [*_actions(withheld_target="@user0"), HoldEnded(**ACTION, hold=HoldKind.EMERGENCY_DEFER)]
    )
    assert (
        _decide(_submission(emergency=True), _verdict(), ended_later).decision
        is NoticeDecision.NEVER
    )


def _actions(withheld_target: str) -> list[CounselAction]:
    return [NoticeWithheldForGood(**ACTION, target=CounselTarget(handle=withheld_target))]


def test_an_override_supersedes_the_verdict_for_notice() -> None:
    challenge = counsel_state(
        [VerdictOverridden(**ACTION, recommended_action=RecommendedAction.PUSH_BACK)]
    )
    ruling = _decide(_submission(), _verdict(), challenge)
    assert ruling.reason == NotifyReason.NO_DISCLOSURE_PLANNED
    later = counsel_state(
        [
            VerdictOverridden(**ACTION, recommended_action=RecommendedAction.PUSH_BACK),
            VerdictOverridden(**ACTION, risk_level=RiskLevel.HIGH),
        ]
    )
    assert later.recommended_action is RecommendedAction.PUSH_BACK  # not undone by a later one
    assert later.risk_level is RiskLevel.HIGH


def test_an_override_never_lifts_statutory_secrecy() -> None:
    to_subpoena = counsel_state(
        [
            VerdictOverridden(
                **ACTION,
                authority=AuthorityOverride(
                    code="GRAND_JURY_SUBPOENA", family="subpoena", jurisdiction="US"
                ),
            )
        ]
    )
    for code, family in (
        ("FISA_702_DIRECTIVE", "national_security"),
        ("NSL_2709", "national_security"),
    ):
        ruling = _decide(_submission(), _verdict(code, family), to_subpoena)
        assert ruling.decision in (NoticeDecision.NEVER, NoticeDecision.DELAYED), code


# --- the handler, with a fake unit of work -------------------------------------------------


@dataclass
class FakeUnitOfWork:
    record: RequestRecord
    plans: dict[str, NoticePlan] = field(default_factory=dict)
    committed: bool = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None

    async def lock_request(self, request_id: str) -> RequestRecord:
        return self.record

    async def add_counsel_action(self, event_id: str, action: CounselAction) -> bool:
        if any(a == action for a in self.record.counsel):
            return False
        self.record = replace(self.record, counsel=(*self.record.counsel, action))
        return True

    async def apply_plan(self, plan: NoticePlan, traceparent: str | None) -> bool:
        self.plans[plan.notice_id] = plan
        return True

    async def commit(self) -> None:
        self.committed = True


def _classified(verdict: Verdict, submission: Submission) -> RequestClassified:
    return RequestClassified(
        request_id="req-1",
        **verdict.model_dump(),
        submission=submission,
        classified_at=T0,
        caused_by="e0",
    )


async def test_the_handler_keeps_the_decision_replans_and_publishes() -> None:
    verdict = _verdict("GRAND_JURY_SUBPOENA", "subpoena", "REQUESTER_IDENTITY_UNVERIFIED")
    uow = FakeUnitOfWork(
        RequestRecord("req-1", _classified(verdict, _submission()), (), submission=_submission())
    )
    published: list[tuple[EventData, str]] = []

    async def publish(event: EventData, event_id: str) -> None:
        published.append((event, event_id))

    directory = AccountDirectory([ACCOUNT])
    failed = _verification(VerificationOutcome.FAILED)
    plans = await handle(
        ApplyCounsel(event_id="c1", action=failed, as_of=T0), uow, publish, accounts=directory
    )
    assert uow.committed
    assert [p.ruling.reason for p in plans] == [NotifyReason.SUSPECTED_FRAUD]
    assert [p.state for p in uow.plans.values()] == ["cancelled"]
    [(event, _)] = published
    assert isinstance(event, NotificationWithheld)
    assert event.reason == NotifyReason.SUSPECTED_FRAUD

    verified = _verification(VerificationOutcome.VERIFIED)
    plans = await handle(
        ApplyCounsel(event_id="c2", action=verified, as_of=T0), uow, publish, accounts=directory
    )
    assert [p.ruling.decision for p in plans] == [NoticeDecision.NOW]
    assert [p.state for p in uow.plans.values()] == ["scheduled"]


async def test_a_decision_before_the_verdict_waits_for_it() -> None:
    uow = FakeUnitOfWork(RequestRecord("req-1", None, ()))

    async def publish(event: EventData, event_id: str) -> None:
        raise AssertionError("nothing to decide yet")

    action = HoldEnded(**ACTION, hold=HoldKind.EMERGENCY_DEFER)
    plans = await handle(
        ApplyCounsel(event_id="c1", action=action, as_of=T0),
        uow,
        publish,
        accounts=AccountDirectory([ACCOUNT]),
    )
    assert plans == []
    assert uow.record.counsel == (action,)
