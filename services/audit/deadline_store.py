"""PostgreSQL adapter of the deadline clocks (table ``deadlines``, schema ``audit``).

``sync_deadlines`` runs in the transaction that saves request views (an append, or the
rebuild), so the clocks always match the log. The scheduler claims what is due with
``FOR UPDATE SKIP LOCKED`` and records what it reported before it commits, holding the
row lock while it publishes: an instance that dies meanwhile releases its locks with
its connection, and whoever claims the row next publishes the same event id again,
which the audit log absorbs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from services.audit.domain.deadlines import (
    Deadline,
    Stage,
    deadlines_of,
    renewed_preservation,
    submission_of,
)
from services.audit.domain.pagerduty import Action
from services.audit.domain.request_view import RequestView
from shared.db import DatabaseStore
from shared.events import DeadlineKind

Connection = asyncpg.Connection | PoolConnectionProxy


@dataclass(frozen=True)
class ClockRow:
    """One clock as the scheduler claimed it."""

    request_id: str
    kind: DeadlineKind
    due_at: datetime
    risk_level: str | None
    approaching_reported_for: datetime | None
    missed_reported_for: datetime | None


@dataclass(frozen=True)
class PendingAlert:
    clock: ClockRow
    action: Action
    attempts: int

    @property
    def stage(self) -> Stage:
        """The last stage reported for the clock's current due date."""
        if self.clock.missed_reported_for == self.clock.due_at:
            return Stage.MISSED
        return Stage.APPROACHING


_CLOCK_COLUMNS = (
    "d.request_id, d.kind, d.due_at, d.risk_level, d.approaching_reported_for,"
    " d.missed_reported_for"
)
#: The lead time of each row's kind, from ``$1`` (kinds) and ``$2`` (seconds).
_LEADS = " JOIN unnest($1::text[], $2::float8[]) AS lead(kind, seconds) ON lead.kind = d.kind"


def _risk_level(view: RequestView) -> str | None:
    level = ((view.classification or {}).get("risk") or {}).get("level")
    return level if isinstance(level, str) else None


async def sync_deadlines(conn: Connection, views: Iterable[RequestView]) -> None:
    """Make the stored clocks of these requests the ones their views say are running:
    new ones added, changed due dates and risk levels updated, stopped ones marked (and
    their open pager incidents queued for a resolve). A renewed preservation stops the
    clock of the preservation it renews."""
    views = list(views)
    if not views:
        return
    clocks: list[tuple[Deadline, str | None]] = [
        (deadline, _risk_level(view)) for view in views for deadline in deadlines_of(view)
    ]
    await conn.execute(
        "INSERT INTO deadlines (request_id, kind, due_at, risk_level)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[])"
        " ON CONFLICT (request_id, kind) DO UPDATE SET due_at = excluded.due_at,"
        " risk_level = excluded.risk_level, running = deadlines.superseded_by IS NULL,"
        " updated_at = now()"
        " WHERE deadlines.due_at IS DISTINCT FROM excluded.due_at"
        " OR deadlines.risk_level IS DISTINCT FROM excluded.risk_level"
        " OR (NOT deadlines.running AND deadlines.superseded_by IS NULL)",
        [d.request_id for d, _ in clocks],
        [d.kind.value for d, _ in clocks],
        [d.due_at for d, _ in clocks],
        [risk for _, risk in clocks],
    )
    await _stop(
        conn,
        "request_id = ANY($1::text[]) AND NOT ((request_id, kind) IN"
        " (SELECT * FROM unnest($2::text[], $3::text[])))",
        [view.request_id for view in views],
        [d.request_id for d, _ in clocks],
        [d.kind.value for d, _ in clocks],
    )
    for view in views:
        submission = submission_of(view)
        renewed = renewed_preservation(view, submission) if submission else None
        if renewed is not None and view.duplicate_of is None:
            await conn.execute(
                "UPDATE deadlines SET superseded_by = $2 WHERE request_id = $1 AND kind = $3",
                renewed,
                view.request_id,
                DeadlineKind.PRESERVATION_END.value,
            )
            await _stop(
                conn,
                "request_id = $1 AND kind = $2",
                renewed,
                DeadlineKind.PRESERVATION_END.value,
            )


async def _stop(conn: Connection, where: str, *params: object) -> None:
    await conn.execute(
        "UPDATE deadlines SET running = false, updated_at = now(), alert_attempts = 0,"
        " alert_retry_at = NULL,"
        " alert_pending = CASE WHEN alert_open THEN 'resolve' ELSE NULL END"
        f" WHERE running AND {where}",
        *params,
    )


def _clock(row: asyncpg.Record) -> ClockRow:
    return ClockRow(
        request_id=row["request_id"],
        kind=DeadlineKind(row["kind"]),
        due_at=row["due_at"],
        risk_level=row["risk_level"],
        approaching_reported_for=row["approaching_reported_for"],
        missed_reported_for=row["missed_reported_for"],
    )


def _lead_arrays(leads: Mapping[DeadlineKind, float]) -> tuple[list[str], list[float]]:
    return [kind.value for kind in leads], list(leads.values())


