"""The condition vocabulary of the policy files.

A condition is YAML data, e.g.::

    all:
      - account: {anonymous: true}
      - requested: [subscriber_identity, contact_info, ip_logs, payment_info]
      - not: {authority_tag: discloses_nothing}

Each condition, evaluated against the facts of one request, answers either ``None``
(it does not hold) or a piece of evidence text saying why it holds ("account @x:
anonymous"). Evidence never contains an e-mail address or a phone number.

The keys are documented in ``services/classifier/policy/README.md``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from services.classifier.domain.extract import (
    CoercionTarget,
    Context,
    DocumentFacts,
    Quote,
    SearchBy,
    SecrecySource,
)
from services.classifier.domain.facts import AuthorityBasis, Facts, GagState, TextField
from services.classifier.domain.links import resisted_earlier
from services.classifier.domain.requester import SignalKind
from services.classifier.domain.text import Pattern, redact
from services.classifier.domain.yamlnodes import Node
from shared.accounts import Account
from shared.submission import AgencyType, DataCategory, InstrumentType, ReceivedVia


class Condition(Protocol):
    def evaluate(self, facts: Facts) -> str | None: ...


def _join(parts: Sequence[str]) -> str:
    return "; ".join(part for part in parts if part)


# --- combinators --------------------------------------------------------------------


@dataclass(frozen=True)
class AllOf:
    conditions: tuple[Condition, ...]

    def evaluate(self, facts: Facts) -> str | None:
        evidence: list[str] = []
        for condition in self.conditions:
            found = condition.evaluate(facts)
            if found is None:
                return None
            evidence.append(found)
        return _join(evidence)


@dataclass(frozen=True)
class AnyOf:
    conditions: tuple[Condition, ...]

    def evaluate(self, facts: Facts) -> str | None:
        """The evidence of the first condition that holds."""
        for condition in self.conditions:
            found = condition.evaluate(facts)
            if found is not None:
                return found
        return None


@dataclass(frozen=True)
class Not:
    condition: Condition

    def evaluate(self, facts: Facts) -> str | None:
        return "" if self.condition.evaluate(facts) is None else None


@dataclass(frozen=True)
class Check:
    """A leaf: ``test`` returns evidence or None; ``expected`` False inverts it."""

    test: Callable[[Facts], str | None]
    expected: bool = True

    def evaluate(self, facts: Facts) -> str | None:
        found = self.test(facts)
        if self.expected:
            return found
        return "" if found is None else None


# --- leaves -------------------------------------------------------------------------


def _names(values: Sequence[str]) -> str:
    return ", ".join(values)


@dataclass(frozen=True)
class TextMatch:
    fields: tuple[TextField, ...]
    phrases: tuple[Pattern, ...]
    patterns: tuple[re.Pattern[str], ...]

    def evaluate(self, facts: Facts) -> str | None:
        for name in self.fields:
            text = facts.texts[name]
            for phrase in self.phrases:
                span = phrase.search(text)
                if span is not None:
                    return f'{name.value} says "{text.quote(*span)}"'
            for pattern in self.patterns:
                match = pattern.search(text.text)
                if match is not None:
                    return f'{name.value} says "{text.quote(match.start(), match.end())}"'
        return None


@dataclass(frozen=True)
class AccountMatch:
    """Some found target account has every listed fact."""

    flags: tuple[tuple[str, bool], ...]
    topics_any: frozenset[str] | None
    topics_other_than: frozenset[str] | None
    outside_requester_country: bool | None

    def _describe(self, facts: Facts, account: Account) -> str | None:
        said: list[str] = []
        for flag, wanted in self.flags:
            if bool(getattr(account, flag)) != wanted:
                return None
            said.append(flag.replace("_", " ") if wanted else f"not {flag.replace('_', ' ')}")
        topics = {t.casefold() for t in account.speech_topics}
        if self.topics_any is not None:
            shared_topics = sorted(topics & self.topics_any)
            if not shared_topics:
                return None
            said.append("speech topics " + _names(shared_topics))
        if self.topics_other_than is not None:
            other = sorted(topics - self.topics_other_than)
            if not other:
                return None
            said.append("speech topics " + _names(other))
        if self.outside_requester_country is not None:
            requester = facts.submission.requester.country
            outside = account.country not in ("ZZ", requester)
            if outside != self.outside_requester_country:
                return None
            said.append(
                f"located in {account.country}, requester in {requester}"
                if outside
                else f"located in {account.country}"
            )
        return ", ".join(said)

    def evaluate(self, facts: Facts) -> str | None:
        for label, account in facts.accounts:
            described = self._describe(facts, account)
            if described is not None:
                return f"account {label}: {described}"
        return None


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%MZ")


# --- parsing ------------------------------------------------------------------------


@dataclass(frozen=True)
class Vocabulary:
    """What a condition may refer to, for validation while parsing."""

    authority_codes: frozenset[str]
    families: frozenset[str]
    tags: dict[str, str]  # tag -> what it means (used as evidence)
    factor_codes: frozenset[str]  # factors a condition here may refer to
    request_only: bool = False  # True inside an authority's `requires`


_ACCOUNT_FLAGS = ("anonymous", "verified_identity", "journalist", "minor")
_REQUEST_ONLY_KEYS = frozenset(
    {
        "all",
        "any",
        "not",
        "instrument_type",
        "agency_type",
        "requester_foreign",
        "requested",
        "nothing_requested",
        "text",
        "emergency_claimed",
        "deadline_within_days",
        "deadline_before_receipt",
        "issued_after_receipt",
        "issued_days_before_receipt",
        "purpose_missing",
        "date_range_days",
        "targets",
        "target_not_found",
        "target_identifiers_conflict",
        "account",
        "requester",
        "withdrawn_by_amendment",
        "stated_scale",
        "whole_class",
        "reverse_search",
        "text_requests",
        "whole_history",
        "stated_period_years",
        "broad_wording",
        "secrecy_ordered_by",
        "secrecy_open_ended",
        "context",
        "threat_against",
        "earlier_demand_resisted",
        "linked_request_resisted",
        "showing_missing",
        "speakers_not_parties",
        "technical_assistance",
        "prospective_capture",
        "beyond_renewal",
        "evidence_offered",
        "private_lawsuit",
        "platform_not_party",
        "data_held_abroad",
    }
)


_E = TypeVar(
    "_E",
    InstrumentType,
    AgencyType,
    DataCategory,
    TextField,
    AuthorityBasis,
    GagState,
    SignalKind,
    ReceivedVia,
    SecrecySource,
    Context,
    CoercionTarget,
    SearchBy,
)


def enum_values(node: Node, kind: type[_E]) -> tuple[_E, ...]:
    values: list[_E] = []
    for item in node.items():
        text = item.text()
        try:
            values.append(kind(text))
        except ValueError:
            allowed = ", ".join(v.value for v in kind)
            raise item.error(
                f"unknown {kind.__name__} {text!r} (expected one of: {allowed})"
            ) from None
    if not values:
        raise node.error("expected at least one value")
    return tuple(values)


def _count(node: Node) -> tuple[int | None, int | None]:
    bounds = node.mapping()
    at_least = bounds.optional("at_least")
    at_most = bounds.optional("at_most")
    bounds.done()
    if at_least is None and at_most is None:
        raise node.error("expected at_least and/or at_most")
    return (
        at_least.integer() if at_least is not None else None,
        at_most.integer() if at_most is not None else None,
    )


def _in_bounds(value: float, bounds: tuple[int | None, int | None]) -> bool:
    low, high = bounds
    return (low is None or value >= low) and (high is None or value <= high)


def parse_condition(node: Node, vocabulary: Vocabulary) -> Condition:
    """One condition. A list means all of its items; a mapping must have exactly one key."""
    if node.is_list():
        return AllOf(tuple(parse_condition(item, vocabulary) for item in node.items()))
    mapping = node.mapping()
    keys = list(mapping.entries)
    if len(keys) != 1:
        raise node.error(
            f"a condition has exactly one key, found {len(keys)} ({', '.join(keys) or 'none'}); "
            "combine several with all/any"
        )
    [key] = keys
    value = mapping.require(key)
    if vocabulary.request_only and key not in _REQUEST_ONLY_KEYS:
        raise mapping.entries[key][0].error(
            f"condition {key!r} needs the identified authority and cannot be used in `requires`"
        )
    parser = _PARSERS.get(key)
    if parser is None:
        raise mapping.entries[key][0].error(
            f"unknown condition {key!r} (expected one of: {', '.join(sorted(_PARSERS))})"
        )
    return parser(value, vocabulary)


def _parse_all(value: Node, vocabulary: Vocabulary) -> Condition:
    items = value.items()
    if not items:
        raise value.error("`all` needs at least one condition")
    return AllOf(tuple(parse_condition(item, vocabulary) for item in items))


def _parse_any(value: Node, vocabulary: Vocabulary) -> Condition:
    items = value.items()
    if not items:
        raise value.error("`any` needs at least one condition")
    return AnyOf(tuple(parse_condition(item, vocabulary) for item in items))


def _parse_not(value: Node, vocabulary: Vocabulary) -> Condition:
    return Not(parse_condition(value, vocabulary))


def _flag(test: Callable[[Facts], str | None]) -> Callable[[Node, Vocabulary], Condition]:
    def parse(value: Node, _vocabulary: Vocabulary) -> Condition:
        return Check(test, value.boolean())

    return parse


def _parse_instrument_type(value: Node, _v: Vocabulary) -> Condition:
    wanted = frozenset(enum_values(value, InstrumentType))

    def test(facts: Facts) -> str | None:
        kind = facts.submission.instrument.type
        return f"instrument type is {kind.value}" if kind in wanted else None

    return Check(test)


def _parse_agency_type(value: Node, _v: Vocabulary) -> Condition:
    wanted = frozenset(enum_values(value, AgencyType))

    def test(facts: Facts) -> str | None:
        kind = facts.submission.requester.agency_type
        return f"requester is of type {kind.value}" if kind in wanted else None

    return Check(test)


def _requester_foreign(facts: Facts) -> str | None:
    country = facts.submission.requester.country
    if facts.requester_foreign:
        return f"requester country {country} is not {facts.home_country}"
    return None


def _parse_requested(value: Node, _v: Vocabulary) -> Condition:
    wanted = enum_values(value, DataCategory)

    def test(facts: Facts) -> str | None:
        hit = [c.value for c in facts.submission.data_requested if c in wanted]
        return f"data_requested includes {_names(hit)}" if hit else None

    return Check(test)


def _nothing_requested(facts: Facts) -> str | None:
    return "no data category requested" if not facts.submission.data_requested else None


def _parse_text(value: Node, _v: Vocabulary) -> Condition:
    spec = value.mapping()
    fields_node = spec.optional("in")
    fields = (
        enum_values(fields_node, TextField)
        if fields_node is not None
        else (TextField.CITED_AUTHORITY, TextField.DOCUMENT_TEXT, TextField.STATED_PURPOSE)
    )
    phrases_node = spec.optional("phrases")
    patterns_node = spec.optional("patterns")
    spec.done()
    phrases = tuple(Pattern.of(p) for p in phrases_node.texts()) if phrases_node else ()
    patterns: list[re.Pattern[str]] = []
    for item in patterns_node.items() if patterns_node else []:
        try:
            patterns.append(re.compile(item.text()))
        except re.error as error:
            raise item.error(f"not a valid regular expression: {error}") from None
    if not phrases and not patterns:
        raise value.error("a text condition needs `phrases` and/or `patterns`")
    return TextMatch(fields, phrases, tuple(patterns))


def _emergency_claimed(facts: Facts) -> str | None:
    return "an emergency is claimed" if facts.submission.emergency.claimed else None


def _parse_deadline_within_days(value: Node, _v: Vocabulary) -> Condition:
    days = value.number()

    def test(facts: Facts) -> str | None:
        deadline = facts.submission.instrument.response_deadline
        if deadline is None:
            return None
        allowed = deadline - facts.submission.received_at
        if allowed >= timedelta(days=days):
            return None
        hours = allowed.total_seconds() / 3600
        if hours <= 0:
            return f"response deadline {_when(deadline)} had passed when the request was received"
        return f"response deadline {_when(deadline)} leaves {hours:.0f} hours after receipt"

    return Check(test)


def _deadline_before_receipt(facts: Facts) -> str | None:
    deadline = facts.submission.instrument.response_deadline
    received = facts.submission.received_at
    if deadline is not None and deadline <= received:
        return f"response deadline {_when(deadline)} is not after receipt {_when(received)}"
    return None


def _issued_after_receipt(facts: Facts) -> str | None:
    issued = facts.submission.instrument.issued_at
    received = facts.submission.received_at.date()
    if issued is not None and issued > received:
        return f"issued_at {issued.isoformat()} is after receipt {received.isoformat()}"
    return None


def _parse_issued_days_before_receipt(value: Node, _v: Vocabulary) -> Condition:
    bounds = _count(value)

    def test(facts: Facts) -> str | None:
        issued = facts.submission.instrument.issued_at
        if issued is None:
            return None
        days = (facts.submission.received_at.date() - issued).days
        if not _in_bounds(days, bounds):
            return None
        return f"issued {issued.isoformat()}, {days} days before receipt"

    return Check(test)


def _purpose_missing(facts: Facts) -> str | None:
    purpose = facts.submission.stated_purpose
    return "no stated purpose" if purpose is None or not purpose.strip() else None


def _parse_date_range_days(value: Node, _v: Vocabulary) -> Condition:
    bounds = _count(value)

    def test(facts: Facts) -> str | None:
        span = facts.submission.date_range
        if span.from_ is None:
            return None
        end = span.to or facts.as_of
        days = (end - span.from_).days
        if not _in_bounds(days, bounds):
            return None
        start, stop = span.from_.date().isoformat(), end.date().isoformat()
        return f"date range {start} to {stop} spans {days} days"

    return Check(test)


def _parse_targets(value: Node, _v: Vocabulary) -> Condition:
    bounds = _count(value)

    def test(facts: Facts) -> str | None:
        count = len(facts.targets)
        return f"the request names {count} account(s)" if _in_bounds(count, bounds) else None

    return Check(test)


def _target_not_found(facts: Facts) -> str | None:
    missing = [
        f"{t.label} (fits {t.resolution.matches} accounts)" if t.resolution.ambiguous else t.label
        for t in facts.targets
        if t.account is None
    ]
    return f"not in the account directory: {_names(missing)}" if missing else None


def _target_identifiers_conflict(facts: Facts) -> str | None:
    for target in facts.targets:
        if target.identifiers_conflict:
            return f"{target.label}: its platform_user_id is not the account that has its handle"
    return None


def _parse_account(value: Node, _v: Vocabulary) -> Condition:
    spec = value.mapping()
    flags = tuple(
        (flag, node.boolean())
        for flag in _ACCOUNT_FLAGS
        if (node := spec.optional(flag)) is not None
    )
    topics = spec.optional("speech_topics")
    other = spec.optional("speech_topics_other_than")
    outside = spec.optional("outside_requester_country")
    spec.done()
    if not flags and topics is None and other is None and outside is None:
        raise value.error("an account condition needs at least one fact")
    return AccountMatch(
        flags=flags,
        topics_any=frozenset(t.casefold() for t in topics.texts()) if topics else None,
        topics_other_than=frozenset(t.casefold() for t in other.texts()) if other else None,
        outside_requester_country=outside.boolean() if outside is not None else None,
    )


@dataclass(frozen=True)
class RequesterMatch:
    """Who the sender is (``services.classifier.domain.requester``): any of the listed
    identity signals, whether the sender is verified, how the request arrived."""

    signals: frozenset[SignalKind] | None
    verified: bool | None
    received_via: frozenset[ReceivedVia] | None

    def evaluate(self, facts: Facts) -> str | None:
        said: list[str] = []
        if self.received_via is not None:
            via = facts.submission.received_via
            if via not in self.received_via:
                return None
            said.append(f"received via {via.value}")
        if self.verified is not None:
            evidence = facts.requester
            if evidence.verified != self.verified:
                return None
            if evidence.verified and evidence.record is not None:
                said.append(
                    f"the contact domain {evidence.domain} belongs to {evidence.record.describe()}"
                )
        if self.signals is not None:
            found = [s.evidence for s in facts.requester.signals if s.kind in self.signals]
            if not found:
                return None
            said.extend(found)
        return _join(said)


def _parse_requester(value: Node, _v: Vocabulary) -> Condition:
    spec = value.mapping()
    signals = spec.optional("signals")
    verified = spec.optional("verified")
    via = spec.optional("received_via")
    spec.done()
    if signals is None and verified is None and via is None:
        raise value.error("a requester condition needs signals, verified and/or received_via")
    return RequesterMatch(
        signals=frozenset(enum_values(signals, SignalKind)) if signals is not None else None,
        verified=verified.boolean() if verified is not None else None,
        received_via=frozenset(enum_values(via, ReceivedVia)) if via is not None else None,
    )


def _linked_request_resisted(facts: Facts) -> str | None:
    earlier = resisted_earlier(facts.linked)
    if earlier is None:
        return None
    return (
        f"linked earlier request {earlier.request_id} from the same requester for the same"
        f" account was {earlier.status}"
    )


def _withdrawn_by_amendment(facts: Facts) -> str | None:
    return "an amendment withdrew the request" if facts.withdrawn_by_amendment else None


# what the document's own words say (services/classifier/domain/extract) -----------


def _document_flag(
    read: Callable[[DocumentFacts], Quote | None],
) -> Callable[[Node, Vocabulary], Condition]:
    """A condition that holds when an extractor found its fact; the evidence is the
    document's own words."""

    def test(facts: Facts) -> str | None:
        found = read(facts.document)
        return str(found) if found is not None else None

    return _flag(test)


