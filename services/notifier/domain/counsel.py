"""What legal staff decided about a request, as far as its notices go. Pure: no I/O.

``counsel_state(actions)`` folds the request's counsel events, in the order they were
recorded (one partition of ``docket.request.counsel``), into what ``decide_notice``
reads: whether the requester was verified (or found to be a fraud), counsel's override
of the verdict, the holds counsel ended and the notices it withheld for good.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TypeVar

from shared.accounts import Account
from shared.counsel import AuthorityOverride, CounselTarget, HoldKind, VerificationOutcome
from shared.events import (
    CounselAction,
    HoldEnded,
    NoticeWithheldForGood,
    RequesterVerificationRecorded,
    VerdictOverridden,
)
from shared.verdict import Authority, RecommendedAction, RiskLevel, TargetMatch, Verdict

T = TypeVar("T")


@dataclass(frozen=True)
class CounselState:
    #: The latest verification of the requester, if any.
    verification: VerificationOutcome | None = None
    authority: AuthorityOverride | None = None
    risk_level: RiskLevel | None = None
    recommended_action: RecommendedAction | None = None
    #: Holds ended, each for one account (or every account: None).
    ended_holds: tuple[tuple[HoldKind, CounselTarget | None], ...] = ()
    #: Notices withheld for good, each of one account (or every account: None).
    withheld: tuple[CounselTarget | None, ...] = ()

    @property
    def requester_verified(self) -> bool:
        return self.verification is VerificationOutcome.VERIFIED

    @property
    def suspected_fraud(self) -> bool:
        return self.verification is VerificationOutcome.FAILED

    @property
    def overrides_authority(self) -> bool:
        return self.authority is not None

    def applied_to(self, verdict: Verdict) -> Verdict:
        """The verdict as counsel corrected it: each overridden field supersedes the
        classifier's (whichever verdict of the request is the latest)."""
        update: dict[str, object] = {}
        if self.authority is not None:
            update["authority"] = Authority(
                code=self.authority.code,
                family=self.authority.family,
                jurisdiction=self.authority.jurisdiction,
                confidence=1.0,
            )
        if self.risk_level is not None:
            update["risk"] = verdict.risk.model_copy(update={"level": self.risk_level})
        if self.recommended_action is not None:
            update["recommended_action"] = self.recommended_action
        return verdict.model_copy(update=update) if update else verdict

    def hold_ended(
        self, hold: HoldKind, target: TargetMatch | None, account: Account | None
    ) -> bool:
        return any(
            kind is hold and aimed_at(spec, target, account) for kind, spec in self.ended_holds
        )

    def withholds(self, target: TargetMatch | None, account: Account | None) -> bool:
        return any(aimed_at(spec, target, account) for spec in self.withheld)


NO_COUNSEL = CounselState()


def aimed_at(
    spec: CounselTarget | None, target: TargetMatch | None, account: Account | None
) -> bool:
    """Whether a decision about ``spec`` (None: every account) is about this target."""
    if spec is None:
        return True
    if target is not None and spec.names(target.handle, target.platform_user_id):
        return True
    return account is not None and spec.names(account.handle, account.platform_user_id)


def counsel_state(actions: Iterable[CounselAction]) -> CounselState:
    """Counsel's decisions folded in the order they were recorded; a later override of
    a field replaces an earlier one, a later verification the earlier one."""
    state = NO_COUNSEL
    for action in actions:
        if isinstance(action, RequesterVerificationRecorded):
            state = replace(state, verification=action.outcome)
        elif isinstance(action, VerdictOverridden):
            state = replace(
                state,
                authority=_newer(action.authority, state.authority),
                risk_level=_newer(action.risk_level, state.risk_level),
                recommended_action=_newer(action.recommended_action, state.recommended_action),
            )
        elif isinstance(action, HoldEnded):
            state = replace(state, ended_holds=(*state.ended_holds, (action.hold, action.target)))
        elif isinstance(action, NoticeWithheldForGood):
            state = replace(state, withheld=(*state.withheld, action.target))
    return state


def _newer(given: T | None, before: T | None) -> T | None:
    return before if given is None else given
