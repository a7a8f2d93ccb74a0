"""Earlier demands that were withdrawn, contested or refused."""

from __future__ import annotations

import pytest

from services.classifier.domain.extract.history import reissued_after_pushback
from services.classifier.domain.text import normalise


@pytest.mark.parametrize(
    "text",
    [
        "This subpoena follows the earlier summons, which was withdrawn after the platform "
        "declined to comply.",
        "The administrative subpoena previously served on you was withdrawn; this grand jury "
        "subpoena replaces it.",
        "It supersedes the withdrawn summons.",
        "after the company objected to the first request",
        "The prior request was contested by the provider.",
        "a superseding subpoena for the same records",
    ],
)
def test_earlier_demand_resisted(text: str) -> None:
    assert reissued_after_pushback(normalise(text)) is not None


@pytest.mark.parametrize(
    "text",
    [
        "Our letters of 28 February (initial request) and 27 May (extension) asked you to "
        "preserve.",
        "Reference: your company's report dated 19 September.",
        "The subpoena has not been withdrawn.",
    ],
)
def test_no_pushback(text: str) -> None:
    assert reissued_after_pushback(normalise(text)) is None


def test_the_platform_declined_an_earlier_instrument() -> None:
    text = "On 14 November you declined to produce message headers in response to the subpoena."
    assert reissued_after_pushback(normalise(text)) is not None
