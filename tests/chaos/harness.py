"""The running system for the chaos suite: every Docket service as its own OS process
(two instances of each consumer service in one consumer group), a local SMTP server
counting messages per ``Message-ID``, a load generator, and the durable-state checks
the suite ends with."""

from __future__ import annotations

import asyncio
import collections
import email
import email.policy
import json
import os
import secrets
import signal
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from deploy.kafka.security import KafkaAccess
from shared.amendments import Amendment, effective_state
from shared.settings import listen_environment
from shared.submission import Submission
from tests.chaos.network import Link, Toxiproxy, host_port, through
from tests.fixtures.postgres import DocketDatabase
from tests.fixtures.servers import free_port

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
#: Handles of examples/accounts.jsonl that have an e-mail address.
TARGETS = ("@ALT_USCIS", "@plugdetroit_313")
NOTIFIER_EVENTS = frozenset(
    {"UserNotified", "NotificationScheduled", "NotificationWithheld", "NotificationFailed"}
)


class Mailbox:
    """aiosmtpd handler counting every message it receives by ``Message-ID``."""

    def __init__(self) -> None:
        self.by_message_id: collections.Counter[str] = collections.Counter()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.by_message_id[str(message["Message-ID"])] += 1
        return "250 OK"


@dataclass
class Instance:
    """One service process; ``start`` again after a kill runs it with the same
    instance id (static membership), port and log file."""

    name: str
    service: str
    port: int
    env: dict[str, str]
    log_path: Path
    admin_port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        if self.running:  # the liveness prober restarted it already
            return
        env = {**self.env, **listen_environment(self.service, self.port, self.admin_port)}
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                f"services.{self.service}.app",
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        self.starts += 1

    async def wait_ready(self, timeout_s: float = 240.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        async with httpx.AsyncClient(timeout=3) as client:
            while loop.time() < deadline:
                if not self.running:
                    raise RuntimeError(f"{self.name} exited: {self.tail()}")
                try:
                    if (await client.get(f"{self.url}/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready in {timeout_s:.0f}s: {self.tail()}")

    async def kill(self) -> None:
        """SIGKILL: no graceful shutdown, no last commit."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def terminate(self, grace_s: float) -> int | None:
        """SIGTERM, then the exit code, or None when it did not exit within ``grace_s``
        (it is then killed)."""
        if self.process is None or self.process.returncode is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), grace_s)
        except TimeoutError:
            await self.kill()
            return None

    def tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


@dataclass
class Accepted:
    """What intake answered 202 for."""

    request_id: str
    amendment_ids: list[str] = field(default_factory=list)
    decision_ids: list[str] = field(default_factory=list)
    #: amendment event id -> when intake answered 202 for it (Docket then knew of it)
    amendment_accepted_at: dict[str, datetime] = field(default_factory=dict)


@dataclass
class Counts:
    sent: int = 0
    accepted: int = 0
    refused: collections.Counter[str] = field(default_factory=collections.Counter)
    faults: collections.Counter[str] = field(default_factory=collections.Counter)
    #: Instances the liveness prober restarted (their ``/healthz`` failed), by service.
    liveness_restarts: collections.Counter[str] = field(default_factory=collections.Counter)


#: As deploy/k8s's livenessProbe: every 10 s there, 3 failures in a row restart the pod.
LIVENESS_PERIOD_S = 3.0
LIVENESS_FAILURES = 3


class System:
    """Intake, two classifiers, two notifiers and two audits on one database."""

    def __init__(
        self, kafka: KafkaAccess, database: DocketDatabase, smtp_port: int, folder: Path
    ) -> None:
        token = secrets.token_hex(4)
        self.api_key = "chaos-" + secrets.token_hex(20)
        #: The owner's URL, for the durable-state checks; each service has its own role.
        self.database_url = database.owner_url
        self.audit_database_url = database.url("audit")
        self.folder = folder
        self.groups = {
            "classifier": f"docket-classifier-chaos-{token}",
            "notifier": f"docket-notifier-chaos-{token}",
            "audit": f"docket-audit-chaos-{token}",
        }
        common = {
            **os.environ,
            "DOCKET_ACCOUNTS_FILE": str(EXAMPLES / "accounts.jsonl"),
            "DOCKET_SMTP_HOST": "127.0.0.1",
            "DOCKET_SMTP_PORT": str(smtp_port),
            "DOCKET_SIGNING_KEY_FILE": str(folder / "audit-signing.pem"),
            "DOCKET_TREE_HEAD_INTERVAL_S": "2",
            "DOCKET_DISPATCH_POLL_INTERVAL_S": "0.3",
            "DOCKET_KAFKA_CONNECT_TIMEOUT_S": "120",
            "DOCKET_INTAKE_BOOTSTRAP_KEY": f"chaos:legal:{self.api_key}",
            # one client drives all the load: the per-client rate limit is not under test
            "DOCKET_RATE_LIMIT_PER_S": "0",
            "DOCKET_CONSUMER_GROUP_PREFIX": self.groups["audit"],
        }
        self.instances: dict[str, Instance] = {}
        audit_port = free_port()
        for service, copies in (("audit", 2), ("classifier", 2), ("notifier", 2), ("intake", 1)):
            for copy in range(copies):
                name = f"{service}-{'ab'[copy]}" if copies > 1 else service
                env = {
                    **common,
                    **kafka.service_env(service),
                    "DOCKET_INSTANCE_ID": f"{name}-{token}",
                    "DOCKET_DATABASE_URL": database.url(service),
                }
                if service in ("classifier", "notifier"):
                    env["DOCKET_CONSUMER_GROUP"] = self.groups[service]
                if service == "intake":
                    env["DOCKET_AUDIT_BASE_URL"] = f"http://127.0.0.1:{audit_port}"
                port = audit_port if name == "audit-a" else free_port()
                self.instances[name] = Instance(name, service, port, env, folder / f"{name}.log")
        self.counts = Counts()
        self.accepted: dict[str, Accepted] = {}
        #: Instance name -> its own proxy to PostgreSQL (after :meth:`route_through`).
        self.database_links: dict[str, Link] = {}
        self._prober: asyncio.Task[None] | None = None

    async def route_through(self, proxy: Toxiproxy) -> None:
        """Give every instance its own link to PostgreSQL through ``proxy``, so a
        network fault can be put between one instance and the database."""
        for name, instance in self.instances.items():
            url = instance.env["DOCKET_DATABASE_URL"]
            link = await proxy.link(f"pg-{name}", host_port(url))
            instance.env["DOCKET_DATABASE_URL"] = through(url, link)
            self.database_links[name] = link

    @property
    def intake(self) -> Instance:
        return self.instances["intake"]

    @property
    def audit_url(self) -> str:
        return self.instances["audit-a"].url

    def of(self, service: str) -> list[Instance]:
        return [i for i in self.instances.values() if i.service == service]

    async def start(self) -> None:
        # audit-a first: it creates the signing key both audit instances share.
        first = self.instances["audit-a"]
        await first.start()
        await first.wait_ready()
        rest = [i for i in self.instances.values() if i is not first]
        for instance in rest:
            await instance.start()
        await asyncio.gather(*(i.wait_ready() for i in rest))

    async def restart(self, instance: Instance) -> None:
        await instance.start()
        await instance.wait_ready()

    async def stop(self) -> None:
        if self._prober is not None:
            self._prober.cancel()
        for instance in self.instances.values():
            await instance.kill()

    def supervise(self) -> None:
        """Start the liveness prober: what Kubernetes does with ``/healthz``. An
        instance whose ``/healthz`` answers 503 :data:`LIVENESS_FAILURES` times in a row
        (its consumer watchdog found a consumer that stopped reading) is killed and
        started again. An instance that does not answer at all is left alone: the
        suite kills and restarts instances itself."""
        self._prober = asyncio.create_task(self._probe())

    async def _probe(self) -> None:
        failures: collections.Counter[str] = collections.Counter()
        async with httpx.AsyncClient(timeout=3) as client:
            while True:
                await asyncio.sleep(LIVENESS_PERIOD_S)
                for instance in list(self.instances.values()):
                    if not instance.running:
                        continue
                    try:
                        status = (await client.get(f"{instance.url}/healthz")).status_code
                    except httpx.HTTPError:
                        continue
                    failures[instance.name] = failures[instance.name] + 1 if status == 503 else 0
                    if failures[instance.name] >= LIVENESS_FAILURES:
                        failures[instance.name] = 0
                        self.counts.liveness_restarts[instance.service] += 1
                        await instance.kill()
                        await instance.start()

    # --- load -------------------------------------------------------------------

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    async def post(self, client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> Any:
        self.counts.sent += 1
        try:
            response = await client.post(f"{self.intake.url}{path}", json=body, headers=self.auth)
        except httpx.HTTPError as error:
            self.counts.refused[type(error).__name__] += 1
            return None
        if response.status_code != 202:
            self.counts.refused[str(response.status_code)] += 1
            return None
        self.counts.accepted += 1
        return response.json()

    async def one_request(self, client: httpx.AsyncClient, number: int) -> None:
        """A submission, then (by its number) a gag lifted or added, and a decision."""
        now = datetime.now(UTC)
        kind = number % 4
        gagged = kind == 1
        accepted = await self.post(client, "/v1/requests", submission(number, now, gagged))
        if accepted is None:
            return
        record = Accepted(accepted["request_id"])
        self.accepted[record.request_id] = record
        await asyncio.sleep(0.2)
        path = f"/v1/requests/{record.request_id}"
        if kind == 1:  # the gag is lifted
            change = {"nondisclosure": {"ordered": False}, "effective_at": _iso(now)}
        elif kind == 2:  # a gag arrives after submission, racing the notice
            change = {
                "nondisclosure": {
                    "ordered": True,
                    "authority": "18 U.S.C. § 2705(b) order",
                    "expires_at": _iso(now + timedelta(days=365)),
                },
                "effective_at": _iso(datetime.now(UTC)),
            }
        else:
            change = {"note": f"chaos note {number}", "effective_at": _iso(datetime.now(UTC))}
        amended = await self.post(client, f"{path}/amendments", change)
        if amended is not None:
            record.amendment_ids.append(amended["event_id"])
            record.amendment_accepted_at[amended["event_id"]] = datetime.now(UTC)
        if kind == 3:
            decided = await self.post(client, f"{path}/decision", {"outcome": "rejected"})
            if decided is not None:
                record.decision_ids.append(decided["event_id"])

    async def stream(self, stop: asyncio.Event, interval_s: float) -> None:
        """A steady stream of requests until ``stop`` is set."""
        tasks: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(timeout=15) as client:
            number = 0
            while not stop.is_set():
                number += 1
                task = asyncio.create_task(self.one_request(client, number))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                await asyncio.sleep(interval_s)
            if tasks:
                await asyncio.gather(*tasks)

    # --- durable state ------------------------------------------------------------

    async def audit_rows(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(event_type, request_id, ledger entry) of every leaf, in leaf order."""
        connection = await asyncpg.connect(self.database_url)
        try:
            rows = await connection.fetch(
                "SELECT event_type, request_id, leaf_data FROM audit.event_log ORDER BY leaf_index"
            )
        finally:
            await connection.close()
        return [(r["event_type"], r["request_id"], json.loads(bytes(r["leaf_data"]))) for r in rows]

    async def duplicate_event_ids(self) -> list[str]:
        connection = await asyncpg.connect(self.database_url)
        try:
            rows = await connection.fetch(
                "SELECT event_id, count(*) FROM audit.event_log GROUP BY 1 HAVING count(*) > 1"
            )
        finally:
            await connection.close()
        return [r["event_id"] for r in rows]

    async def uncertain_notices(self) -> list[str]:
        """Notice ids held as 'uncertain' (sender killed mid-send): neither lost nor
        doubled, held for counsel."""
        connection = await asyncpg.connect(self.database_url)
        try:
            rows = await connection.fetch(
                "SELECT notice_id FROM notifier.notices WHERE state = 'uncertain'"
            )
        finally:
            await connection.close()
        return [r["notice_id"] for r in rows]

    def missing(self, rows: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
        """Accepted requests whose chain is not complete in the audit log yet."""
        types: dict[str, set[str]] = collections.defaultdict(set)
        ids: set[str] = set()
        for event_type, request_id, entry in rows:
            types[request_id].add(event_type)
            if "event" in entry:
                ids.add(str(entry["event"]["id"]))
        missing = []
        for request_id, record in self.accepted.items():
            seen = types[request_id]
            complete = (
                {"RequestReceived", "RequestClassified"} <= seen
                and bool(seen & NOTIFIER_EVENTS)
                and set(record.amendment_ids + record.decision_ids) <= ids
            )
            if not complete:
                missing.append(request_id)
        return missing

    async def drain(self, timeout_s: float) -> list[tuple[str, str, dict[str, Any]]]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            rows = await self.audit_rows()
            missing = self.missing(rows)
            if not missing:
                return rows
            if loop.time() > deadline:
                raise AssertionError(
                    f"{len(missing)} accepted requests incomplete in the audit log, "
                    f"e.g. {missing[:3]}: {[t for t, r, _ in rows if r == missing[0]]}"
                )
            await asyncio.sleep(1.0)


@dataclass(frozen=True)
class DurableState:
    """What the durable state says after a run: each list should be empty."""

    rows: list[tuple[str, str, dict[str, Any]]]
    lost: list[str]
    duplicates_stored: list[str]
    duplicate_notices: list[str]
    duplicate_mails: dict[str, int]
    under_gag: list[str]
    uncertain: list[str]
    verify_rc: int
    verify_output: str

    def summary(self) -> str:
        return (
            f"lost={len(self.lost)} duplicates_stored={len(self.duplicates_stored)}"
            f" duplicate_notices={len(self.duplicate_notices)}+{len(self.duplicate_mails)}mail"
            f" uncertain_held={len(self.uncertain)} notices_under_gag={len(self.under_gag)}"
            f" audit_verify_rc={self.verify_rc}"
        )

    def assert_clean(self) -> None:
        assert self.lost == []
        assert self.duplicates_stored == []
        assert self.duplicate_notices == []
        assert self.duplicate_mails == {}
        assert self.verify_rc == 0, self.verify_output
        assert self.under_gag == [], f"notices sent under a gag: {self.under_gag[:3]}"


async def durable_state(system: System, mailbox: Mailbox, drain_s: float = 180) -> DurableState:
    """Wait until every accepted request's chain is in the audit log (or ``drain_s``
    passed), then read the durable state and run ``docket audit verify``."""
    try:
        await system.drain(timeout_s=drain_s)
    except AssertionError as incomplete:
        print(f"\n{incomplete}", flush=True)
    await asyncio.sleep(4)  # a tree head over the final log (signed every 2 s)
    rows = await system.audit_rows()
    verify = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "docket"),
        "audit",
        "verify",
        "--database-url",
        system.audit_database_url,
        "--audit-url",
        system.audit_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    verify_out, _ = await verify.communicate()
    accepted_at = {
        event_id: at
        for record in system.accepted.values()
        for event_id, at in record.amendment_accepted_at.items()
    }
    return DurableState(
        rows=rows,
        lost=system.missing(rows),
        duplicates_stored=await system.duplicate_event_ids(),
        duplicate_notices=duplicate_notices(rows),
        duplicate_mails={mid: n for mid, n in mailbox.by_message_id.items() if n > 1},
        under_gag=notices_under_gag(rows, accepted_at, set(system.accepted)),
        uncertain=await system.uncertain_notices(),
        verify_rc=verify.returncode if verify.returncode is not None else -1,
        verify_output=verify_out.decode(errors="replace"),
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def submission(number: int, now: datetime, gagged: bool) -> dict[str, Any]:
    """Example 01 (no gag) or 02 (a gag for a year), received now, unique reference."""
    name = "02-grand-jury-subpoena-with-gag" if gagged else "01-customs-summons-anonymous-critic"
    body: dict[str, Any] = json.loads((EXAMPLES / "requests" / f"{name}.json").read_text())
    body["external_ref"] = f"CHAOS-{secrets.token_hex(6)}-{number}"
    body["received_at"] = _iso(now - timedelta(minutes=5))
    instrument = body["instrument"]
    # a demand of its own, not a second copy of another (which would be linked as a
    # duplicate and never noticed)
    instrument["case_number"] = f"CHAOS-CASE-{number}-{secrets.token_hex(4)}"
    instrument["response_deadline"] = _iso(now + timedelta(days=20))
    instrument.pop("issued_at", None)
    instrument["nondisclosure"] = (
        {
            "ordered": True,
            "authority": "18 U.S.C. § 2705(b) order",
            "expires_at": _iso(now + timedelta(days=365)),
        }
        if gagged
        else {"ordered": False}
    )
    body["targets"] = [{"handle": TARGETS[number % len(TARGETS)]}]
    return body


def notices_under_gag(
    rows: list[tuple[str, str, dict[str, Any]]],
    accepted_at: dict[str, datetime],
    ours: set[str],
) -> list[str]:
    """UserNotified events released while the request's non-disclosure order (its
    submission as amended, per the audit log) was in force as Docket knew it.

    Intake creates an amendment's event (its ``time``), Kafka acknowledges it, then the
    client gets the 202 (``accepted_at``, by event id). A gag or withdrawal binds Docket
    from its 202 at the latest. A lift may be read by the notifier as soon as Kafka
    acknowledges it, which can come before the client sees the 202, so it counts from
    its event time; a notice released in the few milliseconds between that and the
    acknowledgement is not flagged."""
    submissions: dict[str, Submission] = {}
    amendments: dict[str, list[tuple[datetime, Amendment]]] = collections.defaultdict(list)
    notices: list[tuple[str, datetime, str]] = []
    for event_type, request_id, entry in rows:
        data = entry.get("event", {}).get("data", {})
        if request_id.startswith("poison-"):
            continue
        if event_type == "RequestReceived":
            submissions[request_id] = Submission.model_validate(data["submission"])
        elif event_type == "RequestAmended":
            fields = {k: data.get(k) for k in ("nondisclosure", "withdrawn", "note")}
            created = datetime.fromisoformat(entry["event"]["time"].replace("Z", "+00:00"))
            lifts = (fields["nondisclosure"] or {}).get("ordered") is False
            known_at = created if lifts else accepted_at.get(str(entry["event"]["id"]), created)
            amendments[request_id].append(
                (
                    known_at,
                    Amendment.model_validate({**fields, "effective_at": data["effective_at"]}),
                )
            )
        elif event_type == "UserNotified":
            # The moment the notice was released (its last check passed); the e-mail
            # exchange that follows cannot be called back.
            released = data.get("released_at") or data["sent_at"]
            sent_at = datetime.fromisoformat(released.replace("Z", "+00:00"))
            notices.append((request_id, sent_at, str(entry["event"]["id"])))
    violations = []
    for request_id, sent_at, event_id in notices:
        if request_id not in submissions or request_id not in ours:
            continue  # not a request this run submitted (the broker is shared)
        # An order Docket had not yet been given (intake accepted the amendment after
        # the notice was sent) could not have been obeyed: only known orders count.
        known = [a for known_at, a in amendments[request_id] if known_at <= sent_at]
        state = effective_state(submissions[request_id], known, sent_at)
        gag = state.nondisclosure
        # A gag binds when it is ordered under a named legal authority (domain.md: an
        # order "without legal authority" is a non-binding secrecy request).
        binding = gag.ordered and gag.authority is not None
        if binding and (gag.expires_at is None or gag.expires_at > sent_at):
            known_ats = [k.isoformat() for k, _ in amendments[request_id]]
            violations.append(
                f"{event_id} sent {sent_at.isoformat()} under {gag.model_dump_json()}; "
                f"amendments accepted at {known_ats}"
            )
    return violations


def duplicate_notices(rows: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    """(request, target, channel) notified more than once per the audit log."""
    seen: collections.Counter[str] = collections.Counter()
    for event_type, request_id, entry in rows:
        if event_type == "UserNotified":
            data = entry["event"]["data"]
            target = json.dumps(data["target"], sort_keys=True)
            seen[f"{request_id}|{target}|{data['channel']}"] += 1
    return [key for key, count in seen.items() if count > 1]


def poison_records(topic: str, token: str) -> list[tuple[str, str, bytes]]:  # (kind, key, value)
    """Records no Docket consumer can process, keyed so they can be found again."""
    wrong_version: dict[str, Any] = {
        "specversion": "1.0",
        "id": f"poison-version-{token}-{topic}",
        "source": "/chaos",
        "type": "RequestReceived",
        "subject": f"poison-version-{topic}-{token}",
        "time": _iso(datetime.now(UTC)),
        "datacontenttype": "application/json",
        "dataschema": "urn:docket:event:RequestReceived:v99",
        "data": {"request_id": f"poison-version-{topic}-{token}"},
    }
    # Valid JSON of the right overall shape for the ledger topic, yet no event.
    wrong_schema = {"source_topic": topic, "note": "not a Docket event", "n": 1}
    return [
        ("not_json", f"poison-notjson-{topic}-{token}", b"\xff\xfe not json {"),
        ("wrong_schema", f"poison-schema-{topic}-{token}", json.dumps(wrong_schema).encode()),
        ("unknown_version", str(wrong_version["subject"]), json.dumps(wrong_version).encode()),
        # Just under the broker's 1 MiB limit: read, dead-lettered with 64 KiB kept.
        ("large", f"poison-large-{topic}-{token}", b"x" * (900 * 1024)),
    ]
