"""The notifier's durable schedule on the real broker, database and SMTP server, with
the notifier running as its own process so that it can be killed: a notice due while
the notifier is down goes out once on restart; amendments move, release and cancel
pending notices; two instances release one due notice once."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import secrets
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from deploy.kafka.security import KafkaAccess
from services.classifier.domain import classify, load_policy
from services.classifier.handlers import verdict_event
from services.classifier.history import VerdictInputs
from shared import topics
from shared.accounts import Account, AccountDirectory
from shared.amendments import Amendment
from shared.events import (
    EventData,
    RequestAmended,
    RequestClassified,
    RequestReceived,
    envelope_for,
    parse_event,
)
from shared.settings import listen_environment
from shared.submission import Nondisclosure, Submission
from tests.fixtures.postgres import DocketDatabase
from tests.fixtures.servers import free_port
from tests.integration.notifier.conftest import SmtpServer

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
#: Each test's notifier reads the topics from the start (a fresh consumer group), so
#: every test has its own account: earlier tests' requests name accounts it does not know.
ACCOUNT = Account(
    handle=f"@quiet_reader_{secrets.token_hex(3)}",
    platform_user_id=f"acct-schedule-{secrets.token_hex(3)}",
    email="reader@example.org",
    country="US",
)


def gagged_subpoena(
    request_ref: str, received_at: datetime, gag_until: datetime | None
) -> Submission:
    return Submission.model_validate(
        {
            "external_ref": request_ref,
            "received_via": "portal",
            "received_at": received_at.isoformat(),
            "requester": {
                "agency": "United States Attorney's Office",
                "agency_type": "federal_law_enforcement",
                "country": "US",
            },
            "instrument": {
                "type": "subpoena",
                "cited_authority": "Fed. R. Crim. P. 17; 18 U.S.C. § 2703(c)(2)",
                "issued_by": "Assistant United States Attorney for the grand jury",
                "response_deadline": (received_at + timedelta(days=20)).isoformat(),
                "nondisclosure": {
                    "ordered": gag_until is not None,
                    "authority": "18 U.S.C. § 2705(b) order of the district court"
                    if gag_until
                    else None,
                    "expires_at": gag_until.isoformat() if gag_until else None,
                },
                "document_text": "GRAND JURY SUBPOENA. Produce basic subscriber records.",
            },
            "targets": [{"handle": ACCOUNT.handle}],
            "data_requested": ["subscriber_identity"],
            "stated_purpose": "Investigation of wire fraud, 18 U.S.C. 1343",
        }
    )


def request_events(
    submission: Submission, request_id: str, accounts: tuple[Account, ...] | None = None
) -> tuple[RequestReceived, RequestClassified]:
    """What intake and the classifier publish for ``submission``: the notifier takes the
    targets from the first, the verdict (no personal data) from the second."""
    directory = AccountDirectory(accounts or (ACCOUNT,))
    verdict = classify(submission, directory, load_policy(), submission.received_at)
    received = RequestReceived(
        request_id=request_id,
        submission=submission,
        submitted_by="client:tests",
        accepted_at=submission.received_at,
    )
    inputs = VerdictInputs(submission, ())
    at = datetime.now(UTC)
    return received, verdict_event(request_id, verdict, inputs, at, f"received-{request_id}")


class Notifiers:
    """Notifier processes sharing one database, consumer group and SMTP server."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.processes: list[asyncio.subprocess.Process] = []
        self.log = (Path(tempfile.gettempdir()) / "docket-notifier-test.log").open("ab")

    async def start(self, smtp_port: int | None = None) -> asyncio.subprocess.Process:
        port = free_port()
        env = {**self.env, **listen_environment("notifier", port, free_port())}
        if smtp_port is not None:
            env["DOCKET_SMTP_PORT"] = str(smtp_port)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.notifier.app",
            cwd=REPO,
            env=env,
            stdout=self.log,
            stderr=asyncio.subprocess.STDOUT,
        )
        self.processes.append(process)
        async with httpx.AsyncClient(timeout=2) as client:
            for _ in range(300):
                assert process.returncode is None, "the notifier exited during start"
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        return process
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError("notifier not ready")

    async def kill_all(self) -> None:
        for process in self.processes:
            await kill(process)


async def kill(process: asyncio.subprocess.Process) -> None:
    """SIGKILL: no graceful shutdown, no last commit."""
    if process.returncode is None:
        process.send_signal(signal.SIGKILL)
        await process.wait()


@pytest.fixture(autouse=True)
def fresh_account(monkeypatch: pytest.MonkeyPatch) -> None:
    token = secrets.token_hex(4)
    monkeypatch.setattr(
        sys.modules[__name__],
        "ACCOUNT",
        ACCOUNT.model_copy(
            update={"handle": f"@quiet_reader_{token}", "platform_user_id": f"acct-{token}"}
        ),
    )