def _parse_stated_scale(value: Node, _v: Vocabulary) -> Condition:
    bounds = _count(value)

    def test(facts: Facts) -> str | None:
        scale = facts.document.scale
        if scale is None:
            return None
        if scale.count is None:
            return f"a whole class of people: {scale.quote}" if bounds[1] is None else None
        if not _in_bounds(scale.count, bounds):
            return None
        return f"{scale.count} people or identifiers: {scale.quote}"

    return Check(test)


def _whole_class(facts: Facts) -> str | None:
    scale = facts.document.scale
    return f"a whole class of people: {scale.quote}" if scale and scale.count is None else None


def _parse_reverse_search(value: Node, _v: Vocabulary) -> Condition:
    """``reverse_search: true`` (any kind) or ``reverse_search: [place, query, visitors]``."""
    if value.is_list():
        wanted = frozenset(enum_values(value, SearchBy))
        expected = True
    else:
        wanted = frozenset(SearchBy)
        expected = value.boolean()

    def test(facts: Facts) -> str | None:
        dragnet = facts.document.reverse_search
        if dragnet is None or dragnet.by not in wanted:
            return None
        return f"people picked out by {dragnet.by.value}: {dragnet.quote}"

    return Check(test, expected)


def _parse_stated_period_years(value: Node, _v: Vocabulary) -> Condition:
    """The period the text states spans this many calendar years (to the present:
    up to the as-of year)."""
    bounds = _count(value)

    def test(facts: Facts) -> str | None:
        period = facts.document.period
        if period is None:
            return None
        last = period.last_year if period.last_year is not None else facts.as_of.year
        years = last - period.first_year
        return f"a period of {years} years: {period.quote}" if _in_bounds(years, bounds) else None

    return Check(test)


