"""What a demand reaches, as its text says it: the data categories it names (a demand
may list none in ``data_requested`` yet ask for messages in its attachment), a period
running from the account's creation to the present, and breadth markers (deleted
material, friend and follower lists, "any and all" records, linked accounts)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from services.classifier.domain.extract._match import Found, compile_all, find, find_each
from services.classifier.domain.text import NormalisedText
from shared.submission import DataCategory

_MESSAGES = (
    r"(?:messages|communications|e-?mails|chats|conversations|correspondence|posts|comments)"
)
_CATEGORY_PATTERNS: Mapping[DataCategory, tuple[re.Pattern[str], ...]] = {
    DataCategory.DIRECT_MESSAGES: compile_all(
        [
            r"\b(?:private|direct) messages\b",
            r"\b(?:dms|inbox|chat logs?)\b",
            r"\bmessages (?:sent|received|exchanged)\b",
        ]
    ),
    DataCategory.CONTENT: compile_all(
        [
            r"\bcontents?\b(?: of)?(?: (?:all|the|any|their|its|each|every))?(?: [a-z-]+){0,2} "
            + _MESSAGES,
            r"\b(?:their|its|the) contents\b",
            r"\b(?:message|e-?mail) (?:content|bodies|body|text)\b",
            r"\bstored (?:communications|content|files)\b",
            r"\b(?:non-?public|private|unpublished|deleted) (?:posts|photos|images|videos|files|"
            r"drafts|content|messages)\b",
            r"\ball (?:\w+ ){0,2}(?:photos|images|videos|media|files|drafts|posts)\b",
            r"\bsearch (?:history|queries)\b",
            r"\ball (?:\w+ ){0,2}" + _MESSAGES + r"\b",
        ]
    ),
    DataCategory.LOCATION: compile_all(
        [
            r"\blocation (?:history|data|information|records)\b",
            r"\bcell[- ]site\b",
            r"\b(?:precise|historical|real-time|gps) location\b",
            r"\bgps\b",
            r"\bgeo-?location\b",
            r"\blocations? of (?:the )?(?:device|phone|user|cell)",
        ]
    ),
    DataCategory.SUBSCRIBER_IDENTITY: compile_all(
        [
            r"\bsubscriber (?:information|records|data|details|names?|identity)\b",
            r"\bbasic subscriber\b",
            r"\b(?:names?|identit(?:y|ies)) of (?:the )?(?:users?|account ?holders?|persons?|"
            r"subscribers?|posters?|authors?)\b",
            r"\bregistration (?:data|information|details)\b",
            r"\b(?:information|documents) sufficient to identify\b",
        ]
    ),
    DataCategory.CONTACT_INFO: compile_all(
        [r"\b(?:e-?mail|postal|mailing|home) address(?:es)?\b", r"\b(?:telephone|phone) numbers?\b"]
    ),
    DataCategory.IP_LOGS: compile_all(
        [
            r"\bip (?:address(?:es)?|logs?|history)\b",
            r"\blog-?in (?:ip|records|history)\b",
            r"\bsession times\b",
        ]
    ),
    DataCategory.CONNECTION_METADATA: compile_all(
        [
            r"\b(?:message )?headers?\b",
            r"\b(?:friends?|followers?|following|contacts?|members?) lists?\b",
            r"\btoll (?:records|billing)\b",
            r"\btransactional records\b",
            r"\bgroup membership\b",
        ]
    ),
    DataCategory.DEVICE_INFO: compile_all(
        [r"\bdevice (?:identifiers?|information|ids?|model)\b", r"\b(?:imei|push tokens?)\b"]
    ),
    DataCategory.PAYMENT_INFO: compile_all(
        [
            r"\b(?:means|method|source) (?:and source )?of payment\b",
            r"\b(?:bank|card|billing|payment) (?:details|information|records|account numbers?)\b",
        ]
    ),
}

_WHOLE_HISTORY = compile_all(
    [
        r"\bfrom (?:the )?(?:account'?s? )?(?:inception|creation|opening|registration|"
        r"activation)\b",
        r"\bsince (?:the |its )?(?:account'?s? )?(?:inception|creation|opening|registration)\b",
        r"\bsince (?:the )?account was (?:opened|created|registered)\b",
        r"\bfrom (?:the )?(?:date|time|day) (?:the|of) (?:account|its)\b.{0,30}\b(?:present|"
        r"date)\b",
        r"\b(?:entire|whole|full|complete) (?:account )?history\b",
        r"\b(?:for )?the (?:entire )?life of the account\b",
        r"\ball time\b",
    ]
)
_BREADTH = compile_all(
    [
        r"\bdeleted (?:content|posts|messages|material|items|data|files|accounts|photos|records)\b",
        r"\b(?:friends?|followers?|following|contacts?|members?) lists?\b",
        r"\blists? of (?:all |the |its )?(?:friends|followers|members|contacts|likes)\b",
        r"\b(?:identities|names) of (?:all |the |its )?(?:followers|friends|members|visitors)\b",
        r"\bany and all\b",
        r"\ball (?:records|data|information|content|files|contents)\b",
        r"\ball (?:stored )?(?:data|information|records) (?:associated with|concerning|relating "
        r"to|held for)\b",
        r"\b(?:accounts|profiles) linked (?:through|by|via)\b",
        r"\blinked accounts\b",
        r"\bupstream and downstream\b",
        r"\bevery (?:data )?category\b",
    ]
)


def named_categories(text: NormalisedText) -> dict[DataCategory, Found]:
    """Each data category the text asks for (a denied mention, "do not produce content",
    does not count), with the words that name it."""
    return find_each(text, _CATEGORY_PATTERNS)


def whole_history(text: NormalisedText) -> Found | None:
    """The period runs from the account's creation (to the present)."""
    return find(text, _WHOLE_HISTORY)


