"""Notice rules beyond the sample cases: gag lifecycles, statutory secrecy, exceptions,
and the send-time safety check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.notifier.domain.decision import (
    DEFAULT_NOTICE_POLICY,
    NoticeRuling,
    NotifyReason,
    decide_notice,
    may_send_now,
)
from shared.accounts import Account
from shared.amendments import Amendment
from shared.events import NoticeDecision
from shared.submission import Nondisclosure, Submission
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

T0 = datetime(2025, 5, 1, 12, tzinfo=UTC)
GAG = "18 U.S.C. 2705(b)"
ACCOUNT = Account(handle="@someone", platform_user_id="u-1")
FOUND = TargetMatch(handle="@someone", platform_user_id="u-1", found=True)


def submission(
    nondisclosure: Nondisclosure | None = None, purpose: str | None = None, **extra: Any
) -> Submission:
    return Submission.model_validate(
        {
            "external_ref": "R-1",
            "received_via": "portal",
            "received_at": T0.isoformat(),
            "requester": {
                "agency": "Agency",
                "agency_type": "federal_law_enforcement",
                "country": extra.pop("country", "US"),
            },
            "instrument": {
                "type": "court_order",
                "nondisclosure": (nondisclosure or Nondisclosure()).model_dump(),
            },
            "targets": [{"handle": "@someone"}],
            "data_requested": ["subscriber_identity"],
            "stated_purpose": purpose,
            **extra,
        }
    )


def verdict(
    code: str = "SCA_2703D_ORDER",
    family: str = "court_order",
    factors: tuple[str, ...] = (),
    action: RecommendedAction = RecommendedAction.COMPLY,
) -> Verdict:
    return Verdict(
        policy_version="test",
        authority=Authority(code=code, family=family, jurisdiction="US", confidence=1.0),
        data_scope=DataScope(),
        risk=Risk(
            level=RiskLevel.MEDIUM,
            score=0,
            factors=tuple(RiskFactor(code=c, weight=0, evidence="-") for c in factors),
        ),
        recommended_action=action,
        targets=(FOUND,),
    )


def decide(
    sub: Submission,
    ver: Verdict | None = None,
    amendments: tuple[Amendment, ...] = (),
    as_of: datetime = T0,
    target: TargetMatch | None = FOUND,
    account: Account | None = ACCOUNT,
) -> NoticeRuling:
    return decide_notice(
        submission=sub,
        verdict=ver or verdict(),
        amendments=amendments,
        target=target,
        account=account,
        as_of=as_of,
    )


def test_no_restriction_means_notice_now_before_disclosure() -> None:
    ruling = decide(submission())
    assert (ruling.decision, ruling.reason) == (NoticeDecision.NOW, "POLICY_DEFAULT_NOTICE")


def test_dated_gag_delays_until_expiry_then_expires_exactly_at_it() -> None:
    ends = T0 + timedelta(days=180)
    sub = submission(Nondisclosure(ordered=True, authority=GAG, expires_at=ends))
    held = decide(sub)
    assert (held.decision, held.reason, held.not_before) == (
        NoticeDecision.DELAYED,
        "NDO_ACTIVE_UNTIL_EXPIRY",
        ends,
    )
    assert held.review_after == ends - DEFAULT_NOTICE_POLICY.renewal_check_lead
    assert decide(sub, as_of=ends).reason == "NDO_EXPIRED"
    assert not may_send_now(
        submission=sub, amendments=(), ruling=held, as_of=ends - timedelta(seconds=1)
    )
    assert may_send_now(submission=sub, amendments=(), ruling=held, as_of=ends)


def test_a_renewal_recomputes_not_before_and_blocks_the_earlier_send() -> None:
    first_end, renewed_end = T0 + timedelta(days=90), T0 + timedelta(days=455)
    sub = submission(Nondisclosure(ordered=True, authority=GAG, expires_at=first_end))
    renewal = Amendment(
        nondisclosure=Nondisclosure(ordered=True, authority=GAG, expires_at=renewed_end),
        effective_at=first_end - timedelta(days=1),
    )
    ruling = decide(sub, amendments=(renewal,), as_of=first_end)
    assert ruling.not_before == renewed_end
    stale = decide(sub, as_of=T0)
    assert not may_send_now(submission=sub, amendments=(renewal,), ruling=stale, as_of=first_end)


def test_indefinite_gag_is_held_and_flagged_for_review() -> None:
    ruling = decide(submission(Nondisclosure(ordered=True, authority=GAG)))
    assert (ruling.decision, ruling.reason, ruling.not_before) == (
        NoticeDecision.DELAYED,
        "NDO_INDEFINITE_SEEK_LIMIT",
        None,
    )
    assert ruling.review_after == T0 + DEFAULT_NOTICE_POLICY.withheld_review_interval


def test_a_lifted_gag_releases_notice() -> None:
    sub = submission(Nondisclosure(ordered=True, authority=GAG))
    lift = Amendment(
        nondisclosure=Nondisclosure(ordered=False), effective_at=T0 + timedelta(days=3)
    )
    assert decide(sub, amendments=(lift,), as_of=T0 + timedelta(days=3)).reason == "NDO_EXPIRED"


def test_secrecy_asked_without_an_order_does_not_bind() -> None:
    ruling = decide(submission(Nondisclosure(ordered=True)))
    assert (ruling.decision, ruling.reason) == (NoticeDecision.NOW, "NONBINDING_SECRECY_REQUEST")


@pytest.mark.parametrize(
    ("code", "family", "decision", "reason"),
    [
        ("FISA_ELECTRONIC_SURVEILLANCE_ORDER", "national_security", "never", "FISA_SECRECY"),
        ("WIRETAP_ORDER", "surveillance", "never", "STATUTORY_SECRECY"),
        ("NSL_2709", "national_security", "delayed", "NSL_NONDISCLOSURE"),
        ("PEN_TRAP_ORDER", "surveillance", "delayed", "STATUTORY_SECRECY"),
    ],
)
def test_statutory_secrecy_holds_even_without_a_marked_order(
    code: str, family: str, decision: str, reason: str
) -> None:
    ruling = decide(submission(), verdict(code, family))
    assert (str(ruling.decision), ruling.reason) == (decision, reason)


def test_nsl_notice_only_after_a_written_lift() -> None:
    sub = submission(Nondisclosure(ordered=True, authority="18 U.S.C. 2709(c)"))
    lift = Amendment(
        nondisclosure=Nondisclosure(ordered=False), effective_at=T0 + timedelta(days=9)
    )
    ver = verdict("NSL_2709", "national_security")
    assert decide(sub, ver, (lift,), as_of=T0 + timedelta(days=8)).reason == "NSL_NONDISCLOSURE"
    assert decide(sub, ver, (lift,), as_of=T0 + timedelta(days=9)).reason == "NDO_EXPIRED"


def test_withdrawal_cancels_notice_and_blocks_any_send() -> None:
    sub = submission()
    withdrawn = Amendment(withdrawn=True, effective_at=T0 + timedelta(hours=1))
    now_ruling = decide(sub)
    later = T0 + timedelta(hours=1)
    assert decide(sub, amendments=(withdrawn,), as_of=later).reason == "REQUEST_WITHDRAWN"
    assert not may_send_now(submission=sub, amendments=(withdrawn,), ruling=now_ruling, as_of=later)


def test_no_account_named_or_found_is_not_applicable() -> None:
    assert decide(submission(), target=None, account=None).reason == "NO_SPECIFIC_ACCOUNT"
    missing = TargetMatch(handle="@nobody", found=False)
    assert decide(submission(), target=missing, account=None).reason == "NO_SPECIFIC_ACCOUNT"


def test_emergency_disclosure_defers_notice_for_review() -> None:
    ruling = decide(
        submission(emergency={"claimed": True, "justification": "threat to life"}),
        verdict("EMERGENCY_DISCLOSURE_REQUEST", "emergency"),
    )
    assert (ruling.decision, ruling.reason) == (NoticeDecision.DELAYED, "EMERGENCY_DEFER")
    assert ruling.review_after == T0 + DEFAULT_NOTICE_POLICY.emergency_review_after
    assert not may_send_now(submission=submission(), amendments=(), ruling=ruling, as_of=T0)


def test_counterproductive_and_child_safety_exceptions() -> None:
    terror = decide(submission(purpose="Investigation of a terrorism financing network"))
    assert terror.reason == "COUNTERPRODUCTIVE_EXCEPTION"
    exploitation = submission(purpose="Child sexual exploitation investigation")
    child = decide(exploitation, verdict(factors=("MINOR_INVOLVED",)))
    assert child.reason == "CHILD_SAFETY_EXCEPTION"
    # a minor merely involved, or a minor who holds the account, is not silenced
    assert decide(submission(), verdict(factors=("MINOR_INVOLVED",))).reason == (
        "POLICY_DEFAULT_NOTICE"
    )
    minor_account = Account(handle="@someone", platform_user_id="u-1", minor=True)
    assert (
        decide(exploitation, verdict(factors=("MINOR_INVOLVED",)), account=minor_account).reason
        == "POLICY_DEFAULT_NOTICE"
    )


def test_foreign_secrecy_claim_goes_to_counsel() -> None:
    sub = submission(Nondisclosure(ordered=True, authority="segredo de justiça"), country="BR")
    ruling = decide(sub, verdict("FOREIGN_COURT_ORDER_DATA", "foreign"))
    assert (ruling.decision, ruling.reason) == (
        NoticeDecision.DELAYED,
        "FOREIGN_CONFIDENTIALITY_UNRESOLVED",
    )


def test_unmasking_a_critic_gives_notice_to_enable_a_challenge() -> None:
    ver = verdict(
        "GRAND_JURY_SUBPOENA",
        "subpoena",
        ("ANON_SPEAKER_UNMASKING", "POLITICAL_SPEECH_CRITICAL_OF_REQUESTER"),
        RecommendedAction.ESCALATE_TO_COUNSEL,
    )
    assert decide(submission(), ver).reason == NotifyReason.NOTICE_TO_ENABLE_CHALLENGE


def test_removal_order_notifies_the_affected_account() -> None:
    ruling = decide(submission(), verdict("US_COURT_REMOVAL_ORDER", "removal"))
    assert (ruling.decision, ruling.reason) == (NoticeDecision.NOW, "REMOVAL_NOTICE_POLICY")


def test_never_and_not_applicable_rulings_are_never_sent() -> None:
    sub = submission()
    for decision in (NoticeDecision.NEVER, NoticeDecision.NOT_APPLICABLE):
        ruling = NoticeRuling(decision=decision, reason="X")
        assert not may_send_now(submission=sub, amendments=(), ruling=ruling, as_of=T0)
