"""A request's whole life through counsel's commands, on the real stack: each command is
one CLI call (``services/intake/counsel_cli.py``) -> HTTP at intake -> one event on
``docket.request.counsel`` -> its effect (the notifier re-deciding the notice, the
audit view) -> one leaf of the audit log, all in the command's one trace.

The request is example 04, an emergency disclosure request from an unverified sender:
held until the requester is verified; verified, it asks for clarification (nothing
produced, no notice); counsel overrides that to comply, which holds the notice as an
emergency; counsel decides production and ends the emergency hold, and the user is told.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from shared.cli import main
from shared.events import (
    CommentAdded,
    CounselAction,
    HoldEnded,
    NotificationScheduled,
    NotificationWithheld,
    ProductionDecided,
    RequestAssigned,
    RequesterVerificationRecorded,
    UserNotified,
    VerdictOverridden,
)
from tests.fixtures.system import EXAMPLES, DocketSystem

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

EMERGENCY = EXAMPLES / "requests" / "04-emergency-request-unverified.json"
GAGGED = EXAMPLES / "requests" / "02-grand-jury-subpoena-with-gag.json"
RECIPIENT = "owner-mx-0028@example.org"  # @ordinary_user_2021, example 04's account
GAGGED_RECIPIENT = "owner-mx-0035@example.org"


def _noticed(reason: str) -> Callable[[dict[str, Any]], bool]:
    def check(history: dict[str, Any]) -> bool:
        return [n["reason"] for n in history["notifications"]] == [reason]

    return check


def _notice(history: dict[str, Any]) -> dict[str, Any]:
    [notice] = history["notifications"]
    assert isinstance(notice, dict)
    return notice


async def _docket(
    system: DocketSystem,
    monkeypatch: pytest.MonkeyPatch,
    *argv: str,
) -> None:
    """One ``docket`` command, as legal staff run it (in a thread: it is a blocking HTTP
    client and the services run in this test's event loop)."""
    monkeypatch.setenv("DOCKET_API_KEY", system.api_key)
    monkeypatch.setenv("DOCKET_INTAKE_URL", system.intake_url)
    code = await asyncio.to_thread(main, list(argv))
    assert code == 0, argv


def _services_in_trace(system: DocketSystem, trace_id: str) -> set[str]:
    return {
        str(span.resource.attributes["service.name"])
        for span in system.spans.get_finished_spans()
        if format(span.context.trace_id, "032x") == trace_id
    }


async def test_a_request_lives_through_every_command_of_counsel(
    docket_system: DocketSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = docket_system
    rid = await system.submit_example(EMERGENCY)
    history = await system.wait_for_history(rid, _noticed("VERIFY_REQUESTER_FIRST"))
    assert history["notifications"][0]["last_event"] == NotificationScheduled.EVENT_TYPE

    async def run(*argv: str) -> None:
        await _docket(system, monkeypatch, *argv)

    await run("assign", rid, "counsel-on-duty", "--reason", "emergency desk")
    await run("comment", rid, "letterhead phone differs from the directory")
    history = await system.wait_for_history(rid, lambda h: len(h["counsel"]["actions"]) == 2)
    assert history["assignee"] == "counsel-on-duty"

    await run(
        "verify",
        rid,
        "--method=directory_callback",
        "--contact=Exampleville PD watch commander",
        "--outcome=verified",
        "--reason=called the number in the department's published directory; case confirmed",
    )
    # verified, it asks for clarification: nothing is produced, nobody is told
    history = await system.wait_for_history(rid, _noticed("NO_DISCLOSURE_PLANNED"))
    assert _notice(history)["last_event"] == NotificationWithheld.EVENT_TYPE

    await run(
        "override",
        rid,
        "--action=comply",
        "--reason=verified emergency: a life is at risk; 2702(b)(8) allows disclosure",
    )
    history = await system.wait_for_history(rid, _noticed("EMERGENCY_DEFER"))
    assert _notice(history)["last_event"] == NotificationScheduled.EVENT_TYPE
    assert history["classification"]["recommended_action"] == "request_clarification"
    assert history["counsel"]["override"]["recommended_action"]["value"] == "comply"

    await run(
        "produce",
        rid,
        "--handle=@ordinary_user_2021",
        "--data=subscriber_identity=produce",
        "--data=contact_info=produce",
        "--data=ip_logs=narrowed:logins of the last 48 hours",
        "--reason=what the emergency needs, no more",
    )
    assert not [m for m in system.mailbox.messages if m["To"] == RECIPIENT]
    await run(
        "hold",
        "end",
        rid,
        "--hold=EMERGENCY_DEFER",
        "--handle=@ordinary_user_2021",
        "--reason=the person was found safe; the emergency is over",
    )
    # (the view is read before the events: wait on the view, which the events then show)
    history = await system.wait_for_history(
        rid, lambda h: _notice(h)["last_event"] == UserNotified.EVENT_TYPE, 90
    )
    assert len([m for m in system.mailbox.messages if m["To"] == RECIPIENT]) == 1

    # every command left one leaf, with its author, in its own trace across the services
    counsel_types: list[type[CounselAction]] = [
        RequestAssigned,
        CommentAdded,
        RequesterVerificationRecorded,
        VerdictOverridden,
        ProductionDecided,
        HoldEnded,
    ]
    events = {e["type"]: e for e in history["events"]}
    assert [a["type"] for a in history["counsel"]["actions"]] == [
        cls.EVENT_TYPE for cls in counsel_types
    ]
    assert {a["author"] for a in history["counsel"]["actions"]} == {"legal-ops"}
    for cls in counsel_types:
        trace_id = events[cls.EVENT_TYPE]["trace_id"]
        assert trace_id, cls.EVENT_TYPE
        assert {"docket-intake", "docket-audit"} <= _services_in_trace(system, trace_id)
    sent = events[UserNotified.EVENT_TYPE]["trace_id"]
    assert sent == events[HoldEnded.EVENT_TYPE]["trace_id"]  # the end of the hold sent it
    assert _services_in_trace(system, sent) == {"docket-intake", "docket-notifier", "docket-audit"}
    assert history["counsel"]["outcome_split"] == "non_content_only"
    print("\nCOUNSEL LIFE " + json.dumps(_life(history), indent=2))


def _life(history: dict[str, Any]) -> dict[str, Any]:
    """What docs/counsel.md shows of the run: the log's leaves and counsel's section."""
    return {
        "request_id": history["request_id"],
        "state": history["state"],
        "assignee": history["assignee"],
        "events": [
            f"#{e['leaf_index']} {e['type']} trace={e['trace_id'][:8]}" for e in history["events"]
        ],
        "notice": _notice(history),
        "counsel": history["counsel"],
    }


async def test_no_command_of_counsel_releases_a_gagged_notice_and_fraud_withholds_all(
    docket_system: DocketSystem,
) -> None:
    system = docket_system
    gag = json.loads(GAGGED.read_text())["instrument"]
    gag["nondisclosure"]["expires_at"] = "2099-01-01T00:00:00Z"
    gagged = await system.submit_example(GAGGED, instrument=gag)
    fraud = await system.submit_example(EMERGENCY)
    for rid in (gagged, fraud):
        await system.wait_for_history(rid, lambda h: bool(h["notifications"]))
    base = f"{system.intake_url}/v1/requests"
    releasing = [
        (
            "requester-verification",
            {
                "method": "in_person",
                "contact": "AUSA",
                "contacted_at": "2026-01-01T00:00:00Z",
                "outcome": "verified",
                "reason": "met at the courthouse",
            },
        ),
        (
            "verdict-override",
            {"recommended_action": "challenge", "risk_level": "low", "reason": "r"},
        ),
        *[
            ("holds/end", {"hold": kind, "reason": "r"})
            for kind in ("EMERGENCY_DEFER", "CHILD_SAFETY_EXCEPTION", "COUNTERPRODUCTIVE_EXCEPTION")
        ],
    ]
    async with httpx.AsyncClient(timeout=60) as client:
        for path, body in releasing:
            response = await client.post(f"{base}/{gagged}/{path}", json=body, headers=system.auth)
            assert response.status_code == 202, response.text
        failed = {
            "method": "directory_callback",
            "contact": "Exampleville PD records desk",
            "contacted_at": "2026-01-01T00:00:00Z",
            "outcome": "failed",
            "reason": "the department has no such case or detective",
        }
        response = await client.post(
            f"{base}/{fraud}/requester-verification", json=failed, headers=system.auth
        )
        assert response.status_code == 202, response.text
    history = await system.wait_for_history(fraud, _noticed("SUSPECTED_FRAUD"))
    assert _notice(history)["decision"] == "never"
    assert history["counsel"]["suspected_fraud"]
    history = await system.wait_for_history(
        gagged, lambda h: len(h["counsel"]["actions"]) == len(releasing)
    )
    await asyncio.sleep(3)  # give a wrongly released notice time to go out
    assert not [m for m in system.mailbox.messages if m["To"] == GAGGED_RECIPIENT]
    final = await system.history(gagged)
    assert final is not None
    assert _notice(final)["reason"].startswith("NDO_")
