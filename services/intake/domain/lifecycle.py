"""What may happen to a request after it was accepted. Pure: no I/O.

Rules (a broken one is answered ``409 Conflict`` with the sentence returned here):

* a request is withdrawn once; a second withdrawal is refused;
* a request with a final decision (``disclosed``, ``partially_disclosed``, ``no_data``,
  ``rejected``) cannot be withdrawn: the withdrawal cannot change what was answered;
* non-disclosure orders may still be added, extended or lifted after a withdrawal or a
  final decision (a pending user notice depends on them), but lifting needs an order;
* a decision on a withdrawn request is refused;
* after a final decision no other decision is accepted; ``challenged`` is not final, so a
  challenged request gets its final outcome later (a second ``challenged`` is refused);
* a decision discloses only categories the request asked for;
* counsel decides production only of categories the request asked for, and neither
  production nor a notice's hold once the request is withdrawn (nothing is pending).

Replaying a change that was already accepted (the same body) is not a conflict: it
answers with the change already recorded and writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from shared.amendments import Amendment
from shared.counsel import CounselDecision, HoldEnd, ProductionDecision
from shared.events import Outcome
from shared.submission import DataCategory

FINAL_OUTCOMES = frozenset(
    {Outcome.DISCLOSED, Outcome.PARTIALLY_DISCLOSED, Outcome.NO_DATA, Outcome.REJECTED}
)


@dataclass(frozen=True)
class RequestState:
    data_requested: frozenset[DataCategory]
    nondisclosure_ordered: bool
    withdrawn_at: datetime | None = None
    outcome: Outcome | None = None

    @property
    def finally_decided(self) -> bool:
        return self.outcome in FINAL_OUTCOMES


def amendment_conflict(state: RequestState, amendment: Amendment) -> str | None:
    if amendment.withdrawn:
        if state.withdrawn_at is not None:
            return "the request is already withdrawn"
        if state.finally_decided:
            return (
                f"the request was already decided ({state.outcome}); "
                "a withdrawal cannot change that"
            )
    lifts = amendment.nondisclosure is not None and not amendment.nondisclosure.ordered
    if lifts and not state.nondisclosure_ordered:
        return "the request has no non-disclosure order to lift"
    return None


def after_amendment(state: RequestState, amendment: Amendment) -> RequestState:
    return replace(
        state,
        nondisclosure_ordered=(
            state.nondisclosure_ordered
            if amendment.nondisclosure is None
            else amendment.nondisclosure.ordered
        ),
        withdrawn_at=amendment.effective_at if amendment.withdrawn else state.withdrawn_at,
    )


def decision_conflict(
    state: RequestState, outcome: Outcome, data_disclosed: Iterable[DataCategory]
) -> str | None:
    if state.withdrawn_at is not None:
        return "the request was withdrawn; there is nothing to decide"
    if state.finally_decided:
        return f"the request was already decided ({state.outcome})"
    if state.outcome is Outcome.CHALLENGED and outcome is Outcome.CHALLENGED:
        return "the request is already being challenged"
    beyond = sorted(set(data_disclosed) - state.data_requested)
    if beyond:
        return "data_disclosed names categories the request did not ask for: " + ", ".join(
            category.value for category in beyond
        )
    return None


def after_decision(state: RequestState, outcome: Outcome) -> RequestState:
    return replace(state, outcome=outcome)


def counsel_conflict(state: RequestState, decision: CounselDecision) -> str | None:
    """Why a decision of counsel cannot apply to the request as it stands, or None."""
    if isinstance(decision, ProductionDecision | HoldEnd) and state.withdrawn_at is not None:
        return "the request was withdrawn; nothing is produced and no notice is pending"
    if isinstance(decision, ProductionDecision):
        beyond = sorted({d.category for d in decision.decisions} - state.data_requested)
        if beyond:
            return "decisions name categories the request did not ask for: " + ", ".join(
                category.value for category in beyond
            )
    return None
