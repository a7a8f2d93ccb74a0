"""The agency registry: which organisation a mail domain belongs to, which registered
organisations a piece of text names, and which registered domain a strange one imitates.

Pure: the records come from the caller (``services.classifier.registry`` reads them from
the shipped copy of the public .gov registry and the operator's own file). A domain
belongs to the record of its longest registered suffix, so ``cbp.dhs.gov`` is the
Department of Homeland Security's because ``dhs.gov`` is.

Names are matched on words, not on exact strings. A .gov record names a federal body
as ``Department of Justice`` with a suborganisation such as ``Federal Bureau of
Investigation``, a city as ``City of Riverside, California`` and a county as ``Travis
County Information Technology Services``, while a demand writes ``FBI Boston Field
Office``, ``Riverside Police Department`` or ``Travis County Sheriff's Office``. So
each organisation is indexed under

* its full name and each suborganisation's name (``confident``: a demand that says
  "Drug Enforcement Administration" names the Department of Justice);
* the upper-case acronym of a federal name or suborganisation (``CBP``, ``FBI``);
* aliases the operator or the shipped seed give (``U.S. Attorney's Office``);
* for a state or local government, its place (``riverside``, ``travis``): a place
  alone is only a ``possible`` mention ("Eastern District of Michigan" is a court
  district, not the State of Michigan), and ``confident`` when the text puts a local
  agency word beside it ("Riverside Police", "Travis County", "City of Seattle").
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from confusable_homoglyphs import confusables
from pydantic import BaseModel, ConfigDict, Field


class AgencyKind(StrEnum):
    FEDERAL = "federal"
    STATE = "state"
    LOCAL = "local"  # city, county, special or school district, tribal, interstate
    FOREIGN = "foreign_government"
    #: a whole namespace of government mail (``gov.uk``, ``gouv.fr``, ``mil``): every
    #: domain under it belongs to some government body of ``country``
    GOVERNMENT_NAMESPACE = "government_namespace"
    FREE_MAIL = "free_mail"
    OTHER = "other"  # anyone else the operator knows (a law firm, a court portal)


#: ``type`` values of the operator's and the seed's files, beside the .gov registry's own
#: ("Federal - Executive", "City", "County", ...).
TYPE_KINDS = {
    "foreign government": AgencyKind.FOREIGN,
    "government namespace": AgencyKind.GOVERNMENT_NAMESPACE,
    "free mail": AgencyKind.FREE_MAIL,
    "other": AgencyKind.OTHER,
}


class AgencyRecord(BaseModel):
    """One registered domain and the organisation it belongs to."""

    model_config = ConfigDict(frozen=True)

    domain: str = Field(min_length=2)
    type: str = ""
    organisation: str
    suborganisation: str = ""
    city: str = ""
    state: str = ""
    country: str = "US"
    #: other names documents use for this record's organisation
    aliases: tuple[str, ...] = ()

    @property
    def kind(self) -> AgencyKind:
        kind = TYPE_KINDS.get(self.type.casefold())
        if kind is not None:
            return kind
        if self.type.startswith("Federal"):
            return AgencyKind.FEDERAL
        if self.type.startswith("State"):
            return AgencyKind.STATE
        return AgencyKind.LOCAL

    @property
    def key(self) -> OrganisationKey:
        """Records of one organisation share a key; a name like "City of Aberdeen" is
        three organisations in three states."""
        region = "" if self.kind is AgencyKind.FEDERAL else f"{self.country}-{self.state}"
        return OrganisationKey(fold(self.organisation), region)

    @property
    def judicial(self) -> bool:
        """A court or the courts' administration."""
        return self.type == "Federal - Judicial" or not _JUDICIAL.isdisjoint(
            words(self.organisation)
        )

    @property
    def government(self) -> bool:
        return self.kind not in (AgencyKind.FREE_MAIL, AgencyKind.OTHER)

    def describe(self) -> str:
        """How evidence names the organisation: "Maricopa County (County, AZ)"."""
        where = ", ".join(part for part in (self.type, self.state or self.country) if part)
        return f"{self.organisation} ({where})"


