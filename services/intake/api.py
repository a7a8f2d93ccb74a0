"""HTTP routes of intake: the only way requests enter Docket."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Body, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response

from services.intake.domain.findings import document_findings
from services.intake.problems import field_errors, problem_response
from shared.events import RequestReceived
from shared.kafka import TRANSIENT_ERRORS, EventPublisher, derived_event_id
from shared.submission import Submission, Target

log = structlog.get_logger("docket.intake")

MAX_BODY_BYTES = 1024 * 1024
REQUEST_ID_NAMESPACE = uuid.UUID("0f3c6d2e-8d0b-4a55-9a43-8b1f2f3c9d10")


class IntakeSubmission(Submission):
    """The submission as accepted over HTTP: at least one target account."""

    targets: Annotated[list[Target], Field(min_length=1, max_length=10_000)]


class Accepted(BaseModel):
    request_id: str
    status_url: str


def request_id_for(submission: Submission) -> str:
    """The same (agency, external reference) always names the same request."""
    key = f"{submission.requester.agency.casefold()}\x1f{submission.external_ref}"
    return str(uuid.uuid5(REQUEST_ID_NAMESPACE, key))


class BodyLimits(BaseHTTPMiddleware):
    """413 over 1 MiB and 415 for anything but JSON, before any parsing."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.method in ("POST", "PUT", "PATCH"):
            declared = request.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
                return _too_large()
            media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media_type != "application/json" and not media_type.endswith("+json"):
                return problem_response(
                    415,
                    "Unsupported Media Type",
                    "send the body as application/json",
                )
            body = await request.body()
            if len(body) > MAX_BODY_BYTES:
                return _too_large()
        return await call_next(request)


def _too_large() -> Response:
    return problem_response(413, "Content Too Large", f"the body exceeds {MAX_BODY_BYTES} bytes")


def install_routes(app: FastAPI, publisher: EventPublisher, audit_base_url: str) -> None:
    router = APIRouter(prefix="/v1")
    app.add_middleware(BodyLimits)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        errors = field_errors(error.errors())
        return problem_response(
            422, "Invalid Request", f"{len(errors)} field(s) are invalid", errors=errors
        )

    @router.post("/requests", status_code=202, response_model=Accepted)
    async def submit_request(submission: Annotated[IntakeSubmission, Body()]) -> Response:
        accepted_at = datetime.now(UTC)
        request_id = request_id_for(submission)
        event = RequestReceived(
            request_id=request_id,
            submission=Submission.model_validate(submission.model_dump(by_alias=True)),
            submitted_by="anonymous",
            accepted_at=accepted_at,
            findings=document_findings(submission, accepted_at),
        )
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            envelope = await publisher.publish(
                event, event_id=derived_event_id("received", request_id)
            )
        except TRANSIENT_ERRORS as error:
            log.warning("publish_failed", error=type(error).__name__)
            return problem_response(
                503,
                "Service Unavailable",
                "the event log is unreachable; nothing was accepted, retry later",
                headers={"Retry-After": "5"},
            )
        log.info("request_accepted", event_id=envelope.id)
        body = Accepted(
            request_id=request_id, status_url=f"{audit_base_url}/v1/requests/{request_id}"
        )
        return JSONResponse(body.model_dump(), status_code=202)

    app.include_router(router)
