"""The export format of the audit log (``docket audit export``), JSON Lines, UTF-8.

Line 1 is ``{"type": "header", "format": "docket-audit-export/1"}``; then one line per
signed tree head, ``{"type": "tree_head", "tree_size", "root_hash", "timestamp",
"signature", "key_id"}`` (the API's JSON); then one line per leaf in index order,
``{"type": "leaf", "index": N, "leaf_data": "<base64>", "leaf_hash": "<64 hex>"}``.
``leaf_data`` is the RFC 8785 canonical JSON of the ledger entry; ``leaf_hash`` is
what the database stored, which the verifier recomputes rather than trusts.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from services.audit.domain.tree_head import SignedTreeHead
from services.audit.domain.verification import Leaf

FORMAT = "docket-audit-export/1"


class ExportError(ValueError):
    """The file is not a well-formed export; the message names the line."""


def header_line() -> str:
    return json.dumps({"type": "header", "format": FORMAT}) + "\n"


def head_line(head: SignedTreeHead) -> str:
    return json.dumps({"type": "tree_head", **head.model_dump(mode="json")}) + "\n"


def leaf_line(index: int, data: bytes, stored_hash: bytes) -> str:
    record = {
        "type": "leaf",
        "index": index,
        "leaf_data": base64.b64encode(data).decode("ascii"),
        "leaf_hash": stored_hash.hex(),
    }
    return json.dumps(record) + "\n"


def read_heads(path: Path) -> list[SignedTreeHead]:
    heads: list[SignedTreeHead] = []
    with path.open(encoding="utf-8") as file:
        for number, record in _records(file):
            if record["type"] == "tree_head":
                fields = {k: v for k, v in record.items() if k != "type"}
                try:
                    heads.append(SignedTreeHead.model_validate(fields))
                except ValidationError as error:
                    raise ExportError(f"line {number}: not a signed tree head") from error
    return heads


def read_leaves(path: Path) -> Iterator[Leaf]:
    with path.open(encoding="utf-8") as file:
        for number, record in _records(file):
            if record["type"] == "leaf":
                yield _leaf(number, record)


def _leaf(number: int, record: dict[str, Any]) -> Leaf:
    index, data, stored = record.get("index"), record.get("leaf_data"), record.get("leaf_hash")
    if not isinstance(index, int) or not isinstance(data, str) or not isinstance(stored, str):
        raise ExportError(f"line {number}: a leaf needs index, leaf_data and leaf_hash")
    try:
        raw = base64.b64decode(data, validate=True)
        digest = bytes.fromhex(stored)
    except (binascii.Error, ValueError) as error:
        raise ExportError(f"line {number} (leaf {index}): bad base64 or hex") from error
    return Leaf(index=index, data=raw, stored_hash=digest)


def _records(file: TextIO) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(file, start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ExportError(f"line {number}: not JSON") from error
        if not isinstance(record, dict) or record.get("type") not in (
            "header",
            "tree_head",
            "leaf",
        ):
            raise ExportError(f"line {number}: not an export record")
        if number == 1 and record.get("format") != FORMAT:
            raise ExportError(f"line 1: expected the header of {FORMAT}")
        yield number, record