def _parse_text_requests(value: Node, _v: Vocabulary) -> Condition:
    wanted = enum_values(value, DataCategory)

    def test(facts: Facts) -> str | None:
        named = facts.document.categories
        hits = [f"{c.value} ({named[c]})" for c in wanted if c in named]
        return "the document asks for " + "; ".join(hits) if hits else None

    return Check(test)


def _parse_secrecy_ordered_by(value: Node, _v: Vocabulary) -> Condition:
    wanted = frozenset(enum_values(value, SecrecySource))

    def test(facts: Facts) -> str | None:
        secrecy = facts.document.secrecy
        if secrecy is None or secrecy.source not in wanted:
            return None
        who = (
            "a court orders" if secrecy.source is SecrecySource.COURT else "the requester asks for"
        )
        return f"{who} secrecy: {secrecy.quote}"

    return Check(test)


def _secrecy_open_ended(facts: Facts) -> str | None:
    secrecy = facts.document.secrecy
    if secrecy is None or secrecy.open_ended is None:
        return None
    return f"secrecy without an end date: {secrecy.open_ended}"


def _parse_context(value: Node, _v: Vocabulary) -> Condition:
    wanted = enum_values(value, Context)

    def test(facts: Facts) -> str | None:
        found = facts.document.contexts
        hit = next((c for c in wanted if c in found), None)
        return f"{hit.value.replace('_', ' ')}: {found[hit]}" if hit is not None else None

    return Check(test)