def breadth(text: NormalisedText) -> Found | None:
    """Words that widen a demand beyond one person's records."""
    return find(text, _BREADTH)


_YEAR = r"((?:19|20)\d\d)"
_DAY_MONTH = (
    r"(?:(?:\d{1,2}(?:st|nd|rd|th)? )?(?:[a-z]+\.? )?(?:\d{1,2}(?:st|nd|rd|th)?,? )?|"
    r"(?:\d{1,2}[/.-]){2})"
)
_PERIOD = re.compile(
    r"\b(?:from|between|since|for the period|covering) " + _DAY_MONTH + _YEAR
    + r"(?:(?: ?(?:-|to|and|through|until|till) ?)(?:" + _DAY_MONTH + _YEAR
    + r"|(?:the )?(?:present|date|today|now)))?"
)  # fmt: skip


@dataclass(frozen=True)
class Period:
    """A period the text states, by year: ``last`` None means "to the present"."""

    first: int
    last: int | None
    found: Found


def stated_period(text: NormalisedText) -> Period | None:
    """The longest period the text states ("between 2013 and 2015", "from 1/1/2016 to
    present", "since March 2019")."""
    best: Period | None = None
    for match in _PERIOD.finditer(text.text):
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else None
        if last is None and not re.search(r"present|date|today|now|^since", match.group()):
            last = first  # "from 2019" alone: one year, not an open end
        if last is not None and last < first:
            continue
        period = Period(first, last, Found(match.start(), match.end(), text.quote(*match.span())))
        if best is None or _span(period) > _span(best):
            best = period
    return best


def _span(period: Period) -> float:
    return float("inf") if period.last is None else period.last - period.first


_HOME = (
    r"(?:the united states|the us|the usa|usa|us servers|california|washington state|texas|"
    r"virginia|oregon)"
)
_HELD_IN_HOME = compile_all(
    [
        r"\b(?:holds?|held|stores?|stored|keeps?|kept|maintains?|maintained|hosts?|hosted)"
        r"(?: [a-z!.'-]+){0,3} (?:records|data|information|accounts|content|servers)"
        r"(?: [a-z-]+){0,3} (?:in|within|on servers in) " + _HOME + r"\b",
        r"\b(?:records|data|information|servers) (?:are |is |were |was )?(?:held|stored|kept|"
        r"located|maintained|hosted) (?:in|within) " + _HOME + r"\b",
    ]
)


def data_held_in_home_country(text: NormalisedText) -> Found | None:
    """The text says the records sit in the platform's home country (the United States),
    outside the foreign requester's territory."""
    return find(text, _HELD_IN_HOME)
