"""Notices in the platform's voice, through the real notifier process, broker, database,
SMTP server and webhook receiver: a Spanish-reading account gets its e-mail in Spanish,
from the platform's name and address, with its reply address and help links and not a
word of "Docket"; an account reached in-app gets the same fields in the webhook payload."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import pytest

from deploy.kafka.security import KafkaAccess
from shared.accounts import Account
from shared.events import RequestClassified, RequestReceived
from shared.submission import Submission
from tests.fixtures.postgres import DocketDatabase
from tests.integration.notifier.conftest import (
    WEBHOOK_SECRET,
    SmtpServer,
    WebhookReceiver,
)
from tests.integration.notifier.test_email_channel import body_parts
from tests.integration.notifier.test_schedule import (
    Notifiers,
    eventually,
    gagged_subpoena,
    publish,
    request_events,
)

pytestmark = pytest.mark.integration

PLATFORM_ENV = {
    "DOCKET_PLATFORM_NAME": "Chirp",
    "DOCKET_SMTP_SENDER": "avisos@chirp.example",
    "DOCKET_NOTICE_REPLY_TO": "equipo-legal@chirp.example",
    "DOCKET_LEGAL_HELP_URL": "https://chirp.example/ayuda-legal",
    "DOCKET_LEGAL_TEAM_URL": "https://chirp.example/solicitudes-legales",
    "DOCKET_NOTICE_DEFAULT_LOCALE": "es",
}
PLATFORM_FIELDS = {
    "name": "Chirp",
    "sender": "avisos@chirp.example",
    "reply_to": "equipo-legal@chirp.example",
    "legal_help_url": "https://chirp.example/ayuda-legal",
    "legal_team_url": "https://chirp.example/solicitudes-legales",
}


def accounts() -> tuple[Account, Account]:
    token = secrets.token_hex(4)
    by_mail = Account(
        handle=f"@lectora_{token}",
        platform_user_id=f"acct-mail-{token}",
        email=f"lectora-{token}@example.org",
        country="MX",
        locale="es-MX",
    )
    in_app = Account(handle=f"@app_only_{token}", platform_user_id=f"acct-app-{token}")
    return by_mail, in_app


def a_request(
    request_id: str, targets: tuple[Account, ...]
) -> tuple[RequestReceived, RequestClassified]:
    """The schedule tests' subpoena, without a gag, naming ``targets``."""
    now = datetime.now(UTC)
    plain = gagged_subpoena(request_id, now, gag_until=None)
    submission = Submission.model_validate(
        plain.model_dump(mode="json", by_alias=True)
        | {"targets": [{"handle": account.handle} for account in targets]}
    )
    return request_events(submission, request_id, targets)


@pytest.fixture
async def notifier_env(
    kafka_access: KafkaAccess,
    docket_database: DocketDatabase,
    smtp_server: SmtpServer,
    webhook_receiver: WebhookReceiver,
    tmp_path: Path,
) -> AsyncIterator[tuple[Notifiers, tuple[Account, Account]]]:
    people = accounts()
    directory = tmp_path / "accounts.jsonl"
    directory.write_text("".join(account.model_dump_json() + "\n" for account in people))
    env = {
        **os.environ,
        **kafka_access.service_env("notifier"),
        **PLATFORM_ENV,
        "DOCKET_DATABASE_URL": docket_database.url("notifier"),
        "DOCKET_ACCOUNTS_FILE": str(directory),
        "DOCKET_SMTP_HOST": "127.0.0.1",
        "DOCKET_SMTP_PORT": str(smtp_server.port),
        "DOCKET_WEBHOOK_URL": webhook_receiver.url,
        "DOCKET_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "DOCKET_CONSUMER_GROUP": f"docket-notifier-voice-{secrets.token_hex(4)}",
        "DOCKET_DISPATCH_POLL_INTERVAL_S": "0.2",
    }
    running = Notifiers(env)
    try:
        yield running, people
    finally:
        await running.kill_all()


async def test_notices_speak_in_the_platforms_voice_and_the_readers_language(
    kafka_access: KafkaAccess,
    notifier_env: tuple[Notifiers, tuple[Account, Account]],
    smtp_server: SmtpServer,
    webhook_receiver: WebhookReceiver,
) -> None:
    notifiers, (by_mail, in_app) = notifier_env
    request_id = f"voice-{secrets.token_hex(4)}"
    await notifiers.start()
    await publish(kafka_access, *a_request(request_id, (by_mail, in_app)))

    def mail_for_reader() -> list[Any]:
        return [d for d in smtp_server.mailbox.deliveries if d.rcpt_tos == [by_mail.email]]

    [delivery] = await eventually(mail_for_reader, timeout_s=60)
    [hook] = await eventually(lambda: webhook_receiver.received, timeout_s=30)

    message = delivery.message
    assert parseaddr(message["From"]) == ("Chirp", "avisos@chirp.example")
    assert delivery.mail_from == "avisos@chirp.example"
    assert message["Reply-To"] == "equipo-legal@chirp.example"
    assert message["Content-Language"] == "es"
    assert message["Subject"] == "Una solicitud legal de información sobre su cuenta"
    assert message["Message-ID"].endswith("@chirp.example>")
    text = body_parts(message)["text/plain"]
    assert "Chirp ha recibido una solicitud legal de información sobre su cuenta." in text
    assert "https://chirp.example/ayuda-legal" in text
    assert request_id in text
    raw = message.as_string()
    assert "docket" not in raw.casefold()

    assert hook.signature_valid
    payload = json.loads(hook.body)
    assert payload["platform"] == PLATFORM_FIELDS
    assert payload["locale"] == "es"  # no locale of its own: the configured default
    assert payload["platform_user_id"] == in_app.platform_user_id
    assert payload["request_id"] == request_id
    assert payload["subject"] == message["Subject"]
    assert "Chirp ha recibido una solicitud legal" in payload["text"]
    assert "docket" not in hook.body.decode().casefold()
