"""The console's frame without the rest of Docket: the sign-in of ``services/console/auth.py``
wired in (pages send to it; the local sign-in only in development mode), the security
headers, and refused configurations. The sign-in itself: ``tests/unit/console_trust``."""

from __future__ import annotations

import re

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from services.console.app import CONTENT_SECURITY_POLICY, create_app
from shared.settings import ConsoleSettings

VERIFIER_KEY = "docket.example.org/audit+1a2b3c4d+AZmVkY2JhOTg3NjU0MzIxMA=="
SETTINGS = ConsoleSettings(
    console_api_key=SecretStr("k" * 40),
    console_session_secret=SecretStr("s3cr3t-" + "x9Q2" * 10),
    oidc_issuer="https://login.example.org",
    oidc_client_id="docket-console",
    oidc_client_secret=SecretStr("c" * 40),
    console_verifier_key=VERIFIER_KEY,
    development_mode=False,
)
DEVELOPMENT = ConsoleSettings(console_api_key=SecretStr("k" * 40), development_mode=True)


def client_of(settings: ConsoleSettings) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(settings))
    return httpx.AsyncClient(transport=transport, base_url="http://console")


async def sign_in_locally(client: httpx.AsyncClient, role: str) -> None:
    form = await client.get("/signin/dev")
    match = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert match
    answer = await client.post(
        "/signin/dev", data={"role": role, "name": "Ada", "csrf_token": match.group(1)}
    )
    assert answer.status_code == 303


async def test_outside_development_mode_pages_send_to_the_identity_provider_only() -> None:
    async with client_of(SETTINGS) as client:
        assert (await client.get("/signin/dev")).status_code == 404
        page = await client.get("/queue")
        assert page.status_code == 303
        assert page.headers["location"] == "/signin?next=%2Fqueue"
        htmx = await client.get("/report", headers={"HX-Request": "true"})
        assert htmx.headers["hx-redirect"] == "/signin?next=%2Freport"
        assert htmx.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_production_needs_the_api_key_the_pinned_verifier_key_and_a_session_secret() -> None:
    with pytest.raises(ValueError, match="CONSOLE_API_KEY"):
        create_app(SETTINGS.model_copy(update={"console_api_key": None}))
    values = SETTINGS.model_dump()
    for missing, variable in (
        ("console_verifier_key", "VERIFIER_KEY"),
        ("console_session_secret", "SESSION_SECRET"),
        ("oidc_issuer", "OIDC_ISSUER"),
    ):
        with pytest.raises(ValidationError, match=variable):
            ConsoleSettings(**(values | {missing: None}))
    with pytest.raises(ValidationError, match="console_verifier_key"):
        ConsoleSettings(**(values | {"console_verifier_key": "not a key"}))


async def test_a_signed_in_page_carries_the_security_headers_and_the_forms_token() -> None:
    async with client_of(DEVELOPMENT) as client:
        await sign_in_locally(client, "reader")
        page = await client.get("/policy")
        assert page.status_code == 200
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["cache-control"] == "no-store"
        assert re.search(r'name="csrf_token" value="[^"]{20,}"', page.text)
        forged = await client.post("/signout", data={"csrf_token": "forged"})
        assert forged.status_code == 403
        assert "reload the page" in forged.text


async def test_a_mistyped_query_is_answered_as_a_page_naming_the_field() -> None:
    async with client_of(DEVELOPMENT) as client:
        await sign_in_locally(client, "reader")
        page = await client.get("/report?from=last-year")
        assert page.status_code == 422
        assert page.headers["content-type"].startswith("text/html")
        assert "from: Input should be a valid date" in page.text
