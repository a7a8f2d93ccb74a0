"""The transparency report (domain section 7), as pure functions over counts.

A request counts in the period its demand was received in (``[start, end)``). The store
counts demands in SQL, grouped by every attribute the report distinguishes
(:class:`DemandGroup`, :class:`NoticeGroup`, :class:`MonthGroup`), so a report costs one
pass of the database over the period and returns a few rows however many requests it
holds; the rules below decide what each group is. Exact counts never include
national-security process (authority family ``national_security``, a national security
letter, or an intelligence requester): totals minus the other rows would otherwise
reveal its exact number. It is reported only in the bands 50 U.S.C. 1874 permits, which
start at zero.

A period starts no earlier than :data:`EARLIEST_FROM` and lasts at most
:data:`LONGEST_PERIOD` (:func:`period_problems`).
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

NATIONAL_SECURITY = "national_security"
UNCLASSIFIED = "unclassified"
EMERGENCY = "emergency"
NATIONAL_SECURITY_LETTER = "national_security_letter"
EMERGENCY_REQUEST = "emergency_request"
INTELLIGENCE = "intelligence"
PRODUCED = frozenset({"disclosed", "partially_disclosed"})
#: How a request ended, Microsoft's split (``request_view.outcome_split``).
OUTCOME_SPLITS = ("content_disclosed", "non_content_only", "no_data_found", "rejected")
PRODUCED_SPLITS = frozenset(OUTCOME_SPLITS[:2])
#: The band widths 50 U.S.C. 1874 allows (100 only for annual combined figures).
PERMITTED_BANDS = frozenset({100, 250, 500, 1000})
#: No report starts before this: Docket holds no demand older than its records.
EARLIEST_FROM = datetime(2000, 1, 1, tzinfo=UTC)
#: Ten years (leap days included): the longest period one report covers.
#: Long enough for a platform's whole history (the chart's bars grow to years); short
#: enough that a report's month groups stay a few hundred rows.
LONGEST_PERIOD = timedelta(days=36525)


def period_problems(start: datetime, end: datetime) -> list[tuple[str, str]]:
    """``(field, message)`` for each reason ``[start, end)`` is not a reportable period
    (``from`` and ``to`` are the query's names); empty when it is one."""
    problems: list[tuple[str, str]] = []
    if start < EARLIEST_FROM:
        problems.append(("from", f"a report starts no earlier than {EARLIEST_FROM:%Y-%m-%d}"))
    if start >= end:
        problems.append(("to", "to must be after from"))
    elif end - start > LONGEST_PERIOD:
        problems.append(("to", "a report covers at most a hundred years (36525 days)"))
    return problems


class ProcessKind(BaseModel):
    """What decides whether demands are national-security process, and their family."""

    model_config = ConfigDict(frozen=True)

    #: The classified authority family; None before classification.
    family: str | None
    instrument: str
    agency_type: str

    @property
    def national_security(self) -> bool:
        return (
            self.family == NATIONAL_SECURITY
            or self.instrument == NATIONAL_SECURITY_LETTER
            or self.agency_type == INTELLIGENCE
        )

    @property
    def reported_family(self) -> str:
        return self.family or UNCLASSIFIED


class DemandGroup(ProcessKind):
    """Demands received in the period alike in every attribute the report counts by."""

    country: str
    emergency_claimed: bool
    #: The recorded decision's outcome; None before a decision.
    outcome: str | None
    #: How the request ended (``OUTCOME_SPLITS``, from counsel's production decisions
    #: or the decision); None while undecided, and in views folded before it existed.
    outcome_split: str | None = None
    requests: int
    #: Accounts the demands specify, summed.
    accounts: int

    @property
    def emergency(self) -> bool:
        return (
            self.emergency_claimed
            or self.instrument == EMERGENCY_REQUEST
            or self.reported_family == EMERGENCY
        )

    @property
    def produced(self) -> bool:
        if self.outcome_split is not None:
            return self.outcome_split in PRODUCED_SPLITS
        return self.outcome in PRODUCED


class NoticeGroup(ProcessKind):
    """Notice decisions on demands of the period alike in kind."""

    decision: str
    last_event: str
    notices: int

    @property
    def kind(self) -> str:
        if self.last_event == "UserNotified":
            return "sent"
        if self.decision == "delayed":
            return "delayed"
        if self.decision == "never":
            return "withheld"
        if self.decision == "not_applicable":
            return "not_applicable"
        return "pending"


class MonthGroup(ProcessKind):
    """Demands received in one month (``YYYY-MM``, UTC) alike in kind."""

    month: str
    requests: int


class ReportCounts(BaseModel):
    """What the store counts for one period."""

    model_config = ConfigDict(frozen=True)

    demands: tuple[DemandGroup, ...]
    notices: tuple[NoticeGroup, ...]


class ReportRow(BaseModel):
    key: str
    requests: int = 0
    accounts_specified: int = 0
    some_data_produced: int = 0
    share_some_data_produced_pct: float = 0.0
    emergency: int = 0
    #: The outcome split: content disclosed, only non-content (subscriber records,
    #: logs, metadata) disclosed, no data found, rejected (nothing produced).
    content_disclosed: int = 0
    non_content_only: int = 0
    no_data_found: int = 0
    rejected: int = 0


class NoticeCounts(BaseModel):
    sent: int = 0
    delayed: int = 0
    withheld: int = 0
    not_applicable: int = 0
    pending: int = 0


class BandedCounts(BaseModel):
    band_width: int
    requests: str
    accounts_specified: str


class TransparencyReport(BaseModel):
    period_from: datetime
    period_to: datetime
    totals: ReportRow
    by_country: list[ReportRow]
    by_authority_family: list[ReportRow]
    notices: NoticeCounts
    national_security: BandedCounts


def band(count: int, width: int) -> str:
    """The statutory band holding ``count``: ``band(0, 250) == "0-249"``."""
    if width not in PERMITTED_BANDS:
        raise ValueError(f"band width must be one of {sorted(PERMITTED_BANDS)}")
    if count < 0:
        raise ValueError("a count is never negative")
    low = count // width * width
    return f"{low}-{low + width - 1}"


def transparency_report(
    counts: ReportCounts, start: datetime, end: datetime, band_width: int = 250
) -> TransparencyReport:
    """The report for demands received in ``[start, end)``, counted in ``counts``."""
    secret = [g for g in counts.demands if g.national_security]
    public = [g for g in counts.demands if not g.national_security]
    notices: Counter[str] = Counter()
    for group in counts.notices:
        if not group.national_security:
            notices[group.kind] += group.notices
    return TransparencyReport(
        period_from=start,
        period_to=end,
        totals=_row("all", public),
        by_country=_rows(public, lambda g: g.country),
        by_authority_family=_rows(public, lambda g: g.reported_family),
        notices=NoticeCounts(**notices),
        national_security=BandedCounts(
            band_width=band_width,
            requests=band(sum(g.requests for g in secret), band_width),
            accounts_specified=band(sum(g.accounts for g in secret), band_width),
        ),
    )


def _rows(groups: list[DemandGroup], key: Any) -> list[ReportRow]:
    by_key: dict[str, list[DemandGroup]] = defaultdict(list)
    for group in groups:
        by_key[key(group)].append(group)
    return [_row(name, by_key[name]) for name in sorted(by_key)]


def _row(name: str, groups: list[DemandGroup]) -> ReportRow:
    requests = sum(g.requests for g in groups)
    produced = sum(g.requests for g in groups if g.produced)
    return ReportRow(
        key=name,
        requests=requests,
        accounts_specified=sum(g.accounts for g in groups),
        some_data_produced=produced,
        share_some_data_produced_pct=round(100 * produced / requests, 1) if requests else 0.0,
        emergency=sum(g.requests for g in groups if g.emergency),
        **{
            split: sum(g.requests for g in groups if g.outcome_split == split)
            for split in OUTCOME_SPLITS
        },
    )


CSV_COLUMNS = (
    "section",
    "key",
    "requests",
    "accounts_specified",
    "some_data_produced",
    "share_some_data_produced_pct",
    "emergency",
    *OUTCOME_SPLITS,
)


def report_csv(report: TransparencyReport) -> str:
    """One row per table line; notices and national-security bands as their own rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    sections = [("total", [report.totals]), ("country", report.by_country)]
    sections.append(("authority_family", report.by_authority_family))
    for section, rows in sections:
        for row in rows:
            writer.writerow([section, *row.model_dump().values()])
    for kind, count in report.notices.model_dump().items():
        writer.writerow(["user_notice", kind, count, *[""] * (len(CSV_COLUMNS) - 3)])
    banded = report.national_security
    ns_row = ("national_security_band", banded.band_width, banded.requests)
    writer.writerow([*ns_row, banded.accounts_specified, *[""] * (len(CSV_COLUMNS) - 4)])
    return out.getvalue()


def requests_by_month(
    groups: Iterable[MonthGroup], start: datetime, end: datetime
) -> dict[str, dict[str, int]]:
    """``{"2026-01": {"subpoena": 3, ...}, ...}`` for every month of the period,
    national-security process left out (it is never counted exactly)."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for group in groups:
        if not group.national_security:
            counts[group.month][group.reported_family] += group.requests
    return {label: dict(sorted(counts[label].items())) for label in _months(start, end)}


#: A chart has at most this many bars: beyond it months become quarters, then years.
MOST_BARS = 24


class Buckets(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


def bucket_size(months: int) -> Buckets:
    """The widest bars a chart of ``months`` months needs to keep to ``MOST_BARS``:
    months up to two years, quarters up to six, years beyond."""
    if months <= MOST_BARS:
        return Buckets.MONTH
    if months <= 3 * MOST_BARS:
        return Buckets.QUARTER
    return Buckets.YEAR


def bucket_label(month: str, size: Buckets) -> str:
    """The bar a ``YYYY-MM`` month falls in: ``2026-03``, ``2026 Q1`` or ``2026``."""
    year, number = month.split("-")
    if size is Buckets.YEAR:
        return year
    if size is Buckets.QUARTER:
        return f"{year} Q{(int(number) - 1) // 3 + 1}"
    return month


def requests_by_bucket(
    series: dict[str, dict[str, int]],
) -> tuple[Buckets, dict[str, dict[str, int]]]:
    """A ``requests_by_month`` series summed into bars as wide as its length needs
    (:func:`bucket_size`), in order, every bar of the period kept (empty ones too)."""
    size = bucket_size(len(series))
    bars: dict[str, Counter[str]] = {}
    for month, counts in series.items():
        bars.setdefault(bucket_label(month, size), Counter()).update(counts)
    return size, {label: dict(sorted(counts.items())) for label, counts in bars.items()}


def _months(start: datetime, end: datetime) -> list[str]:
    """The months (UTC) touching ``[start, end)``, at most 100 years of them."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    last = end - timedelta(microseconds=1)
    labels: list[str] = []
    year, month = start.year, start.month
    while (year, month) <= (last.year, last.month) and len(labels) < 1200:
        labels.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return labels
