"""Normalisation's shortcuts (whole-string lower-casing, steps skipped when they match
nothing, lone spaces left alone) give exactly what the plain step-by-step rewrite gives,
and the citations found once per text are the ones a search would find."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from services.classifier.domain.text import (
    _STEPS,
    Pattern,
    find_citations,
    normalise,
)

_PIECES = st.sampled_from(
    [
        "a", "S", "s", ".", "§", " ", "  ", "\t", "\n", "\u00a0", "\u2003", "-", "\u2013",
        "\u2019", "\u201c", "(", ")", "d", "0", "17", "1509", ",", ";", "İ", "Σ", "ΟΔΟΣ ",
        "ß", "U.S.C.", "USC", "United States Code", "section ", "Sec. ", "Title 19, ",
        " of title 18", "18 U.S.C. § 2703(d)", "Rule 17",
    ]
)  # fmt: skip


def _reference(original: str) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    """The rewrite without shortcuts: every character lowered on its own, every step
    applied to every match, whitespace runs (even a lone space) replaced."""
    text = "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in original)
    starts, ends = list(range(len(original))), list(range(1, len(original) + 1))
    for pattern, replacement in _STEPS:
        if pattern.pattern == r"\s{2,}|[^\S ]":
            pattern = re.compile(r"\s+")
        out, new_starts, new_ends, position = [], [], [], 0
        for match in pattern.finditer(text):
            out.append(text[position : match.start()])
            new_starts += starts[position : match.start()]
            new_ends += ends[position : match.start()]
            if match.start() < match.end():
                origin = (starts[match.start()], ends[match.end() - 1])
            else:
                origin = (starts[match.start()],) * 2 if starts else (0, 0)
            out.append(replacement)
            new_starts += [origin[0]] * len(replacement)
            new_ends += [origin[1]] * len(replacement)
            position = match.end()
        out.append(text[position:])
        text = "".join(out)
        starts, ends = new_starts + starts[position:], new_ends + ends[position:]
    return text, tuple(starts), tuple(ends)


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=25).map("".join))
def test_normalise_matches_the_plain_rewrite(original: str) -> None:
    normalised = normalise(original)
    assert (normalised.text, normalised.starts, normalised.ends) == _reference(original)
    assert normalised.citations == find_citations(normalised.text)


def test_capital_sigma_is_lowered_on_its_own() -> None:
    # str.lower would give a final sigma; normalisation lowers character by character
    assert normalise("ΟΔΟΣ").text == "οδοσ"


def test_citations_are_found_once_and_searched_from_the_text() -> None:
    text = normalise("Issued under Title 19, Section 1509 and 18 U.S.C.  §2703(d).")
    assert [str(c.citation) for c in text.citations] == ["19 U.S.C. 1509", "18 U.S.C. 2703(d)"]
    span = Pattern.of("18 USC 2703").search(text)
    assert span is not None
    assert text.quote(*span) == "18 U.S.C. §2703(d)"
    assert Pattern.of("18 USC 2703(f)").search(text) is None


def test_a_phrase_does_not_match_inside_a_longer_word() -> None:
    assert Pattern.of("rule 17").search(normalise("under Rule 170")) is None
    found = Pattern.of("rule 17").search(normalise("under  RULE\t17."))
    assert found is not None
