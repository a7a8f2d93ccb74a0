"""The console's sign-in, session and CSRF protection (``docs/console-auth.md``).

- ``GET /signin?next=/path`` sends the browser to the company's identity provider
  (OpenID Connect, authorization code + PKCE S256, with state and nonce);
  ``GET /signin/callback`` takes the code back, exchanges it, checks the ID token
  (``services/console/oidc.py``) and maps its role claim onto a Docket role; a user with
  no mapped role is refused with a page saying so. ``POST /signout`` ends the session.
- ``GET|POST /signin/dev``: a local sign-in choosing a role, for ``make run`` on a machine
  with no identity provider; it exists only in development mode (404 otherwise), and
  outside development mode the console does not start without an issuer
  (:class:`shared.settings.ConsoleAuthSettings`).
- The session is a cookie encrypted and authenticated with a key derived from
  ``DOCKET_CONSOLE_SESSION_SECRET`` (Fernet: AES-CBC + HMAC-SHA256), HttpOnly,
  SameSite=Lax, Secure (and ``__Host-``) outside development mode, expiring after
  ``DOCKET_CONSOLE_SESSION_TTL_S``. It holds the user and the session's CSRF token.
- :func:`signed_in_user` is the pages' dependency (no session: 303 to ``/signin``);
  :func:`csrf_token` is what a form embeds (field ``csrf_token``) and
  :func:`require_csrf` the dependency of every state-changing route (form field or
  ``X-CSRF-Token`` header, compared in constant time; 403 problem otherwise).

Nothing personal goes into a URL or a log line: the provider's answers travel in the
encrypted cookies, ``next`` is a path of the console, and the logs name a role and a
digest of the subject only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any, Final
from urllib.parse import urlencode

import httpx
import structlog
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.oidc import (
    ConsoleUser,
    PendingSignIn,
    SignInRefused,
    new_pending_sign_in,
    safe_next_path,
    state_matches,
    user_from_claims,
    validate_id_token,
)
from shared.auth.keys import Role
from shared.settings import ConsoleAuthSettings

__all__ = [
    "ConsoleUser",
    "configure_auth",
    "csrf_token",
    "require_csrf",
    "router",
    "session_user",
    "signed_in_user",
]

log = structlog.get_logger("docket.console.auth")

CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "X-CSRF-Token"
#: How long a sign-in may take at the provider before it must start again.
SIGN_IN_LIFETIME_S: Final = 600
#: Roles the local development sign-in offers.
DEV_ROLES: Final = (Role.LEGAL, Role.READER, Role.AUDITOR)
#: How long the provider's discovery document and keys are reused.
PROVIDER_CACHE_S: Final = 300
#: States already used, remembered (per instance) until their sign-in would expire.
MAX_USED_STATES: Final = 10_000


@dataclass
class ConsoleAuth:
    """The sign-in's configuration and caches, kept as ``app.state.console_auth``."""

    settings: ConsoleAuthSettings
    fernet: Fernet
    _discovery: tuple[float, dict[str, Any]] | None = None
    _jwks: tuple[float, dict[str, Any]] | None = None
    _used_states: OrderedDict[str, int] = field(default_factory=OrderedDict)

    @property
    def secure(self) -> bool:
        return not self.settings.development_mode

    @property
    def session_cookie(self) -> str:
        return "__Host-docket_session" if self.secure else "docket_session"

    @property
    def pending_cookie(self) -> str:
        return "__Host-docket_signin" if self.secure else "docket_signin"

    @property
    def uses_provider(self) -> bool:
        return self.settings.oidc_issuer is not None

    def seal(self, payload: dict[str, Any]) -> str:
        return self.fernet.encrypt(json.dumps(payload, separators=(",", ":")).encode()).decode()

    def open(self, token: str | None, max_age_s: int) -> dict[str, Any] | None:
        if not token:
            return None
        try:
            data = self.fernet.decrypt(token.encode(), ttl=max_age_s)
            payload = json.loads(data)
        except (InvalidToken, ValueError):
            return None
        if not isinstance(payload, dict) or payload.get("exp", 0) < time.time():
            return None
        return payload

    def use_state(self, state: str, expires_at: int) -> bool:
        """Mark ``state`` used; False when it was used before (a replay)."""
        now = time.time()
        while self._used_states and (
            next(iter(self._used_states.values())) < now or len(self._used_states) > MAX_USED_STATES
        ):
            self._used_states.popitem(last=False)
        digest = hashlib.sha256(state.encode()).hexdigest()
        if digest in self._used_states:
            return False
        self._used_states[digest] = expires_at
        return True

    async def discovery(self, client: httpx.AsyncClient) -> dict[str, Any]:
        if self._discovery and self._discovery[0] > time.monotonic():
            return self._discovery[1]
        issuer = self.settings.oidc_issuer
        assert issuer is not None
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = await _get_json(client, url, "discovery document")
        if document.get("issuer") != issuer:
            raise SignInRefused("the identity provider's discovery names another issuer")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(key), str):
                raise SignInRefused(f"the identity provider's discovery has no {key}")
        self._discovery = (time.monotonic() + PROVIDER_CACHE_S, document)
        return document

    async def jwks(self, client: httpx.AsyncClient, refresh: bool = False) -> dict[str, Any]:
        if not refresh and self._jwks and self._jwks[0] > time.monotonic():
            return self._jwks[1]
        document = await self.discovery(client)
        keys = await _get_json(client, document["jwks_uri"], "signing keys")
        self._jwks = (time.monotonic() + PROVIDER_CACHE_S, keys)
        return keys


