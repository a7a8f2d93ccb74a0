"""The FastAPI dependency that authenticates and authorises a call from the policy table.

A service installs a :class:`Guard` as ``app.state.guard`` (:func:`install_guard`); its
routes take ``Annotated[Authorised, Depends(authorise)]``. The dependency finds the
route's entry in ``shared.auth.policy`` by method and path template and answers:

- ``401`` with ``WWW-Authenticate``: no ``Authorization: Bearer`` key, or an unknown or
  revoked one;
- ``429`` with ``Retry-After``: the client used up its rate limit;
- ``403``: the key's role may not call this route (a route missing from the table is
  refused for everyone: fail closed).

What a role may see of a request (its organisation, the national-security scope) is
the route's business, through :func:`shared.auth.policy.may_see`; it answers ``404``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from shared.auth.cache import CredentialCache, RateLimiter
from shared.auth.keys import Principal
from shared.auth.policy import Reach, policy_for, reach_of
from shared.problems import problem_response

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="A Docket API key (`docket keys create`), sent as `Authorization: Bearer <key>`.",
)


@dataclass(frozen=True)
class Guard:
    service: str
    credentials: CredentialCache
    limiter: RateLimiter


@dataclass(frozen=True)
class Authorised:
    """The caller and how far it reaches on the route it called."""

    principal: Principal
    reach: Reach


class AuthProblem(Exception):
    """401, 403 or 429, answered as a problem document."""

    def __init__(self, status: int, detail: str, retry_after_s: int | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.retry_after_s = retry_after_s


async def authorise(
    request: Request,
    token: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Authorised:
    guard: Guard = request.app.state.guard
    route = request.scope.get("route")
    policy = policy_for(guard.service, request.method, getattr(route, "path", ""))
    if token is None:
        raise AuthProblem(401, "send an API key as 'Authorization: Bearer <key>'")
    principal = await guard.credentials.principal(SecretStr(token.credentials))
    if principal is None:
        raise AuthProblem(401, "the API key is unknown or revoked")
    structlog.contextvars.bind_contextvars(client_id=principal.client_id)
    wait_s = guard.limiter.wait_s(principal.client_id)
    if wait_s > 0:
        retry = max(1, math.ceil(wait_s))
        raise AuthProblem(429, f"rate limit reached; retry in {retry} s", retry_after_s=retry)
    reach = None if policy is None else reach_of(policy, principal)
    if reach is None:
        raise AuthProblem(
            403, f"a {principal.role.value} key may not call {request.method} this route"
        )
    return Authorised(principal, reach)


Caller = Annotated[Authorised, Depends(authorise)]


def install_guard(app: FastAPI, guard: Guard) -> None:
    """``guard`` for :func:`authorise`, and the answers of :class:`AuthProblem`."""
    app.state.guard = guard

    @app.exception_handler(AuthProblem)
    async def auth_problem(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, AuthProblem)
        if error.status == 401:
            return problem_response(
                401,
                error.detail,
                headers={"WWW-Authenticate": f'Bearer realm="docket-{guard.service}"'},
            )
        if error.status == 429:
            return problem_response(
                429,
                error.detail,
                headers={"Retry-After": str(error.retry_after_s or 1)},
            )
        return problem_response(403, error.detail)
