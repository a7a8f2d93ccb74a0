"""Citation spellings, targets the directory does not know, evidence without personal
data, and a property test: classify never raises and its level follows its score."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.classifier.domain import classify
from shared.accounts import Account, AccountDirectory
from shared.submission import AgencyType, DataCategory, InstrumentType, ReceivedVia, Submission
from tests.unit.classifier.support import RECEIVED, shipped_policy, submission

CRITIC = Account(
    handle="@critic", platform_user_id="u-1", email="owner@example.org", anonymous=True
)


@pytest.mark.parametrize(
    "citation",
    [
        "19 U.S.C. § 1509",
        "19 USC 1509",
        "19 U.S.C. sec. 1509",
        "19 U.S.C. §1509(a)(1)",
        "19 U.S.C.A. § 1509",
        "Title 19, Section 1509",
        "Title 19 of the United States Code, Section 1509",
        "section 1509 of title 19",
        "Sec. 1509 of Title 19, U.S. Code",
        "19 United States Code 1509",
        "Section 509 of the Tariff Act of 1930",
    ],
)
def test_every_spelling_of_1509_is_the_customs_summons(citation: str) -> None:
    policy = shipped_policy()
    for field in ("cited_authority", "document_text"):
        verdict = classify(
            submission(**{field: f"Summons issued under {citation}."}),
            AccountDirectory([CRITIC]),
            policy,
            RECEIVED,
        )
        assert verdict.authority.code == "CUSTOMS_SUMMONS_1509", (field, citation)
        assert verdict.authority.matched_text


@pytest.mark.parametrize(
    "citation", ["19 U.S.C. § 1592", "18 U.S.C. § 1509", "Title 19, Section 1508"]
)
def test_neighbouring_citations_are_not_1509(citation: str) -> None:
    policy = shipped_policy()
    verdict = classify(
        submission(cited_authority=citation), AccountDirectory([CRITIC]), policy, RECEIVED
    )
    assert verdict.authority.code != "CUSTOMS_SUMMONS_1509"


def test_unknown_target_is_a_factor_not_a_crash() -> None:
    policy = shipped_policy()
    verdict = classify(
        submission(targets=[{"handle": "@nobody"}, {"handle": "@critic"}]),
        AccountDirectory([CRITIC]),
        policy,
        RECEIVED,
    )
    assert [(t.handle, t.found) for t in verdict.targets] == [("@nobody", False), ("@critic", True)]
    [factor] = [f for f in verdict.risk.factors if f.code == "TARGET_NOT_FOUND"]
    assert "target 1" in factor.evidence
    assert "nobody" not in factor.evidence


def test_no_authority_cited_is_unknown_and_asks_for_process() -> None:
    policy = shipped_policy()
    verdict = classify(
        submission(type="other", document_text="Could you tell us who runs this account?"),
        AccountDirectory([CRITIC]),
        policy,
        RECEIVED,
    )
    assert verdict.authority.code == "UNKNOWN_AUTHORITY"
    assert verdict.recommended_action == "request_clarification"
    assert "NO_LEGAL_PROCESS" in [f.code for f in verdict.risk.factors]


def test_evidence_never_carries_an_email_address_or_phone_number() -> None:
    policy = shipped_policy()
    phone_handle = Account(
        handle="+12025550143", platform_user_id="p-1", email="x@example.org", anonymous=True
    )
    verdict = classify(
        submission(
            cited_authority="19 U.S.C. § 1509",
            document_text="Reply to agent@cbp.dhs.gov or call 202-555-0199. Do not disclose.",
            targets=[{"handle": "+12025550143"}],
            response_deadline=(RECEIVED + timedelta(days=1)).isoformat(),
        ),
        AccountDirectory([phone_handle]),
        policy,
        RECEIVED,
    )
    assert verdict.risk.factors
    text = " ".join(f.evidence for f in verdict.risk.factors)
    assert "@example.org" not in text
    assert "cbp.dhs.gov" not in text
    assert "2025550143" not in text
    assert "555-0199" not in text


def test_beyond_authority_lists_what_the_instrument_cannot_compel() -> None:
    policy = shipped_policy()
    verdict = classify(
        submission(
            type="court_order",
            cited_authority="18 U.S.C. § 2703(d)",
            data_requested=["subscriber_identity", "direct_messages", "location"],
        ),
        AccountDirectory([CRITIC]),
        policy,
        RECEIVED,
    )
    assert verdict.data_scope.compellable == ("subscriber_identity",)
    assert verdict.data_scope.beyond_authority == ("direct_messages", "location")
    codes = [f.code for f in verdict.risk.factors]
    assert "CONTENT_WITHOUT_WARRANT" in codes
    assert "LOCATION_WITHOUT_WARRANT" in codes


# --- property: never raises; level follows score and thresholds ---------------------

_words = st.sampled_from(
    [
        "19 U.S.C. § 1509",
        "18 USC 2703(d)",
        "search warrant",
        "grand jury",
        "geofence",
        "national security letter",
        "emergency",
        "no one is in danger",
        "arrest",
        "withhold",
        "hereby withdraws",
        "private key",
        "Regulation (EU) 2023/1543",
        "child",
        "all records",
        "please do not disclose",
        "18 U.S.C. § 2705(b)",
        "protest",
        "abortion",
        "",
    ]
)
_text = st.lists(_words, max_size=6).map(" ".join)
_when = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)
_handle = st.sampled_from(["@critic", "@nobody", "@other", "+15551234567"])


@st.composite
def submissions(draw: st.DrawFn) -> Submission:
    kind = draw(st.sampled_from(list(InstrumentType)))
    data = draw(st.lists(st.sampled_from(list(DataCategory)), unique=True, min_size=1))
    start = draw(_when)
    return Submission.model_validate(
        {
            "external_ref": "P-1",
            "received_via": draw(st.sampled_from(list(ReceivedVia))),
            "received_at": draw(_when),
            "requester": {
                "agency": draw(_text.filter(str.strip) | st.just("Agency")),
                "agency_type": draw(st.sampled_from(list(AgencyType))),
                "country": draw(st.sampled_from(["US", "BR", "NL", "GB", "IN", "ZZ"])),
                "contact_email": draw(st.sampled_from([None, "a@gmail.com", "b@agency.gov"])),
            },
            "instrument": {
                "type": kind,
                "cited_authority": draw(st.none() | _text),
                "issued_by": draw(st.none() | _text),
                "issued_at": draw(st.none() | _when.map(lambda d: d.date())),
                "response_deadline": draw(st.none() | _when),
                "nondisclosure": {
                    "ordered": draw(st.booleans()),
                    "authority": draw(st.none() | _text.filter(str.strip)),
                    "expires_at": draw(st.none() | _when),
                },
                "document_text": draw(st.none() | _text),
            },
            "targets": [
                {"handle": h, "platform_user_id": draw(st.sampled_from([None, "u-1", "u-9"]))}
                for h in draw(st.lists(_handle, max_size=3))
            ],
            "data_requested": data,
            "date_range": {
                "from": start,
                "to": start + draw(st.timedeltas(timedelta(0), timedelta(days=900))),
            },
            "stated_purpose": draw(st.none() | _text),
            "emergency": {"claimed": draw(st.booleans()), "justification": draw(st.none() | _text)},
        }
    )


_accounts = AccountDirectory(
    [
        CRITIC.model_copy(update={"speech_topics": ("politics",), "country": "US"}),
        Account(handle="@other", platform_user_id="u-2", country="BR", minor=True, journalist=True),
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    submission=submissions(), as_of_shift=st.timedeltas(timedelta(days=-30), timedelta(days=400))
)
def test_classify_never_raises_and_level_follows_score(
    submission: Submission, as_of_shift: timedelta
) -> None:
    policy = shipped_policy()
    verdict = classify(submission, _accounts, policy, submission.received_at + as_of_shift)
    assert verdict.risk.level == policy.level_for(verdict.risk.score)
    # weights alone reach at most the policy's score cap; floors raise it further
    assert verdict.risk.score >= policy.capped(sum(f.weight for f in verdict.risk.factors))
    assert set(verdict.data_scope.beyond_authority) <= set(submission.data_requested)
    assert all(f.evidence for f in verdict.risk.factors)
    assert len(verdict.targets) == len(submission.targets)
