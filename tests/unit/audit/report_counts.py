"""What ``AuditStore.report_counts`` and ``month_counts`` count in SQL, counted in
memory over request views: the fake the report's unit tests run on, and the reference
the store's integration test compares its SQL with."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from services.audit.domain.request_view import RequestView, effective_authority
from services.audit.domain.transparency import (
    DemandGroup,
    MonthGroup,
    NoticeGroup,
    ReportCounts,
)


def _kind(view: RequestView) -> dict[str, Any]:
    submission: dict[str, Any] = (view.received or {})["submission"]
    authority = effective_authority(view)
    return {
        "family": authority.get("family"),
        "instrument": submission["instrument"]["type"],
        "agency_type": submission["requester"]["agency_type"],
    }


def _received(views: Iterable[RequestView], start: datetime, end: datetime) -> list[RequestView]:
    def moment(view: RequestView) -> datetime:
        return datetime.fromisoformat((view.received or {})["submission"]["received_at"])

    return [v for v in views if v.received is not None and start <= moment(v) < end]


def count_views(views: Iterable[RequestView], start: datetime, end: datetime) -> ReportCounts:
    requests: Counter[tuple[Any, ...]] = Counter()
    accounts: Counter[tuple[Any, ...]] = Counter()
    notices: Counter[tuple[Any, ...]] = Counter()
    for view in _received(views, start, end):
        submission = (view.received or {})["submission"]
        kind = tuple(_kind(view).items())
        key = (
            *kind,
            ("country", submission["requester"]["country"]),
            ("emergency_claimed", bool(submission["emergency"]["claimed"])),
            ("outcome", (view.decision or {}).get("outcome")),
            ("outcome_split", view.outcome_split),
        )
        requests[key] += 1
        accounts[key] += len(submission["targets"])
        for notice in view.notifications:
            notices[(*kind, ("decision", notice.decision), ("last_event", notice.last_event))] += 1
    return ReportCounts(
        demands=tuple(
            DemandGroup(**dict(key), requests=n, accounts=accounts[key])
            for key, n in requests.items()
        ),
        notices=tuple(NoticeGroup(**dict(key), notices=n) for key, n in notices.items()),
    )


def count_months(views: Iterable[RequestView], start: datetime, end: datetime) -> list[MonthGroup]:
    months: Counter[tuple[Any, ...]] = Counter()
    for view in _received(views, start, end):
        received = datetime.fromisoformat((view.received or {})["submission"]["received_at"])
        month = f"{received.astimezone(UTC):%Y-%m}"
        months[(*_kind(view).items(), ("month", month))] += 1
    return [MonthGroup(**dict(key), requests=n) for key, n in months.items()]
