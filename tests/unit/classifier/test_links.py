"""Linking on arrival: by account (however the demand names it) and by requester; a
re-issue after a withdrawal or a challenge escalates; a second copy of one instrument
is a duplicate of the first."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.classifier.domain import classify
from services.classifier.domain.links import (
    MAX_REQUESTER_LINKS,
    EarlierRequest,
    LinkKeys,
    link_keys,
    link_request,
    resisted_earlier,
)
from services.classifier.handlers import verdict_event
from services.classifier.history import VerdictInputs
from services.notifier.planning import plan_request
from shared.accounts import Account, AccountDirectory
from shared.events import LinkReason, NoticeDecision
from shared.submission import InstrumentType, Submission
from tests.unit.classifier.support import RECEIVED, shipped_policy, submission

CRITIC = Account(
    handle="@critic", platform_user_id="u-1", email="owner@example.org", anonymous=True
)
DIRECTORY = AccountDirectory([CRITIC])
SUMMONS_TEXT = "Summons No. 2025-77: produce the identity of the account @critic."


def earlier(
    sub: Submission,
    request_id: str = "r-earlier",
    withdrawn: bool = False,
    outcome: str | None = None,
    duplicate: bool = False,
) -> EarlierRequest:
    return EarlierRequest(
        request_id=request_id,
        keys=link_keys(sub, DIRECTORY),
        received_at=sub.received_at,
        instrument_type=sub.instrument.type,
        withdrawn=withdrawn,
        outcome=outcome,
        duplicate=duplicate,
    )


def test_one_account_named_by_handle_by_id_or_by_e_mail_has_one_key() -> None:
    keys = {
        link_keys(submission(targets=[target]), DIRECTORY).accounts
        for target in (
            {"handle": "@critic"},
            {"handle": "@CRITIC"},
            {"platform_user_id": "u-1"},
            {"handle": "owner@example.org"},
        )
    }
    assert len(keys) == 1
    [[key]] = keys
    assert "u-1" not in key
    assert "critic" not in key


def test_requester_keys_fold_case_and_spacing_and_instruments_need_an_identity() -> None:
    a = link_keys(submission(), DIRECTORY)
    b = link_keys(
        submission(
            requester={
                "agency": "  u.s. customs  and border protection",
                "agency_type": "federal_law_enforcement",
                "country": "US",
            }
        ),
        DIRECTORY,
    )
    assert a.requester == b.requester
    assert a.instrument is None  # neither a case number nor a text
    with_text = link_keys(submission(document_text=SUMMONS_TEXT), DIRECTORY)
    assert with_text.instrument is not None
    other_kind = link_keys(submission(document_text=SUMMONS_TEXT, type="subpoena"), DIRECTORY)
    assert other_kind.instrument != with_text.instrument


def test_links_say_why_and_what_became_of_the_earlier_request() -> None:
    first = submission(document_text=SUMMONS_TEXT)
    other_agency = submission(
        requester={
            "agency": "City Police",
            "agency_type": "state_local_law_enforcement",
            "country": "US",
        },
        targets=[{"platform_user_id": "u-1"}],
    )
    other_account = submission(targets=[{"handle": "@someone_else"}])
    now = submission(type="subpoena", document_text="Grand jury subpoena for @critic.")
    linked = link_request(
        link_keys(now, DIRECTORY),
        [
            earlier(first, "r-1", withdrawn=True),
            earlier(other_agency, "r-2", outcome="disclosed"),
            earlier(other_account, "r-3"),
        ],
    )
    by_id = {link.request_id: link for link in linked.links}
    assert by_id["r-1"].reasons == (LinkReason.SAME_ACCOUNT, LinkReason.SAME_REQUESTER)
    assert by_id["r-1"].status == "withdrawn"
    assert by_id["r-2"].reasons == (LinkReason.SAME_ACCOUNT,)
    assert by_id["r-2"].status == "disclosed"
    assert by_id["r-3"].reasons == (LinkReason.SAME_REQUESTER,)
    assert linked.duplicate_of is None
    assert resisted_earlier(linked.links) == by_id["r-1"]


def test_an_unrelated_request_is_not_linked_and_requester_links_are_bounded() -> None:
    unrelated = submission(
        requester={"agency": "Other", "agency_type": "regulatory", "country": "US"},
        targets=[{"handle": "@nobody"}],
    )
    crowd = [
        earlier(submission(targets=[{"handle": f"@user{n}"}]), f"r-{n}")
        for n in range(MAX_REQUESTER_LINKS + 5)
    ]
    linked = link_request(link_keys(unrelated, DIRECTORY), crowd)
    assert linked.links == ()
    same_agency = link_request(link_keys(submission(targets=[{"handle": "@x"}]), DIRECTORY), crowd)
    assert len(same_agency.links) == MAX_REQUESTER_LINKS
    assert same_agency.links[-1].request_id == crowd[-1].request_id  # the most recent kept


@pytest.mark.parametrize(
    ("withdrawn", "outcome", "escalates"),
    [
        (True, None, True),
        (False, "challenged", True),
        (False, "rejected", True),
        (False, "disclosed", False),
        (False, None, False),
    ],
)
def test_a_re_issue_escalates_only_after_a_withdrawal_or_pushback(
    withdrawn: bool, outcome: str | None, escalates: bool
) -> None:
    first = submission(document_text=SUMMONS_TEXT)
    stronger = submission(
        type="subpoena",
        cited_authority="Fed. R. Crim. P. 17",
        document_text="Grand jury subpoena: produce subscriber records of @critic.",
        received_at=(RECEIVED + timedelta(days=30)).isoformat(),
    )
    linked = link_request(
        link_keys(stronger, DIRECTORY), [earlier(first, "r-1", withdrawn, outcome)]
    )
    verdict = classify(
        stronger, DIRECTORY, shipped_policy(), stronger.received_at, (), linked.links
    )
    factors = {f.code: f.evidence for f in verdict.risk.factors}
    assert ("ESCALATION_AFTER_PUSHBACK" in factors) is escalates
    if escalates:
        assert "r-1" in factors["ESCALATION_AFTER_PUSHBACK"]
    alone = classify(stronger, DIRECTORY, shipped_policy(), stronger.received_at)
    assert "ESCALATION_AFTER_PUSHBACK" not in {f.code for f in alone.risk.factors}


def test_the_same_account_from_another_requester_is_no_re_issue() -> None:
    first = submission(document_text=SUMMONS_TEXT)
    police = submission(
        requester={
            "agency": "City Police",
            "agency_type": "state_local_law_enforcement",
            "country": "US",
        },
    )
    linked = link_request(link_keys(police, DIRECTORY), [earlier(first, "r-1", withdrawn=True)])
    assert [link.reasons for link in linked.links] == [(LinkReason.SAME_ACCOUNT,)]
    assert resisted_earlier(linked.links) is None


def test_the_same_instrument_again_through_another_channel_is_a_duplicate() -> None:
    by_mail = submission(document_text=SUMMONS_TEXT)
    by_portal = submission(
        document_text="  " + SUMMONS_TEXT.upper() + " ", external_ref="P-9", received_via="portal"
    )
    linked = link_request(link_keys(by_portal, DIRECTORY), [earlier(by_mail, "r-1")])
    assert linked.duplicate_of == "r-1"
    [link] = linked.links
    assert LinkReason.SAME_INSTRUMENT in link.reasons
    # by case number too, whatever the text
    mailed = with_case_number(by_mail, "CBP-2025-77")
    portal = with_case_number(
        submission(external_ref="P-10", received_via="portal"), " cbp-2025-77"
    )
    assert (
        link_request(link_keys(portal, DIRECTORY), [earlier(mailed, "r-1")]).duplicate_of == "r-1"
    )


def with_case_number(sub: Submission, number: str) -> Submission:
    instrument = sub.instrument.model_copy(update={"case_number": number})
    return sub.model_copy(update={"instrument": instrument})


def test_a_re_issue_of_a_withdrawn_instrument_or_a_copy_of_a_duplicate_is_not_one() -> None:
    by_mail = submission(document_text=SUMMONS_TEXT)
    again = submission(document_text=SUMMONS_TEXT, external_ref="T-2")
    withdrawn = link_request(link_keys(again, DIRECTORY), [earlier(by_mail, "r-1", True)])
    assert withdrawn.duplicate_of is None
    assert resisted_earlier(withdrawn.links) is not None
    copies = [earlier(by_mail, "r-1"), earlier(by_mail, "r-2", duplicate=True)]
    assert link_request(link_keys(again, DIRECTORY), copies).duplicate_of == "r-1"
    only_copy = [earlier(by_mail, "r-2", duplicate=True)]
    assert link_request(link_keys(again, DIRECTORY), only_copy).duplicate_of is None


def test_a_duplicate_plans_no_notice_of_its_own() -> None:
    sub = submission(document_text=SUMMONS_TEXT)
    verdict = classify(sub, DIRECTORY, shipped_policy(), sub.received_at)
    classified = verdict_event("r-2", verdict, VerdictInputs(sub, ()), RECEIVED, "e-2")
    original = plan_request(classified, sub, (), DIRECTORY, RECEIVED)
    assert original
    assert all(p.ruling.decision is NoticeDecision.NOW for p in original)
    duplicate = plan_request(
        classified.model_copy(update={"duplicate_of": "r-1"}), sub, (), DIRECTORY, RECEIVED
    )
    assert [(p.ruling.decision, p.ruling.reason) for p in duplicate] == [
        (NoticeDecision.NOT_APPLICABLE, "DUPLICATE_SUBMISSION")
    ]
    assert all(p.notice.state == "cancelled" for p in duplicate)


def test_keys_of_a_request_with_no_target() -> None:
    keys = link_keys(submission(targets=[]), DIRECTORY)
    assert keys == LinkKeys(requester=keys.requester, accounts=(), instrument=None)
    assert InstrumentType.ADMINISTRATIVE_SUMMONS.value == "administrative_summons"
