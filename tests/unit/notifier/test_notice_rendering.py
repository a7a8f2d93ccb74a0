"""The notice says what the user is entitled to know, in plain words, and nothing more;
HTML is escaped; the idempotency key is deterministic."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.notifier.domain.decision import NotifyReason
from services.notifier.domain.notice import (
    TEMPLATES,
    NoticeSettings,
    Platform,
    available_locales,
    load_messages,
    notice_id_for,
    notice_locale,
    render_notice,
)
from shared.events import NoticeTarget, RequestClassified, TargetReference
from shared.submission import DataCategory, Submission
from shared.verdict import (
    Authority,
    DataScope,
    RecommendedAction,
    Risk,
    RiskFactor,
    RiskLevel,
)

INJECTION = '<script>alert("x")</script><img src=x onerror=alert(1)>'
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
PHONE = re.compile(r"\+?\d[\d ()-]{7,}\d")


def submission(agency: str = "U.S. Customs and Border Protection") -> Submission:
    return Submission.model_validate(
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


def classified() -> RequestClassified:
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
        targets=(TargetReference(index=1, found=True), TargetReference(index=2, found=True)),
        classified_at=datetime(2017, 3, 14, 18, tzinfo=UTC),
        caused_by="evt-1",
    )


TARGET = NoticeTarget(handle="@alt_agency", platform_user_id="tw-1")


def test_html_autoescapes_a_hostile_agency_name() -> None:
    rendered = render_notice(classified(), submission(agency=INJECTION), TARGET)
    assert "<script>" not in rendered.html
    assert "<img" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    # The plain-text part is not HTML and shows the name as given.
    assert INJECTION in rendered.text


def test_content_says_who_under_what_authority_which_data_and_by_when() -> None:
    rendered = render_notice(
        classified(), submission(), TARGET, reason=NotifyReason.NOTICE_TO_ENABLE_CHALLENGE
    )
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
    rendered = render_notice(classified(), submission(), TARGET)
    for part in (rendered.subject, rendered.text, rendered.html):
        assert EMAIL.search(part) is None  # not the requester's, not anyone in the document
        assert PHONE.search(part) is None
        assert "@someone_else" not in part  # no other target
        assert "97" not in part  # no internal risk score
        assert "ANON_SPEAKER_UNMASKING" not in part
        assert "jane.doe" not in part  # no stated purpose naming other people


def test_a_notice_after_a_gag_does_not_claim_nothing_was_disclosed() -> None:
    rendered = render_notice(classified(), submission(), TARGET, reason=NotifyReason.NDO_EXPIRED)
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


PLATFORM = Platform(
    name="Chirp",
    sender="avisos@chirp.example",
    reply_to="legal@chirp.example",
    legal_help_url="https://chirp.example/ayuda-legal",
    legal_team_url="https://chirp.example/solicitudes",
)


def test_the_notice_speaks_in_the_platforms_name_never_dockets() -> None:
    rendered = render_notice(
        classified(), submission(), TARGET, settings=NoticeSettings(platform=PLATFORM)
    )
    for part in (rendered.subject, rendered.text, rendered.html):
        assert "docket" not in part.casefold()
    assert "Chirp has received a legal request" in rendered.text
    assert "https://chirp.example/ayuda-legal" in rendered.html
    assert rendered.platform == PLATFORM


def test_a_spanish_reader_gets_spanish_wording_dates_and_labels() -> None:
    settings = NoticeSettings(platform=PLATFORM)
    rendered = render_notice(
        classified(),
        submission(),
        TARGET,
        reason=NotifyReason.NOTICE_TO_ENABLE_CHALLENGE,
        settings=settings,
        locale="es-MX",
    )
    assert rendered.locale == "es"
    assert rendered.subject == "Una solicitud legal de información sobre su cuenta"
    for part in (rendered.text, rendered.html):
        assert "Chirp ha recibido una solicitud legal" in part
        assert "una citación o requerimiento administrativo" in part
        assert "las direcciones de internet (IP)" in part
        assert "23 de marzo de 2017" in part
        assert "No hemos revelado" in part
        assert "impugnar" in part
        assert "March" not in part
        assert "lawyer" not in part
    assert '<html lang="es">' in rendered.html


@pytest.mark.parametrize(
    ("wanted", "default", "chosen"),
    [
        ("es", "en", "es"),
        ("ES_es", "en", "es"),
        ("fr-CA", "es", "es"),  # no French: the configured default
        (None, "es", "es"),
        ("fr", "de", "en"),  # neither: English
        ("", "en", "en"),
    ],
)
def test_the_locale_falls_back_to_its_language_then_the_default_then_english(
    wanted: str | None, default: str, chosen: str
) -> None:
    assert notice_locale(wanted, frozenset({"en", "es"}), default) == chosen


def test_the_shipped_languages_cover_every_category_and_authority() -> None:
    assert {"en", "es"} <= available_locales()
    for locale in available_locales():
        messages = load_messages(None, locale)
        assert set(messages.data_categories) == set(DataCategory)
        assert set(messages.authorities) == set(load_messages(None, "en").authorities)


def test_an_operators_own_templates_win_and_add_languages(tmp_path: Path) -> None:
    german = tmp_path / "de"
    german.mkdir()
    english = TEMPLATES / "en"
    (german / "messages.yaml").write_text(
        (english / "messages.yaml")
        .read_text()
        .replace(
            "subject: A legal request",
            "subject: Eine rechtliche Anfrage zu Ihrem Konto; A legal request",
        )
    )
    (german / "notice.txt.jinja").write_text("{{ platform_name }} hat eine Anfrage erhalten.\n")
    (german / "notice.html.jinja").write_text(
        "<p>{{ platform_name }} hat eine Anfrage erhalten.</p>"
    )
    settings = NoticeSettings(platform=PLATFORM, templates_dir=tmp_path, default_locale="de")

    rendered = render_notice(classified(), submission(), TARGET, settings=settings, locale="fr")

    assert rendered.locale == "de"
    assert rendered.text == "Chirp hat eine Anfrage erhalten.\n"
    assert rendered.subject.startswith("Eine rechtliche Anfrage")
    spanish = render_notice(classified(), submission(), TARGET, settings=settings, locale="es")
    assert spanish.locale == "es"


def test_wording_that_misses_a_data_category_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "xx"
    broken.mkdir()
    for name in ("notice.txt.jinja", "notice.html.jinja"):
        (broken / name).write_text("{{ platform_name }}")
    (broken / "messages.yaml").write_text(
        (TEMPLATES / "en" / "messages.yaml")
        .read_text()
        .replace("  payment_info: your payment details\n", "")
    )
    with pytest.raises(ValueError, match="payment_info"):
        render_notice(
            classified(),
            submission(),
            TARGET,
            settings=NoticeSettings(templates_dir=tmp_path),
            locale="xx",
        )


def test_a_platform_name_cannot_forge_a_mail_header() -> None:
    with pytest.raises(ValueError, match="line breaks"):
        Platform(name="Chirp\r\nBcc: everyone@example.org")
