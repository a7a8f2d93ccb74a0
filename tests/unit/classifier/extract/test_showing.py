"""Offence and evidence shown or missing; non-party speakers; private lawsuits."""

from __future__ import annotations

import pytest

from services.classifier.domain.extract.showing import (
    evidence_offered,
    platform_not_party,
    private_lawsuit,
    showing_missing,
    speakers_not_parties,
)
from services.classifier.domain.text import normalise


@pytest.mark.parametrize(
    "text",
    [
        "No affidavit or other evidence of harm is attached.",
        "the subpoena does not describe the offence under investigation",
        "no law, offence or specific post identified",
        "Federal criminal investigation (not described in the subpoena)",
        "without any evidence of falsity",
        "No evidence of falsity beyond that belief is attached.",
    ],
)
def test_showing_missing(text: str) -> None:
    assert showing_missing(normalise(text)) is not None


def test_a_stated_offence_is_no_missing_showing() -> None:
    assert showing_missing(normalise("Investigation of wire fraud (18 U.S.C. 1343).")) is None


@pytest.mark.parametrize(
    ("text", "offered"),
    [
        ("The plaintiff's sworn declaration and exhibits set out a prima facie case.", True),
        ("supported by the affidavit of the investigator", True),
        ("No affidavit or other evidence of harm is attached.", False),
        ("The complaint alleges defamation.", False),
    ],
)
def test_evidence_offered(text: str, offered: bool) -> None:
    assert (evidence_offered(normalise(text)) is not None) is offered


@pytest.mark.parametrize(
    ("text", "non_party"),
    [
        ("None of the account holders is a party to the action.", True),
        ("the commenters are non-parties", True),
        ("the users are not parties to this case", True),
        ("the Doe defendants posted the statements", False),
    ],
)
def test_speakers_not_parties(text: str, non_party: bool) -> None:
    assert (speakers_not_parties(normalise(text)) is not None) is non_party


@pytest.mark.parametrize(
    ("text", "private"),
    [
        ("Defamation suit by a news agency", True),
        ("The plaintiff alleges non-compliance", True),
        ("a civil action for breach of contract", True),
        ("Investigation of drug trafficking", False),
    ],
)
def test_private_lawsuit(text: str, private: bool) -> None:
    assert (private_lawsuit(normalise(text)) is not None) is private


@pytest.mark.parametrize(
    ("text", "not_party"),
    [
        ("Yelp was not named as a defendant, was not served with the complaint", True),
        ("the non-party platform is ordered to remove the reviews", True),
        ("the company did not appear", True),
        ("the provider is a defendant and was served", False),
    ],
)
def test_platform_not_party(text: str, not_party: bool) -> None:
    assert (platform_not_party(normalise(text)) is not None) is not_party
