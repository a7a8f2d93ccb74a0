"""``classify``: one request in, one explainable verdict out. Pure and deterministic:
the same submission, directory, policy, clock and amendments give the same verdict."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.classifier.domain.extract import SecrecySource
from services.classifier.domain.facts import AuthorityBasis, Facts, Gag, GagState, TextField, gather
from services.classifier.domain.policy import (
    LEVEL_ORDER,
    ActionRule,
    AuthorityRule,
    LevelFloor,
    Policy,
    Secrecy,
)
from shared.accounts import AccountDirectory
from shared.amendments import Amendment, effective_state
from shared.events import RequestLink
from shared.submission import Nondisclosure, Submission
from shared.verdict import (
    Authority,
    DataScope,
    RecommendedAction,
    Risk,
    RiskFactor,
    RiskLevel,
    TargetMatch,
    Verdict,
)


@dataclass(frozen=True)
class Identification:
    rule: AuthorityRule
    basis: AuthorityBasis
    matched_text: str | None
    confidence: float
    #: why this authority, in words (for the CLI's "why")
    reason: str
    #: the authority the document invokes but its sender may not (an "NSL" from a sheriff)
    wrong_issuer: str | None = None


@dataclass(frozen=True)
class _Candidate:
    rule: AuthorityRule
    score: float
    specificity: float
    confidence: float
    matched_text: str | None
    reason: str


def _candidate(policy: Policy, rule: AuthorityRule, facts: Facts) -> _Candidate | None:
    matching = policy.matching
    score = specificity = confidence = 0.0
    matched_text: str | None = None
    reason = ""
    for field in matching.fields:
        text = facts.texts[field.field]
        for pattern in rule.cited_as:
            span = pattern.affirmed(text)
            if span is None:
                continue
            if (field.weight, pattern.specificity) > (score, specificity):
                score, specificity, confidence = field.weight, pattern.specificity, field.confidence
                matched_text = text.quote(*span)
                reason = f'{field.field.value} cites "{matched_text}"'
    kind = facts.submission.instrument.type
    if kind in rule.implied_by_instrument_type:
        score += matching.implied_weight
        confidence = max(confidence, matching.implied_confidence)
        reason = _join(reason, f"instrument type {kind.value} implies it")
    if score == 0 or (rule.requires is not None and rule.requires.evaluate(facts) is None):
        return None
    if kind in rule.instrument_types:
        score += matching.compatible_weight
    return _Candidate(rule, score, specificity, confidence, matched_text, reason)


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def identify_authority(policy: Policy, facts: Facts) -> Identification:
    """The compulsory instrument the request really rests on (domain.md section 2.3)."""
    ranked = [
        c
        for rule in policy.authorities
        if rule.refines is None and rule is not policy.fallback
        if (c := _candidate(policy, rule, facts)) is not None
    ]
    if not ranked:
        return Identification(
            policy.fallback,
            AuthorityBasis.NONE,
            None,
            policy.matching.unknown_confidence,
            "no legal authority is cited, and the instrument type implies none",
        )
    best = max(ranked, key=lambda c: (c.score, c.specificity, -c.rule.line))
    rule, reason = best.rule, best.reason
    for refinement in policy.authorities:
        if (
            refinement.refines == rule.code
            and refinement.requires is not None
            and (why := refinement.requires.evaluate(facts)) is not None
        ):
            rule, reason = refinement, _join(reason, f"refined to {refinement.code}: {why}")
            break
    kind = facts.submission.instrument.type
    sender = facts.submission.requester.agency_type
    if rule.issuers and sender not in rule.issuers:
        return Identification(
            policy.fallback,
            AuthorityBasis.CONTRADICTORY,
            best.matched_text,
            policy.matching.unknown_confidence,
            f"{reason}, but {rule.code} can be issued only by "
            f"{', '.join(sorted(i.value for i in rule.issuers))}, "
            f"not by a {sender.value} requester",
            wrong_issuer=rule.code,
        )
    if kind not in rule.instrument_types:
        return Identification(
            policy.fallback,
            AuthorityBasis.CONTRADICTORY,
            best.matched_text,
            policy.matching.unknown_confidence,
            f"{reason}, but {rule.code} is never carried by an instrument of type {kind.value}",
        )
    return Identification(rule, AuthorityBasis.MATCHED, best.matched_text, best.confidence, reason)


def _gag(policy: Policy, facts: Facts, rule: AuthorityRule) -> Gag:
    order = facts.nondisclosure
    stated = facts.document.secrecy
    if not order.ordered and stated is not None and stated.source is SecrecySource.COURT:
        # the document carries a court's gag the submission did not mark: fail closed
        order = Nondisclosure(ordered=True)
    if not order.ordered:
        state = GagState.NONE
    elif facts.wrong_issuer is not None:
        # a gag statute invoked by someone it does not empower binds no one
        state = GagState.NONBINDING
    else:
        cited = facts.texts[TextField.NONDISCLOSURE_AUTHORITY]
        recognised = any(p.search(cited) is not None for p in policy.recognised_gags)
        if recognised or rule.secrecy is Secrecy.STATUTORY:
            state = GagState.BINDING
        elif facts.requester_foreign or rule.secrecy is Secrecy.FOREIGN_LAW:
            state = GagState.FOREIGN
        elif stated is not None and stated.source is SecrecySource.COURT:
            # a court's order binds even when the submission's authority field is vague
            state = GagState.BINDING
        else:
            state = GagState.NONBINDING
    active = state is GagState.BINDING and (
        order.expires_at is None or order.expires_at > facts.as_of
    )
    return Gag(state, order, active)


@dataclass(frozen=True)
class Explanation:
    """A verdict plus the reasoning behind it, for people (the CLI's "why")."""

    verdict: Verdict
    authority: AuthorityRule
    authority_reason: str
    floor: LevelFloor | None
    action_rule: ActionRule | None


def explain(
    submission: Submission,
    accounts: AccountDirectory,
    policy: Policy,
    as_of: datetime,
    amendments: Sequence[Amendment] = (),
    linked: Sequence[RequestLink] = (),
) -> Explanation:
    """The verdict and why; ``linked``: the earlier requests this one is linked to on
    arrival (``services.classifier.domain.links``)."""
    # Every amendment passed in was accepted and applies, even one dated after the clock
    # (a gag added after receipt); the clock itself stays the legal one (normally receipt).
    amended_as_of = max([as_of, *(a.effective_at for a in amendments)])
    state = effective_state(submission, amendments, amended_as_of)
    facts = gather(
        submission,
        accounts,
        as_of,
        policy.home_country,
        state.nondisclosure,
        state.withdrawn,
        policy.agencies,
        tuple(linked),
    )

    found = identify_authority(policy, facts)
    rule = found.rule
    facts.authority_code, facts.authority_family = rule.code, rule.family
    facts.authority_basis, facts.matched_text = found.basis, found.matched_text
    facts.wrong_issuer = found.wrong_issuer
    facts.authority_tags, facts.in_force_from = rule.tags, rule.in_force_from
    facts.authority_can_compel = rule.can_compel
    in_force = rule.in_force_from is None or as_of.date() >= rule.in_force_from
    facts.compellable = tuple(
        c for c in submission.data_requested if in_force and c in rule.can_compel
    )
    facts.beyond_authority = tuple(
        c for c in submission.data_requested if c not in facts.compellable
    )
    facts.gag = _gag(policy, facts, rule)

    factors: list[RiskFactor] = []
    for factor in policy.factors:
        evidence = factor.when.evaluate(facts)
        if evidence is None:
            continue
        text = facts.without_personal_data(
            factor.evidence.format(
                evidence=evidence or factor.meaning,
                authority=rule.code,
                matched_text=found.matched_text or "no citation",
            )
        )
        facts.factors[factor.code] = text
        factors.append(RiskFactor(code=factor.code, weight=factor.weight, evidence=text))

    floor: LevelFloor | None = None
    for candidate in policy.floors:
        if candidate.when.evaluate(facts) is not None and (
            floor is None
            or LEVEL_ORDER.index(candidate.at_least) > LEVEL_ORDER.index(floor.at_least)
        ):
            floor = candidate
    score = policy.capped(sum(f.weight for f in factors))
    if floor is not None:
        score = max(score, policy.thresholds[floor.at_least])
    level: RiskLevel = policy.level_for(score)

    action_rule = next((a for a in policy.actions if a.when.evaluate(facts) is not None), None)
    action: RecommendedAction = action_rule.action if action_rule else policy.default_action

    verdict = Verdict(
        policy_version=policy.version,
        authority=Authority(
            code=rule.code,
            family=rule.family,
            jurisdiction=rule.jurisdiction,
            matched_text=(
                facts.without_personal_data(found.matched_text) if found.matched_text else None
            ),
            confidence=found.confidence,
        ),
        data_scope=DataScope(
            requested=tuple(submission.data_requested),
            compellable=facts.compellable,
            beyond_authority=facts.beyond_authority,
        ),
        risk=Risk(level=level, score=score, factors=tuple(factors)),
        recommended_action=action,
        targets=tuple(
            TargetMatch(
                handle=t.target.handle,
                platform_user_id=(
                    t.account.platform_user_id
                    if t.account is not None and t.account.platform_user_id
                    else t.target.platform_user_id
                ),
                found=t.account is not None,
            )
            for t in facts.targets
        ),
    )
    return Explanation(verdict, rule, found.reason, floor, action_rule)


def classify(
    submission: Submission,
    accounts: AccountDirectory,
    policy: Policy,
    as_of: datetime,
    amendments: Sequence[Amendment] = (),
    linked: Sequence[RequestLink] = (),
) -> Verdict:
    """Classify one request as of ``as_of`` (normally ``submission.received_at``),
    taking into account the amendments the caller has already accepted and the earlier
    requests it is linked to."""
    return explain(submission, accounts, policy, as_of, amendments, linked).verdict
