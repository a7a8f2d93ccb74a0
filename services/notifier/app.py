"""Composition root of the notifier: database, account directory, channels, the
decision handler and the dispatcher that releases due notices."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from pydantic import SecretStr

from services.notifier.amendment_barrier import AmendmentBarrier
from services.notifier.channels.base import NoticeChannel
from services.notifier.channels.config import SmtpConfig, WebhookConfig
from services.notifier.channels.email import EmailChannel
from services.notifier.channels.webhook import WebhookChannel
from services.notifier.dispatcher import DispatchSettings, NoticeDispatcher, NoticeMetrics
from services.notifier.domain.notice import NoticeSettings, Platform
from services.notifier.handlers import DecisionHandler
from services.notifier.planning import EMAIL, WEBHOOK
from services.notifier.store import NotifierStore
from shared import topics
from shared.accounts import AccountDirectory
from shared.db import Database
from shared.kafka import EventPublisher, subscribe_events
from shared.kafka_security import KafkaSecurity
from shared.schemas import SCHEMAS
from shared.service import create_http_app, create_runtime, loop_running, serve
from shared.settings import NotifierSettings

SERVICE = "notifier"
SCHEMA = "notifier"
MIGRATIONS = SCHEMAS[SCHEMA]


def create_channels(settings: NotifierSettings) -> dict[str, NoticeChannel]:
    channels: dict[str, NoticeChannel] = {}
    if settings.smtp_host:
        channels[EMAIL] = EmailChannel(
            SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                starttls=settings.smtp_starttls,
                username=settings.smtp_username,
                password=SecretStr(settings.smtp_password) if settings.smtp_password else None,
                sender=settings.smtp_sender,
            )
        )
    if settings.webhook_url and settings.webhook_secret:
        channels[WEBHOOK] = WebhookChannel(
            WebhookConfig(url=settings.webhook_url, secret=settings.webhook_secret)
        )
    return channels


def notice_settings(settings: NotifierSettings) -> NoticeSettings:
    """The platform's voice and languages, from ``DOCKET_PLATFORM_NAME`` and friends."""
    return NoticeSettings(
        platform=Platform(
            name=settings.platform_name,
            sender=settings.smtp_sender,
            reply_to=settings.notice_reply_to,
            legal_help_url=settings.legal_help_url,
            legal_team_url=settings.legal_team_url,
        ),
        default_locale=settings.notice_default_locale,
        templates_dir=settings.notice_templates_dir,
    )


def create_app(
    settings: NotifierSettings, tracer_provider: TracerProvider | None = None
) -> FastAPI:
    database = Database.for_service(settings, SCHEMA, MIGRATIONS)
    accounts = AccountDirectory.from_setting(settings.accounts_file)
    runtime = create_runtime(SERVICE, settings, tracer_provider)
    tracer = runtime.tracer_provider.get_tracer("docket.notifier")
    publisher = EventPublisher(runtime.broker, source="/docket/notifier")
    store = NotifierStore(database)
    channels = create_channels(settings)
    barrier = AmendmentBarrier(
        settings.kafka_bootstrap_servers,
        settings.consumer_group,
        KafkaSecurity.from_settings(settings),
    )
    dispatcher = NoticeDispatcher(
        store,
        accounts,
        channels,
        publisher,
        tracer,
        NoticeMetrics(runtime.registry),
        barrier.caught_up,
        DispatchSettings(
            poll_interval_s=settings.dispatch_poll_interval_s, notice=notice_settings(settings)
        ),
    )

    @asynccontextmanager
    async def dispatching() -> AsyncIterator[None]:
        await barrier.start()
        try:
            async with loop_running(dispatcher.run_forever(), name="notice-dispatcher"):
                yield
        finally:
            await barrier.stop()
            for channel in channels.values():
                await channel.aclose()

    runtime.resources.append(database.opened)
    runtime.background.append(dispatching)
    runtime.readiness["postgres"] = database.ping
    runtime.preflight.append(database.check)
    subscribe_events(
        runtime.broker,
        topic_names=(
            topics.REQUEST_RECEIVED,
            topics.REQUEST_CLASSIFIED,
            topics.REQUEST_AMENDED,
            topics.REQUEST_COUNSEL,
        ),
        group_id=settings.consumer_group,
        consumer=SERVICE,
        handler=DecisionHandler(store, accounts, publisher, tracer, on_planned=dispatcher.wake),
        publisher=publisher,
        dead_letters=runtime.dead_letters,
        metrics=runtime.consumer_metrics,
        instance_id=settings.instance_id,
    )
    return create_http_app(runtime, "Docket notifier")


def main() -> None:
    settings = NotifierSettings()
    serve(SERVICE, settings, settings.port, settings.admin_port, lambda: create_app(settings))


if __name__ == "__main__":
    main()
