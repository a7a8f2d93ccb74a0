"""Notifier entry points: a verdict or an amendment in, notice decisions out.

Each handler is idempotent: it locks the request's row, folds the event into what the
notifier knows, re-plans every notice that has not gone out, and publishes the decision
events under deterministic ids (a redelivered record republishes the same events,
which the audit log absorbs as duplicates).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from opentelemetry.propagate import inject
from opentelemetry.trace import Tracer

from services.notifier.planning import TargetPlan, plan_request
from services.notifier.store import NotifierStore
from shared.accounts import AccountDirectory
from shared.events import Envelope, EventData, RequestAmended, RequestClassified
from shared.kafka import EventPublisher, RecordInfo, derived_event_id

log = structlog.get_logger("docket.notifier")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class DecisionHandler:
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

    async def __call__(self, envelope: Envelope, data: EventData, _info: RecordInfo) -> None:
        if not isinstance(data, RequestClassified | RequestAmended):
            return
        with self._tracer.start_as_current_span("decide") as span:
            plans = await self._replan(envelope, data)
            span.set_attribute("docket.notice.targets", len(plans))
        for plan in plans:
            if plan.event is not None:
                await self._publisher.publish(
                    plan.event,
                    event_id=derived_event_id(
                        "notice-decision",
                        envelope.id,
                        plan.notice.account_key,
                        plan.event.EVENT_TYPE,
                    ),
                )
            log.info(
                "notice_decided",
                decision=plan.ruling.decision.value,
                reason=plan.ruling.reason,
                notice_id=plan.notice.notice_id,
            )
        self._on_planned()

    async def _replan(
        self, envelope: Envelope, data: RequestClassified | RequestAmended
    ) -> list[TargetPlan]:
        now = self._clock()
        async with self._store.pool.acquire() as conn, conn.transaction():
            await self._store.lock_request(conn, data.request_id)
            if isinstance(data, RequestClassified):
                if not await self._store.save_verdict(conn, data):
                    return []  # a later verdict is already in force
            else:
                await self._store.add_amendment(conn, envelope.id, data)
            record = await self._store.lock_request(conn, data.request_id)
            if record.verdict is None:
                return []  # amended before classified: decided when the verdict arrives
            plans = plan_request(record.verdict, record.amendments, self._accounts, now)
            carrier: dict[str, str] = {}
            inject(carrier)
            for plan in plans:
                await self._store.apply_plan(conn, plan.notice, carrier.get("traceparent"))
            return plans
