"""HTTP routes of intake: the only way requests, amendments and decisions enter Docket."""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Body, Depends, FastAPI, Header, Path, Request
from fastapi.responses import JSONResponse
from opentelemetry.trace import Tracer
from starlette import types as asgi
from starlette.datastructures import Headers
from starlette.responses import Response

from services.intake.domain.commands import (
    Change,
    ChangeResult,
    NewRequest,
    NotFound,
    Publish,
    Refused,
    RequestOwner,
)
from services.intake.domain.findings import document_findings
from services.intake.domain.idempotency import Conflict, KeyReused, Replay, fingerprint
from services.intake.domain.lifecycle import (
    after_amendment,
    after_decision,
    amendment_conflict,
    decision_conflict,
)
from services.intake.models import (
    Accepted,
    AmendmentBody,
    ChangeAccepted,
    DecisionBody,
    new_request_id,
)
from services.intake.ports import Repository
from shared.amendments import Amendment
from shared.auth.guard import Caller
from shared.auth.policy import Reach, is_national_security
from shared.events import DecisionRecorded, EventData, RequestAmended, RequestReceived
from shared.kafka import EventPublisher, derived_event_id
from shared.problems import FieldError, invalid, problem_doc, problem_docs, problem_response
from shared.submission import Submission

log = structlog.get_logger("docket.intake")

MAX_BODY_BYTES = 1024 * 1024


