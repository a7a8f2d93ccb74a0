"""The transparency report: counts, shares, notices, national security in bands, and
the periods a report may cover. The counts come from ``report_counts.count_views``, the
in-memory twin of the store's SQL (``tests/integration/audit`` compares the two)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.audit.chart import requests_chart_svg
from services.audit.domain.request_view import RequestView, apply_event, fold_views
from services.audit.domain.transparency import (
    DemandGroup,
    ReportCounts,
    TransparencyReport,
    band,
    period_problems,
    report_csv,
    requests_by_month,
    transparency_report,
)
from shared.events import EventData
from tests.unit.audit import factories as f
from tests.unit.audit.report_counts import count_months, count_views

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 7, 1, tzinfo=UTC)


def _views(*events: EventData) -> list[RequestView]:
    return list(fold_views(events).values())


def _sample() -> list[RequestView]:
    us = f.submission(country="US", targets=2)
    de = f.submission(country="DE", targets=1, emergency=True)
    nsl = f.submission(country="US", targets=7, instrument="national_security_letter")
    late = f.submission(received_at=datetime(2026, 8, 1, tzinfo=UTC))
    return _views(
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
    )


def _report(views: list[RequestView], band_width: int = 250) -> TransparencyReport:
    return transparency_report(count_views(views, START, END), START, END, band_width)


def test_counts_by_country_and_family_with_share_produced() -> None:
    report = _report(_sample())
    assert report.totals.requests == 3  # r4 is banded, r5 is outside the period
    assert report.totals.accounts_specified == 5
    assert report.totals.some_data_produced == 2
    assert report.totals.share_some_data_produced_pct == pytest.approx(66.7)
    assert report.totals.emergency == 1
    by_country = {row.key: (row.requests, row.accounts_specified) for row in report.by_country}
    assert by_country == {"DE": (1, 1), "US": (2, 4)}
    families = {row.key: row.requests for row in report.by_authority_family}
    assert families == {"emergency": 1, "subpoena": 1, "unclassified": 1}


def test_notices_sent_delayed_withheld_exclude_national_security() -> None:
    notices = _report(_sample()).notices
    assert (notices.sent, notices.delayed, notices.withheld) == (1, 1, 0)


def test_national_security_is_only_ever_a_band() -> None:
    report = _report(_sample())
    assert report.national_security.requests == "0-249"
    assert report.national_security.accounts_specified == "0-249"
    assert "national_security" not in {row.key for row in report.by_authority_family}


def test_an_intelligence_requester_is_banded_even_before_classification() -> None:
    sub = f.submission(agency_type="intelligence")
    report = _report(_views(f.received("x", sub)), band_width=500)
    assert report.totals.requests == 0
    assert report.national_security.requests == "0-499"


@pytest.mark.parametrize(
    ("count", "width", "expected"),
    [(0, 250, "0-249"), (249, 250, "0-249"), (250, 250, "250-499"), (1999, 1000, "1000-1999")],
)
def test_bands_start_at_zero(count: int, width: int, expected: str) -> None:
    assert band(count, width) == expected


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from([100, 250, 500, 1000]))
def test_a_band_holds_its_count(count: int, width: int) -> None:
    low, high = map(int, band(count, width).split("-"))
    assert low <= count <= high
    assert high - low + 1 == width
    assert low % width == 0


def test_bands_the_law_does_not_permit_are_refused() -> None:
    with pytest.raises(ValueError, match="band width"):
        band(3, 10)


def test_csv_has_every_section() -> None:
    rows = list(csv.reader(io.StringIO(report_csv(_report(_sample())))))
    sections = {row[0] for row in rows[1:]}
    assert sections == {"total", "country", "authority_family", "user_notice"} | {
        "national_security_band"
    }
    assert ["national_security_band", "250", "0-249", "0-249", *[""] * 7] in rows


def test_requests_by_month_and_chart() -> None:
    series = requests_by_month(count_months(_sample(), START, END), START, END)
    assert list(series) == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]
    assert series["2026-02"] == {"emergency": 1, "subpoena": 1, "unclassified": 1}
    svg = requests_chart_svg(series, "Requests <test>")
    assert svg.startswith("<svg")
    assert "Requests &lt;test&gt;" in svg
    for family in ("emergency", "subpoena", "unclassified"):  # the legend
        assert f">{family}</text>" in svg
    assert "national_security" not in svg


def test_fold_views_equals_applying_one_event_at_a_time() -> None:
    sub = f.submission()
    events = [f.received("a", sub), f.classified("a", sub), f.notified("a", "u0")]
    view = None
    for event in events:
        view = apply_event(view, event)
    assert fold_views(events) == {"a": view}


def _group(requests: int, **kind: str) -> DemandGroup:
    fields = {"family": "subpoena", "instrument": "subpoena", "agency_type": "court"} | kind
    return DemandGroup(
        **fields,
        country="US",
        emergency_claimed=False,
        outcome=None,
        requests=requests,
        accounts=requests * 2,
    )


@pytest.mark.parametrize(
    "kind",
    [
        {"family": "national_security"},
        {"instrument": "national_security_letter"},
        {"agency_type": "intelligence"},
    ],
)
def test_national_security_groups_count_only_in_bands(kind: dict[str, str]) -> None:
    counts = ReportCounts(demands=(_group(3), _group(260, **kind)), notices=())
    report = transparency_report(counts, START, END, 250)
    assert report.totals.requests == 3
    assert report.totals.accounts_specified == 6
    assert report.national_security.requests == "250-499"
    assert report.national_security.accounts_specified == "500-749"


def test_an_empty_period_reports_zeros_and_the_lowest_band() -> None:
    report = transparency_report(ReportCounts(demands=(), notices=()), START, END)
    assert report.totals.requests == 0
    assert report.totals.share_some_data_produced_pct == 0.0
    assert (report.by_country, report.by_authority_family) == ([], [])
    assert report.national_security.requests == "0-249"


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (datetime(2000, 1, 1, tzinfo=UTC), datetime(2009, 12, 31, tzinfo=UTC), []),
        (datetime(2000, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC), []),
        (START, START + timedelta(days=36525), []),
        (START, START + timedelta(days=36526), [("to", "at most a hundred years")]),
        (
            datetime(1999, 12, 31, tzinfo=UTC),
            datetime(2000, 6, 1, tzinfo=UTC),
            [("from", "no earlier than 2000-01-01")],
        ),
        (
            datetime(1, 1, 1, tzinfo=UTC),
            datetime(9999, 12, 31, tzinfo=UTC),
            [("from", ""), ("to", "a hundred years")],
        ),
        (END, START, [("to", "after from")]),
        (START, START, [("to", "after from")]),
    ],
)
def test_a_report_period_starts_in_2000_or_later_and_lasts_ten_years_at_most(
    start: datetime, end: datetime, expected: list[tuple[str, str]]
) -> None:
    problems = period_problems(start, end)
    assert [field for field, _ in problems] == [field for field, _ in expected]
    for (_, message), (_, part) in zip(problems, expected, strict=True):
        assert part in message
