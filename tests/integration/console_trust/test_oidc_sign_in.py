"""The console's sign-in against a real OpenID Connect provider (panva's oidc-provider,
``tests/fixtures/oidc.py``): the whole authorization code flow with PKCE, driven with
httpx through the provider's own login and consent pages, into a tiny app mounting the
console's router; roles and national-security access from claims; a user with no
mapped role refused with a page; replayed and forged states, and ID tokens that were
tampered with, expired, for another nonce or another client, refused; CSRF."""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from services.console.oidc import SignInRefused, code_challenge, validate_id_token
from tests.fixtures.oidc import SCOPES, OidcProvider
from tests.integration.console_trust.signin_app import (
    forms_of,
    redirect_to_callback,
    sign_in_as,
    start_signin_app,
)

pytestmark = pytest.mark.integration


def _who(response: httpx.Response) -> tuple[str, str]:
    assert response.status_code == 200, response.text
    text = response.text
    role = text.split('data-role="', 1)[1].split('"', 1)[0]
    national_security = text.split('data-national-security="', 1)[1].split('"', 1)[0]
    return role, national_security


async def test_the_code_flow_signs_in_through_the_real_provider(
    oidc_provider: OidcProvider,
) -> None:
    app, _client = await start_signin_app(oidc_provider)
    try:
        async with httpx.AsyncClient(follow_redirects=True, timeout=20) as http:
            # a page without a session sends to sign-in, keeping only the path
            first = await http.get(f"{app.url}/whoami?tab=history", follow_redirects=False)
            assert first.status_code == 303
            assert first.headers["location"] == "/signin?next=%2Fwhoami%3Ftab%3Dhistory"

            signin = await http.get(f"{app.url}/signin", follow_redirects=False)
            authorize = urlsplit(signin.headers["location"])
            query = {k: v[0] for k, v in parse_qs(authorize.query).items()}
            assert f"{authorize.scheme}://{authorize.netloc}" == oidc_provider.issuer
            assert query["code_challenge_method"] == "S256"
            assert len(query["code_challenge"]) == 43
            assert len(query["state"]) >= 43
            assert len(query["nonce"]) >= 43
            assert query["response_type"] == "code"
            cookie = signin.headers["set-cookie"]
            assert "HttpOnly" in cookie
            assert "samesite=lax" in cookie.lower()
            assert query["state"] not in cookie  # the pending sign-in is encrypted

            done = await sign_in_as(http, f"{app.url}/whoami?tab=history", "counsel")
            assert str(done.url) == f"{app.url}/whoami?tab=history"
            assert _who(done) == ("legal", "false")
            session = next(c for c in http.cookies.jar if c.name == "docket_session")
            assert "Casey" not in (session.value or "")
            assert "counsel" not in (session.value or "")

            # CSRF: the form's token passes, none or another's is refused with a problem
            token = done.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            acted = await http.post(f"{app.url}/act", data={"csrf_token": token})
            assert acted.json() == {"done_by": "legal"}
            header = await http.post(f"{app.url}/act", headers={"X-CSRF-Token": token})
            assert header.status_code == 200
            for forged in ({}, {"csrf_token": token[:-2] + "xx"}):
                refused = await http.post(f"{app.url}/act", data=forged)
                assert refused.status_code == 403
                assert refused.headers["content-type"] == "application/problem+json"

            # signing out ends the session
            out = await http.post(f"{app.url}/signout", data={"csrf_token": token})
            assert out.status_code == 200
            after = await http.get(f"{app.url}/whoami", follow_redirects=False)
            assert after.status_code == 303
    finally:
        await app.stop()


async def test_roles_and_national_security_come_from_the_configured_claims(
    oidc_provider: OidcProvider,
) -> None:
    app, _ = await start_signin_app(oidc_provider)
    groups, _ = await start_signin_app(
        oidc_provider,
        oidc_role_claim="groups",
        oidc_role_map={"docket-legal": "legal", "oncall": "reader"},
        oidc_national_security_claim="groups",
        oidc_national_security_value="natsec-cleared",
    )
    try:
        expected = [
            (app, "counsel", ("legal", "false")),
            (app, "natsec-counsel", ("legal", "true")),
            (app, "analyst", ("reader", "false")),
            (app, "auditor", ("auditor", "false")),  # auditor wins over reader
            (groups, "counsel", ("legal", "false")),
            (groups, "natsec-counsel", ("legal", "true")),
            (groups, "analyst", ("reader", "false")),
        ]
        for running, login, roles in expected:
            async with httpx.AsyncClient(follow_redirects=True, timeout=20) as http:
                done = await sign_in_as(http, f"{running.url}/whoami", login)
                assert _who(done) == roles, (running.url, login)

        # no mapped role: a page saying so, and no session
        for running, login in ((app, "outsider"), (groups, "auditor")):
            async with httpx.AsyncClient(follow_redirects=True, timeout=20) as http:
                refused = await sign_in_as(http, f"{running.url}/whoami", login)
                assert refused.status_code == 403
                assert "text/html" in refused.headers["content-type"]
                assert "no role in Docket" in refused.text
                assert all(c.name != "docket_session" for c in http.cookies.jar)
    finally:
        await app.stop()
        await groups.stop()


