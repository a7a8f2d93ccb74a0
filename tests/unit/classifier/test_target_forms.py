"""Targets named in every form reach the right account in the classifier and the
notifier, and evidence never carries an e-mail address, a phone number or a display
name."""

from __future__ import annotations

import pytest

from services.classifier.domain import classify
from services.classifier.handlers import verdict_event
from services.classifier.history import VerdictInputs
from services.notifier.planning import plan_request
from shared.accounts import Account, AccountDirectory
from shared.events import RequestClassified
from shared.logs import EMAIL, PHONE
from shared.submission import Submission
from shared.verdict import Verdict
from tests.unit.classifier.support import RECEIVED, shipped_policy, submission

CRITIC = Account(
    handle="@critic",
    platform_user_id="u-1",
    email="owner@example.org",
    phone="+1 202 555 0143",
    display_name="Pat Critic",
    anonymous=True,
    speech_topics=("politics",),
)
TWIN_A = Account(handle="@twin_a", platform_user_id="u-2", display_name="Sam Lee")
TWIN_B = Account(handle="@twin_b", platform_user_id="u-3", display_name="Sam Lee")
DIRECTORY = AccountDirectory([CRITIC, TWIN_A, TWIN_B])
FORMS = [
    "@critic",
    "https://social.example/@critic",
    "owner@example.org",
    "+1 (202) 555-0143",
    "Pat Critic",
]


def _submission(*handles: str) -> Submission:
    return submission(targets=[{"handle": h} for h in handles], cited_authority="19 U.S.C. 1509")


def _verdict(*handles: str) -> Verdict:
    return classify(_submission(*handles), DIRECTORY, shipped_policy(), RECEIVED)


def _evidence(verdict: Verdict) -> str:
    return " | ".join(f.evidence for f in verdict.risk.factors)


@pytest.mark.parametrize("handle", FORMS)
def test_every_form_finds_the_account_and_its_facts(handle: str) -> None:
    verdict = _verdict(handle)
    [target] = verdict.targets
    assert (target.found, target.platform_user_id) == (True, "u-1")
    codes = {f.code for f in verdict.risk.factors}
    assert "ANON_SPEAKER_UNMASKING" in codes
    assert "TARGET_NOT_FOUND" not in codes


@pytest.mark.parametrize("handle", FORMS[2:])
def test_evidence_names_a_found_account_by_its_handle_not_the_personal_identifier(
    handle: str,
) -> None:
    evidence = _evidence(_verdict(handle))
    assert "account target 1" in evidence
    assert handle not in evidence
    assert "critic" not in evidence.casefold()
    assert not EMAIL.search(evidence)
    assert not PHONE.search(evidence)


@pytest.mark.parametrize(
    ("handle", "label"),
    [
        ("nobody@example.org", "target 1"),
        ("+1 202 555 0199", "target 1"),
        ("Nobody Here", "target 1"),
        ("https://social.example/@nobody", "target 1"),
    ],
)
def test_a_target_not_found_is_reported_by_its_reference(handle: str, label: str) -> None:
    evidence = _evidence(_verdict(handle))
    assert f"not in the account directory: {label}" in evidence
    assert "nobody" not in evidence.casefold()
    assert not EMAIL.search(evidence)
    assert not PHONE.search(evidence)


def test_an_ambiguous_display_name_is_reported_and_resolves_to_no_account() -> None:
    verdict = _verdict("Sam Lee")
    assert verdict.targets[0].found is False
    assert "target 1 (fits 2 accounts)" in _evidence(verdict)
    assert "Sam Lee" not in _evidence(verdict)


def _classified(submission: Submission, verdict: Verdict) -> RequestClassified:
    """The event as the classifier publishes it (v3: targets by reference only)."""
    return verdict_event("req-1", verdict, VerdictInputs(submission, ()), RECEIVED, "evt-1")


@pytest.mark.parametrize("handle", FORMS)
def test_the_notifier_finds_the_same_account_and_reaches_it_by_email(handle: str) -> None:
    submission = _submission(handle)
    verdict = classify(submission, DIRECTORY, shipped_policy(), RECEIVED)
    [plan] = plan_request(_classified(submission, verdict), submission, (), DIRECTORY, RECEIVED)
    assert plan.notice.account_key == "u-1"
    assert plan.notice.channel == "email"


def test_one_account_named_twice_in_two_forms_gets_one_notice() -> None:
    submission = _submission("owner@example.org", "@critic")
    verdict = classify(submission, DIRECTORY, shipped_policy(), RECEIVED)
    plans = plan_request(_classified(submission, verdict), submission, (), DIRECTORY, RECEIVED)
    assert len({p.notice.notice_id for p in plans}) == 1
