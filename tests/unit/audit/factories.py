"""Small builders of Docket events for audit's tests (no personal data, all invented)."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.events import (
    DecisionRecorded,
    NoticeDecision,
    NoticeTarget,
    NotificationScheduled,
    NotificationWithheld,
    Outcome,
    RequestClassified,
    RequesterOrganisation,
    RequestReceived,
    TargetReference,
    UserNotified,
)
from shared.submission import Submission
from shared.verdict import Authority, DataScope, RecommendedAction, Risk, RiskLevel

AT = datetime(2026, 2, 10, 12, 0, tzinfo=UTC)


def submission(
    *,
    country: str = "US",
    targets: int = 1,
    instrument: str = "subpoena",
    agency_type: str = "federal_law_enforcement",
    emergency: bool = False,
    received_at: datetime = AT,
    deadline: datetime | None = None,
) -> Submission:
    return Submission.model_validate(
        {
            "external_ref": "ref-1",
            "received_via": "portal",
            "received_at": received_at,
            "requester": {"agency": "Agency", "agency_type": agency_type, "country": country},
            "instrument": {"type": instrument, "response_deadline": deadline},
            "targets": [{"platform_user_id": f"u{i}"} for i in range(targets)],
            "data_requested": ["subscriber_identity"],
            "emergency": {"claimed": emergency},
        }
    )


def received(request_id: str, sub: Submission) -> RequestReceived:
    return RequestReceived(
        request_id=request_id, submission=sub, submitted_by="test", accepted_at=AT
    )


def classified(
    request_id: str, sub: Submission, family: str = "subpoena", risk: str = "low"
) -> RequestClassified:
    return RequestClassified(
        request_id=request_id,
        policy_version="test",
        authority=Authority(
            code=f"{family.upper()}_CODE", family=family, jurisdiction="US", confidence=0.9
        ),
        data_scope=DataScope(),
        risk=Risk(level=RiskLevel(risk), score=10),
        recommended_action=RecommendedAction.COMPLY,
        targets=tuple(TargetReference(index=i, found=True) for i in range(1, len(sub.targets) + 1)),
        instrument_type=sub.instrument.type,
        requester=RequesterOrganisation(
            agency=sub.requester.agency,
            agency_type=sub.requester.agency_type,
            country=sub.requester.country,
        ),
        classified_at=AT,
        caused_by="e-1",
    )


def decided(request_id: str, outcome: str) -> DecisionRecorded:
    return DecisionRecorded(
        request_id=request_id, outcome=Outcome(outcome), decided_by="legal", submitted_by="t"
    )


def notified(request_id: str, user: str) -> UserNotified:
    return UserNotified(
        request_id=request_id,
        target=NoticeTarget(platform_user_id=user),
        decision=NoticeDecision.NOW,
        reason="NOTIFY_DEFAULT",
        channel="email",
        sent_at=AT,
        notice_id=f"n-{request_id}-{user}",
    )


def scheduled(request_id: str, user: str) -> NotificationScheduled:
    return NotificationScheduled(
        request_id=request_id,
        target=NoticeTarget(platform_user_id=user),
        decision=NoticeDecision.DELAYED,
        reason="GAG_2705B",
        not_before=AT,
    )


def withheld(request_id: str, user: str) -> NotificationWithheld:
    return NotificationWithheld(
        request_id=request_id,
        target=NoticeTarget(platform_user_id=user),
        decision=NoticeDecision.NEVER,
        reason="GAG_NSL",
    )
