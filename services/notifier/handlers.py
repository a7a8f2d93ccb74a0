"""Notifier entry points: a received request, a verdict, an amendment or a decision of
counsel in, notice decisions out (counsel's through ``service_layer.handlers``).

The verdict (``RequestClassified`` v3) names targets only by their place in the
submission, so the notifier keeps the submission from ``RequestReceived``; whichever
of the two arrives second (they are on different topics) lets the notices be planned.

Each handler is idempotent: it locks the request's row, folds the event into what the
notifier knows, re-plans every notice that has not gone out, and publishes the decision
events under deterministic ids (a redelivered record republishes the same events,
which the audit log absorbs as duplicates).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from opentelemetry.trace import Tracer

from services.notifier.planning import TargetPlan
from services.notifier.service_layer.handlers import (
    ApplyCounsel,
    handle,
    publish_decisions,
    replan,
)
from services.notifier.service_layer.unit_of_work import PostgresUnitOfWork
from services.notifier.store import NotifierStore
from shared.accounts import AccountDirectory
from shared.events import (
    CounselAction,
    Envelope,
    EventData,
    HoldEnded,
    NoticeWithheldForGood,
    RequestAmended,
    RequestClassified,
    RequesterVerificationRecorded,
    RequestReceived,
    VerdictOverridden,
)
from shared.kafka import EventPublisher, RecordInfo

log = structlog.get_logger("docket.notifier")

#: Counsel's decisions a notice depends on.
NOTICE_DECISIONS = (
    RequesterVerificationRecorded | VerdictOverridden | HoldEnded | NoticeWithheldForGood
)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class DecisionHandler:
    """The Kafka entry point: a received request, a verdict, an amendment or a decision
    of counsel in, notice decisions out."""

    def __init__(
        self,
        store: NotifierStore,
        accounts: AccountDirectory,
        publisher: EventPublisher,
        tracer: Tracer,
        clock: Clock = utc_now,
        on_planned: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._accounts = accounts
        self._publisher = publisher
        self._tracer = tracer
        self._clock = clock
        self._on_planned = on_planned

    async def _publish(self, event: EventData, event_id: str) -> None:
        await self._publisher.publish(event, event_id=event_id)

    async def __call__(self, envelope: Envelope, data: EventData, _info: RecordInfo) -> None:
        if not isinstance(
            data, RequestReceived | RequestClassified | RequestAmended | NOTICE_DECISIONS
        ):
            return  # assignments, comments, production: nothing a notice depends on
        with self._tracer.start_as_current_span("decide") as span:
            if isinstance(data, CounselAction):
                command = ApplyCounsel(event_id=envelope.id, action=data, as_of=self._clock())
                plans = await handle(
                    command, PostgresUnitOfWork(self._store), self._publish, accounts=self._accounts
                )
            else:
                plans = await self._replan(envelope, data)
                await publish_decisions(plans, envelope.id, self._publish)
            span.set_attribute("docket.notice.targets", len(plans))
        for plan in plans:
            log.info(
                "notice_decided",
                decision=plan.ruling.decision.value,
                reason=plan.ruling.reason,
                notice_id=plan.notice.notice_id,
            )
        self._on_planned()

    async def _replan(
        self, envelope: Envelope, data: RequestReceived | RequestClassified | RequestAmended
    ) -> list[TargetPlan]:
        async with PostgresUnitOfWork(self._store) as uow:
            await uow.lock_request(data.request_id)
            if isinstance(data, RequestReceived):
                if not await self._store.save_submission(uow.connection, data):
                    return []  # already kept: a redelivery
            elif isinstance(data, RequestClassified):
                if not await self._store.save_verdict(uow.connection, data):
                    return []  # a later verdict is already in force
            else:
                await self._store.add_amendment(uow.connection, envelope.id, data)
            record = await uow.lock_request(data.request_id)
            plans = await replan(uow, record, self._accounts, self._clock())
            await uow.commit()
            return plans
