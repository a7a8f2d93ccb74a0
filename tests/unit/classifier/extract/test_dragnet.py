"""Reverse searches: unknown people picked out by place, query or visit."""

from __future__ import annotations

import pytest

from services.classifier.domain.extract.dragnet import SearchBy, reverse_search
from services.classifier.domain.text import normalise


@pytest.mark.parametrize(
    ("text", "by"),
    [
        (
            "GEOFENCE warrant: location history for all devices within 150 meters of the bank",
            SearchBy.PLACE,
        ),
        ("Location History data for all devices reported within the polygon", SearchBy.PLACE),
        ("every mobile device present at the intersection between 1 and 2 p.m.", SearchBy.PLACE),
        ("a tower dump for the cell site serving the stadium", SearchBy.PLACE),
        ("identify all users who searched for the victim's address", SearchBy.QUERY),
        ("anyone who posted #NoKings on the day", SearchBy.QUERY),
        ("persons that used the hashtag in their posts", SearchBy.QUERY),
        ("examine all incoming messages to all accounts for the selector", SearchBy.QUERY),
        ("a reverse keyword warrant", SearchBy.QUERY),
        ("all IP traffic to and from the site on June 25, 2008", SearchBy.VISITORS),
        ("HTTP logs showing every visitor's IP address", SearchBy.VISITORS),
        ("the visitor logs of the website", SearchBy.VISITORS),
    ],
)
def test_reverse_searches(text: str, by: SearchBy) -> None:
    found = reverse_search(normalise(text))
    assert found is not None
    assert found.by is by, found


@pytest.mark.parametrize(
    "text",
    [
        "subscriber records and login IPs for the account listed",
        "location history for the account holder in July 2025",
        "messages exchanged with the child's account in the last 14 days",
        "no geofence or tower dump is sought",
    ],
)
def test_a_named_account_is_no_reverse_search(text: str) -> None:
    assert reverse_search(normalise(text)) is None
