"""Releases due notices: re-checks that notice is allowed at this moment, records the
intent, sends through the account's channel, records the outcome and publishes it.

Safe with several notifier instances (rows are claimed with ``FOR UPDATE SKIP
LOCKED``) and across crashes: a notice claimed but never released to its channel is
claimed again once its lease runs out; one released but never confirmed may have
reached the user, so it is held as 'uncertain' for counsel and never re-sent. So is
one whose channel reports ``DeliveryUncertain`` (a mail server that took the message
and never answered): it is held at once, not scheduled again.

Legal time is the database's clock: every decision to release is made at the
database's ``clock_timestamp()``, and nothing is released while this process's clock
disagrees with it by more than ``clock_skew_limit_s`` (a clock running an hour fast
must not release a gagged notice an hour early, nor steal another instance's lease).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import structlog
from opentelemetry import trace
from opentelemetry.propagate import extract
from opentelemetry.trace import Tracer
from prometheus_client import CollectorRegistry, Counter, Gauge

from services.notifier.channels.base import (
    DeliveryFailed,
    DeliveryUncertain,
    NoticeChannel,
    OutgoingNotice,
)
from services.notifier.channels.retry import send_with_retries
from services.notifier.domain.decision import may_send_now
from services.notifier.domain.notice import DEFAULT_NOTICE_SETTINGS, NoticeSettings, render_notice
from services.notifier.handlers import Clock, utc_now
from services.notifier.planning import plan_record
from services.notifier.store import Connection, NoticeRow, NotifierStore, RequestRecord
from shared.accounts import AccountDirectory
from shared.events import NoticeDecision, NotificationFailed, UserNotified
from shared.kafka import TRANSIENT_ERRORS, EventPublisher, derived_event_id
from shared.retry import DATABASE_OUTAGE
from shared.submission import Target

log = structlog.get_logger("docket.notifier.dispatcher")


@dataclass(frozen=True)
class DispatchSettings:
    poll_interval_s: float = 1.0
    batch_size: int = 20
    #: How long a claimed notice is reserved for the instance sending it.
    lease_s: float = 60.0
    #: Backoff after a failed delivery: base * 2^(attempts-1), capped.
    retry_base_s: float = 5.0
    retry_max_s: float = 3600.0
    #: The platform the notices speak for, and their languages.
    notice: NoticeSettings = DEFAULT_NOTICE_SETTINGS
    #: Largest disagreement (seconds, measurement error included) between this
    #: process's clock and the database's that still lets a notice be released.
    clock_skew_limit_s: float = 30.0


#: The ``error`` of the NotificationFailed published for a notice held as uncertain.
DELIVERY_UNCERTAIN = (
    "delivery uncertain: the notifier stopped after the notice was handed to the channel"
    " and before the channel's answer was recorded; held for counsel, not sent again"
)


def channel_uncertain(detail: str) -> str:
    """The ``error`` of the NotificationFailed for a notice whose channel could not tell
    whether it was delivered (``detail``: the channel's reason, no personal data)."""
    return f"delivery uncertain: {detail}; held for counsel, not sent again"


class NoticeMetrics:
    """Notices by state, sends and failed deliveries per channel. An alert on
    ``docket_notice_delivery_failures_total`` catches a channel that keeps failing."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.by_state = Gauge(
            "docket_notices",
            "Notices by state (scheduled, held, failed, sent, ...)",
            ["state"],
            registry=registry,
        )
        self.sent = Counter(
            "docket_notices_sent", "Notices delivered", ["channel"], registry=registry
        )
        self.failures = Counter(
            "docket_notice_delivery_failures",
            "Deliveries that failed after the channel's retries (the notice stays pending)",
            ["channel"],
            registry=registry,
        )
        self.uncertain = Counter(
            "docket_notices_uncertain",
            "Notices whose delivery is uncertain (sender stopped mid-send, or the channel got"
            " no answer after handing it over), held for counsel",
            ["channel"],
            registry=registry,
        )
        self.clock_skew = Gauge(
            "docket_notifier_clock_skew_seconds",
            "This process's clock minus the database's, at the last dispatcher round",
            registry=registry,
        )
        self.clock_refusals = Counter(
            "docket_notifier_clock_refusals",
            "Dispatcher rounds that released nothing: this clock disagrees with the database's",
            registry=registry,
        )


#: Answers when every amendment acknowledged by Kafka up to that moment has been
#: processed (see ``amendment_barrier.py``), or None; no notice is claimed without it.
AmendmentsRead = Callable[[], Awaitable[datetime | None]]


async def record_sent(mark_sent: Callable[[], Awaitable[None]], max_delay_s: float = 5.0) -> None:
    """A notice has left: record it, waiting out a database outage (``DATABASE_OUTAGE``)
    rather than giving up, because an unrecorded send is sent again once its claim's
    lease runs out. Only a crash in this window, or an outage longer than the lease, can
    still cause a second delivery (with the same Message-ID or webhook idempotency key)."""
    await replace(DATABASE_OUTAGE, max_s=max_delay_s).call(
        mark_sent,
        retry_if=lambda error: isinstance(error, TRANSIENT_ERRORS),
        what="notice_sent_not_yet_recorded",
    )


@dataclass(frozen=True)
class Claimed:
    row: NoticeRow
    request: RequestRecord
    #: The claim's lease, which is also its fencing token (``NotifierStore.mark_released``).
    lease_until: datetime


class NoticeDispatcher:
    def __init__(
        self,
        store: NotifierStore,
        accounts: AccountDirectory,
        channels: Mapping[str, NoticeChannel],
        publisher: EventPublisher,
        tracer: Tracer,
        metrics: NoticeMetrics,
        amendments_read: AmendmentsRead,
        settings: DispatchSettings = DispatchSettings(),
        clock: Clock = utc_now,
    ) -> None:
        self._metrics = metrics
        self._amendments_read = amendments_read
        self._store = store
        self._accounts = accounts
        self._channels = channels
        self._publisher = publisher
        self._tracer = tracer
        self._settings = settings
        self._clock = clock
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for due notices now rather than at the next poll."""
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database or broker is down: try again later
                log.warning("dispatch_round_failed", error=type(error).__name__)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.poll_interval_s)

    async def run_once(self) -> int:
        """One round: publish confirmations left unpublished, then send what is due."""
        for row in await self._store.sent_unpublished(self._settings.batch_size):
            await self._publish_sent(row)
        for row in await self._store.uncertain_unpublished(self._settings.batch_size):
            await self._publish_uncertain(row)
        async with self._store.pool.acquire() as conn:
            now = await self._legal_now(conn)
        if now is None or not await self._store.anything_due(now):
            return 0
        if await self._amendments_read() is None:
            return 0  # an amendment Kafka acknowledged is still unread: wait for it
        claimed = await self._claim_due()
        for item in claimed:
            await self._deliver(item)
        for state, count in (await self._store.count_by_state()).items():
            self._metrics.by_state.labels(state).set(count)
        return len(claimed)

    async def _legal_now(self, conn: Connection) -> datetime | None:
        """The database's time, when this process's clock agrees with it within
        ``clock_skew_limit_s`` (counting half the round trip as possible error);
        otherwise None, and nothing may be released."""
        before = self._clock()
        database_now = await self._store.database_clock(conn)
        after = self._clock()
        local = before + (after - before) / 2
        skew_s = (local - database_now).total_seconds()
        error_s = (after - before).total_seconds() / 2
        self._metrics.clock_skew.set(skew_s)
        if abs(skew_s) + error_s > self._settings.clock_skew_limit_s:
            self._metrics.clock_refusals.inc()
            log.error(
                "notice_release_refused_clock_disagrees",
                skew_s=round(skew_s, 3),
                limit_s=self._settings.clock_skew_limit_s,
            )
            return None
        return database_now

    async def _claim_due(self) -> list[Claimed]:
        claimed: list[Claimed] = []
        async with self._store.pool.acquire() as conn, conn.transaction():
            now = await self._legal_now(conn)
            if now is None:
                return []
            lease_until = now + timedelta(seconds=self._settings.lease_s)
            held = await self._store.hold_uncertain(
                conn, now, self._settings.batch_size, DELIVERY_UNCERTAIN
            )
            for row in held:
                self._metrics.uncertain.labels(row.channel).inc()
                log.error("notice_delivery_uncertain_held", notice_id=row.notice_id)
            request_ids = await self._store.due_notice_requests(
                conn, now, self._settings.batch_size
            )
            if not request_ids:
                return []
            # Lock order everywhere: request rows, then notice rows.
            requests = await self._store.locked_requests(conn, request_ids)
            for row in await self._store.lock_due_notices(conn, request_ids, now):
                request = requests.get(row.request_id)
                if request is None or request.verdict is None or request.submission is None:
                    continue
                if not self._still_allowed(row, request, now):
                    for plan in plan_record(request, self._accounts, now):
                        if plan.notice.notice_id == row.notice_id:
                            await self._store.apply_plan(conn, plan.notice)
                    log.info("notice_held_back_at_send_time", notice_id=row.notice_id)
                    continue
                await self._store.mark_sending(conn, row.notice_id, lease_until)
                claimed.append(Claimed(row, request, lease_until))
        return claimed

    def _still_allowed(self, row: NoticeRow, request: RequestRecord, now: datetime) -> bool:
        """The safety check right before a send: the decision, re-made at this moment
        with every amendment known, must still be 'now' for this notice."""
        assert request.submission is not None
        for plan in plan_record(request, self._accounts, now):
            if plan.notice.notice_id == row.notice_id:
                return plan.ruling.decision is NoticeDecision.NOW and may_send_now(
                    submission=request.submission,
                    amendments=request.amendments,
                    ruling=plan.ruling,
                    as_of=now,
                )
        return False

    async def _deliver(self, item: Claimed) -> None:
        row, request = item.row, item.request
        assert request.verdict is not None
        assert request.submission is not None
        account = self._accounts.find(
            Target(handle=row.target.handle, platform_user_id=row.target.platform_user_id)
        )
        channel = self._channels.get(row.channel)
        parent = extract({"traceparent": row.traceparent}) if row.traceparent else None
        with self._tracer.start_as_current_span("send", context=parent) as span:
            span.set_attribute("docket.notice.channel", row.channel)
            span.set_attribute("docket.notice.id", row.notice_id)
            try:
                if channel is None:
                    raise DeliveryFailed(f"channel {row.channel!r} is not configured", True)
                content = render_notice(
                    request.verdict,
                    request.submission,
                    row.target,
                    reason=row.reason,
                    settings=self._settings.notice,
                    locale=account.locale if account else None,
                )
                notice = OutgoingNotice(
                    notice_id=row.notice_id,
                    request_id=row.request_id,
                    recipient_email=account.email if account else None,
                    platform_user_id=row.target.platform_user_id
                    or (account.platform_user_id if account else None),
                    handle=row.target.handle,
                    subject=content.subject,
                    text=content.text,
                    html=content.html,
                    locale=content.locale,
                    platform=content.platform,
                )
                if not channel.can_reach(notice):
                    raise DeliveryFailed(
                        f"the {row.channel} channel cannot reach this account", True
                    )
                released_at = await self._last_look(item)
                if released_at is None:
                    return
                receipt = await send_with_retries(channel, notice)
            except DeliveryUncertain as uncertain:
                await self._uncertain(row, channel_uncertain(uncertain.reason))
                return
            except DeliveryFailed as failure:
                await self._failed(row, failure.reason)
                return
            await record_sent(lambda: self._store.mark_sent(row.notice_id, receipt.sent_at))
            self._metrics.sent.labels(row.channel).inc()
            await self._publish_sent(
                replace(row, state="sent", sent_at=receipt.sent_at, released_at=released_at)
            )

    async def _last_look(self, item: Claimed) -> datetime | None:
        """Right before the notice leaves: every amendment Kafka has acknowledged is
        read, and the decision re-made on them now still says "now". Returns the moment
        up to which amendments were read (the notice's ``released_at``); otherwise the
        claim is released, the notice goes back to the schedule its plan says, and None.
        Also None, touching nothing, when the claim is no longer this instance's: it took
        longer than its lease to get here and another instance has claimed it since."""
        row = item.row
        read_up_to = await self._amendments_read()
        caught_up = read_up_to is not None
        async with self._store.pool.acquire() as conn, conn.transaction():
            request = (await self._store.locked_requests(conn, [row.request_id])).get(
                row.request_id
            )
            legal_now = await self._legal_now(conn)
            now = legal_now or await self._store.database_clock(conn)
            allowed = (
                caught_up
                and legal_now is not None
                and request is not None
                and request.verdict is not None
                and request.submission is not None
                and self._still_allowed(row, request, now)
            )
            if allowed and read_up_to is not None:
                sending_until = now + timedelta(seconds=self._settings.lease_s)
                if await self._store.mark_released(
                    conn, row.notice_id, item.lease_until, read_up_to, sending_until
                ):
                    return read_up_to
                log.warning("notice_claim_lost_before_send", notice_id=row.notice_id)
                return None
            if not await self._store.release_claim(conn, row.notice_id, item.lease_until, now):
                log.warning("notice_claim_lost_before_send", notice_id=row.notice_id)
                return None
            if caught_up and request is not None and request.verdict is not None:
                for plan in plan_record(request, self._accounts, now):
                    if plan.notice.notice_id == row.notice_id:
                        await self._store.apply_plan(conn, plan.notice)
        log.info("notice_held_back_at_send_time", notice_id=row.notice_id, caught_up=caught_up)
        return None

    async def _failed(self, row: NoticeRow, reason: str) -> None:
        attempts = row.attempts + 1
        self._metrics.failures.labels(row.channel).inc()
        delay = min(self._settings.retry_base_s * 2 ** (attempts - 1), self._settings.retry_max_s)
        async with self._store.pool.acquire() as conn:
            retry_at = await self._store.database_clock(conn) + timedelta(seconds=delay)
        await self._store.mark_failed(row.notice_id, reason, retry_at)
        log.warning(
            "notice_delivery_failed", notice_id=row.notice_id, attempts=attempts, retry_in_s=delay
        )
        await self._publish_failed(
            row,
            attempts,
            reason[:500],
            derived_event_id("notice-failed", row.notice_id, str(attempts)),
        )

    async def _uncertain(self, row: NoticeRow, reason: str) -> None:
        """The channel may have delivered the notice: hold it for counsel now, never
        schedule it again. If this cannot be recorded, the claim's lease runs out with
        the send started and ``hold_uncertain`` holds it all the same."""
        async with self._store.pool.acquire() as conn:
            now = await self._store.database_clock(conn)
        if not await self._store.mark_uncertain(row.notice_id, reason, now):
            return  # no longer this instance's claim
        self._metrics.uncertain.labels(row.channel).inc()
        log.error("notice_delivery_uncertain_held", notice_id=row.notice_id, reason=reason)
        await self._publish_uncertain(  # this send counted: the claim's attempts + 1
            replace(row, state="uncertain", attempts=row.attempts + 1, last_error=reason)
        )

    async def _publish_uncertain(self, row: NoticeRow) -> None:
        """Tell the audit log (and counsel) that this notice's delivery is uncertain."""
        await self._publish_failed(
            row,
            row.attempts,
            (row.last_error or DELIVERY_UNCERTAIN)[:500],
            derived_event_id("notice-uncertain", row.notice_id),
        )
        await self._store.mark_uncertain_published(row.notice_id)

    async def _publish_failed(
        self, row: NoticeRow, attempts: int, error: str, event_id: str
    ) -> None:
        await self._publisher.publish(
            NotificationFailed(
                request_id=row.request_id,
                target=row.target,
                decision=NoticeDecision.NOW,
                reason=row.reason,
                channel=row.channel,
                attempts=attempts,
                error=error,
            ),
            event_id=event_id,
        )

    async def _publish_sent(self, row: NoticeRow) -> None:
        """Publish the confirmation within the request's trace."""
        assert row.sent_at is not None
        if row.traceparent and not trace.get_current_span().get_span_context().is_valid:
            with self._tracer.start_as_current_span(
                "publish-confirmation", context=extract({"traceparent": row.traceparent})
            ):
                await self._publish_sent(replace(row, traceparent=None))
            return
        await self._publisher.publish(
            UserNotified(
                request_id=row.request_id,
                target=row.target,
                decision=NoticeDecision.NOW,
                reason=row.reason,
                channel=row.channel,
                sent_at=row.sent_at,
                notice_id=row.notice_id,
                released_at=row.released_at,
            ),
            event_id=derived_event_id("notice-sent", row.notice_id),
        )
        await self._store.mark_published(row.notice_id)
        log.info("user_notified", notice_id=row.notice_id, channel=row.channel)
