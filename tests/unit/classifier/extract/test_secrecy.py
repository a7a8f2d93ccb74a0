"""Who orders the silence, and whether it ends."""

from __future__ import annotations

import pytest

from services.classifier.domain.extract.secrecy import (
    SecrecySource,
    secrecy_authority,
    secrecy_demand,
)
from services.classifier.domain.text import normalise


@pytest.mark.parametrize(
    "text",
    [
        "Pursuant to 18 U.S.C. section 2705(b) the provider shall not disclose this order for "
        "180 days.",
        "Attached: ORDER under Title 18, United States Code, Section 2705(b) directing the "
        "provider not to disclose.",
        "IT IS FURTHER ORDERED that the provider shall not disclose the existence of this warrant.",
        "The court hereby directs the provider not to notify any person of this order.",
        "A non-disclosure order accompanies this subpoena.",
        "The provider shall not disclose this order until further order of the court.",
    ],
)
def test_a_court_orders_secrecy(text: str) -> None:
    found = secrecy_demand(normalise(text))
    assert found is not None
    assert found.source is SecrecySource.COURT, found


@pytest.mark.parametrize(
    "text",
    [
        "You are asked not to reveal that this summons exists.",
        "We ask that you not notify the subscriber.",
        "Please do not disclose this request to the account holder.",
        "You are not to disclose the existence of this request unless authorized by the AUSA. "
        "No order under 18 U.S.C. section 2705(b) is attached.",
        "Kindly keep this request confidential.",
        "you are requested not to disclose the subpoena",
    ],
)
def test_the_requester_only_asks(text: str) -> None:
    found = secrecy_demand(normalise(text))
    assert found is not None
    assert found.source is SecrecySource.REQUESTER, found


def test_no_secrecy() -> None:
    assert secrecy_demand(normalise("Produce the records by 5 May.")) is None


def test_open_ended_court_secrecy() -> None:
    found = secrecy_demand(
        normalise("The provider shall not disclose this order until further order of the court.")
    )
    assert found is not None
    assert found.open_ended is not None
    dated = secrecy_demand(normalise("Under 18 USC 2705(b) do not disclose for one year."))
    assert dated is not None
    assert dated.open_ended is None


@pytest.mark.parametrize(
    ("authority", "source"),
    [
        ("Order of the U.S. Magistrate Judge", SecrecySource.COURT),
        ("sealing order", SecrecySource.COURT),
        ("18 U.S.C. 2705(b)", SecrecySource.COURT),
        ("requested by the investigating agent", None),
    ],
)
def test_the_authority_field_names_a_court(authority: str, source: SecrecySource | None) -> None:
    found = secrecy_authority(normalise(authority))
    assert (found.source if found else None) is source


@pytest.mark.parametrize(
    ("text", "has_duration"),
    [
        ("Under 18 U.S.C. 2705(b) the provider shall not disclose this order for one year.", True),
        ("IT IS ORDERED that the provider not disclose this warrant for 180 days.", True),
        ("the provider shall not disclose this order until 12 May 2026", True),
        ("The provider shall not disclose this order until further order of the court.", False),
    ],
)
def test_a_court_gag_states_how_long_it_runs(text: str, has_duration: bool) -> None:
    found = secrecy_demand(normalise(text))
    assert found is not None
    assert found.source is SecrecySource.COURT
    assert (found.duration is not None) is has_duration
