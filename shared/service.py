"""The frame every Docket service runs in: a FastAPI app serving ``/healthz`` and
``/readyz`` (cached: see ``shared.readiness``) beside the service's own API, whose
lifespan starts and stops the Kafka broker (and any other resource); a separate admin
app serving ``/metrics`` on the admin port (``DOCKET_ADMIN_HOST``, 127.0.0.1 by
default), so the API port never shows operational detail; and a ``serve`` entry point
running both that fails fast and clearly when the broker is unreachable instead of
looping on stack traces. OpenAPI documents (``/docs``, ``/redoc``, ``/openapi.json``)
are served only when ``DOCKET_OPENAPI_DOCS`` is true."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AsyncExitStack,
    asynccontextmanager,
    contextmanager,
    suppress,
)
from dataclasses import dataclass, field
from typing import Any

import structlog
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    generate_latest,
)
from starlette.applications import Starlette
from starlette.routing import Route

from shared.consumer_watchdog import AiokafkaConsumer, ConsumerWatchdog
from shared.db import SchemaNotReady
from shared.kafka import ConsumerMetrics, create_broker, producer_problem, wait_for_kafka
from shared.kafka_security import KafkaSecurity
from shared.logs import configure_logging
from shared.problems import PROBLEM_MEDIA_TYPE, Problem, title_of
from shared.readiness import CachedReadiness, ReadinessCheck
from shared.retry import METRICS as retry_metrics
from shared.settings import CommonSettings
from shared.telemetry import (
    UNTRACED_URLS,
    create_meter_provider,
    create_tracer_provider,
    trace_libraries_into,
)

log = structlog.get_logger("docket.service")

Resource = Callable[[], AbstractAsyncContextManager[None]]


@dataclass
class ServiceRuntime:
    """What a service's composition root wires together."""

    name: str
    broker: KafkaBroker
    tracer_provider: TracerProvider
    registry: CollectorRegistry
    #: OpenTelemetry metrics (the instrumentations'), read into ``registry``.
    meter_provider: MeterProvider
    dead_letters: Counter
    consumer_metrics: ConsumerMetrics
    readiness: dict[str, ReadinessCheck] = field(default_factory=dict)
    #: Entered before the broker starts consuming (database pools), left after it stopped.
    resources: list[Resource] = field(default_factory=list)
    #: Entered once the broker runs (background loops that publish), left before it stops.
    background: list[Resource] = field(default_factory=list)
    #: Serve ``/docs``, ``/redoc`` and ``/openapi.json`` (``DOCKET_OPENAPI_DOCS``).
    openapi_docs: bool = False
    #: ``/readyz`` checks the broker and database at most this often.
    readiness_interval_s: float = 2.0
    #: ``/healthz`` fails for a consumer holding unread records that has not moved for
    #: this long (or at once when its fetch task died): ``shared.consumer_watchdog``.
    consumer_stall_s: float = 120.0
    #: Checked by ``serve`` before the service starts (the database schema is migrated);
    #: one raising ``SchemaNotReady`` ends the process with one ``startup_failed`` line.
    preflight: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


def create_runtime(
    name: str, settings: CommonSettings, tracer_provider: TracerProvider | None = None
) -> ServiceRuntime:
    provider = tracer_provider or create_tracer_provider(name)
    trace_libraries_into(provider)
    registry = CollectorRegistry()
    retry_metrics.serve_in(registry)
    broker = create_broker(
        settings.kafka_bootstrap_servers,
        name,
        provider,
        registry,
        KafkaSecurity.from_settings(settings),
        settings.kafka_linger_ms,
    )
    dead_letters = Counter(
        "docket_dead_letters",
        "Records this service sent to the dead-letter topic, by source topic",
        ["topic"],
        registry=registry,
    )
    runtime = ServiceRuntime(
        name,
        broker,
        provider,
        registry,
        create_meter_provider(provider.resource, registry),
        dead_letters,
        ConsumerMetrics(registry),
        openapi_docs=settings.openapi_docs,
        readiness_interval_s=settings.readiness_interval_s,
        consumer_stall_s=settings.consumer_stall_s,
    )

    async def broker_reachable() -> bool:
        return await broker.ping(timeout=2.0)

    runtime.readiness["kafka"] = broker_reachable
    return runtime