_JUDICIAL = frozenset({"court", "courts", "courthouse", "judicial", "judiciary", "tribunal"})


@dataclass(frozen=True, order=True)
class OrganisationKey:
    name: str
    region: str


# --- words --------------------------------------------------------------------------

_US = re.compile(r"\bu\.?\s?s\.?(?:\s?a\.?)?(?=\s|$|[,;)/])|\bunited states(?: of america)?\b")
_POSSESSIVE = re.compile(r"['\u2019]s?\b")
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    return " ".join(words(text))


def words(text: str) -> tuple[str, ...]:
    """Lower-case words, "U.S."/"United States" as ``us``, "&" as ``and``, possessives
    dropped ("Sheriff's" -> ``sheriff``)."""
    lowered = unicodedata.normalize("NFKC", text).casefold().replace("&", " and ")
    lowered = _POSSESSIVE.sub("", _US.sub(" us ", lowered))
    return tuple(_WORD.findall(lowered))


#: Words that say what kind of body, not which one: a phrase made only of these names
#: nobody in particular ("Office of the Secretary", "Police Department").
_GENERIC_WORDS = (
    "a an and at for in of on the to us office offices department dept division bureau "
    "unit section agency administration service services management directorate "
    "information technology chief officer secretary general inspector public affairs "
    "program programs center centre commission board council committee government "
    "national federal state states city county town village borough township parish "
    "police sheriff court courts district headquarters security staff operations "
    "executive deputy assistant director field region regional branch team task force "
    "investigations investigation enforcement legal counsel clerk"
)
GENERIC = frozenset(_GENERIC_WORDS.split())
#: Beside a place, these make it a government body ("Riverside Police", "City of X").
_AFTER_PLACE_WORDS = (
    "police sheriff county city town village parish borough township marshal marshals "
    "constable court courts prosecutor prosecutors attorney da fire department "
    "municipal metropolitan metro state highway public board"
)
_AFTER_PLACE = frozenset(_AFTER_PLACE_WORDS.split())
_BEFORE_PLACE = frozenset(
    ("city", "town", "county", "village", "state", "borough", "township", "parish",
     "commonwealth", "municipality")
)  # fmt: skip
_PLACE_PREFIX_NAMES = (
    "city and county of",
    "consolidated government of",
    "unified government of",
    "metropolitan government of",
    "government of the",
    "government of",
    "commonwealth of",
    "municipality of",
    "city of",
    "town of",
    "village of",
    "borough of",
    "township of",
    "county of",
    "parish of",
    "state of",
    "the",
)
_PLACE_PREFIXES = tuple(tuple(name.split()) for name in _PLACE_PREFIX_NAMES)
#: The words after a place that begin the body's kind ("Travis *County* Information
#: Technology Services", "The NYC *Office* of Technology", "36th *District* Court").
_PLACE_ENDS = frozenset(
    ("county", "parish", "borough", "township", "city", "town", "village", "office",
     "department", "dept", "police", "sheriff", "court", "courts", "district", "bureau",
     "division", "government", "information", "technology", "services", "attorney",
     "board", "commission", "authority", "agency")
)  # fmt: skip
_NAME_PARTS = re.compile(r",|/| - | \u2013 ")
_ACRONYM_SKIP = frozenset(("of", "the", "and", "for", "on", "in", "to", "at", "us"))
US_STATES = {
    "AL": "alabama", "AK": "alaska", "AZ": "arizona", "AR": "arkansas", "CA": "california",
    "CO": "colorado", "CT": "connecticut", "DE": "delaware", "DC": "district of columbia",
    "FL": "florida", "GA": "georgia", "HI": "hawaii", "ID": "idaho", "IL": "illinois",
    "IN": "indiana", "IA": "iowa", "KS": "kansas", "KY": "kentucky", "LA": "louisiana",
    "ME": "maine", "MD": "maryland", "MA": "massachusetts", "MI": "michigan",
    "MN": "minnesota", "MS": "mississippi", "MO": "missouri", "MT": "montana",
    "NE": "nebraska", "NV": "nevada", "NH": "new hampshire", "NJ": "new jersey",
    "NM": "new mexico", "NY": "new york", "NC": "north carolina", "ND": "north dakota",
    "OH": "ohio", "OK": "oklahoma", "OR": "oregon", "PA": "pennsylvania",
    "RI": "rhode island", "SC": "south carolina", "SD": "south dakota", "TN": "tennessee",
    "TX": "texas", "UT": "utah", "VT": "vermont", "VA": "virginia", "WA": "washington",
    "WV": "west virginia", "WI": "wisconsin", "WY": "wyoming", "PR": "puerto rico",
    "GU": "guam", "VI": "virgin islands", "AS": "american samoa",
    "MP": "northern mariana islands",
}  # fmt: skip
_STATE_NAMES = frozenset(tuple(name.split()) for name in US_STATES.values())


