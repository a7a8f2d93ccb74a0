"""The FastAPI dependency that authenticates and authorises a call from the policy table.

A service installs a :class:`Guard` as ``app.state.guard`` (:func:`install_guard`); its
routes take ``Annotated[Authorised, Depends(authorise)]``. The dependency finds the
route's entry in ``shared.auth.policy`` by method and path template and answers:

- ``401`` with ``WWW-Authenticate``: no ``Authorization: Bearer`` key, or an unknown or
  revoked one;
- ``429`` with ``Retry-After``: the client used up its rate limit;
- ``403``: the key's role may not call this route (a route missing from the table is
  refused for everyone: fail closed), or the call names a person
  (:data:`ACTING_SUBJECT`) the key may not act for.

A key with the delegation right (the web console's, ``docs/console.md``) calls only on
behalf of a signed-in person: its calls carry :data:`ACTING_SUBJECT`,
:data:`ACTING_ROLE` and :data:`ACTING_NATIONAL_SECURITY`, and are authorised, filtered
and recorded as that person (``shared.auth.keys.acting_for``: never above the key's
own role and scope; the author is ``console:<subject>``). Any other key sending them is
refused, and a delegating key that names nobody is refused too.

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
from shared.auth.keys import DelegationRefused, Principal, acting_for
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
    principal = acting_principal(request, principal)
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

#: The headers a delegating key names the person it acts for with.
ACTING_SUBJECT = "Docket-Acting-Subject"
ACTING_ROLE = "Docket-Acting-Role"
ACTING_NATIONAL_SECURITY = "Docket-Acting-National-Security"


def acting_principal(request: Request, key: Principal) -> Principal:
    """``key`` itself, or the person a delegating key acts for; ``403`` when the
    headers and the key do not go together."""
    subject = request.headers.get(ACTING_SUBJECT)
    if subject is None:
        if key.delegates:
            raise AuthProblem(403, f"this key acts only for a person: send {ACTING_SUBJECT}")
        return key
    scope = request.headers.get(ACTING_NATIONAL_SECURITY, "false").strip().lower()
    if scope not in ("true", "false"):
        raise AuthProblem(403, f"{ACTING_NATIONAL_SECURITY} must be true or false")
    try:
        return acting_for(key, subject, request.headers.get(ACTING_ROLE, ""), scope == "true")
    except DelegationRefused as error:
        raise AuthProblem(403, str(error)) from None


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
