"""The published verdict (``RequestClassified`` v3) carries no personal data, and older
versions, which carried the submission, are still read with the v3 fields derived."""

from __future__ import annotations

import json

import pytest

from services.classifier.domain import classify
from services.classifier.domain.facts import gather
from services.classifier.handlers import verdict_event
from services.classifier.history import VerdictInputs
from services.notifier.planning import target_matches
from shared.accounts import Account, AccountDirectory
from shared.amendments import Amendment
from shared.contract import EXAMPLES_DIR
from shared.events import RequestClassified, ShadowClassified, TargetReference, parse_event
from shared.submission import Nondisclosure
from tests.unit.classifier.support import RECEIVED, shipped_policy, submission

CRITIC = Account(
    handle="@quiet_critic",
    platform_user_id="u-7781",
    anonymous=True,
    country="US",
    speech_topics=["politics"],
    email="critic.owner@example.org",
    display_name="Robin Quietly",
)
DIRECTORY = AccountDirectory([CRITIC])
#: The document names the account, its owner's address and another person's handle.
TEXT = (
    "SUMMONS under 19 U.S.C. 1509. Produce all records of the account @quiet_critic "
    "(also known as Robin Quietly, critic.owner@example.org), including its followers "
    "such as @bystander_99, user names, telephone numbers and IP addresses."
)


def published(**overrides: object) -> RequestClassified:
    demand = submission(
        document_text=TEXT,
        targets=[{"handle": "critic.owner@example.org"}, {"handle": "@nobody_known"}],
        **overrides,
    )
    amendment = Amendment(
        nondisclosure=Nondisclosure(ordered=False),
        note="the officer, Sgt. Pat Example, lifted the gag by phone",
        effective_at=RECEIVED,
    )
    verdict = classify(demand, DIRECTORY, shipped_policy(), RECEIVED, (amendment,))
    inputs = VerdictInputs(demand, (amendment,))
    return verdict_event("req-1", verdict, inputs, RECEIVED, "evt-1")


def test_the_published_verdict_holds_no_personal_string() -> None:
    event = published()
    raw = json.dumps(event.model_dump(mode="json"), ensure_ascii=False).casefold()
    for personal in (
        "quiet_critic",
        "u-7781",
        "critic.owner@example.org",
        "robin quietly",
        "bystander_99",
        "nobody_known",
        "pat example",
        "officer@",
        TEXT[:40],
    ):
        assert personal.casefold() not in raw, personal
    assert event.submission is None
    assert event.targets == (
        TargetReference(index=1, found=True),
        TargetReference(index=2, found=False),
    )
    assert event.instrument_type == "administrative_summons"
    assert event.requester is not None
    assert event.requester.agency == "U.S. Customs and Border Protection"
    assert [a.note for a in event.amendments] == [None]
    assert [a.nondisclosure for a in event.amendments] == [Nondisclosure(ordered=False)]


def test_evidence_names_targets_by_reference_and_still_explains() -> None:
    event = published()
    factors = {f.code: f.evidence for f in event.risk.factors}
    assert "target 2" in factors["TARGET_NOT_FOUND"]
    assert "account target 1: anonymous" in factors["ANON_SPEAKER_UNMASKING"]


def test_a_quote_of_the_document_is_phrased_without_personal_data() -> None:
    demand = submission(
        document_text=TEXT,
        targets=[{"handle": "critic.owner@example.org"}, {"handle": "https://x.example/user/p"}],
    )
    policy = shipped_policy()
    facts = gather(demand, DIRECTORY, RECEIVED, policy.home_country, Nondisclosure(), False)
    quote = facts.without_personal_data(
        "all records of the account @quiet_critic (also known as Robin Quietly, "
        "critic.owner@example.org, user id U-7781), its followers such as @bystander_99, "
        "the profile https://x.example/user/p and the contact agent@cbp.dhs.gov"
    )
    assert quote == (
        "all records of the account target 1 (also known as target 1, "
        "target 1, user id target 1), its followers such as [handle], "
        "the profile target 2 and the contact [e-mail address]"
    )


@pytest.mark.parametrize("version", [1, 2])
def test_older_verdicts_are_read_with_the_v3_fields_derived(version: int) -> None:
    for name, kind in (("RequestClassified", None), ("ShadowClassified", "verdict")):
        raw = (EXAMPLES_DIR / f"{name}.v{version}.json").read_text()
        _envelope, data = parse_event(raw)
        if kind:
            assert isinstance(data, ShadowClassified)
            data = data.verdict
        assert isinstance(data, RequestClassified)
        assert data.submission is not None
        assert data.instrument_type == data.submission.instrument.type
        assert data.requester is not None
        assert data.requester.agency == data.submission.requester.agency
        assert [t.index for t in data.targets] == [1]
        assert data.targets[0].handle == data.submission.targets[0].handle


def test_the_notifier_resolves_references_through_the_submission() -> None:
    demand = submission(targets=[{"handle": "critic.owner@example.org"}, {"handle": "@nobody"}])
    verdict = classify(demand, DIRECTORY, shipped_policy(), RECEIVED)
    event = verdict_event("req-1", verdict, VerdictInputs(demand, ()), RECEIVED, "evt-1")
    matches = target_matches(event, demand, DIRECTORY)
    # the same targets the classifier resolved, as the v2 event carried them
    assert matches == verdict.targets
    assert matches[0].platform_user_id == "u-7781"
    wrong = event.model_copy(update={"targets": (TargetReference(index=3, found=True),)})
    with pytest.raises(ValueError, match="target 3"):
        target_matches(wrong, demand, DIRECTORY)
