"""What legal staff decide about a request, as plain values shared by intake (which
records the decisions), the notifier (which re-decides notices on them) and audit
(which folds them into a request's history and the transparency report). Pure: no I/O.

The events that carry them are in ``shared.events`` (``RequesterVerificationRecorded``,
``VerdictOverridden``, ``HoldEnded``, ``NoticeWithheldForGood``, ``ProductionDecided``,
``RequestAssigned``, ``CommentAdded``), all on ``docket.request.counsel``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.submission import ONE_LINE, PROSE, DataCategory, ShortText, UtcDatetime
from shared.verdict import RecommendedAction, RiskLevel


class VerificationMethod(StrEnum):
    """How counsel confirmed who sent the request."""

    #: A call back to a number taken from the agency's published directory (never the
    #: number the request itself gives).
    DIRECTORY_CALLBACK = "directory_callback"
    IN_PERSON = "in_person"
    #: The request came through an agency account of the platform's law-enforcement
    #: portal whose holder was verified when the account was opened.
    PORTAL_ACCOUNT = "portal_account"


class VerificationOutcome(StrEnum):
    VERIFIED = "verified"
    #: The agency does not know the request, or the person: suspected fraud.
    FAILED = "failed"


class HoldKind(StrEnum):
    """The holds counsel may end by a decision of its own (the notify reason codes of
    ``services.notifier.domain.decision.NotifyReason``). A gag, statutory secrecy or an
    unverified requester are never among them: those end only by a written lift, an
    expiry, or a verification."""

    EMERGENCY_DEFER = "EMERGENCY_DEFER"
    CHILD_SAFETY_EXCEPTION = "CHILD_SAFETY_EXCEPTION"
    COUNTERPRODUCTIVE_EXCEPTION = "COUNTERPRODUCTIVE_EXCEPTION"


class ProductionChoice(StrEnum):
    PRODUCE = "produce"
    DO_NOT_PRODUCE = "do_not_produce"
    #: Produced, but less than asked (a shorter period, fewer fields).
    NARROWED = "narrowed"


#: Categories that are the contents of communications (SCA 2703(a)-(b)); the rest are
#: non-content records (subscriber data, logs, metadata).
CONTENT_CATEGORIES = frozenset({DataCategory("content"), DataCategory("direct_messages")})

#: A reason or comment: free text that may name people (never logged; redacted for
#: readers and auditors).
CounselText = Annotated[str, Field(min_length=1, max_length=5_000), PROSE]


class CounselTarget(BaseModel):
    """The account a counsel decision is about, named as the request names it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    handle: ShortText | None = None
    platform_user_id: ShortText | None = None

    @model_validator(mode="after")
    def _names_someone(self) -> CounselTarget:
        if self.handle is None and self.platform_user_id is None:
            raise ValueError("name the account by handle or platform_user_id")
        return self

    def names(self, handle: str | None, platform_user_id: str | None) -> bool:
        """Whether this names the account known by ``handle`` / ``platform_user_id``."""
        if self.platform_user_id is not None and self.platform_user_id == platform_user_id:
            return True
        return self.handle is not None and _bare(self.handle) == _bare(handle or "")


def _bare(handle: str) -> str:
    return handle.strip().lstrip("@").casefold()


class CategoryDecision(BaseModel):
    """What is produced of one data category for one account."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    category: DataCategory
    decision: ProductionChoice
    #: For ``narrowed``: what is produced instead of what was asked.
    narrowed_to: Annotated[str, Field(min_length=1, max_length=1_000), ONE_LINE] | None = None

    @model_validator(mode="after")
    def _narrowed_says_how(self) -> CategoryDecision:
        if (self.decision is ProductionChoice.NARROWED) != (self.narrowed_to is not None):
            raise ValueError("narrowed_to is given exactly when the decision is narrowed")
        return self


class AuthorityOverride(BaseModel):
    """The legal authority counsel finds the request really invokes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{1,80}$")]
    family: Annotated[str, Field(pattern=r"^[a-z][a-z_]{1,40}$")]
    jurisdiction: Annotated[str, Field(min_length=2, max_length=20), ONE_LINE]


# --- what counsel decides (the bodies of intake's counsel routes; each event on
# ``docket.request.counsel`` is one of these with its author and time) ---------------


class DecisionBase(BaseModel):
    """What every decision of counsel shares: a closed shape (unknown fields refused)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class RequesterVerification(DecisionBase):
    """How counsel checked who sent the request, with whom, when, and what came of it."""

    method: VerificationMethod
    #: Who at the agency confirmed or denied it (may name a person).
    contact: ShortText
    contacted_at: UtcDatetime
    outcome: VerificationOutcome
    reason: CounselText


class VerdictOverride(DecisionBase):
    """Counsel's correction of the verdict: every field given supersedes the
    classifier's, for this and every later verdict of the request."""

    authority: AuthorityOverride | None = None
    risk_level: RiskLevel | None = None
    recommended_action: RecommendedAction | None = None
    reason: CounselText

    @model_validator(mode="after")
    def _overrides_something(self) -> VerdictOverride:
        if self.authority is None and self.risk_level is None and self.recommended_action is None:
            raise ValueError("override the authority, the risk level or the recommended action")
        return self


class HoldEnd(DecisionBase):
    """End an emergency, child-safety or counter-productive hold of one account's notice
    (``target``), or of every account's (no ``target``)."""

    hold: HoldKind
    target: CounselTarget | None = None
    reason: CounselText


class NoticeWithhold(DecisionBase):
    """Never send one account's notice (``target``), or any (no ``target``)."""

    target: CounselTarget | None = None
    reason: CounselText


class ProductionDecision(DecisionBase):
    """What is produced for one account, per data category."""

    target: CounselTarget
    decisions: Annotated[tuple[CategoryDecision, ...], Field(min_length=1, max_length=20)]
    reason: CounselText

    @model_validator(mode="after")
    def _each_category_once(self) -> ProductionDecision:
        categories = [d.category for d in self.decisions]
        if len(set(categories)) != len(categories):
            raise ValueError("decisions name a data category twice")
        return self


class Assignment(DecisionBase):
    """Who reviews the request next."""

    assignee: ShortText
    reason: CounselText


class Comment(DecisionBase):
    comment: CounselText


CounselDecision = (
    RequesterVerification
    | VerdictOverride
    | HoldEnd
    | NoticeWithhold
    | ProductionDecision
    | Assignment
    | Comment
)
