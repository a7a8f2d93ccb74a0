"""Reading legal text the way a lawyer does: normalise citation spellings, find statute
citations however they are written, and find phrases — always able to quote back the
original words that matched.

Normalisation (domain.md section 2.3): lower-case; "§", "sec.", "section" become "s";
"U.S.C.", "USC", "United States Code" become "usc"; dots that end abbreviations are
dropped; whitespace collapses. "19 U.S.C. § 1509", "19 USC 1509", "19 U.S.C. sec. 1509",
"Title 19, Section 1509" and "section 1509 of title 19" all read as title 19, section 1509.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache

_EMAIL = re.compile(r"[^\s@<>()\"']+@[^\s@<>()\"']+\.[a-z]{2,}", re.IGNORECASE)
_PHONE = re.compile(r"\+?\d[\d\s().-]{8,}\d")
#: An account handle as a document writes it (``@ALT_USCIS``), once e-mail addresses
#: are gone.
_HANDLE = re.compile(r"(?<![\w@])@\w+")


@dataclass(frozen=True)
class NormalisedText:
    """Normalised text plus, for each of its characters, the span of the original
    text it came from, so a match can be quoted in the document's own words. The
    statute citations in it are found once, here, rather than by every rule that
    looks for one."""

    text: str
    original: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    citations: tuple[CitationMatch, ...]

    def quote(self, start: int, end: int) -> str:
        """The original words behind ``text[start:end]``, with e-mail addresses, phone
        numbers and @handles blanked out (a quote is evidence, never personal data)."""
        if start >= end:
            return ""
        snippet = self.original[self.starts[start] : self.ends[end - 1]]
        return redact(" ".join(snippet.split()))


def _phone(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group())
    return "[phone number]" if digits >= 9 else match.group()


def redact(text: str) -> str:
    """``text`` with e-mail addresses, phone numbers and @handles blanked out."""
    without_addresses = _EMAIL.sub("[e-mail address]", text)
    return _HANDLE.sub("[handle]", _PHONE.sub(_phone, without_addresses))


@dataclass(frozen=True)
class _Mapped:
    """Text part-way through normalisation, with each character's origin span."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]


def _substitute(source: _Mapped, pattern: re.Pattern[str], replacement: str) -> _Mapped:
    if pattern.search(source.text) is None:
        return source
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    position = 0
    for match in pattern.finditer(source.text):
        out.append(source.text[position : match.start()])
        starts.extend(source.starts[position : match.start()])
        ends.extend(source.ends[position : match.start()])
        if match.start() < match.end():
            origin_start = source.starts[match.start()]
            origin_end = source.ends[match.end() - 1]
        else:
            origin_start = origin_end = source.starts[match.start()] if source.starts else 0
        out.append(replacement)
        starts.extend([origin_start] * len(replacement))
        ends.extend([origin_end] * len(replacement))
        position = match.end()
    out.append(source.text[position:])
    starts.extend(source.starts[position:])
    ends.extend(source.ends[position:])
    return _Mapped("".join(out), tuple(starts), tuple(ends))


_STEPS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[\u2010-\u2015\u2212]"), "-"),
    (re.compile(r"[\u2018\u2019\u201b`]"), "'"),
    (re.compile(r"[\u201c\u201d]"), '"'),
    (re.compile(r"\bunited\s+states\s+code\b"), " usc "),
    (re.compile(r"\bu\s?\.?\s?s\.?\s+code\b"), " usc "),
    (re.compile(r"\bu\s?\.?\s?s\s?\.?\s?c\b\.?(?:\s?a\b\.?)?"), " usc "),
    (re.compile(r"§+"), " s "),
    (re.compile(r"\bsections?\b\.?"), " s "),
    (re.compile(r"\bsecs?\b\.?"), " s "),
    (re.compile(r"\bss?\.(?=\s*\d)"), " s "),
    (re.compile(r"(?<=\b[a-z])\.(?=[a-z]\b)"), ""),
    (re.compile(r"\.(?=\s|$|[),;:])"), ""),
    # Whitespace collapses to one space. A lone space already is one (replacing it
    # would change neither the text nor its origin spans), so only longer runs and
    # other whitespace characters are rewritten.
    (re.compile(r"\s{2,}|[^\S ]"), " "),
    (re.compile(r" (?=[,;:)])"), ""),
)


