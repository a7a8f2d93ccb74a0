"""The notice decision reproduces every sample case's ``notify_*`` fields."""

from __future__ import annotations

import pytest

from services.notifier.domain.decision import decide_notice
from tests.unit.notifier.cases import NoticeCase, load_cases, parse_time

CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.case_id for c in CASES])
def test_notice_decision_matches_the_sample(case: NoticeCase) -> None:
    ruling = decide_notice(
        submission=case.submission,
        verdict=case.verdict,
        amendments=case.amendments,
        target=case.target,
        account=case.account,
        as_of=case.submission.received_at,
    )
    actual = (str(ruling.decision), ruling.reason, ruling.not_before)
    wanted = (
        case.expected["notify_user"],
        case.expected["notify_reason"],
        parse_time(case.expected["notify_not_before"]),
    )
    assert actual == wanted


def test_there_are_sample_cases() -> None:
    assert len(CASES) >= 19