async def test_a_replayed_or_forged_state_is_refused(oidc_provider: OidcProvider) -> None:
    app, _ = await start_signin_app(oidc_provider)
    try:
        pending_cookies: list[str] = []

        async def keep_pending(response: httpx.Response) -> None:
            if "docket_signin" in response.cookies:
                pending_cookies.append(response.cookies["docket_signin"])

        hooks = {"response": [keep_pending]}
        async with httpx.AsyncClient(follow_redirects=True, timeout=20, event_hooks=hooks) as http:
            done = await sign_in_as(http, f"{app.url}/whoami", "counsel")
            assert _who(done)[0] == "legal"
            callback = redirect_to_callback(done)
        pending = pending_cookies[0]
        # the same answer again, even with the browser's old sign-in cookie: refused
        async with httpx.AsyncClient(timeout=20, cookies={"docket_signin": pending}) as replay:
            again = await replay.get(callback)
            assert again.status_code == 400
            assert "does not belong" in again.text
            assert "docket_session" not in again.cookies
        # no sign-in cookie at all (another browser): refused
        async with httpx.AsyncClient(timeout=20) as stranger:
            alone = await stranger.get(callback)
            assert alone.status_code == 400
        # a state the browser did not start: refused before the code is used
        async with httpx.AsyncClient(follow_redirects=True, timeout=20) as http:
            signin = await http.get(f"{app.url}/signin", follow_redirects=False)
            assert signin.status_code == 303
            forged = await http.get(
                f"{app.url}/signin/callback", params={"code": "x", "state": "not-the-state"}
            )
            assert forged.status_code == 400
    finally:
        await app.stop()


def _authorize_url(provider: OidcProvider, nonce: str, **pkce: str) -> str:
    """The provider's authorization endpoint for its registered client."""
    client = provider.client
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": SCOPES,
        "state": "s",
        "nonce": nonce,
    }
    return f"{provider.issuer}/auth?{urlencode(query | pkce)}"


async def _real_id_token(provider: OidcProvider, nonce: str) -> tuple[str, dict[str, Any]]:
    """An ID token the provider issued to its registered client, by the code flow run
    here as the client (the redirect to its callback is read, not followed), and the
    provider's JWKS."""
    client = provider.client
    verifier = secrets.token_urlsafe(32)
    challenge = {"code_challenge": code_challenge(verifier), "code_challenge_method": "S256"}
    async with httpx.AsyncClient(timeout=20) as http:
        response = await http.get(_authorize_url(provider, nonce, **challenge))
        for _ in range(12):
            location = response.headers.get("location")
            if location and location.startswith(client.redirect_uri):
                break
            if location:
                response = await http.get(str(response.url.join(location)))
                continue
            action, _, fields = forms_of(response.text)[0]
            if "login" in fields:
                fields |= {"login": "counsel", "password": "x"}
            response = await http.post(str(response.url.join(action)), data=fields)
        code = parse_qs(urlsplit(location or "").query)["code"][0]
        tokens = await http.post(
            f"{provider.issuer}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": client.redirect_uri,
                "code_verifier": verifier,
            },
            auth=(client.client_id, client.client_secret),
        )
        assert tokens.status_code == 200, tokens.text
        id_token: str = tokens.json()["id_token"]
        jwks = (await http.get(f"{provider.issuer}/jwks")).json()
    return id_token, jwks


def _tampered(token: str, change: dict[str, Any]) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps(claims | change).encode()).rstrip(b"=")
    return f"{header}.{forged.decode()}.{signature}"


async def test_id_tokens_of_the_real_provider_are_checked(oidc_provider: OidcProvider) -> None:
    nonce = secrets.token_urlsafe(16)
    token, jwks = await _real_id_token(oidc_provider, nonce)
    expected: dict[str, Any] = {
        "issuer": oidc_provider.issuer,
        "client_id": oidc_provider.client.client_id,
        "nonce": nonce,
    }
    claims = validate_id_token(token, jwks, **expected)
    assert claims["sub"] == "counsel"
    assert claims["docket_roles"] == ["legal"]

    refusals: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
        "signature": (_tampered(token, {"docket_roles": ["legal", "auditor"]}), expected, {}),
        "nonce": (token, expected | {"nonce": "another-sign-in"}, {}),
        "audience": (token, expected | {"client_id": "another-app"}, {}),
        "issuer": (token, expected | {"issuer": "http://127.0.0.1:1"}, {}),
        "expired": (token, expected, {"now": claims["exp"] + 3600}),
        "not yet": (token, expected, {"now": claims["iat"] - 3600}),
    }
    accepted = []
    for why, (candidate, check, when) in refusals.items():
        try:
            validate_id_token(candidate, jwks, **check, **when)
        except SignInRefused:
            continue
        accepted.append(why)
    assert not accepted, f"accepted ID tokens with the wrong {accepted}"
    # another provider's keys do not verify it
    other = {"keys": [k | {"n": jwks["keys"][0]["n"][::-1]} for k in jwks["keys"]]}
    with pytest.raises(SignInRefused):
        validate_id_token(token, other, **expected)
    assert claims["exp"] > time.time()


async def test_the_provider_itself_requires_pkce(oidc_provider: OidcProvider) -> None:
    async with httpx.AsyncClient(timeout=20) as http:
        response = await http.get(_authorize_url(oidc_provider, "n"))
    assert response.status_code in (302, 303)
    assert "error=invalid_request" in response.headers["location"]
    assert "requires+PKCE" in response.headers["location"]
