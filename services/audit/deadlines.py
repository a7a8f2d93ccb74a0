"""The deadline scheduler: reports each request's clocks coming due (``DeadlineApproaching``)
and missed (``DeadlineMissed``) once, on ``docket.deadline``; keeps ``docket_deadlines``
up to date; sends alerts to the pager. Where it lives and why: ``docs/deadlines.md``.

Durable and once across instances: the clocks are rows of audit's database (kept in
step with the log by the projection), claimed with ``FOR UPDATE SKIP LOCKED``; a stage
is recorded as reported in the transaction holding the row lock, after Kafka
acknowledged the event. A scheduler killed between the two leaves the row unreported
and unlocked; the next one publishes the same event id (derived from the request, the
kind, the due date and the stage) and the audit log keeps it once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from opentelemetry.trace import Tracer
from prometheus_client import CollectorRegistry, Counter, Gauge

from services.audit.alerts import AlertFailed, PagerDutyAlerts
from services.audit.deadline_store import ClockRow, DeadlineStore, PendingAlert, backoff
from services.audit.domain.deadlines import Leads, Stage, stage_to_report
from services.audit.domain.pagerduty import DeadlineAlert
from shared.events import DeadlineApproaching, DeadlineEvent, DeadlineKind, DeadlineMissed
from shared.kafka import EventPublisher, derived_event_id

log = structlog.get_logger("docket.audit.deadlines")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class DeadlineMetrics:
    """``docket_deadlines{kind,stage}``: running clocks now; ``docket_deadline_reports``
    and ``docket_deadline_alert_failures``: what was reported and what the pager refused.
    Labels are kinds and stages only, never a request."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.clocks = Gauge(
            "docket_deadlines",
            "Running deadline clocks by kind and state (pending, approaching, missed)",
            ["kind", "state"],
            registry=registry,
        )
        self.reported = Counter(
            "docket_deadline_reports",
            "Deadline events published, by kind and state",
            ["kind", "state"],
            registry=registry,
        )
        self.alert_failures = Counter(
            "docket_deadline_alert_failures",
            "Deadline alerts the alert receiver did not accept (retried with backoff)",
            registry=registry,
        )


def deadline_event(clock: ClockRow, stage: Stage, leads: Leads, now: datetime) -> DeadlineEvent:
    common = {
        "request_id": clock.request_id,
        "kind": clock.kind,
        "due_at": clock.due_at,
        "risk_level": clock.risk_level,
        "detected_at": now,
    }
    if stage is Stage.MISSED:
        return DeadlineMissed.model_validate(common)
    return DeadlineApproaching.model_validate(
        {**common, "lead_s": int(leads.of(clock.kind).total_seconds())}
    )


def deadline_event_id(clock: ClockRow, stage: Stage) -> str:
    """The same for every attempt to report one stage of one due date."""
    return derived_event_id(
        "deadline", stage.value, clock.request_id, clock.kind.value, clock.due_at.isoformat()
    )


class DeadlineScheduler:
    def __init__(
        self,
        store: DeadlineStore,
        publisher: EventPublisher,
        leads: Leads,
        metrics: DeadlineMetrics,
        tracer: Tracer,
        alerts: PagerDutyAlerts | None = None,
        clock: Clock = utc_now,
        batch_size: int = 100,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._leads = leads
        self._metrics = metrics
        self._tracer = tracer
        self._alerts = alerts
        self._clock = clock
        self._batch_size = batch_size

    async def run_forever(self, interval_s: float) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database or broker is down: try again later
                log.warning("deadline_round_failed", error=type(error).__name__)
            await asyncio.sleep(interval_s)

    async def run_once(self) -> int:
        """One round: report what fell due, send pending alerts, refresh the gauge;
        returns how many deadline events were published."""
        reported = 0
        while True:
            claimed, published = await self._report_batch()
            reported += published
            if claimed < self._batch_size:
                break
        if self._alerts is not None:
            await self._send_alerts(self._alerts)
        await self._refresh_gauge()
        return reported

    async def _report_batch(self) -> tuple[int, int]:
        """(clocks claimed, events published) of one batch, in one transaction."""
        now = self._clock()
        published = 0
        async with self._store.pool.acquire() as conn, conn.transaction():
            claimed = await self._store.claim_due(
                conn, self._leads.as_seconds(), now, self._batch_size
            )
            for clock in claimed:
                stage = stage_to_report(
                    clock.due_at,
                    self._leads.of(clock.kind),
                    now,
                    clock.approaching_reported_for,
                    clock.missed_reported_for,
                )
                if stage is None:
                    continue
                with self._tracer.start_as_current_span("deadline") as span:
                    span.set_attribute("docket.deadline.kind", clock.kind.value)
                    span.set_attribute("docket.deadline.state", stage.value)
                    await self._publisher.publish(
                        deadline_event(clock, stage, self._leads, now),
                        event_id=deadline_event_id(clock, stage),
                    )
                await self._store.mark_reported(conn, clock, stage, self._alerts is not None)
                self._metrics.reported.labels(clock.kind.value, stage.value).inc()
                log.info("deadline_reported", kind=clock.kind.value, state=stage.value)
                published += 1
        return len(claimed), published

    async def _send_alerts(self, alerts: PagerDutyAlerts) -> None:
        now = self._clock()
        async with self._store.pool.acquire() as conn, conn.transaction():
            for pending in await self._store.claim_alerts(conn, now, self._batch_size):
                try:
                    await alerts.send(_alert(pending, now))
                except AlertFailed as failure:
                    self._metrics.alert_failures.inc()
                    retry_at = now + backoff(pending.attempts)
                    await self._store.mark_alert_failed(conn, pending, retry_at)
                    log.warning(
                        "deadline_alert_failed",
                        reason=failure.reason,
                        attempts=pending.attempts + 1,
                        retry_at=retry_at.isoformat(),
                    )
                    continue
                await self._store.mark_alert_sent(conn, pending)
                log.info("deadline_alert_sent", action=pending.action.value)

    async def _refresh_gauge(self) -> None:
        counts = await self._store.counts(self._leads.as_seconds(), self._clock())
        for kind in DeadlineKind:
            for stage in Stage:
                self._metrics.clocks.labels(kind.value, stage.value).set(
                    counts.get((kind.value, stage.value), 0)
                )


def _alert(pending: PendingAlert, now: datetime) -> DeadlineAlert:
    clock = pending.clock
    return DeadlineAlert(
        request_id=clock.request_id,
        kind=clock.kind,
        due_at=clock.due_at,
        risk_level=clock.risk_level,
        stage=pending.stage,
        action=pending.action,
        detected_at=now,
    )
