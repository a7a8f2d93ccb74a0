"""Composition root of the web console: a small service of its own (``docs/console.md``)
that renders pages from intake's and audit's APIs, calling them as the signed-in person.
It holds no database and no Kafka connection."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import structlog
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace import TracerProvider

from services.console import actions, pages
from services.console.auth import configure_auth, session_user
from services.console.auth import router as auth_router
from services.console.context import Console, PageProblem, render
from services.console.upstream import Upstream, UpstreamDown
from shared.logs import configure_logging
from shared.settings import ConsoleSettings
from shared.telemetry import create_tracer_provider

log = structlog.get_logger("docket.console")

SERVICE = "console"
HERE = Path(__file__).parent
#: No inline script or style anywhere; everything from this origin; no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def create_app(settings: ConsoleSettings, tracer_provider: TracerProvider | None = None) -> FastAPI:
    if settings.console_api_key is None:
        raise ValueError("DOCKET_CONSOLE_API_KEY is required (docket keys create --delegates)")
    provider = tracer_provider or create_tracer_provider(SERVICE)
    client = httpx.AsyncClient(timeout=settings.console_upstream_timeout_s)
    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await client.aclose()
            provider.shutdown()

    app = FastAPI(
        title="Docket console", lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None
    )
    templates = Jinja2Templates(directory=HERE / "templates")
    app.state.settings = settings
    app.state.templates = templates
    configure_auth(app, settings)
    app.state.console = Console(
        settings,
        Upstream(
            client,
            settings.intake_url.rstrip("/"),
            settings.audit_url.rstrip("/"),
            settings.console_api_key,
        ),
        templates,
    )
    app.include_router(auth_router)
    app.include_router(pages.router)
    app.include_router(actions.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    install_frame(app)
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, excluded_urls="/healthz,/readyz,/static"
    )
    return app


def install_frame(app: FastAPI) -> None:
    """Security headers on every answer, health routes, and the error pages."""

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        context: Console = request.app.state.console
        checks = {}
        for name, url in (
            ("intake", context.upstream.intake_url),
            ("audit", context.upstream.audit_url),
        ):
            try:
                checks[name] = (await context.upstream.client.get(f"{url}/healthz")).is_success
            except httpx.HTTPError:
                checks[name] = False
        failing = sorted(name for name, ok in checks.items() if not ok)
        status = 503 if failing else 200
        return JSONResponse({"checks": checks, "failing": failing}, status_code=status)

    @app.exception_handler(PageProblem)
    async def page_problem(request: Request, error: Exception) -> Response:
        assert isinstance(error, PageProblem)
        return _error_page(request, error.status, error.title, error.detail)

    @app.exception_handler(UpstreamDown)
    async def upstream_down(request: Request, error: Exception) -> Response:
        assert isinstance(error, UpstreamDown)
        log.warning("upstream_down", upstream=error.service, reason=error.detail)
        detail = f"{error.service} did not answer ({error.detail}); try again shortly"
        return _error_page(request, 502, "A Docket service did not answer", detail)

    @app.exception_handler(RequestValidationError)
    async def invalid_query(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}"
            for e in error.errors()
        )
        return _error_page(request, 422, "Check what you entered", detail)

    @app.exception_handler(HTTPException)
    async def http_problem(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        if error.status_code in (301, 302, 303, 307, 308):  # sign in first
            return Response(status_code=error.status_code, headers=error.headers)
        response = _error_page(request, error.status_code, "Cannot do that", str(error.detail))
        response.headers.update(error.headers or {})
        return response


def _error_page(request: Request, status: int, title: str, detail: str) -> Response:
    user = session_user(request)
    return render(request, "error.html.jinja", {"title": title, "detail": detail}, user, status)


def main() -> None:
    settings = ConsoleSettings()
    configure_logging(SERVICE, settings.log_level)
    try:
        app = create_app(settings)
    except ValueError as error:
        log.error("startup_failed", service=SERVICE, reason=str(error))
        raise SystemExit(2) from None
    log.info("console_listening", url=f"http://{settings.host}:{settings.port}")
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
