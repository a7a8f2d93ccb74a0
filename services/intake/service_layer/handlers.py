"""Intake's command handlers: the order of work (load, decide, persist, publish, commit)
for each command. The HTTP routes only parse, authorise and call one of these.

``handle(command, uow, publish)``: ``uow`` is the unit of work over schema ``intake``,
``publish(event, event_id)`` sends one event and returns once Kafka acknowledged it. The
unit is committed only after that, so a decision is recorded exactly when its event is
on the topic (a failed publish leaves nothing behind).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.intake.domain.commands import (
    CounselCommand,
    CounselRecord,
    CounselRecorded,
    CounselResult,
    NotFound,
    Refused,
)
from services.intake.domain.idempotency import fingerprint
from services.intake.domain.lifecycle import counsel_conflict
from services.intake.service_layer.unit_of_work import IntakeUnitOfWork
from shared.events import EventData
from shared.kafka import derived_event_id

PublishEvent = Callable[[EventData, str], Awaitable[None]]


async def handle(
    command: CounselCommand, uow: IntakeUnitOfWork, publish: PublishEvent
) -> CounselResult:
    """Record one decision of legal staff about a request.

    The same decision sent again while it is still the request's latest (a client's
    retry) answers the event already recorded; anything else is a new event, whose id
    is derived from the request, the decision and the event before it (so assigning A,
    then B, then A again records three assignments)."""
    event = command.event()
    decided = f"{event.EVENT_TYPE}:{fingerprint(command.decision)}"
    async with uow:
        request = await uow.lock_request(command.request_id)
        if request is None or not request.owner.visible_to(command.principal, command.reach):
            return NotFound()
        last = await uow.last_counsel_action(command.request_id)
        if last is not None and last.fingerprint == decided:
            return CounselRecorded(event_id=last.event_id, replayed=True)
        reason = counsel_conflict(request.state, command.decision)
        if reason is not None:
            return Refused(reason)
        event_id = derived_event_id(
            "counsel", command.request_id, decided, last.event_id if last else "first"
        )
        await uow.add_counsel_action(
            CounselRecord(
                event_id=event_id,
                request_id=command.request_id,
                kind=event.EVENT_TYPE,
                fingerprint=decided,
                author=command.author,
                recorded_at=command.recorded_at,
            )
        )
        await publish(event, event_id)
        await uow.commit()
    return CounselRecorded(event_id=event_id, replayed=False)
