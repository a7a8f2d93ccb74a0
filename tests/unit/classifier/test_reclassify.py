"""Reclassification: a gag added or lifted after receipt changes the verdict, and the
published verdict follows from its inputs alone (byte for byte, but for classified_at)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.classifier.domain import classify
from services.classifier.handlers import verdict_event
from services.classifier.history import VerdictInputs
from shared.accounts import AccountDirectory
from shared.amendments import Amendment
from shared.submission import Nondisclosure, Submission
from tests.unit.classifier.support import shipped_policy

RECEIVED = datetime(2025, 3, 1, 15, tzinfo=UTC)
SUBMISSION = Submission.model_validate(
    {
        "external_ref": "R-1",
        "received_via": "portal",
        "received_at": RECEIVED.isoformat(),
        "requester": {
            "agency": "United States Attorney's Office",
            "agency_type": "federal_law_enforcement",
            "country": "US",
        },
        "instrument": {
            "type": "subpoena",
            "cited_authority": "18 U.S.C. § 2703(c)(2)",
            "nondisclosure": {"ordered": False},
        },
        "targets": [{"handle": "@someone"}],
        "data_requested": ["subscriber_identity"],
    }
)
GAG = Amendment(
    nondisclosure=Nondisclosure(
        ordered=True, authority="18 U.S.C. § 2705(b) order of the district court"
    ),
    effective_at=RECEIVED + timedelta(days=2),
)
LIFT = Amendment(
    nondisclosure=Nondisclosure(ordered=False), effective_at=RECEIVED + timedelta(days=5)
)


def _factors(*amendments: Amendment) -> set[str]:
    verdict = classify(SUBMISSION, AccountDirectory(()), shipped_policy(), RECEIVED, amendments)
    return {f.code for f in verdict.risk.factors}


def test_a_gag_added_after_receipt_is_taken_in_and_a_lift_removes_it() -> None:
    assert "NDO_PRESENT" not in _factors()
    assert {"NDO_PRESENT", "NDO_INDEFINITE"} <= _factors(GAG)
    assert not {"NDO_PRESENT", "NDO_INDEFINITE"} & _factors(GAG, LIFT)


def test_the_published_verdict_is_identical_across_runs_but_for_its_time() -> None:
    inputs = VerdictInputs(SUBMISSION, (GAG,))

    def published(at: datetime) -> bytes:
        verdict = classify(
            SUBMISSION, AccountDirectory(()), shipped_policy(), RECEIVED, inputs.amendments
        )
        event = verdict_event("req-1", verdict, inputs, at, "cause-1")
        return event.model_dump_json(exclude={"classified_at"}).encode()

    assert published(datetime.now(UTC)) == published(datetime.now(UTC) + timedelta(hours=1))
