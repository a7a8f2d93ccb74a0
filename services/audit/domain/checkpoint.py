"""Tree heads as C2SP checkpoints: signed notes (Ed25519) that transparency-dev tooling
and witnesses read, beside the JSON form (``tree_head.py``). Pure.

A checkpoint (https://c2sp.org/tlog-checkpoint) is a note whose text is three lines::

    <origin>
    <tree size, decimal>
    <root hash, base64>

and a signed note (https://c2sp.org/signed-note) appends a blank line and one line per
signature, ``— <key name> <base64(key hash || signature)>``, where the signature is
Ed25519 over the text and the key hash is the first four bytes of SHA-256 over
``<key name> || 0x0A || 0x01 || <32-byte public key>`` (0x01: the Ed25519 algorithm).
The log's key name is its origin. Verifiers are given the key as a verifier key,
``<name>+<key hash, 8 hex digits>+<base64(0x01 || public key)>``.
"""

from __future__ import annotations

import base64
import re
from hashlib import sha256
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from services.audit.domain.merkle import HASH_SIZE

#: The signed-note algorithm byte of Ed25519.
ED25519_ALGORITHM: Final = b"\x01"
#: U+2014 EM DASH, then a space, opens every signature line.
SIGNATURE_LINE_START: Final = "\u2014 "
#: A key name (and so the origin) is non-empty, printable, with no space and no ``+``.
_KEY_NAME = re.compile(r"^[^\s+\u2014]+$")
CHECKPOINT_MEDIA_TYPE: Final = "text/plain; charset=utf-8"


def check_origin(origin: str) -> str:
    """``origin`` if it can name the log and its key (``docket.example.org/audit``)."""
    if not _KEY_NAME.fullmatch(origin) or not origin.isprintable():
        raise ValueError(
            "a log origin is printable, without spaces or '+', e.g. 'docket.example.org/audit'"
        )
    return origin


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def note_key_hash(name: str, public_key: Ed25519PublicKey) -> bytes:
    """The four bytes that name the key in a signature line."""
    material = name.encode() + b"\n" + ED25519_ALGORITHM + _raw(public_key)
    return sha256(material).digest()[:4]


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The verifier key a witness or ``logverify`` is given: ``name+hash+key``."""
    encoded = base64.b64encode(ED25519_ALGORITHM + _raw(public_key)).decode()
    return f"{check_origin(name)}+{note_key_hash(name, public_key).hex()}+{encoded}"


def checkpoint_text(origin: str, tree_size: int, root: bytes) -> str:
    """The checkpoint body: origin, size and base64 root, each ending in a newline."""
    if len(root) != HASH_SIZE:
        raise ValueError(f"a root hash is {HASH_SIZE} bytes")
    if tree_size < 0:
        raise ValueError("a tree size is not negative")
    return f"{check_origin(origin)}\n{tree_size}\n{base64.b64encode(root).decode()}\n"


def sign_note(private_key: Ed25519PrivateKey, name: str, text: str) -> str:
    """``text`` (ending in a newline) as a signed note with one Ed25519 signature by the
    key called ``name``."""
    if not text.endswith("\n"):
        raise ValueError("a note's text ends with a newline")
    signature = private_key.sign(text.encode())
    key_hash = note_key_hash(check_origin(name), private_key.public_key())
    return (
        f"{text}\n{SIGNATURE_LINE_START}{name} {base64.b64encode(key_hash + signature).decode()}\n"
    )


def sign_checkpoint(
    private_key: Ed25519PrivateKey, origin: str, tree_size: int, root: bytes
) -> str:
    """The signed checkpoint of the tree of ``tree_size`` leaves with root ``root``,
    signed by the log's key under the origin's name. Ed25519 is deterministic, so one
    tree always gets the same checkpoint."""
    return sign_note(private_key, origin, checkpoint_text(origin, tree_size, root))