class DeadlineStore(DatabaseStore):
    """The scheduler's side of ``deadlines``."""

    @staticmethod
    async def claim_due(
        conn: Connection, leads: Mapping[DeadlineKind, float], now: datetime, limit: int
    ) -> list[ClockRow]:
        """Lock (skipping rows another instance holds) up to ``limit`` running clocks
        with a stage to report: past due and the miss not reported for this due date,
        or inside the lead time and neither stage reported for it."""
        kinds, seconds = _lead_arrays(leads)
        rows = await conn.fetch(
            f"SELECT {_CLOCK_COLUMNS} FROM deadlines d{_LEADS}"
            " WHERE d.running AND d.missed_reported_for IS DISTINCT FROM d.due_at"
            " AND (d.due_at <= $3 OR (d.due_at - make_interval(secs => lead.seconds) <= $3"
            " AND d.approaching_reported_for IS DISTINCT FROM d.due_at))"
            " ORDER BY d.due_at, d.request_id, d.kind LIMIT $4 FOR UPDATE OF d SKIP LOCKED",
            kinds,
            seconds,
            now,
            limit,
        )
        return [_clock(row) for row in rows]

    @staticmethod
    async def mark_reported(
        conn: Connection, clock: ClockRow, stage: Stage, alerting: bool
    ) -> None:
        column = "missed_reported_for" if stage is Stage.MISSED else "approaching_reported_for"
        await conn.execute(
            f"UPDATE deadlines SET {column} = due_at, updated_at = now(),"
            " alert_pending = CASE WHEN $3 THEN 'trigger' ELSE alert_pending END,"
            " alert_attempts = CASE WHEN $3 THEN 0 ELSE alert_attempts END,"
            " alert_retry_at = CASE WHEN $3 THEN NULL ELSE alert_retry_at END"
            " WHERE request_id = $1 AND kind = $2",
            clock.request_id,
            clock.kind.value,
            alerting,
        )

    @staticmethod
    async def claim_alerts(conn: Connection, now: datetime, limit: int) -> list[PendingAlert]:
        rows = await conn.fetch(
            f"SELECT {_CLOCK_COLUMNS}, d.alert_pending, d.alert_attempts FROM deadlines d"
            " WHERE d.alert_pending IS NOT NULL"
            " AND (d.alert_retry_at IS NULL OR d.alert_retry_at <= $1)"
            " ORDER BY d.updated_at, d.request_id, d.kind LIMIT $2 FOR UPDATE OF d SKIP LOCKED",
            now,
            limit,
        )
        return [
            PendingAlert(_clock(row), Action(row["alert_pending"]), row["alert_attempts"])
            for row in rows
        ]

    @staticmethod
    async def mark_alert_sent(conn: Connection, alert: PendingAlert) -> None:
        await conn.execute(
            "UPDATE deadlines SET alert_pending = NULL, alert_attempts = 0,"
            " alert_retry_at = NULL, alert_open = $3 WHERE request_id = $1 AND kind = $2",
            alert.clock.request_id,
            alert.clock.kind.value,
            alert.action is Action.TRIGGER,
        )

    @staticmethod
    async def mark_alert_failed(conn: Connection, alert: PendingAlert, retry_at: datetime) -> None:
        await conn.execute(
            "UPDATE deadlines SET alert_attempts = alert_attempts + 1, alert_retry_at = $3"
            " WHERE request_id = $1 AND kind = $2",
            alert.clock.request_id,
            alert.clock.kind.value,
            retry_at,
        )

    async def counts(
        self, leads: Mapping[DeadlineKind, float], now: datetime
    ) -> dict[tuple[str, str], int]:
        """Running clocks by (kind, stage) now."""
        kinds, seconds = _lead_arrays(leads)
        rows = await self.pool.fetch(
            "SELECT d.kind, CASE WHEN d.due_at <= $3 THEN 'missed'"
            " WHEN d.due_at - make_interval(secs => lead.seconds) <= $3 THEN 'approaching'"
            f" ELSE 'pending' END AS stage, count(*) AS clocks FROM deadlines d{_LEADS}"
            " WHERE d.running GROUP BY 1, 2",
            kinds,
            seconds,
            now,
        )
        return {(row["kind"], row["stage"]): row["clocks"] for row in rows}

    async def clocks_of(self, request_ids: Sequence[str]) -> dict[str, list[Deadline]]:
        """The running clocks of these requests, earliest first."""
        rows = await self.pool.fetch(
            "SELECT request_id, kind, due_at FROM deadlines"
            " WHERE running AND request_id = ANY($1::text[]) ORDER BY due_at",
            list(request_ids),
        )
        found: dict[str, list[Deadline]] = {}
        for row in rows:
            found.setdefault(row["request_id"], []).append(
                Deadline(
                    request_id=row["request_id"],
                    kind=DeadlineKind(row["kind"]),
                    due_at=row["due_at"],
                )
            )
        return found


def backoff(attempts: int, base: timedelta = timedelta(seconds=10)) -> timedelta:
    """The wait before alert attempt ``attempts + 1``: doubling, at most an hour."""
    wait: timedelta = base * 2 ** min(max(attempts, 0), 12)
    return min(wait, timedelta(hours=1))
