"""``docket classify`` and ``docket policy test`` (contract section 2a).

Both run the pure functions only: no broker, no database. Output never contains an
account's e-mail address (evidence is built without it)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from pydantic import ValidationError

from services.classifier.domain import Explanation, Policy, PolicyError, explain, load_policy
from services.classifier.registry import RegistryError, load_agency_registry
from services.notifier.domain.decision import decide_notice
from shared.accounts import Account, AccountDirectory
from shared.amendments import Amendment
from shared.cli_support import (
    STDIN,
    ExitCode,
    JsonFlag,
    fail,
    note,
    parse_moment,
    read_json,
    read_text,
)
from shared.submission import Submission, to_utc
from shared.verdict import TargetMatch, Verdict

ACCOUNTS_ENV = "DOCKET_ACCOUNTS_FILE"
AGENCY_REGISTRY_ENV = "DOCKET_AGENCY_REGISTRY_FILE"
FIELDS = (
    "authority_code",
    "authority_family",
    "risk_level",
    "risk_factors_must_include",
    "risk_factors_must_not_include",
    "recommended_action",
    "notify_user",
    "notify_reason",
    "notify_not_before",
)


PolicyDir = Annotated[
    Path | None,
    typer.Option("--policy", help="policy directory (default: the shipped policy)"),
]


def _policy(directory: Path | None) -> Policy:
    """The policy in ``directory``, checking requesters against the shipped agency
    registry and ``$DOCKET_AGENCY_REGISTRY_FILE``."""
    extra = os.environ.get(AGENCY_REGISTRY_ENV)
    try:
        return load_policy(directory, load_agency_registry(Path(extra) if extra else None))
    except (PolicyError, RegistryError, OSError) as error:
        fail(ExitCode.INPUT, f"policy refused: {error}")


# --- docket classify ----------------------------------------------------------------


def _why(explanation: Explanation) -> str:
    verdict = explanation.verdict
    authority = verdict.authority
    scope = verdict.data_scope
    lines = [
        f"Authority: {authority.code} ({authority.family}, {authority.jurisdiction}), "
        f"confidence {authority.confidence:.2f}",
        f"  identified because: {explanation.authority_reason}",
        f"  the law: {explanation.authority.basis}",
        "Data scope:",
        f"  requested:        {', '.join(scope.requested) or 'nothing'}",
        f"  compellable:      {', '.join(scope.compellable) or 'nothing'}",
        f"  beyond authority: {', '.join(scope.beyond_authority) or 'nothing'}",
        f"Risk: {verdict.risk.level.value} (score {verdict.risk.score})",
    ]
    if explanation.floor is not None:
        lines.append(
            f"  at least {explanation.floor.at_least.value} by rule "
            f'"{explanation.floor.rule}": {explanation.floor.reason}'
        )
    for factor in verdict.risk.factors:
        lines.append(f"  - {factor.code} (+{factor.weight}): {factor.evidence}")
    rule = explanation.action_rule
    reason = f'rule "{rule.rule}": {rule.reason}' if rule else "no rule applies: default"
    lines.append(f"Recommended action: {verdict.recommended_action.value} ({reason})")
    for target in verdict.targets:
        name = target.handle or target.platform_user_id
        lines.append(
            f"Target {name}: {'found' if target.found else 'NOT FOUND in the account directory'}"
        )
    return "\n".join(lines)


def _read_accounts(path: Path) -> AccountDirectory:
    return AccountDirectory.from_jsonl(path)


def classify(
    file: Annotated[
        Path,
        typer.Argument(
            help='a submission, or a case with "request" and "accounts" (- reads stdin)',
            metavar="FILE",
        ),
    ],
    accounts: Annotated[
        Path | None,
        typer.Option(help=f"account directory (JSON Lines); default ${ACCOUNTS_ENV}"),
    ] = None,
    policy: PolicyDir = None,
    as_of: Annotated[
        datetime | None,
        typer.Option(
            help="processing clock, ISO 8601 (default: the request's received_at)",
            parser=parse_moment,
            metavar="WHEN",
        ),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Classify one request offline (no broker, no database): the verdict (JSON, contract
    section 3) on stdout, so it pipes into jq, and why on stderr: the authority and its
    law, the data scope, the risk factors with their evidence, the recommended action's
    rule. --json leaves out the explanation."""
    active = _policy(policy)
    document: Any = read_json(file)
    is_case = isinstance(document, dict) and "request" in document
    try:
        submission = Submission.model_validate(document["request"] if is_case else document)
    except ValidationError as error:
        fail(ExitCode.INPUT, f"{file}: {_error_text(error)}")
    accounts_file = accounts or (
        Path(os.environ[ACCOUNTS_ENV]) if os.environ.get(ACCOUNTS_ENV) else None
    )
    try:
        if accounts_file is not None:
            directory = _read_accounts(accounts_file)
        else:
            directory = AccountDirectory(
                Account.model_validate(a) for a in (document.get("accounts", []) if is_case else [])
            )
    except (OSError, ValueError) as error:
        fail(ExitCode.INPUT, f"{accounts_file or file}: cannot read the accounts: {error}")
    clock = to_utc(as_of) if as_of else submission.received_at
    explanation = explain(submission, directory, active, clock)
    print(explanation.verdict.model_dump_json(indent=2))
    if not json_output:
        note(_why(explanation))


# --- docket policy test -------------------------------------------------------------


@dataclass(frozen=True)
class CaseResult:
    case_id: str
    actual: dict[str, Any] | None
    checks: dict[str, bool]
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(self.checks.values())


def _iso(value: datetime | None) -> str | None:
    return to_utc(value).isoformat().replace("+00:00", "Z") if value is not None else None


