"""Classifier entry point: a received request in, a verdict out."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from opentelemetry.trace import Tracer

from services.classifier.domain import Policy, classify
from shared.accounts import AccountDirectory
from shared.events import Envelope, EventData, RequestClassified, RequestReceived
from shared.kafka import EventPublisher, RecordInfo, derived_event_id

log = structlog.get_logger("docket.classifier")


class ClassifyHandler:
    def __init__(
        self,
        policy: Policy,
        accounts: AccountDirectory,
        publisher: EventPublisher,
        tracer: Tracer,
    ) -> None:
        self._policy = policy
        self._accounts = accounts
        self._publisher = publisher
        self._tracer = tracer

    async def __call__(self, envelope: Envelope, data: EventData, _info: RecordInfo) -> None:
        if not isinstance(data, RequestReceived):
            return
        with self._tracer.start_as_current_span("classify") as span:
            verdict = classify(
                data.submission, self._accounts, self._policy, data.submission.received_at
            )
            span.set_attribute("docket.authority.code", verdict.authority.code)
            span.set_attribute("docket.risk.level", verdict.risk.level.value)
        event = RequestClassified(
            request_id=data.request_id,
            **verdict.model_dump(),
            submission=data.submission,
            classified_at=datetime.now(UTC),
            caused_by=envelope.id,
        )
        await self._publisher.publish(
            event, event_id=derived_event_id("classified", envelope.id, verdict.policy_version)
        )
        log.info(
            "request_classified",
            authority=verdict.authority.code,
            risk_level=verdict.risk.level.value,
            policy_version=verdict.policy_version,
        )