def _fernet(settings: ConsoleAuthSettings) -> Fernet:
    secret = settings.console_session_secret
    material = secret.get_secret_value().encode() if secret else secrets.token_bytes(32)
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"docket console session v1"
    ).derive(material)
    return Fernet(base64.urlsafe_b64encode(key))


def configure_auth(app: FastAPI, settings: ConsoleAuthSettings) -> ConsoleAuth:
    """Install the sign-in's configuration on ``app`` (the composition root calls it once;
    without it the first request reads :class:`ConsoleAuthSettings` from the environment)."""
    auth = ConsoleAuth(settings, _fernet(settings))
    app.state.console_auth = auth
    return auth


def console_auth(request: Request) -> ConsoleAuth:
    auth: ConsoleAuth | None = getattr(request.app.state, "console_auth", None)
    if auth is None:
        auth = configure_auth(request.app, ConsoleAuthSettings())
    return auth


Auth = Annotated[ConsoleAuth, Depends(console_auth)]


async def _get_json(client: httpx.AsyncClient, url: str, what: str) -> dict[str, Any]:
    try:
        response = await client.get(url)
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as error:
        log.warning("console_identity_provider_unreachable", what=what, error=type(error).__name__)
        raise SignInRefused(f"the identity provider's {what} could not be read") from error
    if not isinstance(document, dict):
        raise SignInRefused(f"the identity provider's {what} is not a JSON object")
    return document


def _client(auth: ConsoleAuth) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=auth.settings.oidc_timeout_s, follow_redirects=False)


def _subject_digest(subject: str) -> str:
    return hashlib.sha256(subject.encode()).hexdigest()[:12]


# --- the session --------------------------------------------------------------------


def _session(request: Request) -> dict[str, Any] | None:
    cached: dict[str, Any] | None = getattr(request.state, "console_session", None)
    if cached is not None:
        return cached
    auth = console_auth(request)
    payload = auth.open(
        request.cookies.get(auth.session_cookie), auth.settings.console_session_ttl_s
    )
    if payload is not None:
        request.state.console_session = payload
    return payload


def _user_of(payload: dict[str, Any]) -> ConsoleUser | None:
    try:
        return ConsoleUser(
            subject=str(payload["sub"]),
            name=str(payload["name"]),
            role=Role(payload["role"]),
            national_security=bool(payload["ns"]),
        )
    except (KeyError, ValueError):
        return None


def _start_session(auth: ConsoleAuth, response: Response, user: ConsoleUser) -> None:
    now = int(time.time())
    ttl = auth.settings.console_session_ttl_s
    payload = {
        "sub": user.subject,
        "name": user.name,
        "role": user.role.value,
        "ns": user.national_security,
        "csrf": secrets.token_urlsafe(32),
        "iat": now,
        "exp": now + ttl,
    }
    _set_cookie(auth, response, auth.session_cookie, auth.seal(payload), ttl)
    log.info("console_signed_in", role=user.role.value, subject=_subject_digest(user.subject))


