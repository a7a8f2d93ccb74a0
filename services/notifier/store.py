"""PostgreSQL adapter of the notifier: what it knows of each request, and one row per
(request, account, channel) notice that records intent before anything is sent."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from shared.amendments import Amendment
from shared.db import DatabaseStore
from shared.events import (
    EVENT_TYPES,
    CounselAction,
    NoticeTarget,
    RequestAmended,
    RequestClassified,
    RequestReceived,
)
from shared.submission import STORED, Submission

Connection = asyncpg.Connection | PoolConnectionProxy


@dataclass(frozen=True)
class RequestRecord:
    request_id: str
    verdict: RequestClassified | None
    amendments: tuple[Amendment, ...]
    #: Counsel's decisions, in the order they were recorded.
    counsel: tuple[CounselAction, ...] = ()
    #: The demand as received (``RequestReceived``): the targets to notify and what the
    #: notice says; the verdict (v3) carries no personal data.
    submission: Submission | None = None


@dataclass(frozen=True)
class NoticeRow:
    notice_id: str
    request_id: str
    account_key: str
    channel: str
    target: NoticeTarget
    state: str
    reason: str
    not_before: datetime | None
    attempts: int
    sent_at: datetime | None
    traceparent: str | None
    released_at: datetime | None = None
    #: Why the last send failed or, for an 'uncertain' notice, why it is held.
    last_error: str | None = None


@dataclass(frozen=True)
class NoticePlan:
    """What a decision asks of one notice row."""

    notice_id: str
    request_id: str
    account_key: str
    channel: str
    target: NoticeTarget
    state: str  # scheduled | held | cancelled
    reason: str
    not_before: datetime | None


class NotifierStore(DatabaseStore):
    # --- requests -------------------------------------------------------------------

    @staticmethod
    async def lock_request(conn: Connection, request_id: str) -> RequestRecord:
        """Create the request's row if needed and lock it for this transaction."""
        await conn.execute(
            "INSERT INTO requests (request_id) VALUES ($1) ON CONFLICT DO NOTHING", request_id
        )
        row = await conn.fetchrow(
            "SELECT request_id, verdict, amendments, counsel, submission FROM requests"
            " WHERE request_id = $1 FOR UPDATE",
            request_id,
        )
        assert row is not None
        return _request(row)

    @staticmethod
    async def save_verdict(conn: Connection, verdict: RequestClassified) -> bool:
        """Keep the verdict unless a later one is already stored; True when kept."""
        kept = await conn.fetchval(
            "UPDATE requests SET verdict = $2::jsonb, classified_at = $3, updated_at = now()"
            " WHERE request_id = $1 AND (classified_at IS NULL OR classified_at <= $3)"
            " RETURNING true",
            verdict.request_id,
            verdict.model_dump_json(by_alias=True),
            verdict.classified_at,
        )
        return bool(kept)

    @staticmethod
    async def save_submission(conn: Connection, received: RequestReceived) -> bool:
        """Keep the submission the first time it is read; True when it was new."""
        kept = await conn.fetchval(
            "UPDATE requests SET submission = $2::jsonb, updated_at = now()"
            " WHERE request_id = $1 AND submission IS NULL RETURNING true",
            received.request_id,
            received.submission.model_dump_json(by_alias=True),
        )
        return bool(kept)

    @staticmethod
    async def add_amendment(conn: Connection, event_id: str, amendment: RequestAmended) -> bool:
        """Append the amendment once (by event id); True when it was new."""
        added = await conn.fetchval(
            "UPDATE requests SET amendments = amendments || $3::jsonb,"
            " amendment_ids = array_append(amendment_ids, $2), updated_at = now()"
            " WHERE request_id = $1 AND NOT ($2 = ANY (amendment_ids)) RETURNING true",
            amendment.request_id,
            event_id,
            json.dumps([amendment.model_dump(mode="json", include=set(Amendment.model_fields))]),
        )
        return bool(added)

    @staticmethod
    async def add_counsel_action(conn: Connection, event_id: str, action: CounselAction) -> bool:
        """Append counsel's decision once (by event id); True when it was new."""
        added = await conn.fetchval(
            "UPDATE requests SET counsel = counsel || $3::jsonb,"
            " counsel_ids = array_append(counsel_ids, $2), updated_at = now()"
            " WHERE request_id = $1 AND NOT ($2 = ANY (counsel_ids)) RETURNING true",
            action.request_id,
            event_id,
            json.dumps([{"type": action.EVENT_TYPE, "data": action.model_dump(mode="json")}]),
        )
        return bool(added)

    @staticmethod
    async def locked_requests(
        conn: Connection, request_ids: Sequence[str]
    ) -> dict[str, RequestRecord]:
        rows = await conn.fetch(
            "SELECT request_id, verdict, amendments, counsel, submission FROM requests"
            " WHERE request_id = ANY($1)"
            " ORDER BY request_id FOR SHARE",
            list(request_ids),
        )
        return {row["request_id"]: _request(row) for row in rows}

    # --- notices --------------------------------------------------------------------

    @staticmethod
    async def notices_of(conn: Connection, request_id: str) -> list[NoticeRow]:
        rows = await conn.fetch(
            "SELECT * FROM notices WHERE request_id = $1 ORDER BY notice_id FOR UPDATE",
            request_id,
        )
        return [_notice(row) for row in rows]

    @staticmethod
    async def apply_plan(
        conn: Connection, plan: NoticePlan, traceparent: str | None = None
    ) -> bool:
        """Create or update a notice that has not gone out; never touches a notice that
        is being sent, was sent, or may have been sent (uncertain). True when the row
        changed."""
        changed = await conn.fetchval(
            "INSERT INTO notices (notice_id, request_id, account_key, channel, target, state,"
            " reason, not_before, next_attempt_at, traceparent)"
            " VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, coalesce($8, now()), $9)"
            " ON CONFLICT (notice_id) DO UPDATE SET state = excluded.state,"
            " reason = excluded.reason, not_before = excluded.not_before,"
            " next_attempt_at = excluded.next_attempt_at,"
            " traceparent = coalesce(excluded.traceparent, notices.traceparent),"
            " updated_at = now()"
            " WHERE notices.state NOT IN ('sending', 'sent', 'uncertain')"
            " AND (notices.state, notices.reason, notices.not_before)"
            " IS DISTINCT FROM (excluded.state, excluded.reason, excluded.not_before)"
            " RETURNING true",
            plan.notice_id,
            plan.request_id,
            plan.account_key,
            plan.channel,
            plan.target.model_dump_json(),
            plan.state,
            plan.reason,
            plan.not_before,
            traceparent,
        )
        return bool(changed)

    async def anything_due(self, now: datetime) -> bool:
        due = await self.pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM notices WHERE state IN ('scheduled', 'failed', 'sending')"
            " AND next_attempt_at <= $1 AND (not_before IS NULL OR not_before <= $1))",
            now,
        )
        return bool(due)

    @staticmethod
    async def due_notice_requests(conn: Connection, now: datetime, limit: int) -> list[str]:
        rows = await conn.fetch(
            "SELECT DISTINCT request_id FROM ("
            " SELECT request_id FROM notices WHERE state IN ('scheduled', 'failed', 'sending')"
            " AND next_attempt_at <= $1 AND (not_before IS NULL OR not_before <= $1)"
            " ORDER BY next_attempt_at LIMIT $2) due",
            now,
            limit,
        )
        return [row["request_id"] for row in rows]

    @staticmethod
    async def lock_due_notices(
        conn: Connection, request_ids: Sequence[str], now: datetime
    ) -> list[NoticeRow]:
        rows = await conn.fetch(
            "SELECT * FROM notices n WHERE n.request_id = ANY($1)"
            " AND n.state IN ('scheduled', 'failed', 'sending') AND n.next_attempt_at <= $2"
            " AND (n.not_before IS NULL OR n.not_before <= $2)"
            # A claim whose send was started is never claimed again (hold_uncertain).
            " AND NOT (n.state = 'sending' AND n.released_at IS NOT NULL)"
            " AND NOT EXISTS (SELECT 1 FROM notices other WHERE"
            " other.request_id = n.request_id AND other.account_key = n.account_key"
            " AND other.notice_id <> n.notice_id"
            " AND other.state IN ('sending', 'sent', 'uncertain'))"
            " ORDER BY n.notice_id FOR UPDATE OF n SKIP LOCKED",
            list(request_ids),
            now,
        )
        return [_notice(row) for row in rows]

    @staticmethod
    async def mark_sending(conn: Connection, notice_id: str, lease_until: datetime) -> None:
        """Intent recorded before the send. A crash before the send starts (before
        :meth:`mark_released`) lets the notice be claimed again once the lease has run
        out; a crash after it makes the delivery uncertain (:meth:`hold_uncertain`)."""
        await conn.execute(
            "UPDATE notices SET state = 'sending', attempts = attempts + 1,"
            " released_at = NULL, next_attempt_at = $2, updated_at = now()"
            " WHERE notice_id = $1",
            notice_id,
            lease_until,
        )

    @staticmethod
    async def mark_released(
        conn: Connection,
        notice_id: str,
        lease_until: datetime,
        released_at: datetime,
        sending_until: datetime,
    ) -> bool:
        """The send starts, if the claim is still this sender's: its lease
        (``lease_until``, set by :meth:`mark_sending`) is the claim's fencing token, so a
        sender that stalled past its lease, while another instance claimed the notice
        again, finds it gone (False) and must not send. The lease is extended to
        ``sending_until`` for the send itself; past that, :meth:`hold_uncertain`."""
        changed = await conn.fetchval(
            "UPDATE notices SET released_at = $3, next_attempt_at = $4, updated_at = now()"
            " WHERE notice_id = $1 AND state = 'sending' AND released_at IS NULL"
            " AND next_attempt_at = $2 RETURNING true",
            notice_id,
            lease_until,
            released_at,
            sending_until,
        )
        return bool(changed)

    @staticmethod
    async def hold_uncertain(
        conn: Connection, now: datetime, limit: int, reason: str
    ) -> list[NoticeRow]:
        """Claims whose lease ran out after their send was started (released to the
        channel) and never recorded: the notice may or may not have reached the user.
        They become 'uncertain' (``reason`` in ``last_error``), held for counsel and
        never sent again automatically."""
        rows = await conn.fetch(
            "UPDATE notices SET state = 'uncertain', uncertain_since = $1, last_error = $3,"
            " updated_at = now()"
            " WHERE notice_id IN (SELECT notice_id FROM notices WHERE state = 'sending'"
            " AND released_at IS NOT NULL AND next_attempt_at <= $1"
            " ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED)"
            " RETURNING *",
            now,
            limit,
            reason[:500],
        )
        return [_notice(row) for row in rows]

    async def mark_uncertain(self, notice_id: str, reason: str, now: datetime) -> bool:
        """The channel could not tell whether the notice arrived: hold it as 'uncertain'
        for counsel, never to be sent again automatically. True when this claim was
        still the sender's (state 'sending')."""
        changed = await self.pool.fetchval(
            "UPDATE notices SET state = 'uncertain', uncertain_since = $3, last_error = $2,"
            " updated_at = now() WHERE notice_id = $1 AND state = 'sending' RETURNING true",
            notice_id,
            reason[:500],
            now,
        )
        return bool(changed)

    async def uncertain_unpublished(self, limit: int) -> list[NoticeRow]:
        rows = await self.pool.fetch(
            "SELECT * FROM notices WHERE state = 'uncertain' AND NOT uncertain_published"
            " ORDER BY uncertain_since LIMIT $1",
            limit,
        )
        return [_notice(row) for row in rows]

    async def mark_uncertain_published(self, notice_id: str) -> None:
        await self.pool.execute(
            "UPDATE notices SET uncertain_published = true WHERE notice_id = $1", notice_id
        )

    @staticmethod
    async def database_clock(conn: Connection) -> datetime:
        """The database server's clock (``clock_timestamp()``, not the transaction's start)."""
        moment: datetime = await conn.fetchval("SELECT clock_timestamp()")
        return moment

    @staticmethod
    async def release_claim(
        conn: Connection, notice_id: str, lease_until: datetime, retry_at: datetime
    ) -> bool:
        """Give back a notice claimed for sending that must not go out yet; only this
        sender's claim (``lease_until``, as in :meth:`mark_released`). True if it was."""
        changed = await conn.fetchval(
            "UPDATE notices SET state = 'scheduled', attempts = greatest(attempts - 1, 0),"
            " next_attempt_at = $3, updated_at = now() WHERE notice_id = $1"
            " AND state = 'sending' AND released_at IS NULL AND next_attempt_at = $2"
            " RETURNING true",
            notice_id,
            lease_until,
            retry_at,
        )
        return bool(changed)

    async def mark_sent(self, notice_id: str, sent_at: datetime) -> None:
        """The channel confirmed the send; also settles a notice held as uncertain
        meanwhile (its sender was cut off from the database, not dead)."""
        await self.pool.execute(
            "UPDATE notices SET state = 'sent', sent_at = $2, last_error = NULL,"
            " updated_at = now() WHERE notice_id = $1 AND state IN ('sending', 'uncertain')",
            notice_id,
            sent_at,
        )

    async def mark_failed(self, notice_id: str, error: str, retry_at: datetime) -> None:
        await self.pool.execute(
            "UPDATE notices SET state = 'failed', last_error = $2, next_attempt_at = $3,"
            " updated_at = now() WHERE notice_id = $1 AND state = 'sending'",
            notice_id,
            error[:500],
            retry_at,
        )

    async def mark_published(self, notice_id: str) -> None:
        await self.pool.execute(
            "UPDATE notices SET sent_published = true WHERE notice_id = $1", notice_id
        )

    async def sent_unpublished(self, limit: int) -> list[NoticeRow]:
        rows = await self.pool.fetch(
            "SELECT * FROM notices WHERE state = 'sent' AND NOT sent_published"
            " ORDER BY sent_at LIMIT $1",
            limit,
        )
        return [_notice(row) for row in rows]

    async def request(self, request_id: str) -> RequestRecord | None:
        row = await self.pool.fetchrow(
            "SELECT request_id, verdict, amendments, counsel, submission FROM requests"
            " WHERE request_id = $1",
            request_id,
        )
        return _request(row) if row else None

    async def count_by_state(self) -> dict[str, int]:
        rows = await self.pool.fetch("SELECT state, count(*) AS n FROM notices GROUP BY state")
        return {row["state"]: row["n"] for row in rows}


