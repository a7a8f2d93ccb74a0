"""The CLI prints a problem document's ``detail`` and where each invalid field is
(``docs/http.md``): a body pointer, a parameter or a header."""

from __future__ import annotations

import httpx
import pytest

from services.intake.cli import _report


def test_a_problem_is_printed_with_every_field_error(capsys: pytest.CaptureFixture[str]) -> None:
    problem = {
        "type": "about:blank",
        "title": "Unprocessable Content",
        "status": 422,
        "detail": "2 field(s) are invalid: see errors",
        "errors": [
            {"detail": "required field is missing", "pointer": "#/requester/agency"},
            {"detail": "already used for another body", "header": "Idempotency-Key"},
        ],
    }
    answer = httpx.Response(422, json=problem, headers={"content-type": "application/problem+json"})
    assert _report(answer, lambda body: "unused") == 1
    printed = capsys.readouterr()
    assert printed.out == ""
    assert printed.err.splitlines() == [
        "error 422: 2 field(s) are invalid: see errors",
        "  #/requester/agency: required field is missing",
        "  Idempotency-Key: already used for another body",
    ]
