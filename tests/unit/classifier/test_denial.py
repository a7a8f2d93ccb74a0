"""A citation or phrase the document denies in the same clause does not identify an
authority ("does not intend to use a mutual legal assistance request")."""

from __future__ import annotations

import pytest

from services.classifier.domain.text import Pattern, denied, normalise


@pytest.mark.parametrize(
    ("text", "phrase", "found"),
    [
        (
            "The prosecutor does not intend to use a mutual legal assistance request.",
            "mutual legal assistance",
            False,
        ),
        ("Sent under the mutual legal assistance treaty.", "mutual legal assistance", True),
        ("No order under 18 U.S.C. section 2705(b) is attached.", "18 USC 2705(b)", False),
        ("Attached: an order under 18 U.S.C. 2705(b).", "18 USC 2705(b)", True),
        ("John Doe No. 3 posted under a grand jury subpoena", "grand jury", True),
    ],
)
def test_affirmed_matches_only(text: str, phrase: str, found: bool) -> None:
    assert (Pattern.of(phrase).affirmed(normalise(text)) is not None) is found


def test_a_denial_ends_with_its_clause() -> None:
    text = normalise("No hold is needed. A grand jury subpoena is attached.")
    assert not denied(text, text.text.index("grand jury"))
    # the dots of "U.S.C." and "No." end no clause
    cited = normalise("No order under 18 U.S.C. Section 2705(b) is attached.")
    assert denied(cited, cited.text.index("18 usc"))
