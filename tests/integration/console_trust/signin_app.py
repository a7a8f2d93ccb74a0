"""A tiny app that mounts the console's sign-in router and one protected page and one
CSRF-protected form, run on a real server for the sign-in tests; and a person's way
through the provider's login and consent pages, with httpx."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse

from services.console.auth import (
    ConsoleUser,
    configure_auth,
    csrf_token,
    require_csrf,
    router,
    signed_in_user,
)
from shared.problems import install_problems
from shared.settings import ConsoleAuthSettings
from tests.fixtures.oidc import SCOPES, OidcClient, OidcProvider
from tests.fixtures.servers import RunningService, free_port, start_service

User = Annotated[ConsoleUser, Depends(signed_in_user)]


def signin_app(settings: ConsoleAuthSettings) -> FastAPI:
    app = FastAPI()
    install_problems(app)
    configure_auth(app, settings)
    app.include_router(router)

    @app.get("/whoami", response_class=HTMLResponse)
    async def whoami(user: User, request: Request) -> str:
        token = html.escape(csrf_token(request))
        return (
            f'<main><p id="who" data-role="{user.role.value}"'
            f' data-national-security="{str(user.national_security).lower()}">'
            f"Signed in as {html.escape(user.name)} ({user.role.value})</p>"
            f'<form method="post" action="/act"><input type="hidden" name="csrf_token"'
            f' value="{token}"><button>Act</button></form>'
            f'<form method="post" action="/signout"><input type="hidden" name="csrf_token"'
            f' value="{token}"><button>Sign out</button></form></main>'
        )

    @app.post("/act", dependencies=[Depends(require_csrf)])
    async def act(user: User, note: Annotated[str | None, Form()] = None) -> dict[str, str]:
        # the form read by the CSRF check is still the route's to read
        return {"done_by": user.role.value} | ({"note": note} if note else {})

    return app


def provider_settings(
    provider: OidcProvider, client: OidcClient, **overrides: Any
) -> ConsoleAuthSettings:
    """Sign-in against the test provider (plain http on 127.0.0.1: development mode)."""
    values: dict[str, Any] = {
        "development_mode": True,
        "oidc_issuer": provider.issuer,
        "oidc_client_id": client.client_id,
        "oidc_client_secret": client.client_secret,
        "oidc_scopes": SCOPES,
        "console_session_secret": "test-session-secret-" + "x7Kq2" * 4,
    }
    return ConsoleAuthSettings(**(values | overrides))


async def start_signin_app(
    provider: OidcProvider, **overrides: Any
) -> tuple[RunningService, OidcClient]:
    """The tiny app on a free port, with a client of its own registered at the provider."""
    port = free_port()
    client = await provider.register_client(f"http://127.0.0.1:{port}/signin/callback")
    app = signin_app(provider_settings(provider, client, **overrides))
    return await start_service("signin-app", app, port, with_admin=False), client


class _Forms(HTMLParser):
    """The forms of a page: (action, method, {field: value})."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((values.get("action", ""), values.get("method", "get"), {}))
        elif tag == "input" and self.forms and "name" in values:
            self.forms[-1][2][values["name"]] = values.get("value", "")


def forms_of(page: str) -> list[tuple[str, str, dict[str, str]]]:
    parser = _Forms()
    parser.feed(page)
    return parser.forms


async def sign_in_as(
    http: httpx.AsyncClient, start_url: str, login: str, password: str = "any-password"
) -> httpx.Response:
    """Open ``start_url`` and go through the provider's login and consent pages as a
    person would; the answer once back at the app (every redirect followed)."""
    response = await http.get(start_url)
    for _ in range(4):
        pages = forms_of(response.text) if "/interaction/" in str(response.url) else []
        if not pages:
            return response
        action, _method, fields = pages[0]
        if "login" in fields:
            fields |= {"login": login, "password": password}
        response = await http.post(str(response.url.join(action)), data=fields)
    raise AssertionError(f"stuck at the provider: {response.url}")


def redirect_to_callback(response: httpx.Response) -> str:
    """The provider's redirect back to the app's callback, from a followed sign-in."""
    for step in response.history:
        location = step.headers.get("location", "")
        if re.search(r"/signin/callback\?", location):
            return str(step.url.join(location))
    raise AssertionError("no redirect to the callback")