def _parse_threat_against(value: Node, _v: Vocabulary) -> Condition:
    wanted = frozenset(enum_values(value, CoercionTarget))

    def test(facts: Facts) -> str | None:
        threat = facts.document.threat
        if threat is None or threat.target not in wanted:
            return None
        return f"threat against the {threat.target.value}: {threat.quote}"

    return Check(test)


# verdict-level conditions ------------------------------------------------------------


def _parse_authority(value: Node, vocabulary: Vocabulary) -> Condition:
    codes: list[str] = []
    for item in value.items():
        code = item.text()
        if code not in vocabulary.authority_codes:
            raise item.error(f"unknown authority code {code!r}")
        codes.append(code)
    wanted = frozenset(codes)

    def test(facts: Facts) -> str | None:
        if facts.authority_code not in wanted:
            return None
        cited = f' (matched "{facts.matched_text}")' if facts.matched_text else ""
        return f"authority {facts.authority_code}{cited}"

    return Check(test)


def _parse_family(value: Node, vocabulary: Vocabulary) -> Condition:
    families: list[str] = []
    for item in value.items():
        family = item.text()
        if family not in vocabulary.families:
            raise item.error(f"unknown authority family {family!r}")
        families.append(family)
    wanted = frozenset(families)

    def test(facts: Facts) -> str | None:
        if facts.authority_family in wanted:
            return f"authority family {facts.authority_family}"
        return None

    return Check(test)


