"""Finding legal language in a normalised text and quoting it back.

Every extractor works on :class:`NormalisedText` (lower case, citation spellings
folded, abbreviation dots dropped) and answers with the document's own words, with
e-mail addresses and phone numbers blanked, so a finding can be shown as evidence."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from services.classifier.domain.text import NormalisedText, denied


@dataclass(frozen=True)
class Found:
    """Where a phrase was found and the document's words for it."""

    start: int
    end: int
    words: str


def compile_all(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


def find(
    text: NormalisedText, patterns: Iterable[re.Pattern[str]], *, affirmed_only: bool = True
) -> Found | None:
    """The earliest match of any pattern (denied matches skipped when ``affirmed_only``)."""
    best: Found | None = None
    for pattern in patterns:
        for match in pattern.finditer(text.text):
            if affirmed_only and denied(text, match.start()):
                continue
            if best is None or match.start() < best.start:
                best = Found(match.start(), match.end(), text.quote(match.start(), match.end()))
            break
    return best


_K = TypeVar("_K")


def find_each(
    text: NormalisedText, patterns: Mapping[_K, Iterable[re.Pattern[str]]]
) -> dict[_K, Found]:
    """For each key, the earliest affirmed match of its patterns (keys with none left out)."""
    found: dict[_K, Found] = {}
    for key, key_patterns in patterns.items():
        hit = find(text, key_patterns)
        if hit is not None:
            found[key] = hit
    return found
