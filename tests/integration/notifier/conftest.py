"""Real local receivers for the notifier's channels: an aiosmtpd SMTP server and a
uvicorn-served webhook endpoint, each on a free port of 127.0.0.1."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from fastapi import FastAPI, Request, Response

from services.notifier.channels.webhook import verify_webhook_signature
from tests.fixtures.servers import free_port, start_service

SMTP_USER = "docket"
SMTP_PASSWORD = "correct horse battery staple"
WEBHOOK_SECRET = "test-webhook-secret"


@dataclass(frozen=True)
class Delivery:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Mailbox:
    """aiosmtpd handler keeping every message; ``rcpt_reply`` makes it refuse recipients."""

    deliveries: list[Delivery] = field(default_factory=list)
    rcpt_reply: str | None = None

    async def handle_RCPT(
        self, _server: Any, _session: Any, envelope: Any, address: str, _options: Any
    ) -> str:
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.deliveries.append(Delivery(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 2.0.0 OK"


@dataclass
class SmtpServer:
    mailbox: Mailbox
    port: int


def _authenticate(
    _server: Any, _session: Any, _envelope: Any, _mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)  # False: the server answers 535 itself


def _run_smtp(**options: Any) -> Iterator[SmtpServer]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    try:
        yield SmtpServer(mailbox, controller.port)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server: no STARTTLS, no AUTH."""
    yield from _run_smtp()


@pytest.fixture
def smtp_auth_server() -> Iterator[SmtpServer]:
    """An SMTP server that requires AUTH (allowed without TLS, for the test only)."""
    yield from _run_smtp(authenticator=_authenticate, auth_required=True, auth_require_tls=False)


@dataclass(frozen=True)
class ReceivedHook:
    headers: dict[str, str]
    body: bytes
    signature_valid: bool


@dataclass
class WebhookReceiver:
    """The platform's side: checks each signature with the documented helper, records
    the request, then answers the next scripted status (200 once the script is empty)."""

    url: str = ""
    received: list[ReceivedHook] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    retry_after: str | None = None
    delay_s: float = 0.0

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/notices")
        async def receive(request: Request) -> Response:
            body = await request.body()
            valid = verify_webhook_signature(
                WEBHOOK_SECRET,
                request.headers.get("X-Docket-Timestamp", ""),
                body,
                request.headers.get("X-Docket-Signature", ""),
            )
            self.received.append(ReceivedHook(dict(request.headers), body, valid))
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if not valid:
                return Response(status_code=401)
            status = self.statuses.pop(0) if self.statuses else 200
            headers = {"Retry-After": self.retry_after} if self.retry_after else None
            return Response(status_code=status, headers=headers)

        return app


@pytest.fixture
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    service = await start_service("webhook-receiver", receiver.app(), free_port())
    receiver.url = f"{service.url}/notices"
    try:
        yield receiver
    finally:
        await service.stop()
