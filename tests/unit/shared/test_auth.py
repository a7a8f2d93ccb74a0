"""API keys, their cache and rate limit, and the policy's pure rules (no database)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from shared.auth.cache import CREDENTIAL_TTL_S, CredentialCache, RateLimiter
from shared.auth.keys import (
    Principal,
    Role,
    digest_matches,
    is_placeholder,
    key_spec,
    new_secret,
    parse_bootstrap_key,
    secret_digest,
)
from shared.auth.policy import (
    POLICY,
    REDACTED,
    Reach,
    is_national_security,
    may_see,
    without_personal_data,
)

SECRET = SecretStr("s7Kx2Qa9Lm3Pz4Wd" * 2)
OTHER = SecretStr("o9Lm3Rb8Kn2Yx5Vc" * 2)
LEGAL = Principal("k_1", "legal-ops", Role.LEGAL)
CBP = Principal("k_2", "cbp-portal", Role.SUBMITTER, "U.S. Customs and Border Protection")
NATSEC = Principal("k_3", "natsec", Role.LEGAL, national_security=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Keys:
    """The database's keys; counts the look-ups. ``delay_s`` advances ``clock`` while
    a look-up is in flight (a slow database)."""

    def __init__(self, clock: Clock, delay_s: float = 0.0) -> None:
        self.active = {SECRET.get_secret_value(): LEGAL, OTHER.get_secret_value(): CBP}
        self.lookups = 0
        self.clock = clock
        self.delay_s = delay_s

    async def lookup(self, secret: SecretStr) -> Principal | None:
        self.lookups += 1
        found = self.active.get(secret.get_secret_value())
        self.clock.now += self.delay_s
        return found


async def test_a_found_key_is_reused_within_its_ttl() -> None:
    clock = Clock()
    keys = Keys(clock)
    cache = CredentialCache(keys.lookup, ttl_s=5.0, clock=clock)
    assert await cache.principal(SECRET) == LEGAL
    clock.now += 4.9
    assert await cache.principal(SECRET) == LEGAL
    assert keys.lookups == 1


async def test_a_revoked_key_stops_working_once_the_ttl_is_over() -> None:
    clock = Clock()
    keys = Keys(clock)
    cache = CredentialCache(keys.lookup, ttl_s=5.0, clock=clock)
    assert await cache.principal(SECRET) == LEGAL
    del keys.active[SECRET.get_secret_value()]  # docket keys revoke
    clock.now += 5.0
    assert await cache.principal(SECRET) is None
    assert keys.lookups == 2


async def test_the_ttl_counts_from_when_the_database_was_asked() -> None:
    clock = Clock()
    keys = Keys(clock, delay_s=2.0)  # the answer arrives 2 s after the question
    cache = CredentialCache(keys.lookup, ttl_s=5.0, clock=clock)
    assert await cache.principal(SECRET) == LEGAL
    del keys.active[SECRET.get_secret_value()]
    clock.now += 3.0  # 5 s after the database was asked, 3 s after it answered
    assert await cache.principal(SECRET) is None


async def test_an_unknown_key_is_remembered_briefly() -> None:
    clock = Clock()
    keys = Keys(clock)
    cache = CredentialCache(keys.lookup, ttl_s=5.0, negative_ttl_s=2.0, clock=clock)
    unknown = SecretStr("n4Qp8" * 8)
    for _ in range(50):
        assert await cache.principal(unknown) is None
    assert keys.lookups == 1  # a client retrying a wrong key costs one look-up
    keys.active[unknown.get_secret_value()] = LEGAL  # docket keys create
    clock.now += 1.9
    assert await cache.principal(unknown) is None
    clock.now += 0.1
    assert await cache.principal(unknown) == LEGAL
    assert keys.lookups == 2


async def test_the_cache_is_bounded_and_drops_the_oldest_key() -> None:
    clock = Clock()
    keys = Keys(clock)
    cache = CredentialCache(keys.lookup, ttl_s=5.0, max_entries=1, clock=clock)
    await cache.principal(SECRET)
    await cache.principal(OTHER)  # evicts SECRET
    await cache.principal(SECRET)
    assert keys.lookups == 3


def test_the_default_ttl_is_a_few_seconds() -> None:
    assert 0 < CREDENTIAL_TTL_S <= 10


def test_the_rate_limit_is_a_token_bucket_per_client() -> None:
    clock = Clock()
    limiter = RateLimiter(per_s=2.0, burst=3, clock=clock)
    assert [limiter.wait_s("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.wait_s("a") == pytest.approx(0.5)  # one token comes back in 0.5 s
    assert limiter.wait_s("b") == 0.0  # another client has its own bucket
    clock.now += 0.5
    assert limiter.wait_s("a") == 0.0
    assert limiter.wait_s("a") > 0
    clock.now += 60
    assert [limiter.wait_s("a") for _ in range(4)][:3] == [0.0, 0.0, 0.0]  # never above burst
    assert RateLimiter(per_s=0, burst=1).wait_s("a") == 0.0  # 0 turns it off


def test_bootstrap_key() -> None:
    key = parse_bootstrap_key(SecretStr(f"legal-ops:legal:{SECRET.get_secret_value()}"), False)
    assert key.spec.role is Role.LEGAL
    assert not key.spec.national_security
    assert key.key_id == "bootstrap-legal-ops"
    assert digest_matches(key.secret, secret_digest(SECRET))
    assert not digest_matches(OTHER, secret_digest(SECRET))
    raw = SecretStr(f"ns:auditor+national_security:{SECRET.get_secret_value()}")
    flagged = parse_bootstrap_key(raw, development_mode=False)
    assert flagged.spec.national_security
    assert flagged.spec.role is Role.AUDITOR
    for bad in (
        "legal-ops:legal",
        f"legal-ops:submit,amend:{SECRET.get_secret_value()}",
        f"Legal Ops:legal:{SECRET.get_secret_value()}",
        f"portal:submitter:{SECRET.get_secret_value()}",
        f"ops:legal+admin:{SECRET.get_secret_value()}",
    ):
        with pytest.raises(ValueError, match=r"bootstrap key|role|client id|organisation"):
            parse_bootstrap_key(SecretStr(bad), False)
    with pytest.raises(ValueError, match="32"):
        parse_bootstrap_key(SecretStr("legal-ops:legal:short"), False)


@pytest.mark.parametrize(
    "secret",
    [
        "compose-dev-key-change-me-0123456789",
        "CHANGE-ME-CHANGE-ME-CHANGE-ME-0000",
        "x" * 40,
        "my-placeholder-secret-for-the-cluster-0001",
    ],
)
def test_a_placeholder_secret_is_refused_outside_development_mode(secret: str) -> None:
    value = SecretStr(f"ops:legal:{secret}")
    with pytest.raises(ValueError, match="placeholder"):
        parse_bootstrap_key(value, development_mode=False)
    assert parse_bootstrap_key(value, development_mode=True).spec.client_id == "ops"


def test_generated_secrets_are_not_placeholders() -> None:
    assert not any(is_placeholder(new_secret()) for _ in range(100))


def test_a_submitter_key_needs_its_organisation_and_only_it_has_one() -> None:
    with pytest.raises(ValueError, match="organisation"):
        key_spec("portal", "submitter", None, False)
    with pytest.raises(ValueError, match="give no organisation"):
        key_spec("ops", "legal", "FBI", False)
    with pytest.raises(ValueError, match="role"):
        key_spec("ops", "admin", None, False)
    assert key_spec("portal", "submitter", " FBI ", False).organisation == "FBI"


def test_ownership_is_by_organisation_case_insensitively() -> None:
    assert CBP.owns("u.s. customs and border protection ")
    assert not CBP.owns("Federal Bureau of Investigation")
    assert not CBP.owns(None)
    assert not LEGAL.owns("U.S. Customs and Border Protection")


def test_national_security_process_is_seen_only_with_the_scope() -> None:
    assert is_national_security("national_security_letter", "federal_law_enforcement", None)
    assert is_national_security("court_order", "intelligence", None)
    assert is_national_security("court_order", "court", "national_security")
    assert not is_national_security("subpoena", "federal_law_enforcement", "subpoena")
    assert not may_see(LEGAL, Reach.ANY, "FBI", national_security=True)
    assert may_see(NATSEC, Reach.ANY, "FBI", national_security=True)
    assert may_see(LEGAL, Reach.ANY, "FBI", national_security=False)
    assert not may_see(CBP, Reach.OWN_ORGANISATION, "FBI", national_security=False)
    assert may_see(
        CBP, Reach.OWN_ORGANISATION, "U.S. Customs and Border Protection", national_security=False
    )


def test_personal_data_is_redacted_wherever_it_appears() -> None:
    history = {
        "received": {
            "submission": {
                "requester": {"agency": "CBP", "contact_email": "agent@cbp.dhs.gov"},
                "instrument": {
                    "type": "subpoena",
                    "document_text": "SUMMONS ...",
                    "case_number": None,
                },
                "targets": [{"handle": "@critic", "platform_user_id": None}],
                "stated_purpose": "",
            }
        },
        "amendments": [{"note": "counsel called the agent"}],
    }
    redacted = without_personal_data(history)
    submission = redacted["received"]["submission"]
    assert submission["requester"] == {"agency": "CBP", "contact_email": REDACTED}
    assert submission["instrument"]["document_text"] == REDACTED
    assert submission["targets"] == [{"handle": REDACTED, "platform_user_id": None}]
    assert submission["stated_purpose"] == ""  # nothing there to hide
    assert redacted["amendments"] == [{"note": REDACTED}]
    assert "agent@cbp" not in str(redacted)
    assert "SUMMONS" not in str(redacted)


def test_every_policy_entry_is_public_or_names_roles() -> None:
    for entry in POLICY:
        assert entry.public != bool(entry.allowed), entry
        assert entry.method in ("GET", "POST"), entry
