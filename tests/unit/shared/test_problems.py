"""The one HTTP error convention (``shared/problems.py``), on a small app of its own:
every failure is an RFC 9457 problem with ``about:blank``, the status phrase as title,
and JSON pointers or parameter names for invalid fields; cursors page one way."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
import httpx
import pytest
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from shared.paging import Cursor, decode_cursor, encode_cursor, page_links
from shared.problems import (
    PROBLEM_MEDIA_TYPE,
    document_problems,
    install_problems,
    json_pointer,
)

router = APIRouter(prefix="/v1")


class Target(BaseModel):
    handle: str = Field(min_length=2)


class Body(BaseModel):
    targets: list[Target]


class Position(BaseModel):
    index: int = Field(ge=0)


@router.post("/things")
async def create_thing(body: Body) -> dict[str, int]:
    return {"targets": len(body.targets)}


@router.get("/things")
async def list_things(
    request: Request, limit: Annotated[int, Query(ge=1)] = 2, cursor: Cursor = None
) -> dict[str, object]:
    start = decode_cursor(cursor, Position).index + 1 if cursor else 0
    items = list(range(start, min(start + limit, 5)))
    last = Position(index=items[-1]) if items and items[-1] < 4 else None
    return {"items": items, **page_links(request, last)}


@router.get("/things/{name}")
async def thing(name: str, kind: str | None = None) -> dict[str, str | None]:
    return {"name": name, "kind": kind}


@router.get("/broken")
async def broken() -> None:
    raise RuntimeError("a bug")


@router.get("/database-down")
async def database_down() -> None:
    raise asyncpg.CannotConnectNowError("the database system is starting up")


@router.get("/database-disk-full")
async def database_disk_full() -> None:
    raise asyncpg.DiskFullError('could not extend file "base/16384/16400"')


def _app() -> FastAPI:
    app = FastAPI()
    install_problems(app)  # before the router, as a composition root does
    app.include_router(router)
    return app


@pytest.fixture
def client() -> TestClient:
    return TestClient(_app(), raise_server_exceptions=False)


def _problem(response: httpx.Response, status: int, title: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert body["type"] == "about:blank"
    assert body["title"] == title
    assert body["status"] == status
    assert body["detail"]
    return body


def test_invalid_body_fields_are_json_pointers(client: TestClient) -> None:
    response = client.post("/v1/things", json={"targets": [{"handle": "ok"}, {"handle": "x"}]})
    body = _problem(response, 422, "Unprocessable Content")
    assert body["errors"] == [
        {"detail": "String should have at least 2 characters", "pointer": "#/targets/1/handle"}
    ]


def test_a_missing_body_and_broken_json_point_at_the_whole_document(client: TestClient) -> None:
    broken = client.post(
        "/v1/things", content=b'{"targets": [', headers={"content-type": "application/json"}
    )
    assert _problem(broken, 422, "Unprocessable Content")["errors"] == [
        {"detail": "the body is not valid JSON", "pointer": "#"}
    ]
    missing = client.post("/v1/things")
    assert _problem(missing, 422, "Unprocessable Content")["errors"] == [
        {"detail": "required field is missing", "pointer": "#"}
    ]


def test_pointer_tokens_are_escaped_as_rfc_6901_says() -> None:
    assert json_pointer(()) == "#"
    assert json_pointer(("a/b", "m~n", 0, "c d", "ü")) == "#/a~1b/m~0n/0/c%20d/%C3%BC"


def test_invalid_query_parameters_are_named(client: TestClient) -> None:
    body = _problem(client.get("/v1/things", params={"limit": 0}), 422, "Unprocessable Content")
    assert body["errors"] == [
        {"detail": "Input should be greater than or equal to 1", "parameter": "limit"}
    ]


@pytest.mark.parametrize(
    "url", ["/v1/things?kind=%00", "/v1/things?kind=a%1Bb", "/v1/things?%00=1"]
)
def test_a_control_character_in_a_query_is_422_naming_it(client: TestClient, url: str) -> None:
    body = _problem(client.get(url), 422, "Unprocessable Content")
    errors = body["errors"]
    assert len(errors) == 1
    assert "control characters" in errors[0]["detail"]
    assert "parameter" in errors[0]


@pytest.mark.parametrize("url", ["/v1/things/%00", "/v1/things/a%0Ab", "/v1/things/%C2%85"])
def test_a_control_character_in_the_path_is_422(client: TestClient, url: str) -> None:
    assert "control character" in str(_problem(client.get(url), 422, "Unprocessable Content"))


def test_text_that_is_merely_unusual_still_passes(client: TestClient) -> None:
    answer = client.get("/v1/things/%C3%BC%20x", params={"kind": "a;b'c\"<>"})
    assert answer.status_code == 200
    assert answer.json() == {"name": "ü x", "kind": "a;b'c\"<>"}


def test_unknown_route_and_method(client: TestClient) -> None:
    _problem(client.get("/v1/nothing"), 404, "Not Found")
    wrong = client.delete("/v1/things")
    _problem(wrong, 405, "Method Not Allowed")
    assert set(wrong.headers["allow"].split(", ")) == {"GET", "POST"}


def test_an_unreachable_dependency_is_503_and_a_bug_500(client: TestClient) -> None:
    down = client.get("/v1/database-down")
    _problem(down, 503, "Service Unavailable")
    assert down.headers["retry-after"] == "5"
    bug = _problem(client.get("/v1/broken"), 500, "Internal Server Error")
    assert "a bug" not in str(bug)  # nothing of the exception leaks
    # The database's disk full is the infrastructure's failure too: 503, retry later.
    full = client.get("/v1/database-disk-full")
    _problem(full, 503, "Service Unavailable")


def test_pages_carry_an_opaque_cursor_and_a_next_link(client: TestClient) -> None:
    seen: list[int] = []
    url: str | None = "/v1/things?limit=2"
    pages = 0
    while url is not None:
        page = client.get(url).json()
        seen += page["items"]
        if page["next"] is not None:
            assert f"cursor={page['next_cursor']}" in page["next"]
            assert "limit=2" in page["next"]  # the same call, one page on
        url = page["next"]
        pages += 1
    assert (seen, pages) == ([0, 1, 2, 3, 4], 3)


@pytest.mark.parametrize(
    "cursor", ["not base64 !", encode_cursor(Target(handle="xx")), "e30", "bnVsbA", "%00"]
)
def test_a_cursor_this_api_did_not_give_is_422(client: TestClient, cursor: str) -> None:
    body = _problem(
        client.get("/v1/things", params={"cursor": cursor}), 422, "Unprocessable Content"
    )
    assert body["errors"][0]["parameter"] == "cursor"


def test_every_operation_documents_its_problems() -> None:
    schema = _app().openapi()
    components = schema["components"]["schemas"]
    assert "HTTPValidationError" not in components
    assert {"Problem", "FieldError"} <= set(components)
    assert "HTTPValidationError" not in str(schema)
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            responses = operation["responses"]
            assert "503" in responses
            assert ("404" in responses) == ("{" in path)
            for status, entry in responses.items():
                if int(status) >= 400:
                    assert list(entry["content"]) == [PROBLEM_MEDIA_TYPE], (path, status)
    document_problems(schema)  # idempotent
    assert schema == _app().openapi()
