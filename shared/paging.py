"""The one way Docket's list endpoints page (``docs/http.md``): a page is ``items``,
``next_cursor`` (an opaque string, null on the last page) and ``next`` (the same call
with that cursor, a relative URL, null on the last page); the caller passes
``next_cursor`` back as the ``cursor`` query parameter, with the same filters.

A cursor is the position of the last item shown, as base64url JSON. It is opaque to
clients (its form may change) and is validated like any input: one this API did not
give is a ``422`` naming the ``cursor`` parameter."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, TypeVar

from fastapi import Query, Request
from pydantic import BaseModel, Field, ValidationError

from shared.problems import invalid_query

CURSOR_PARAMETER = "cursor"
Position = TypeVar("Position", bound=BaseModel)
#: The ``cursor`` query parameter of every list endpoint.
Cursor = Annotated[
    str | None,
    Query(
        alias=CURSOR_PARAMETER,
        max_length=2000,
        description="`next_cursor` of the previous page (opaque); leave out for the first",
    ),
]


class Page(BaseModel):
    """What every page carries beside its ``items``."""

    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page"
    )
    next: str | None = Field(
        description="The next page's URL (relative to this API), null on the last page"
    )


def encode_cursor(position: BaseModel) -> str:
    raw = position.model_dump_json().encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, position: type[Position]) -> Position:
    """The position ``cursor`` holds, or ``422`` for one this API did not give."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return position.model_validate(json.loads(raw))
    except (ValueError, TypeError, binascii.Error, ValidationError) as error:
        raise invalid_query(
            (CURSOR_PARAMETER, "not a cursor this API gave: pass next_cursor as it came")
        ) from error


def page_links(request: Request, last: BaseModel | None) -> dict[str, str | None]:
    """``next_cursor`` and ``next`` of a page whose last item is at ``last`` (None: the
    last page)."""
    if last is None:
        return {"next_cursor": None, "next": None}
    cursor = encode_cursor(last)
    query = request.url.include_query_params(**{CURSOR_PARAMETER: cursor}).query
    return {"next_cursor": cursor, "next": f"{request.url.path}?{query}"}