def _distinctive(phrase: tuple[str, ...]) -> bool:
    return sum(len(w) for w in phrase if w not in GENERIC) >= 3


def _strip_leading(phrase: tuple[str, ...], *prefixes: str) -> tuple[str, ...]:
    while phrase and phrase[0] in prefixes:
        phrase = phrase[1:]
    return phrase


def place_of(record: AgencyRecord) -> tuple[str, ...]:
    """The place a state or local government is named after: "City of Riverside,
    California" -> riverside; "Travis County Information Technology Services" ->
    travis; "Los Angeles Police Department" -> los angeles; "County of Los Angeles /
    Internal Services Department" -> los angeles."""
    phrase = words(_NAME_PARTS.split(record.organisation)[0])
    for prefix in _PLACE_PREFIXES:
        if phrase[: len(prefix)] == prefix and len(phrase) > len(prefix):
            phrase = phrase[len(prefix) :]
            break
    for name in _STATE_NAMES:  # "City of Norfolk Nebraska"
        if len(phrase) > len(name) and phrase[-len(name) :] == name:
            phrase = phrase[: -len(name)]
            break
    cut = next((i for i, w in enumerate(phrase) if w in _PLACE_ENDS and i > 0), None)
    if cut is not None:
        phrase = phrase[:cut]
    while phrase and phrase[-1] in GENERIC:
        phrase = phrase[:-1]
    return phrase


def _acronym(name: str) -> str:
    letters = [w[0] for w in words(name) if w not in _ACRONYM_SKIP]
    return "".join(letters).upper() if len(letters) >= 3 else ""


# --- names in text ------------------------------------------------------------------


@dataclass(frozen=True)
class Named:
    """The registered organisations a text names: ``confident`` ones it clearly names,
    ``possible`` ones it may mean (every confident one is also possible)."""

    confident: frozenset[OrganisationKey]
    possible: frozenset[OrganisationKey]


NAMED_NOTHING = Named(frozenset(), frozenset())

_MAX_PHRASE = 10


# --- look-alike domains --------------------------------------------------------------

_ASCII_FOLDS = (("rn", "m"), ("vv", "w"), ("0", "o"), ("1", "l"), ("i", "l"), ("_", "-"))


def unicode_domain(domain: str) -> str:
    """``xn--`` labels decoded, so a homoglyph hidden in punycode is seen."""
    labels: list[str] = []
    for label in domain.split("."):
        if label.startswith("xn--"):
            with contextlib.suppress(UnicodeError):
                label = label.encode("ascii").decode("idna")
        labels.append(label)
    return ".".join(labels)