def create_http_app(runtime: ServiceRuntime, title: str) -> FastAPI:
    """The service's FastAPI app; routes specific to a service are added by it. Its
    admin app (``admin_app_of``) serves the metrics."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with _entered(runtime.resources):
            await runtime.broker.start()
            try:
                async with _entered(runtime.background):
                    log.info("service_started", service=runtime.name)
                    yield
                    log.info("service_stopping", service=runtime.name)
            finally:
                await runtime.broker.stop()
                runtime.tracer_provider.shutdown()
                runtime.meter_provider.shutdown()

    docs = runtime.openapi_docs
    app = FastAPI(
        title=title,
        lifespan=lifespan,
        openapi_url="/openapi.json" if docs else None,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
    )
    app.state.admin_app = create_admin_app(runtime.registry)
    app.state.preflight = runtime.preflight

    async def consumers_running() -> bool:
        """Every Kafka subscriber of this service has a running consumer."""
        subscribers = list(runtime.broker.subscribers)
        return all(getattr(s, "consumer", None) is not None for s in subscribers)

    runtime.readiness["consumers"] = consumers_running
    watchdog = consumer_watchdog(runtime)
    runtime.background.append(lambda: loop_running(watchdog.run(), "consumer-watchdog"))
    # One SERVER span per API call named ``{method} {route}``, continuing a caller's
    # ``traceparent``, and the ``http.server.*`` metrics (docket_http_server_*).
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=runtime.tracer_provider,
        meter_provider=runtime.meter_provider,
        excluded_urls=UNTRACED_URLS,
        exclude_spans=["receive", "send"],
    )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        wedged = producer_problem(runtime.broker)
        problems = [*watchdog.problems, *([wedged] if wedged else [])]
        if problems:  # a consumer stopped reading or the producer broke: restart this instance
            dead = Problem(title=title_of(503), status=503, detail="; ".join(problems))
            return JSONResponse(
                dead.model_dump(exclude_none=True), status_code=503, media_type=PROBLEM_MEDIA_TYPE
            )
        return JSONResponse({"status": "alive"})

    readiness = CachedReadiness(runtime.readiness, runtime.readiness_interval_s)

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        results = await readiness.results()
        failing = sorted(name for name, ok in results.items() if not ok)
        if failing:  # a problem document (shared.problems), naming what is down
            unready = Problem(
                title=title_of(503), status=503, detail=f"not ready: {', '.join(failing)} down"
            )
            return JSONResponse(
                {**unready.model_dump(exclude_none=True), "checks": results, "failing": failing},
                status_code=503,
                media_type=PROBLEM_MEDIA_TYPE,
            )
        return JSONResponse({"status": "ready", "checks": results, "failing": failing})

    return app


def consumer_watchdog(runtime: ServiceRuntime) -> ConsumerWatchdog:
    """The watchdog over every Kafka subscriber's consumer of ``runtime``'s broker."""
    broker = runtime.broker

    def consumers() -> list[AiokafkaConsumer]:
        found = []
        for number, subscriber in enumerate(broker.subscribers):
            consumer = getattr(subscriber, "consumer", None)
            if consumer is not None:
                name = getattr(consumer, "_group_id", None) or f"subscriber-{number}"
                found.append(AiokafkaConsumer(str(name), consumer))
        return found

    async def broker_answers() -> bool:
        return await broker.ping(timeout=2.0)

    return ConsumerWatchdog(consumers, broker_answers, runtime.consumer_stall_s, runtime.registry)


def create_admin_app(registry: CollectorRegistry) -> Starlette:
    """What only operators and Prometheus reach: ``/metrics``, on the admin port."""

    async def metrics(_request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/metrics", metrics)])


def admin_app_of(app: FastAPI) -> Starlette:
    """The admin app ``create_http_app`` made beside ``app``."""
    admin: Starlette = app.state.admin_app
    return admin


class AdminServer(uvicorn.Server):
    """The admin port's server: it runs beside the API server, which alone handles
    SIGTERM/SIGINT, and stops when told to."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def admin_server(app: FastAPI, host: str, port: int) -> AdminServer:
    config = uvicorn.Config(
        admin_app_of(app), host=host, port=port, lifespan="off", log_config=None, access_log=False
    )
    return AdminServer(config)


