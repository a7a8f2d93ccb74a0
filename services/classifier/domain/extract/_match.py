"""Finding legal language in a normalised text and quoting it back.

Every extractor works on :class:`NormalisedText` (lower case, citation spellings
folded, abbreviation dots dropped) and answers with the document's own words, with
e-mail addresses and phone numbers blanked, so a finding can be shown as evidence."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from services.classifier.domain.text import NormalisedText

#: Words that deny what follows them in the same clause ("no order under 2705(b) is
#: attached", "do not produce content", "without any affidavit"). "no" before a number
#: is a docket or case number ("Doe No. 3"), not a denial.
_DENIAL = re.compile(
    r"\b(?:no(?! ?\d)|not|without|none|never|neither|nor|absent|lacks?|lacking|excluding|except)\b"
)
_CLAUSE_END = re.compile(r"[.;:!?]|\bbut\b|\bhowever\b")
_LOOKBACK_WORDS = 6


@dataclass(frozen=True)
class Found:
    """Where a phrase was found and the document's words for it."""

    start: int
    end: int
    words: str


def compile_all(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


def denied(text: str, start: int) -> bool:
    """Is the phrase starting at ``start`` denied within its own clause?"""
    before = text[max(0, start - 120) : start]
    ends = list(_CLAUSE_END.finditer(before))
    if ends:
        before = before[ends[-1].end() :]
    words = before.split()[-_LOOKBACK_WORDS:]
    return _DENIAL.search(" ".join(words)) is not None


def find(
    text: NormalisedText, patterns: Iterable[re.Pattern[str]], *, affirmed_only: bool = True
) -> Found | None:
    """The earliest match of any pattern (denied matches skipped when ``affirmed_only``)."""
    best: Found | None = None
    for pattern in patterns:
        for match in pattern.finditer(text.text):
            if affirmed_only and denied(text.text, match.start()):
                continue
            if best is None or match.start() < best.start:
                best = Found(match.start(), match.end(), text.quote(match.start(), match.end()))
            break
    return best
