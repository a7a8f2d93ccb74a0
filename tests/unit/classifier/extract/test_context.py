"""Protected contexts: journalism, health, religion, protest, minors, child safety."""

from __future__ import annotations

import pytest

from services.classifier.domain.extract.context import Context, protected_contexts
from services.classifier.domain.text import normalise


@pytest.mark.parametrize(
    ("text", "context"),
    [
        ("the account of a reporter covering the agency", Context.JOURNALISM),
        ("a leak investigation into unauthorised disclosures", Context.JOURNALISM),
        ("to identify the newspaper's confidential source", Context.JOURNALISM),
        ("messages about an abortion obtained out of state", Context.HEALTH),
        ("a concealed stillbirth", Context.HEALTH),
        ("her pregnancy and the clinic visits", Context.HEALTH),
        ("members of the mosque", Context.RELIGION),
        ("the church's congregation", Context.RELIGION),
        ("the organisers of Saturday's protest", Context.PROTEST),
        ("demonstrators outside the field office", Context.PROTEST),
        ("the riot during the inauguration", Context.PROTEST),
        ("messages of a 16-year-old about her plans", Context.MINOR),
        ("the account holder is a juvenile", Context.MINOR),
        ("a teenager's direct messages", Context.MINOR),
        ("child sexual abuse material traded by the account", Context.CHILD_SAFETY),
        ("an adult who groomed her online", Context.CHILD_SAFETY),
        ("sextortion of students", Context.CHILD_SAFETY),
    ],
)
def test_contexts(text: str, context: Context) -> None:
    assert context in protected_contexts(normalise(text))


@pytest.mark.parametrize(
    ("text", "absent"),
    [
        ("since this is a minor matter", Context.MINOR),
        ("preserve records under 18 U.S.C. 2703(f)", Context.MINOR),
        ("the health of the economy", Context.HEALTH),
        ("a fraud scheme selling consoles", Context.PROTEST),
    ],
)
def test_no_context_from_unrelated_words(text: str, absent: Context) -> None:
    assert absent not in protected_contexts(normalise(text))