@asynccontextmanager
async def _entered(resources: list[Resource]) -> AsyncIterator[None]:
    """Enter every resource in order, leave them in reverse."""
    async with AsyncExitStack() as stack:
        for resource in resources:
            await stack.enter_async_context(resource())
        yield


@asynccontextmanager
async def loop_running(
    loop: Coroutine[Any, Any, None], name: str | None = None
) -> AsyncIterator[None]:
    """A background loop (a scheduler, a signer, the dispatcher) as a task for as long as
    the context lasts; cancelled and awaited when it ends."""
    task = asyncio.create_task(loop, name=name)
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


class _Server(uvicorn.Server):
    """uvicorn re-raises a SIGTERM/SIGINT it handled once the graceful shutdown is
    over, so the process would end "killed by SIGTERM" (143) even after a clean stop.
    A clean stop exits 0; a second signal still forces exit through uvicorn."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()


def serve(
    name: str,
    settings: CommonSettings,
    port: int,
    admin_port: int,
    app_factory: Callable[[], FastAPI],
) -> None:
    """Run one service (its API on ``port``, its metrics on ``admin_port``) until
    SIGINT/SIGTERM. Exits 2 with one clear log line when the broker cannot be reached
    within ``kafka_connect_timeout_s``, ``app_factory`` refuses the configuration
    (raises ``ValueError``, e.g. a malformed policy), a preflight check fails (the
    database is unreachable or its schema not migrated) or the admin port is taken."""
    configure_logging(name, settings.log_level)
    try:
        security = KafkaSecurity.from_settings(settings).checked()
        asyncio.run(
            wait_for_kafka(
                settings.kafka_bootstrap_servers, security, settings.kafka_connect_timeout_s
            )
        )
    except (ConnectionError, ValueError) as error:  # unreachable, or refused settings
        log.error("startup_failed", service=name, reason=str(error))
        sys.exit(2)
    try:
        app = app_factory()
    except ValueError as error:  # a refused configuration, e.g. a malformed policy
        log.error("startup_failed", service=name, reason=str(error))
        sys.exit(2)
    for check in getattr(app.state, "preflight", ()):
        try:
            asyncio.run(check())
        except SchemaNotReady as error:
            log.error("startup_failed", service=name, reason=str(error))
            sys.exit(2)
    try:
        admin_socket = _bound(settings.admin_host, admin_port)
    except OSError as error:
        reason = f"cannot listen on the admin port {settings.admin_host}:{admin_port}: {error}"
        log.error("startup_failed", service=name, reason=reason)
        sys.exit(2)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=25,
    )
    server = _Server(config)
    admin = admin_server(app, settings.admin_host, admin_port)
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(_serve_with_admin(server, admin, admin_socket))
    if not server.started:
        log.error("startup_failed", service=name, reason="the service did not start")
        sys.exit(3)


def _bound(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket bound to ``host:port`` (``OSError`` when taken)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


async def _serve_with_admin(api: uvicorn.Server, admin: AdminServer, sock: socket.socket) -> None:
    """The API server in the foreground; the admin server beside it, stopped after it."""
    admin_task = asyncio.create_task(admin.serve(sockets=[sock]))
    try:
        await api.serve()
    finally:
        admin.should_exit = True
        await admin_task
