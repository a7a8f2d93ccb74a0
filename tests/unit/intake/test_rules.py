"""The pure rules of intake: request lifecycle (409s) and idempotency."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.intake.domain.idempotency import (
    Conflict,
    KeyReused,
    New,
    Prior,
    Replay,
    resolve_submission,
)
from services.intake.domain.lifecycle import (
    RequestState,
    after_amendment,
    after_decision,
    amendment_conflict,
    decision_conflict,
)
from shared.amendments import Amendment
from shared.events import Outcome
from shared.submission import DataCategory, Nondisclosure

AT = datetime(2017, 3, 20, tzinfo=UTC)
FRESH = RequestState(
    data_requested=frozenset({DataCategory.IP_LOGS, DataCategory.CONTACT_INFO}),
    nondisclosure_ordered=False,
)
WITHDRAW = Amendment(withdrawn=True, effective_at=AT)
GAG = Amendment(nondisclosure=Nondisclosure(ordered=True), effective_at=AT)
LIFT = Amendment(nondisclosure=Nondisclosure(ordered=False), effective_at=AT)


def test_withdrawal_once() -> None:
    assert amendment_conflict(FRESH, WITHDRAW) is None
    withdrawn = after_amendment(FRESH, WITHDRAW)
    assert amendment_conflict(withdrawn, WITHDRAW) == "the request is already withdrawn"


def test_gag_may_change_after_withdrawal_and_final_decision() -> None:
    withdrawn = after_amendment(FRESH, WITHDRAW)
    assert amendment_conflict(withdrawn, GAG) is None
    decided = after_decision(FRESH, Outcome.NO_DATA)
    assert amendment_conflict(decided, GAG) is None
    assert amendment_conflict(after_amendment(decided, GAG), LIFT) is None


def test_lifting_needs_an_order() -> None:
    assert amendment_conflict(FRESH, LIFT) == "the request has no non-disclosure order to lift"


@pytest.mark.parametrize("outcome", [Outcome.DISCLOSED, Outcome.NO_DATA, Outcome.REJECTED])
def test_no_withdrawal_after_final_decision(outcome: Outcome) -> None:
    reason = amendment_conflict(after_decision(FRESH, outcome), WITHDRAW)
    assert reason is not None
    assert "cannot change" in reason


def test_decisions() -> None:
    assert decision_conflict(FRESH, Outcome.DISCLOSED, [DataCategory.IP_LOGS]) is None
    withdrawn = after_amendment(FRESH, WITHDRAW)
    assert decision_conflict(withdrawn, Outcome.NO_DATA, []) is not None
    final = after_decision(FRESH, Outcome.REJECTED)
    assert decision_conflict(final, Outcome.DISCLOSED, [DataCategory.IP_LOGS]) is not None
    challenged = after_decision(FRESH, Outcome.CHALLENGED)
    assert decision_conflict(challenged, Outcome.REJECTED, []) is None
    assert decision_conflict(challenged, Outcome.CHALLENGED, []) is not None
    beyond = decision_conflict(FRESH, Outcome.DISCLOSED, [DataCategory.CONTENT])
    assert beyond is not None
    assert "content" in beyond


def test_idempotency_resolution() -> None:
    mine = Prior("r1", "f1")
    assert resolve_submission("f1", None, None) == New()
    assert resolve_submission("f1", mine, None) == Replay("r1")
    assert resolve_submission("f1", None, mine) == Replay("r1")
    assert isinstance(resolve_submission("f2", mine, None), KeyReused)
    assert isinstance(resolve_submission("f2", mine, mine), KeyReused)
    assert isinstance(resolve_submission("f2", None, mine), Conflict)
