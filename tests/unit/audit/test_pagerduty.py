"""Deadline alerts as PagerDuty Events API v2."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr, ValidationError

from services.audit.domain.deadlines import Stage
from services.audit.domain.pagerduty import (
    Action,
    DeadlineAlert,
    Severity,
    dedup_key,
    pagerduty_event,
    severity,
)
from shared.events import DeadlineKind
from shared.settings import AuditSettings

DUE = datetime(2026, 3, 1, 17, 0, tzinfo=UTC)
NOW = datetime(2026, 2, 27, 9, 30, tzinfo=UTC)


def alert(**changes: object) -> DeadlineAlert:
    fields: dict[str, object] = {
        "request_id": "4f1c9a",
        "kind": DeadlineKind.RESPONSE,
        "due_at": DUE,
        "risk_level": "high",
        "stage": Stage.APPROACHING,
        "action": Action.TRIGGER,
        "detected_at": NOW,
    }
    return DeadlineAlert.model_validate(fields | changes)


def test_a_trigger_carries_the_routing_key_a_stable_dedup_key_and_a_summary() -> None:
    body = pagerduty_event(alert(), "R0UT1NG")
    assert body["routing_key"] == "R0UT1NG"
    assert body["event_action"] == "trigger"
    assert body["dedup_key"] == "docket/4f1c9a/response"
    payload = body["payload"]
    assert payload["summary"] == (
        "Response deadline approaching for request 4f1c9a"
        " (due 2026-03-01T17:00:00+00:00, risk high)"
    )
    assert payload["source"] == "docket-audit"
    assert payload["severity"] == "error"
    assert payload["timestamp"] == NOW.isoformat()
    assert payload["group"] == "response"
    assert payload["class"] == "approaching"
    assert payload["custom_details"]["due_at"] == DUE.isoformat()
    assert len(payload["summary"]) <= 1024  # PagerDuty's limit


def test_approach_and_miss_of_one_clock_share_the_dedup_key_other_clocks_do_not() -> None:
    approach = pagerduty_event(alert(), "k")
    missed = pagerduty_event(alert(stage=Stage.MISSED), "k")
    gag = pagerduty_event(alert(kind=DeadlineKind.GAG_EXPIRY), "k")
    assert approach["dedup_key"] == missed["dedup_key"] != gag["dedup_key"]
    assert dedup_key("other", DeadlineKind.RESPONSE) != approach["dedup_key"]
    assert missed["payload"]["summary"].startswith("Response deadline passed")


def test_a_resolve_carries_only_what_pagerduty_needs() -> None:
    assert pagerduty_event(alert(action=Action.RESOLVE), "k") == {
        "routing_key": "k",
        "event_action": "resolve",
        "dedup_key": "docket/4f1c9a/response",
    }


@pytest.mark.parametrize(
    ("stage", "risk", "expected"),
    [
        (Stage.MISSED, "critical", Severity.CRITICAL),
        (Stage.MISSED, "high", Severity.CRITICAL),
        (Stage.MISSED, "medium", Severity.ERROR),
        (Stage.MISSED, "low", Severity.WARNING),
        (Stage.MISSED, None, Severity.CRITICAL),
        (Stage.APPROACHING, "critical", Severity.ERROR),
        (Stage.APPROACHING, "medium", Severity.WARNING),
        (Stage.APPROACHING, "low", Severity.INFO),
        (Stage.APPROACHING, None, Severity.ERROR),
    ],
)
def test_severity_follows_the_stage_and_the_risk(
    stage: Stage, risk: str | None, expected: Severity
) -> None:
    assert severity(stage, risk) is expected


def test_nothing_but_the_request_id_identifies_the_request() -> None:
    text = json.dumps(pagerduty_event(alert(risk_level=None), "k"))
    assert "not yet classified" in text
    for field in ("agency", "handle", "platform_user_id", "document", "authority"):
        assert field not in text


def test_alerts_need_a_routing_key_and_https_outside_development() -> None:
    with pytest.raises(ValidationError, match="ROUTING_KEY"):
        AuditSettings(deadline_alert_url="https://events.pagerduty.com/v2/enqueue")
    with pytest.raises(ValidationError, match="https"):
        AuditSettings(
            deadline_alert_url="http://pager.internal/v2/enqueue",
            deadline_alert_routing_key=SecretStr("k"),
        )
    settings = AuditSettings(
        deadline_alert_url="https://events.pagerduty.com/v2/enqueue",
        deadline_alert_routing_key=SecretStr("R0UT1NG"),
    )
    assert "R0UT1NG" not in repr(settings)
