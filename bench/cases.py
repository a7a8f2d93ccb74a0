"""The case mix every stage of the benchmark sends: the requests of the labelled cases
(``../shared/cases/*.jsonl`` beside the repository, and ``tests/policy_cases/*.jsonl``:
real-pattern government and legal demands) that intake accepts, and the union of their
account directories."""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CASE_FILES = (
    *sorted((REPO.parent / "shared" / "cases").glob("*.jsonl")),
    *sorted((REPO / "tests" / "policy_cases").glob("*.jsonl")),
)


@dataclass(frozen=True)
class Case:
    case_id: str
    request: dict[str, Any]
    accounts: tuple[dict[str, Any], ...]
    amendments: tuple[dict[str, Any], ...]


def load_cases(files: tuple[Path, ...] = CASE_FILES) -> list[Case]:
    """Every case, in file order."""
    cases = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                doc = json.loads(line)
                cases.append(
                    Case(
                        case_id=doc["id"],
                        request=doc["request"],
                        accounts=tuple(doc.get("accounts", ())),
                        amendments=tuple(doc.get("amendments", ())),
                    )
                )
    return cases


def http_cases(cases: list[Case]) -> list[Case]:
    """The cases intake accepts over HTTP (it requires at least one target)."""
    return [case for case in cases if case.request.get("targets")]


def write_accounts(cases: list[Case], path: Path) -> int:
    """One account directory (JSON Lines) holding every case's accounts; returns its size.

    A later duplicate (same ``platform_user_id`` or handle) is dropped."""
    seen: set[str] = set()
    lines = []
    for case in cases:
        for account in case.accounts:
            keys = {f"id:{account.get('platform_user_id')}", f"h:{account['handle'].casefold()}"}
            keys.discard("id:None")
            if keys & seen:
                continue
            seen |= keys
            lines.append(json.dumps(account))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


class BodyMix:
    """Request bodies cycling through the case mix, each under a fresh ``external_ref``
    so that every POST is a new request (a fresh Kafka write and database row)."""

    def __init__(self, cases: list[Case]) -> None:
        if not cases:
            raise ValueError("no cases to send")
        self._requests = [case.request for case in cases]
        self._next = 0

    def __call__(self) -> dict[str, Any]:
        body = copy.deepcopy(self._requests[self._next % len(self._requests)])
        self._next += 1
        tag = uuid.uuid4()
        body["external_ref"] = f"BENCH-{tag}"
        # a demand of its own, not a copy the classifier would link as a duplicate
        body["instrument"] = {**body["instrument"], "case_number": f"BENCH-CASE-{tag}"}
        return body
