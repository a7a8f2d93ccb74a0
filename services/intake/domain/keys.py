"""API keys: who may write to intake, and what. Pure: no I/O.

A key is a high-entropy random secret shown once when it is created; Docket stores only
its SHA-256, looks the hash up and compares it in constant time. Each key belongs to a
client (legal-ops staff, an agency portal, an automation) and carries scopes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    SUBMIT = "submit"
    AMEND = "amend"
    DECIDE = "decide"


#: Secrets shorter than this are refused (the bootstrap key is chosen by a person).
MIN_SECRET_LENGTH = 32
_CLIENT_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Credential:
    """The authenticated caller: its client id goes into events as ``submitted_by``."""

    key_id: str
    client_id: str
    scopes: frozenset[Scope]


@dataclass(frozen=True)
class BootstrapKey:
    """``DOCKET_INTAKE_BOOTSTRAP_KEY``: ``client_id:scope,scope:secret``."""

    client_id: str
    scopes: frozenset[Scope]
    secret: str

    @property
    def key_id(self) -> str:
        return f"bootstrap-{self.client_id}"


def new_secret() -> str:
    """A fresh key: 256 random bits, URL-safe."""
    return "dk_" + secrets.token_urlsafe(32)


def new_key_id() -> str:
    return "k_" + secrets.token_hex(6)


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def digest_matches(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(secret_digest(secret), stored_digest)


def check_client_id(client_id: str) -> str:
    if _CLIENT_ID.fullmatch(client_id) is None:
        raise ValueError(
            f"client id {client_id!r} must be 1-64 lower-case letters, digits, '.', '_' or '-'"
        )
    return client_id


def parse_scopes(text: str) -> frozenset[Scope]:
    """``"submit,amend"`` -> scopes; an unknown or empty list is an error."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    known = {scope.value for scope in Scope}
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise ValueError(
            f"scopes must be a comma-separated list of {', '.join(sorted(known))}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    return frozenset(Scope(name) for name in names)


def parse_bootstrap_key(value: str) -> BootstrapKey:
    parts = value.split(":", 2)
    if len(parts) != 3:
        raise ValueError("the bootstrap key must look like client_id:scope,scope:secret")
    client_id, scopes, secret = parts
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"the bootstrap key's secret needs at least {MIN_SECRET_LENGTH} characters"
        )
    return BootstrapKey(check_client_id(client_id), parse_scopes(scopes), secret)
