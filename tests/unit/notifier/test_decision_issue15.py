"""Notice rules that follow the law rather than the examples (issue 15): who is told
when a private party is pushed back on, a court gag the classifier found in the
document, a demand for company records, a sender with no process at all, a minor as
the account holder, and a requester's reasoned plea for silence."""

from __future__ import annotations

from datetime import timedelta

from shared.amendments import Amendment
from shared.events import NoticeDecision
from shared.submission import Nondisclosure, Submission
from shared.verdict import DataScope, RecommendedAction, Verdict
from tests.unit.notifier.test_decision_rules import FOUND, T0, decide, submission, verdict


def _with_scope(base: Verdict, compellable: tuple[str, ...]) -> Verdict:
    return base.model_copy(update={"data_scope": DataScope(compellable=compellable)})


def _private() -> Submission:
    sub = submission()
    requester = sub.requester.model_copy(update={"agency_type": "private_litigant"})
    return sub.model_copy(update={"requester": requester})


def test_private_litigant_pushed_back_is_told_when_some_records_remain_reachable() -> None:
    pushed = verdict("CIVIL_SUBPOENA", "civil", action=RecommendedAction.PUSH_BACK)
    told = decide(_private(), _with_scope(pushed, ("subscriber_identity",)))
    assert (told.decision, told.reason) == (NoticeDecision.NOW, "POLICY_DEFAULT_NOTICE")
    content_only = decide(_private(), _with_scope(pushed, ()))
    assert (content_only.decision, content_only.reason) == (
        NoticeDecision.NOT_APPLICABLE,
        "NO_DISCLOSURE_PLANNED",
    )


def test_government_pushed_back_on_produces_nothing() -> None:
    pushed = verdict(action=RecommendedAction.PUSH_BACK)
    ruling = decide(submission(), _with_scope(pushed, ("subscriber_identity",)))
    assert ruling.reason == "NO_DISCLOSURE_PLANNED"


def test_a_court_gag_the_classifier_found_holds_notice_without_an_authority_field() -> None:
    sub = submission(Nondisclosure(ordered=True))  # the authority field left empty
    assert decide(sub).decision is NoticeDecision.NOW
    held = decide(sub, verdict(factors=("NDO_PRESENT",)))
    assert (held.decision, held.reason) == (NoticeDecision.DELAYED, "NDO_INDEFINITE_SEEK_LIMIT")
    # an accepted amendment lifting the gag governs over the verdict given before it
    lift = Amendment(
        nondisclosure=Nondisclosure(ordered=False), effective_at=T0 + timedelta(days=3)
    )
    lifted = decide(
        sub, verdict(factors=("NDO_PRESENT",)), amendments=(lift,), as_of=T0 + timedelta(days=3)
    )
    assert lifted.decision is NoticeDecision.NOW


def test_company_records_only_is_not_a_user_data_request() -> None:
    sub = submission(targets=[], data_requested=[])
    ruling = decide(
        sub,
        verdict(
            "CONGRESSIONAL_SUBPOENA", "legislative", action=RecommendedAction.ESCALATE_TO_COUNSEL
        ),
        target=None,
        account=None,
    )
    assert (ruling.decision, ruling.reason) == (
        NoticeDecision.NOT_APPLICABLE,
        "NOT_USER_DATA_REQUEST",
    )


def test_no_legal_process_means_no_gag_binds_and_nothing_is_sent() -> None:
    sub = submission(Nondisclosure(ordered=True, authority="18 U.S.C. 2709(c)"))
    ruling = decide(sub, verdict("UNKNOWN_AUTHORITY", "unknown", factors=("NO_LEGAL_PROCESS",)))
    assert (ruling.decision, ruling.reason) == (
        NoticeDecision.NOT_APPLICABLE,
        "NO_DISCLOSURE_PLANNED",
    )


def test_a_reasoned_plea_for_silence_goes_to_counsel_but_not_for_a_contestable_unmasking() -> None:
    sub = submission(
        Nondisclosure(ordered=True),
        purpose="Fraud investigation; please do not alert the account holder, "
        "the ring is still active",
    )
    plea = decide(sub, verdict(factors=("NONBINDING_SECRECY_DEMAND",)))
    assert (plea.decision, plea.reason) == (NoticeDecision.DELAYED, "COUNTERPRODUCTIVE_EXCEPTION")
    critic = decide(
        sub,
        verdict(
            factors=(
                "NONBINDING_SECRECY_DEMAND",
                "ANON_SPEAKER_UNMASKING",
                "POLITICAL_SPEECH_CRITICAL_OF_REQUESTER",
            ),
            action=RecommendedAction.CHALLENGE,
        ),
    )
    assert (critic.decision, critic.reason) == (NoticeDecision.NOW, "NOTICE_TO_ENABLE_CHALLENGE")


def test_each_target_is_judged_on_its_own_account() -> None:
    found_one = verdict(factors=("TARGET_NOT_FOUND",))
    assert decide(submission(), found_one).reason == "POLICY_DEFAULT_NOTICE"
    missing = FOUND.model_copy(update={"found": False})
    assert decide(submission(), found_one, target=missing).reason == "NO_SPECIFIC_ACCOUNT"
