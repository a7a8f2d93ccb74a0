"""The tree-head signing key, kept outside the database (an adapter for the domain).

Sources, first match wins: the environment value (base64 of the raw 32-byte Ed25519
private key, or a PEM private key), then the PEM file at ``path``; a missing file is
created with a new key, mode 0600.
"""

from __future__ import annotations

import base64
import binascii
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

_PEM_START = "-----BEGIN"


class SigningKeyError(ValueError):
    """The configured key material is not a usable Ed25519 private key."""


def load_or_create_signing_key(path: Path | None, env_value: str | None) -> Ed25519PrivateKey:
    """Load the signing key from ``env_value`` or ``path``; create ``path`` if missing.

    Raises ``SigningKeyError`` for unusable key material and when neither source is
    given: a key that lives only in memory would leave published heads unverifiable.
    """
    if env_value and env_value.strip():
        return _parse_env_value(env_value.strip())
    if path is None:
        raise SigningKeyError("no signing key: give the key file path or the key itself")
    try:
        return _load_pem(path.read_bytes(), str(path))
    except FileNotFoundError:
        return _create(path)


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    """The public key as a PEM SubjectPublicKeyInfo block (RFC 8410)."""
    return public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def public_key_base64(public_key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key (RFC 8032), base64."""
    return base64.b64encode(public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def _parse_env_value(value: str) -> Ed25519PrivateKey:
    if value.startswith(_PEM_START):
        return _load_pem(value.encode(), "the environment value")
    try:
        raw = base64.b64decode(value, validate=True)
    except binascii.Error as error:
        raise SigningKeyError("the environment value is neither PEM nor base64") from error
    if len(raw) != 32:
        raise SigningKeyError(f"a raw Ed25519 private key is 32 bytes, got {len(raw)}")
    return Ed25519PrivateKey.from_private_bytes(raw)


def _load_pem(pem: bytes, source: str) -> Ed25519PrivateKey:
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:  # malformed, or encrypted with a password
        raise SigningKeyError(f"{source} is not an unencrypted PEM private key") from error
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{source} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def _create(path: Path) -> Ed25519PrivateKey:
    """Write a new key, mode 0600, published atomically with a hard link.

    If another process published one first, load and return theirs instead.
    """
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        os.link(temporary, path)
    except FileExistsError:
        return _load_pem(path.read_bytes(), str(path))
    finally:
        os.unlink(temporary)
    return key
