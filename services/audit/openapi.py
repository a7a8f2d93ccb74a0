"""Print audit's OpenAPI document, the one checked in as ``docs/openapi-audit.json``:

python -m services.audit.openapi > docs/openapi-audit.json
"""

from __future__ import annotations

import base64
from typing import Any

from pydantic import SecretStr

from services.audit.app import create_app
from shared import openapi
from shared.settings import AuditSettings

#: A signing key for building the app only: the document shows no key.
_UNUSED_KEY = base64.b64encode(bytes(32)).decode()


def audit_openapi() -> dict[str, Any]:
    """The document the service serves at ``/openapi.json`` (no broker or database used,
    no key file written)."""
    settings = AuditSettings(
        database_url="postgresql://unused/unused",
        kafka_username="unused",
        kafka_password=SecretStr("unused"),
        signing_key=_UNUSED_KEY,
    )
    return create_app(settings).openapi()


def render() -> str:
    return openapi.render(audit_openapi())


if __name__ == "__main__":
    print(render(), end="")
