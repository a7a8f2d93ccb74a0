"""The shadow verdict's differences, in words."""

from __future__ import annotations

from services.classifier.shadow import differences
from shared.submission import DataCategory
from shared.verdict import (
    Authority,
    DataScope,
    RecommendedAction,
    Risk,
    RiskFactor,
    RiskLevel,
    Verdict,
)


def _verdict(
    *,
    version: str = "sha256:active",
    code: str = "SCA_2703D_ORDER",
    level: RiskLevel = RiskLevel.HIGH,
    score: int = 40,
    factors: tuple[str, ...] = ("NDO_PRESENT", "NDO_INDEFINITE"),
    action: RecommendedAction = RecommendedAction.PUSH_BACK,
    compellable: tuple[DataCategory, ...] = (DataCategory.SUBSCRIBER_IDENTITY,),
) -> Verdict:
    return Verdict(
        policy_version=version,
        authority=Authority(code=code, family="court_order", jurisdiction="US", confidence=0.9),
        data_scope=DataScope(
            requested=(DataCategory.SUBSCRIBER_IDENTITY, DataCategory.CONTENT),
            compellable=compellable,
        ),
        risk=Risk(
            level=level,
            score=score,
            factors=tuple(RiskFactor(code=c, weight=0, evidence="e") for c in factors),
        ),
        recommended_action=action,
    )


def test_same_verdict_under_another_policy_version_has_no_differences() -> None:
    assert differences(_verdict(), _verdict(version="sha256:candidate")) == ()


def test_every_difference_is_one_line() -> None:
    candidate = _verdict(
        version="sha256:candidate",
        code="SCA_2703B_SUBPOENA",
        level=RiskLevel.CRITICAL,
        score=75,
        factors=("NDO_PRESENT", "UNMASKING_CRITIC"),
        action=RecommendedAction.CHALLENGE,
        compellable=(),
    )
    assert differences(_verdict(), candidate) == (
        "authority.code: SCA_2703D_ORDER -> SCA_2703B_SUBPOENA",
        "data_scope.compellable: [subscriber_identity] -> []",
        "risk.level: high -> critical",
        "risk.score: 40 -> 75",
        "factors +UNMASKING_CRITIC -NDO_INDEFINITE",
        "recommended_action: push_back -> challenge",
    )


def test_factors_only_added() -> None:
    candidate = _verdict(factors=("NDO_PRESENT", "NDO_INDEFINITE", "DRAGNET"))
    assert differences(_verdict(), candidate) == ("factors +DRAGNET",)
