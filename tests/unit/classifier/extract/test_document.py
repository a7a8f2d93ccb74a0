"""``read_document`` runs each extractor over the fields where its fact is written and
keeps the words that showed it, field by field."""

from __future__ import annotations

from services.classifier.domain.extract import SecrecySource, read_document
from services.classifier.domain.text import normalise


def test_a_court_named_in_the_authority_field_with_the_duration_in_the_document() -> None:
    facts = read_document(
        {
            "nondisclosure_authority": normalise("Order of the magistrate judge"),
            "document_text": normalise(
                "You are requested not to disclose this subpoena. The attached order "
                "directs the provider not to disclose it for one year."
            ),
        }
    )
    assert facts.secrecy is not None
    assert facts.secrecy.source is SecrecySource.COURT
    assert facts.secrecy.quote.field == "nondisclosure_authority"
    assert facts.secrecy.duration is not None
    assert str(facts.secrecy.duration) == 'document_text says "for one year"'


def test_evidence_names_the_field_and_blanks_personal_data() -> None:
    facts = read_document(
        {
            "document_text": normalise(
                "Produce records for all members of the group run by jane@example.org "
                "and +1 415 555 0100."
            ),
            "stated_purpose": normalise("Investigation of a protest"),
        }
    )
    assert facts.scale is not None
    assert facts.scale.count is None
    assert str(facts.scale.quote).startswith("document_text says")
    protest = facts.contexts
    assert any(str(q) == 'stated_purpose says "protest"' for q in protest.values())
    assert all("@" not in str(q) and "555" not in str(q) for q in protest.values())


def test_nothing_found_in_an_empty_request() -> None:
    facts = read_document({"document_text": normalise("")})
    assert facts.scale is None
    assert facts.secrecy is None
    assert facts.contexts == {}
