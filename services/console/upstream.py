"""How the console calls intake and audit for the signed-in person (``docs/console.md``).

Every call carries the console's own API key (a key with the delegation right,
``docket keys create console --role legal --delegates``) and names the person it acts
for in the headers of ``shared.auth.guard`` (subject, role, national-security scope).
Intake and audit authorise, filter and record the call as that person (``console:<subject>``),
never above the key's own role: the console itself decides nothing about access.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from services.console.auth import ConsoleUser
from shared.auth.guard import ACTING_NATIONAL_SECURITY, ACTING_ROLE, ACTING_SUBJECT


class UpstreamDown(Exception):
    """Intake or audit did not answer (unreachable, timed out, or a 5xx)."""

    def __init__(self, service: str, detail: str) -> None:
        super().__init__(f"{service}: {detail}")
        self.service = service
        self.detail = detail


@dataclass(frozen=True)
class Upstream:
    client: httpx.AsyncClient
    intake_url: str
    audit_url: str
    api_key: SecretStr

    def headers(self, user: ConsoleUser | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.api_key.get_secret_value()}"}
        if user is not None:
            headers[ACTING_SUBJECT] = user.subject
            headers[ACTING_ROLE] = user.role.value
            headers[ACTING_NATIONAL_SECURITY] = "true" if user.national_security else "false"
        return headers

    async def _call(
        self, service: str, method: str, url: str, user: ConsoleUser | None, **kwargs: Any
    ) -> httpx.Response:
        try:
            response = await self.client.request(method, url, headers=self.headers(user), **kwargs)
        except httpx.HTTPError as error:
            raise UpstreamDown(service, type(error).__name__) from error
        if response.status_code >= 500:
            raise UpstreamDown(service, f"answered {response.status_code}")
        return response

    async def audit(
        self, user: ConsoleUser | None, path: str, params: Any = None
    ) -> httpx.Response:
        """``GET`` of audit's ``path`` as ``user`` (None: a public route)."""
        return await self._call("audit", "GET", f"{self.audit_url}{path}", user, params=params)

    async def intake(self, user: ConsoleUser, path: str, body: dict[str, Any]) -> httpx.Response:
        """``POST`` of ``body`` to intake's ``path`` as ``user``."""
        return await self._call("intake", "POST", f"{self.intake_url}{path}", user, json=body)
