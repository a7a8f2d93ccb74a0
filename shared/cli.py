"""``docket``: the command line for people (legal staff, policy teams, on-call).

Each command lives with the service it belongs to; this module only dispatches, and
imports a command's module when it runs, so ``docket classify`` needs no broker.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable


def api_key_headers() -> dict[str, str]:
    """``Authorization: Bearer $DOCKET_API_KEY`` (none when the variable is unset)."""
    key = os.environ.get("DOCKET_API_KEY")
    return {"authorization": f"Bearer {key}"} if key else {}


#: command words -> (module, function). The function takes the remaining arguments.
COMMANDS: dict[tuple[str, ...], tuple[str, str, str]] = {
    ("classify",): (
        "services.classifier.cli",
        "classify_command",
        "classify FILE.json offline and say why",
    ),
    ("policy", "test"): (
        "services.classifier.cli",
        "policy_test_command",
        "score case files against the policy (contract 2a)",
    ),
    ("registry", "refresh"): (
        "services.classifier.registry.refresh",
        "refresh_command",
        "rewrite the shipped .gov agency registry from CISA's current-full.csv",
    ),
    ("submit",): ("services.intake.cli", "submit_command", "submit a request FILE.json"),
    ("status",): ("services.intake.cli", "status_command", "show a request's history"),
    ("amend",): (
        "services.intake.cli",
        "amend_command",
        "amend a request (non-disclosure order, withdrawal)",
    ),
    ("decide",): ("services.intake.cli", "decide_command", "record a request's outcome"),
    ("keys",): ("services.intake.cli", "keys_command", "create, list, rotate or revoke API keys"),
    ("verify",): (
        "services.intake.counsel_cli",
        "verify_command",
        "record how a requester was verified (or that it failed)",
    ),
    ("override",): (
        "services.intake.counsel_cli",
        "override_command",
        "override a verdict's authority, risk or action",
    ),
    ("hold",): (
        "services.intake.counsel_cli",
        "hold_command",
        "end a notice's hold, or withhold it for good (end|withhold)",
    ),
    ("produce",): (
        "services.intake.counsel_cli",
        "produce_command",
        "decide what is produced per account and data category",
    ),
    ("assign",): (
        "services.intake.counsel_cli",
        "assign_command",
        "assign a request to a reviewer",
    ),
    ("comment",): ("services.intake.counsel_cli", "comment_command", "comment on a request"),
    ("audit", "export"): (
        "services.audit.cli",
        "export_command",
        "write the audit log and tree heads to FILE.jsonl",
    ),
    ("audit", "verify"): (
        "services.audit.cli",
        "verify_command",
        "verify the audit log offline (export file or database)",
    ),
    ("audit", "rebuild"): (
        "services.audit.cli",
        "rebuild_command",
        "rebuild the request views from the audit log",
    ),
    ("report",): ("services.audit.cli", "report_command", "the transparency report (and chart)"),
    ("migrate",): (
        "shared.migrate",
        "migrate_command",
        "apply migrations, create service roles, grant (as the owner role)",
    ),
    ("trace",): (
        "services.audit.trace_cli",
        "trace_command",
        "a request's path through the services, with Jaeger links",
    ),
}


def usage() -> str:
    lines = ["usage: docket COMMAND [ARGS...]", "", "commands:"]
    for words, (_module, _function, help_text) in COMMANDS.items():
        lines.append(f"  {' '.join(words):<16} {help_text}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    for words, (module, function, _help) in sorted(COMMANDS.items(), key=lambda c: -len(c[0])):
        if tuple(args[: len(words)]) == words:
            command: Callable[[list[str]], int] = getattr(importlib.import_module(module), function)
            return command(args[len(words) :])
    print(usage(), file=sys.stderr)
    return 0 if args[:1] in (["-h"], ["--help"]) else 2


if __name__ == "__main__":
    sys.exit(main())
