"""When a submission is new, a replay, or a conflict. Pure: no I/O.

A submission is identified twice: by its natural key (``requester.agency`` case-folded
and ``external_ref``, which also yields the request id) and, optionally, by the
client's ``Idempotency-Key`` header. Either key seen before with the same document
(same fingerprint) is a replay. With a different document, a reused Idempotency-Key is
a client's mistake about its own key (answered 422, as draft-ietf-httpapi-idempotency-
key-header says); a reused natural key is a conflict with the request it names (409).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pydantic import BaseModel


def fingerprint(document: BaseModel) -> str:
    """SHA-256 of the validated, normalised document (field order is the model's)."""
    return hashlib.sha256(document.model_dump_json(by_alias=True).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Prior:
    """A submission already accepted under a key."""

    request_id: str
    fingerprint: str


@dataclass(frozen=True)
class New:
    pass


@dataclass(frozen=True)
class Replay:
    request_id: str


@dataclass(frozen=True)
class Conflict:
    reason: str


@dataclass(frozen=True)
class KeyReused:
    reason: str


Resolution = New | Replay | Conflict | KeyReused


def resolve_submission(
    document_fingerprint: str, by_idempotency_key: Prior | None, by_natural_key: Prior | None
) -> Resolution:
    if by_idempotency_key is not None:
        if by_idempotency_key.fingerprint != document_fingerprint:
            return KeyReused("this Idempotency-Key was already used for a different submission")
        return Replay(by_idempotency_key.request_id)
    if by_natural_key is not None:
        if by_natural_key.fingerprint != document_fingerprint:
            return Conflict(
                "this agency and external_ref already name a different submission; "
                "send changes as amendments"
            )
        return Replay(by_natural_key.request_id)
    return New()
