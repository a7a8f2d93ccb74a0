"""How a service's OpenAPI document is checked in (``docs/openapi-<service>.json``,
written by ``python -m services.<service>.openapi``) and compared with the one it
serves, by ``tests/unit/<service>/test_openapi.py``."""

from __future__ import annotations

import json
from typing import Any


def render(document: dict[str, Any]) -> str:
    """The checked-in text of ``document``: stable, diffable JSON."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