def _set_cookie(auth: ConsoleAuth, response: Response, name: str, value: str, ttl: int) -> None:
    response.set_cookie(
        name, value, max_age=ttl, path="/", secure=auth.secure, httponly=True, samesite="lax"
    )


def _clear_cookie(auth: ConsoleAuth, response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", secure=auth.secure, httponly=True, samesite="lax")


def _relative_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def session_user(request: Request) -> ConsoleUser | None:
    """The signed-in user, or None without a valid session (error pages use it to show
    who is signed in; routes depend on :func:`signed_in_user`)."""
    payload = _session(request)
    return _user_of(payload) if payload is not None else None


async def signed_in_user(request: Request) -> ConsoleUser:
    """The signed-in user; without a valid session, a 303 to ``/signin?next=<path>``
    (and ``HX-Redirect`` for htmx, which would otherwise swap the sign-in into a part of
    the page)."""
    user = session_user(request)
    if user is None:
        target = "/signin?" + urlencode({"next": safe_next_path(_relative_path(request))})
        raise HTTPException(status_code=303, headers={"Location": target, "HX-Redirect": target})
    return user


def csrf_token(request: Request) -> str:
    """The session's CSRF token, for a form's hidden ``csrf_token`` field (or an htmx
    request's ``X-CSRF-Token`` header). Without a session: 303 to sign in."""
    payload = _session(request)
    if payload is None or not isinstance(payload.get("csrf"), str):
        raise HTTPException(status_code=303, headers={"Location": "/signin"})
    token: str = payload["csrf"]
    return token


async def require_csrf(request: Request) -> None:
    """Refuse (403 problem) a state-changing request whose ``csrf_token`` form field or
    ``X-CSRF-Token`` header is not this session's token."""
    payload = _session(request)
    expected = payload.get("csrf") if payload else None
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not (
        isinstance(expected, str)
        and given is not None
        and hmac.compare_digest(expected.encode(), given.encode())
    ):
        raise CsrfRefused()


class CsrfRefused(HTTPException):
    def __init__(self) -> None:
        super().__init__(
            status_code=403,
            detail="this form is stale or was not sent by the console: reload the page and retry",
        )


# --- pages -----------------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Docket</title></head>
<body><main><h1>{title}</h1>{body}</main></body></html>
"""
#: No scripts or styles at all on the sign-in pages; forms post only to the console.
PAGE_CSP: Final = "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        _PAGE.format(title=html.escape(title), body=body),
        status_code=status,
        headers={
            "Content-Security-Policy": PAGE_CSP,
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _refused(reason: str, status: int = 403) -> HTMLResponse:
    body = f'<p>{html.escape(reason)}.</p><p><a href="/signin">Sign in again</a></p>'
    return _page("Sign-in refused", body, status)


# --- routes ----------------------------------------------------------------------------

router = APIRouter(tags=["sign-in"], include_in_schema=False)
NextPath = Annotated[str, Query(alias="next", max_length=2000)]


@router.get("/signin")
async def sign_in(auth: Auth, request: Request, next_path: NextPath = "/") -> Response:
    """Send the browser to the identity provider (or, in development mode with none
    configured, to the local sign-in)."""
    if not auth.uses_provider:
        return RedirectResponse(
            "/signin/dev?" + urlencode({"next": safe_next_path(next_path)}), status_code=303
        )
    pending = new_pending_sign_in(next_path, SIGN_IN_LIFETIME_S)
    try:
        async with _client(auth) as client:
            document = await auth.discovery(client)
    except SignInRefused as refusal:
        return _refused(str(refusal), 502)
    settings = auth.settings
    query = urlencode(
        {
            "response_type": "code",
            "client_id": settings.oidc_client_id,
            "redirect_uri": _redirect_uri(auth, request),
            "scope": settings.oidc_scopes,
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": pending.code_challenge,
            "code_challenge_method": "S256",
        }
    )
    response = RedirectResponse(f"{document['authorization_endpoint']}?{query}", status_code=303)
    sealed = auth.seal({**asdict(pending), "exp": pending.expires_at})
    _set_cookie(auth, response, auth.pending_cookie, sealed, SIGN_IN_LIFETIME_S)
    return response


def _redirect_uri(auth: ConsoleAuth, request: Request) -> str:
    base = auth.settings.console_public_url or str(request.base_url)
    return base.rstrip("/") + "/signin/callback"


def _pending(auth: ConsoleAuth, request: Request) -> PendingSignIn | None:
    payload = auth.open(request.cookies.get(auth.pending_cookie), SIGN_IN_LIFETIME_S)
    if payload is None:
        return None
    payload.pop("exp", None)
    try:
        return PendingSignIn(**payload)
    except TypeError:
        return None


@router.get("/signin/callback")
async def sign_in_callback(
    auth: Auth,
    request: Request,
    code: Annotated[str | None, Query(max_length=4096)] = None,
    state: Annotated[str | None, Query(max_length=512)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The provider's answer: check the state, exchange the code, check the ID token,
    map the role, start the session."""
    if not auth.uses_provider:
        raise HTTPException(status_code=404)
    pending = _pending(auth, request)
    if pending is None:
        return _refused("this sign-in expired or was started in another browser", 400)
    if not state_matches(pending, state) or not auth.use_state(pending.state, pending.expires_at):
        log.warning("console_sign_in_refused", reason="state")
        return _refused("this sign-in answer does not belong to this browser's sign-in", 400)
    if error is not None or code is None:
        log.info("console_sign_in_refused", reason="provider", error=error)
        return _refused("the identity provider did not sign you in", 401)
    try:
        user = await _user_from_code(auth, request, pending, code)
    except SignInRefused as refusal:
        log.warning("console_sign_in_refused", reason=str(refusal))
        refused = _refused(str(refusal))
        _clear_cookie(auth, refused, auth.pending_cookie)
        return refused
    response = RedirectResponse(pending.next_path, status_code=303)
    _clear_cookie(auth, response, auth.pending_cookie)
    _start_session(auth, response, user)
    return response


async def _user_from_code(
    auth: ConsoleAuth, request: Request, pending: PendingSignIn, code: str
) -> ConsoleUser:
    settings = auth.settings
    issuer, client_id, secret = (
        settings.oidc_issuer,
        settings.oidc_client_id,
        settings.oidc_client_secret,
    )
    assert issuer is not None
    assert client_id is not None
    assert secret is not None
    async with _client(auth) as client:
        document = await auth.discovery(client)
        try:
            answer = await client.post(
                document["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": _redirect_uri(auth, request),
                    "code_verifier": pending.code_verifier,
                },
                auth=(client_id, secret.get_secret_value()),
                headers={"Accept": "application/json"},
            )
            tokens = answer.json()
        except (httpx.HTTPError, ValueError) as failure:
            raise SignInRefused(
                "the identity provider's token endpoint did not answer"
            ) from failure
        if answer.status_code != 200 or not isinstance(tokens, dict):
            problem = tokens.get("error") if isinstance(tokens, dict) else None
            log.warning("console_token_exchange_refused", status=answer.status_code, error=problem)
            raise SignInRefused("the identity provider refused to complete the sign-in")
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise SignInRefused("the identity provider sent no ID token")
        keys = await auth.jwks(client)
        try:
            claims = validate_id_token(
                id_token, keys, issuer=issuer, client_id=client_id, nonce=pending.nonce
            )
        except SignInRefused:  # the provider may have rotated its keys since
            fresh = await auth.jwks(client, refresh=True)
            if fresh == keys:
                raise
            claims = validate_id_token(
                id_token, fresh, issuer=issuer, client_id=client_id, nonce=pending.nonce
            )
        claims = await _with_userinfo(client, document, tokens, claims, settings.oidc_role_claim)
    return user_from_claims(
        claims,
        role_claim=settings.oidc_role_claim,
        role_map=settings.oidc_role_map,
        national_security_claim=settings.oidc_national_security_claim,
        national_security_value=settings.oidc_national_security_value,
    )


async def _with_userinfo(
    client: httpx.AsyncClient,
    document: dict[str, Any],
    tokens: dict[str, Any],
    claims: dict[str, Any],
    role_claim: str,
) -> dict[str, Any]:
    """The ID token's claims, completed from the UserInfo endpoint when the role claim
    is not in the token (providers that keep groups out of ID tokens); UserInfo's
    ``sub`` must be the token's (OpenID Connect Core 1.0 section 5.3.2)."""
    endpoint = document.get("userinfo_endpoint")
    access_token = tokens.get("access_token")
    if role_claim in claims or not isinstance(endpoint, str) or not isinstance(access_token, str):
        return claims
    try:
        answer = await client.get(endpoint, headers={"Authorization": f"Bearer {access_token}"})
        info = answer.json() if answer.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):
        return claims
    if not isinstance(info, dict) or info.get("sub") != claims["sub"]:
        return claims
    return {**info, **claims}


