"""The sample cases (contract section 2a) as inputs for the notice decision, with the
verdict taken from each case's ``expected`` fields so these tests do not depend on the
classifier."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from shared.accounts import Account, AccountDirectory
from shared.amendments import Amendment
from shared.submission import Submission, to_utc
from shared.verdict import (
    Authority,
    DataScope,
    RecommendedAction,
    Risk,
    RiskFactor,
    RiskLevel,
    TargetMatch,
    Verdict,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
#: the sample cases, read in place from the shared folder beside the repository
SAMPLE = REPO_ROOT.parent / "shared" / "cases" / "sample.jsonl"


@dataclass(frozen=True)
class NoticeCase:
    case_id: str
    submission: Submission
    verdict: Verdict
    amendments: tuple[Amendment, ...]
    target: TargetMatch | None
    account: Account | None
    expected: dict[str, Any]


def sample_path() -> Path:
    return SAMPLE


def _verdict(
    submission: Submission, expected: dict[str, Any], directory: AccountDirectory
) -> Verdict:
    factors = tuple(
        RiskFactor(code=code, weight=0, evidence="from the case's expected fields")
        for code in expected.get("risk_factors_must_include", [])
    )
    targets = tuple(
        TargetMatch(
            handle=target.handle,
            platform_user_id=target.platform_user_id,
            found=directory.find(target) is not None,
        )
        for target in submission.targets
    )
    return Verdict(
        policy_version="test",
        authority=Authority(
            code=expected["authority_code"],
            family=expected["authority_family"],
            jurisdiction=submission.requester.country,
            confidence=1.0,
        ),
        data_scope=DataScope(requested=tuple(submission.data_requested)),
        risk=Risk(level=RiskLevel(expected.get("risk_level", "low")), score=0, factors=factors),
        recommended_action=RecommendedAction(expected["recommended_action"]),
        targets=targets,
    )


def load_cases(path: Path | None = None) -> list[NoticeCase]:
    cases: list[NoticeCase] = []
    with (path or sample_path()).open(encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            raw = json.loads(line)
            submission = Submission.model_validate(raw["request"])
            directory = AccountDirectory(Account.model_validate(a) for a in raw.get("accounts", []))
            verdict = _verdict(submission, raw["expected"], directory)
            cases.append(
                NoticeCase(
                    case_id=raw["id"],
                    submission=submission,
                    verdict=verdict,
                    amendments=tuple(
                        Amendment.model_validate(a) for a in raw.get("amendments", [])
                    ),
                    target=verdict.targets[0] if verdict.targets else None,
                    account=directory.find(submission.targets[0]) if submission.targets else None,
                    expected=raw["expected"],
                )
            )
    return cases


def parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    return to_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