def _request(row: asyncpg.Record) -> RequestRecord:
    stored: Any = row["verdict"]
    amendments: Any = json.loads(row["amendments"]) if row["amendments"] else []
    counsel: Any = json.loads(row["counsel"]) if row["counsel"] else []
    verdict = RequestClassified.model_validate_json(stored, context=STORED) if stored else None
    submission = (
        Submission.model_validate_json(row["submission"], context=STORED)
        if row["submission"]
        # a v1/v2 verdict kept before the notifier read RequestReceived carries it
        else (verdict.submission if verdict is not None else None)
    )
    return RequestRecord(
        request_id=row["request_id"],
        verdict=verdict,
        amendments=tuple(Amendment.model_validate(a, context=STORED) for a in amendments),
        counsel=tuple(_counsel_action(item) for item in counsel),
        submission=submission,
    )


def _counsel_action(item: dict[str, Any]) -> CounselAction:
    action = EVENT_TYPES[item["type"]].model_validate(item["data"], context=STORED)
    assert isinstance(action, CounselAction)
    return action


def _notice(row: asyncpg.Record) -> NoticeRow:
    return NoticeRow(
        notice_id=row["notice_id"],
        request_id=row["request_id"],
        account_key=row["account_key"],
        channel=row["channel"],
        target=NoticeTarget.model_validate_json(row["target"], context=STORED),
        state=row["state"],
        reason=row["reason"],
        not_before=row["not_before"],
        attempts=row["attempts"],
        sent_at=row["sent_at"],
        traceparent=row["traceparent"],
        released_at=row["released_at"],
        last_error=row["last_error"],
    )
