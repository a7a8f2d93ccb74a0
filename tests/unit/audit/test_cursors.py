"""Audit's cursors survive the trip to the client and back, and the query times take
exactly the documented forms."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from services.audit.api import LeafPosition, QueryTime, RequestPosition
from shared.paging import decode_cursor, encode_cursor


def test_a_request_cursor_comes_back_as_it_went() -> None:
    position = RequestPosition(
        received_at=datetime(2077, 1, 4, 9, 30, 0, 123456, tzinfo=UTC), request_id="req-1"
    )
    assert decode_cursor(encode_cursor(position), RequestPosition) == position
    leaf = LeafPosition(leaf_index=42)
    assert decode_cursor(encode_cursor(leaf), LeafPosition) == leaf


@pytest.mark.parametrize(
    "forged",
    [
        {"received_at": "2077-01-04T09:30:00Z", "request_id": "req\u0000"},
        {"received_at": "9999-12-31T23:00:00-05:00", "request_id": "req"},
        {"received_at": "2077-01-04", "request_id": ""},
    ],
)
def test_a_forged_request_cursor_is_refused(forged: dict[str, str]) -> None:
    cursor = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode()
    with pytest.raises(RequestValidationError) as refused:
        decode_cursor(cursor, RequestPosition)
    assert refused.value.errors()[0]["loc"] == ("query", "cursor")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-31", datetime(2026, 1, 31, tzinfo=UTC)),
        ("2026-01-31T12:00:00Z", datetime(2026, 1, 31, 12, tzinfo=UTC)),
        ("2026-01-31T07:00-05:00", datetime(2026, 1, 31, 12, tzinfo=UTC)),
        ("2026-01-31T12:00", datetime(2026, 1, 31, 12, tzinfo=UTC)),
    ],
)
def test_query_times_in_the_documented_forms_are_utc(text: str, expected: datetime) -> None:
    assert TypeAdapter(QueryTime).validate_python(text) == expected


@pytest.mark.parametrize(
    "text", ["0.5", "1700000000", "2026-01-31 12:00", "2026-13-01", "9999-12-31T23:00-05:00"]
)
def test_other_query_times_are_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(QueryTime).validate_python(text)


def test_a_time_already_parsed_is_taken_as_utc() -> None:
    eastern = datetime(2026, 1, 31, 7, tzinfo=timezone(timedelta(hours=-5)))
    assert TypeAdapter(QueryTime).validate_python(eastern) == datetime(2026, 1, 31, 12, tzinfo=UTC)
