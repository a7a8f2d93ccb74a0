"""``breaking_changes``: a pure comparison of two versions of a JSON Schema."""

from __future__ import annotations

from typing import Any

import pytest

from shared.contract import breaking_changes


def obj(required: tuple[str, ...] = (), **properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required)}


STRING = {"type": "string"}
NULLABLE_STRING = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
STATE = {"type": "string", "enum": ["low", "high"]}


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param(obj(("a",), a=STRING), obj(("a",), a=STRING), id="unchanged"),
        pytest.param(
            obj(("a",), a=STRING), obj(("a",), a=STRING, b=NULLABLE_STRING), id="optional-added"
        ),
        pytest.param(
            obj(a=STATE),
            obj(a={"type": "string", "enum": ["low", "medium", "high"]}),
            id="enum-widened",
        ),
        pytest.param(obj(("a",), a=STRING), obj(a=STRING), id="required-made-optional"),
        pytest.param(obj(a=STRING), obj(a=NULLABLE_STRING), id="made-nullable"),
        pytest.param(obj(a={"type": "integer"}), obj(a={"type": "number"}), id="int-to-number"),
        pytest.param(
            obj(a={"type": "string", "maxLength": 10}),
            obj(a={"type": "string", "maxLength": 20}),
            id="limit-relaxed",
        ),
        pytest.param(
            obj(a={"type": "string", "description": "old"}),
            obj(a={"type": "string", "description": "new", "title": "A"}),
            id="docs-only",
        ),
        pytest.param(obj(a=STRING), obj(a={}), id="anything-accepted"),
        pytest.param(
            {"$defs": {"T": obj(("x",), x=STRING)}, **obj(t={"$ref": "#/$defs/T"})},
            {
                "$defs": {"U": obj(("x",), x=STRING, y=NULLABLE_STRING)},
                **obj(t={"$ref": "#/$defs/U"}),
            },
            id="model-renamed-and-extended",
        ),
    ],
)
def test_compatible_changes_pass(old: dict[str, Any], new: dict[str, Any]) -> None:
    assert breaking_changes(old, new) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(obj(a=STRING, b=STRING), obj(a=STRING), "b: field removed", id="removed"),
        pytest.param(
            obj(a=STRING), obj(a={"type": "integer"}), "a: retyped, string -> integer", id="retyped"
        ),
        pytest.param(
            obj(a={"type": "string", "format": "date-time"}),
            obj(a={"type": "string", "format": "date"}),
            "a: retyped, string/date-time -> string/date",
            id="format-changed",
        ),
        pytest.param(obj(a=STRING), obj(("a",), a=STRING), "a: made required", id="made-required"),
        pytest.param(
            obj(a=STRING),
            obj(("b",), a=STRING, b=STRING),
            "b: new required field",
            id="required-added",
        ),
        pytest.param(
            obj(a=STATE),
            obj(a={"type": "string", "enum": ["low"]}),
            "a: enum narrowed, ['high'] no longer allowed",
            id="enum-narrowed",
        ),
        pytest.param(
            obj(a=NULLABLE_STRING),
            obj(a=STRING),
            "a: retyped, null -> string",
            id="no-longer-nullable",
        ),
        pytest.param(
            obj(a={"type": "string", "maxLength": 20}),
            obj(a={"type": "string", "maxLength": 10}),
            "a: maxLength tightened to 10",
            id="limit-tightened",
        ),
        pytest.param(
            obj(a={"type": "array", "items": obj(x=STRING, y=STRING)}),
            obj(a={"type": "array", "items": obj(x=STRING)}),
            "a[items].y: field removed",
            id="removed-in-array-items",
        ),
        pytest.param(
            {"$defs": {"T": obj(x=STRING)}, **obj(t={"$ref": "#/$defs/T"})},
            {"$defs": {"T": obj(x={"type": "boolean"})}, **obj(t={"$ref": "#/$defs/T"})},
            "t.x: retyped, string -> boolean",
            id="retyped-behind-ref",
        ),
        pytest.param(
            obj(a={"type": "string", "const": "1.0"}),
            obj(a={"type": "string", "const": "2.0"}),
            "a: value fixed to '2.0'",
            id="const-changed",
        ),
    ],
)
def test_breaking_changes_are_reported(
    old: dict[str, Any], new: dict[str, Any], expected: str
) -> None:
    assert expected in breaking_changes(old, new)


def test_every_problem_is_reported() -> None:
    old = obj(("a",), a=STRING, b=STRING, c=STATE)
    new = obj(("a", "d"), a={"type": "integer"}, c={"type": "string", "enum": ["low"]}, d=STRING)
    assert len(breaking_changes(old, new)) == 4
