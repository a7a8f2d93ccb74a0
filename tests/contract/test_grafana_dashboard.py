"""The ready-made Grafana dashboard: valid JSON, every panel titled and querying a
metric the services actually export."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import generate_latest
from pydantic import SecretStr

from shared.service import create_http_app, create_runtime
from shared.settings import CommonSettings

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "docket-dashboard.json"
METRIC = re.compile(r"\b((?:docket|faststream)_[a-z0-9_]+)")
REQUIRED = {
    "docket_http_server_request_duration_seconds_count",
    "faststream_received_processed_messages_total",
    "faststream_published_messages_total",
    "docket_processing_seconds_bucket",
    "docket_dead_letters_total",
    "docket_notices",
    "docket_notice_delivery_failures_total",
    "docket_consumer_lag",
    "docket_end_to_end_seconds_bucket",
    "docket_audit_log_size",
}


def _panels() -> list[dict[str, Any]]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def _metrics(panel: dict[str, Any]) -> set[str]:
    return {name for target in panel["targets"] for name in METRIC.findall(target["expr"])}


def test_every_panel_has_a_title_and_a_docket_or_faststream_query() -> None:
    panels = _panels()
    assert panels
    for panel in panels:
        assert panel.get("title"), panel
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert METRIC.search(target["expr"]), (panel["title"], target["expr"])
        assert panel["datasource"]["uid"] == "${datasource}"


def test_the_datasource_is_a_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    [variable] = [v for v in dashboard["templating"]["list"] if v["name"] == "datasource"]
    assert (variable["type"], variable["query"]) == ("datasource", "prometheus")


def test_every_required_metric_is_charted() -> None:
    charted = set().union(*(_metrics(panel) for panel in _panels()))
    assert charted >= REQUIRED, REQUIRED - charted


def _instrumentation_metrics() -> str:
    """What a service's admin port exports after one API call: the metrics the
    OpenTelemetry HTTP instrumentation names (``docket_http_server_*``)."""
    runtime = create_runtime(
        "test",
        CommonSettings(
            kafka_bootstrap_servers="127.0.0.1:1",
            kafka_username="docket-test",
            kafka_password=SecretStr("never-used"),
        ),
    )
    app = create_http_app(runtime, "Docket test")

    async def one_call() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await client.get("/v1/nothing-here")

    asyncio.run(one_call())
    return generate_latest(runtime.registry).decode()


def test_every_docket_metric_is_exported_by_the_code() -> None:
    source = "\n".join(
        path.read_text(encoding="utf-8")
        for folder in ("shared", "services")
        for path in (ROOT / folder).rglob("*.py")
    )
    instrumented = _instrumentation_metrics()
    charted = set().union(*(_metrics(panel) for panel in _panels()))
    for name in sorted(n for n in charted if n.startswith("docket_")):
        base = re.sub(r"_(total|bucket|sum|count)$", "", name)
        assert f'"{base}"' in source or f"\n{name}{{" in instrumented, (
            f"{name}: no metric {base!r} in shared/ or services/, nor from the instrumentation"
        )
