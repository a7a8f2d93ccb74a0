"""Print intake's OpenAPI document, the one checked in as ``docs/openapi-intake.json``:

python -m services.intake.openapi > docs/openapi-intake.json
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from services.intake.app import create_app
from shared import openapi
from shared.settings import IntakeSettings


def intake_openapi() -> dict[str, Any]:
    """The document the service serves at ``/openapi.json`` (no broker or database used)."""
    settings = IntakeSettings(
        database_url="postgresql://unused/unused",
        kafka_username="unused",
        kafka_password=SecretStr("unused"),
    )
    return create_app(settings).openapi()


def render() -> str:
    return openapi.render(intake_openapi())


if __name__ == "__main__":
    print(render(), end="")