def _parse_authority_tag(value: Node, vocabulary: Vocabulary) -> Condition:
    tag = value.text()
    if tag not in vocabulary.tags:
        raise value.error(f"unknown authority tag {tag!r} (declare it under `tags`)")
    meaning = vocabulary.tags[tag]

    def test(facts: Facts) -> str | None:
        return f"{facts.authority_code}: {meaning}" if tag in facts.authority_tags else None

    return Check(test)


def _parse_authority_basis(value: Node, _v: Vocabulary) -> Condition:
    wanted = frozenset(enum_values(value, AuthorityBasis))

    def test(facts: Facts) -> str | None:
        if facts.authority_basis not in wanted:
            return None
        return {
            AuthorityBasis.MATCHED: f"authority identified as {facts.authority_code}",
            AuthorityBasis.CONTRADICTORY: "the document's legal basis contradicts itself",
            AuthorityBasis.NONE: "no legal authority is cited or recognisable",
        }[facts.authority_basis]

    return Check(test)


def _not_yet_in_force(facts: Facts) -> str | None:
    if facts.in_force_from is None or facts.as_of.date() >= facts.in_force_from:
        return None
    return (
        f"{facts.authority_code} has legal effect only from {facts.in_force_from.isoformat()}; "
        f"received {facts.as_of.date().isoformat()}"
    )


