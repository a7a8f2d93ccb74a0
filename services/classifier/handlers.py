"""Classifier entry point: a received request or an amendment in, a verdict out.

Every submission and amendment is stored first (``ClassifierStore``); the verdict then
answers the inputs that had arrived with its cause (``services.classifier.history``), so
a redelivered cause publishes the same event id with the same verdict. An amendment that
overtakes its request is kept and taken in when the request arrives. With a candidate
policy configured, each verdict also gets a shadow verdict that nobody acts on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from opentelemetry.trace import Tracer

from services.classifier.domain import Policy, classify
from services.classifier.domain.links import link_keys
from services.classifier.history import VerdictInputs, inputs_on_amended, inputs_on_received
from services.classifier.shadow import differences
from services.classifier.store import ClassifierStore
from shared.accounts import AccountDirectory
from shared.amendments import Amendment
from shared.events import (
    ConsideredAmendment,
    DecisionRecorded,
    Envelope,
    EventData,
    RequestAmended,
    RequestClassified,
    RequesterOrganisation,
    RequestReceived,
    ShadowClassified,
    TargetReference,
)
from shared.kafka import EventPublisher, RecordInfo, derived_event_id
from shared.submission import STORED
from shared.verdict import Verdict

log = structlog.get_logger("docket.classifier")


def verdict_event(
    request_id: str,
    verdict: Verdict,
    inputs: VerdictInputs,
    classified_at: datetime,
    caused_by: str,
) -> RequestClassified:
    """The published verdict: everything but ``classified_at`` follows from the inputs.
    It carries no personal data: targets by their place in the submission, the
    requester as an organisation, amendments without their notes (the evidence was
    phrased without personal data by ``classify``)."""
    submission = inputs.submission
    requester = submission.requester
    judged = {name: value for name, value in verdict if name != "targets"}
    return RequestClassified(
        request_id=request_id,
        **judged,
        targets=tuple(
            TargetReference(index=index, found=match.found)
            for index, match in enumerate(verdict.targets, start=1)
        ),
        instrument_type=submission.instrument.type,
        requester=RequesterOrganisation(
            agency=requester.agency, agency_type=requester.agency_type, country=requester.country
        ),
        amendments=tuple(
            ConsideredAmendment(
                nondisclosure=a.nondisclosure, withdrawn=a.withdrawn, effective_at=a.effective_at
            )
            for a in inputs.amendments
        ),
        classified_at=classified_at,
        caused_by=caused_by,
        links=inputs.links,
        duplicate_of=inputs.duplicate_of,
    )


def amendment_of(event: RequestAmended) -> Amendment:
    return Amendment.model_validate(
        event.model_dump(include=set(Amendment.model_fields)), context=STORED
    )


@dataclass(frozen=True)
class Policies:
    active: Policy
    #: A candidate run beside the active policy; its verdicts are only published.
    shadow: Policy | None = None


class ClassifyHandler:
    def __init__(
        self,
        policies: Policies,
        accounts: AccountDirectory,
        store: ClassifierStore,
        publisher: EventPublisher,
        tracer: Tracer,
    ) -> None:
        self._policies = policies
        self._accounts = accounts
        self._store = store
        self._publisher = publisher
        self._tracer = tracer

    async def __call__(self, envelope: Envelope, data: EventData, _info: RecordInfo) -> None:
        if isinstance(data, DecisionRecorded):
            # kept for the requests linked to this one later (a re-issue after pushback)
            await self._store.keep_decision(data.request_id, envelope.id, data.outcome.value)
            return
        if isinstance(data, RequestReceived):
            history = await self._store.keep_submission(
                data.request_id,
                envelope.id,
                data.submission,
                link_keys(data.submission, self._accounts),
            )
            inputs = inputs_on_received(history)
        elif isinstance(data, RequestAmended):
            history = await self._store.keep_amendment(
                data.request_id, envelope.id, amendment_of(data)
            )
            inputs = inputs_on_amended(history, envelope.id)
        else:
            return
        if inputs is None:
            log.info("amendment_kept", reclassified=False)
            return
        await self._publish(data.request_id, envelope.id, inputs)

    def _classify(self, policy: Policy, inputs: VerdictInputs) -> Verdict:
        submission = inputs.submission
        return classify(
            submission,
            self._accounts,
            policy,
            submission.received_at,
            inputs.amendments,
            inputs.links,
        )

    async def _publish(self, request_id: str, cause: str, inputs: VerdictInputs) -> None:
        with self._tracer.start_as_current_span("classify") as span:
            verdict = self._classify(self._policies.active, inputs)
            span.set_attribute("docket.authority.code", verdict.authority.code)
            span.set_attribute("docket.risk.level", verdict.risk.level.value)
            span.set_attribute("docket.amendments", len(inputs.amendments))
        classified_at = datetime.now(UTC)
        await self._publisher.publish(
            verdict_event(request_id, verdict, inputs, classified_at, cause),
            event_id=derived_event_id("classified", cause, verdict.policy_version),
        )
        log.info(
            "request_classified",
            links=len(inputs.links),
            duplicate=inputs.duplicate_of is not None,
            authority=verdict.authority.code,
            risk_level=verdict.risk.level.value,
            policy_version=verdict.policy_version,
            amendments=len(inputs.amendments),
        )
        if self._policies.shadow is None:
            return
        candidate = self._classify(self._policies.shadow, inputs)
        changes = differences(verdict, candidate)
        await self._publisher.publish(
            ShadowClassified(
                request_id=request_id,
                active_policy_version=verdict.policy_version,
                verdict=verdict_event(request_id, candidate, inputs, classified_at, cause),
                differences=changes,
            ),
            event_id=derived_event_id(
                "shadow", cause, verdict.policy_version, candidate.policy_version
            ),
        )
        log.info(
            "shadow_classified", policy_version=candidate.policy_version, differences=len(changes)
        )
