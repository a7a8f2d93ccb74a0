"""What a preservation request may not do (18 U.S.C. 2703(f), domain.md 1.3): it
freezes records already held, for 90 days plus one 90-day renewal. A letter that asks
to capture future communications, or for a third period, goes beyond the statute."""

from __future__ import annotations

from services.classifier.domain.extract._match import Found, compile_all, find
from services.classifier.domain.text import NormalisedText

_PROSPECTIVE = compile_all(
    [
        r"\b(?:created|sent|received|posted|generated|made) (?:on or )?after (?:the date of )?"
        r"(?:this|the date of this|receipt of this) (?:letter|request|notice)\b",
        r"\b(?:future|prospective|going forward|real[- ]time|ongoing) (?:messages|communications|"
        r"content|records|activity|data|posts)\b",
        r"\bas (?:they are|it is) (?:created|sent|received|generated)\b",
        r"\bcontinue to (?:preserve|capture|collect|record) (?:all )?(?:new|future|incoming)\b",
    ]
)
_BEYOND_RENEWAL = compile_all(
    [
        r"\b(?:third|fourth|fifth|further|additional) (?:request|letter|extension|renewal) to "
        r"preserve\b",
        r"\b(?:third|fourth|fifth) (?:preservation )?(?:request|letter|extension|renewal|period)\b",
        r"\b(?:second|another|additional) (?:90|ninety)[- ]day extension\b",
        r"\bbeyond (?:the )?(?:statutory )?(?:180|90 \+ 90|ninety plus ninety)\b",
    ]
)


def prospective_capture(text: NormalisedText) -> Found | None:
    return find(text, _PROSPECTIVE)


def beyond_renewal(text: NormalisedText) -> Found | None:
    return find(text, _BEYOND_RENEWAL)
