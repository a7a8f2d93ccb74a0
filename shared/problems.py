"""One HTTP error convention for every Docket API (``docs/http.md``): each 4xx and 5xx
is an RFC 9457 problem document (``application/problem+json``).

- ``type`` is always ``about:blank``: Docket owns no domain whose URIs would resolve, so
  it mints no problem types. As RFC 9457 section 4.2.1 asks, ``title`` is then the
  status's phrase (RFC 9110), and ``detail`` says what went wrong in this call.
- ``errors`` (invalid input only) has one entry per field: its ``detail`` and where it
  is, as RFC 9457's own example does: ``pointer``, a JSON Pointer into the body in URI
  fragment form (``#/targets/0/handle``); ``parameter``, a query or path parameter's
  name; or ``header``, a request header's name.

:func:`install_problems`, called once by a composition root (whenever its routers are
included), makes every answer of the app follow this: validation errors, unknown routes
(404), wrong methods (405), an unreachable broker or database (503), anything unexpected
(500, never a stack trace), control characters in the URL (422); and it documents the
problem answers of every route in the app's OpenAPI document."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, quote

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema
from starlette import types as asgi
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.kafka import TRANSIENT_ERRORS

log = structlog.get_logger("docket.http")

PROBLEM_MEDIA_TYPE = "application/problem+json"
#: RFC 9457 section 4.2.1: the problem type that says no more than the status code.
ABOUT_BLANK = "about:blank"
#: How long a client is asked to wait after a ``503``.
RETRY_AFTER_S = 5
#: RFC 9110's phrases where Python 3.11's ``HTTPStatus`` still has RFC 7231's.
_PHRASES = {413: "Content Too Large", 422: "Unprocessable Content"}
#: The sentence FastAPI answers with (as a 400) for a body it could not decode.
_UNPARSED_BODY = "There was an error parsing the body"


def _no_default(schema: dict[str, Any]) -> None:
    """An optional member is left out, never ``null``: no default in the schema."""
    schema.pop("default", None)


class FieldError(BaseModel):
    """One invalid field: what is wrong and where (exactly one of the three)."""

    detail: str = Field(description="What is wrong with the value, in a sentence")
    pointer: str | SkipJsonSchema[None] = Field(
        default=None,
        description="JSON Pointer (RFC 6901) into the body, in URI fragment form: "
        "`#/targets/0/handle`; `#` is the whole body",
        json_schema_extra=_no_default,
    )
    parameter: str | SkipJsonSchema[None] = Field(
        default=None,
        description="The query or path parameter's name",
        json_schema_extra=_no_default,
    )
    header: str | SkipJsonSchema[None] = Field(
        default=None, description="The request header's name", json_schema_extra=_no_default
    )


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(default=ABOUT_BLANK, description="Always `about:blank`")
    title: str = Field(description="The HTTP status phrase (RFC 9110)")
    status: int
    detail: str = Field(description="What went wrong in this call")
    errors: list[FieldError] | SkipJsonSchema[None] = Field(
        default=None,
        description="Invalid input only: one entry per field",
        json_schema_extra=_no_default,
    )


def title_of(status: int) -> str:
    return _PHRASES.get(status) or HTTPStatus(status).phrase


def problem_response(
    status: int,
    detail: str,
    *,
    errors: Sequence[FieldError] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        title=title_of(status), status=status, detail=detail, errors=list(errors) or None
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def invalid(errors: Sequence[FieldError]) -> JSONResponse:
    """``422`` listing every invalid field."""
    return problem_response(422, f"{len(errors)} field(s) are invalid: see errors", errors=errors)


def invalid_query(*problems: tuple[str, str]) -> RequestValidationError:
    """The error to raise for query parameters a route found invalid beyond their
    types: ``(name, sentence)`` each, answered as a ``422`` naming them."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", name), "msg": msg} for name, msg in problems]
    )


def json_pointer(path: Sequence[str | int]) -> str:
    """``("targets", 0, "handle")`` -> ``#/targets/0/handle`` (RFC 6901 section 6)."""
    tokens = (str(part).replace("~", "~0").replace("/", "~1") for part in path)
    return "#" + "".join("/" + quote(token, safe="!$&'()*+,;=:@-._~") for token in tokens)


def field_errors(raw_errors: Sequence[Any]) -> list[FieldError]:
    """pydantic/FastAPI error dicts -> where each invalid field is and one sentence."""
    result: list[FieldError] = []
    for error in raw_errors:
        where, *path = error.get("loc", ()) or ("body",)
        detail = str(error.get("msg", "invalid value"))
        kind = error.get("type")
        if kind == "extra_forbidden":
            detail = "unknown field: not part of the contract (check the spelling)"
        elif kind == "missing":
            detail = "required field is missing"
        elif kind == "json_invalid":
            detail, path = "the body is not valid JSON", []
        if where == "body":
            result.append(FieldError(detail=detail, pointer=json_pointer(path)))
        elif where == "header":
            result.append(FieldError(detail=detail, header=str(path[0]) if path else ""))
        else:  # query, path, cookie
            result.append(FieldError(detail=detail, parameter=str(path[0]) if path else ""))
    return result


def _control_character(text: str) -> str | None:
    """The first control character (Unicode category Cc) of ``text``, as ``U+XXXX``."""
    for ch in text:
        if unicodedata.category(ch) == "Cc":
            return f"U+{ord(ch):04X}"
    return None


