"""Intake's counsel handler with a fake unit of work and a list as ``publish``: what it
records, publishes and answers, with no broker or database (the same behaviour is
proved on the real stack in ``tests/e2e/test_counsel_life.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

import pytest

from services.intake.domain.commands import (
    CounselCommand,
    CounselRecord,
    CounselRecorded,
    NotFound,
    Refused,
    RequestOwner,
)
from services.intake.domain.lifecycle import RequestState
from services.intake.service_layer.handlers import handle
from services.intake.service_layer.unit_of_work import LockedRequest
from shared.auth.keys import Principal, Role
from shared.auth.policy import Reach
from shared.counsel import (
    Assignment,
    CategoryDecision,
    Comment,
    CounselDecision,
    CounselTarget,
    HoldEnd,
    HoldKind,
    ProductionChoice,
    ProductionDecision,
    RequesterVerification,
    VerificationMethod,
    VerificationOutcome,
)
from shared.events import EventData, HoldEnded, RequestAssigned, RequesterVerificationRecorded
from shared.submission import DataCategory

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LEGAL = Principal("k_legal", "legal-ops", Role.LEGAL)
NATSEC = Principal("k_ns", "natsec-counsel", Role.LEGAL, national_security=True)
REQUESTED = frozenset({DataCategory("subscriber_identity"), DataCategory("ip_logs")})


@dataclass
class FakeUnitOfWork:
    requests: dict[str, LockedRequest]
    actions: list[CounselRecord] = field(default_factory=list)
    committed: list[CounselRecord] = field(default_factory=list)
    _pending: list[CounselRecord] = field(default_factory=list)

    async def __aenter__(self) -> Self:
        self._pending = []
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._pending = []  # whatever was not committed is gone

    async def lock_request(self, request_id: str) -> LockedRequest | None:
        return self.requests.get(request_id)

    async def last_counsel_action(self, request_id: str) -> CounselRecord | None:
        mine = [a for a in self.committed if a.request_id == request_id]
        return mine[-1] if mine else None

    async def add_counsel_action(self, record: CounselRecord) -> None:
        self._pending.append(record)

    async def commit(self) -> None:
        self.committed.extend(self._pending)
        self._pending = []


def _uow(*, national_security: bool = False, withdrawn: bool = False) -> FakeUnitOfWork:
    state = RequestState(
        data_requested=REQUESTED,
        nondisclosure_ordered=False,
        withdrawn_at=NOW if withdrawn else None,
    )
    owner = RequestOwner("Some Agency", national_security)
    return FakeUnitOfWork({"r1": LockedRequest(owner, state)})


def _command(decision: CounselDecision, principal: Principal = LEGAL) -> CounselCommand:
    return CounselCommand(
        request_id="r1",
        author=principal.client_id,
        principal=principal,
        reach=Reach.ANY,
        decision=decision,
        recorded_at=NOW,
    )


class Published(list[tuple[EventData, str]]):
    async def __call__(self, event: EventData, event_id: str) -> None:
        self.append((event, event_id))


VERIFIED = RequesterVerification(
    method=VerificationMethod.DIRECTORY_CALLBACK,
    contact="duty officer",
    contacted_at=NOW,
    outcome=VerificationOutcome.VERIFIED,
    reason="called the published number",
)


async def test_a_decision_becomes_one_event_with_its_author_and_is_recorded() -> None:
    uow, published = _uow(), Published()
    result = await handle(_command(VERIFIED), uow, published)
    assert isinstance(result, CounselRecorded)
    assert not result.replayed
    [(event, event_id)] = published
    assert isinstance(event, RequesterVerificationRecorded)
    assert (event.author, event.outcome, event.request_id) == ("legal-ops", "verified", "r1")
    assert event_id == result.event_id
    assert [a.event_id for a in uow.committed] == [event_id]
    assert uow.committed[0].kind == RequesterVerificationRecorded.EVENT_TYPE


async def test_a_retry_of_the_latest_decision_answers_it_again_without_an_event() -> None:
    uow, published = _uow(), Published()
    first = await handle(_command(VERIFIED), uow, published)
    again = await handle(_command(VERIFIED), uow, published)
    assert isinstance(first, CounselRecorded)
    assert isinstance(again, CounselRecorded)
    assert (again.event_id, again.replayed) == (first.event_id, True)
    assert len(published) == 1
    assert len(uow.committed) == 1


async def test_the_same_decision_after_another_one_is_a_new_event() -> None:
    uow, published = _uow(), Published()
    to_a = Assignment(assignee="alice", reason="first look")
    to_b = Assignment(assignee="bob", reason="alice is away")
    for decision in (to_a, to_b, to_a):
        assert isinstance(await handle(_command(decision), uow, published), CounselRecorded)
    assert [e.assignee for e, _ in published if isinstance(e, RequestAssigned)] == [
        "alice",
        "bob",
        "alice",
    ]
    assert len({event_id for _, event_id in published}) == 3


async def test_a_request_the_key_may_not_see_is_unknown() -> None:
    published = Published()
    assert await handle(_command(VERIFIED), _uow(national_security=True), published) == NotFound()
    missing = _command(VERIFIED).model_copy(update={"request_id": "r2"})
    assert await handle(missing, _uow(), published) == NotFound()
    assert not published
    seen = await handle(_command(VERIFIED, NATSEC), _uow(national_security=True), published)
    assert isinstance(seen, CounselRecorded)


async def test_production_of_a_category_not_asked_for_is_refused() -> None:
    uow, published = _uow(), Published()
    decision = ProductionDecision(
        target=CounselTarget(handle="@a"),
        decisions=(
            CategoryDecision(category=DataCategory("content"), decision=ProductionChoice.PRODUCE),
        ),
        reason="r",
    )
    result = await handle(_command(decision), uow, published)
    assert isinstance(result, Refused)
    assert "content" in result.reason
    assert not published
    assert not uow.committed


async def test_after_a_withdrawal_no_hold_is_ended_but_a_comment_is_kept() -> None:
    published = Published()
    end = HoldEnd(hold=HoldKind.EMERGENCY_DEFER, reason="over")
    assert isinstance(await handle(_command(end), _uow(withdrawn=True), published), Refused)
    comment = Comment(comment="agency withdrew by phone")
    assert isinstance(
        await handle(_command(comment), _uow(withdrawn=True), published), CounselRecorded
    )
    assert [type(e).__name__ for e, _ in published] == ["CommentAdded"]


async def test_nothing_is_recorded_when_the_publish_fails() -> None:
    uow = _uow()

    async def broker_down(_event: EventData, _event_id: str) -> None:
        raise ConnectionError("broker down")

    with pytest.raises(ConnectionError):
        await handle(_command(HoldEnd(hold=HoldKind.EMERGENCY_DEFER, reason="r")), uow, broker_down)
    assert not uow.committed
    published = Published()
    await handle(_command(HoldEnd(hold=HoldKind.EMERGENCY_DEFER, reason="r")), uow, published)
    assert isinstance(published[0][0], HoldEnded)