def _parse_authority_in_force(value: Node, _v: Vocabulary) -> Condition:
    return Check(_not_yet_in_force, expected=not value.boolean())


def _parse_beyond_authority(value: Node, _v: Vocabulary) -> Condition:
    wanted = enum_values(value, DataCategory)

    def test(facts: Facts) -> str | None:
        hit = [c.value for c in facts.beyond_authority if c in wanted]
        return f"{facts.authority_code} cannot compel {_names(hit)}" if hit else None

    return Check(test)


def _issuer_not_entitled(facts: Facts) -> str | None:
    if facts.wrong_issuer is None:
        return None
    sender = facts.submission.requester.agency_type.value
    return f"the document invokes {facts.wrong_issuer}, which a {sender} requester cannot issue"


def _parse_authority_compels(value: Node, _v: Vocabulary) -> Condition:
    wanted = enum_values(value, DataCategory)

    def test(facts: Facts) -> str | None:
        if _not_yet_in_force(facts) is not None:
            return None
        if all(c in facts.authority_can_compel for c in wanted):
            return f"{facts.authority_code} can compel {_names([c.value for c in wanted])}"
        return None

    return Check(test)


def _everything_beyond_authority(facts: Facts) -> str | None:
    requested = facts.submission.data_requested
    if requested and set(requested) <= set(facts.beyond_authority):
        return f"{facts.authority_code} can compel none of the data requested"
    return None


def _parse_gag(value: Node, _v: Vocabulary) -> Condition:
    wanted = frozenset(enum_values(value, GagState))

    def test(facts: Facts) -> str | None:
        gag = facts.gag
        if gag is None or gag.state not in wanted:
            return None
        authority = gag.nondisclosure.authority
        cited = f" ({redact(authority)})" if authority else ""
        return {
            GagState.NONE: "no non-disclosure order",
            GagState.BINDING: f"non-disclosure ordered under a recognised legal authority{cited}",
            GagState.NONBINDING: "secrecy demanded without a legal authority that can impose it",
            GagState.FOREIGN: f"secrecy claimed under foreign law{cited}",
        }[gag.state]

    return Check(test)


