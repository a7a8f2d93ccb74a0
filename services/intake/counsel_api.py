"""HTTP routes of counsel's commands (legal staff only, ``shared.auth.policy``): each
records one decision about a request as one event on ``docket.request.counsel``.

The routes parse the body (the decision, ``shared.counsel``), take the author from the
API key (never from the body), and call ``service_layer.handlers.handle``.

| route (under ``/v1/requests/{request_id}/``) | body | event |
|---|---|---|
| ``requester-verification`` | ``RequesterVerification`` | ``RequesterVerificationRecorded`` |
| ``verdict-override`` | ``VerdictOverride`` | ``VerdictOverridden`` |
| ``holds/end`` | ``HoldEnd`` | ``HoldEnded`` |
| ``holds/withhold`` | ``NoticeWithhold`` | ``NoticeWithheldForGood`` |
| ``production`` | ``ProductionDecision`` | ``ProductionDecided`` |
| ``assignment`` | ``Assignment`` | ``RequestAssigned`` |
| ``comments`` | ``Comment`` | ``CommentAdded`` |
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Body, Depends, FastAPI, Path, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from services.intake.api import Intake
from services.intake.domain.commands import CounselCommand, NotFound, Refused
from services.intake.models import ChangeAccepted
from services.intake.service_layer.handlers import handle
from services.intake.service_layer.unit_of_work import IntakeUnitOfWork
from shared.auth.guard import Caller
from shared.counsel import (
    Assignment,
    Comment,
    CounselDecision,
    HoldEnd,
    NoticeWithhold,
    ProductionDecision,
    RequesterVerification,
    VerdictOverride,
)
from shared.events import EventData
from shared.problems import problem_docs, problem_response

log = structlog.get_logger("docket.intake.counsel")


@dataclass(frozen=True)
class Counsel:
    """What counsel's routes use, kept as ``app.state.counsel`` by the composition root."""

    intake: Intake
    unit_of_work: Callable[[], IntakeUnitOfWork]


def counsel(request: Request) -> Counsel:
    context: Counsel = request.app.state.counsel
    return context


Context = Annotated[Counsel, Depends(counsel)]
RequestId = Annotated[uuid.UUID, Path(description="The request_id intake answered")]
router = APIRouter(prefix="/v1/requests/{request_id}", tags=["counsel"])
ANSWERS = problem_docs(401, 403, 404, 409, 413, 415, 422, 429, 503)


def install_counsel_routes(app: FastAPI, context: Counsel) -> None:
    app.state.counsel = context
    app.include_router(router)


async def _record(
    request_id: uuid.UUID, decision: CounselDecision, caller: Caller, context: Counsel
) -> Response:
    rid = str(request_id)
    structlog.contextvars.bind_contextvars(request_id=rid)
    command = CounselCommand(
        request_id=rid,
        author=caller.principal.client_id,
        principal=caller.principal,
        reach=caller.reach,
        decision=decision,
        recorded_at=datetime.now(UTC),
    )

    async def publish(event: EventData, event_id: str) -> None:
        await context.intake.publishing(event, event_id)()

    result = await handle(command, context.unit_of_work(), publish)
    if isinstance(result, NotFound):
        return problem_response(404, f"no request {rid}")
    if isinstance(result, Refused):
        return problem_response(409, result.reason)
    log.info(
        "counsel_decision_recorded",
        event_id=result.event_id,
        kind=type(decision).__name__,
        replayed=result.replayed,
    )
    accepted = ChangeAccepted(
        request_id=rid, event_id=result.event_id, status_url=context.intake.status_url(rid)
    )
    return JSONResponse(accepted.model_dump(), status_code=202)


@router.post(
    "/requester-verification",
    status_code=202,
    response_model=ChangeAccepted,
    summary="Record how the requester was verified (or that verification failed)",
    responses=ANSWERS,
)
async def verify_requester(
    request_id: RequestId,
    body: Annotated[RequesterVerification, Body()],
    caller: Caller,
    context: Context,
) -> Response:
    return await _record(request_id, body, caller, context)


@router.post(
    "/verdict-override",
    status_code=202,
    response_model=ChangeAccepted,
    summary="Override the classifier's authority, risk level or recommended action",
    responses=ANSWERS,
)
async def override_verdict(
    request_id: RequestId,
    body: Annotated[VerdictOverride, Body()],
    caller: Caller,
    context: Context,
) -> Response:
    return await _record(request_id, body, caller, context)


@router.post(
    "/holds/end",
    status_code=202,
    response_model=ChangeAccepted,
    summary="End an emergency, child-safety or counter-productive hold of a notice",
    responses=ANSWERS,
)
async def end_hold(
    request_id: RequestId, body: Annotated[HoldEnd, Body()], caller: Caller, context: Context
) -> Response:
    return await _record(request_id, body, caller, context)


@router.post(
    "/holds/withhold",
    status_code=202,
    response_model=ChangeAccepted,
    summary="Withhold a notice for good",
    responses=ANSWERS,
)
async def withhold_notice(
    request_id: RequestId, body: Annotated[NoticeWithhold, Body()], caller: Caller, context: Context
) -> Response:
    return await _record(request_id, body, caller, context)


@router.post(
    "/production",
    status_code=202,
    response_model=ChangeAccepted,
    summary="Decide what is produced for an account, per data category",
    responses=ANSWERS,
)
async def decide_production(
    request_id: RequestId,
    body: Annotated[ProductionDecision, Body()],
    caller: Caller,
    context: Context,
) -> Response:
    return await _record(request_id, body, caller, context)


@router.post(
    "/assignment",
    status_code=202,
    response_model=ChangeAccepted,
    summary="Assign the request to a reviewer",
    responses=ANSWERS,
)
async def assign_request(
    request_id: RequestId, body: Annotated[Assignment, Body()], caller: Caller, context: Context
) -> Response:
    return await _record(request_id, body, caller, context)


@router.post(
    "/comments",
    status_code=202,
    response_model=ChangeAccepted,
    summary="Comment on the request",
    responses=ANSWERS,
)
async def comment_on_request(
    request_id: RequestId, body: Annotated[Comment, Body()], caller: Caller, context: Context
) -> Response:
    return await _record(request_id, body, caller, context)
