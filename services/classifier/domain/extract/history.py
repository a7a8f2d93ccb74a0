"""What the document says about earlier demands: a summons or subpoena for the same
thing that was withdrawn, quashed, contested or refused, so that this one re-issues it
(ESCALATION_AFTER_PUSHBACK). The linked requests themselves are compared on arrival
(``services.classifier.domain.links``, condition ``linked_request_resisted``); this
reads what the document says of demands Docket never saw."""

from __future__ import annotations

from services.classifier.domain.extract._match import Found, compile_all, find
from services.classifier.domain.text import NormalisedText

_EARLIER = r"(?:earlier|previous|prior|original|first|initial|withdrawn|rescinded)"
_INSTRUMENT = r"(?:summons(?:es)?|subpoenas?|requests?|demands?|orders?|letters?|warrants?|process)"
_PUSHBACK = (
    r"(?:withdrawn|withdrew|rescinded|abandoned|dropped|quashed|vacated|challenged|contested|"
    r"refused|declined|resisted|objected to|rejected|moved to quash)"
)
_PATTERNS = compile_all(
    [
        r"\b" + _EARLIER + r"(?: [a-z-]+){0,3} " + _INSTRUMENT + r"\b(?: [a-z0-9()'-]+){0,10} "
        r"(?:was|were|had been|has been|is|being) " + _PUSHBACK + r"\b",
        r"\b" + _INSTRUMENT + r" (?:previously|earlier|first|once) (?:served|issued|sent|delivered)"
        r"(?: [a-z-]+){0,4} (?:was|were|had been|has been) " + _PUSHBACK + r"\b",
        r"\b(?:follows|replaces|supersedes|re-?issues|renews|reasserts)(?: the)? "
        + _EARLIER
        + r"\b",
        r"\b(?:after|since|because|when) (?:the platform|the company|the provider|you|your "
        r"company|it)"
        r"(?: [a-z-]+){0,2} (?:declined|refused|objected|resisted|challenged|moved to quash|"
        r"did not comply|failed to comply)\b",
        r"\b(?:you|your company|the platform|the company|the provider)(?: [a-z-]+){0,2} "
        r"(?:declined|refused|objected|resisted|challenged|moved to quash|did not comply) "
        r"(?:to|with|in response|and|because|on|after)\b",
        r"\bpreviously (?:withdrawn|challenged|contested|declined|refused|quashed)\b",
        r"\bin place of the (?:withdrawn|earlier|previous)\b",
        r"\bre-?issu(?:ed|es|ing) (?:the|this|its|a)\b",
        r"\bsuperseding (?:subpoena|summons|request|demand)\b",
        r"\brenewed demand\b",
    ]
)  # fmt: skip


def reissued_after_pushback(text: NormalisedText) -> Found | None:
    return find(text, _PATTERNS)