def _lower(original: str) -> str:
    """Lower-case character by character, keeping a character whose lower case is not
    one character (so every character of the result still has one origin)."""
    lowered = original.lower()
    # No character lower-cases to nothing, so equal lengths mean every character became
    # exactly one; str.lower differs from per-character lowering only for capital sigma
    # (final form at the end of a word).
    if len(lowered) == len(original) and "\u03a3" not in original:
        return lowered
    return "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in original)


def normalise(original: str) -> NormalisedText:
    result = _Mapped(
        _lower(original), tuple(range(len(original))), tuple(range(1, len(original) + 1))
    )
    for pattern, replacement in _STEPS:
        result = _substitute(result, pattern, replacement)
    return NormalisedText(
        result.text, original, result.starts, result.ends, find_citations(result.text)
    )


@cache
def normalise_phrase(phrase: str) -> str:
    return normalise(phrase).text.strip()


# --- statute citations --------------------------------------------------------------


_DIGITS = re.compile(r"\d+")


def _section_key(section: str) -> tuple[int, str]:
    digits = _DIGITS.match(section)
    assert digits is not None
    return int(digits.group()), section[digits.end() :]


@dataclass(frozen=True)
class Citation:
    """``title`` USC ``first``[-``last``] with ``subsections`` like ("d",) or ("c", "2")."""

    title: int
    first: str
    last: str
    subsections: tuple[str, ...]
    #: sort keys of ``first`` and ``last`` ("1509a" -> (1509, "a")), derived once
    low: tuple[int, str] = field(init=False, repr=False, compare=False)
    high: tuple[int, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "low", _section_key(self.first))
        object.__setattr__(self, "high", _section_key(self.last))

    def covers(self, cited: Citation) -> bool:
        """Does a citation on a document (``cited``) fall under this policy citation?
        Same title, overlapping sections, and this citation's subsections are a prefix
        of the document's (``2703`` covers ``2703(d)``; ``2703(d)`` does not cover ``2703``)."""
        if self.title != cited.title:
            return False
        if cited.high < self.low or cited.low > self.high:
            return False
        return cited.subsections[: len(self.subsections)] == self.subsections

    def __str__(self) -> str:
        sections = self.first if self.first == self.last else f"{self.first}-{self.last}"
        return f"{self.title} U.S.C. {sections}" + "".join(f"({s})" for s in self.subsections)


_SECTION = r"(?P<first>\d+[a-z]?)(?:\s?-\s?(?P<last>\d+[a-z]?))?(?P<subs>(?:\s?\([a-z0-9]{1,4}\))*)"
_CITATION_FORMS = (
    # 19 usc s 1509(a) | 18 usc s s 3122-3123
    re.compile(r"(?<![\d.])(?P<title>\d{1,2}) ?usc ?(?:s ?)*" + _SECTION),
    # title 19, s 1509 | title 19 of the usc, s 1509 | title 19 usc s 1509
    re.compile(r"\btitle (?P<title>\d{1,2}),? (?:of (?:the )?)?(?:usc,? )?(?:s ?)+" + _SECTION),
    # s 1509 of title 19 | s 1509 of 19 usc
    re.compile(r"\bs " + _SECTION + r",? of (?:the )?(?:title )?(?P<title>\d{1,2})\b(?: ?usc)?"),
)
_SUBSECTION = re.compile(r"\(([a-z0-9]{1,4})\)")


@dataclass(frozen=True)
class CitationMatch:
    citation: Citation
    start: int
    end: int


def find_citations(text: str) -> tuple[CitationMatch, ...]:
    """Every statute citation in normalised ``text``, in order of appearance."""
    found: dict[int, CitationMatch] = {}
    for form in _CITATION_FORMS:
        for match in form.finditer(text):
            first = match.group("first")
            citation = Citation(
                title=int(match.group("title")),
                first=first,
                last=match.group("last") or first,
                subsections=tuple(_SUBSECTION.findall(match.group("subs") or "")),
            )
            found.setdefault(match.start(), CitationMatch(citation, match.start(), match.end()))
    return tuple(found[start] for start in sorted(found))


