"""The transparency report (domain section 7), as pure functions over request views.

A request counts in the period its demand was received in (``[start, end)``). Exact
counts never include national-security process (authority family
``national_security``, a national security letter, or an intelligence requester):
totals minus the other rows would otherwise reveal its exact number. It is reported
only in the bands 50 U.S.C. 1874 permits, which start at zero.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from services.audit.domain.request_view import RequestView

NATIONAL_SECURITY = "national_security"
UNCLASSIFIED = "unclassified"
PRODUCED = frozenset({"disclosed", "partially_disclosed"})
#: The band widths 50 U.S.C. 1874 allows (100 only for annual combined figures).
PERMITTED_BANDS = frozenset({100, 250, 500, 1000})


@dataclass(frozen=True)
class Demand:
    """What the report needs from one request view."""

    received_at: datetime
    country: str
    family: str
    accounts: int
    emergency: bool
    national_security: bool
    produced: bool
    notices: tuple[str, ...]


class ReportRow(BaseModel):
    key: str
    requests: int = 0
    accounts_specified: int = 0
    some_data_produced: int = 0
    share_some_data_produced_pct: float = 0.0
    emergency: int = 0


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


def demand_of(view: RequestView) -> Demand | None:
    """The reportable facts of a view; None before its demand was received."""
    if view.received is None:
        return None
    submission: dict[str, Any] = view.received["submission"]
    requester = submission["requester"]
    instrument = submission["instrument"]
    family = ((view.classification or {}).get("authority") or {}).get("family") or UNCLASSIFIED
    return Demand(
        received_at=datetime.fromisoformat(submission["received_at"]),
        country=requester["country"],
        family=family,
        accounts=len(submission.get("targets") or ()),
        emergency=bool((submission.get("emergency") or {}).get("claimed"))
        or instrument["type"] == "emergency_request"
        or family == "emergency",
        national_security=family == NATIONAL_SECURITY
        or instrument["type"] == "national_security_letter"
        or requester["agency_type"] == "intelligence",
        produced=(view.decision or {}).get("outcome") in PRODUCED,
        notices=tuple(_notice_kind(n.decision, n.last_event) for n in view.notifications),
    )


def _notice_kind(decision: str, last_event: str) -> str:
    if last_event == "UserNotified":
        return "sent"
    if decision == "delayed":
        return "delayed"
    if decision == "never":
        return "withheld"
    if decision == "not_applicable":
        return "not_applicable"
    return "pending"


def band(count: int, width: int) -> str:
    """The statutory band holding ``count``: ``band(0, 250) == "0-249"``."""
    if width not in PERMITTED_BANDS:
        raise ValueError(f"band width must be one of {sorted(PERMITTED_BANDS)}")
    if count < 0:
        raise ValueError("a count is never negative")
    low = count // width * width
    return f"{low}-{low + width - 1}"


def transparency_report(
    views: Iterable[RequestView], start: datetime, end: datetime, band_width: int = 250
) -> TransparencyReport:
    """The report for demands received in ``[start, end)``."""
    demands = [d for d in map(demand_of, views) if d and start <= d.received_at < end]
    secret = [d for d in demands if d.national_security]
    public = [d for d in demands if not d.national_security]
    notices = Counter(kind for d in public for kind in d.notices)
    return TransparencyReport(
        period_from=start,
        period_to=end,
        totals=_row("all", public),
        by_country=_rows(public, lambda d: d.country),
        by_authority_family=_rows(public, lambda d: d.family),
        notices=NoticeCounts(**notices),
        national_security=BandedCounts(
            band_width=band_width,
            requests=band(len(secret), band_width),
            accounts_specified=band(sum(d.accounts for d in secret), band_width),
        ),
    )


def _rows(demands: list[Demand], key: Any) -> list[ReportRow]:
    groups: dict[str, list[Demand]] = defaultdict(list)
    for demand in demands:
        groups[key(demand)].append(demand)
    return [_row(name, groups[name]) for name in sorted(groups)]


def _row(name: str, demands: list[Demand]) -> ReportRow:
    produced = sum(d.produced for d in demands)
    return ReportRow(
        key=name,
        requests=len(demands),
        accounts_specified=sum(d.accounts for d in demands),
        some_data_produced=produced,
        share_some_data_produced_pct=round(100 * produced / len(demands), 1) if demands else 0.0,
        emergency=sum(d.emergency for d in demands),
    )


CSV_COLUMNS = (
    "section",
    "key",
    "requests",
    "accounts_specified",
    "some_data_produced",
    "share_some_data_produced_pct",
    "emergency",
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
        writer.writerow(["user_notice", kind, count, "", "", "", ""])
    banded = report.national_security
    ns_row = ("national_security_band", banded.band_width, banded.requests)
    writer.writerow([*ns_row, banded.accounts_specified, "", "", ""])
    return out.getvalue()


def requests_by_month(
    views: Iterable[RequestView], start: datetime, end: datetime
) -> dict[str, dict[str, int]]:
    """``{"2026-01": {"subpoena": 3, ...}, ...}`` for every month of the period,
    national-security process left out (it is never counted exactly)."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for demand in map(demand_of, views):
        if demand and not demand.national_security and start <= demand.received_at < end:
            counts[f"{demand.received_at:%Y-%m}"][demand.family] += 1
    return {label: dict(sorted(counts[label].items())) for label in _months(start, end)}


def _months(start: datetime, end: datetime) -> list[str]:
    """The months touching ``[start, end)``, at most 100 years of them."""
    last = end - timedelta(microseconds=1)
    labels: list[str] = []
    year, month = start.year, start.month
    while (year, month) <= (last.year, last.month) and len(labels) < 1200:
        labels.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return labels