def _parse_time(value: object) -> datetime | None:
    if value is None:
        return None
    return to_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def _actual(case: dict[str, Any], policy: Policy) -> dict[str, Any]:
    submission = Submission.model_validate(case["request"])
    accounts = AccountDirectory(Account.model_validate(a) for a in case.get("accounts", []))
    amendments = tuple(Amendment.model_validate(a) for a in case.get("amendments", []))
    as_of = submission.received_at
    verdict: Verdict = explain(submission, accounts, policy, as_of, amendments).verdict
    target: TargetMatch | None = verdict.targets[0] if verdict.targets else None
    account = accounts.find(submission.targets[0]) if submission.targets else None
    ruling = decide_notice(
        submission=submission,
        verdict=verdict,
        amendments=amendments,
        target=target,
        account=account,
        as_of=as_of,
    )
    return {
        "authority_code": verdict.authority.code,
        "authority_family": verdict.authority.family,
        "risk_level": verdict.risk.level.value,
        "risk_factors": [f.code for f in verdict.risk.factors],
        "recommended_action": verdict.recommended_action.value,
        "notify_user": str(ruling.decision),
        "notify_reason": ruling.reason,
        "notify_not_before": _iso(ruling.not_before),
    }


def _checks(expected: dict[str, Any], actual: dict[str, Any]) -> dict[str, bool]:
    checks: dict[str, bool] = {}
    for name in FIELDS:
        if name not in expected:
            continue
        wanted = expected[name]
        if name == "risk_factors_must_include":
            checks[name] = all(code in actual["risk_factors"] for code in wanted)
        elif name == "risk_factors_must_not_include":
            checks[name] = not any(code in actual["risk_factors"] for code in wanted)
        elif name == "notify_not_before":
            checks[name] = _parse_time(wanted) == _parse_time(actual[name])
        else:
            checks[name] = wanted == actual[name]
    return checks


def run_cases(paths: Sequence[Path], policy: Policy) -> list[CaseResult]:
    """Every case of every file (``-``: stdin); a case that cannot be parsed is a failed
    result, a file that cannot be read ends the command (exit 3)."""
    results: list[CaseResult] = []
    for path in paths:
        for number, line in enumerate(read_text(path).splitlines(), start=1):
            if not line.strip():
                continue
            case_id = f"{path.name}:{number}"
            try:
                case = json.loads(line)
                case_id = str(case.get("id", case_id))
                actual = _actual(case, policy)
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                reason = _error_text(error)
                results.append(CaseResult(case_id, None, {}, f"{path}:{number}: {reason}"))
                continue
            results.append(CaseResult(case_id, actual, _checks(case.get("expected", {}), actual)))
    return results


def _error_text(error: Exception) -> str:
    if isinstance(error, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg']}" for e in error.errors()
        )
        return f"request is not a valid submission: {problems}"
    if isinstance(error, KeyError):
        return f"case lacks field {error}"
    return f"{type(error).__name__}: {error}"


_SHORT = {
    "authority_code": "code",
    "authority_family": "family",
    "risk_level": "level",
    "risk_factors_must_include": "must_inc",
    "risk_factors_must_not_include": "must_not",
    "recommended_action": "action",
    "notify_user": "notify",
    "notify_reason": "reason",
    "notify_not_before": "not_before",
}


def _table(results: Sequence[CaseResult], out: TextIO) -> None:
    width = max([len(r.case_id) for r in results] + [4])
    print("case".ljust(width) + "  " + "  ".join(_SHORT[f].ljust(10) for f in FIELDS), file=out)
    for result in results:
        if result.error is not None:
            print(f"{result.case_id.ljust(width)}  ERROR {result.error}", file=out)
            continue
        cells = []
        for name in FIELDS:
            outcome = result.checks.get(name)
            cells.append(("-" if outcome is None else "PASS" if outcome else "FAIL").ljust(10))
        print(result.case_id.ljust(width) + "  " + "  ".join(cells), file=out)
    for result in results:
        if result.actual is None or result.passed:
            continue
        failed = [name for name, ok in result.checks.items() if not ok]
        print(f"\n{result.case_id}: failed {', '.join(failed)}", file=out)
        print(f"  actual: {json.dumps(result.actual)}", file=out)
    print("\nper field (passed/checked):", file=out)
    for name in FIELDS:
        checked = [r.checks[name] for r in results if name in r.checks]
        print(f"  {name.ljust(31)} {sum(checked)}/{len(checked)}", file=out)
    passed = sum(r.passed for r in results)
    print(f"\n{passed}/{len(results)} cases pass every field", file=out)


def policy_test(
    paths: Annotated[
        list[Path],
        typer.Argument(help="case files, JSON Lines (- reads stdin)", metavar="PATH..."),
    ],
    policy: PolicyDir = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="one JSON line per case with the actual fields")
    ] = False,
) -> None:
    """Run classification and the notice decision over case files and compare each with
    its expected fields. Exit 1 when a case fails a field."""
    active = _policy(policy)
    if sum(str(path) == STDIN for path in paths) > 1:
        fail(ExitCode.USAGE, "- (stdin) may be given once")
    results = run_cases(paths, active)
    if json_output:
        for result in results:
            line: dict[str, Any] = {"id": result.case_id}
            if result.error is not None:
                line["error"] = result.error
            else:
                line["actual"] = result.actual
            print(json.dumps(line, ensure_ascii=False))
    else:
        print(f"policy {active.version}")
        _table(results, sys.stdout)
    if not all(r.passed for r in results):
        raise typer.Exit(int(ExitCode.FAILED))
