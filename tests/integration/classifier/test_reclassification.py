"""Reclassification on the real broker and database: a gag added by an amendment brings
the non-disclosure factors, a lift takes them away, each new verdict answering its
amendment; an amendment that overtakes its request is kept and taken in."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from deploy.kafka.security import KafkaAccess
from services.classifier.domain import load_policy
from shared import topics
from shared.events import RequestAmended, RequestClassified, RequestReceived
from shared.kafka import derived_event_id
from shared.submission import Nondisclosure
from tests.integration.classifier.conftest import (
    RECEIVED_AT,
    Feed,
    Found,
    StartClassifier,
    new_request_id,
    read_events,
    subpoena,
)

pytestmark = pytest.mark.integration

NDO_FACTORS = {"NDO_PRESENT", "NDO_INDEFINITE"}
GAG = Nondisclosure(ordered=True, authority="18 U.S.C. § 2705(b) order of the district court")


def received(request_id: str) -> RequestReceived:
    return RequestReceived(
        request_id=request_id,
        submission=subpoena(request_id),
        submitted_by="test",
        accepted_at=RECEIVED_AT,
    )


def amended(request_id: str, nondisclosure: Nondisclosure, days: int) -> RequestAmended:
    return RequestAmended(
        request_id=request_id,
        nondisclosure=nondisclosure,
        effective_at=RECEIVED_AT + timedelta(days=days),
        submitted_by="test",
    )


async def verdict_for(kafka: KafkaAccess, request_id: str, cause: str) -> RequestClassified:
    def answered(events: Found) -> bool:
        return any(isinstance(d, RequestClassified) and d.caused_by == cause for _, d in events)

    events = await read_events(kafka, topics.REQUEST_CLASSIFIED, request_id, answered)
    verdicts = [
        (e, d) for e, d in events if isinstance(d, RequestClassified) and d.caused_by == cause
    ]
    assert len(verdicts) == 1, "one event per cause (redelivery reuses the event id)"
    envelope, verdict = verdicts[0]
    assert envelope.id == derived_event_id("classified", cause, verdict.policy_version)
    return verdict


def factors(verdict: RequestClassified) -> set[str]:
    return {f.code for f in verdict.risk.factors}


async def test_gag_added_then_lifted_reclassifies(
    start_classifier: StartClassifier, feed: Feed, kafka_access: KafkaAccess
) -> None:
    await start_classifier()
    request_id = new_request_id()

    first = await feed.event(received(request_id))
    verdict = await verdict_for(kafka_access, request_id, first.id)
    assert not factors(verdict) & NDO_FACTORS
    assert verdict.amendments == ()
    assert verdict.policy_version == load_policy().version

    gag = await feed.event(amended(request_id, GAG, days=1))
    gagged = await verdict_for(kafka_access, request_id, gag.id)
    assert factors(gagged) >= NDO_FACTORS
    assert gagged.risk.score > verdict.risk.score
    assert [a.nondisclosure for a in gagged.amendments] == [GAG]
    assert gagged.classified_at >= verdict.classified_at

    lift = await feed.event(amended(request_id, Nondisclosure(ordered=False), days=3))
    lifted = await verdict_for(kafka_access, request_id, lift.id)
    assert not factors(lifted) & NDO_FACTORS
    assert len(lifted.amendments) == 2
    # the verdict part depends on its inputs only
    assert lifted.risk == verdict.risk
    assert lifted.authority == verdict.authority


async def test_amendment_before_its_request_is_kept_and_taken_in(
    start_classifier: StartClassifier, feed: Feed, kafka_access: KafkaAccess, database_url: str
) -> None:
    await start_classifier()
    request_id = new_request_id()

    gag_id = str(uuid.uuid4())
    await feed.event(amended(request_id, GAG, days=1), event_id=gag_id)
    connection = await asyncpg.connect(database_url)
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=60)
        while not await connection.fetchval(
            "SELECT count(*) FROM classifier.amendments WHERE event_id = $1", gag_id
        ):
            assert datetime.now(UTC) < deadline, "the amendment was never stored"
            await asyncio.sleep(0.2)
    finally:
        await connection.close()

    first = await feed.event(received(request_id))
    verdict = await verdict_for(kafka_access, request_id, first.id)
    assert factors(verdict) >= NDO_FACTORS
    assert [a.nondisclosure for a in verdict.amendments] == [GAG]

    # the amendment's own cause publishes nothing: the request's verdict carries it
    events = await read_events(
        kafka_access, topics.REQUEST_CLASSIFIED, request_id, lambda found: bool(found)
    )
    assert [d.caused_by for _, d in events if isinstance(d, RequestClassified)] == [first.id]
