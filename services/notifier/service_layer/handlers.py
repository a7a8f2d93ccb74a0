"""The notifier's command handlers: the order of work for each thing it is told.

``handle(command, uow, publish)`` takes one decision of counsel (a ``CounselAction``
read from ``docket.request.counsel``), keeps it with the request, re-decides every
notice of the request that has not gone out (with the verdict, every amendment and
every decision of counsel) and publishes the new decisions. A released notice is then
sent by the dispatcher, which decides it once more right before it leaves: no decision
of counsel can send a notice that the rules, a gag above all, still hold.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from opentelemetry.propagate import inject
from pydantic import BaseModel, ConfigDict

from services.notifier.planning import TargetPlan, plan_record
from services.notifier.service_layer.unit_of_work import NotifierUnitOfWork
from services.notifier.store import RequestRecord
from shared.accounts import AccountDirectory
from shared.events import CounselAction, EventData
from shared.kafka import derived_event_id

PublishEvent = Callable[[EventData, str], Awaitable[None]]


class ApplyCounsel(BaseModel):
    """Fold counsel's decision ``action`` (event ``event_id``) into the request's notices,
    deciding them as of ``as_of``."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    action: CounselAction
    as_of: datetime


async def handle(
    command: ApplyCounsel,
    uow: NotifierUnitOfWork,
    publish: PublishEvent,
    *,
    accounts: AccountDirectory,
) -> list[TargetPlan]:
    async with uow:
        await uow.lock_request(command.action.request_id)
        await uow.add_counsel_action(command.event_id, command.action)
        record = await uow.lock_request(command.action.request_id)
        plans = await replan(uow, record, accounts, command.as_of)
        await uow.commit()
    await publish_decisions(plans, command.event_id, publish)
    return plans


async def replan(
    uow: NotifierUnitOfWork, record: RequestRecord, accounts: AccountDirectory, as_of: datetime
) -> list[TargetPlan]:
    """Re-decide every notice of ``record`` as of ``as_of`` and store the plans, with the
    current trace, so that a send continues it (nothing before the verdict arrived)."""
    plans = plan_record(record, accounts, as_of)
    carrier: dict[str, str] = {}
    inject(carrier)
    for plan in plans:
        await uow.apply_plan(plan.notice, carrier.get("traceparent"))
    return plans


async def publish_decisions(
    plans: Sequence[TargetPlan], cause_id: str, publish: PublishEvent
) -> None:
    """The decision event of each plan, under an id derived from the event that caused
    it (a redelivered cause republishes the same events, absorbed as duplicates)."""
    for plan in plans:
        if plan.event is not None:
            await publish(
                plan.event,
                derived_event_id(
                    "notice-decision", cause_id, plan.notice.account_key, plan.event.EVENT_TYPE
                ),
            )