def skeleton(domain: str) -> str:
    """What a domain looks like: each character that imitates a Latin letter (Cyrillic
    "і", Greek "ο") replaced by that letter, and the ASCII look-alikes folded ("rn" as
    "m", "0" as "o", "1" and "i" as "l")."""
    text = unicodedata.normalize("NFKC", unicode_domain(domain)).casefold()
    if not text.isascii():
        found = confusables.is_confusable(text, greedy=True, preferred_aliases=["latin"]) or []
        swaps: dict[str, str] = {}
        for item in found:
            for glyph in item["homoglyphs"]:
                if glyph["c"].isascii():
                    swaps[item["character"]] = glyph["c"].casefold()
                    break
        text = "".join(swaps.get(ch, ch) for ch in text)
    for seen, folded in _ASCII_FOLDS:
        text = text.replace(seen, folded)
    return text


def uses_foreign_script(domain: str) -> bool:
    return not unicode_domain(domain).isascii()


def _deletions(text: str) -> Iterator[str]:
    yield text
    for i in range(len(text)):
        yield text[:i] + text[i + 1 :]


def _one_edit_apart(a: str, b: str) -> bool:
    """One substitution, insertion, deletion or swap of neighbours."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


class LookAlikeHow(StrEnum):
    HOMOGLYPH = "homoglyph"  # characters that look like the registered domain's
    EMBEDDED = "embedded"  # the registered domain inside another (fbi.gov.co, dhs-gov.com)
    TYPO = "typo"  # one letter from a registered federal or operator domain


@dataclass(frozen=True)
class LookAlike:
    imitated: AgencyRecord
    how: LookAlikeHow


# --- the registry -------------------------------------------------------------------


class AgencyRegistry:
    """Immutable once built. A later record for the same domain replaces the earlier
    one (the operator's file overrides the shipped copy) and keeps its aliases; a
    record without an organisation only adds aliases to the registered one."""

    def __init__(self, records: Iterable[AgencyRecord], source: str = "") -> None:
        by_domain: dict[str, AgencyRecord] = {}
        for record in records:
            domain = record.domain.strip().strip(".").casefold()
            earlier = by_domain.get(domain)
            aliases = (earlier.aliases if earlier else ()) + record.aliases
            if not record.organisation:  # a row that only adds aliases
                if earlier is None:
                    raise ValueError(f"{domain}: aliases for a domain that is not registered")
                by_domain[domain] = earlier.model_copy(update={"aliases": aliases})
                continue
            by_domain[domain] = record.model_copy(update={"domain": domain, "aliases": aliases})
        self._by_domain = by_domain
        #: where the records came from, for evidence ("the .gov registry of 2026-08-22")
        self.source = source

    def __len__(self) -> int:
        return len(self._by_domain)

    @cached_property
    def organisations(self) -> dict[OrganisationKey, AgencyRecord]:
        """One representative record per organisation (its first)."""
        found: dict[OrganisationKey, AgencyRecord] = {}
        for record in self._by_domain.values():
            if record.government:
                found.setdefault(record.key, record)
        return found

    # lookup -------------------------------------------------------------------------

    def lookup(self, domain: str) -> AgencyRecord | None:
        """The record of ``domain`` or of its longest registered parent domain."""
        labels = domain.strip().strip(".").casefold().split(".")
        for start in range(len(labels)):
            record = self._by_domain.get(".".join(labels[start:]))
            if record is not None:
                return record
        return None

    # names --------------------------------------------------------------------------

    @cached_property
    def _name_index(
        self,
    ) -> tuple[
        dict[tuple[str, ...], frozenset[OrganisationKey]],
        dict[tuple[str, ...], frozenset[OrganisationKey]],
        dict[tuple[str, ...], frozenset[OrganisationKey]],
        dict[str, frozenset[OrganisationKey]],
    ]:
        titles: dict[tuple[str, ...], set[OrganisationKey]] = {}  # names, suborganisations
        names: dict[tuple[str, ...], set[OrganisationKey]] = {}
        weak: dict[tuple[str, ...], set[OrganisationKey]] = {}
        places: dict[tuple[str, ...], set[OrganisationKey]] = {}
        acronyms: dict[str, set[OrganisationKey]] = {}

        def add(index: dict[tuple[str, ...], set[OrganisationKey]], phrase: tuple[str, ...],
                key: OrganisationKey) -> None:  # fmt: skip
            if phrase and len(phrase) <= _MAX_PHRASE:
                index.setdefault(phrase, set()).add(key)

        for record in self._by_domain.values():
            if not record.government:
                continue
            key = record.key
            full = words(record.organisation)
            add(titles, _strip_leading(full, "the", "us"), key)
            if record.suborganisation:
                add(titles, _strip_leading(words(record.suborganisation), "the", "us"), key)
            for alias in record.aliases:  # deliberate names: taken as they are
                add(names, words(alias), key)
            if full[:2] == ("department", "of"):  # "homeland security" may mean DHS
                phrase = _strip_leading(full[2:], "the")
                if _distinctive(phrase):
                    add(weak, phrase, key)
            if record.kind is AgencyKind.FEDERAL:
                # An acronym counts when the body registered it as its domain (cbp.gov,
                # fbi.gov): then documents know it by that name.
                label = record.domain.split(".")[0]
                for name in (record.organisation, record.suborganisation, *record.aliases):
                    if (acronym := _acronym(name)) and acronym.casefold() == label:
                        acronyms.setdefault(acronym, set()).add(key)
            elif record.kind in (AgencyKind.STATE, AgencyKind.LOCAL):
                place = place_of(record)
                if _distinctive(place):
                    add(places, place, key)
                if record.state in US_STATES:  # "New York City Police" and nyc.gov
                    state = tuple(US_STATES[record.state].split())
                    add(places if record.kind is AgencyKind.STATE else weak, state, key)
                city = words(record.city)
                if record.kind is AgencyKind.LOCAL and _distinctive(city):
                    add(weak, city, key)
        # A title names its organisation confidently when no other organisation has it
        # and it says more than what kind of body it is: "Federal Bureau of
        # Investigation" does, "Office of the Secretary" and "Police Department" do not.
        for phrase, keys in titles.items():
            specific = _distinctive(phrase) or len(phrase) >= 3
            if len(keys) == 1 and specific:
                add(names, phrase, next(iter(keys)))
            elif _distinctive(phrase):
                weak.setdefault(phrase, set()).update(keys)

        def frozen(
            index: dict[tuple[str, ...], set[OrganisationKey]],
        ) -> dict[tuple[str, ...], frozenset[OrganisationKey]]:
            return {phrase: frozenset(keys) for phrase, keys in index.items()}

        return (
            frozen(names),
            frozen(weak),
            frozen(places),
            {acronym: frozenset(keys) for acronym, keys in acronyms.items()},
        )

    def named_in(self, text: str) -> Named:
        """The registered organisations ``text`` (an agency's name, a signature) names."""
        if not text.strip():
            return NAMED_NOTHING
        names, weak, places, acronyms = self._name_index
        tokens = words(text)
        confident: set[OrganisationKey] = set()
        possible: set[OrganisationKey] = set()
        for start in range(len(tokens)):
            for end in range(start + 1, min(len(tokens), start + _MAX_PHRASE) + 1):
                phrase = tokens[start:end]
                confident.update(names.get(phrase, ()))
                possible.update(weak.get(phrase, ()))
                keys = places.get(phrase)
                if keys:
                    possible.update(keys)
                    before = tokens[start - 1] if start > 0 else ""
                    before_of = tokens[start - 2] if start > 1 and before == "of" else ""
                    after = tokens[end] if end < len(tokens) else ""
                    if after in _AFTER_PLACE or before_of in _BEFORE_PLACE:
                        confident.update(keys)
        for token in re.findall(r"\b[A-Z]{3,6}\b", text):
            confident.update(acronyms.get(token, ()))
        return Named(frozenset(confident), frozenset(confident | possible))

    def name_of(self, key: OrganisationKey) -> str:
        record = self.organisations.get(key)
        return record.organisation if record is not None else key.name

    # look-alikes --------------------------------------------------------------------

    @cached_property
    def _protected(self) -> _Protected:
        skeletons: dict[str, str] = {}
        squashed: dict[str, str] = {}
        deletions: dict[str, set[str]] = {}
        for domain, record in self._by_domain.items():
            if (
                not record.government
                or record.kind is AgencyKind.GOVERNMENT_NAMESPACE
                or "." not in domain  # "mil" covers every .mil domain; nothing imitates it
            ):
                continue
            skeletons.setdefault(skeleton(domain), domain)
            squashed.setdefault(domain.replace(".", ""), domain)
            typo_checked = record.kind not in (AgencyKind.LOCAL, AgencyKind.STATE)
            if typo_checked and len(domain.split(".")[0]) >= 3:
                for variant in _deletions(domain):
                    deletions.setdefault(variant, set()).add(domain)
        return _Protected(frozenset(skeletons.values()), skeletons, squashed, deletions)

    def look_alike(self, domain: str) -> LookAlike | None:
        """The registered domain that ``domain`` imitates, when it is not itself that
        domain or one under it: homoglyphs (``dһs.gov``), the registered name inside
        another domain (``fbi.gov.co``, ``cbp.dhs.gov.us``, ``dhs-gov.com``,
        ``fbigov.com``), or one letter from a federal or operator domain."""
        domain = domain.strip().strip(".").casefold()
        record = self.lookup(domain)
        if record is not None and record.kind is not AgencyKind.GOVERNMENT_NAMESPACE:
            return None
        protected = self._protected
        imitated = (
            protected.homoglyph_of(domain)
            or protected.embedded_in(domain)
            or protected.typo_of(domain)
        )
        return LookAlike(self._by_domain[imitated[0]], imitated[1]) if imitated else None


@dataclass(frozen=True)
class _Protected:
    """Registered government domains, indexed for look-alike checks: by skeleton, with
    the dots squashed out ("fbigov"), and by one deletion (federal and operator domains
    only: local .gov names are too many and too short to tell typos from neighbours)."""

    domains: frozenset[str]
    skeletons: dict[str, str]
    squashed: dict[str, str]
    deletions: dict[str, set[str]]

    def homoglyph_of(self, domain: str) -> tuple[str, LookAlikeHow] | None:
        labels, shape = domain.split("."), skeleton(domain).split(".")
        if len(shape) != len(labels):
            return None
        for i in range(len(labels) - 1):
            found = self.skeletons.get(".".join(shape[i:]))
            if found is not None and ".".join(labels[i:]) != found:
                return found, LookAlikeHow.HOMOGLYPH
        return None

    def embedded_in(self, domain: str) -> tuple[str, LookAlikeHow] | None:
        """A registered domain inside ``domain`` but not at its end: as labels
        (``fbi.gov.co``), split at hyphens (``dhs-gov.com``) or squashed (``fbigov.com``)."""
        labels = domain.split(".")
        parts = [part for label in labels for part in label.split("-")]
        for pieces in (labels, parts):
            for i in range(len(pieces)):
                for j in range(i + 2, len(pieces)):  # j < len: never the domain's own end
                    run = ".".join(pieces[i:j])
                    if run in self.domains:
                        return run, LookAlikeHow.EMBEDDED
        for label in labels[:-1]:
            for part in (label, *label.split("-")):
                if part in self.squashed:
                    return self.squashed[part], LookAlikeHow.EMBEDDED
        return None

    def typo_of(self, domain: str) -> tuple[str, LookAlikeHow] | None:
        labels = domain.split(".")
        for i in range(len(labels)):
            for j in range(i + 2, len(labels) + 1):
                run = ".".join(labels[i:j])
                for variant in _deletions(run):
                    for candidate in sorted(self.deletions.get(variant, ())):
                        if _one_edit_apart(run, candidate):
                            return candidate, LookAlikeHow.TYPO
        return None
