"""API keys: who is calling, in which role, for which organisation. Pure: no I/O.

A key is a high-entropy random secret shown once when it is created; Docket stores only
its SHA-256, looks the hash up and compares it in constant time. Each key belongs to a
client (legal-ops staff, an agency portal, an automation) and has exactly one role
(``shared.auth.policy`` says what each role may call). A submitter's key is bound to the
organisation it submits for; any key may carry the national-security scope, without
which national-security process is invisible.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

from pydantic import SecretStr


class Role(StrEnum):
    #: An agency portal or integration: submits, reads and amends its organisation's requests.
    SUBMITTER = "submitter"
    #: Legal staff: read every request, amend, decide and act on it.
    LEGAL = "legal"
    #: On-call engineers, policy analysts: read history without document text or contact data.
    READER = "reader"
    #: Auditors: read redacted history and dead letters, verify the log.
    AUDITOR = "auditor"


#: Secrets shorter than this are refused (a bootstrap key is chosen by a person).
MIN_SECRET_LENGTH = 32
_CLIENT_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
NATIONAL_SECURITY_FLAG = "national_security"

#: Secrets published in this repository (docker-compose.yml, deploy/k8s) or typed as a
#: placeholder: refused outside development mode (``DOCKET_DEVELOPMENT_MODE``).
KNOWN_PLACEHOLDER_SECRETS = frozenset(
    {
        "compose-dev-key-change-me-0123456789",
        "CHANGE-ME-CHANGE-ME-CHANGE-ME-0000",
    }
)
_PLACEHOLDER_WORDS = ("change-me", "changeme", "placeholder", "example")


@dataclass(frozen=True)
class Principal:
    """The authenticated caller. ``client_id`` is recorded as the author of what it
    writes (``submitted_by``, ``decided_by``)."""

    key_id: str
    client_id: str
    role: Role
    #: The organisation a submitter submits for (``requester.agency``); None otherwise.
    organisation: str | None = None
    national_security: bool = False

    def owns(self, organisation: str | None) -> bool:
        """Whether a request of ``organisation`` (its ``requester.agency``) is this
        submitter's own; compared case-insensitively."""
        return (
            self.organisation is not None
            and organisation is not None
            and same_organisation(self.organisation, organisation)
        )


@dataclass(frozen=True)
class KeySpec:
    """What a new key is: everything but its secret and id."""

    client_id: str
    role: Role
    organisation: str | None = None
    national_security: bool = False


@dataclass(frozen=True)
class BootstrapKey:
    """``DOCKET_INTAKE_BOOTSTRAP_KEY``: ``client_id:role[+national_security]:secret``,
    role one of legal, reader, auditor (a submitter is made with ``docket keys create``)."""

    spec: KeySpec
    secret: SecretStr

    @property
    def key_id(self) -> str:
        return f"bootstrap-{self.spec.client_id}"


def same_organisation(left: str, right: str) -> bool:
    return left.strip().casefold() == right.strip().casefold()


def new_secret() -> SecretStr:
    """A fresh key: 256 random bits, URL-safe."""
    return SecretStr("dk_" + secrets.token_urlsafe(32))


def new_key_id() -> str:
    return "k_" + secrets.token_hex(6)


def secret_digest(secret: SecretStr) -> str:
    return hashlib.sha256(secret.get_secret_value().encode("utf-8")).hexdigest()


def digest_matches(secret: SecretStr, stored_digest: str) -> bool:
    return hmac.compare_digest(secret_digest(secret), stored_digest)


def is_placeholder(secret: SecretStr) -> bool:
    """A secret published in this repository or that reads like a placeholder."""
    value = secret.get_secret_value()
    lowered = value.casefold()
    return (
        value in KNOWN_PLACEHOLDER_SECRETS
        or any(word in lowered for word in _PLACEHOLDER_WORDS)
        or len(set(value)) < 8
    )


def check_client_id(client_id: str) -> str:
    if _CLIENT_ID.fullmatch(client_id) is None:
        raise ValueError(
            f"client id {client_id!r} must be 1-64 lower-case letters, digits, '.', '_' or '-'"
        )
    return client_id


def key_spec(
    client_id: str, role: str, organisation: str | None, national_security: bool
) -> KeySpec:
    """A checked key description: a submitter needs an organisation, others have none."""
    try:
        parsed = Role(role)
    except ValueError:
        raise ValueError(
            f"role {role!r} is not one of {', '.join(r.value for r in Role)}"
        ) from None
    organisation = organisation.strip() if organisation else None
    if parsed is Role.SUBMITTER and not organisation:
        raise ValueError("a submitter key needs the organisation it submits for (--organisation)")
    if parsed is not Role.SUBMITTER and organisation:
        raise ValueError(f"a {parsed.value} key reads every organisation; give no organisation")
    return KeySpec(check_client_id(client_id), parsed, organisation, national_security)


def parse_bootstrap_key(value: SecretStr, development_mode: bool) -> BootstrapKey:
    """``client_id:role[+national_security]:secret``; a placeholder secret is refused
    unless ``development_mode``."""
    parts = value.get_secret_value().split(":", 2)
    if len(parts) != 3:
        raise ValueError(
            "the bootstrap key must look like client_id:role[+national_security]:secret"
        )
    client_id, role_text, secret_text = parts
    role, _, flag = role_text.partition("+")
    if flag not in ("", NATIONAL_SECURITY_FLAG):
        raise ValueError(f"the bootstrap key's role may only add +{NATIONAL_SECURITY_FLAG}")
    if role == Role.SUBMITTER:
        raise ValueError("a submitter key is bound to an organisation: use docket keys create")
    secret = SecretStr(secret_text)
    if len(secret_text) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"the bootstrap key's secret needs at least {MIN_SECRET_LENGTH} characters"
        )
    if is_placeholder(secret) and not development_mode:
        raise ValueError(
            "the bootstrap key's secret is a published placeholder; choose a random secret "
            "(or set DOCKET_DEVELOPMENT_MODE=true on a development machine)"
        )
    return BootstrapKey(key_spec(client_id, role, None, flag == NATIONAL_SECURITY_FLAG), secret)
