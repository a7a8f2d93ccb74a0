"""The CLI prints a problem document's ``detail`` and where each invalid field is
(``docs/http.md``): a body pointer, a parameter or a header, on one line."""

from __future__ import annotations

import httpx
import pytest

from shared.cli_http import answer
from shared.cli_support import CliError, ExitCode


def test_a_problem_is_printed_with_every_field_error() -> None:
    problem = {
        "type": "about:blank",
        "title": "Unprocessable Content",
        "status": 422,
        "detail": "3 field(s) are invalid: see errors",
        "errors": [
            {"detail": "required field is missing", "pointer": "#/requester/agency"},
            {"detail": "already used for another body", "header": "Idempotency-Key"},
            {"detail": "not a risk level", "parameter": "risk_level"},
        ],
    }
    response = httpx.Response(
        422, json=problem, headers={"content-type": "application/problem+json"}
    )
    with pytest.raises(CliError) as refused:
        answer(response, "intake")
    assert refused.value.code == ExitCode.REJECTED
    assert refused.value.message == (
        "intake answered 422: 3 field(s) are invalid: see errors; "
        "#/requester/agency: required field is missing; "
        "Idempotency-Key: already used for another body; "
        "risk_level: not a risk level"
    )