class BodyLimits:
    """413 over 1 MiB and 415 for anything but JSON, before any parsing. A plain ASGI
    middleware: it reads the body once (stopping as soon as it is too large) and hands
    it on, without the task and stream per call of Starlette's ``BaseHTTPMiddleware``."""

    def __init__(self, app: asgi.ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            await _too_large()(scope, receive, send)
            return
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json" and not media_type.endswith("+json"):
            unsupported = problem_response(415, "send the body as application/json")
            await unsupported(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                await _too_large()(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> asgi.Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _too_large() -> JSONResponse:
    return problem_response(413, f"the body exceeds {MAX_BODY_BYTES} bytes")


@dataclass(frozen=True)
class Intake:
    """What intake's routes use, kept as ``app.state.intake`` by the composition root."""

    repository: Repository
    publisher: EventPublisher
    audit_base_url: str
    publish_timeout_s: float
    tracer: Tracer

    def publishing(self, data: EventData, event_id: str) -> Publish:
        async def publish() -> None:
            await asyncio.wait_for(
                self.publisher.publish(data, event_id=event_id), timeout=self.publish_timeout_s
            )

        return publish

    def status_url(self, request_id: str) -> str:
        return f"{self.audit_base_url}/v1/requests/{request_id}"


def intake(request: Request) -> Intake:
    context: Intake = request.app.state.intake
    return context


#: What every ``202`` carries besides its body.
ACCEPTED: dict[str, Any] = {
    "description": "Accepted: durably written to the event log",
    "headers": {
        "Location": {
            "description": "Where the request's history is read (audit's API; = status_url)",
            "required": True,
            "schema": {"type": "string", "format": "uri"},
        }
    },
}
Context = Annotated[Intake, Depends(intake)]
RequestId = Annotated[uuid.UUID, Path(description="The request_id intake answered")]
router = APIRouter(prefix="/v1")


def install_routes(app: FastAPI, context: Intake) -> None:
    app.state.intake = context
    app.add_middleware(BodyLimits)
    app.include_router(router)


@router.post(
    "/requests",
    status_code=202,
    response_model=Accepted,
    summary="Submit a request for user data",
    responses={
        202: ACCEPTED,
        **problem_docs(409, 413, 415),
        422: problem_doc(
            422,
            "Invalid fields, one entry per field in `errors`; or an Idempotency-Key "
            "already used for another body (the entry names the header)",
        ),
    },
)
async def submit_request(
    submission: Annotated[Submission, Body()],
    caller: Caller,
    context: Context,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            description="The same key with the same body answers the same request_id; "
            "with another body, 422.",
        ),
    ] = None,
) -> Response:
    principal = caller.principal
    agency = submission.requester.agency
    if caller.reach is Reach.OWN_ORGANISATION and not principal.owns(agency):
        return problem_response(
            403,
            f"this key submits for {principal.organisation!r} only; requester.agency "
            "names another organisation",
            errors=[FieldError(detail="not this key's organisation", pointer="#/requester/agency")],
        )
    accepted_at = datetime.now(UTC)
    request_id = new_request_id()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    with context.tracer.start_as_current_span("validate") as span:
        span.set_attribute("docket.request_id", request_id)
        document = Submission.model_validate(submission.model_dump(by_alias=True))
        event_id = derived_event_id("received", request_id)
        event = RequestReceived(
            request_id=request_id,
            submission=document,
            submitted_by=principal.client_id,
            accepted_at=accepted_at,
            findings=document_findings(document, accepted_at),
        )
        span.set_attribute("docket.findings", len(event.findings))
    resolution = await context.repository.accept_submission(
        NewRequest(
            request_id=request_id,
            fingerprint=fingerprint(document),
            event_id=event_id,
            submitted_by=principal.client_id,
            accepted_at=accepted_at,
            data_requested=tuple(document.data_requested),
            nondisclosure_ordered=document.instrument.nondisclosure.ordered,
            owner=RequestOwner(
                organisation=agency,
                national_security=is_national_security(
                    document.instrument.type.value, document.requester.agency_type.value, None
                ),
            ),
            external_ref=document.external_ref,
        ),
        idempotency_key,
        context.publishing(event, event_id),
    )
    if isinstance(resolution, KeyReused):
        return invalid([FieldError(detail=resolution.reason, header="Idempotency-Key")])
    if isinstance(resolution, Conflict):
        return problem_response(409, resolution.reason)
    if isinstance(resolution, Replay):  # the id the first submission got
        request_id = resolution.request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
    log.info("request_accepted", event_id=event_id, replay=type(resolution).__name__)
    body = Accepted(request_id=request_id, status_url=context.status_url(request_id))
    return _accepted(body.model_dump())


@router.post(
    "/requests/{request_id}/amendments",
    status_code=202,
    response_model=ChangeAccepted,
    summary="Amend a request (non-disclosure order, withdrawal, note)",
    responses={202: ACCEPTED, **problem_docs(409, 413, 415)},
)
async def amend_request(
    request_id: RequestId,
    body: Annotated[AmendmentBody, Body()],
    caller: Caller,
    context: Context,
) -> Response:
    rid = str(request_id)
    structlog.contextvars.bind_contextvars(request_id=rid)
    amendment = Amendment.model_validate(body.model_dump())
    event_id = derived_event_id("amended", rid, fingerprint(amendment))
    author = caller.principal.client_id
    event = RequestAmended(request_id=rid, submitted_by=author, **amendment.model_dump())
    change = Change(
        request_id=rid,
        event_id=event_id,
        kind="amendment",
        submitted_by=author,
        accepted_at=datetime.now(UTC),
        visible=lambda owner: owner.visible_to(caller.principal, caller.reach),
        conflict=lambda state: amendment_conflict(state, amendment),
        apply=lambda state: after_amendment(state, amendment),
    )
    return _change_answer(
        await context.repository.accept_change(change, context.publishing(event, event_id)),
        ChangeAccepted(request_id=rid, event_id=event_id, status_url=context.status_url(rid)),
    )


@router.post(
    "/requests/{request_id}/decision",
    status_code=202,
    response_model=ChangeAccepted,
    summary="Record the outcome of a request",
    responses={202: ACCEPTED, **problem_docs(409, 413, 415)},
)
async def decide_request(
    request_id: RequestId,
    body: Annotated[DecisionBody, Body()],
    caller: Caller,
    context: Context,
) -> Response:
    rid = str(request_id)
    structlog.contextvars.bind_contextvars(request_id=rid)
    author = caller.principal.client_id
    if body.decided_by is not None and body.decided_by != author:
        return invalid(
            [
                FieldError(
                    detail=f"the decision is recorded as made by this key's client "
                    f"{author!r}; leave decided_by out",
                    pointer="#/decided_by",
                )
            ]
        )
    event_id = derived_event_id("decided", rid, fingerprint(body))
    event = DecisionRecorded(
        request_id=rid,
        outcome=body.outcome,
        data_disclosed=tuple(body.data_disclosed),
        decided_by=author,
        note=body.note,
        submitted_by=author,
    )
    change = Change(
        request_id=rid,
        event_id=event_id,
        kind="decision",
        submitted_by=author,
        accepted_at=datetime.now(UTC),
        visible=lambda owner: owner.visible_to(caller.principal, caller.reach),
        conflict=lambda state: decision_conflict(state, body.outcome, body.data_disclosed),
        apply=lambda state: after_decision(state, body.outcome),
    )
    return _change_answer(
        await context.repository.accept_change(change, context.publishing(event, event_id)),
        ChangeAccepted(request_id=rid, event_id=event_id, status_url=context.status_url(rid)),
    )


def _change_answer(result: ChangeResult, accepted: ChangeAccepted) -> Response:
    if isinstance(result, NotFound):
        return problem_response(404, f"no request {accepted.request_id}")
    if isinstance(result, Refused):
        return problem_response(409, result.reason)
    log.info("change_accepted", event_id=accepted.event_id)
    return _accepted(accepted.model_dump())


def _accepted(body: dict[str, Any]) -> JSONResponse:
    """``202`` pointing (``Location``) at where the request's progress is read."""
    return JSONResponse(body, status_code=202, headers={"Location": body["status_url"]})
