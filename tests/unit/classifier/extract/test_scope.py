"""Data categories, whole-history periods and breadth named in a demand's text."""

from __future__ import annotations

import pytest

from services.classifier.domain.extract.scope import (
    breadth,
    data_held_in_home_country,
    named_categories,
    stated_period,
    whole_history,
)
from services.classifier.domain.text import normalise
from shared.submission import DataCategory


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("the contents of all direct messages sent or received", DataCategory.DIRECT_MESSAGES),
        ("all private messages and non-public posts", DataCategory.DIRECT_MESSAGES),
        ("the content of e-mails in the account", DataCategory.CONTENT),
        ("unpublished drafts and deleted posts", DataCategory.CONTENT),
        ("all photos and videos stored in the account", DataCategory.CONTENT),
        ("historical cell-site records", DataCategory.LOCATION),
        ("precise location history for July", DataCategory.LOCATION),
        ("GPS coordinates of the device", DataCategory.LOCATION),
        ("means and source of payment", DataCategory.PAYMENT_INFO),
        ("friends lists and group membership", DataCategory.CONNECTION_METADATA),
        ("IP address logs with timestamps", DataCategory.IP_LOGS),
    ],
)
def test_categories_named(text: str, category: DataCategory) -> None:
    assert category in named_categories(normalise(text))


@pytest.mark.parametrize(
    "text",
    [
        "Do not produce content.",
        "sender, recipient and timestamp of each direct message (no subject lines or message "
        "bodies)",
        "the messages quoted in the verified complaint",
        "a user who posted copyrighted images in a post",
    ],
)
def test_no_content_where_the_text_only_mentions_it(text: str) -> None:
    named = named_categories(normalise(text))
    assert DataCategory.CONTENT not in named
    assert DataCategory.DIRECT_MESSAGES not in named


@pytest.mark.parametrize(
    "text",
    [
        "from inception to the present",
        "all records from account creation to present",
        "since the account was opened",
        "since its registration",
        "the entire account history",
        "for the life of the account",
    ],
)
def test_whole_history(text: str) -> None:
    assert whole_history(normalise(text)) is not None


def test_a_bounded_period_is_no_whole_history() -> None:
    assert whole_history(normalise("from 1 January to 31 March 2025")) is None


@pytest.mark.parametrize(
    "text",
    [
        "any and all records",
        "deleted messages and posts",
        "the list of followers of the page",
        "identities of all members of the group",
        "accounts linked through cookie data",
        "all information associated with the account",
    ],
)
def test_breadth(text: str) -> None:
    assert breadth(normalise(text)) is not None


def test_a_narrow_demand_is_not_broad() -> None:
    assert breadth(normalise("the subscriber's name and e-mail address")) is None


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("users who transferred currency between 2013 and 2015", 2013, 2015),
        ("IP logs from 1/1/2016 to present", 2016, None),
        ("posts from January 2019 through December 2022", 2019, 2022),
        ("records since March 2019", 2019, None),
        ("for the period 2018-2021", 2018, 2021),
    ],
)
def test_stated_period(text: str, first: int, last: int | None) -> None:
    period = stated_period(normalise(text))
    assert period is not None
    assert (period.first, period.last) == (first, last), period


def test_no_period_without_years() -> None:
    assert stated_period(normalise("from 1 January to 31 March")) is None


@pytest.mark.parametrize(
    ("text", "held"),
    [
        ("Yahoo! holds the records in California", True),
        ("the data are stored in the United States", True),
        ("the provider keeps its account data on servers in the US", True),
        ("the account holder lives in Rotterdam", False),
    ],
)
def test_data_held_in_home_country(text: str, held: bool) -> None:
    assert (data_held_in_home_country(normalise(text)) is not None) is held