@pytest.fixture
async def notifiers(
    kafka_access: KafkaAccess,
    docket_database: DocketDatabase,
    smtp_server: SmtpServer,
    tmp_path: Path,
) -> AsyncIterator[Notifiers]:
    accounts = tmp_path / "accounts.jsonl"
    accounts.write_text(ACCOUNT.model_dump_json() + "\n")
    env = {
        **os.environ,
        **kafka_access.service_env("notifier"),
        "DOCKET_DATABASE_URL": docket_database.url("notifier"),
        "DOCKET_ACCOUNTS_FILE": str(accounts),
        "DOCKET_SMTP_HOST": "127.0.0.1",
        "DOCKET_SMTP_PORT": str(smtp_server.port),
        "DOCKET_CONSUMER_GROUP": f"docket-notifier-test-{secrets.token_hex(4)}",
        "DOCKET_DISPATCH_POLL_INTERVAL_S": "0.2",
    }
    running = Notifiers(env)
    try:
        yield running
    finally:
        await running.kill_all()


async def publish(
    kafka_access: KafkaAccess, *events: EventData, event_id: str | None = None
) -> None:
    """Publish ``events`` in order (``event_id``: of a single event)."""
    producer = AIOKafkaProducer(
        **kafka_access.client_options(), acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for data in events:
            envelope = envelope_for(data, source="/tests", event_id=event_id)
            key = data.request_id.encode()
            await producer.send_and_wait(data.TOPIC, envelope.to_bytes(), key=key)
    finally:
        await producer.stop()


async def notices_of(
    kafka_access: KafkaAccess, request_id: str
) -> list[tuple[str, dict[str, Any]]]:
    """Every notifier event about ``request_id`` so far (type, data)."""
    consumer = AIOKafkaConsumer(
        topics.NOTIFICATION,
        **kafka_access.client_options(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    found: list[tuple[str, dict[str, Any]]] = []
    try:
        batches = await consumer.getmany(timeout_ms=1500)
        while batches:
            for records in batches.values():
                for record in records:
                    if record.key != request_id.encode():
                        continue  # other tests' records, poison ones included
                    envelope, data = parse_event(record.value)
                    if envelope.subject == request_id:
                        found.append((data.EVENT_TYPE, json.loads(data.model_dump_json())))
            batches = await consumer.getmany(timeout_ms=500)
    finally:
        await consumer.stop()
    return found


async def eventually(check: Callable[[], Any], timeout_s: float = 30.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition never held")
        await asyncio.sleep(0.3)


def sent_to_reader(smtp: SmtpServer) -> int:
    return sum(1 for d in smtp.mailbox.deliveries if d.rcpt_tos == [ACCOUNT.email])


async def scheduled_events(kafka: KafkaAccess, request_id: str) -> list[dict[str, Any]]:
    return [d for t, d in await notices_of(kafka, request_id) if t == "NotificationScheduled"]


async def test_a_notice_due_while_the_notifier_is_down_goes_out_once_on_restart(
    kafka_access: KafkaAccess, notifiers: Notifiers, smtp_server: SmtpServer
) -> None:
    now = datetime.now(UTC)
    request_id = f"sched-restart-{secrets.token_hex(4)}"
    # room for the consumer group to form and the notice to be scheduled, on a loaded machine
    gag_until = now + timedelta(seconds=30)
    notifier = await notifiers.start()
    await publish(
        kafka_access, *request_events(gagged_subpoena(request_id, now, gag_until), request_id)
    )

    scheduled = await eventually(lambda: scheduled_events(kafka_access, request_id))
    assert scheduled[0]["reason"] == "NDO_ACTIVE_UNTIL_EXPIRY"
    assert datetime.fromisoformat(scheduled[0]["not_before"]) == gag_until
    assert sent_to_reader(smtp_server) == 0

    await kill(notifier)  # down before the gag lapses
    await asyncio.sleep(max(0.0, (gag_until - datetime.now(UTC)).total_seconds()) + 2)
    assert sent_to_reader(smtp_server) == 0

    await notifiers.start()
    await eventually(lambda: sent_to_reader(smtp_server) == 1)
    await asyncio.sleep(3)  # nothing more may follow
    assert sent_to_reader(smtp_server) == 1
    sent = [d for t, d in await notices_of(kafka_access, request_id) if t == "UserNotified"]
    assert len(sent) == 1
    assert datetime.fromisoformat(sent[0]["sent_at"]) >= gag_until


async def test_an_extended_order_moves_the_date(
    kafka_access: KafkaAccess, notifiers: Notifiers, smtp_server: SmtpServer
) -> None:
    now = datetime.now(UTC)
    request_id = f"sched-extend-{secrets.token_hex(4)}"
    # far enough ahead that the extension is applied before the first end even when the
    # notifier is slow to join its group on a loaded machine
    first_end, new_end = now + timedelta(seconds=35), now + timedelta(days=30)
    await notifiers.start()
    await publish(
        kafka_access, *request_events(gagged_subpoena(request_id, now, first_end), request_id)
    )
    await eventually(lambda: scheduled_events(kafka_access, request_id))

    extension = RequestAmended(
        request_id=request_id,
        nondisclosure=Nondisclosure(
            ordered=True, authority="18 U.S.C. § 2705(b) extension order", expires_at=new_end
        ),
        effective_at=datetime.now(UTC),
        submitted_by="legal-ops",
    )
    await publish(kafka_access, extension)

    async def moved() -> bool:
        dates = [d["not_before"] for d in await scheduled_events(kafka_access, request_id)]
        return any(datetime.fromisoformat(d) == new_end for d in dates if d)

    await eventually(moved, timeout_s=60)
    await asyncio.sleep(max(0.0, (first_end - datetime.now(UTC)).total_seconds()) + 2.5)
    assert sent_to_reader(smtp_server) == 0


async def test_a_lifted_order_releases_the_notice_now(
    kafka_access: KafkaAccess, notifiers: Notifiers, smtp_server: SmtpServer
) -> None:
    now = datetime.now(UTC)
    request_id = f"sched-lift-{secrets.token_hex(4)}"
    await notifiers.start()
    await publish(
        kafka_access,
        *request_events(gagged_subpoena(request_id, now, now + timedelta(days=180)), request_id),
    )
    await eventually(lambda: scheduled_events(kafka_access, request_id))
    assert sent_to_reader(smtp_server) == 0

    lift = RequestAmended(
        request_id=request_id,
        nondisclosure=Nondisclosure(ordered=False),
        note="court vacated the 2705(b) order",
        effective_at=datetime.now(UTC),
        submitted_by="legal-ops",
    )
    await publish(kafka_access, lift)
    await eventually(lambda: sent_to_reader(smtp_server) == 1)
    await asyncio.sleep(2)
    assert sent_to_reader(smtp_server) == 1


async def test_a_new_order_cancels_a_pending_notice_before_it_is_sent(
    kafka_access: KafkaAccess, notifiers: Notifiers, smtp_server: SmtpServer
) -> None:
    now = datetime.now(UTC)
    request_id = f"sched-new-gag-{secrets.token_hex(4)}"
    # No gag: notice is due now, but the mail server is unreachable, so it stays pending.
    notifier = await notifiers.start(smtp_port=free_port())
    await publish(kafka_access, *request_events(gagged_subpoena(request_id, now, None), request_id))

    async def failed() -> bool:
        return any(t == "NotificationFailed" for t, _ in await notices_of(kafka_access, request_id))

    await eventually(failed)
    gag = RequestAmended(
        request_id=request_id,
        nondisclosure=Nondisclosure(
            ordered=True, authority="18 U.S.C. § 2705(b) order", expires_at=None
        ),
        effective_at=datetime.now(UTC),
        submitted_by="legal-ops",
    )
    await publish(kafka_access, gag)
    await eventually(lambda: scheduled_events(kafka_access, request_id))

    await kill(notifier)
    await notifiers.start()  # the mail server works now; the gag must still hold
    await asyncio.sleep(6)
    assert sent_to_reader(smtp_server) == 0
    assert not [t for t, _ in await notices_of(kafka_access, request_id) if t == "UserNotified"]


async def test_two_notifier_instances_send_one_due_notice_once(
    kafka_access: KafkaAccess, notifiers: Notifiers, smtp_server: SmtpServer
) -> None:
    now = datetime.now(UTC)
    request_id = f"sched-two-{secrets.token_hex(4)}"
    await notifiers.start()
    await notifiers.start()
    gag_until = now + timedelta(seconds=3)
    await publish(
        kafka_access, *request_events(gagged_subpoena(request_id, now, gag_until), request_id)
    )
    await eventually(lambda: sent_to_reader(smtp_server) == 1)
    await asyncio.sleep(3)
    assert sent_to_reader(smtp_server) == 1
    sent = [t for t, _ in await notices_of(kafka_access, request_id) if t == "UserNotified"]
    assert sent == ["UserNotified"]


def test_amendment_model_is_what_intake_sends() -> None:
    assert set(Amendment.model_fields) <= set(RequestAmended.model_fields)
