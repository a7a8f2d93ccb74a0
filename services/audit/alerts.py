"""Sends deadline alerts to a pager or ticketing system, as PagerDuty Events API v2
(``services/audit/domain/pagerduty.py``; any receiver of that format will do)."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from services.audit.domain.pagerduty import DeadlineAlert, pagerduty_event


class AlertFailed(Exception):
    """The receiver did not accept the alert; ``reason`` has no personal data."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PagerDutyAlerts:
    """POSTs each alert as one Events v2 event; the receiver's 2xx is acceptance."""

    def __init__(self, url: str, routing_key: SecretStr, timeout_s: float = 5.0) -> None:
        self._url = url
        self._routing_key = routing_key
        self._client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)

    async def send(self, alert: DeadlineAlert) -> None:
        body = pagerduty_event(alert, self._routing_key.get_secret_value())
        try:
            response = await self._client.post(self._url, json=body)
        except httpx.HTTPError as error:
            raise AlertFailed(f"alert receiver unreachable: {type(error).__name__}") from error
        if not response.is_success:
            raise AlertFailed(f"alert receiver answered {response.status_code}")

    async def aclose(self) -> None:
        await self._client.aclose()
