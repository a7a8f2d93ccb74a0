"""How many people a demand reaches, as the document itself states it: a count of
accounts, identifiers or instruments ("381 warrants", "a schedule listing 140 phone
numbers", "hundreds of subpoenas"), or a whole class of people ("every customer who
used the service between ...", "all members of the channel", "everyone who posted
#hashtag"). The structured ``targets`` list often holds only a few examples."""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.classifier.domain.extract._match import Found, compile_all, find
from services.classifier.domain.text import NormalisedText, denied

_PEOPLE = (
    r"(?:account ?holders?|accounts?|users?|user ?names|usernames|screen names|handles|profiles|"
    r"subscribers?|customers?|members?|persons?|people|individuals?|participants?|followers|"
    r"visitors?|readers|posters|reviewers|devices?|phones|phone numbers|telephone numbers|"
    r"numbers|e-?mail addresses|email accounts|e-?mail accounts|identifiers|selectors|"
    r"warrants|subpoenas|orders|residents|recipients|contributors|editors|channels|groups)"
)
_WORD_NUMBERS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "dozens": 24, "scores": 40, "a hundred": 100, "one hundred": 100, "hundreds": 200,
    "several hundred": 300, "a thousand": 1000, "one thousand": 1000, "thousands": 2000,
    "tens of thousands": 20000, "a million": 1_000_000, "millions": 2_000_000,
}  # fmt: skip
_NUMBER = (
    r"(?P<n>(?<![\d+-])\d{1,3}(?:,\d{3})+(?![\d-])|(?<![\d+(-])\d{1,6}(?![\d)-])|"
    + "|".join(sorted((re.escape(w) for w in _WORD_NUMBERS), key=len, reverse=True))
    + r")"
)
#: "381 warrants", "over a hundred phone numbers", "eight (8) accounts", "5,723 devices"
_COUNTED = re.compile(
    r"\b"
    + _NUMBER
    + r"(?: \(\d+\))? (?:of )?(?:(?:the|such|separate|different|[a-z-]+) ){0,3}"
    + _PEOPLE
    + r"\b"
)
_NAMED_LIST = (
    r"(?!\s(?:listed|named|identified|specified|set out|set forth|below|above|"
    r"in (?:the )?(?:schedule|attachment|annex|appendix|exhibit)))"
)
#: "all customers who ...", "every member of", "all devices within", "each user that"
_CLASS = compile_all(
    [
        r"\b(?:all|every|each)(?: [a-z-]+){0,3} " + _PEOPLE + r"\b" + _NAMED_LIST
        + r"(?= (?:who|that|which|whose|of|on|in|within|inside|near|between|during|from|"
        r"using|used|with|at|to|for|reported|located|present)\b)",
        r"\b(?:everyone|everybody) (?:who|that|whose)\b",
        r"\b(?:all|every) (?:(?:ip|network|web|internet) )?(?:traffic|visits?) (?:to|of|on)\b",
        r"\bevery visitor'?s?\b",
        r"\bwhole (?:user ?base|customer base|membership)\b",
        r"\bclass of (?:users|persons|customers|accounts|people)\b",
        r"\bjohn doe summons\b",
    ]
)  # fmt: skip


@dataclass(frozen=True)
class Scale:
    """The largest number of people the document says it reaches (None when it names a
    whole class rather than a count) and the words that say so."""

    count: int | None
    found: Found

    @property
    def whole_class(self) -> bool:
        return self.count is None


def _count(token: str) -> int:
    return _WORD_NUMBERS.get(token) or int(token.replace(",", ""))


def stated_scale(text: NormalisedText) -> Scale | None:
    """A whole class if the document names one, else its largest stated count."""
    whole = find(text, _CLASS)
    if whole is not None:
        return Scale(None, whole)
    best: Scale | None = None
    cited = [(c.start, c.end) for c in text.citations]
    for match in _COUNTED.finditer(text.text):
        if denied(text, match.start()) or not match.group().endswith(("s", "people")):
            continue  # a count of people is plural ("8 accounts", not "876 ... subscriber")
        if any(start <= match.start() < end for start, end in cited):
            continue  # the section number of a citation ("21 U.S.C. 876")
        words = text.quote(*match.span())
        if any(mark in words for mark in (". ", "; ", ": ")):
            continue  # the number ends one sentence and the noun starts the next
        count = _count(match.group("n"))
        if 1900 <= count <= 2100 and "," not in match.group("n"):
            continue  # a year ("2015 users" in "between 2013 and 2015 users ...")
        if best is None or (best.count is not None and count > best.count):
            best = Scale(count, Found(match.start(), match.end(), words))
    return best
