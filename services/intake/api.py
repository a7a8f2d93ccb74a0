"""HTTP routes of intake: the only way requests, amendments and decisions enter Docket."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Body, Depends, FastAPI, Header, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from opentelemetry.trace import Tracer
from starlette import types as asgi
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from services.intake.credentials import CredentialCache
from services.intake.domain.findings import document_findings
from services.intake.domain.idempotency import Conflict, fingerprint
from services.intake.domain.keys import Credential, Scope
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
    request_id_for,
)
from services.intake.ports import Repository
from services.intake.problems import (
    PROBLEM_MEDIA_TYPE,
    FieldError,
    Problem,
    field_errors,
    problem_response,
)
from services.intake.store import Change, ChangeResult, NewRequest, NotFound, Refused
from shared.amendments import Amendment
from shared.events import DecisionRecorded, EventData, RequestAmended, RequestReceived
from shared.kafka import TRANSIENT_ERRORS, EventPublisher, derived_event_id
from shared.submission import Submission

log = structlog.get_logger("docket.intake")

MAX_BODY_BYTES = 1024 * 1024
RETRY_AFTER_S = 5
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An intake API key (`docket keys create`), sent as `Authorization: Bearer <key>`.",
)


class AuthProblem(Exception):
    """401 (no or unknown key) or 403 (key without the scope)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def problem_docs(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for problem answers (``application/problem+json``)."""
    descriptions = {
        401: "No API key, or an unknown or revoked one",
        403: "The API key lacks the scope this call needs",
        404: "Unknown request",
        409: "Conflicts with what is already recorded",
        413: "The body exceeds 1 MiB",
        415: "The body is not JSON",
        422: "Invalid fields, one entry per field in `errors`",
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

    @app.exception_handler(AuthProblem)
    async def auth_problem(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, AuthProblem)
        if error.status == 401:
            return problem_response(
                401,
                "Unauthorized",
                error.detail,
                headers={"WWW-Authenticate": 'Bearer realm="docket-intake"'},
            )
        return problem_response(403, "Forbidden", error.detail)

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


def install_routes(
    app: FastAPI,
    repository: Repository,
    publisher: EventPublisher,
    audit_base_url: str,
    publish_timeout_s: float,
    tracer: Tracer,
    credentials: CredentialCache,
) -> None:
    """``credentials`` looks API keys up (in ``repository``, through a short cache)."""
    router = APIRouter(prefix="/v1")
    app.add_middleware(BodyLimits)
    install_error_handlers(app)

    def require(scope: Scope) -> Any:
        async def authenticated(
            bearer_token: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        ) -> Credential:
            if bearer_token is None:
                raise AuthProblem(401, "send an API key as 'Authorization: Bearer <key>'")
            credential = await credentials.credential(bearer_token.credentials)
            if credential is None:
                raise AuthProblem(401, "the API key is unknown or revoked")
            if scope not in credential.scopes:
                raise AuthProblem(
                    403, f"client {credential.client_id!r} may not {scope.value} (missing scope)"
                )
            structlog.contextvars.bind_contextvars(client_id=credential.client_id)
            return credential

        return Depends(authenticated)

    def publishing(data: EventData, event_id: str) -> Any:
        async def publish() -> None:
            await asyncio.wait_for(
                publisher.publish(data, event_id=event_id), timeout=publish_timeout_s
            )

        return publish

    def status_url(request_id: str) -> str:
        return f"{audit_base_url}/v1/requests/{request_id}"

    @router.post(
        "/requests",
        status_code=202,
        response_model=Accepted,
        summary="Submit a request for user data",
        responses=problem_docs(401, 403, 409, 413, 415, 422, 503),
    )
    async def submit_request(
        submission: Annotated[Submission, Body()],
        credential: Annotated[Credential, require(Scope.SUBMIT)],
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
        accepted_at = datetime.now(UTC)
        request_id = request_id_for(submission)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        with tracer.start_as_current_span("validate") as span:
            span.set_attribute("docket.request_id", request_id)
            document = Submission.model_validate(submission.model_dump(by_alias=True))
            event_id = derived_event_id("received", request_id)
            event = RequestReceived(
                request_id=request_id,
                submission=document,
                submitted_by=credential.client_id,
                accepted_at=accepted_at,
                findings=document_findings(document, accepted_at),
            )
            span.set_attribute("docket.findings", len(event.findings))
        resolution = await repository.accept_submission(
            NewRequest(
                request_id=request_id,
                fingerprint=fingerprint(document),
                event_id=event_id,
                submitted_by=credential.client_id,
                accepted_at=accepted_at,
                data_requested=tuple(document.data_requested),
                nondisclosure_ordered=document.instrument.nondisclosure.ordered,
            ),
            idempotency_key,
            publishing(event, event_id),
        )
        if isinstance(resolution, Conflict):
            return problem_response(409, "Conflict", resolution.reason)
        log.info("request_accepted", event_id=event_id, replay=type(resolution).__name__)
        body = Accepted(request_id=request_id, status_url=status_url(request_id))
        return JSONResponse(body.model_dump(), status_code=202)

    RequestId = Annotated[uuid.UUID, Path(description="The request_id intake answered")]

    @router.post(
        "/requests/{request_id}/amendments",
        status_code=202,
        response_model=ChangeAccepted,
        summary="Amend a request (non-disclosure order, withdrawal, note)",
        responses=problem_docs(401, 403, 404, 409, 413, 415, 422, 503),
    )
    async def amend_request(
        request_id: RequestId,
        body: Annotated[AmendmentBody, Body()],
        credential: Annotated[Credential, require(Scope.AMEND)],
    ) -> Response:
        rid = str(request_id)
        structlog.contextvars.bind_contextvars(request_id=rid)
        amendment = Amendment.model_validate(body.model_dump())
        event_id = derived_event_id("amended", rid, fingerprint(amendment))
        event = RequestAmended(
            request_id=rid, submitted_by=credential.client_id, **amendment.model_dump()
        )
        change = Change(
            request_id=rid,
            event_id=event_id,
            kind="amendment",
            submitted_by=credential.client_id,
            accepted_at=datetime.now(UTC),
            conflict=lambda state: amendment_conflict(state, amendment),
            apply=lambda state: after_amendment(state, amendment),
        )
        return _change_answer(
            await repository.accept_change(change, publishing(event, event_id)),
            ChangeAccepted(request_id=rid, event_id=event_id, status_url=status_url(rid)),
        )

    @router.post(
        "/requests/{request_id}/decision",
        status_code=202,
        response_model=ChangeAccepted,
        summary="Record the outcome of a request",
        responses=problem_docs(401, 403, 404, 409, 413, 415, 422, 503),
    )
    async def decide_request(
        request_id: RequestId,
        body: Annotated[DecisionBody, Body()],
        credential: Annotated[Credential, require(Scope.DECIDE)],
    ) -> Response:
        rid = str(request_id)
        structlog.contextvars.bind_contextvars(request_id=rid)
        event_id = derived_event_id("decided", rid, fingerprint(body))
        event = DecisionRecorded(
            request_id=rid,
            outcome=body.outcome,
            data_disclosed=tuple(body.data_disclosed),
            decided_by=body.decided_by,
            note=body.note,
            submitted_by=credential.client_id,
        )
        change = Change(
            request_id=rid,
            event_id=event_id,
            kind="decision",
            submitted_by=credential.client_id,
            accepted_at=datetime.now(UTC),
            conflict=lambda state: decision_conflict(state, body.outcome, body.data_disclosed),
            apply=lambda state: after_decision(state, body.outcome),
        )
        return _change_answer(
            await repository.accept_change(change, publishing(event, event_id)),
            ChangeAccepted(request_id=rid, event_id=event_id, status_url=status_url(rid)),
        )

    app.include_router(router)


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
