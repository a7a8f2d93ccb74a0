"""Coercion of the platform (domain.md s.5, COERCIVE_ENFORCEMENT_THREAT): threats
against the liberty of its staff or representatives (arrest, imprisonment, criminal
proceedings against local officers), and threats against the service or the company
(nationwide blocking or suspension, escalating daily fines, seizure of assets,
contempt). An arrest warrant for the suspect is not a threat to anyone at the
platform."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.classifier.domain.extract._match import Found, compile_all, find
from services.classifier.domain.text import NormalisedText

_STAFF = (
    r"(?:representatives?|employees?|staff|officers?|executives?|directors?|managers?|"
    r"officials?|personnel|country head|vice[- ]president|legal representative)"
)
_AGAINST_STAFF = compile_all(
    [
        r"\b(?:arrest|detention|imprisonment|jailing|incarceration|prosecution)(?: of)?(?: (?:its|"
        r"the|their|your|company'?s?|local|platform'?s?|[a-z]+'s))*(?: [a-z-]+)? "
        + _STAFF + r"\b",
        r"\b(?:criminal (?:proceedings|charges|liability|prosecution|action)|personal (?:criminal "
        r")?liability|"
        r"prison|jail)(?: [a-z-]+){0,4} (?:against|of|for|on) (?:its|the|their|your|company'?s?|"
        r"local)(?: [a-z-]+){0,2} "
        + _STAFF + r"\b",
        _STAFF + r"(?: [a-z-]+){0,3} (?:will|may|shall|could|can) be (?:arrested|detained|"
                 r"imprisoned|jailed|prosecuted|held (?:personally|criminally) liable)\b",
        r"\b(?:punishable|liable|punished) (?:with|by) (?:imprisonment|jail|prison)\b",
        r"\bmeasures against the company'?s? (?:assets and )?representatives\b",
        r"\bpersonally (?:and criminally )?liable\b",
        _STAFF + r"(?: [a-z-]+){0,3} (?:face|faces|facing|risk|risks|are exposed to|is exposed to)"
        r"(?: [a-z,-]+){0,4} (?:criminal|arrest|imprisonment|prosecution|jail|prison)",
        r"\bcriminal proceedings against (?:the )?(?:local|company)\b",
    ]
)  # fmt: skip
_AGAINST_SERVICE = compile_all(
    [
        r"\b(?:suspension|suspend(?:ing)?|blocking|block|shut(?:ting)? ?down|ban(?:ning)?)(?: "
        r"of)?(?: the)?(?: [a-z-]+){0,2} "
        r"(?:service|platform|application|app|site|website|activities|operations)\b",
        r"\b(?:suspension|suspend(?:ing)?|blocking|block)(?: of)? [a-z-]+ (?:throughout|"
        r"nationwide|across|in (?:the country|india|brazil))\b",
        r"\bblock the site\b",
        r"\bnationwide (?:block(?:ing)?|suspension|ban)\b",
        r"\b(?:implement|enforce) the block\b",
        r"\b(?:daily|escalating|accumulated|accumulating|increasing) fines?\b",
        r"\bfines? of [^.;]{0,40}\b(?:per|a|each) day\b",
        r"\bper day of (?:delay|non-?compliance)\b",
        r"\bon pain of\b",
        r"\b(?:seizure|freez(?:e|ing)|attachment|blocking) of (?:the )?(?:company'?s? )?(?:assets|"
        r"funds|bank accounts)\b",
        r"\bmeasures against the company'?s? assets\b",
        r"\b(?:notice of )?contempt\b",
        r"\bremove the (?:application|app) from\b",
    ]
)  # fmt: skip


class CoercionTarget(StrEnum):
    STAFF = "staff"  # the liberty of people working for the platform
    SERVICE = "service"  # blocking or suspending the service, escalating fines, assets, contempt
    PENALTY = "penalty"  # a fine or penalty for refusing, under the requester's own law


@dataclass(frozen=True)
class Coercion:
    target: CoercionTarget
    found: Found


_PENALTY = compile_all(
    [
        r"\b(?:punishable|punished|sanctioned|liable) (?:by|with) (?:a )?(?:criminal |"
        r"administrative )?"
        r"(?:fine|fines|penalty|penalties)\b",
        r"\b(?:criminal|administrative|monetary) (?:fine|fines|penalty|penalties)\b",
        r"\b(?:refusal|failure|non-?compliance)(?: [a-z-]+){0,4} (?:is|will be|may be|shall be) "
        r"(?:punishable|punished|fined|sanctioned|penalised|penalized)\b",
    ]
)


def coercion(text: NormalisedText) -> Coercion | None:
    """The gravest threat in the text: against staff, else against the service, else
    a penalty for refusing."""
    for target, patterns in (
        (CoercionTarget.STAFF, _AGAINST_STAFF),
        (CoercionTarget.SERVICE, _AGAINST_SERVICE),
        (CoercionTarget.PENALTY, _PENALTY),
    ):
        found = find(text, patterns)
        if found is not None:
            return Coercion(target, found)
    return None
