"""``docket verify|override|hold end|hold withhold|produce|assign|comment``: counsel's
commands (legal staff's API key in ``DOCKET_API_KEY``), each one call of intake's
counsel routes (``services/intake/counsel_api.py``); the author recorded is the key's
client, and every command but ``comment`` needs ``--reason``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from services.intake.cli import RequestId, _post_change
from shared.cli_http import INTAKE_URL, IntakeUrl
from shared.cli_support import ExitCode, JsonFlag, fail, parse_moment
from shared.counsel import HoldKind, ProductionChoice, VerificationMethod, VerificationOutcome
from shared.submission import DataCategory
from shared.verdict import RecommendedAction, RiskLevel

Reason = Annotated[str, typer.Option(help="why (kept in the audit log)")]
Handle = Annotated[
    str | None, typer.Option(help="the account, as the request names it (or --platform-user-id)")
]
PlatformUserId = Annotated[str | None, typer.Option(help="the account's platform user id")]


def _target(handle: str | None, platform_user_id: str | None) -> dict[str, str] | None:
    if handle is not None and platform_user_id is not None:
        fail(ExitCode.USAGE, "--handle and --platform-user-id exclude each other")
    if handle is not None:
        return {"handle": handle}
    if platform_user_id is not None:
        return {"platform_user_id": platform_user_id}
    return None


def verify(
    request_id: RequestId,
    method: Annotated[VerificationMethod, typer.Option(help="how the requester was reached")],
    contact: Annotated[str, typer.Option(help="who at the agency confirmed or denied")],
    outcome: Annotated[VerificationOutcome, typer.Option(help="verified or failed")],
    reason: Reason,
    at: Annotated[
        datetime | None,
        typer.Option(parser=parse_moment, metavar="WHEN", help="when (default: now)"),
    ] = None,
    intake_url: IntakeUrl = INTAKE_URL,
    json_output: JsonFlag = False,
) -> None:
    """Record how the requester was verified, or that it failed: verified releases the
    notices held until then (each decided again); failed withholds every notice as
    suspected fraud."""
    body = {
        "method": method.value,
        "contact": contact,
        "contacted_at": (at or datetime.now(UTC)).isoformat(),
        "outcome": outcome.value,
        "reason": reason,
    }
    _post_change(
        intake_url, request_id, "requester-verification", body, "verification", json_output
    )


def override(
    request_id: RequestId,
    reason: Reason,
    authority: Annotated[
        str | None, typer.Option(metavar="CODE", help="the authority's code")
    ] = None,
    family: Annotated[str | None, typer.Option(help="with --authority: its family")] = None,
    jurisdiction: Annotated[str, typer.Option(help="with --authority")] = "US",
    risk: Annotated[RiskLevel | None, typer.Option(help="the risk level")] = None,
    action: Annotated[RecommendedAction | None, typer.Option(help="the recommended action")] = None,
    intake_url: IntakeUrl = INTAKE_URL,
    json_output: JsonFlag = False,
) -> None:
    """Override the classifier's verdict (authority, risk level or recommended action);
    the classifier's own verdict stays in the history."""
    if (authority is None) != (family is None):
        fail(ExitCode.USAGE, "--authority and --family go together")
    body = {
        "authority": None
        if authority is None
        else {"code": authority, "family": family, "jurisdiction": jurisdiction},
        "risk_level": risk.value if risk else None,
        "recommended_action": action.value if action else None,
        "reason": reason,
    }
    _post_change(intake_url, request_id, "verdict-override", body, "override", json_output)


def hold_end(
    request_id: RequestId,
    hold: Annotated[HoldKind, typer.Option(help="the hold to end")],
    reason: Reason,
    handle: Handle = None,
    platform_user_id: PlatformUserId = None,
    intake_url: IntakeUrl = INTAKE_URL,
    json_output: JsonFlag = False,
) -> None:
    """End an emergency, child-safety or counter-productive hold of one account's notice
    (or every account's); the notice is sent only if nothing else, a gag above all,
    still holds it."""
    body: dict[str, Any] = {
        "hold": hold.value,
        "target": _target(handle, platform_user_id),
        "reason": reason,
    }
    _post_change(intake_url, request_id, "holds/end", body, "end of hold", json_output)


def hold_withhold(
    request_id: RequestId,
    reason: Reason,
    handle: Handle = None,
    platform_user_id: PlatformUserId = None,
    intake_url: IntakeUrl = INTAKE_URL,
    json_output: JsonFlag = False,
) -> None:
    """Withhold one account's notice (or every account's) for good."""
    body = {"target": _target(handle, platform_user_id), "reason": reason}
    _post_change(intake_url, request_id, "holds/withhold", body, "withholding", json_output)


def _category_decision(text: str) -> dict[str, str]:
    """``CATEGORY=produce``, ``CATEGORY=do_not_produce`` or ``CATEGORY=narrowed:HOW``."""
    category, _, choice = text.partition("=")
    choice, _, narrowed_to = choice.partition(":")
    try:
        decided = {
            "category": DataCategory(category).value,
            "decision": ProductionChoice(choice).value,
        }
    except ValueError:
        raise typer.BadParameter(
            f"not CATEGORY=produce|do_not_produce|narrowed:HOW: {text!r}"
        ) from None
    if narrowed_to:
        decided["narrowed_to"] = narrowed_to
    return decided


def produce(
    request_id: RequestId,
    data: Annotated[
        list[str],
        typer.Option(
            metavar="CATEGORY=DECISION",
            help="produce, do_not_produce or narrowed:HOW, per data category (repeat)",
        ),
    ],
    reason: Reason,
    handle: Handle = None,
    platform_user_id: PlatformUserId = None,
    intake_url: IntakeUrl = INTAKE_URL,
    json_output: JsonFlag = False,
) -> None:
    """Decide what is produced for one account, per data category."""
    target = _target(handle, platform_user_id)
    if target is None:
        fail(ExitCode.USAGE, "name the account: --handle or --platform-user-id")
    decisions = [_category_decision(text) for text in data]
    body = {"target": target, "decisions": decisions, "reason": reason}
    _post_change(intake_url, request_id, "production", body, "production decision", json_output)


def assign(
    request_id: RequestId,
    assignee: Annotated[str, typer.Argument(help="the reviewer", metavar="WHO")],
    reason: Reason,
    intake_url: IntakeUrl = INTAKE_URL,
    json_output: JsonFlag = False,
) -> None:
    """Assign a request to a reviewer (the queue shows it as waiting on them)."""
    body = {"assignee": assignee, "reason": reason}
    _post_change(intake_url, request_id, "assignment", body, "assignment", json_output)


def comment(
    request_id: RequestId,
    text: Annotated[str, typer.Argument(help="the comment", metavar="TEXT")],
    intake_url: IntakeUrl = INTAKE_URL,
    json_output: JsonFlag = False,
) -> None:
    """Comment on a request (kept in its history)."""
    _post_change(intake_url, request_id, "comments", {"comment": text}, "comment", json_output)
