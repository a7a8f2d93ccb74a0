"""Real local receivers for the notifier's channels: an aiosmtpd SMTP server and a
uvicorn-served webhook endpoint, each on a free port of 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import ipaddress
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI, Request, Response
from standardwebhooks import Webhook, WebhookVerificationError

from tests.fixtures.servers import free_port, start_service

SMTP_USER = "docket"
SMTP_PASSWORD = "correct horse battery staple"
#: A Standard Webhooks secret (``whsec_`` + base64 of 32 bytes), for the tests only.
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"docket-test-webhook-signing-key!").decode()


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


def _run_smtp(mailbox: Mailbox | None = None, **options: Any) -> Iterator[SmtpServer]:
    mailbox = mailbox or Mailbox()
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


def standard_webhooks_verifies(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    """What any receiver does: the reference ``standardwebhooks`` library checks the
    ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` headers."""
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


@dataclass
class WebhookReceiver:
    """The platform's side: checks each signature with the ``standardwebhooks`` library,
    records the request, then answers the next scripted status (200 once the script is
    empty); a request whose signature does not verify is answered 401."""

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
            received = dict(request.headers)
            valid = standard_webhooks_verifies(WEBHOOK_SECRET, body, received)
            self.received.append(ReceivedHook(received, body, valid))
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
    service = await start_service("webhook-receiver", receiver.app(), free_port(), with_admin=False)
    receiver.url = f"{service.url}/notices"
    try:
        yield receiver
    finally:
        await service.stop()


def _self_signed_context(directory: Path) -> ssl.SSLContext:
    """A server TLS context for 127.0.0.1 with a certificate no client trusts."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


@pytest.fixture
def smtp_untrusted_tls_server(tmp_path: Path) -> Iterator[SmtpServer]:
    """An SMTP server offering STARTTLS with a self-signed certificate."""
    yield from _run_smtp(tls_context=_self_signed_context(tmp_path))
