"""A repository fake for intake's HTTP edge: knows API keys, refuses to store anything
(the edge tests only exercise rejected input)."""

from __future__ import annotations

from pydantic import SecretStr

from services.intake.domain.idempotency import Resolution
from services.intake.domain.keys import Credential, Scope
from services.intake.store import Change, ChangeResult, NewRequest, Publish
from shared.settings import IntakeSettings

FULL_KEY = "full-" + "x" * 40
SUBMIT_ONLY_KEY = "submit-" + "y" * 40
#: Intake's settings for tests that never reach the broker (nothing listens there).
OFFLINE_SETTINGS = IntakeSettings(
    kafka_bootstrap_servers="127.0.0.1:1",
    kafka_username="docket-intake",
    kafka_password=SecretStr("never-used"),
)


class KeysOnlyRepository:
    def __init__(self) -> None:
        self.keys = {
            FULL_KEY: Credential("k_full", "legal-ops", frozenset(Scope)),
            SUBMIT_ONLY_KEY: Credential("k_portal", "agency-portal", frozenset({Scope.SUBMIT})),
        }

    async def credential(self, secret: str) -> Credential | None:
        return self.keys.get(secret)

    async def accept_submission(
        self, request: NewRequest, idempotency_key: str | None, publish: Publish
    ) -> Resolution:
        raise AssertionError("an edge test reached the store")

    async def accept_change(self, change: Change, publish: Publish) -> ChangeResult:
        raise AssertionError("an edge test reached the store")