def parse_citation(pattern: str) -> Citation | None:
    """A policy pattern that is exactly one statute citation ("18 USC 2703(d)"), else None."""
    text = normalise_phrase(pattern)
    matches = find_citations(text)
    if len(matches) == 1 and matches[0].start == 0 and matches[0].end == len(text):
        return matches[0].citation
    return None


# --- denial -------------------------------------------------------------------------

#: Words that deny what follows them in the same clause ("no order under 2705(b) is
#: attached", "do not produce content", "without any affidavit"). "no" before a number
#: is a docket or case number ("Doe No. 3"), not a denial.
_DENIAL = re.compile(
    r"\b(?:no(?! ?\d)|not|without|none|never|neither|nor|absent|lacks?|lacking|excluding|except)\b"
)
#: Where a clause ends in the document's own words: ";" or ":", "but"/"however", or a
#: sentence end (".", "!" or "?" before a capital), but not the dot of an abbreviation
#: ("U.S.C. Section", "No. 3", "Fed. R. Crim. P.", "v. Doe"; see ``_sentence_end``).
_CLAUSE_END = re.compile(r"[;:](?=\s)|\bbut\b|\bhowever\b|[.!?](?=\s+[\"'(\[]?[A-Z])")
_LOOKBACK_WORDS = 6
_LOOKBACK_CHARS = 120


def _sentence_end(segment: str, match: re.Match[str]) -> bool:
    if match.group() != ".":
        return True
    word = segment[: match.start()].rsplit(None, 1)[-1] if segment[: match.start()].strip() else ""
    return len(word) > 3 and "." not in word


def denied(text: NormalisedText, start: int) -> bool:
    """Is the phrase starting at ``start`` (in ``text.text``) denied within its own
    clause? Clause ends are read in the original words, where the punctuation is."""
    low = max(0, start - _LOOKBACK_CHARS)
    if start < len(text.starts):
        origin_low = text.starts[low] if low < len(text.starts) else text.starts[start]
        segment = text.original[origin_low : text.starts[start]]
        ends = [m for m in _CLAUSE_END.finditer(segment) if _sentence_end(segment, m)]
        if ends:
            cut = origin_low + ends[-1].end()
            while low < start and text.starts[low] < cut:
                low += 1
    words = text.text[low:start].split()[-_LOOKBACK_WORDS:]
    return _DENIAL.search(" ".join(words)) is not None


# --- phrases ------------------------------------------------------------------------


def _phrase_regex(phrase: str) -> re.Pattern[str]:
    """A normalised phrase as a regex that does not match inside a longer word."""
    return re.compile(r"(?<![a-z0-9])" + re.escape(phrase) + r"(?![a-z0-9])")


@dataclass(frozen=True)
class Pattern:
    """What a policy file means by one entry of a ``cited_as`` or ``phrases`` list: a
    statute citation when the entry is one, else a phrase (``phrase``, normalised, and
    ``regex``, the phrase bounded by non-word characters)."""

    source: str
    citation: Citation | None
    phrase: str
    regex: re.Pattern[str]

    @classmethod
    def of(cls, source: str) -> Pattern:
        phrase = normalise_phrase(source)
        return cls(source, parse_citation(source), phrase, _phrase_regex(phrase))

    @property
    def specificity(self) -> float:
        """Statute citations outrank phrases; deeper subsections and longer phrases
        outrank shallower and shorter ones (used only to break ties)."""
        if self.citation is not None:
            return 2.0 + 0.25 * len(self.citation.subsections)
        return 1.0 + min(len(self.source), 99) / 100

    def search(self, text: NormalisedText) -> tuple[int, int] | None:
        return next(self.spans(text), None)

    def affirmed(self, text: NormalisedText) -> tuple[int, int] | None:
        """The first match the document does not deny ("does not intend to use a mutual
        legal assistance request", "no order under 2705(b) is attached")."""
        return next((s for s in self.spans(text) if not denied(text, s[0])), None)

    def spans(self, text: NormalisedText) -> Iterator[tuple[int, int]]:
        if self.citation is not None:
            for found in text.citations:
                if self.citation.covers(found.citation):
                    yield found.start, found.end
            return
        if self.phrase not in text.text:  # a plain substring test rules most texts out
            return
        for match in self.regex.finditer(text.text):
            yield match.start(), match.end()
