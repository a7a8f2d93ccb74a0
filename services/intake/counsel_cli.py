"""``docket verify|override|hold end|hold withhold|produce|assign|comment``: counsel's
commands (legal staff's API key in ``DOCKET_API_KEY``), each one call of intake's
counsel routes (``services/intake/counsel_api.py``); the author recorded is the key's
client, and every command but ``comment`` needs ``--reason``.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from services.intake.cli import INTAKE_URL, _moment, _post_change
from shared.counsel import HoldKind, ProductionChoice, VerificationMethod, VerificationOutcome
from shared.submission import DataCategory
from shared.verdict import RecommendedAction, RiskLevel


def _parser(prog: str, description: str, *, reason: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("request_id")
    if reason:
        parser.add_argument("--reason", required=True, help="why (kept in the audit log)")
    parser.add_argument("--intake-url", default=INTAKE_URL)
    return parser


def _target_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    target = parser.add_mutually_exclusive_group(required=required)
    target.add_argument("--handle", help="the account, as the request names it")
    target.add_argument("--platform-user-id")


def _target(args: argparse.Namespace) -> dict[str, str] | None:
    if args.handle:
        return {"handle": args.handle}
    if args.platform_user_id:
        return {"platform_user_id": args.platform_user_id}
    return None


def _send(args: argparse.Namespace, path: str, body: dict[str, Any], what: str) -> int:
    return _post_change(args.intake_url, args.request_id, path, body, what)


def verify_command(argv: list[str]) -> int:
    parser = _parser("docket verify", "Record how the requester was verified, or that it failed.")
    parser.add_argument("--method", required=True, choices=[m.value for m in VerificationMethod])
    parser.add_argument("--contact", required=True, help="who at the agency confirmed or denied")
    parser.add_argument(
        "--at", type=_moment, metavar="WHEN", help="when they were reached (default: now)"
    )
    parser.add_argument("--outcome", required=True, choices=[o.value for o in VerificationOutcome])
    args = parser.parse_args(argv)
    body = {
        "method": args.method,
        "contact": args.contact,
        "contacted_at": (args.at or datetime.now(UTC)).isoformat(),
        "outcome": args.outcome,
        "reason": args.reason,
    }
    return _send(args, "requester-verification", body, "verification")


def override_command(argv: list[str]) -> int:
    parser = _parser("docket override", "Override the classifier's verdict.")
    parser.add_argument("--authority", metavar="CODE", help="the authority's code")
    parser.add_argument("--family", help="with --authority: its family")
    parser.add_argument("--jurisdiction", default="US", help="with --authority (default: US)")
    parser.add_argument("--risk", choices=[level.value for level in RiskLevel])
    parser.add_argument("--action", choices=[action.value for action in RecommendedAction])
    args = parser.parse_args(argv)
    if (args.authority is None) != (args.family is None):
        parser.error("--authority and --family go together")
    authority = (
        None
        if args.authority is None
        else {"code": args.authority, "family": args.family, "jurisdiction": args.jurisdiction}
    )
    body = {
        "authority": authority,
        "risk_level": args.risk,
        "recommended_action": args.action,
        "reason": args.reason,
    }
    return _send(args, "verdict-override", body, "override")


def hold_command(argv: list[str]) -> int:
    """``docket hold end ID --hold KIND`` or ``docket hold withhold ID``."""
    if argv[:1] == ["end"]:
        parser = _parser(
            "docket hold end", "End an emergency, child-safety or counter-productive hold."
        )
        parser.add_argument("--hold", required=True, choices=[kind.value for kind in HoldKind])
        _target_options(parser, required=False)
        args = parser.parse_args(argv[1:])
        body: dict[str, Any] = {"hold": args.hold, "target": _target(args), "reason": args.reason}
        return _send(args, "holds/end", body, "end of hold")
    if argv[:1] == ["withhold"]:
        parser = _parser("docket hold withhold", "Withhold a notice for good.")
        _target_options(parser, required=False)
        args = parser.parse_args(argv[1:])
        body = {"target": _target(args), "reason": args.reason}
        return _send(args, "holds/withhold", body, "withholding")
    print("usage: docket hold end|withhold REQUEST_ID ...")
    return 2


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
        raise argparse.ArgumentTypeError(
            f"not CATEGORY=produce|do_not_produce|narrowed:HOW: {text!r}"
        ) from None
    if narrowed_to:
        decided["narrowed_to"] = narrowed_to
    return decided


def produce_command(argv: list[str]) -> int:
    parser = _parser("docket produce", "Decide what is produced for one account.")
    _target_options(parser, required=True)
    parser.add_argument(
        "--data",
        action="append",
        required=True,
        type=_category_decision,
        metavar="CATEGORY=DECISION",
        help="produce, do_not_produce or narrowed:HOW, per data category (repeat)",
    )
    args = parser.parse_args(argv)
    body = {"target": _target(args), "decisions": args.data, "reason": args.reason}
    return _send(args, "production", body, "production decision")


def assign_command(argv: list[str]) -> int:
    parser = _parser("docket assign", "Assign a request to a reviewer.")
    parser.add_argument("assignee")
    args = parser.parse_args(argv)
    body = {"assignee": args.assignee, "reason": args.reason}
    return _send(args, "assignment", body, "assignment")


def comment_command(argv: list[str]) -> int:
    parser = _parser("docket comment", "Comment on a request.", reason=False)
    parser.add_argument("comment")
    args = parser.parse_args(argv)
    return _send(args, "comments", {"comment": args.comment}, "comment")
