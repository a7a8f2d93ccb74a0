"""Fakes for intake's HTTP edge: a key look-up, and a repository that refuses to store
anything (the edge tests only exercise rejected input)."""

from __future__ import annotations

from pydantic import SecretStr

from services.intake.domain.commands import Change, ChangeResult, NewRequest, Publish
from services.intake.domain.idempotency import Resolution
from shared.auth.keys import Principal, Role
from shared.settings import IntakeSettings

FULL_KEY = "full-" + "x" * 40
SUBMIT_ONLY_KEY = "submit-" + "y" * 40
KEYS = {
    FULL_KEY: Principal("k_full", "legal-ops", Role.LEGAL),
    SUBMIT_ONLY_KEY: Principal("k_portal", "agency-portal", Role.SUBMITTER, "Some Agency"),
}
#: Intake's settings for tests that never reach the broker (nothing listens there).
OFFLINE_SETTINGS = IntakeSettings(
    kafka_bootstrap_servers="127.0.0.1:1",
    kafka_username="docket-intake",
    kafka_password=SecretStr("never-used"),
)


async def known_key(secret: SecretStr) -> Principal | None:
    return KEYS.get(secret.get_secret_value())


class StoresNothing:
    async def accept_submission(
        self, request: NewRequest, idempotency_key: str | None, publish: Publish
    ) -> Resolution:
        raise AssertionError("an edge test reached the store")

    async def accept_change(self, change: Change, publish: Publish) -> ChangeResult:
        raise AssertionError("an edge test reached the store")