@router.post("/signout", dependencies=[Depends(require_csrf)])
async def sign_out(auth: Auth) -> Response:
    """End the console's session (the identity provider's own session is the
    provider's business)."""
    response = _page(
        "Signed out", '<p>You are signed out of Docket.</p><p><a href="/signin">Sign in</a></p>'
    )
    _clear_cookie(auth, response, auth.session_cookie)
    return response


def _dev_only(auth: ConsoleAuth) -> None:
    if not auth.settings.development_mode:
        raise HTTPException(status_code=404)


@router.get("/signin/dev")
async def dev_sign_in_form(auth: Auth, next_path: NextPath = "/") -> Response:
    """The local development sign-in: choose a role (development mode only)."""
    _dev_only(auth)
    token = secrets.token_urlsafe(32)
    options = "".join(f'<option value="{role.value}">{role.value}</option>' for role in DEV_ROLES)
    body = f"""
<p><strong>Development sign-in.</strong> This machine runs Docket in development mode
with no identity provider: anyone who reaches it may sign in with any role.
This sign-in is refused outside development mode.</p>
<form method="post" action="/signin/dev">
  <input type="hidden" name="{CSRF_FIELD}" value="{token}">
  <input type="hidden" name="next" value="{html.escape(safe_next_path(next_path))}">
  <p><label for="dev-name">Name</label>
     <input id="dev-name" name="name" required maxlength="100" value="Local developer"></p>
  <p><label for="dev-role">Role</label>
     <select id="dev-role" name="role">{options}</select></p>
  <p><input id="dev-ns" type="checkbox" name="national_security" value="true">
     <label for="dev-ns">National-security access</label></p>
  <p><button type="submit">Sign in for development</button></p>
</form>"""
    response = _page("Development sign-in", body)
    pending = {"dev_csrf": token, "exp": int(time.time()) + SIGN_IN_LIFETIME_S}
    _set_cookie(auth, response, auth.pending_cookie, auth.seal(pending), SIGN_IN_LIFETIME_S)
    return response


@router.post("/signin/dev")
async def dev_sign_in(
    auth: Auth,
    request: Request,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    role: Annotated[Role, Form()],
    csrf: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)],
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "/",
    national_security: Annotated[bool, Form()] = False,
) -> Response:
    """Sign in locally with the chosen role (development mode only)."""
    _dev_only(auth)
    pending = auth.open(request.cookies.get(auth.pending_cookie), SIGN_IN_LIFETIME_S)
    expected = pending.get("dev_csrf") if pending else None
    if not isinstance(expected, str) or not hmac.compare_digest(expected.encode(), csrf.encode()):
        raise CsrfRefused()
    if role not in DEV_ROLES:
        return _refused(f"the development sign-in offers {', '.join(DEV_ROLES)} only", 422)
    user = ConsoleUser(
        subject=f"dev-{hashlib.sha256(name.encode()).hexdigest()[:16]}",
        name=name.strip() or "Local developer",
        role=role,
        national_security=national_security,
    )
    response = RedirectResponse(safe_next_path(next_path), status_code=303)
    _clear_cookie(auth, response, auth.pending_cookie)
    _start_session(auth, response, user)
    return response
