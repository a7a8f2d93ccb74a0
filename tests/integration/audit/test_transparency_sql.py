"""The transparency report's counts, computed by PostgreSQL: the store's SQL groups
count exactly what the in-memory reference counts for the same views (so the report and
its chart mean what the unit tests say), national-security process stays banded, and a
period beyond the cap is refused with a field error before any query runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from deploy.kafka.security import KafkaAccess
from services.audit.app import MIGRATIONS, SCHEMA
from services.audit.domain.request_view import RequestView, fold_views
from services.audit.domain.transparency import requests_by_month, transparency_report
from services.audit.store import AuditStore
from shared.db import Database
from shared.settings import DatabaseSettings
from tests.fixtures.postgres import DocketDatabase
from tests.integration.audit.helpers import start_audit
from tests.unit.audit import factories as f
from tests.unit.audit.report_counts import count_months, count_views

pytestmark = pytest.mark.integration

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 7, 1, tzinfo=UTC)


def sample() -> list[RequestView]:
    us = f.submission(country="US", targets=2)
    de = f.submission(country="DE", targets=1, emergency=True)
    nsl = f.submission(country="US", targets=7, instrument="national_security_letter")
    spy = f.submission(country="GB", targets=3, agency_type="intelligence")
    march = f.submission(country="FR", received_at=datetime(2026, 3, 31, 23, tzinfo=UTC))
    late = f.submission(received_at=datetime(2026, 8, 1, tzinfo=UTC))
    early = f.submission(received_at=START - timedelta(microseconds=1))
    bulk = f.submission(country="CA")
    events = [
        f.received("r1", us),
        f.classified("r1", us, "subpoena"),
        f.decided("r1", "disclosed"),
        f.notified("r1", "u0"),
        f.scheduled("r1", "u1"),
        f.received("r2", de),
        f.classified("r2", de, "emergency"),
        f.decided("r2", "rejected"),
        f.received("r3", us),
        f.decided("r3", "partially_disclosed"),
        f.received("r4", nsl),
        f.classified("r4", nsl, "national_security"),
        f.decided("r4", "disclosed"),
        f.withheld("r4", "u0"),
        f.received("r5", late),
        f.received("r6", spy),
        f.notified("r6", "u0"),
        f.received("r7", march),
        f.classified("r7", march, "subpoena"),
        f.withheld("r7", "u0"),
        f.received("r8", early),
        f.notified("r9", "u0"),  # a notice of a request whose demand never arrived
        *(f.received(f"bulk-{i}", bulk) for i in range(50)),
    ]
    return list(fold_views(events).values())


@asynccontextmanager
async def store_with(views: list[RequestView], url: str) -> AsyncIterator[AuditStore]:
    database = Database.for_service(DatabaseSettings(database_url=url), SCHEMA, MIGRATIONS)
    async with database.opened():
        store = AuditStore(database)
        async with store.pool.acquire() as conn:
            await store.save_views(conn, views)
        yield store


def _sorted(groups: object) -> list[str]:
    return sorted(g.model_dump_json() for g in groups)  # type: ignore[attr-defined]


async def test_sql_counts_what_the_reference_counts(docket_database: DocketDatabase) -> None:
    views = sample()
    async with store_with(views, docket_database.url("audit")) as store:
        counts = await store.report_counts(START, END)
        months = await store.month_counts(START, END)
    expected = count_views(views, START, END)
    assert _sorted(counts.demands) == _sorted(expected.demands)
    assert _sorted(counts.notices) == _sorted(expected.notices)
    assert _sorted(months) == _sorted(count_months(views, START, END))
    # one row per kind of demand, not one per request: the 50 alike are one group
    assert sum(g.requests for g in counts.demands) == 56
    assert len(counts.demands) == 7
    assert max(g.requests for g in counts.demands) == 50
    report = transparency_report(counts, START, END, 250)
    assert report.totals.requests == 54  # r4, r6 banded; r5, r8 outside; r9 has no demand
    assert report.totals.accounts_specified == 56
    assert report.totals.some_data_produced == 2
    assert report.totals.emergency == 1
    countries = {r.key: r.requests for r in report.by_country}
    assert countries == {"CA": 50, "DE": 1, "FR": 1, "US": 2}
    assert (report.notices.sent, report.notices.delayed, report.notices.withheld) == (1, 1, 1)
    assert report.national_security.requests == "0-249"
    series = requests_by_month(months, START, END)
    assert series["2026-03"] == {"subpoena": 1}  # 23:00 UTC on 31 March is March
    assert series["2026-02"] == {"emergency": 1, "subpoena": 1, "unclassified": 51}


async def test_an_empty_period_counts_nothing(docket_database: DocketDatabase) -> None:
    async with store_with(sample(), docket_database.url("audit")) as store:
        counts = await store.report_counts(
            datetime(2001, 1, 1, tzinfo=UTC), START - timedelta(days=400)
        )
        assert (counts.demands, counts.notices) == ((), ())
        assert await store.month_counts(END + timedelta(days=60), END + timedelta(days=90)) == []


BEYOND_THE_CAP = [
    ({"from": "0001-01-01", "to": "9999-12-31"}, "from"),
    ({"from": "1999-12-01", "to": "2000-02-01"}, "from"),
    ({"from": "2000-01-01", "to": "2100-01-02"}, "to"),
    ({"from": "2026-02-01", "to": "2026-01-01"}, "to"),
]


async def test_a_period_beyond_the_cap_is_422_with_the_field(
    kafka_access: KafkaAccess, database_url: str
) -> None:
    audit = await start_audit(kafka_access, database_url, tree_head_interval_s=0)
    try:
        async with httpx.AsyncClient(base_url=audit.url, timeout=10) as client:
            for period, field in BEYOND_THE_CAP:
                for path in ("/v1/reports/transparency", "/v1/reports/transparency/chart.svg"):
                    answer = await client.get(path, params=period)
                    assert answer.status_code == 422, (period, answer.text)
                    assert answer.headers["content-type"] == "application/problem+json"
                    assert field in [e.get("parameter") for e in answer.json()["errors"]]
            ten_years = {"from": "2016-07-01", "to": "2026-07-01"}
            for path in ("/v1/reports/transparency", "/v1/reports/transparency/chart.svg"):
                assert (await client.get(path, params=ten_years)).status_code == 200
    finally:
        await audit.stop()
