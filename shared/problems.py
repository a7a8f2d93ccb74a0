"""Every error intake returns is an RFC 9457 problem document
(``application/problem+json``): ``type``, ``title``, ``status``, ``detail`` and, for
invalid fields, ``errors``: one entry per field with its path and a human sentence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

PROBLEM_MEDIA_TYPE = "application/problem+json"


class FieldError(BaseModel):
    path: str
    message: str


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] = []


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    errors: Sequence[FieldError] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    slug = title.lower().replace(" ", "-")
    body = Problem(
        type=f"https://docket.dev/problems/{slug}",
        title=title,
        status=status,
        detail=detail,
        errors=list(errors),
    )
    return JSONResponse(
        body.model_dump(), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def field_errors(raw_errors: Sequence[Any]) -> list[FieldError]:
    """pydantic/FastAPI error dicts -> one path and one sentence per field."""
    result: list[FieldError] = []
    for error in raw_errors:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body",)]
        message = str(error.get("msg", "invalid value"))
        if error.get("type") == "extra_forbidden":
            message = "unknown field: not part of the contract (check the spelling)"
        elif error.get("type") == "missing":
            message = "required field is missing"
        result.append(FieldError(path=".".join(location) or "(body)", message=message))
    return result