class RefuseControlCharacters:
    """``422`` for a URL whose path or query carries a control character (``%00`` and
    the like): no identifier, filter or cursor has one, and the database refuses NUL,
    so such a value must never reach it. A plain ASGI middleware, before routing."""

    def __init__(self, app: asgi.ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
        if scope["type"] == "http":
            answer = self._refusal(scope)
            if answer is not None:
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _refusal(scope: asgi.Scope) -> JSONResponse | None:
        found = _control_character(scope.get("path", ""))
        if found is not None:
            return problem_response(
                422, f"the path holds a control character ({found}); no resource has one"
            )
        query = scope.get("query_string", b"").decode("utf-8", "replace")
        errors = []
        for name, value in parse_qsl(query, keep_blank_values=True):
            found = _control_character(name + value)
            if found is not None:
                errors.append(
                    FieldError(
                        detail=f"control characters (here {found}) are not allowed",
                        parameter=_printable(name),
                    )
                )
        return invalid(errors) if errors else None


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first
    route's)."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        pattern = getattr(route, "path_regex", None)
        if pattern is not None and pattern.match(request.url.path):
            methods |= set(route.methods or ())
    return sorted(methods)


def _printable(name: str) -> str:
    return "".join(ch if unicodedata.category(ch) != "Cc" else "\ufffd" for ch in name)


def install_problems(app: FastAPI) -> None:
    """Every answer of ``app`` that is not a success is a problem document, and its
    OpenAPI document says so. Call once, in the composition root."""
    app.add_middleware(RefuseControlCharacters)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        return invalid(field_errors(error.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400 and error.detail == _UNPARSED_BODY:
            return invalid([FieldError(detail="the body is not valid JSON", pointer="#")])
        detail, headers = str(error.detail), dict(error.headers or {})
        if error.status_code == 404 and detail == title_of(404):
            detail = "no such resource: check the path"
        elif error.status_code == 405:
            detail = f"this resource does not answer {request.method} (see Allow)"
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return problem_response(error.status_code, detail, headers=headers)

    async def unavailable(_request: Request, error: Exception) -> JSONResponse:
        log.warning("dependency_unavailable", error=type(error).__name__)
        return problem_response(
            503,
            "the event log or the database is unreachable; nothing was changed, retry later",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    for error_type in TRANSIENT_ERRORS:
        if issubclass(error_type, Exception):
            app.add_exception_handler(error_type, unavailable)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, error: Exception) -> JSONResponse:
        log.error("unexpected_error", error=type(error).__name__)
        return problem_response(500, "an unexpected error occurred")

    app.openapi = _documented_openapi(app)  # type: ignore[method-assign]


#: What the answers :func:`install_problems` documents on every route mean.
DESCRIPTIONS = {
    400: "The request cannot be read",
    401: "No API key, or an unknown or revoked one (see WWW-Authenticate)",
    403: "The API key's role may not make this call",
    404: "No such resource, or one this key may not see",
    409: "Conflicts with what is already recorded",
    413: "The body exceeds 1 MiB",
    415: "The body is not JSON",
    422: "Invalid input: one entry per field in `errors`",
    429: "The client's rate limit is used up (see Retry-After)",
    503: "The event log or the database is unreachable; nothing was changed (see Retry-After)",
}
_HEADERS = {
    401: {"WWW-Authenticate": "The authentication scheme to use: `Bearer`"},
    429: {"Retry-After": "Seconds to wait before calling again"},
    503: {"Retry-After": "Seconds to wait before calling again"},
}


def problem_docs(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for problem answers a route gives beyond those
    every route documents (for example ``409``, ``413``, ``415``)."""
    return {status: problem_doc(status, DESCRIPTIONS[status]) for status in statuses}


def problem_doc(status: int, description: str) -> dict[str, Any]:
    """One OpenAPI ``responses`` entry: a problem answer with ``status``."""
    entry: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if status in _HEADERS:
        entry["headers"] = {
            name: {"description": text, "required": True, "schema": {"type": "string"}}
            for name, text in _HEADERS[status].items()
        }
    return entry


def _documented_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, routes=app.routes, summary=None
            )
            document_problems(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi


def document_problems(schema: dict[str, Any]) -> None:
    """Every operation of ``schema`` documents the problems any route can answer:
    ``422`` (as a problem, where FastAPI put its own shape) wherever input is read,
    ``401``, ``403`` and ``429`` where a key is needed, ``404`` where the path names a
    resource, and ``503``; ``Problem`` and ``FieldError`` replace FastAPI's
    validation-error schemas."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem.pop("$defs", {}))
    components["Problem"] = problem
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            wanted = [503]
            if "422" in responses or operation.get("parameters") or "requestBody" in operation:
                wanted.append(422)
                if PROBLEM_MEDIA_TYPE not in responses.get("422", {}).get("content", {}):
                    responses.pop("422", None)  # FastAPI's own shape
            if operation.get("security"):
                wanted += [401, 403, 429]
            if "{" in path:
                wanted.append(404)
            for status in wanted:
                responses.setdefault(str(status), problem_doc(status, DESCRIPTIONS[status]))
            operation["responses"] = dict(sorted(responses.items()))
