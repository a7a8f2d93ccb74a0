"""Who orders the silence. A court's non-disclosure order binds the platform even
when the submission's ``authority`` field is vague ("the court orders that the
provider shall not disclose this order", "an order under 18 U.S.C. 2705(b) directing
the provider not to disclose"); a requester's own "please do not disclose" or "you are
asked not to reveal" is a request without legal force (domain.md 1.4, 4.2). A binding
gag "until further order of the court" has no end date."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.classifier.domain.extract._match import Found, compile_all, find
from services.classifier.domain.text import Citation, NormalisedText, denied

_NOT_DISCLOSE = r"(?:not (?:to )?(?:disclose|reveal|notify|inform|tell)|refrain from disclos)"
_COURT_ORDERS = compile_all(
    [
        # the court speaks: "it is ordered that the provider shall not disclose"
        r"\b(?:court|judge|magistrate|tribunal)(?: [a-z-]+){0,4} (?:hereby )?(?:orders?|ordered|"
        r"directs?|directed|commands?)\b"
        r"(?: [a-z()'-]+){0,12} " + _NOT_DISCLOSE,
        r"\b(?:it is (?:further )?(?:hereby )?ordered|so ordered)\b(?: [a-z()'-]+){0,12} "
        + _NOT_DISCLOSE,
        r"\border(?: [a-z0-9()'-]+){0,10} (?:directing|directs|requiring|requires|commanding|"
        r"commands|prohibiting|prohibits|forbidding|forbids)"
        r"(?: [a-z()'-]+){0,6} (?:not (?:to )?(?:disclose|reveal|notify)|from disclos)",
        r"\b(?:non-?disclosure|gag|secrecy|sealing) order\b",
        r"\border of non-?disclosure\b",
        r"\bthe provider shall not disclose (?:this|the) order\b",
    ]
)  # fmt: skip
_REQUESTER_ASKS = compile_all(
    [
        r"\b(?:you are|you're|we are) (?:hereby )?(?:asked|requested|urged) (?:not to|to not|to "
        r"refrain)\b",
        r"\b(?:we|i|the (?:agency|department|office)) (?:would )?(?:ask|request|asks|requests|urge)"
        r"(?: that)?(?: you)? (?:not|to not|refrain)\b",
        r"\bplease (?:do not|don't|refrain from) (?:disclos|notif|reveal|inform|tell|alert)",
        r"\byou are not to (?:disclose|reveal|notify|inform)\b",
        r"\b(?:keep|treat) (?:this|the) (?:request|letter|summons|subpoena|matter|inquiry) (?:as "
        r")?confidential\b",
        r"\brequested not to (?:disclose|reveal|notify)\b",
        r"\b(?:do not|don't) (?:notify|inform|tell|alert) the (?:user|subscriber|customer|account "
        r"holder)\b",
    ]
)  # fmt: skip
_UNTIL_FURTHER_ORDER = compile_all(
    [
        r"\buntil (?:further )?(?:order|notice) of (?:the|this) court\b",
        r"\buntil further order\b",
        r"\bindefinitely\b",
        r"\bwithout (?:an )?(?:end|expiry|expiration) date\b",
    ]
)
_DURATION = compile_all(
    [
        r"\bfor (?:a period of |up to )?(?:\d+|one|two|three|six|nine|twelve|ninety|thirty|sixty)"
        r"(?: \(\d+\))?[- ](?:days?|months?|years?)\b",
        r"\buntil (?:\d{1,2} )?(?:january|february|march|april|may|june|july|august|september|"
        r"october|"
        r"november|december)\b",
        r"\buntil \d{4}-\d{2}-\d{2}\b",
    ]
)
_GAG_STATUTE = Citation(title=18, first="2705", last="2705", subsections=("b",))


class SecrecySource(StrEnum):
    COURT = "court"  # a court ordered it: binding
    REQUESTER = "requester"  # the requester only asked: not binding


@dataclass(frozen=True)
class SecrecyDemand:
    source: SecrecySource
    found: Found
    #: the order says it runs until the court says otherwise (no end date)
    open_ended: Found | None
    #: the order states how long it runs ("for one year", "until 12 May")
    duration: Found | None = None


def _gag_citation(text: NormalisedText) -> Found | None:
    """A 2705(b) citation the document does not deny ("no order under 2705(b) is
    attached" is no order)."""
    for match in text.citations:
        if _GAG_STATUTE.covers(match.citation) and not denied(text, match.start):
            return Found(match.start, match.end, text.quote(match.start, match.end))
    return None


_COURT_NAMED = compile_all(
    [r"\b(?:court|judge|magistrate|tribunal|justice)\b", r"\b(?:court|judicial|sealing) order\b"]
)


def secrecy_demand(text: NormalisedText) -> SecrecyDemand | None:
    """The strongest secrecy the document imposes or asks for, and who stands behind it."""
    court = _gag_citation(text) or find(text, _COURT_ORDERS)
    if court is not None:
        return SecrecyDemand(
            SecrecySource.COURT,
            court,
            find(text, _UNTIL_FURTHER_ORDER, affirmed_only=False),
            find(text, _DURATION, affirmed_only=False),
        )
    asked = find(text, _REQUESTER_ASKS, affirmed_only=False)
    if asked is not None:
        return SecrecyDemand(SecrecySource.REQUESTER, asked, None)
    return None


def secrecy_authority(text: NormalisedText) -> SecrecyDemand | None:
    """Read the submission's own ``nondisclosure.authority`` field: a court or judge
    named there (however vaguely: "order of the magistrate judge") makes the gag a
    court's; anything else is read like the document."""
    demand = secrecy_demand(text)
    if demand is not None and demand.source is SecrecySource.COURT:
        return demand
    court = find(text, _COURT_NAMED, affirmed_only=False)
    if court is not None:
        return SecrecyDemand(
            SecrecySource.COURT, court, find(text, _UNTIL_FURTHER_ORDER, affirmed_only=False)
        )
    return demand
