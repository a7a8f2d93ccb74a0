"""Deadline alerts as PagerDuty Events API v2 events (``docs/deadlines.md``). Pure.

One alert per clock of a request: ``dedup_key`` is ``docket/<request id>/<kind>``, the
same for its approach and its miss, so a pager shows one incident that gets worse
rather than two, and a re-sent alert (after a crash) is absorbed by the receiver. When
the clock stops (the request is decided, the gag lifted) the incident is resolved.
Nothing personal goes out: the request id, the kind of clock, the due date and the
risk level, never a name, an account, an agency or the document.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from services.audit.domain.deadlines import Stage
from shared.events import DeadlineKind

SOURCE = "docket-audit"

_KIND_NAMES = {
    DeadlineKind.RESPONSE: "Response deadline",
    DeadlineKind.GAG_EXPIRY: "Non-disclosure order expiry",
    DeadlineKind.PRESERVATION_END: "Preservation end",
    DeadlineKind.HOLD_REVIEW: "Notice hold review",
}
_STAGE_NAMES = {
    Stage.APPROACHING: "approaching",
    Stage.MISSED: "passed",
}


class Action(StrEnum):
    TRIGGER = "trigger"
    RESOLVE = "resolve"


class Severity(StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


#: (stage, risk level) -> severity. A request not classified yet counts as high risk:
#: nobody has looked at it, which is the reason to page.
_SEVERITY = {
    Stage.MISSED: {
        "critical": Severity.CRITICAL,
        "high": Severity.CRITICAL,
        "medium": Severity.ERROR,
        "low": Severity.WARNING,
    },
    Stage.APPROACHING: {
        "critical": Severity.ERROR,
        "high": Severity.ERROR,
        "medium": Severity.WARNING,
        "low": Severity.INFO,
    },
}


class DeadlineAlert(BaseModel):
    """What the scheduler alerts about: one clock, and whether it fires or clears."""

    model_config = ConfigDict(frozen=True)

    request_id: str
    kind: DeadlineKind
    due_at: datetime
    risk_level: str | None
    #: The stage reported (APPROACHING or MISSED); for a resolve, the last one reported.
    stage: Stage
    action: Action
    detected_at: datetime


def dedup_key(request_id: str, kind: DeadlineKind) -> str:
    return f"docket/{request_id}/{kind.value}"


def severity(stage: Stage, risk_level: str | None) -> Severity:
    table = _SEVERITY.get(stage, _SEVERITY[Stage.APPROACHING])
    return table.get(risk_level or "high", table["high"])


def summary(alert: DeadlineAlert) -> str:
    stage = _STAGE_NAMES.get(alert.stage, alert.stage.value)
    risk = alert.risk_level or "not yet classified"
    return (
        f"{_KIND_NAMES[alert.kind]} {stage} for request {alert.request_id}"
        f" (due {alert.due_at.isoformat()}, risk {risk})"
    )


def pagerduty_event(alert: DeadlineAlert, routing_key: str) -> dict[str, Any]:
    """The body to POST to ``https://events.pagerduty.com/v2/enqueue``."""
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": alert.action.value,
        "dedup_key": dedup_key(alert.request_id, alert.kind),
    }
    if alert.action is Action.RESOLVE:
        return body
    body["payload"] = {
        "summary": summary(alert),
        "source": SOURCE,
        "severity": severity(alert.stage, alert.risk_level).value,
        "timestamp": alert.detected_at.isoformat(),
        "component": "deadlines",
        "group": alert.kind.value,
        "class": alert.stage.value,
        "custom_details": {
            "request_id": alert.request_id,
            "deadline": alert.kind.value,
            "stage": alert.stage.value,
            "due_at": alert.due_at.isoformat(),
            "risk_level": alert.risk_level,
        },
    }
    return body
