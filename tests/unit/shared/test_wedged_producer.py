"""A producer whose idempotent sequence broke never publishes again (aiokafka does not
recover): the publisher remembers it so ``/healthz`` fails and the instance is replaced."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, OutOfOrderSequenceNumber
from faststream.kafka import KafkaBroker

from shared.events import envelope_for
from shared.kafka import EventPublisher, producer_problem
from tests.unit.audit import factories as f


class _Refusing(KafkaBroker):
    def __init__(self, error: Exception) -> None:
        super().__init__("127.0.0.1:1")
        self.error = error

    async def publish(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error


async def test_a_broken_sequence_marks_the_producer_wedged() -> None:
    broker = _Refusing(OutOfOrderSequenceNumber())
    envelope = envelope_for(f.decided("req-wedged", "disclosed"), source="/docket/test")
    assert producer_problem(broker) is None
    with pytest.raises(OutOfOrderSequenceNumber):
        await EventPublisher(broker, "/docket/test").publish_envelope(envelope, "t")
    assert "OutOfOrderSequenceNumber" in (producer_problem(broker) or "")


async def test_a_passing_outage_does_not() -> None:
    broker = _Refusing(KafkaTimeoutError())
    envelope = envelope_for(f.decided("req-timeout", "disclosed"), source="/docket/test")
    with pytest.raises(KafkaTimeoutError):
        await EventPublisher(broker, "/docket/test").publish_envelope(envelope, "t")
    assert producer_problem(broker) is None
