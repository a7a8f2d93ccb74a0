"""Reverse searches: demands that identify unknown people by a place and time, by a
search term, or by visiting or posting somewhere, instead of naming a suspect
(geofence and keyword warrants, tower dumps, all visitors of a site, everyone who
used a hashtag, every message containing a selector)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.classifier.domain.extract._match import Found, compile_all, find
from services.classifier.domain.text import NormalisedText


class SearchBy(StrEnum):
    PLACE = "place"  # everyone at a place and time (geofence, tower dump)
    QUERY = "query"  # everyone who searched, posted or wrote a term (keyword, selector)
    VISITORS = "visitors"  # everyone who visited or reached a site or service


@dataclass(frozen=True)
class ReverseSearch:
    by: SearchBy
    found: Found


_WHO = r"(?:devices?|users?|accounts?|phones?|persons?|people|subscribers?|customers?|individuals?)"
_PLACE = compile_all(
    [
        r"\bgeo-?fenc(?:e|ed|ing)\b",
        r"\b(?:cell )?tower dumps?\b",
        r"\bcell[- ]site dumps?\b",
        r"\breverse (?:location|search)\b",
        # a place: "all devices within 150 meters", "every phone reported inside the polygon"
        r"\b(?:all|every|any|each)(?: [a-z-]+){0,2} "
        + _WHO
        + r"(?: [a-z-]+){0,2} (?:within|inside|in the vicinity of|near|in or near|located in|"
        r"present (?:in|at)|in the area)\b",
        r"\blocation history (?:data )?(?:for|of) (?:all|every|any)\b",
        r"\bwithin (?:a |an )?\d+[- ]?(?:meters?|metres?|feet|foot|yards?|miles?|km|kilometers?|"
        r"kilometres?)\b",
        r"\bpolygon\b",
    ]
)
_QUERY = compile_all(
    [
        r"\breverse keyword\b",
        r"\bkeyword (?:search )?warrants?\b",
        # a query: "users who searched for", "everyone who posted #x", "who used the hashtag"
        r"\b(?:who|that) (?:searched|search|queried|looked up|googled)\b",
        r"\b(?:searched|searches|queries) for (?:the )?(?:term|terms|keyword|keywords|words?|"
        r"address|name)\b",
        r"\b(?:who|that) (?:posted|tweeted|shared|used|mentioned|liked)(?: [a-z-]+){0,3} (?:the "
        r")?(?:hashtag|#|keyword|term)",
        r"\b(?:who|that) (?:posted|tweeted|shared|used|mentioned) #",
        # content scanned for a selector: "all incoming messages ... for the selector"
        r"\b(?:all|every|each)(?: [a-z-]+){0,3} (?:messages?|e-?mails?|communications|posts)"
        r"(?: [a-z-]+){0,6} (?:for|containing|that contain|matching|mentioning) (?:the |a |any )?"
        r"(?:selector|selectors|term|terms|keyword|keywords|string|signature)\b",
    ]
)
_VISITORS = compile_all(
    [
        # visitors: "all IP traffic to and from the site on a day", "every visitor's IP"
        r"\b(?:all|every) (?:(?:ip|network|web|internet) )?(?:traffic|visits?) (?:to|of|on)\b",
        r"\b(?:all|every) visitors?'?s?\b",
        r"\bvisitor logs?\b",
    ]
)  # fmt: skip


def reverse_search(text: NormalisedText) -> ReverseSearch | None:
    """How the demand picks out people it cannot name, if it does: by place, by query,
    or as the visitors of a site (in that order of gravity)."""
    for by, patterns in (
        (SearchBy.PLACE, _PLACE),
        (SearchBy.QUERY, _QUERY),
        (SearchBy.VISITORS, _VISITORS),
    ):
        found = find(text, patterns)
        if found is not None:
            return ReverseSearch(by, found)
    return None
