"""The HTTP side of ``docket`` commands: where intake and audit are, the API key, and
one mapping of what can go wrong to one stderr line and an exit code.

- base URLs: ``--intake-url`` (default ``$DOCKET_INTAKE_URL``, ``http://127.0.0.1:8080``)
  and ``--audit-url`` (``$DOCKET_AUDIT_URL``, ``http://127.0.0.1:8083``), as the
  ``IntakeUrl`` and ``AuditUrl`` option types;
- ``Authorization: Bearer $DOCKET_API_KEY`` on every call (none when unset);
- a refused connection, a timeout or a name that does not resolve: exit 4
  (``UNREACHABLE``); ``404``: exit 1 (``FAILED``, nothing found); any other error
  answer: exit 5 (``REJECTED``), its RFC 9457 problem (``detail`` and each field
  error) on one line.

A command calls :func:`get` or :func:`post` and gets the JSON body of a successful
answer; it never sees ``httpx`` exceptions.
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any, NoReturn

import httpx
import typer

from shared.cli_support import ExitCode, fail, one_line

API_KEY_ENV = "DOCKET_API_KEY"
TIMEOUT_S = 30.0

IntakeUrl = Annotated[
    str,
    typer.Option(
        envvar="DOCKET_INTAKE_URL", help="intake's base URL (default: $DOCKET_INTAKE_URL)"
    ),
]
AuditUrl = Annotated[
    str,
    typer.Option(envvar="DOCKET_AUDIT_URL", help="audit's base URL (default: $DOCKET_AUDIT_URL)"),
]
INTAKE_URL = "http://127.0.0.1:8080"
AUDIT_URL = "http://127.0.0.1:8083"


def api_key_headers() -> dict[str, str]:
    """``Authorization: Bearer $DOCKET_API_KEY`` (none when the variable is unset)."""
    key = os.environ.get(API_KEY_ENV)
    return {"authorization": f"Bearer {key}"} if key else {}


def url(base: str, path: str) -> str:
    return f"{base.rstrip('/')}/{path.lstrip('/')}"


def get(address: str, *, service: str, not_found: str | None = None) -> Any:
    """``GET address``: the JSON body of a 2xx answer; anything else ends the command."""
    try:
        response = httpx.get(address, headers=api_key_headers(), timeout=TIMEOUT_S)
    except httpx.HTTPError as error:
        _unreachable(service, address, error)
    return answer(response, service, not_found)


def post(
    address: str,
    *,
    service: str,
    body: bytes | None = None,
    document: Any = None,
    headers: dict[str, str] | None = None,
    not_found: str | None = None,
) -> Any:
    """``POST address`` with ``body`` (bytes as given) or ``document`` (as JSON)."""
    content = body if body is not None else json.dumps(document).encode()
    sent = {"content-type": "application/json", **api_key_headers(), **(headers or {})}
    try:
        response = httpx.post(address, content=content, headers=sent, timeout=TIMEOUT_S)
    except httpx.HTTPError as error:
        _unreachable(service, address, error)
    return answer(response, service, not_found)


def answer(response: httpx.Response, service: str, not_found: str | None = None) -> Any:
    """The JSON body of a successful ``response``; a failed one ends the command with
    the problem on one line (``not_found`` replaces it for a 404)."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if response.is_success:
        if body is None:
            fail(ExitCode.REJECTED, f"{service} answered {response.status_code} without JSON")
        return body
    if response.status_code == 404 and not_found is not None:
        fail(ExitCode.FAILED, not_found)
    code = ExitCode.FAILED if response.status_code == 404 else ExitCode.REJECTED
    fail(code, f"{service} answered {response.status_code}: {problem_text(response, body)}")


def problem_text(response: httpx.Response, body: Any) -> str:
    """An RFC 9457 problem (or FastAPI's ``{"detail": ...}``) as one line."""
    if not isinstance(body, dict):
        return one_line(response.text[:300]) or response.reason_phrase
    detail = body.get("detail") or body.get("title") or response.reason_phrase
    if not isinstance(detail, str):
        detail = json.dumps(detail)
    parts = [one_line(detail)]
    for error in body.get("errors") or []:
        if isinstance(error, dict):
            where = (
                error.get("pointer")
                or error.get("parameter")
                or error.get("header")
                or error.get("path")
                or "(body)"
            )
            what = error.get("detail") or error.get("message") or "invalid"
            parts.append(f"{where}: {one_line(str(what))}")
    return "; ".join(parts)


def _unreachable(service: str, address: str, error: httpx.HTTPError) -> NoReturn:
    reason = one_line(str(error)) or type(error).__name__
    fail(ExitCode.UNREACHABLE, f"cannot reach {service} at {address}: {reason}")
