"""What the classifier's unit tests share: the shipped policy (loaded once) and the
policy case files."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from services.classifier.domain import Policy, load_policy

CASES_DIR = Path(__file__).resolve().parents[2] / "policy_cases"
CASE_FILES = (CASES_DIR / "sample.jsonl", CASES_DIR / "docket_cases.jsonl")


@cache
def shipped_policy() -> Policy:
    return load_policy()
