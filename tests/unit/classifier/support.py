"""What the classifier's unit tests share: the shipped policy (loaded once) and the
policy case files."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from services.classifier.domain import Policy, load_policy

REPO_ROOT = Path(__file__).resolve().parents[3]
#: The labelled cases, read in place from the shared folder beside the repository
#: (sample.jsonl, more.jsonl, ...), and Docket's own extra cases kept in the repository.
SHARED_CASES_DIR = REPO_ROOT.parent / "shared" / "cases"
CASE_FILES = (
    *sorted(SHARED_CASES_DIR.glob("*.jsonl")),
    REPO_ROOT / "tests" / "policy_cases" / "docket_cases.jsonl",
)


@cache
def shipped_policy() -> Policy:
    return load_policy()
