"""`docket policy test` over the sample cases and Docket's own cases: every expected
field passes, bad case lines are reported per case, and verdicts are deterministic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.classifier.cli import run_cases
from services.classifier.domain import classify, load_policy
from shared.accounts import Account, AccountDirectory
from shared.cli import main
from shared.submission import Submission
from tests.unit.classifier.support import CASE_FILES, shipped_policy

ACTUAL_FIELDS = {
    "authority_code",
    "authority_family",
    "risk_level",
    "risk_factors",
    "recommended_action",
    "notify_user",
    "notify_reason",
    "notify_not_before",
}


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.name)
def test_every_case_passes_every_field(path: Path) -> None:
    policy = shipped_policy()
    results = run_cases([path], policy)
    assert results
    failures = {
        r.case_id: r.error
        or {"failed": [n for n, ok in r.checks.items() if not ok], "actual": r.actual}
        for r in results
        if not r.passed
    }
    assert failures == {}


def test_policy_test_command_prints_one_json_line_per_case(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["policy", "test", *(str(p) for p in CASE_FILES), "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == sum(1 for p in CASE_FILES for line in p.open() if line.strip())
    for line in lines:
        parsed = json.loads(line)
        assert set(parsed) == {"id", "actual"}
        assert set(parsed["actual"]) == ACTUAL_FIELDS


def test_policy_test_command_fails_on_a_wrong_expectation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case = json.loads(CASE_FILES[0].read_text(encoding="utf-8").splitlines()[0])
    case["expected"]["authority_code"] = "NO_SUCH_AUTHORITY"
    path = tmp_path / "wrong.jsonl"
    path.write_text(json.dumps(case) + "\n", encoding="utf-8")
    assert main(["policy", "test", str(path)]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_a_case_that_is_not_a_valid_submission_is_reported_not_raised(tmp_path: Path) -> None:
    policy = shipped_policy()
    path = tmp_path / "bad.jsonl"
    bad = {"id": "bad-1", "request": {"external_ref": "x"}, "accounts": [], "expected": {}}
    path.write_text(json.dumps(bad) + "\nnot json at all\n", encoding="utf-8")
    results = run_cases([path], policy)
    assert [r.case_id for r in results] == ["bad-1", "bad.jsonl:2"]
    assert all(r.error and not r.passed for r in results)
    assert "not a valid submission" in (results[0].error or "")


def test_verdicts_are_byte_identical_across_runs() -> None:
    policy = shipped_policy()
    reloaded = load_policy()
    assert reloaded.version == policy.version
    for path in CASE_FILES:
        for line in path.open(encoding="utf-8"):
            case = json.loads(line)
            submission = Submission.model_validate(case["request"])
            accounts = AccountDirectory(Account.model_validate(a) for a in case["accounts"])
            first = classify(submission, accounts, policy, submission.received_at)
            second = classify(submission, accounts, reloaded, submission.received_at)
            assert first.model_dump_json() == second.model_dump_json(), case["id"]
