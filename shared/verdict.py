"""The classifier's verdict on a request: which legal authority it really invokes, what
data that authority can compel, how risky the request is and what to do about it.

Pure models, shared by the classifier (which produces them), the notifier and audit.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.submission import DataCategory


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class RecommendedAction(StrEnum):
    COMPLY = "comply"
    NARROW = "narrow"
    REQUEST_CLARIFICATION = "request_clarification"
    PUSH_BACK = "push_back"
    CHALLENGE = "challenge"
    ESCALATE_TO_COUNSEL = "escalate_to_counsel"


class Authority(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    family: str
    jurisdiction: str
    matched_text: str | None = None
    confidence: float = Field(ge=0.0, le=1.0)


class DataScope(BaseModel):
    model_config = ConfigDict(frozen=True)

    requested: tuple[DataCategory, ...] = ()
    compellable: tuple[DataCategory, ...] = ()
    beyond_authority: tuple[DataCategory, ...] = ()


class RiskFactor(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    weight: int
    evidence: str


class Risk(BaseModel):
    model_config = ConfigDict(frozen=True)

    level: RiskLevel
    score: int
    factors: tuple[RiskFactor, ...] = ()


class TargetMatch(BaseModel):
    """A target as classified: did the account directory know it?"""

    model_config = ConfigDict(frozen=True)

    handle: str | None = None
    platform_user_id: str | None = None
    found: bool


class Verdict(BaseModel):
    """What the pure classification function returns for one request."""

    model_config = ConfigDict(frozen=True)

    policy_version: str
    authority: Authority
    data_scope: DataScope
    risk: Risk
    recommended_action: RecommendedAction
    targets: tuple[TargetMatch, ...] = ()
