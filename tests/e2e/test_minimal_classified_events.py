"""A policy team's view carries no personal data: the five example demands go through
the real pipeline (intake, the classifier with a candidate policy in shadow, the
notifier, audit), and the raw records of ``docket.request.classified`` and
``docket.request.classified.shadow`` hold none of the demands' personal strings
(document text, handles, user ids, e-mail addresses, the issuing officer), while
still saying what a policy team needs (verdict, codes, evidence, target references,
instrument type, requesting organisation). The notices still reach the users."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from services.classifier.domain.policy import DEFAULT_POLICY_DIR
from shared import topics
from shared.accounts import Account
from shared.events import RequestClassified, ShadowClassified
from shared.submission import handle_key
from tests.fixtures.system import EXAMPLES, DocketSystem

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

#: The candidate policy run in shadow: the shipped one (``tests.fixtures.system``).
SHADOW_POLICY_DIR = DEFAULT_POLICY_DIR
CLASSIFIED_TOPICS = (topics.REQUEST_CLASSIFIED, topics.REQUEST_CLASSIFIED_SHADOW)
#: The handle form's own words, which an event may well use ("ordinary", "user").
SHORTEST_SEARCHED = 4


def examples() -> list[dict[str, Any]]:
    paths = sorted((EXAMPLES / "requests").glob("*.json"))
    assert len(paths) == 5
    return [json.loads(path.read_text()) for path in paths]


def directory() -> dict[str, Account]:
    lines = (EXAMPLES / "accounts.jsonl").read_text().splitlines()
    accounts = [Account.model_validate_json(line) for line in lines if line.strip()]
    return {handle_key(account.handle): account for account in accounts}


def personal_strings(demand: dict[str, Any], accounts: dict[str, Account]) -> set[str]:
    """What of one demand is personal: its document text, each target's handle (with and
    without ``@``) and user id, the account found for it (id, e-mail, phone, name), the
    requester's contact address and the issuing officer."""
    instrument = demand["instrument"]
    found: set[str | None] = {
        instrument.get("document_text"),
        instrument.get("issued_by"),
        demand["requester"].get("contact_email"),
        demand.get("emergency", {}).get("justification"),
    }
    for target in demand["targets"]:
        handle = target.get("handle")
        found |= {handle, handle.lstrip("@") if handle else None, target.get("platform_user_id")}
        account = accounts.get(handle_key(handle)) if handle else None
        if account is not None:
            found |= {
                account.handle.lstrip("@"),
                account.platform_user_id,
                account.email,
                account.phone,
                account.display_name,
            }
    return {value for value in found if value and len(value) >= SHORTEST_SEARCHED}


async def classified_records(
    system: DocketSystem, request_ids: set[str], timeout_s: float = 240.0
) -> dict[tuple[str, str], list[bytes]]:
    """(topic, request id) -> the raw values of that request's records on each of the
    two topics, read from the start until every request has one on both."""
    consumer = AIOKafkaConsumer(
        *CLASSIFIED_TOPICS,
        **system.kafka.client_options(),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: dict[tuple[str, str], list[bytes]] = {}
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    key = record.key.decode() if record.key else ""
                    if key in request_ids:
                        found.setdefault((record.topic, key), []).append(record.value or b"")
            if all((t, r) in found for t in CLASSIFIED_TOPICS for r in request_ids):
                return found
        raise TimeoutError(f"classified records never complete: {sorted(found)}")
    finally:
        await consumer.stop()


async def test_classified_events_carry_no_personal_data(docket_system: DocketSystem) -> None:
    accounts = directory()
    demands = examples()
    request_ids = [await docket_system.submit(demand) for demand in demands]
    personal = {
        request_id: personal_strings(demand, accounts)
        for request_id, demand in zip(request_ids, demands, strict=True)
    }
    every_personal = set().union(*personal.values())
    assert len(every_personal) >= 5 * 4  # the search below looks for something real

    records = await classified_records(docket_system, set(request_ids))

    for (topic, request_id), values in records.items():
        for value in values:
            raw = value.decode("utf-8")
            # as written, and as any JSON reader would decode it (escapes undone)
            decoded = json.dumps(json.loads(raw), ensure_ascii=False)
            for text in (raw.casefold(), decoded.casefold()):
                leaked = sorted(s for s in every_personal if s.casefold() in text)
                assert not leaked, f"{topic} record of {request_id} holds {leaked}"
            data = json.loads(raw)["data"]
            event = (
                ShadowClassified.model_validate(data).verdict
                if topic == topics.REQUEST_CLASSIFIED_SHADOW
                else RequestClassified.model_validate(data)
            )
            assert event.submission is None
            assert event.instrument_type is not None
            assert event.requester is not None
            assert event.risk.factors, "a verdict without its evidence tells a policy team little"
            assert all(t.handle is None and t.platform_user_id is None for t in event.targets)
            assert [t.index for t in event.targets] == list(range(1, len(event.targets) + 1))

    # What a policy team reads of the customs summons (01), and its user is still told:
    # the notifier found the account from RequestReceived.
    customs, demand = request_ids[0], demands[0]
    [value, *_] = records[(topics.REQUEST_CLASSIFIED, customs)]
    data = json.loads(value)["data"]
    event = RequestClassified.model_validate(data)
    assert event.authority.code == "CUSTOMS_SUMMONS_1509"
    assert event.instrument_type == "administrative_summons"
    assert event.requester is not None
    assert event.requester.agency == demand["requester"]["agency"]
    assert "contact_email" not in data["requester"]
    [target] = event.targets
    assert (target.index, target.found) == (1, True)
    assert "target 1" in " ".join(f.evidence for f in event.risk.factors)
    history = await docket_system.wait_for_history(
        customs, lambda h: any(e["type"] == "UserNotified" for e in h["events"])
    )
    assert history["notifications"][0]["decision"] == "now"
