"""OpenID Connect for the console's sign-in, the pure part: PKCE, state and nonce, the
ID token's checks and the mapping of its claims onto a Docket role. No HTTP, no cookies
(``services/console/auth.py`` does those).

The flow is the authorization code flow with PKCE (RFC 7636, S256 only): the console
sends the browser to the provider with a fresh ``state`` (binds the answer to this
browser's sign-in), ``nonce`` (binds the ID token to it) and ``code_challenge``; the
provider sends it back with a code, which the console exchanges, with the verifier and
its client secret, for an ID token. The ID token is accepted only when its signature
verifies against the provider's JWKS and its issuer, audience, expiry and nonce are the
expected ones (OpenID Connect Core 1.0, section 3.1.3.7).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from shared.auth.keys import Role, is_acting_subject

#: Signature algorithms an ID token may use (never ``none``, never a shared secret).
ID_TOKEN_ALGORITHMS: Final = ("RS256", "PS256", "ES256", "EdDSA", "Ed25519")
#: Clock skew tolerated between the provider and the console.
LEEWAY_S: Final = 60
#: When several mapped roles apply, the first of these wins.
ROLE_PRECEDENCE: Final = (Role.LEGAL, Role.AUDITOR, Role.READER, Role.SUBMITTER)


@dataclass(frozen=True)
class ConsoleUser:
    """Who is signed in to the console: the provider's subject, a display name, one
    Docket role and whether national-security process is visible to them."""

    subject: str
    name: str
    role: Role
    national_security: bool


class SignInRefused(Exception):
    """The sign-in cannot complete; the message says why, for the person signing in
    (it names no token, code or personal data)."""


@dataclass(frozen=True)
class PendingSignIn:
    """What the console remembers between sending the browser to the provider and its
    return: never sent to the provider but as ``state``, ``nonce`` and the challenge."""

    state: str
    nonce: str
    code_verifier: str
    #: Where to go once signed in: a path of the console, never another site.
    next_path: str
    expires_at: int

    @property
    def code_challenge(self) -> str:
        return code_challenge(self.code_verifier)


def _random() -> str:
    return secrets.token_urlsafe(32)


def code_challenge(verifier: str) -> str:
    """S256: BASE64URL(SHA-256(verifier)) without padding (RFC 7636 section 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_pending_sign_in(next_path: str, lifetime_s: int = 600) -> PendingSignIn:
    """Fresh state, nonce and a 43-character code verifier (256 random bits)."""
    return PendingSignIn(
        state=_random(),
        nonce=_random(),
        code_verifier=_random(),
        next_path=safe_next_path(next_path),
        expires_at=int(time.time()) + lifetime_s,
    )


def safe_next_path(candidate: str | None) -> str:
    """``candidate`` when it is a path of this site (``/requests?x=1``), else ``/``:
    never a URL of another site (``//evil``, ``/\\evil``, ``https://...``)."""
    if (
        not candidate
        or not candidate.startswith("/")
        or candidate.startswith(("//", "/\\"))
        or any(ord(c) < 0x20 or c == "\\" for c in candidate)
        or len(candidate) > 2000
    ):
        return "/"
    return candidate


def state_matches(expected: PendingSignIn, returned_state: str | None) -> bool:
    """The ``state`` the provider returned is this browser's, compared in constant time."""
    return returned_state is not None and hmac.compare_digest(
        expected.state.encode(), returned_state.encode()
    )


def validate_id_token(
    id_token: str,
    jwks: Mapping[str, Any],
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    now: float | None = None,
) -> dict[str, Any]:
    """The ID token's claims, once its signature verifies against ``jwks`` and its
    ``iss``, ``aud`` (and ``azp``), ``exp``, ``iat`` and ``nonce`` are as expected;
    :class:`SignInRefused` saying which check failed otherwise."""
    try:
        keys = KeySet.import_key_set(dict(jwks))  # type: ignore[arg-type]
        token = jwt.decode(id_token, keys, algorithms=list(ID_TOKEN_ALGORITHMS))
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise SignInRefused(
            "the identity provider's ID token did not verify against its published keys"
        ) from error
    claims: dict[str, Any] = dict(token.claims)
    moment = time.time() if now is None else now
    if claims.get("iss") != issuer:
        raise SignInRefused("the ID token was issued by another identity provider")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or client_id not in audiences:
        raise SignInRefused("the ID token is meant for another application")
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise SignInRefused("the ID token is meant for another application")
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or expires + LEEWAY_S < moment:
        raise SignInRefused("the ID token has expired: sign in again")
    issued = claims.get("iat")
    if not isinstance(issued, int | float) or issued - LEEWAY_S > moment:
        raise SignInRefused("the ID token was issued in the future: check the clocks")
    returned_nonce = claims.get("nonce")
    if not isinstance(returned_nonce, str) or not hmac.compare_digest(
        returned_nonce.encode(), nonce.encode()
    ):
        raise SignInRefused("the ID token belongs to another sign-in: sign in again")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise SignInRefused("the ID token names no user")
    return claims


def _values(claim: Any) -> list[str]:
    if isinstance(claim, str):
        return claim.replace(",", " ").split()
    if isinstance(claim, Sequence):
        return [item for item in claim if isinstance(item, str)]
    return []


def role_from_claims(
    claims: Mapping[str, Any], claim_name: str, role_map: Mapping[str, Role]
) -> Role:
    """The Docket role the ``claim_name`` claim's values map to (several: legal over
    auditor over reader); :class:`SignInRefused` when none is mapped."""
    roles = {role_map[value] for value in _values(claims.get(claim_name)) if value in role_map}
    for role in ROLE_PRECEDENCE:
        if role in roles:
            return role
    raise SignInRefused(
        "your account has no role in Docket: ask the administrator of the identity provider"
        f" to give it one (claim {claim_name!r})"
    )


def national_security_from_claims(claims: Mapping[str, Any], claim_name: str, value: str) -> bool:
    """True when the claim is ``true`` or holds ``value``; anything else is no access."""
    claim = claims.get(claim_name)
    if claim is True:
        return True
    return value in _values(claim)


def user_from_claims(
    claims: Mapping[str, Any],
    *,
    role_claim: str,
    role_map: Mapping[str, Role],
    national_security_claim: str,
    national_security_value: str,
) -> ConsoleUser:
    """The signed-in user the verified claims describe."""
    role = role_from_claims(claims, role_claim, role_map)
    subject = str(claims["sub"])
    if not is_acting_subject(subject):
        # intake and audit record the person as console:<subject> and refuse others
        raise SignInRefused(
            "your identity provider's subject cannot be recorded by Docket (1-200 letters,"
            " digits or ._@+|=- characters): ask the administrator"
        )
    name = claims.get("name") or claims.get("preferred_username") or claims.get("email")
    return ConsoleUser(
        subject=subject,
        name=str(name) if isinstance(name, str) and name.strip() else subject,
        role=role,
        national_security=national_security_from_claims(
            claims, national_security_claim, national_security_value
        ),
    )
