"""HTTP routes of intake: the only way requests, amendments and decisions enter Docket."""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Body, Depends, FastAPI, Header, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry.trace import Tracer
from starlette import types as asgi
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
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
from services.intake.domain.idempotency import Conflict, Replay, fingerprint
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
from shared.kafka import TRANSIENT_ERRORS, EventPublisher, derived_event_id
from shared.problems import (
    PROBLEM_MEDIA_TYPE,
    FieldError,
    Problem,
    field_errors,
    problem_response,
)
from shared.submission import Submission

log = structlog.get_logger("docket.intake")

MAX_BODY_BYTES = 1024 * 1024
RETRY_AFTER_S = 5


def problem_docs(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for problem answers (``application/problem+json``)."""
    descriptions = {
        401: "No API key, or an unknown or revoked one",
        403: "The API key's role may not make this call",
        404: "Unknown request, or one this key may not see",
        409: "Conflicts with what is already recorded",
        413: "The body exceeds 1 MiB",
        415: "The body is not JSON",
        422: "Invalid fields, one entry per field in `errors`",
        429: "The client's rate limit is used up (see Retry-After)",
        503: "Kafka or the database is unreachable; nothing was accepted (see Retry-After)",
    }
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        status: {
            "description": descriptions[status],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": schema}},
        }
        for status in statuses
    }


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
            unsupported = problem_response(
                415, "Unsupported Media Type", "send the body as application/json"
            )
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
    return problem_response(413, "Content Too Large", f"the body exceeds {MAX_BODY_BYTES} bytes")


def install_error_handlers(app: FastAPI) -> None:
    """Every error is an RFC 9457 problem document; no input reaches a bare 500."""

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        errors = field_errors(error.errors())
        return problem_response(
            422, "Invalid Request", f"{len(errors)} field(s) are invalid", errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400:  # a body FastAPI could not even decode
            return problem_response(
                422,
                "Invalid Request",
                "the body is not valid JSON",
                errors=[FieldError(path="(body)", message="the body is not UTF-8 encoded JSON")],
            )
        title = {404: "Not Found", 405: "Method Not Allowed"}.get(error.status_code, "Error")
        return problem_response(
            error.status_code, title, str(error.detail), headers=dict(error.headers or {})
        )

    async def unavailable(_request: Request, error: Exception) -> JSONResponse:
        log.warning("dependency_unavailable", error=type(error).__name__)
        return problem_response(
            503,
            "Service Unavailable",
            "the event log or the database is unreachable; nothing was accepted, retry later",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    for error_type in TRANSIENT_ERRORS:
        if issubclass(error_type, Exception):
            app.add_exception_handler(error_type, unavailable)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, error: Exception) -> JSONResponse:
        log.error("unexpected_error", error=type(error).__name__)
        return problem_response(500, "Internal Server Error", "an unexpected error occurred")


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


Context = Annotated[Intake, Depends(intake)]
RequestId = Annotated[uuid.UUID, Path(description="The request_id intake answered")]
router = APIRouter(prefix="/v1")


def install_routes(app: FastAPI, context: Intake) -> None:
    app.state.intake = context
    app.add_middleware(BodyLimits)
    install_error_handlers(app)
    app.include_router(router)


@router.post(
    "/requests",
    status_code=202,
    response_model=Accepted,
    summary="Submit a request for user data",
    responses=problem_docs(401, 403, 409, 413, 415, 422, 429, 503),
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
            "with another body, 409.",
        ),
    ] = None,
) -> Response:
    principal = caller.principal
    agency = submission.requester.agency
    if caller.reach is Reach.OWN_ORGANISATION and not principal.owns(agency):
        return problem_response(
            403,
            "Forbidden",
            f"this key submits for {principal.organisation!r} only; requester.agency "
            "names another organisation",
            errors=[FieldError(path="requester.agency", message="not this key's organisation")],
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
    if isinstance(resolution, Conflict):
        return problem_response(409, "Conflict", resolution.reason)
    if isinstance(resolution, Replay):  # the id the first submission got
        request_id = resolution.request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
    log.info("request_accepted", event_id=event_id, replay=type(resolution).__name__)
    body = Accepted(request_id=request_id, status_url=context.status_url(request_id))
    return JSONResponse(body.model_dump(), status_code=202)


@router.post(
    "/requests/{request_id}/amendments",
    status_code=202,
    response_model=ChangeAccepted,
    summary="Amend a request (non-disclosure order, withdrawal, note)",
    responses=problem_docs(401, 403, 404, 409, 413, 415, 422, 429, 503),
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
    responses=problem_docs(401, 403, 404, 409, 413, 415, 422, 429, 503),
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
        return problem_response(
            422,
            "Invalid Request",
            "1 field(s) are invalid",
            errors=[
                FieldError(
                    path="decided_by",
                    message=f"the decision is recorded as made by this key's client "
                    f"{author!r}; leave decided_by out",
                )
            ],
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
        return problem_response(404, "Not Found", f"no request {accepted.request_id}")
    if isinstance(result, Refused):
        return problem_response(409, "Conflict", result.reason)
    log.info("change_accepted", event_id=accepted.event_id)
    return JSONResponse(accepted.model_dump(), status_code=202)


def problem_schema() -> dict[str, Any]:
    """``Problem`` and ``FieldError`` as OpenAPI components."""
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components: dict[str, Any] = schema.pop("$defs", {})
    components["Problem"] = schema
    return components
