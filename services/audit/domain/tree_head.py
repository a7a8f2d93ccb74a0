"""Signed tree heads: Ed25519 (RFC 8032) signatures over a tree size and its root.

The signed message is the RFC 8785 canonical JSON of exactly three members::

    {"root_hash": "<64 lowercase hex>", "timestamp": "<RFC 3339 UTC>", "tree_size": <int>}

with ``timestamp`` always written ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (six fractional
digits, ``Z``), the same string the model serializes, so an offline verifier can rebuild
the message from a published head's JSON. ``tree_size`` stays at or below 2**53 - 1,
the largest integer RFC 8785 writes exactly. ``key_id`` is the first 16 hex digits of
SHA-256 over the raw 32-byte public key.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from hashlib import sha256

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_serializer, field_validator

from services.audit.domain.canonical import canonical_json
from services.audit.domain.merkle import HASH_SIZE

#: The largest integer RFC 8785 (I-JSON, RFC 7493) represents exactly.
MAX_SIGNED_TREE_SIZE = 2**53 - 1
_SIGNATURE_SIZE = 64


class SignedTreeHead(BaseModel):
    """A tree head (RFC 9162 section 4.10, in JSON form) signed with Ed25519."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tree_size: int = Field(ge=0, le=MAX_SIGNED_TREE_SIZE, strict=True)
    root_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    timestamp: AwareDatetime
    signature: str
    key_id: str = Field(pattern=r"^[0-9a-f]{16}$")

    @field_validator("timestamp")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        try:
            return value.astimezone(UTC)
        except OverflowError as error:
            raise ValueError("timestamp is outside the UTC range of datetime") from error

    @field_validator("signature")
    @classmethod
    def _canonical_base64(cls, value: str) -> str:
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error as error:
            raise ValueError("signature is not base64") from error
        if len(raw) != _SIGNATURE_SIZE or base64.b64encode(raw).decode() != value:
            raise ValueError("signature must be the canonical base64 of 64 bytes")
        return value

    @field_serializer("timestamp")
    def _serialize_timestamp(self, value: datetime) -> str:
        return format_timestamp(value)


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with microseconds and ``Z``: ``2026-01-02T03:04:05.000006Z``."""
    if value.utcoffset() is None:
        raise ValueError("timestamp must be timezone-aware")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def tree_head_message(tree_size: int, root_hash: str, timestamp: datetime) -> bytes:
    """The bytes that are signed: canonical JSON of size, hex root and timestamp."""
    return canonical_json(
        {"tree_size": tree_size, "root_hash": root_hash, "timestamp": format_timestamp(timestamp)}
    )


def key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex digits of SHA-256 over the raw public key."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return sha256(raw).hexdigest()[:16]


def sign_tree_head(
    private_key: Ed25519PrivateKey, size: int, root: bytes, timestamp: datetime
) -> SignedTreeHead:
    """Sign the head of the tree of ``size`` leaves whose root hash is ``root``."""
    if len(root) != HASH_SIZE:
        raise ValueError(f"a root hash is {HASH_SIZE} bytes")
    signature = private_key.sign(tree_head_message(size, root.hex(), timestamp))
    return SignedTreeHead(
        tree_size=size,
        root_hash=root.hex(),
        timestamp=timestamp,
        signature=base64.b64encode(signature).decode(),
        key_id=key_id(private_key.public_key()),
    )


def verify_tree_head(public_key: Ed25519PublicKey, head: SignedTreeHead) -> bool:
    """Whether ``head`` carries ``public_key``'s id and a valid signature over its fields."""
    if head.key_id != key_id(public_key):
        return False
    try:
        message = tree_head_message(head.tree_size, head.root_hash, head.timestamp)
        public_key.verify(base64.b64decode(head.signature, validate=True), message)
    except (InvalidSignature, ValueError):  # binascii.Error is a ValueError
        return False
    return True
