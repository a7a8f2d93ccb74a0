"""Canonical leaf bytes: the JSON Canonicalization Scheme of RFC 8785."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

import rfc8785

JsonValue: TypeAlias = (
    bool | int | float | str | Sequence["JsonValue"] | Mapping[str, "JsonValue"] | None
)


def canonical_json(value: JsonValue) -> bytes:
    """The RFC 8785 serialization of ``value`` (UTF-8, sorted keys, no whitespace).

    Raises ``rfc8785.CanonicalizationError`` (a ``ValueError``) for what I-JSON cannot
    carry exactly: integers beyond +-(2**53 - 1), NaN or infinities, non-string keys,
    lone surrogates, and types other than dict, list, tuple, str, int, float, bool, None.
    """
    return rfc8785.dumps(value)
