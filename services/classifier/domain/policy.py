"""The classification policy: three human-edited YAML files read into typed rules.

* ``authorities.yaml`` — the legal authorities: how each is cited, which instruments
  carry it, what it can compel, whether it carries its own secrecy.
* ``risk_factors.yaml`` — the risk factors: when each applies, its weight, its evidence.
* ``decisions.yaml`` — score thresholds per level, level floors, recommended actions.

Loading validates everything (unknown codes, bad conditions, missing fields, duplicate
codes, YAML errors) and refuses a bad policy with ``PolicyError("file:line: reason")``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from string import Formatter

from services.classifier.domain.agencies import AgencyRegistry
from services.classifier.domain.conditions import (
    Condition,
    Vocabulary,
    enum_values,
    parse_condition,
)
from services.classifier.domain.facts import TextField
from services.classifier.domain.text import Pattern
from services.classifier.domain.yamlnodes import Mapping, Node, PolicyError, read_yaml
from shared.submission import DataCategory, InstrumentType
from shared.verdict import RecommendedAction, RiskLevel

SCHEMA_VERSION = 1
POLICY_FILES = ("authorities.yaml", "risk_factors.yaml", "decisions.yaml")
DEFAULT_POLICY_DIR = Path(__file__).resolve().parent.parent / "policy"
LEVEL_ORDER = (RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH, RiskLevel.CRITICAL)
EVIDENCE_PLACEHOLDERS = frozenset({"evidence", "authority", "matched_text"})


class Secrecy(StrEnum):
    """Whether an authority silences the platform by itself."""

    NONE = "none"  # only a separate court order (e.g. 18 U.S.C. 2705(b)) can gag
    STATUTORY = "statutory"  # the statute itself imposes secrecy (NSL, FISA, pen/trap, wiretap)
    FOREIGN_LAW = "foreign_law"  # secrecy rests on foreign law; its force over us is unsettled


@dataclass(frozen=True)
class FieldWeight:
    field: TextField
    weight: float
    confidence: float


@dataclass(frozen=True)
class Matching:
    fields: tuple[FieldWeight, ...]
    implied_weight: float
    implied_confidence: float
    compatible_weight: float
    unknown_confidence: float


@dataclass(frozen=True)
class AuthorityRule:
    code: str
    family: str
    jurisdiction: str
    title: str
    cited_as: tuple[Pattern, ...]
    implied_by_instrument_type: frozenset[InstrumentType]
    instrument_types: frozenset[InstrumentType]
    requires: Condition | None
    refines: str | None
    can_compel: tuple[DataCategory, ...]
    secrecy: Secrecy
    in_force_from: date | None
    tags: frozenset[str]
    basis: str
    line: int


@dataclass(frozen=True)
class FactorRule:
    code: str
    weight: int
    meaning: str
    basis: str
    when: Condition
    evidence: str


@dataclass(frozen=True)
class LevelFloor:
    rule: str
    when: Condition
    at_least: RiskLevel
    reason: str


@dataclass(frozen=True)
class ActionRule:
    rule: str
    when: Condition
    action: RecommendedAction
    reason: str


@dataclass(frozen=True)
class Policy:
    version: str
    home_country: str
    matching: Matching
    authorities: tuple[AuthorityRule, ...]
    fallback: AuthorityRule
    recognised_gags: tuple[Pattern, ...]
    factors: tuple[FactorRule, ...]
    thresholds: dict[RiskLevel, int]
    floors: tuple[LevelFloor, ...]
    actions: tuple[ActionRule, ...]
    default_action: RecommendedAction
    #: who owns which mail domain (the shipped .gov registry and the operator's file)
    agencies: AgencyRegistry

    def level_for(self, score: int) -> RiskLevel:
        """The highest level whose threshold the score reaches."""
        level = RiskLevel.LOW
        for candidate in LEVEL_ORDER[1:]:
            if score >= self.thresholds[candidate]:
                level = candidate
        return level


# --- helpers ------------------------------------------------------------------------


def _header(root: Mapping) -> None:
    node = root.require("schema_version")
    if node.integer() != SCHEMA_VERSION:
        raise node.error(
            f"schema_version {node.integer()} is not supported (expected {SCHEMA_VERSION})"
        )


def _code(node: Node, seen: dict[str, int], what: str) -> str:
    code = node.text()
    if not code.replace("_", "").isalnum() or code.upper() != code:
        raise node.error(f"{what} code {code!r} must be UPPER_SNAKE_CASE")
    if code in seen:
        raise node.error(f"duplicate {what} code {code!r} (first defined on line {seen[code]})")
    seen[code] = node.line
    return code


def _level(node: Node) -> RiskLevel:
    try:
        return RiskLevel(node.text())
    except ValueError:
        raise node.error(
            f"unknown risk level {node.text()!r} (expected one of: {', '.join(LEVEL_ORDER)})"
        ) from None


def _action(node: Node) -> RecommendedAction:
    try:
        return RecommendedAction(node.text())
    except ValueError:
        allowed = ", ".join(a.value for a in RecommendedAction)
        raise node.error(f"unknown action {node.text()!r} (expected one of: {allowed})") from None


def _date(node: Node) -> date:
    try:
        return date.fromisoformat(node.text())
    except ValueError:
        raise node.error(f"expected a date like 2026-08-18, found {node.text()!r}") from None


# --- authorities.yaml ---------------------------------------------------------------


@dataclass(frozen=True)
class _AuthoritiesFile:
    matching: Matching
    families: frozenset[str]
    tags: dict[str, str]
    authorities: tuple[AuthorityRule, ...]
    fallback: AuthorityRule


def _matching(node: Node) -> Matching:
    spec = node.mapping()
    fields: list[FieldWeight] = []
    fields_node = spec.require("fields").mapping()
    for name, key_node, value in fields_node.pairs():
        try:
            field = TextField(name)
        except ValueError:
            raise key_node.error(f"unknown text field {name!r}") from None
        weights = value.mapping()
        fields.append(
            FieldWeight(
                field, weights.require("weight").number(), weights.require("confidence").number()
            )
        )
        weights.done()
    implied = spec.require("implied_by_instrument_type").mapping()
    compatible = spec.require("compatible_instrument_type").mapping()
    matching = Matching(
        fields=tuple(fields),
        implied_weight=implied.require("weight").number(),
        implied_confidence=implied.require("confidence").number(),
        compatible_weight=compatible.require("weight").number(),
        unknown_confidence=spec.require("unknown_confidence").number(),
    )
    implied.done()
    compatible.done()
    spec.done()
    return matching


def _authority(
    node: Node, vocabulary: Vocabulary, seen: dict[str, int]
) -> tuple[AuthorityRule, Node | None]:
    spec = node.mapping()
    code = _code(spec.require("code"), seen, "authority")
    family_node = spec.require("family")
    family = family_node.text()
    if family not in vocabulary.families:
        raise family_node.error(
            f"unknown authority family {family!r} (declare it under `families`)"
        )
    tags: list[str] = []
    tags_node = spec.optional("tags")
    for item in tags_node.items() if tags_node else []:
        if item.text() not in vocabulary.tags:
            raise item.error(f"unknown authority tag {item.text()!r} (declare it under `tags`)")
        tags.append(item.text())
    secrecy_node = spec.require("secrecy")
    try:
        secrecy = Secrecy(secrecy_node.text())
    except ValueError:
        allowed = ", ".join(s.value for s in Secrecy)
        raise secrecy_node.error(
            f"unknown secrecy {secrecy_node.text()!r} (expected one of: {allowed})"
        ) from None
    cited = spec.optional("cited_as")
    implied = spec.optional("implied_by_instrument_type")
    requires = spec.optional("requires")
    refines = spec.optional("refines")
    compel = spec.optional("can_compel")
    in_force = spec.optional("in_force_from")
    rule = AuthorityRule(
        code=code,
        family=family,
        jurisdiction=spec.require("jurisdiction").text(),
        title=spec.require("title").text(),
        cited_as=tuple(Pattern.of(p) for p in cited.texts()) if cited else (),
        implied_by_instrument_type=frozenset(enum_values(implied, InstrumentType))
        if implied
        else frozenset(),
        instrument_types=frozenset(enum_values(spec.require("instrument_types"), InstrumentType)),
        requires=parse_condition(requires, vocabulary) if requires else None,
        refines=refines.text() if refines else None,
        can_compel=tuple(dict.fromkeys(c for c in enum_values(compel, DataCategory)))
        if compel and compel.items()
        else (),
        secrecy=secrecy,
        in_force_from=_date(in_force) if in_force else None,
        tags=frozenset(tags),
        basis=spec.require("basis").text(),
        line=node.line,
    )
    spec.done()
    if (
        not rule.cited_as
        and not rule.implied_by_instrument_type
        and rule.refines is None
        and family != "unknown"
    ):
        raise node.error(
            f"authority {code} can never be identified: give cited_as or implied_by_instrument_type"
        )
    if rule.implied_by_instrument_type - rule.instrument_types:
        raise (implied or node).error(
            f"authority {code}: implied_by_instrument_type must be among its instrument_types"
        )
    return rule, refines


def _load_authorities(node: Node) -> _AuthoritiesFile:
    root = node.mapping()
    _header(root)
    families = frozenset(root.require("families").texts())
    tags: dict[str, str] = {}
    for name, _key, value in root.require("tags").mapping().pairs():
        tags[name] = value.text()
    matching = _matching(root.require("matching"))
    fallback_node = root.require("fallback")
    seen: dict[str, int] = {}
    # `requires` may only use request-level facts; codes are checked after all are read.
    vocabulary = Vocabulary(frozenset(), families, tags, frozenset(), request_only=True)
    rules: list[AuthorityRule] = []
    refines_nodes: list[tuple[AuthorityRule, Node]] = []
    for item in root.require("authorities").items():
        rule, refines = _authority(item, vocabulary, seen)
        rules.append(rule)
        if refines is not None:
            refines_nodes.append((rule, refines))
    root.done()
    for rule, refines in refines_nodes:
        if rule.refines not in seen:
            raise refines.error(f"authority {rule.code} refines unknown authority {rule.refines!r}")
        if rule.refines == rule.code:
            raise refines.error(f"authority {rule.code} cannot refine itself")
        if rule.requires is None:
            raise refines.error(f"authority {rule.code} refines another and so needs `requires`")
    fallback_code = fallback_node.text()
    if fallback_code not in seen:
        raise fallback_node.error(f"fallback authority {fallback_code!r} is not defined")
    fallback = next(r for r in rules if r.code == fallback_code)
    return _AuthoritiesFile(matching, families, tags, tuple(rules), fallback)


# --- risk_factors.yaml --------------------------------------------------------------


def _evidence_template(node: Node) -> str:
    template = node.text()
    try:
        names = {name for _, name, _, _ in Formatter().parse(template) if name is not None}
    except ValueError as error:
        raise node.error(f"evidence template is malformed: {error}") from None
    unknown = names - EVIDENCE_PLACEHOLDERS
    if unknown:
        allowed = ", ".join("{" + p + "}" for p in sorted(EVIDENCE_PLACEHOLDERS))
        raise node.error(f"unknown evidence placeholder(s) {sorted(unknown)} (allowed: {allowed})")
    return template


def _load_factors(node: Node, vocabulary: Vocabulary) -> tuple[FactorRule, ...]:
    root = node.mapping()
    _header(root)
    seen: dict[str, int] = {}
    factors: list[FactorRule] = []
    for item in root.require("factors").items():
        spec = item.mapping()
        code = _code(spec.require("code"), seen, "risk factor")
        weight_node = spec.require("weight")
        weight = weight_node.integer()
        if weight < 0:
            raise weight_node.error("a weight cannot be negative")
        earlier = Vocabulary(
            vocabulary.authority_codes,
            vocabulary.families,
            vocabulary.tags,
            frozenset(f.code for f in factors),
        )
        factors.append(
            FactorRule(
                code=code,
                weight=weight,
                meaning=spec.require("meaning").text(),
                basis=spec.require("basis").text(),
                when=parse_condition(spec.require("when"), earlier),
                evidence=_evidence_template(spec.require("evidence")),
            )
        )
        spec.done()
    root.done()
    return tuple(factors)


# --- decisions.yaml -----------------------------------------------------------------


@dataclass(frozen=True)
class _DecisionsFile:
    home_country: str
    recognised_gags: tuple[Pattern, ...]
    thresholds: dict[RiskLevel, int]
    floors: tuple[LevelFloor, ...]
    actions: tuple[ActionRule, ...]
    default_action: RecommendedAction


def _thresholds(node: Node) -> dict[RiskLevel, int]:
    spec = node.mapping()
    thresholds = {RiskLevel.LOW: 0}
    previous = 0
    for level in LEVEL_ORDER[1:]:
        value_node = spec.require(level.value)
        value = value_node.integer()
        if value <= previous:
            raise value_node.error(f"the {level.value} threshold must be above the level below it")
        thresholds[level] = previous = value
    spec.done()
    return thresholds


def _load_decisions(node: Node, vocabulary: Vocabulary) -> _DecisionsFile:
    root = node.mapping()
    _header(root)
    floors: list[LevelFloor] = []
    for item in root.require("level_floors").items():
        spec = item.mapping()
        floors.append(
            LevelFloor(
                rule=spec.require("rule").text(),
                when=parse_condition(spec.require("when"), vocabulary),
                at_least=_level(spec.require("at_least")),
                reason=spec.require("reason").text(),
            )
        )
        spec.done()
    actions: list[ActionRule] = []
    for item in root.require("actions").items():
        spec = item.mapping()
        actions.append(
            ActionRule(
                rule=spec.require("rule").text(),
                when=parse_condition(spec.require("when"), vocabulary),
                action=_action(spec.require("action")),
                reason=spec.require("reason").text(),
            )
        )
        spec.done()
    decisions = _DecisionsFile(
        home_country=root.require("home_country").text(),
        recognised_gags=tuple(
            Pattern.of(p) for p in root.require("recognised_gag_authorities").texts()
        ),
        thresholds=_thresholds(root.require("levels")),
        floors=tuple(floors),
        actions=tuple(actions),
        default_action=_action(root.require("default_action")),
    )
    root.done()
    return decisions


# --- the whole policy ---------------------------------------------------------------


def policy_version(directory: Path) -> str:
    """``sha256:`` + 16 hex digits over the exact bytes of every policy file, by name."""
    digest = hashlib.sha256()
    for name in POLICY_FILES:
        content = (directory / name).read_bytes()
        digest.update(name.encode() + b"\0" + str(len(content)).encode() + b"\0" + content)
    return "sha256:" + digest.hexdigest()[:16]


def load_policy(directory: Path | None = None, agencies: AgencyRegistry | None = None) -> Policy:
    """Read and validate the policy in ``directory`` (default: the one shipped here),
    checking requesters against ``agencies`` (default: the shipped agency registry)."""
    directory = directory or DEFAULT_POLICY_DIR
    if agencies is None:
        # Imported here: the registry's reader imports this package's agency models.
        from services.classifier.registry import load_agency_registry

        agencies = load_agency_registry()
    for name in POLICY_FILES:
        if not (directory / name).is_file():
            raise PolicyError(name, 1, f"policy file missing from {directory}")
    authorities = _load_authorities(read_yaml(directory / "authorities.yaml", "authorities.yaml"))
    codes = frozenset(rule.code for rule in authorities.authorities)
    base = Vocabulary(codes, authorities.families, authorities.tags, frozenset())
    factors = _load_factors(read_yaml(directory / "risk_factors.yaml", "risk_factors.yaml"), base)
    decisions = _load_decisions(
        read_yaml(directory / "decisions.yaml", "decisions.yaml"),
        Vocabulary(
            codes, authorities.families, authorities.tags, frozenset(f.code for f in factors)
        ),
    )
    return Policy(
        version=policy_version(directory),
        home_country=decisions.home_country,
        matching=authorities.matching,
        authorities=authorities.authorities,
        fallback=authorities.fallback,
        recognised_gags=decisions.recognised_gags,
        factors=factors,
        thresholds=decisions.thresholds,
        floors=decisions.floors,
        actions=decisions.actions,
        default_action=decisions.default_action,
        agencies=agencies,
    )
