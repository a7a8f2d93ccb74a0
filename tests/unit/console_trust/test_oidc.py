"""The sign-in's pure part (``services/console/oidc.py``) and its settings: PKCE, state,
nonce, the ID token's checks, roles and national-security access from claims."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from pydantic import SecretStr, ValidationError

from services.console.oidc import (
    SignInRefused,
    code_challenge,
    national_security_from_claims,
    new_pending_sign_in,
    role_from_claims,
    safe_next_path,
    state_matches,
    user_from_claims,
    validate_id_token,
)
from shared.auth.keys import Role
from shared.settings import ConsoleAuthSettings

ISSUER = "https://idp.example.org"
CLIENT = "docket-console"
NONCE = "n-0S6_WzA2Mj"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})
JWKS = {"keys": [KEY.as_dict(private=False)]}
ROLE_MAP = {"legal": Role.LEGAL, "reader": Role.READER, "auditor": Role.AUDITOR}


def test_the_pkce_challenge_is_rfc_7636s_example() -> None:
    # RFC 7636 appendix B
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_every_sign_in_has_its_own_state_nonce_and_verifier() -> None:
    pending = [new_pending_sign_in("/queue") for _ in range(50)]
    for attribute in ("state", "nonce", "code_verifier"):
        values = {getattr(p, attribute) for p in pending}
        assert len(values) == 50, attribute
    for p in pending:
        assert 43 <= len(p.code_verifier) <= 128  # RFC 7636 section 4.1
        assert set(p.code_verifier) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
        )
        assert p.code_challenge == code_challenge(p.code_verifier)
        assert p.state != p.nonce
        assert p.next_path == "/queue"
        assert p.expires_at > time.time()
    first = pending[0]
    assert state_matches(first, first.state)
    assert not state_matches(first, pending[1].state)
    assert not state_matches(first, None)
    assert not state_matches(first, first.state[:-1])


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("/requests?sort=deadline", "/requests?sort=deadline"),
        ("/", "/"),
        (None, "/"),
        ("", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/ok\\..", "/"),
        ("/line\nbreak", "/"),
        ("requests", "/"),
        ("/" + "a" * 3000, "/"),
    ],
)
def test_after_sign_in_only_a_path_of_the_console(candidate: str | None, expected: str) -> None:
    assert safe_next_path(candidate) == expected
    assert new_pending_sign_in(candidate or "").next_path == expected


def _claims(**change: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": CLIENT,
        "sub": "user-1",
        "exp": now + 300,
        "iat": now,
        "nonce": NONCE,
        "docket_roles": ["legal"],
    }
    return {k: v for k, v in (claims | change).items() if v is not None}


def _token(claims: dict[str, Any], key: Any = KEY, alg: str = "RS256") -> str:
    return jwt.encode({"alg": alg, "kid": "k1"}, claims, key)


def _check(token: str, **expected: Any) -> dict[str, Any]:
    args = {"issuer": ISSUER, "client_id": CLIENT, "nonce": NONCE} | expected
    return validate_id_token(token, JWKS, **args)


def test_a_good_id_token_is_accepted() -> None:
    assert _check(_token(_claims()))["sub"] == "user-1"
    both = _claims(aud=[CLIENT, "api"], azp=CLIENT)
    assert _check(_token(both))["azp"] == CLIENT
    # within the clock skew allowed
    assert _check(_token(_claims(exp=int(time.time()) - 30)))


def _unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}."


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["docket_roles"] = ["legal", "auditor"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


REFUSED: dict[str, Callable[[], str]] = {
    "tampered": lambda: _tampered(_token(_claims())),
    "unsigned (alg none)": lambda: _unsigned(_claims()),
    "signed with a shared secret": lambda: _token(_claims(), OctKey.import_key(b"k" * 32), "HS256"),
    "signed by another key": lambda: _token(
        _claims(), RSAKey.generate_key(2048, parameters={"kid": "k1"})
    ),
    "expired": lambda: _token(_claims(exp=int(time.time()) - 600)),
    "issued in the future": lambda: _token(_claims(iat=int(time.time()) + 600)),
    "no expiry": lambda: _token(_claims(exp=None)),
    "wrong nonce": lambda: _token(_claims(nonce="another")),
    "no nonce": lambda: _token(_claims(nonce=None)),
    "wrong audience": lambda: _token(_claims(aud="another-app")),
    "several audiences, azp another": lambda: _token(_claims(aud=[CLIENT, "x"], azp="x")),
    "several audiences, no azp": lambda: _token(_claims(aud=[CLIENT, "x"])),
    "wrong issuer": lambda: _token(_claims(iss="https://evil.example.org")),
    "no subject": lambda: _token(_claims(sub=None)),
    "not a token": lambda: "not.a.token",
}


@pytest.mark.parametrize("why", sorted(REFUSED))
def test_a_bad_id_token_is_refused(why: str) -> None:
    with pytest.raises(SignInRefused):
        _check(REFUSED[why]())


def test_roles_map_from_the_claim_and_unknown_ones_are_refused() -> None:
    assert role_from_claims({"docket_roles": ["legal"]}, "docket_roles", ROLE_MAP) is Role.LEGAL
    assert role_from_claims({"docket_roles": "reader"}, "docket_roles", ROLE_MAP) is Role.READER
    several = {"groups": ["reader", "auditor", "staff"]}
    assert role_from_claims(several, "groups", ROLE_MAP) is Role.AUDITOR
    assert role_from_claims({"g": "staff, legal"}, "g", ROLE_MAP) is Role.LEGAL
    mapped = {"cn=docket-legal,ou=groups": Role.LEGAL}
    assert role_from_claims({"g": ["cn=docket-legal,ou=groups"]}, "g", mapped) is Role.LEGAL
    unmapped: list[dict[str, Any]] = [
        {},
        {"docket_roles": []},
        {"docket_roles": ["marketing"]},
        {"x": ["legal"]},
    ]
    for claims in unmapped:
        with pytest.raises(SignInRefused, match="no role in Docket"):
            role_from_claims(claims, "docket_roles", ROLE_MAP)
    with pytest.raises(SignInRefused):
        role_from_claims({"docket_roles": [{"legal": True}, 7]}, "docket_roles", ROLE_MAP)


def test_national_security_access_only_from_an_explicit_claim() -> None:
    value = "national_security"
    assert national_security_from_claims({"ns": True}, "ns", value)
    assert national_security_from_claims({"ns": ["staff", value]}, "ns", value)
    for claim in (False, "true", 1, ["staff"], None, {"national_security": True}):
        assert not national_security_from_claims({"ns": claim}, "ns", value), claim
    assert not national_security_from_claims({}, "ns", value)


def test_the_user_of_the_claims() -> None:
    user = user_from_claims(
        {"sub": "abc", "name": "Casey Counsel", "docket_roles": ["legal"], "ns": True},
        role_claim="docket_roles",
        role_map=ROLE_MAP,
        national_security_claim="ns",
        national_security_value="national_security",
    )
    assert (user.subject, user.name, user.role, user.national_security) == (
        "abc",
        "Casey Counsel",
        Role.LEGAL,
        True,
    )
    nameless = user_from_claims(
        {"sub": "abc", "docket_roles": "reader"},
        role_claim="docket_roles",
        role_map=ROLE_MAP,
        national_security_claim="ns",
        national_security_value="national_security",
    )
    assert nameless.name == "abc"
    assert not nameless.national_security
    # a subject intake and audit could not record the person under is refused at sign-in
    with pytest.raises(SignInRefused, match="subject cannot be recorded"):
        user_from_claims(
            {"sub": ":no spaces or leading colon", "docket_roles": "reader"},
            role_claim="docket_roles",
            role_map=ROLE_MAP,
            national_security_claim="ns",
            national_security_value="national_security",
        )


GOOD_PRODUCTION: dict[str, Any] = {
    "oidc_issuer": ISSUER,
    "oidc_client_id": CLIENT,
    "oidc_client_secret": SecretStr("client-secret"),
    "console_session_secret": SecretStr("Zq8v1LwP3xK9mR2tY7bN4cF6hJ0sD5gA"),
}


UNSAFE: dict[str, dict[str, Any]] = {
    "no issuer": {"oidc_issuer": None},
    "plain http issuer": {"oidc_issuer": "http://idp.example.org"},
    "no client": {"oidc_client_id": None},
    "no client secret": {"oidc_client_secret": None},
    "no session secret": {"console_session_secret": None},
    "short session secret": {"console_session_secret": SecretStr("short")},
    "placeholder secret": {"console_session_secret": SecretStr("change-me" * 4)},
    "no openid scope": {"oidc_scopes": "profile"},
}


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith(("DOCKET_OIDC", "DOCKET_CONSOLE", "DOCKET_DEVELOPMENT")):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.parametrize("why", sorted(UNSAFE))
def test_the_console_does_not_start_unsafe_outside_development_mode(
    why: str, clean_environment: pytest.MonkeyPatch
) -> None:
    assert ConsoleAuthSettings(**GOOD_PRODUCTION).oidc_issuer == ISSUER
    with pytest.raises(ValidationError):
        ConsoleAuthSettings(**(GOOD_PRODUCTION | UNSAFE[why]))


def test_development_mode_needs_no_identity_provider(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    assert ConsoleAuthSettings(development_mode=True).oidc_issuer is None
    monkeypatch = clean_environment
    monkeypatch.setenv("DOCKET_OIDC_ROLE_MAP", '{"docket-legal": "legal", "oncall": "reader"}')
    monkeypatch.setenv("DOCKET_DEVELOPMENT_MODE", "true")
    assert ConsoleAuthSettings().oidc_role_map == {
        "docket-legal": Role.LEGAL,
        "oncall": Role.READER,
    }
    monkeypatch.setenv("DOCKET_OIDC_ROLE_MAP", '{"x": "superuser"}')
    with pytest.raises(ValidationError):
        ConsoleAuthSettings()