def _gag_active(facts: Facts) -> str | None:
    gag = facts.gag
    if gag is None or not gag.active:
        return None
    expires = gag.nondisclosure.expires_at
    return f"gag in force until {_when(expires)}" if expires else "gag in force with no end date"


def _gag_expiry_missing(facts: Facts) -> str | None:
    gag = facts.gag
    if gag is None or gag.state is GagState.NONE or gag.nondisclosure.expires_at is not None:
        return None
    stated = facts.document.secrecy
    if stated is not None and stated.duration is not None and stated.open_ended is None:
        return None  # the order has an end ("for one year"), only not transcribed
    return "the non-disclosure order sets no end date"


def _parse_factor(value: Node, vocabulary: Vocabulary) -> Condition:
    code = value.text()
    if code not in vocabulary.factor_codes:
        raise value.error(
            f"unknown risk factor {code!r} (a condition may only refer to a factor "
            "defined earlier in risk_factors.yaml)"
        )

    def test(facts: Facts) -> str | None:
        return code if code in facts.factors else None

    return Check(test)


_PARSERS: dict[str, Callable[[Node, Vocabulary], Condition]] = {
    "all": _parse_all,
    "any": _parse_any,
    "not": _parse_not,
    "instrument_type": _parse_instrument_type,
    "agency_type": _parse_agency_type,
    "requester_foreign": _flag(_requester_foreign),
    "requested": _parse_requested,
    "nothing_requested": _flag(_nothing_requested),
    "text": _parse_text,
    "emergency_claimed": _flag(_emergency_claimed),
    "deadline_within_days": _parse_deadline_within_days,
    "deadline_before_receipt": _flag(_deadline_before_receipt),
    "issued_after_receipt": _flag(_issued_after_receipt),
    "issued_days_before_receipt": _parse_issued_days_before_receipt,
    "purpose_missing": _flag(_purpose_missing),
    "date_range_days": _parse_date_range_days,
    "targets": _parse_targets,
    "target_not_found": _flag(_target_not_found),
    "target_identifiers_conflict": _flag(_target_identifiers_conflict),
    "account": _parse_account,
    "requester": _parse_requester,
    "withdrawn_by_amendment": _flag(_withdrawn_by_amendment),
    "stated_scale": _parse_stated_scale,
    "whole_class": _flag(_whole_class),
    "reverse_search": _parse_reverse_search,
    "text_requests": _parse_text_requests,
    "whole_history": _document_flag(lambda d: d.whole_history),
    "stated_period_years": _parse_stated_period_years,
    "broad_wording": _document_flag(lambda d: d.breadth),
    "secrecy_ordered_by": _parse_secrecy_ordered_by,
    "secrecy_open_ended": _flag(_secrecy_open_ended),
    "context": _parse_context,
    "threat_against": _parse_threat_against,
    "earlier_demand_resisted": _document_flag(lambda d: d.earlier_demand_resisted),
    "linked_request_resisted": _flag(_linked_request_resisted),
    "showing_missing": _document_flag(lambda d: d.showing_missing),
    "speakers_not_parties": _document_flag(lambda d: d.speakers_not_parties),
    "technical_assistance": _document_flag(lambda d: d.technical_assistance),
    "prospective_capture": _document_flag(lambda d: d.prospective_capture),
    "beyond_renewal": _document_flag(lambda d: d.beyond_renewal),
    "evidence_offered": _document_flag(lambda d: d.evidence_offered),
    "private_lawsuit": _document_flag(lambda d: d.private_lawsuit),
    "platform_not_party": _document_flag(lambda d: d.platform_not_party),
    "data_held_abroad": _document_flag(lambda d: d.data_held_in_home_country),
    "issuer_not_entitled": _flag(_issuer_not_entitled),
    "authority_compels": _parse_authority_compels,
    "authority": _parse_authority,
    "family": _parse_family,
    "authority_tag": _parse_authority_tag,
    "authority_basis": _parse_authority_basis,
    "authority_in_force": _parse_authority_in_force,
    "beyond_authority": _parse_beyond_authority,
    "everything_beyond_authority": _flag(_everything_beyond_authority),
    "gag": _parse_gag,
    "gag_active": _flag(_gag_active),
    "gag_expiry_missing": _flag(_gag_expiry_missing),
    "factor": _parse_factor,
}
