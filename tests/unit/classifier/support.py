"""What the classifier's unit tests share: the shipped policy (loaded once), the
policy case files, and a submission to vary field by field."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from services.classifier.domain import Policy, load_policy
from shared.submission import Submission

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


RECEIVED = datetime(2025, 3, 1, 15, tzinfo=UTC)


def submission(**overrides: Any) -> Submission:
    """A customs summons received at :data:`RECEIVED`, with ``overrides`` (instrument
    fields by their own name) replacing its fields."""
    body: dict[str, Any] = {
        "external_ref": "T-1",
        "received_via": "mail",
        "received_at": RECEIVED.isoformat(),
        "requester": {
            "agency": "U.S. Customs and Border Protection",
            "agency_type": "federal_law_enforcement",
            "country": "US",
            "contact_email": "agent@cbp.dhs.gov",
        },
        "instrument": {
            "type": "administrative_summons",
            "cited_authority": None,
            "document_text": None,
        },
        "targets": [{"handle": "@critic"}],
        "data_requested": ["subscriber_identity"],
    }
    for key, value in overrides.items():
        if key in (
            "cited_authority",
            "document_text",
            "nondisclosure",
            "type",
            "response_deadline",
        ):
            body["instrument"][key] = value
        else:
            body[key] = value
    return Submission.model_validate(body)
