"""The console's frame without the rest of Docket: the local sign-in only in development
mode, CSRF on its form, a safe redirect after it, the security headers, and refused
configurations."""

from __future__ import annotations

import re

import httpx
import pytest
from pydantic import SecretStr

from services.console.app import CONTENT_SECURITY_POLICY, create_app
from shared.settings import ConsoleSettings

SETTINGS = ConsoleSettings(
    console_api_key=SecretStr("k" * 40),
    console_session_secret=SecretStr("s3cr3t-" + "x9Q2" * 10),
    development_mode=False,
)


def client_of(settings: ConsoleSettings) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(settings))
    return httpx.AsyncClient(transport=transport, base_url="http://console")


async def test_outside_development_mode_there_is_no_local_sign_in() -> None:
    async with client_of(SETTINGS) as client:
        assert (await client.get("/signin/dev")).status_code == 404
        assert (await client.post("/signin/dev", data={"role": "legal"})).status_code == 403
        page = await client.get("/queue")
        assert page.status_code == 303
        assert page.headers["location"] == "/signin?next=/queue"
        assert (await client.get("/signin")).status_code == 503  # no provider configured


def test_a_missing_weak_or_placeholder_session_secret_is_refused_in_production() -> None:
    for secret in (None, SecretStr("short"), SecretStr("change-me-" * 5)):
        with pytest.raises(ValueError, match="SESSION_SECRET"):
            create_app(SETTINGS.model_copy(update={"console_session_secret": secret}))
    with pytest.raises(ValueError, match="CONSOLE_API_KEY"):
        create_app(SETTINGS.model_copy(update={"console_api_key": None}))


async def test_the_local_sign_in_needs_its_forms_token_and_stays_on_this_site() -> None:
    development = SETTINGS.model_copy(update={"development_mode": True})
    async with client_of(development) as client:
        form = await client.get("/signin/dev?next=/requests/abc")
        assert form.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert form.headers["x-frame-options"] == "DENY"
        assert form.headers["cache-control"] == "no-store"
        match = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert match
        fields = {"role": "legal", "name": "Ada", "next": "https://evil.example/"}
        refused = await client.post("/signin/dev", data={**fields, "csrf_token": "forged"})
        assert refused.status_code == 403
        answer = await client.post("/signin/dev", data={**fields, "csrf_token": match.group(1)})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/"  # never off the site
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "samesite=lax" in cookie.lower()
        # a session for a submitter (an agency portal) is never made
        client.cookies.clear()
        again = await client.get("/signin/dev")
        token = re.search(r'name="csrf_token" value="([^"]+)"', again.text)
        assert token
        portal = await client.post(
            "/signin/dev", data={"role": "submitter", "csrf_token": token.group(1)}
        )
        assert portal.status_code == 422


async def test_a_tampered_session_cookie_is_no_session() -> None:
    development = SETTINGS.model_copy(update={"development_mode": True})
    async with client_of(development) as client:
        form = await client.get("/signin/dev")
        match = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert match
        await client.post("/signin/dev", data={"role": "reader", "csrf_token": match.group(1)})
        value = client.cookies["docket_console_session"]
        body, _, mac = value.rpartition(".")
        client.cookies.set("docket_console_session", body[:-2] + "AA." + mac)
        page = await client.get("/report")
        assert page.status_code == 303
        assert page.headers["location"].startswith("/signin")


async def test_a_mistyped_query_is_answered_as_a_page_naming_the_field() -> None:
    development = SETTINGS.model_copy(update={"development_mode": True})
    async with client_of(development) as client:
        form = await client.get("/signin/dev")
        match = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert match
        await client.post("/signin/dev", data={"role": "reader", "csrf_token": match.group(1)})
        page = await client.get("/report?from=last-year")
        assert page.status_code == 422
        assert page.headers["content-type"].startswith("text/html")
        assert "from: Input should be a valid date" in page.text
