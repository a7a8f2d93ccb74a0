"""The notice says what the user is entitled to know, in plain words, and nothing more;
HTML is escaped; the idempotency key is deterministic."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from services.notifier.domain.decision import NotifyReason
from services.notifier.domain.notice import notice_id_for, render_notice
from shared.events import NoticeTarget, RequestClassified
from shared.submission import Submission
from shared.verdict import (
    Authority,
    DataScope,
    RecommendedAction,
    Risk,
    RiskFactor,
    RiskLevel,
    TargetMatch,
)

INJECTION = '<script>alert("x")</script><img src=x onerror=alert(1)>'
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
PHONE = re.compile(r"\+?\d[\d ()-]{7,}\d")


def classified(agency: str = "U.S. Customs and Border Protection") -> RequestClassified:
    submission = Submission.model_validate(
        {
            "external_ref": "CBP-1",
            "received_via": "fax",
            "received_at": "2017-03-14T17:05:00Z",
            "requester": {
                "agency": agency,
                "agency_type": "federal_law_enforcement",
                "country": "US",
                "contact_email": "officer@cbp.example.gov",
            },
            "instrument": {
                "type": "administrative_summons",
                "cited_authority": "19 U.S.C. § 1509",
                "response_deadline": "2017-03-23T00:00:00Z",
                "document_text": "Records of @someone_else; call +1 202 555 0100 or "
                "witness@example.com",
            },
            "targets": [{"handle": "@alt_agency"}, {"handle": "@someone_else"}],
            "data_requested": ["subscriber_identity", "ip_logs"],
            "stated_purpose": "Investigate the private person jane.doe@example.net",
        }
    )
    return RequestClassified(
        request_id="req-42",
        policy_version="test",
        authority=Authority(
            code="CUSTOMS_SUMMONS_1509",
            family="administrative",
            jurisdiction="US",
            confidence=0.9,
        ),
        data_scope=DataScope(),
        risk=Risk(
            level=RiskLevel.CRITICAL,
            score=97,
            factors=(RiskFactor(code="ANON_SPEAKER_UNMASKING", weight=30, evidence="anon"),),
        ),
        recommended_action=RecommendedAction.CHALLENGE,
        targets=(
            TargetMatch(handle="@alt_agency", found=True),
            TargetMatch(handle="@someone_else", found=True),
        ),
        submission=submission,
        classified_at=datetime(2017, 3, 14, 18, tzinfo=UTC),
        caused_by="evt-1",
    )


TARGET = NoticeTarget(handle="@alt_agency", platform_user_id="tw-1")


def test_html_autoescapes_a_hostile_agency_name() -> None:
    rendered = render_notice(classified(agency=INJECTION), TARGET)
    assert "<script>" not in rendered.html
    assert "<img" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    # The plain-text part is not HTML and shows the name as given.
    assert INJECTION in rendered.text


def test_content_says_who_under_what_authority_which_data_and_by_when() -> None:
    rendered = render_notice(classified(), TARGET, reason=NotifyReason.NOTICE_TO_ENABLE_CHALLENGE)
    for part in (rendered.text, rendered.html):
        assert "U.S. Customs and Border Protection" in part
        assert "administrative subpoena or summons" in part
        assert "19 U.S.C. § 1509" in part
        assert "who you are" in part
        assert "internet (IP) addresses" in part
        assert "23 March 2017" in part
        assert "have not disclosed" in part
        assert "lawyer" in part
        assert "challenge" in part
        assert "req-42" in part


def test_no_personal_data_beyond_what_is_intended() -> None:
    rendered = render_notice(classified(), TARGET)
    for part in (rendered.subject, rendered.text, rendered.html):
        assert EMAIL.search(part) is None  # not the requester's, not anyone in the document
        assert PHONE.search(part) is None
        assert "@someone_else" not in part  # no other target
        assert "97" not in part  # no internal risk score
        assert "ANON_SPEAKER_UNMASKING" not in part
        assert "jane.doe" not in part  # no stated purpose naming other people


def test_a_notice_after_a_gag_does_not_claim_nothing_was_disclosed() -> None:
    rendered = render_notice(classified(), TARGET, reason=NotifyReason.NDO_EXPIRED)
    assert "have not disclosed" not in rendered.text
    assert "court order stopped us" in rendered.text


def test_notice_id_is_deterministic_and_distinct_per_request_account_and_channel() -> None:
    one = notice_id_for("req-1", "tw-1", "email")
    assert one == notice_id_for("req-1", "tw-1", "email")
    assert re.fullmatch(r"[0-9a-f]{64}", one)
    others = {
        notice_id_for("req-2", "tw-1", "email"),
        notice_id_for("req-1", "tw-2", "email"),
        notice_id_for("req-1", "tw-1", "webhook"),
        notice_id_for("req-1|tw-1", "", "email"),
        notice_id_for("req-1", "tw-1|email", ""),
    }
    assert one not in others
    assert len(others) == 5
