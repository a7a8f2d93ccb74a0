"""The console's session cookie and CSRF protection (``services/console/auth.py``), on
an app that mounts the sign-in router, signed in with the development sign-in."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.console.auth import ConsoleAuth
from shared.settings import ConsoleAuthSettings
from tests.integration.console_trust.signin_app import signin_app

SECRET = "unit-session-secret-Qm4xT9vB2nL7wK0p"


def _signed_in(client: TestClient, role: str = "legal", ns: bool = False) -> str:
    """Sign in with the development sign-in; the session's CSRF token."""
    form = client.get("/signin/dev")
    token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    data = {"name": "Unit Tester", "role": role, "csrf_token": token, "next": "/whoami"}
    if ns:
        data["national_security"] = "true"
    page = client.post("/signin/dev", data=data)
    assert page.status_code == 200, page.text
    token_now: str = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return token_now


@pytest.fixture
def client() -> Iterator[TestClient]:
    settings = ConsoleAuthSettings(development_mode=True, console_session_secret=SECRET)
    with TestClient(signin_app(settings)) as opened:
        yield opened


def test_a_form_needs_this_sessions_token(client: TestClient) -> None:
    token = _signed_in(client)
    assert client.post("/act", data={"csrf_token": token}).json() == {"done_by": "legal"}
    noted = client.post("/act", data={"csrf_token": token, "note": "checked"})
    assert noted.json() == {"done_by": "legal", "note": "checked"}
    multipart = client.post("/act", files={"csrf_token": (None, token), "note": (None, "m")})
    assert multipart.json() == {"done_by": "legal", "note": "m"}
    assert client.post("/act", headers={"X-CSRF-Token": token}).status_code == 200
    for data in ({}, {"csrf_token": ""}, {"csrf_token": token.upper()}, {"other": token}):
        refused = client.post("/act", data=data)
        assert refused.status_code == 403, data
        assert refused.headers["content-type"] == "application/problem+json"
        assert "reload the page" in refused.json()["detail"]
    # a token in the query string is not a token
    assert client.post(f"/act?csrf_token={token}").status_code == 403

    # another session's token does not pass in this one
    settings = ConsoleAuthSettings(development_mode=True, console_session_secret=SECRET)
    with TestClient(signin_app(settings)) as other:
        other_token = _signed_in(other)
    assert other_token != token
    assert client.post("/act", data={"csrf_token": other_token}).status_code == 403


def test_without_a_valid_session_pages_send_to_sign_in(client: TestClient) -> None:
    answer = client.get("/whoami?tab=notices", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin?next=%2Fwhoami%3Ftab%3Dnotices"
    assert answer.headers["hx-redirect"] == answer.headers["location"]
    token = _signed_in(client)
    assert client.get("/whoami").status_code == 200
    session = client.cookies["docket_session"]
    assert "Unit Tester" not in session  # encrypted, not only signed
    assert token not in session

    # a cookie changed by one character is no session
    changed = session[:-5] + ("A" if session[-5] != "A" else "B") + session[-4:]
    client.cookies.set("docket_session", changed)
    assert client.get("/whoami", follow_redirects=False).status_code == 303
    # nor is one sealed with another secret
    other = ConsoleAuthSettings(development_mode=True, console_session_secret=SECRET[::-1])
    with TestClient(signin_app(other)) as elsewhere:
        _signed_in(elsewhere)
        foreign = elsewhere.cookies["docket_session"]
    client.cookies.set("docket_session", foreign)
    assert client.get("/whoami", follow_redirects=False).status_code == 303
    # nor an expired one
    auth: ConsoleAuth = client.app.state.console_auth  # type: ignore[attr-defined]
    now = int(time.time())
    stale = {"sub": "s", "name": "n", "role": "legal", "ns": False, "csrf": "c", "exp": now - 1}
    client.cookies.set("docket_session", auth.seal(stale))
    assert client.get("/whoami", follow_redirects=False).status_code == 303
    # nor one naming a role Docket does not have
    client.cookies.set("docket_session", auth.seal(stale | {"exp": now + 60, "role": "root"}))
    assert client.get("/whoami", follow_redirects=False).status_code == 303
    # while a good one is
    client.cookies.set("docket_session", auth.seal(stale | {"exp": now + 60}))
    assert client.get("/whoami").status_code == 200


def test_the_session_cookie_is_httponly_lax_and_short(client: TestClient) -> None:
    form = client.get("/signin/dev")
    token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    signed = client.post(
        "/signin/dev",
        data={"name": "A", "role": "auditor", "csrf_token": token},
        follow_redirects=False,
    )
    cookie = next(
        value
        for name, value in signed.headers.multi_items()
        if name == "set-cookie" and value.startswith("docket_session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Max-Age=3600" in cookie
    assert "Secure" not in cookie  # development mode: plain http on this machine
    assert signed.headers["location"] == "/"
    # the development sign-in offers no submitter (an agency is not legal staff)
    submitter = client.post(
        "/signin/dev",
        data={
            "name": "A",
            "role": "submitter",
            **{
                "csrf_token": client.get("/signin/dev")
                .text.split('name="csrf_token" value="', 1)[1]
                .split('"', 1)[0]
            },
        },
    )
    assert submitter.status_code == 422


def test_outside_development_mode_the_cookies_are_secure_host_cookies() -> None:
    production = ConsoleAuthSettings.model_construct(
        **ConsoleAuthSettings(development_mode=True, console_session_secret=SECRET).model_dump()
        | {"development_mode": False, "oidc_issuer": "https://idp.example.org"}
    )
    app = signin_app(production)
    auth: ConsoleAuth = app.state.console_auth
    assert auth.session_cookie == "__Host-docket_session"
    assert auth.pending_cookie == "__Host-docket_signin"
    assert auth.secure
