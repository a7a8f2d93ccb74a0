"""How many people a demand reaches, read from its words."""

from __future__ import annotations

import pytest

from services.classifier.domain.extract.scale import stated_scale
from services.classifier.domain.text import normalise


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("Served together with 381 separate search warrants for the accounts listed.", 381),
        ("The schedule lists 140 phone numbers and e-mail addresses.", 140),
        ("a schedule listing over a hundred phone numbers", 100),
        ("Hundreds of subpoenas were sent to the platform", 200),
        ("location records for 5,723 devices", 5723),
        ("identities behind the 109 identifiers in Attachment A", 109),
        ("For each of the eight (8) accounts in Schedule 1", 8),
        ("the four screen names in Schedule A", 4),
        ("more than 10,000 account holders", 10000),
    ],
)
def test_a_stated_count(text: str, count: int) -> None:
    scale = stated_scale(normalise(text))
    assert scale is not None
    assert scale.count == count, scale


@pytest.mark.parametrize(
    "text",
    [
        "records of every customer who used the service between 2013 and 2015",
        "all United States users who transferred virtual currency",
        "the registration data of ALL members of the channel and chat group",
        "identify everyone who posted #StopTheRaids during the week",
        "all IP traffic to and from the website on June 25",
        "every visitor's IP address, date and time",
        "all devices reported within the polygon",
        "a John Doe summons for an unnamed class",
    ],
)
def test_a_whole_class_of_people(text: str) -> None:
    scale = stated_scale(normalise(text))
    assert scale is not None
    assert scale.whole_class, scale


@pytest.mark.parametrize(
    "text",
    [
        "Produce subscriber records for the account listed.",
        "all accounts listed in Attachment A",
        "for each of the accounts in the schedule",
        "between 2013 and 2015 users were asked",  # years are not counts
        "telephone number (313) 555-0142 on 3 March 2025",  # digits of a number, a date
        "Docket No. 381 concerning the user",
        "SUBPOENA issued under 21 USC 876. Produce the subscriber's name",
        "under 18 U.S.C. 2703 accounts must be preserved",
    ],
)
def test_no_scale_where_none_is_stated(text: str) -> None:
    scale = stated_scale(normalise(text))
    assert scale is None or (scale.count is not None and scale.count < 25), scale


def test_the_largest_count_wins_and_is_quoted() -> None:
    scale = stated_scale(normalise("two accounts now, and 140 phone numbers in the schedule"))
    assert scale is not None
    assert scale.count == 140
    assert scale.found.words == "140 phone numbers"
