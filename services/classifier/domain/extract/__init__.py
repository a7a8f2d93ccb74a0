"""The fact-extraction layer: what a demand's own words say, read once per request,
between the text and the policy rules. Each extractor is a pure function of one
normalised text (see its module); ``read_document`` runs them over the fields where
that kind of fact is written and keeps, for each fact, the words that showed it, so a
risk factor can quote its trigger as evidence.

Facts, the module that reads them, and the fields they are read in:

* how many people, or a whole class: ``scale`` (document text, stated purpose)
* reverse search by place, query or visitors: ``dragnet`` (document text, stated purpose)
* data categories named, stated periods, whole-history periods, breadth: ``scope``
  (document text)
* who orders secrecy, whether and when it ends: ``secrecy`` (non-disclosure authority,
  document text)
* protected contexts (journalism, health, religion, protest, minors, child safety):
  ``context`` (stated purpose, document text, emergency justification)
* threats against staff or the service: ``coercion`` (document text)
* an earlier demand withdrawn or contested: ``history`` (document text, stated purpose)
* no offence or evidence shown, evidence offered, non-party speakers, a private lawsuit:
  ``showing`` (stated purpose, document text)
* compelled technical assistance: ``assistance`` (document text)
* preservation beyond 2703(f): ``preservation`` (document text)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from services.classifier.domain.extract._match import Found
from services.classifier.domain.extract.assistance import technical_assistance
from services.classifier.domain.extract.coercion import Coercion, CoercionTarget, coercion
from services.classifier.domain.extract.context import Context, protected_contexts
from services.classifier.domain.extract.dragnet import SearchBy, reverse_search
from services.classifier.domain.extract.history import reissued_after_pushback
from services.classifier.domain.extract.preservation import beyond_renewal, prospective_capture
from services.classifier.domain.extract.scale import Scale, stated_scale
from services.classifier.domain.extract.scope import (
    breadth,
    data_held_in_home_country,
    named_categories,
    stated_period,
    whole_history,
)
from services.classifier.domain.extract.secrecy import (
    SecrecySource,
    secrecy_authority,
    secrecy_demand,
)
from services.classifier.domain.extract.showing import (
    evidence_offered,
    platform_not_party,
    private_lawsuit,
    showing_missing,
    speakers_not_parties,
)
from services.classifier.domain.text import NormalisedText
from shared.submission import DataCategory

__all__ = [
    "Coercion",
    "CoercionTarget",
    "Context",
    "DocumentFacts",
    "Quote",
    "SearchBy",
    "SecrecySource",
    "read_document",
]


@dataclass(frozen=True)
class Quote:
    """Words of one field of the submission that showed a fact."""

    field: str
    words: str

    def __str__(self) -> str:
        return f'{self.field} says "{self.words}"'


@dataclass(frozen=True)
class StatedScale:
    count: int | None  # None: a whole class of people
    quote: Quote


@dataclass(frozen=True)
class StatedPeriod:
    first_year: int
    last_year: int | None  # None: to the present
    quote: Quote


@dataclass(frozen=True)
class Secrecy:
    source: SecrecySource
    quote: Quote
    open_ended: Quote | None
    duration: Quote | None


@dataclass(frozen=True)
class Dragnet:
    by: SearchBy
    quote: Quote


@dataclass(frozen=True)
class Threat:
    target: CoercionTarget
    quote: Quote


@dataclass(frozen=True)
class DocumentFacts:
    scale: StatedScale | None
    reverse_search: Dragnet | None
    categories: Mapping[DataCategory, Quote]
    whole_history: Quote | None
    period: StatedPeriod | None
    breadth: Quote | None
    secrecy: Secrecy | None
    contexts: Mapping[Context, Quote]
    threat: Threat | None
    earlier_demand_resisted: Quote | None
    showing_missing: Quote | None
    speakers_not_parties: Quote | None
    evidence_offered: Quote | None
    private_lawsuit: Quote | None
    platform_not_party: Quote | None
    data_held_in_home_country: Quote | None
    technical_assistance: Quote | None
    prospective_capture: Quote | None
    beyond_renewal: Quote | None


_T = TypeVar("_T")
_K = TypeVar("_K")

#: field names as the policy knows them (TextField values)
DOCUMENT = "document_text"
PURPOSE = "stated_purpose"
EMERGENCY = "emergency_justification"
NONDISCLOSURE = "nondisclosure_authority"


def _first(
    texts: Mapping[str, NormalisedText],
    fields: Sequence[str],
    extract: Callable[[NormalisedText], _T | None],
) -> tuple[str, _T] | None:
    for name in fields:
        text = texts.get(name)
        if text is not None and text.text:
            found = extract(text)
            if found is not None:
                return name, found
    return None


def _quote(
    texts: Mapping[str, NormalisedText],
    fields: Sequence[str],
    extract: Callable[[NormalisedText], Found | None],
) -> Quote | None:
    hit = _first(texts, fields, extract)
    return Quote(hit[0], hit[1].words) if hit else None


def _scale(texts: Mapping[str, NormalisedText]) -> StatedScale | None:
    best: StatedScale | None = None
    for name in (DOCUMENT, PURPOSE):
        text = texts.get(name)
        scale: Scale | None = stated_scale(text) if text is not None else None
        if scale is None:
            continue
        candidate = StatedScale(scale.count, Quote(name, scale.found.words))
        if (
            best is None
            or scale.whole_class
            or (best.count is not None and (scale.count or 0) > best.count)
        ):
            best = candidate
        if scale.whole_class:
            break
    return best


def _mapping(
    texts: Mapping[str, NormalisedText],
    fields: Sequence[str],
    extract: Callable[[NormalisedText], Mapping[_K, Found]],
) -> dict[_K, Quote]:
    found: dict[_K, Quote] = {}
    for name in fields:
        text = texts.get(name)
        if text is None or not text.text:
            continue
        for key, hit in extract(text).items():
            found.setdefault(key, Quote(name, hit.words))
    return found


def _secrecy(texts: Mapping[str, NormalisedText]) -> Secrecy | None:
    """Who orders secrecy: the submission's own authority field first (a court named
    there, however vaguely), then the document; how long it runs may be written in
    either."""
    authority = _first(texts, (NONDISCLOSURE,), secrecy_authority)
    document = _first(texts, (DOCUMENT,), secrecy_demand)
    hits = [hit for hit in (authority, document) if hit is not None]
    if not hits:
        return None
    court = [hit for hit in hits if hit[1].source is SecrecySource.COURT]
    name, demand = (court or hits)[0]

    def first(attribute: str) -> Quote | None:
        for where, found in court or hits:
            words: Found | None = getattr(found, attribute)
            if words is not None:
                return Quote(where, words.words)
        return None

    return Secrecy(
        demand.source, Quote(name, demand.found.words), first("open_ended"), first("duration")
    )


def read_document(texts: Mapping[str, NormalisedText]) -> DocumentFacts:
    """Every fact the extractors find in one request's texts (keyed by field name)."""
    threat_hit = _first(texts, (DOCUMENT,), coercion)
    return DocumentFacts(
        scale=_scale(texts),
        reverse_search=Dragnet(dragnet[1].by, Quote(dragnet[0], dragnet[1].found.words))
        if (dragnet := _first(texts, (DOCUMENT, PURPOSE), reverse_search))
        else None,
        categories=_mapping(texts, (DOCUMENT,), named_categories),
        whole_history=_quote(texts, (DOCUMENT,), whole_history),
        period=StatedPeriod(
            period[1].first, period[1].last, Quote(period[0], period[1].found.words)
        )
        if (period := _first(texts, (DOCUMENT,), stated_period))
        else None,
        breadth=_quote(texts, (DOCUMENT,), breadth),
        secrecy=_secrecy(texts),
        contexts=_mapping(texts, (PURPOSE, DOCUMENT, EMERGENCY), protected_contexts),
        threat=Threat(threat_hit[1].target, Quote(threat_hit[0], threat_hit[1].found.words))
        if threat_hit
        else None,
        earlier_demand_resisted=_quote(texts, (DOCUMENT, PURPOSE), reissued_after_pushback),
        showing_missing=_quote(texts, (PURPOSE, DOCUMENT), showing_missing),
        speakers_not_parties=_quote(texts, (DOCUMENT,), speakers_not_parties),
        evidence_offered=_quote(texts, (DOCUMENT,), evidence_offered),
        private_lawsuit=_quote(texts, (DOCUMENT, PURPOSE), private_lawsuit),
        platform_not_party=_quote(texts, (DOCUMENT,), platform_not_party),
        data_held_in_home_country=_quote(texts, (DOCUMENT,), data_held_in_home_country),
        technical_assistance=_quote(texts, (DOCUMENT,), technical_assistance),
        prospective_capture=_quote(texts, (DOCUMENT,), prospective_capture),
        beyond_renewal=_quote(texts, (DOCUMENT,), beyond_renewal),
    )
