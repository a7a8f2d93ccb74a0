"""The policy page: the active policy's version, how a candidate (shadow) policy would
have decided recent requests differently, and ``docket policy test`` on the case files.
The classification runs here, in the console, with the classifier's pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from services.classifier.cli import CaseResult, run_cases
from services.classifier.domain import Policy, explain, load_policy
from services.classifier.shadow import differences
from services.console.auth import ConsoleUser
from services.console.context import Console
from services.console.views import submission_of
from shared.accounts import AccountDirectory
from shared.amendments import Amendment
from shared.auth.keys import Role
from shared.submission import Submission

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CASES_DIR = REPO / "tests" / "policy_cases"
#: How many of the latest requests the shadow comparison looks at.
RECENT = 25
MAX_PAGES = 20


@dataclass(frozen=True)
class Policies:
    active: Policy
    candidate: Policy | None
    cases: tuple[CaseResult, ...]
    case_files: tuple[str, ...]


@cache
def _policies(
    active_dir: Path | None, candidate_dir: Path | None, cases_dir: Path | None
) -> Policies:
    active = load_policy(active_dir)
    candidate = load_policy(candidate_dir) if candidate_dir else None
    folder = cases_dir or DEFAULT_CASES_DIR
    files = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
    return Policies(
        active, candidate, tuple(run_cases(files, active)), tuple(f.name for f in files)
    )


def _accounts(path: Path | None) -> AccountDirectory:
    return AccountDirectory.from_jsonl(path) if path else AccountDirectory(())


async def _latest(user: ConsoleUser, context: Console) -> list[str]:
    """The ids of the :data:`RECENT` latest requests (audit lists oldest first: read
    up to :data:`MAX_PAGES` pages and keep the end)."""
    ids: list[str] = []
    params: dict[str, Any] = {"limit": 500}
    for _ in range(MAX_PAGES):
        listing = await context.upstream.audit(user, "/v1/requests", params=params)
        if listing.status_code != 200:
            break
        page = listing.json()
        ids = (ids + [item["request_id"] for item in page["items"]])[-RECENT:]
        if not page.get("next_cursor"):
            break
        params = {"limit": 500, "cursor": page["next_cursor"]}
    return ids


async def shadow_rows(
    user: ConsoleUser, context: Console, policies: Policies
) -> list[dict[str, Any]]:
    """Each recent request the candidate decides differently: its id and the lines of
    ``services.classifier.shadow.differences``."""
    assert policies.candidate is not None
    accounts = _accounts(context.settings.accounts_file)
    rows = []
    for request_id in await _latest(user, context):
        response = await context.upstream.audit(user, f"/v1/requests/{request_id}")
        if response.status_code != 200:
            continue
        history = response.json()
        try:
            submission = Submission.model_validate(submission_of(history))
            amendments = [
                Amendment.model_validate(
                    {k: a.get(k) for k in ("nondisclosure", "withdrawn", "note", "effective_at")}
                )
                for a in history.get("amendments") or []
            ]
        except ValidationError:
            continue
        as_of = submission.received_at
        active = explain(submission, accounts, policies.active, as_of, amendments).verdict
        candidate = explain(submission, accounts, policies.candidate, as_of, amendments).verdict
        lines = differences(active, candidate)
        if lines:
            rows.append({"request_id": request_id, "differences": lines})
    return rows


async def policy_page_values(user: ConsoleUser, context: Console) -> dict[str, Any]:
    settings = context.settings
    policies = _policies(settings.policy_dir, settings.shadow_policy_dir, settings.policy_cases_dir)
    shadow: list[dict[str, Any]] | None = None
    if policies.candidate is not None and user.role is Role.LEGAL:
        shadow = await shadow_rows(user, context, policies)
    fields = sorted({name for case in policies.cases for name in case.checks})
    return {
        "active_version": policies.active.version,
        "candidate_version": policies.candidate.version if policies.candidate else None,
        "shadow": shadow,
        "cases": policies.cases,
        "case_files": policies.case_files,
        "case_fields": fields,
        "passed": sum(case.passed for case in policies.cases),
    }
