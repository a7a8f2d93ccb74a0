"""C2SP checkpoints and signed notes, checked against the vectors published with the Go
reference implementation (golang.org/x/mod/sumdb/note, note_test.go); the Go verifier
itself runs against a live log in tests/integration/audit/test_checkpoints.py."""

from __future__ import annotations

import base64
from hashlib import sha256

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.audit.domain.checkpoint import (
    checkpoint_text,
    note_key_hash,
    sign_checkpoint,
    sign_note,
    verifier_key,
)

#: golang.org/x/mod/sumdb/note's test key: "PRIVATE+KEY+PeterNeumann+c74f20a3+" and
#: base64(0x01 || seed), and its verifier key.
PETER_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIGNATURE = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZI"
    "nNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def peter() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(PETER_SEED)


def test_the_verifier_key_and_key_hash_match_the_reference_vectors() -> None:
    key = peter()
    assert verifier_key("PeterNeumann", key.public_key()) == PETER_VKEY
    assert note_key_hash("PeterNeumann", key.public_key()).hex() == "c74f20a3"


def test_a_signed_note_matches_the_reference_signature_byte_for_byte() -> None:
    assert sign_note(peter(), "PeterNeumann", PETER_TEXT) == PETER_TEXT + "\n" + PETER_SIGNATURE


def test_a_checkpoint_is_origin_size_and_base64_root_then_the_signature() -> None:
    root = sha256(b"root").digest()
    signed = sign_checkpoint(peter(), "docket.test/audit", 12, root)
    text, signature = signed.split("\n\n")
    assert text + "\n" == checkpoint_text("docket.test/audit", 12, root)
    assert text.split("\n") == ["docket.test/audit", "12", base64.b64encode(root).decode()]
    dash, name, blob = signature.rstrip("\n").split(" ")
    assert (dash, name) == ("\u2014", "docket.test/audit")
    raw = base64.b64decode(blob)
    assert raw[:4] == note_key_hash("docket.test/audit", peter().public_key())
    peter().public_key().verify(raw[4:], (text + "\n").encode())  # raises if not
    assert sign_checkpoint(peter(), "docket.test/audit", 12, root) == signed  # deterministic


@pytest.mark.parametrize("origin", ["", "has space", "a+b", "line\nbreak", "dash\u2014"])
def test_an_origin_that_cannot_name_a_key_is_refused(origin: str) -> None:
    with pytest.raises(ValueError, match="origin"):
        checkpoint_text(origin, 1, bytes(32))


def test_a_root_must_be_a_sha256_hash() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        checkpoint_text("docket.test/audit", 1, b"short")
