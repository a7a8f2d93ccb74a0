"""A person signs in to the console's sign-in router in real chromium, through the real
OpenID Connect provider's own login and consent pages, uses a CSRF-protected form and
signs out; the development sign-in is refused for an app outside development mode."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from playwright.async_api import Browser

from shared.settings import ConsoleAuthSettings
from tests.fixtures.oidc import OidcProvider
from tests.integration.console_trust.signin_app import signin_app, start_signin_app

pytestmark = pytest.mark.integration


async def test_signing_in_through_the_providers_login_page(
    oidc_provider: OidcProvider, browser: Browser
) -> None:
    app, _ = await start_signin_app(oidc_provider)
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(f"{app.url}/whoami")
        # the provider's own login page
        assert page.url.startswith(f"{oidc_provider.issuer}/interaction/")
        await page.fill("input[name=login]", "natsec-counsel")
        await page.fill("input[name=password]", "any password")
        await page.click("button[type=submit]")
        # its consent page
        await page.wait_for_url(f"{oidc_provider.issuer}/interaction/**")
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{app.url}/whoami")
        who = page.locator("#who")
        assert await who.inner_text() == "Signed in as Noor Natsec (legal)"
        assert await who.get_attribute("data-national-security") == "true"
        cookies = {c["name"]: c for c in await context.cookies(app.url)}
        assert cookies["docket_session"]["httpOnly"]
        assert cookies["docket_session"]["sameSite"] == "Lax"
        # nothing personal in any address the browser went through
        assert "Noor" not in page.url

        await page.click("text=Act")
        assert '"done_by":"legal"' in await page.content()
        await page.go_back()
        await page.click("text=Sign out")
        assert "You are signed out" in await page.content()
        cookies = {c["name"]: c for c in await context.cookies(app.url)}
        assert "docket_session" not in cookies
    finally:
        await context.close()
        await app.stop()


def test_the_development_sign_in_exists_only_in_development_mode() -> None:
    # what the environment could not produce (an https issuer is not reached here)
    development = ConsoleAuthSettings(development_mode=True)
    production = ConsoleAuthSettings.model_construct(
        **development.model_dump()
        | {"development_mode": False, "oidc_issuer": "https://idp.example.org"}
    )
    with TestClient(signin_app(production)) as client:
        assert client.get("/signin/dev").status_code == 404
        refused = client.post("/signin/dev", data={"name": "x", "role": "legal"})
        assert refused.status_code in (404, 422)
        assert client.get("/whoami", follow_redirects=False).status_code == 303

    with TestClient(signin_app(development)) as client:
        assert client.get("/signin", follow_redirects=False).headers["location"] == (
            "/signin/dev?next=%2F"
        )
        form = client.get("/signin/dev?next=/whoami")
        assert form.status_code == 200
        assert "Development sign-in" in form.text
        assert "refused outside development mode" in form.text
        token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        # the form's token is required: another's is refused
        forged = client.post(
            "/signin/dev",
            data={"name": "Dev", "role": "reader", "csrf_token": "x", "next": "/whoami"},
            follow_redirects=False,
        )
        assert forged.status_code == 403
        signed = client.post(
            "/signin/dev",
            data={"name": "Dev", "role": "reader", "csrf_token": token, "next": "/whoami"},
            follow_redirects=False,
        )
        assert signed.status_code == 303
        assert signed.headers["location"] == "/whoami"
        who = client.get("/whoami")
        assert "Signed in as Dev (reader)" in who.text
