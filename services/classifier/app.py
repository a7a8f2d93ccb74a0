"""Composition root of the classifier: policy, account directory, broker, handler."""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider

from services.classifier.domain import load_policy
from services.classifier.handlers import ClassifyHandler
from shared import topics
from shared.accounts import AccountDirectory
from shared.kafka import EventPublisher, subscribe_events
from shared.service import create_http_app, create_runtime, serve
from shared.settings import ClassifierSettings

SERVICE = "classifier"


def create_app(
    settings: ClassifierSettings, tracer_provider: TracerProvider | None = None
) -> FastAPI:
    policy = load_policy(settings.policy_dir)
    accounts = (
        AccountDirectory.from_jsonl(settings.accounts_file)
        if settings.accounts_file
        else AccountDirectory(())
    )
    runtime = create_runtime(SERVICE, settings, tracer_provider)
    publisher = EventPublisher(runtime.broker, source="/docket/classifier")
    handler = ClassifyHandler(
        policy, accounts, publisher, runtime.tracer_provider.get_tracer("docket.classifier")
    )
    subscribe_events(
        runtime.broker,
        topic_names=(topics.REQUEST_RECEIVED,),
        group_id=settings.consumer_group,
        consumer=SERVICE,
        handler=handler,
        publisher=publisher,
        dead_letters=runtime.dead_letters,
        instance_id=settings.instance_id,
    )
    return create_http_app(runtime, "Docket classifier")


def main() -> None:
    settings = ClassifierSettings()
    serve(SERVICE, settings, settings.port, lambda: create_app(settings))


if __name__ == "__main__":
    main()
