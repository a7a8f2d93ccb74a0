"""Which inputs a verdict answers: amendments before the submission are taken in by its
verdict, later ones each get a verdict of their own, and the same cause always picks the
same inputs."""

from __future__ import annotations

from datetime import UTC, datetime

from services.classifier.history import (
    RequestHistory,
    StoredAmendment,
    VerdictInputs,
    inputs_on_amended,
    inputs_on_received,
)
from shared.amendments import Amendment
from shared.submission import Submission

RECEIVED = datetime(2025, 3, 1, 15, tzinfo=UTC)
SUBMISSION = Submission.model_validate(
    {
        "external_ref": "H-1",
        "received_via": "mail",
        "received_at": RECEIVED.isoformat(),
        "requester": {
            "agency": "Agency",
            "agency_type": "federal_law_enforcement",
            "country": "US",
        },
        "instrument": {"type": "subpoena"},
        "targets": [{"handle": "@someone"}],
        "data_requested": ["subscriber_identity"],
    }
)


def _amendment(event_id: str, position: int, day: int) -> StoredAmendment:
    note = f"amendment {event_id}"
    return StoredAmendment(
        event_id,
        position,
        Amendment(note=note, effective_at=datetime(2025, 3, day, tzinfo=UTC)),
    )


EARLY = _amendment("a-early", 1, 2)
LATE_1 = _amendment("a-late-1", 3, 3)
LATE_2 = _amendment("a-late-2", 4, 4)


def _history(received_position: int | None, *amendments: StoredAmendment) -> RequestHistory:
    return RequestHistory(
        request_id="req-1",
        submission=SUBMISSION if received_position is not None else None,
        received_position=received_position,
        amendments=amendments,
    )


def test_nothing_to_classify_before_the_submission() -> None:
    history = _history(None, EARLY)
    assert inputs_on_amended(history, "a-early") is None
    assert inputs_on_received(history) is None


def test_the_submission_takes_in_amendments_that_overtook_it() -> None:
    history = _history(2, EARLY, LATE_1, LATE_2)
    assert inputs_on_received(history) == VerdictInputs(SUBMISSION, (EARLY.amendment,))
    # its verdict already carries the early amendment: nothing more to publish for it
    assert inputs_on_amended(history, "a-early") is None


def test_each_later_amendment_answers_the_amendments_up_to_itself() -> None:
    history = _history(2, EARLY, LATE_1, LATE_2)
    assert inputs_on_amended(history, "a-late-1") == VerdictInputs(
        SUBMISSION, (EARLY.amendment, LATE_1.amendment)
    )
    assert inputs_on_amended(history, "a-late-2") == VerdictInputs(
        SUBMISSION, (EARLY.amendment, LATE_1.amendment, LATE_2.amendment)
    )


def test_redelivery_picks_the_same_inputs_whatever_arrived_since() -> None:
    before = _history(2, EARLY, LATE_1)
    after = _history(2, EARLY, LATE_1, LATE_2)
    assert inputs_on_amended(before, "a-late-1") == inputs_on_amended(after, "a-late-1")
    assert inputs_on_received(before) == inputs_on_received(after)
