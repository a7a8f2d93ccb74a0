"""Sign-in for the console: PLACEHOLDER, replaced by the ``console-trust`` branch.

The ``console-trust`` branch brings OpenID Connect sign-in (authorization code + PKCE),
its signed session cookie and CSRF protection in this module, with this same interface:
:class:`ConsoleUser`, the dependencies :func:`signed_in_user` and :func:`require_csrf`,
:func:`csrf_token` for templates, and :data:`router` (``/signin``, ``/signin/callback``,
``/signout``, ``/signin/dev``). Until it lands, this placeholder offers only the local
development sign-in (a form picking a role), refused outside development mode, and a
session cookie signed with HMAC-SHA256 under ``DOCKET_CONSOLE_SESSION_SECRET``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shared.auth.keys import Role
from shared.settings import ConsoleSettings

SESSION_COOKIE = "docket_console_session"
SIGNIN_CSRF_COOKIE = "docket_console_signin"
SESSION_LIFETIME_S = 8 * 3600
#: The roles a person may sign in to the console with (a submitter is an agency portal).
STAFF_ROLES = (Role.LEGAL, Role.READER, Role.AUDITOR)


@dataclass(frozen=True)
class ConsoleUser:
    subject: str
    name: str
    role: Role
    national_security: bool


class SignInRequired(Exception):
    """No (valid) session: answered by a 303 to ``/signin?next=...``."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def _settings(request: Request) -> ConsoleSettings:
    settings: ConsoleSettings = request.app.state.settings
    return settings


def _secret(request: Request) -> bytes:
    secret: bytes = request.app.state.session_secret
    return secret


def _sign(secret: bytes, payload: dict[str, object]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload, sort_keys=True).encode()).decode()
    mac = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def _unsign(secret: bytes, value: str) -> dict[str, object] | None:
    body, _, mac = value.rpartition(".")
    expected = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
    if not body or not hmac.compare_digest(mac, expected):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(body.encode()))
    except ValueError:
        return None
    if not isinstance(payload, dict) or float(payload.get("exp", 0)) < time.time():
        return None
    return payload


def _session(request: Request) -> dict[str, object] | None:
    value = request.cookies.get(SESSION_COOKIE)
    return _unsign(_secret(request), value) if value else None


async def signed_in_user(request: Request) -> ConsoleUser:
    session = _session(request)
    if session is None:
        raise SignInRequired(request.url.path)
    request.state.csrf = str(session["csrf"])
    return ConsoleUser(
        subject=str(session["sub"]),
        name=str(session["name"]),
        role=Role(str(session["role"])),
        national_security=bool(session["ns"]),
    )


def csrf_token(request: Request) -> str:
    """The token every form of this page carries (``csrf_token``)."""
    token = getattr(request.state, "csrf", None)
    if token is None:
        session = _session(request)
        token = str(session["csrf"]) if session else request.cookies.get(SIGNIN_CSRF_COOKIE, "")
    return str(token)


async def _form(request: Request) -> dict[str, str]:
    fields = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[-1] for name, values in fields.items()}


async def require_csrf(request: Request) -> None:
    """Every POST: its form's ``csrf_token`` is the session's (or, before sign-in, the
    sign-in form's cookie); ``403`` otherwise."""
    sent = (await _form(request)).get("csrf_token", "")
    expected = csrf_token(request)
    if not expected or not hmac.compare_digest(sent, expected):
        raise HTTPException(status_code=403, detail="the form is stale: reload the page")


Csrf = Annotated[None, Depends(require_csrf)]
router = APIRouter()


def _safe_next(value: str | None) -> str:
    """Only a path of this site (no scheme, no host, no ``//``)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


@router.get("/signin", include_in_schema=False)
async def signin(request: Request, next: str | None = None) -> Response:
    if not _settings(request).development_mode:
        return HTMLResponse(
            "<h1>Sign-in is not configured</h1><p>OpenID Connect sign-in arrives with the"
            " console-trust branch.</p>",
            status_code=503,
        )
    return RedirectResponse(f"/signin/dev?next={quote(_safe_next(next))}", status_code=303)


@router.get("/signin/callback", include_in_schema=False)
async def signin_callback() -> Response:
    raise HTTPException(status_code=404, detail="OpenID Connect is not configured")


def _require_development(request: Request) -> None:
    if not _settings(request).development_mode:
        raise HTTPException(
            status_code=404, detail="the local sign-in exists only in development mode"
        )


@router.get("/signin/dev", include_in_schema=False)
async def dev_signin_form(request: Request, next: str | None = None) -> Response:
    _require_development(request)
    token = secrets.token_urlsafe(24)
    request.state.csrf = token
    response: Response = request.app.state.templates.TemplateResponse(
        request,
        "signin_dev.html.jinja",
        {"next": _safe_next(next), "roles": STAFF_ROLES, "csrf_token": token, "user": None},
    )
    response.set_cookie(
        SIGNIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request)
    )
    return response


def _secure(request: Request) -> bool:
    return _settings(request).console_public_url.startswith("https://")


@router.post("/signin/dev", include_in_schema=False)
async def dev_signin(request: Request, _csrf: Csrf) -> Response:
    _require_development(request)
    form = await _form(request)
    try:
        role = Role(form.get("role", ""))
    except ValueError:
        raise HTTPException(status_code=422, detail="pick a role") from None
    if role not in STAFF_ROLES:
        raise HTTPException(status_code=422, detail="pick a staff role")
    name = form.get("name", "").strip()[:100] or f"Local {role.value}"
    subject = "dev-" + hashlib.sha256(f"{name}|{role.value}".encode()).hexdigest()[:12]
    session: dict[str, object] = {
        "sub": subject,
        "name": name,
        "role": role.value,
        "ns": form.get("national_security") == "on",
        "csrf": secrets.token_urlsafe(24),
        "exp": time.time() + SESSION_LIFETIME_S,
    }
    response = RedirectResponse(_safe_next(form.get("next")), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        _sign(_secret(request), session),
        max_age=SESSION_LIFETIME_S,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    response.delete_cookie(SIGNIN_CSRF_COOKIE)
    return response


@router.post("/signout", include_in_schema=False)
async def signout(_csrf: Csrf) -> Response:
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
