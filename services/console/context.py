"""What the console's routes share (``app.state.console``), the signed-in staff member
dependency that checks the access policy, and the page renderer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from services.console.auth import ConsoleUser, csrf_token, signed_in_user
from services.console.upstream import Upstream
from shared.auth.keys import Role
from shared.auth.policy import CONSOLE, policy_for
from shared.settings import ConsoleSettings


class PageProblem(Exception):
    """An error page: 403 (the role may not), 404 (no such request), 502 (upstream)."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


@dataclass
class Console:
    settings: ConsoleSettings
    upstream: Upstream
    templates: Jinja2Templates
    #: Audit's signing key, once read (it does not change while audit runs).
    public_key: dict[str, Any] = field(default_factory=dict)


def console(request: Request) -> Console:
    context: Console = request.app.state.console
    return context


Context = Annotated[Console, Depends(console)]


async def staff(
    request: Request, user: Annotated[ConsoleUser, Depends(signed_in_user)]
) -> ConsoleUser:
    """The signed-in person, if the access policy lets their role call this route."""
    route = request.scope.get("route")
    policy = policy_for(CONSOLE, request.method, getattr(route, "path", ""))
    if policy is None or user.role not in policy.allowed:
        raise PageProblem(403, "Not for your role", f"a {user.role.value} may not open this page")
    return user


Staff = Annotated[ConsoleUser, Depends(staff)]


def render(
    request: Request,
    template: str,
    values: dict[str, Any],
    user: ConsoleUser | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context: Console = request.app.state.console
    response: HTMLResponse = context.templates.TemplateResponse(
        request,
        template,
        {
            "user": user,
            "csrf_token": csrf_token(request) if user is not None else None,
            "now": datetime.now(UTC),
            "is_legal": user is not None and user.role is Role.LEGAL,
            **values,
        },
        status_code=status_code,
    )
    return response
