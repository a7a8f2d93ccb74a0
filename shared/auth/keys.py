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
    #: The key may act for a signed-in person (the web console's key): every call
    #: names the person, and is answered in the person's role (``acting_for``).
    delegates: bool = False
    #: The key that acts for this person (its client id); None: the key's own call.
    via: str | None = None

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
    delegates: bool = False


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
    client_id: str,
    role: str,
    organisation: str | None,
    national_security: bool,
    delegates: bool = False,
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
    if delegates and parsed is Role.SUBMITTER:
        raise ValueError("a submitter key cannot act for people (--delegates is for the console)")
    return KeySpec(check_client_id(client_id), parsed, organisation, national_security, delegates)


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


# --- a key acting for a signed-in person (the web console, docs/console.md) -----------

#: The roles a delegating key of each role may act in: never above its own. A legal
#: key may act for legal staff, readers and auditors (each reaches no further than
#: legal staff); a reader's or auditor's key only in its own role; a submitter's key
#: never delegates.
DELEGABLE: dict[Role, frozenset[Role]] = {
    Role.LEGAL: frozenset({Role.LEGAL, Role.READER, Role.AUDITOR}),
    Role.READER: frozenset({Role.READER}),
    Role.AUDITOR: frozenset({Role.AUDITOR}),
    Role.SUBMITTER: frozenset(),
}
#: The acting person's identity provider subject: printable, no spaces, no ':' first.
_SUBJECT = re.compile(r"[A-Za-z0-9._@+-][A-Za-z0-9._@+|=-]{0,199}")
#: The prefix of what a person acting through the console writes (``author``).
CONSOLE_AUTHOR_PREFIX = "console:"


def is_acting_subject(subject: str) -> bool:
    """Whether a delegating key may act for ``subject`` (see :func:`acting_for`)."""
    return _SUBJECT.fullmatch(subject) is not None


class DelegationRefused(ValueError):
    """A call naming a person that the key may not make for them."""


def acting_for(key: Principal, subject: str, role_text: str, national_security: bool) -> Principal:
    """The principal a delegating ``key`` becomes when it acts for the person
    ``subject`` in ``role_text``: that role (never above the key's own, ``DELEGABLE``),
    the national-security scope only if both have it, and ``console:<subject>`` as the
    client id everything it writes is recorded under. Raises ``DelegationRefused``."""
    if not key.delegates:
        raise DelegationRefused("this key may not act for a person")
    if not is_acting_subject(subject):
        raise DelegationRefused(
            "the acting subject must be 1-200 letters, digits or ._@+|=- characters"
        )
    try:
        role = Role(role_text)
    except ValueError:
        raise DelegationRefused(f"the acting role {role_text!r} is not a role") from None
    if role not in DELEGABLE[key.role]:
        raise DelegationRefused(f"a {key.role.value} key may not act as {role.value}")
    if national_security and not key.national_security:
        raise DelegationRefused("this key may not act with the national-security scope")
    return Principal(
        key_id=key.key_id,
        client_id=f"{CONSOLE_AUTHOR_PREFIX}{subject}",
        role=role,
        organisation=None,
        national_security=national_security,
        via=key.client_id,
    )
